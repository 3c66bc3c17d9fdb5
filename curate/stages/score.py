"""`score`: a generative verifier's probability that each row's answer is YES (SWE-RM's reward model).

Reads the `messages` that `format` writes (classification style), drops the assistant turn (the target),
and asks the model for the answer's token: `rm_score = exp(l_YES) / (exp(l_YES) + exp(l_NO))`, with
`rm_logit_yes`, `rm_logit_no` (log-probabilities) and `rm_bound` (`exact`, or how an endpoint's top-k
bounds it: `upper`, `lower`, `unknown`; see `curate.llm.verifier`). Backends: a local `transformers`
model (exact logits), or an OpenAI-compatible endpoint that returns `logprobs` (vLLM, SGLang, OpenAI),
whose answers are cached in the workspace like every paid answer.

The answer is read where the verifier writes it: after the assistant prefix its targets put before YES/NO
(`<judgement>` with the `swe-gym` template; nothing with `yes-no`), taken from the table's `target` column
unless `assistant_prefix` is given. A local model reads it after the prompt and the prefix; an endpoint
gets the prefix as a partial assistant turn to continue (`continue_final_message`, which vLLM and SGLang
accept, with vLLM's `add_generation_prompt: false`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from curate.errors import CurateError, RunStopped
from curate.llm.client import LLMClient, Request, Result
from curate.llm.config import LLMConfig
from curate.llm.local import TransformersModel, model_folder, model_identity
from curate.llm.stage import stage_client
from curate.llm.verifier import Verdict, answer_prefix, exact, from_top_logprobs
from curate.stage import Outcome, Params, Reject, Stage, Unit, read_unit

RM_COLUMNS: dict[str, pl.DataType] = {"rm_score": pl.Float64, "rm_logit_yes": pl.Float64,
                                      "rm_logit_no": pl.Float64, "rm_bound": pl.String}


class ScoreParams(Params):
    model: str = Field(description="A local model folder (transformers), or the endpoint's model name.")
    backend: Literal["transformers", "openai"] = "transformers"
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (backend openai).")
    api_key_env: str = "OPENAI_API_KEY"
    yes: str = Field("YES", description="The answer text that means resolved.")
    no: str = Field("NO", description="The answer text that means not resolved.")
    column: str = Field("messages", description="Chat messages; a trailing assistant turn is dropped.")
    assistant_prefix: str | None = Field(
        None, description="What the verifier writes before YES/NO (SWE-Gym's '<judgement>'); default: what "
                          "the table's target column puts before the answer, else nothing.")
    top_logprobs: int = Field(20, ge=1, le=20, description="Top tokens an endpoint returns (its maximum is 20).")
    concurrency: int = Field(32, ge=1)
    max_requests: int | None = Field(None, ge=0, description="Cap: requests in all (across resumed runs).")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)


class Score(Stage):
    name = "score"
    Params = ScoreParams
    reads = ("id",)
    writes = tuple(RM_COLUMNS)
    parallel = False  # one model in memory, or one process with many requests in flight
    batch_size = 256

    def __init__(self, params: Params | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self._model: TransformersModel | None = None
        self._client: LLMClient | None = None
        self.prefix = self.params.assistant_prefix or ""  # the answer is scored after this text

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in super().describe().items()
                if k not in ("concurrency", "max_requests", "timeout_s", "max_retries", "base_url", "api_key_env")}

    def inputs_key(self) -> str | None:
        """A retrained model in the same folder scores again."""
        if self.params.backend == "transformers" and Path(self.params.model).is_dir():
            return model_identity("transformers", model_folder(self.params.model))
        return None

    def check(self, empty: pl.DataFrame) -> None:
        column = self.params.column
        if column not in empty.columns:
            raise CurateError(f"the table has no {column!r} column: score reads chat messages",
                              "run `curate format TABLE --style classification --as rm` first, or name the "
                              "column with --column")
        if self.params.yes.strip() == self.params.no.strip():
            raise CurateError("--yes and --no are the same answer")
        if self.params.backend == "transformers":
            model_folder(self.params.model)
        else:
            self._config().api_key()

    def _config(self) -> LLMConfig:
        p = self.params
        return LLMConfig(model=p.model, base_url=p.base_url, api_key_env=p.api_key_env, concurrency=p.concurrency,
                         timeout_s=p.timeout_s, max_retries=p.max_retries, parse_retries=0,
                         max_requests=p.max_requests, temperature=0.0, max_tokens=1)

    def units(self, input_parts: list[Path]) -> list[Unit]:
        if self.params.assistant_prefix is None:
            self.prefix = answer_prefix(_targets(input_parts), self.params.yes, self.params.no)
        if self.params.backend == "openai":
            LLMClient(self._config()).preflight()
        return super().units(input_parts)

    def setup(self) -> None:
        if self.params.backend == "transformers":
            self._model = TransformersModel(self.params.model)
        else:
            self._client = stage_client(self._config(), self.workdir.parents[2], self.workdir.name)

    def run_unit(self, unit: Unit) -> Outcome:
        batch = read_unit(unit)
        rows = batch.to_dicts()
        prompts = [_prompt(row[self.params.column]) for row in rows]
        todo = [i for i, messages in enumerate(prompts) if messages]
        verdicts = dict(zip(todo, self._verdicts([prompts[i] for i in todo]), strict=True))
        kept, rejected = [], []
        for i, row in enumerate(rows):
            verdict = verdicts.get(i, "no_prompt: no message before the assistant turn")
            if isinstance(verdict, str):  # why this row could not be scored
                rejected.append(Reject(verdict.split(":")[0], verdict, row_id=str(row["id"])))
                continue
            kept.append({**row, "rm_score": verdict.score, "rm_logit_yes": verdict.logit_yes,
                         "rm_logit_no": verdict.logit_no, "rm_bound": verdict.bound})
        schema = {**{k: v for k, v in batch.schema.items() if k not in RM_COLUMNS}, **RM_COLUMNS}
        return Outcome(kept=pl.DataFrame(kept, schema=schema), n_in=batch.height, rejected=rejected)

    def _verdicts(self, prompts: list[list[dict[str, str]]]) -> list[Verdict | str]:
        if not prompts:
            return []
        if self._model is not None:
            scored = self._model.answer_logprobs(prompts, [self.params.yes, self.params.no], self.prefix)
            return [exact(l_yes, l_no) for l_yes, l_no in scored]
        params: dict[str, Any] = {"logprobs": True, "top_logprobs": self.params.top_logprobs}
        if self.prefix:  # the server writes the prefix as the start of the answer and continues it
            params["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}
            prompts = [[*messages, {"role": "assistant", "content": self.prefix}] for messages in prompts]
        results = self._client.run([Request("score", messages, params=params) for messages in prompts])
        if stopped := next((r.error for r in results if r.stopped), None):
            raise RunStopped(f"{stopped}: score stopped; the answers so far are kept in the workspace",
                               "run the same command with a higher cap to continue")
        return [_from_endpoint(r, self.params.yes, self.params.no, self.prefix) for r in results]


def _targets(parts: list[Path]) -> list[str]:
    """The distinct answers `format` wrote as targets (none when the table has no `target` column)."""
    frame = pl.scan_parquet(parts) if parts else None
    if frame is None or "target" not in frame.collect_schema().names():
        return []
    return frame.select(pl.col("target").drop_nulls().unique()).collect()["target"].to_list()


def _from_endpoint(result: Result, yes: str, no: str, prefix: str) -> Verdict | str:
    if not result.ok:
        if prefix and result.error.startswith("http_400"):
            return (f"{result.error} (continuing the assistant turn {prefix!r} needs an endpoint that "
                    "accepts continue_final_message, as vLLM and SGLang do)")
        return result.error
    top = (result.answer.top_logprobs or [[]])[0]
    if not top:
        return "no_logprobs: the endpoint returned no logprobs (vLLM, SGLang and OpenAI do; does this one?)"
    return from_top_logprobs(top, yes, no)


def _prompt(messages: Any) -> list[dict[str, str]]:
    """The conversation up to the answer: trailing assistant turns dropped."""
    turns = [{"role": m["role"], "content": m["content"] or ""} for m in (messages or [])]
    while turns and turns[-1]["role"] == "assistant":
        turns.pop()
    return turns
