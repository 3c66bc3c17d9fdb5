"""A local OpenAI-compatible HTTP server for tests and benchmarks: the only stand-in `curate` allows.

It speaks enough of the API for the real `openai` client, behaving like the real endpoints where our code
depends on them:

- `POST /v1/chat/completions`: `n` choices, `max_tokens` / `max_completion_tokens` (a longer answer is cut
  and ends with `finish_reason: "length"`), `logprobs` / `top_logprobs`, `usage`, refusals
  (`message.refusal`) and `finish_reason: "content_filter"`, `response_format` passed to the responder;
  vLLM's prefill (`continue_final_message`: the last message must be the assistant's, and
  `add_generation_prompt` false, else a 400 as vLLM answers);
  an unknown model is a 404 when `models` are given; a wrong key a 401 when `api_key` is given.
- `POST /v1/embeddings`, `GET /v1/models`.
- The Batch API: `POST /v1/files` (multipart upload), `GET /v1/files/{id}/content`, `POST /v1/batches`,
  `GET /v1/batches/{id}`, `GET /v1/batches`. A batch finishes on its `batch_polls`-th retrieval; `batch_plan(custom_id, body)`
  makes a request `"fail"` (a 500 line in the error file) or `"expire"` (the batch ends `expired`, the
  request in the error file as `batch_expired`).
- `GET /_stats`: the counts as JSON, for a server in another process.

Faults are injected at random (`fail_rate` over `faults`) or by plan (`plan(seen, body)` returns a fault
name for the `seen`-th request of a prompt): latency, 429 with `Retry-After`, 500, timeouts (it holds the
connection past the client's limit), malformed bodies, `refuse`, `content_filter`, `bad_content`, `401`.
It counts what it served in `counts` and, per question (model, messages, seed), the answers it delivered in
`answered` (an answer whose client hung up before it was ready counts as `abandoned` instead: it was in
flight when the client died): tests read paid-twice straight from it. Runs asyncio in a background thread:

    with LLMServer(latency=0.1, fail_rate=0.1) as server:
        LLMConfig(model="m", base_url=server.url) ...
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULTS = ("401", "429", "500", "timeout", "malformed", "bad_content", "refuse", "content_filter")
Answer = str | dict[str, Any]  # text, or {"content", "refusal", "finish_reason", "top_logprobs"}
Responder = Callable[[dict[str, Any]], Answer]
Plan = Callable[[int, dict[str, Any]], str | None]
BatchPlan = Callable[[str, dict[str, Any]], str | None]
VOCAB = ("YES", "NO", " YES", " NO", "Yes", "No", "The", "I", "It", "This", "A", "Based", "yes", "no",
         "Maybe", "**", "After", "Looking", "Resolved", "Not", "In", "To")


def prompt_text(body: dict[str, Any]) -> str:
    """The text parts of all messages of a chat request, joined."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if p.get("type") == "text")
    return "\n".join(parts)


def hashed_score(text: str, low: int = 0, high: int = 100) -> int:
    return low + int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % (high - low + 1)


def question_key(body: dict[str, Any]) -> str:
    """What makes one question: the model, the messages and the seed (two samples differ by seed)."""
    what = [body.get("model"), body.get("messages") or body.get("input"), body.get("seed")]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def default_responder(body: dict[str, Any]) -> str:
    """A well-formed rubric answer whose numbers depend only on the prompt."""
    text = prompt_text(body)
    if "total_score" in text:
        a, b, c = hashed_score(text + "a", 0, 40), hashed_score(text + "b", 0, 30), hashed_score(text + "c", 0, 30)
        return ("Here is my assessment.\n```json\n" + json.dumps(
            {"alignment_score": a, "aesthetics_score": b, "structure_score": c, "total_score": a + b + c,
             "feedback": "Clear layout; the palette could be calmer."}) + "\n```")
    if "FINAL SCORE" in text:
        return f"The plot matches most requirements.\n[FINAL SCORE]: {hashed_score(text)}"
    return "OK"


