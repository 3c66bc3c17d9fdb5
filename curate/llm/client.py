"""An OpenAI-compatible client for judges and generators: adaptive concurrency, rate limits, retries,
a durable cache and spending caps.

Built on the real `openai` package (`AsyncOpenAI` with a `base_url`), so it works with OpenAI, vLLM,
SGLang, Ollama and any other server that speaks the chat-completions API. The SDK's own retries are off:
this client retries 429, 5xx, timeouts, connection errors and unreadable bodies itself, with exponential
backoff and full jitter, waiting at least what `Retry-After` asks; a request that still fails, or whose
answer never parses, ends as a `Result` with an `error`, so callers account for every row.

Paying twice is what this client exists to prevent: a request is counted in the spend ledger on disk
before it is sent, its answer is in the cache on disk before `complete` returns it, and two requests
with the same key in flight at once share one HTTP request.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from curate.errors import CurateError, unknown
from curate.llm.budget import SpendLedger
from curate.llm.cache import CachedAnswer, ResponseCache, cache_key
from curate.llm.config import LLMConfig
from curate.llm.images import FILE_PREFIX, FILE_URL_RE, inline_files
from curate.llm.parse import ParseError
from curate.llm.rate import Throttle

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
             openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError)
MISCONFIGURED = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
SECRET_RE = re.compile(r"(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+\S+)")
DATA_URL_RE = re.compile(r"data:[^;,\"]+;base64,[A-Za-z0-9+/=]+")




@dataclass
class Request:
    """One chat request. `parse` turns the answer text into a value or raises `ParseError`.

    `judge` namespaces the cache (two judges never share answers); `sample` tells apart the samples of
    one prompt (each is its own request and its own cache entry). Without `parse`, every answer is
    accepted as it is, cut, refused or empty (the caller decides what to keep).
    """

    judge: str
    messages: list[dict[str, Any]]
    parse: Callable[[str], Any] | None = None
    image_hashes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    sample: int | None = None


@dataclass
class Result:
    value: Any = None
    text: str | None = None
    error: str | None = None
    cached: bool = False
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    stopped: bool = False  # not sent: a spending cap was reached (the reason is in `error`)
    answer: CachedAnswer | None = None  # the answer as kept: finish reason, refusal, its tokens and cost

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Usage:
    """What a client spent: requests sent (retries included), answers from the cache, tokens, dollars."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class BudgetExhausted(Exception):
    pass


def prompt_hash(messages: Sequence[dict[str, Any]]) -> str:
    """A hash of the messages in which each image (inline or a file) counts by the hash of its bytes."""
    text = json.dumps(list(messages), sort_keys=True, ensure_ascii=False)
    text = DATA_URL_RE.sub(lambda m: "img:" + hashlib.sha256(m.group(0).encode()).hexdigest(), text)
    text = FILE_URL_RE.sub(lambda m: "img:" + hashlib.sha256(Path(m.group(0)[len(FILE_PREFIX):]).read_bytes()).hexdigest(), text)
    return hashlib.sha256(text.encode()).hexdigest()


def request_key(model: str, request: Request, sampling: dict[str, Any]) -> str:
    """The cache key of a request: what makes its answer (never where it is sent, nor the key)."""
    params = {"model": model, **sampling, **request.params}
    if request.sample is not None:
        params["sample"] = request.sample
    return cache_key(request.judge, prompt_hash(request.messages), request.image_hashes, params)


def estimate_tokens(messages: Sequence[dict[str, Any]], max_tokens: int | None) -> int:
    """A request's tokens before it is sent, for tokens-per-minute limits: ~4 characters a token, an
    image ~1,000, plus the completion it may write."""
    text = json.dumps(list(messages), ensure_ascii=False)
    images = len(DATA_URL_RE.findall(text)) + len(FILE_URL_RE.findall(text))
    text = FILE_URL_RE.sub("", DATA_URL_RE.sub("", text))
    return len(text) // 4 + 1000 * images + (max_tokens or 0)


