"""`generate`: one chat request per input row, model and sample; every answer kept, filtered or rejected.

Prompts are Jinja2 templates over the row's columns (`curate.llm.prompts`). Each (row, model, sample) is
one candidate: kept as an output row (`gen_*` columns, the input's columns carried over, the extracted
code in `code` or `into`), filtered with its reason (`truncated`, `refused`, `empty`, `no_code_block`,
`schema_mismatch`; the answer is in the filtered row's detail), or rejected with the error of a request
that kept failing. The table's counts are in candidates (rows × models × samples).

Answers are cached by their content in the workspace and written to disk before they count, so a re-run,
a resumed run after `kill -9`, or another recipe asking the same pays for nothing twice. Spending caps
hold across the runs that write the table: reaching one stops the run (recorded `interrupted`), and the
same command with a higher cap continues. `batch: true` goes through the Batch API (`curate.llm.batch`);
`backend: transformers|vllm` generates with a local model instead of an endpoint.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.errors import CurateError, RunStopped
from curate.llm import batch as batches
from curate.llm.answers import Extract, judge_answer, load_schema, response_format
from curate.llm.budget import SpendLedger
from curate.llm.cache import ResponseCache
from curate.llm.client import LLMClient, Request, Result, request_key
from curate.llm.config import LLMConfig
from curate.llm.local import Sampling, local_model, model_folder, seed_of
from curate.llm.progress import SpendProgress
from curate.llm.prompts import PromptError, Prompts, load_system_by
from curate.llm.stage import cache_dir, table_ledger
from curate.records import content_hash
from curate.stage import PAYLOAD_CAP, Filtered, Outcome, Params, Reject, Stage, Unit, read_unit

GEN_COLUMNS: dict[str, pl.DataType] = {
    "gen_group": pl.String, "gen_model": pl.String, "gen_sample": pl.Int64, "gen_text": pl.String,
    "gen_finish_reason": pl.String, "gen_prompt_tokens": pl.Int64, "gen_completion_tokens": pl.Int64,
    "gen_cost_usd": pl.Float64, "gen_cached": pl.Boolean,
}
# how hard to push an endpoint, and how much to spend, do not change an answer: not in the fingerprint
OPERATIONAL = ("concurrency", "rpm", "tpm", "timeout_s", "max_retries", "max_requests", "max_tokens_total",
               "max_cost_usd", "batch")
NAMESPACE = "chat"  # the cache's namespace of plain chat answers: shared by every generate run


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="Model name at the endpoint, or a model folder (local backends).")
    base_url: str | None = Field(None, description="Its OpenAI-compatible endpoint; default: OpenAI's.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding its key.")
    price_input: float | None = Field(None, ge=0, description="USD per million prompt tokens.")
    price_output: float | None = Field(None, ge=0, description="USD per million completion tokens.")


class GenerateParams(Params):
    prompt: str | None = Field(None, description="User prompt: a Jinja2 template over the row's columns.")
    prompt_file: Path | None = Field(None, description="The user prompt template from a file.")
    system: str | None = Field(None, description="System prompt (a template too).")
    system_file: Path | None = Field(None, description="The system prompt from a file.")
    system_by: str | None = Field(None, description="Column whose value picks the system prompt ...")
    system_by_file: Path | None = Field(None, description="... from this YAML mapping (value: prompt).")
    models: list[ModelSpec] = Field(min_length=1, description="Models to ask, each for every row.")
    backend: Literal["openai", "transformers", "vllm"] = "openai"
    n: int = Field(1, ge=1, le=256, description="Samples per prompt and model.")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(4096, ge=1, description="Completion tokens per answer.")
    seed: int | None = Field(None, description="Sampling seed; sample i sends seed + i.")
    stop: list[str] | None = None
    extract: Extract | None = Field(None, description="Pull the answer's code out: html, python, json, code.")
    into: str | None = Field(None, description="Column for the extracted code (default `code`), or for the "
                                               "whole answer when nothing is extracted.")
    response_format: Path | None = Field(None, description="JSON Schema the answer must follow (structured output).")
    price_input: float = Field(0.0, ge=0, description="USD per million prompt tokens (models without their own).")
    price_output: float = Field(0.0, ge=0, description="USD per million completion tokens.")
    max_requests: int | None = Field(None, ge=0, description="Cap: HTTP requests in all (across resumed runs).")
    max_tokens_total: int | None = Field(None, ge=0, description="Cap: tokens in all.")
    max_cost_usd: float | None = Field(None, ge=0, description="Cap: dollars in all.")
    concurrency: int = Field(32, ge=1, le=1024, description="Requests in flight at most, per model.")
    rpm: float | None = Field(None, gt=0, description="Requests per minute at most, per model.")
    tpm: float | None = Field(None, gt=0, description="Tokens per minute at most, per model.")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    batch: bool = Field(False, description="Use the Batch API: submit, return, collect on a later run.")

    @model_validator(mode="after")
    def _consistent(self) -> GenerateParams:
        if (self.prompt is None) == (self.prompt_file is None):
            raise ValueError("give the prompt inline (prompt) or in a file (prompt_file), one of them")
        if sum(x is not None for x in (self.system, self.system_file, self.system_by)) > 1:
            raise ValueError("give one of system, system_file, system_by")
        if (self.system_by is None) != (self.system_by_file is None):
            raise ValueError("system_by needs system_by_file (the YAML mapping value: prompt), and back")
        if self.batch and self.backend != "openai":
            raise ValueError("batch needs the openai backend (the Batch API)")
        return self


@dataclass
class Candidate:
    row: int
    model: int
    sample: int
    request: Request
    key: str = ""


class Generate(Stage):
    name = "generate"
    Params = GenerateParams
    reads = ("id",)
    writes = tuple(GEN_COLUMNS)
    parallel = False  # an endpoint is I/O-bound: one process, many requests in flight, one spending ledger
    batch_size = 4096  # rows per shard: large, so few tails where the slots idle (answers resume by cache)

    def __init__(self, params: Params | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self._prompts: Prompts | None = None
        self._json_schema: dict[str, Any] | None = None
        self._clients: list[LLMClient] = []
        self._locals: list[Any] = []
        self._cache: ResponseCache | None = None
        self._ledger: SpendLedger | None = None
        self._progress: SpendProgress | None = None
        self._book: batches.BatchBook | None = None
        self._totals = (0, 0)  # answers for the whole table, and those in finished shards
        self._json_schema_out: pa.Schema | None = None

    # ----- configuration --------------------------------------------------------------------------------
    @property
    def prompts(self) -> Prompts:
        if self._prompts is None:
            p = self.params
            self._prompts = Prompts(_text(p.prompt, p.prompt_file), _text(p.system, p.system_file), p.system_by,
                                    load_system_by(p.system_by_file) if p.system_by_file else None)
            self._json_schema = load_schema(p.response_format) if p.response_format else None
        return self._prompts

    @property
    def into(self) -> str | None:
        return self.params.into or ("code" if self.params.extract else None)

    def configs(self) -> list[LLMConfig]:
        p = self.params
        return [LLMConfig(model=m.model, base_url=m.base_url, api_key_env=m.api_key_env, concurrency=p.concurrency,
                          timeout_s=p.timeout_s, max_retries=p.max_retries, parse_retries=0,
                          max_requests=p.max_requests, max_tokens_total=p.max_tokens_total,
                          max_cost_usd=p.max_cost_usd, rpm=p.rpm, tpm=p.tpm, temperature=p.temperature,
                          max_tokens=p.max_tokens, top_p=p.top_p, stop=p.stop,
                          price_input=p.price_input if m.price_input is None else m.price_input,
                          price_output=p.price_output if m.price_output is None else m.price_output)
                for m in p.models]

    def describe(self) -> dict[str, Any]:
        described = {k: v for k, v in super().describe().items() if k not in OPERATIONAL}
        for model in described["models"]:  # where a model is served is not what it answers
            model.pop("base_url", None)
            model.pop("api_key_env", None)
        return described

    def inputs_key(self) -> dict[str, str]:
        p = self.params
        return {str(path): path.read_text() for path in (p.prompt_file, p.system_file, p.system_by_file,
                                                          p.response_format) if path is not None and path.is_file()}

    def check(self, empty: pl.DataFrame) -> None:
        """What can be checked offline: templates against the columns, the schema, keys, local models."""
        self.prompts.check(list(empty.columns))
        if self.into in ("id", *GEN_COLUMNS):
            raise CurateError(f"--into {self.into} would overwrite a column generate writes",
                              "name another column, e.g. --into code")
        if self.params.backend == "openai":
            for config in self.configs():
                config.api_key()  # a hosted API without its key fails here
            return
        for spec in self.params.models:
            model_folder(spec.model)
        if self.params.backend == "vllm" and importlib.util.find_spec("vllm") is None:
            raise CurateError("--backend vllm needs vLLM, which is not installed",
                              "pip install vllm (Linux with a CUDA GPU), or use --backend transformers")

    # ----- the run --------------------------------------------------------------------------------------
    def units(self, input_parts: list[Path]) -> list[Unit]:
        if self.params.backend == "openai":  # unreachable, a refused key, an unknown model: before any row
            for config in self.configs():    # (here, not in check: an up-to-date table needs no endpoint)
                LLMClient(config).preflight()
        units = super().units(input_parts)
        per_row = len(self.params.models) * self.params.n
        rows = sum(_unit_rows(u) for u in units)
        done = sum(_unit_rows(u) for u in units if (self.workdir / "_done" / f"{u.key}.json").exists())
        self._totals = (rows * per_row, done * per_row)
        if input_parts:
            empty = pl.from_arrow(pq.read_schema(input_parts[0]).empty_table())
            self._json_schema_out = pl.DataFrame(schema=self._columns(empty)).to_arrow().schema
        if self.params.batch:
            self._advance_batches(units)
        return units

    def setup(self) -> None:
        self._open()
        if self.params.backend != "openai":
            self._locals = [local_model(self.params.backend, m.model) for m in self.params.models]
        total, done = self._totals
        self._progress = SpendProgress(f"generate → {self.workdir.name}", total, done, self._ledger).__enter__()

    def teardown(self) -> None:
        if self._progress is not None:
            self._progress.__exit__()
            self._progress.console.print(f"  generate: {self._progress.summary()}")
            self._progress = None

    def _open(self) -> None:
        if self._cache is None:
            root, table = self.workdir.parents[2], self.workdir.name
            self._cache = ResponseCache(cache_dir(root))
            self._ledger = table_ledger(root, table)
            self._clients = [LLMClient(c, self._cache, self._ledger) for c in self.configs()] \
                if self.params.backend == "openai" else []

    def run_unit(self, unit: Unit) -> Outcome:
        batch = read_unit(unit)
        rows = batch.to_dicts()
        candidates, rejected = self._candidates(rows)
        if self.params.batch:
            results = [self._from_batch(c) for c in candidates]
        elif self._clients:
            results = asyncio.run(self._ask(candidates))
        else:
            results = self._generate_locally(candidates)
        stopped = next((r.error for r in results if r.stopped), None)
        if stopped:
            raise RunStopped(f"{stopped}: generate stopped; the answers so far are kept in the workspace",
                               "run the same command with a higher cap to continue: nothing answered is paid again")
        return self._outcome(batch, rows, candidates, results, rejected)

    # ----- candidates and answers -------------------------------------------------------------------------
    def _candidates(self, rows: list[dict[str, Any]]) -> tuple[list[Candidate], list[Reject]]:
        candidates, rejected = [], []
        for i, row in enumerate(rows):
            try:
                messages = self.prompts.messages(row)
            except PromptError as err:
                rejected.append(Reject("prompt_error", str(err)[:1000], row_id=str(row.get("id"))))
                continue
            for m in range(len(self.params.models)):
                for sample in range(self.params.n):
                    request = Request(NAMESPACE, messages, params=self._request_params(sample), sample=sample)
                    candidates.append(Candidate(i, m, sample, request, self._key(m, request)))
        return candidates, rejected

    def _request_params(self, sample: int) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.params.seed is not None:
            params["seed"] = self.params.seed + sample
        if self._json_schema is not None:
            params["response_format"] = response_format(self._json_schema, self.params.response_format.stem)
        return params

    def _key(self, model: int, request: Request) -> str:
        if self._clients:
            return self._clients[model].key(request)
        p = self.params
        sampling = {k: v for k, v in {"temperature": p.temperature, "max_tokens": p.max_tokens, "top_p": p.top_p,
                                      "stop": p.stop}.items() if v is not None}
        return request_key(self._locals[model].identity, request, sampling)

    async def _ask(self, candidates: list[Candidate]) -> list[Result]:
        for client in self._clients:
            await client.__aenter__()
        try:
            async def one(c: Candidate) -> Result:
                result = await self._clients[c.model].complete(c.request)
                self._progress.advance()
                return result
            return list(await asyncio.gather(*(one(c) for c in candidates)))
        finally:
            for client in self._clients:
                await client.__aexit__()

    def _generate_locally(self, candidates: list[Candidate]) -> list[Result]:
        p = self.params
        results: dict[int, Result] = {}
        for i, c in enumerate(candidates):
            if (hit := self._cache.get(c.key)) is not None:
                results[i] = Result(text=hit.text, cached=True, answer=hit)
                self._progress.advance()
        sampling = Sampling(p.max_tokens, p.temperature, p.top_p, tuple(p.stop or ()))
        for m, model in enumerate(self._locals):
            todo = [i for i, c in enumerate(candidates) if c.model == m and i not in results]
            for start in range(0, len(todo), 64):  # answers reach the cache every 64: a kill loses at most these
                chunk = todo[start:start + 64]
                answers = model.generate([candidates[i].request.messages for i in chunk], sampling,
                                         [seed_of(candidates[i].key, candidates[i].request.params.get("seed"))
                                          for i in chunk])
                for i, answer in zip(chunk, answers, strict=True):
                    self._cache.put(candidates[i].key, NAMESPACE, model.identity, answer)
                    results[i] = Result(text=answer.text, answer=answer)
                self._progress.advance(len(chunk))
        return [results[i] for i in range(len(candidates))]

    # ----- the Batch API ------------------------------------------------------------------------------------
    def _advance_batches(self, units: list[Unit]) -> None:
        """Poll, collect, resubmit; stop the run (resumably) while a batch is out."""
        self._open()
        self._book = batches.BatchBook(self.workdir.parents[2], self.workdir.name)
        lines: list[list[batches.BatchLine]] = [[] for _ in self._clients]
        for unit in units:
            candidates, _ = self._candidates(read_unit(unit).to_dicts())
            for c in candidates:
                lines[c.model].append(batches.BatchLine(c.key, self._clients[c.model].body(c.request)))

        async def advance_all() -> list[batches.Progress]:
            done = []
            for client, mine in zip(self._clients, lines, strict=True):
                async with client:
                    done.append(await batches.advance(client, mine, self._book, self.workdir.name))
            return done

        progress = asyncio.run(advance_all())
        pending = [p for part in progress for p in part.pending]
        submitted = sum(p.submitted for p in progress)
        if pending:
            raise RunStopped(f"batches still running: {', '.join(pending)}",
                               "run the same command later to collect them")
        if submitted:
            raise RunStopped(f"submitted {submitted:,} requests to the Batch API "
                               f"(collected {sum(p.collected for p in progress):,} answers so far)",
                               "run the same command later (batches finish within 24 h) to collect them")

    def _from_batch(self, c: Candidate) -> Result:
        hit = self._cache.get(c.key)
        if hit is not None:
            self._progress.advance()
            return Result(text=hit.text, cached=c.key not in self._book.submitted_keys, answer=hit)
        if error := self._book.error(c.key):
            return Result(error=error)
        reason = self._clients[c.model].caps.reached(self._ledger.spent) or "not answered by any batch"
        return Result(error=reason, stopped=True)

    # ----- rows -----------------------------------------------------------------------------------------------
    def _outcome(self, batch: pl.DataFrame, rows: list[dict[str, Any]], candidates: list[Candidate],
                 results: list[Result], rejected: list[Reject]) -> Outcome:
        kept: list[dict[str, Any]] = []
        filtered: list[Filtered] = []
        into = self.into
        for c, result in zip(candidates, results, strict=True):
            row, spec = rows[c.row], self.params.models[c.model]
            group = str(row["id"])
            cid = content_hash([group, spec.model, c.sample])
            where = {"gen_group": group, "gen_model": spec.model, "gen_sample": c.sample}
            if result.error is not None:
                rejected.append(Reject(result.error.split(":")[0], result.error, row_id=cid,
                                       payload=json.dumps(where)))
                continue
            answer = result.answer
            verdict = judge_answer(answer, self.params.extract, self._json_schema)
            if verdict.reason is not None:
                filtered.append(Filtered(cid, verdict.reason, {**where, "finish_reason": answer.finish_reason,
                                                               "gen_completion_tokens": answer.completion_tokens,
                                                               "text": (answer.text or "")[:PAYLOAD_CAP]}))
                continue
            out = {**row, "id": cid, **where, "gen_text": answer.text, "gen_finish_reason": answer.finish_reason,
                   "gen_prompt_tokens": answer.prompt_tokens, "gen_completion_tokens": answer.completion_tokens,
                   "gen_cost_usd": answer.cost_usd, "gen_cached": result.cached}
            if into is not None:
                out[into] = verdict.value
            kept.append(out)
        n_in = len(candidates) + sum(1 for r in rejected if r.reason == "prompt_error")
        return Outcome(kept=pl.DataFrame(kept, schema=self._columns(batch)), n_in=n_in, filtered=filtered,
                       rejected=rejected)

    def _columns(self, batch: pl.DataFrame) -> dict[str, pl.DataType]:
        """The input's columns (its id now the answer's), then the answer's."""
        into = self.into
        schema = {k: v for k, v in batch.schema.items() if k not in GEN_COLUMNS and k != into}
        schema.update({"id": pl.String, **GEN_COLUMNS, **({into: pl.String} if into else {})})
        return schema

    def output_schema(self) -> pa.Schema | None:
        return self._json_schema_out


def _text(inline: str | None, path: Path | None) -> str | None:
    if path is None:
        return inline
    if not path.is_file():
        raise CurateError(f"no such file {path}")
    return path.read_text()


def _unit_rows(unit: Unit) -> int:
    rows = pq.ParquetFile(unit.path).metadata.num_rows
    return max(0, min(unit.length or rows, rows - unit.offset))