def hashed_logprobs(body: dict[str, Any]) -> list[tuple[str, float]]:
    """Next-token log-probabilities over a small vocabulary that depend only on the prompt, best first."""
    text = prompt_text(body)
    logits = [(hashed_score(text + token, 0, 1000) / 100.0) for token in VOCAB]
    top = max(logits)
    norm = top + math.log(sum(math.exp(x - top) for x in logits))
    return sorted(((t, x - norm) for t, x in zip(VOCAB, logits, strict=True)), key=lambda p: -p[1])


class LLMServer:
    def __init__(self, responder: Responder = default_responder, *, latency: float = 0.0,
                 fail_rate: float = 0.0, faults: tuple[str, ...] = ("429", "500", "timeout", "malformed"),
                 plan: Plan | None = None, retry_after: float = 0.05, hang_s: float = 30.0, seed: int = 0,
                 dim: int = 16, models: tuple[str, ...] | None = None, api_key: str | None = None,
                 logprobs: Callable[[dict[str, Any]], list[tuple[str, float]]] = hashed_logprobs,
                 batch_polls: int = 1, batch_plan: BatchPlan | None = None, port: int = 0):
        self.responder = responder
        self.latency = latency
        self.fail_rate = fail_rate
        self.faults = faults
        self.plan = plan
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.dim = dim
        self.models = models
        self.api_key = api_key
        self.logprobs = logprobs
        self.batch_polls = batch_polls
        self.batch_plan = batch_plan
        self.counts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # answers delivered per question_key
        self.window: list[float] = []  # monotonic times of the first request and of the last answer
        self.bodies: list[dict[str, Any]] = []  # the request bodies, in arrival order
        self.seen: Counter[str] = Counter()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.max_in_flight = 0
        self.in_flight = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ----- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> LLMServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counts(self) -> None:
        self.counts.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"counts": dict(self.counts), "in_flight": self.in_flight, "questions": len(self.answered),
                    "repeated": sum(n - 1 for n in self.answered.values() if n > 1),
                    "seconds": self.window[-1] - self.window[0] if len(self.window) > 1 else 0.0}

    # ----- HTTP -------------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in
                           (line.split(":", 1) for line in lines[1:] if ":" in line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra, payload = await self._route(method, path.split("?")[0], headers, body)
                if status == 0:  # a timeout: hold the connection past the client's limit, then drop it
                    await asyncio.sleep(self.hang_s)
                    break
                if "question" in extra:  # an answer: delivered, or abandoned by a client that is gone
                    question = extra.pop("question")
                    with self._lock:
                        if reader.at_eof():
                            self.counts["abandoned"] += 1
                        else:
                            self.answered[question] += 1
                            self.window[1:] = [time.monotonic()]
                kind = "application/jsonl" if path.endswith("/content") else "application/json"
                head_lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'ERR'}",
                              f"content-type: {kind}", f"content-length: {len(payload)}",
                              *(f"{k}: {v}" for k, v in extra.items())]
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, ValueError):
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str, headers: dict[str, str],
                     raw: bytes) -> tuple[int, dict[str, str], bytes]:
        path = path.rstrip("/")
        if path == "/_stats":
            return 200, {}, json.dumps(self.stats()).encode()
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            with self._lock:
                self.counts["unauthorized"] += 1
            return 401, {}, _error("Incorrect API key provided: sk-****", "invalid_api_key")
        if method == "GET" and path.endswith("/models"):
            data = [{"id": m, "object": "model", "owned_by": "test"} for m in self.models or ()]
            return 200, {}, json.dumps({"object": "list", "data": data}).encode()
        if path.endswith("/files") and method == "POST":
            return self._upload(headers, raw)
        if "/files/" in path and path.endswith("/content") and method == "GET":
            found = self.files.get(path.split("/files/")[1].split("/")[0])
            return (200, {}, found) if found is not None else (404, {}, _error("no such file", "not_found"))
        if path.endswith("/batches") and method == "POST":
            return self._create_batch(json.loads(raw or b"{}"))
        if path.endswith("/batches") and method == "GET":
            listing = [_public(b) for b in reversed(self.batches.values())]
            return 200, {}, json.dumps({"object": "list", "data": listing, "has_more": False}).encode()
        if "/batches/" in path and method == "GET":
            return self._retrieve_batch(path.split("/batches/")[1].split("/")[0])
        if method != "POST" or not path.endswith(("/chat/completions", "/embeddings")):
            return 404, {}, _error("not found", "not_found")
        body = json.loads(raw or b"{}")
        if problem := _continuation_problem(body):
            return 400, {}, _error(problem, "invalid_request")
        return await self._answer(body, embeddings=path.endswith("/embeddings"))

    async def _answer(self, body: dict[str, Any], embeddings: bool = False) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.counts["requests"] += 1
            self.counts["embeddings" if embeddings else "chat"] += 1
            self.window = self.window or [time.monotonic()]
            self.bodies.append(body)
            key = hashlib.sha256(json.dumps(body.get("messages") or body.get("input"), sort_keys=True).encode()).hexdigest()
            seen = self.seen[key]
            self.seen[key] += 1
            fault = self.plan(seen, body) if self.plan else None
            if fault is None and self.fail_rate and self._random.random() < self.fail_rate:
                fault = self._random.choice(self.faults)
            if self.models is not None and body.get("model") not in self.models:
                fault = "unknown_model"
            self.counts[fault or "ok"] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if fault == "429":
                return 429, {"retry-after": f"{self.retry_after:g}"}, _error("rate limited", "rate_limit_exceeded")
            if fault == "401":
                return 401, {}, _error("Incorrect API key provided: sk-curat*****", "invalid_api_key")
            if fault == "unknown_model":
                return 404, {}, _error(f"The model `{body.get('model')}` does not exist", "model_not_found")
            if fault == "500":
                return 500, {}, _error("internal error", "server_error")
            if fault == "timeout":
                return 0, {}, b""
            if fault == "malformed":
                return 200, {}, b'{"id": "x", "choices": [{"message": {"content": "tru'
            if embeddings:
                payload = self._embeddings(body)
            else:
                payload = self._completion(body, self._respond(body, fault))
            return 200, {"question": question_key(body)}, payload
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        if fault == "bad_content":
            return {"content": "I would rather not say."}
        if fault == "refuse":
            return {"content": None, "refusal": "I can't help with that request."}
        if fault == "content_filter":
            return {"content": "", "finish_reason": "content_filter"}
        answer = self.responder(body)
        return {"content": answer} if isinstance(answer, str) else dict(answer)

    def _completion(self, body: dict[str, Any], answer: dict[str, Any]) -> bytes:
        prompt_tokens = max(1, len(prompt_text(body)) // 4)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        top = self.logprobs(body)[:max(1, int(body.get("top_logprobs") or 1))] if body.get("logprobs") else None
        choices, completion_tokens = [], 0
        for index in range(int(body.get("n") or 1)):
            content, finish = answer.get("content"), answer.get("finish_reason", "stop")
            if top is not None and "content" not in answer:  # a scoring request: the most likely token
                content = top[0][0]
            if content is not None and limit is not None and len(content) > 4 * int(limit):
                content, finish = content[:4 * int(limit)], "length"
            tokens = max(1, len(content or "") // 4)
            completion_tokens += tokens
            choice: dict[str, Any] = {"index": index, "finish_reason": finish, "logprobs": None,
                                      "message": {"role": "assistant", "content": content,
                                                  "refusal": answer.get("refusal")}}
            if top is not None:
                choice["logprobs"] = {"content": [{"token": top[0][0], "logprob": top[0][1], "bytes": None,
                                                   "top_logprobs": [{"token": t, "logprob": p, "bytes": None}
                                                                    for t, p in top]}]}
            choices.append(choice)
        return json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model", "test"),
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }).encode()

    def _embeddings(self, body: dict[str, Any]) -> bytes:
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = []
        for i, text in enumerate(inputs):
            digest = hashlib.sha256(str(text).encode()).digest()
            vector = [(digest[j % len(digest)] - 127.5) / 127.5 for j in range(self.dim)]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(max(1, len(str(t)) // 4) for t in inputs)
        return json.dumps({"object": "list", "data": data, "model": body.get("model", "test"),
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}).encode()

    # ----- the Batch API ------------------------------------------------------------------------------
    def _upload(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        message = email.message_from_bytes(f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode() + raw,
                                           policy=email.policy.HTTP)
        content = next((part.get_payload(decode=True) for part in message.iter_parts()
                        if part.get_param("name", header="content-disposition") == "file"), None)
        if content is None:
            return 400, {}, _error("no file in the upload", "invalid_request_error")
        file_id = self._new_file(content)
        return 200, {}, json.dumps(self._file_object(file_id)).encode()

    def _new_file(self, content: bytes) -> str:
        with self._lock:
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = content
            self.counts["files"] += 1
        return file_id

    def _file_object(self, file_id: str) -> dict[str, Any]:
        return {"id": file_id, "object": "file", "bytes": len(self.files[file_id]), "created_at": 0,
                "filename": f"{file_id}.jsonl", "purpose": "batch", "status": "processed"}

    def _create_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if body.get("input_file_id") not in self.files:
            return 404, {}, _error("no such input file", "not_found")
        with self._lock:
            batch_id = f"batch_{len(self.batches) + 1:04d}"
            self.counts["batches"] += 1
            lines = [json.loads(line) for line in self.files[body["input_file_id"]].splitlines() if line.strip()]
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
                "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 0,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "metadata": body.get("metadata"), "_lines": lines, "_polls": 0}
        return 200, {}, json.dumps(_public(self.batches[batch_id])).encode()

    def _retrieve_batch(self, batch_id: str) -> tuple[int, dict[str, str], bytes]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {}, _error("no such batch", "not_found")
        batch["_polls"] += 1
        if batch["status"] in ("validating", "in_progress"):
            if batch["_polls"] >= self.batch_polls:
                self._finish_batch(batch)
            else:
                batch["status"] = "in_progress"
        return 200, {}, json.dumps(_public(batch)).encode()

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        """Answer every request of the batch now (no latency, no random faults: the plan decides)."""
        out, errors, expired = [], [], False
        for n, line in enumerate(batch["_lines"]):
            fate = self.batch_plan(line["custom_id"], line["body"]) if self.batch_plan else None
            entry = {"id": f"batch_req_{n}", "custom_id": line["custom_id"]}
            if fate == "expire":
                expired = True
                errors.append({**entry, "response": None,
                               "error": {"code": "batch_expired", "message": "This request could not be executed "
                                                                             "before the completion window expired."}})
                continue
            if fate == "fail":
                errors.append({**entry, "error": None, "response": {
                    "status_code": 500, "request_id": f"req_{n}",
                    "body": json.loads(_error("internal error", "server_error"))}})
                continue
            body = dict(line["body"])
            with self._lock:
                self.counts["batch_requests"] += 1
                self.answered[question_key(body)] += 1
            payload = json.loads(self._completion(body, self._respond(body, None)))
            out.append({**entry, "error": None,
                        "response": {"status_code": 200, "request_id": f"req_{n}", "body": payload}})
        batch["status"] = "expired" if expired else "completed"
        batch["request_counts"] = {"total": len(batch["_lines"]), "completed": len(out), "failed": len(errors)}
        if out:
            batch["output_file_id"] = self._new_file("".join(json.dumps(o) + "\n" for o in out).encode())
        if errors:
            batch["error_file_id"] = self._new_file("".join(json.dumps(e) + "\n" for e in errors).encode())


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _continuation_problem(body: dict[str, Any]) -> str | None:
    """What vLLM refuses in a request that continues the final message (SGLang ignores the second flag)."""
    if not body.get("continue_final_message"):
        return None
    if body.get("add_generation_prompt", True):
        return "Cannot set both `add_generation_prompt` and `continue_final_message` to True."
    if not body.get("messages") or body["messages"][-1].get("role") != "assistant":
        return "continue_final_message is set but the final message is not the assistant's"
    return None


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()