def retry_after(err: BaseException) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` as seconds or a date)."""
    response = getattr(err, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    if value := headers.get("retry-after"):
        try:
            return float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time()) if parsed else None
    return None


def answer_of(response: Any, index: int = 0) -> CachedAnswer:
    """The parts of a chat completion that callers keep (text, finish reason, refusal, top logprobs)."""
    choices = getattr(response, "choices", None) or []
    if len(choices) <= index:
        return CachedAnswer("", 0, 0, finish_reason=None)
    choice = choices[index]
    message = choice.message
    logprobs = getattr(getattr(choice, "logprobs", None), "content", None)
    top = [[(t.token, float(t.logprob)) for t in (step.top_logprobs or [])] or [(step.token, float(step.logprob))]
           for step in logprobs] if logprobs else None
    return CachedAnswer(message.content or "", 0, 0, finish_reason=choice.finish_reason,
                        refusal=getattr(message, "refusal", None) or None, top_logprobs=top)


class LLMClient:
    """Use `run(requests)` from sync code, or `async with client: await client.complete(request)`.

    `ledger` keeps what was spent (and so what the caps allow) across runs; by default it lives in memory.
    """

    def __init__(self, config: LLMConfig, cache: ResponseCache | None = None, ledger: SpendLedger | None = None):
        self.config = config
        self.cache = cache
        self.ledger = ledger or SpendLedger()
        self.caps = config.caps()
        self.usage = Usage()
        self._key = config.api_key()  # read once; fails early when a hosted API has no key
        self._openai: openai.AsyncOpenAI | None = None
        self._throttle: Throttle | None = None
        self._in_flight: dict[str, asyncio.Future[Result]] = {}
        self._depth = 0

    # ----- sessions --------------------------------------------------------------------------------
    async def __aenter__(self) -> LLMClient:
        if self._depth == 0:
            self._openai = openai.AsyncOpenAI(api_key=self._key, base_url=self.config.base_url,
                                              timeout=self.config.timeout_s, max_retries=0)
            self._throttle = Throttle(self.config.concurrency, self.config.rpm, self.config.tpm)
        self._depth += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._openai is not None:
            await self._openai.close()
            self._openai = None

    @property
    def openai(self) -> openai.AsyncOpenAI:
        assert self._openai is not None, "use `async with client:`"
        return self._openai

    def run(self, requests: Sequence[Request], on_done: Callable[[Result], None] | None = None) -> list[Result]:
        """Answer every request (in order), concurrently; never raises for a request that fails."""
        return asyncio.run(self.complete_many(requests, on_done))

    async def complete_many(self, requests: Sequence[Request],
                            on_done: Callable[[Result], None] | None = None) -> list[Result]:
        async with self:
            async def one(request: Request) -> Result:
                result = await self.complete(request)
                if on_done:
                    on_done(result)
                return result
            return list(await asyncio.gather(*(one(r) for r in requests)))

    def preflight(self) -> None:
        """Fail before any row is spent when the endpoint is unreachable, refuses the key, or does not
        serve the model (listing models is free; an endpoint without the listing is given the benefit)."""
        asyncio.run(self._preflight())

    async def _preflight(self) -> None:
        async with self:
            try:
                listing = await self.openai.models.list()
            except openai.NotFoundError:
                return
            except openai.APIConnectionError as err:
                raise CurateError(f"cannot reach {self.config.base_url or 'OpenAI'}: {self._describe(err)}",
                                  "start the server, or check --base-url (it usually ends in /v1)") from None
            except MISCONFIGURED as err:
                raise self._misconfigured(err) from None
            except openai.APIError:
                return  # a listing that fails otherwise says nothing about the model
            names = [m.id for m in listing.data]
            if names and self.config.model not in names:
                raise unknown(f"model at {self.config.base_url or 'OpenAI'}", self.config.model, names)

    # ----- one request -------------------------------------------------------------------------------
    def key(self, request: Request) -> str:
        return request_key(self.config.model, request, self.config.sampling())

    def body(self, request: Request) -> dict[str, Any]:
        """The chat request as sent (for the Batch API's input file)."""
        params = {**self.config.sampling(), **request.params}
        return {"model": self.config.model, "messages": request.messages,
                **{k: v for k, v in params.items() if v is not None}}

    async def complete(self, request: Request) -> Result:
        key = self.key(request)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            try:
                value = request.parse(hit.text) if request.parse else hit.text
                self.usage.cache_hits += 1
                return Result(value=value, text=hit.text, cached=True, answer=hit)
            except ParseError:
                pass  # a parser that changed since: ask again
        if (twin := self._in_flight.get(key)) is not None:  # the same question is being asked: share it
            shared = await asyncio.shield(twin)
            self.usage.cache_hits += shared.ok
            return Result(value=shared.value, text=shared.text, error=shared.error, cached=shared.ok,
                          stopped=shared.stopped, answer=shared.answer)
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            result = await self._ask(request, key)
            future.set_result(result)
            return result
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: a twin re-raises it, nobody else needs to
            raise
        finally:
            del self._in_flight[key]

    async def _ask(self, request: Request, key: str) -> Result:
        result = Result()
        body = self.body(request)
        messages = body.pop("messages")
        for _ in range(self.config.parse_retries + 1):
            try:
                completion = await self._send(result, messages=messages, **body)
            except BudgetExhausted as err:
                result.error, result.stopped = str(err), True
                break
            except MISCONFIGURED as err:  # every other request would fail the same way: stop the run
                raise self._misconfigured(err) from None
            except Exception as err:  # noqa: BLE001 - any other failure is this row's reason, not a crash
                result.error = self._describe(err)
                break
            prompt, completion_tokens, cost = self._count_tokens(result, completion)
            writes = [self.ledger.record(prompt, completion_tokens, cost)]
            answer = answer_of(completion)
            result.text = answer.text
            try:
                result.value = request.parse(answer.text) if request.parse else answer.text
            except ParseError as err:
                await writes[0]
                result.error = f"unparseable answer: {err}"
                messages = [*messages, {"role": "assistant", "content": answer.text},
                            {"role": "user", "content": f"Your answer could not be read ({err}). "
                                                        "Answer again, exactly in the requested format."}]
                continue
            result.error = None
            result.answer = CachedAnswer(answer.text, prompt, completion_tokens, answer.finish_reason,
                                         answer.refusal, answer.top_logprobs, cost)
            if self.cache is not None:  # on disk (with what it cost) before the answer counts as received
                writes.append(self.cache.put_async(key, request.judge, self.config.model, result.answer))
            await asyncio.gather(*writes)  # both files synced in the same group
            break
        if result.error:
            self.usage.failed += 1
        return result

    async def embed(self, texts: Sequence[str], judge: str = "embed") -> list[Result]:
        """Embeddings, one `Result` per text (value = list of floats), cached like answers."""
        async with self:
            return list(await asyncio.gather(*(self._embed_one(t, judge) for t in texts)))

    async def _embed_one(self, text: str, judge: str) -> Result:
        key = cache_key(judge, hashlib.sha256(text.encode()).hexdigest(), (), {"model": self.config.model})
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.usage.cache_hits += 1
            return Result(value=json.loads(hit.text), text=hit.text, cached=True)
        result = Result()
        try:
            response = await self._send(result, model=self.config.model, input=[text], endpoint="embeddings")
        except BudgetExhausted as err:
            result.error, result.stopped = str(err), True
        except MISCONFIGURED as err:
            raise self._misconfigured(err) from None
        except Exception as err:  # noqa: BLE001
            result.error = self._describe(err)
        else:
            result.value = list(response.data[0].embedding)
            prompt, _, cost = self._count_tokens(result, response)
            writes = [self.ledger.record(prompt, 0, cost)]
            if self.cache is not None:
                writes.append(self.cache.put_async(key, judge, self.config.model,
                                                   CachedAnswer(json.dumps(result.value), prompt, 0, cost_usd=cost)))
            await asyncio.gather(*writes)
        if result.error:
            self.usage.failed += 1
        return result

    # ----- transport ------------------------------------------------------------------------------------
    async def _send(self, result: Result, endpoint: str = "chat", **kwargs: Any) -> Any:
        assert self._openai is not None and self._throttle is not None, "use `async with client:`"
        config, throttle = self.config, self._throttle
        estimate = estimate_tokens(kwargs.get("messages") or [{"content": kwargs.get("input")}],
                                   kwargs.get("max_tokens"))
        for attempt in range(config.max_retries + 1):
            try:
                async with throttle.slot(estimate):  # images are inlined only here: memory grows with slots
                    if reason := self.caps.reached(self.ledger.spent):  # checked and counted with no await
                        raise BudgetExhausted(reason)                    # in between: never over the cap
                    await self.ledger.reserve()  # on disk before the request leaves
                    self.usage.requests += 1
                    result.requests += 1
                    if endpoint == "embeddings":
                        response = await self._openai.embeddings.create(**kwargs)
                    else:
                        response = await self._openai.chat.completions.create(
                            **{**kwargs, "messages": inline_files(kwargs["messages"])})
                    throttle.answered(rate_limited=False)
                    throttle.used_tokens(estimate, _total_tokens(response))
                    return response
            except RETRYABLE as err:
                asked = retry_after(err)
                throttle.answered(rate_limited=isinstance(err, openai.RateLimitError), retry_after=asked)
                if attempt == config.max_retries:
                    raise
                self.usage.retries += 1
                wait = random.uniform(0, min(config.backoff_max_s, config.backoff_s * 2 ** attempt))
                if asked is not None:
                    wait = max(wait, min(asked, config.backoff_max_s))
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _count_tokens(self, result: Result, response: Any) -> tuple[int, int, float]:
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self.config.cost(prompt, completion)
        result.prompt_tokens += prompt
        result.completion_tokens += completion
        result.cost_usd += cost
        self.usage.prompt_tokens += prompt
        self.usage.completion_tokens += completion
        self.usage.cost_usd += cost
        return prompt, completion, cost

    def _misconfigured(self, err: BaseException) -> CurateError:
        where = self.config.base_url or "OpenAI"
        if isinstance(err, openai.NotFoundError):
            return CurateError(f"{where} does not know model {self.config.model!r} or this API path: "
                               f"{self._describe(err)}", "check --model and --base-url (it usually ends in /v1)")
        return CurateError(f"{where} refused the key in ${self.config.api_key_env}: {self._describe(err)}",
                           f"check {self.config.api_key_env}, or pass --api-key-env NAME")

    def _describe(self, err: BaseException) -> str:
        """A one-line reason for a table cell: the error kind and status, with any secret masked."""
        return describe_error(err, self._key)


def describe_error(err: BaseException, secret: str | None) -> str:
    status = getattr(err, "status_code", None)
    kind = {openai.APITimeoutError: "timeout", openai.RateLimitError: "rate_limited"}.get(type(err))
    kind = kind or (f"http_{status}" if status else type(err).__name__)
    message = str(err).splitlines()[0][:300] if str(err) else ""
    message = SECRET_RE.sub("***", message.replace(secret, "***") if secret else message)
    return f"{kind}: {message}" if message else kind


def _total_tokens(response: Any) -> int:
    usage = getattr(response, "usage", None)
    return int(getattr(usage, "prompt_tokens", 0) or 0) + int(getattr(usage, "completion_tokens", 0) or 0)
