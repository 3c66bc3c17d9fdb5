"""`judge`: score what `exec` rendered, on OpenDesign's rubric, and compute the agentic reward's terms.

Every row is kept. A row whose judging failed (the endpoint kept failing, the answer never parsed, the
spending guard ran out, nothing was rendered) keeps null scores and the reason in `judge_error`; a re-run
pays only for those rows, because answers are cached in the workspace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import Field

from curate.errors import CurateError
from curate.judges.base import Sample, Verdict
from curate.judges.builtin import judge_builtin
from curate.judges.choice import JudgeChoice
from curate.llm import LLMClient, ResponseCache, Result
from curate.llm.stage import stage_client
from curate.rewards.aesthetic import RewardWeights, exec_term, terms
from curate.stage import Outcome, Stage, Unit, read_unit
from curate.stages.exec import extract, workspace_root
from curate.store.workspace import Workspace

JUDGE_COLUMNS: dict[str, pa.DataType] = {
    "score_alignment": pa.float64(), "score_aesthetics": pa.float64(), "score_structure": pa.float64(),
    "score_total": pa.float64(), "score_task": pa.float64(), "score_visual": pa.float64(),
    "judge_feedback": pa.string(), "judge_findings": pa.string(), "judge_name": pa.string(),
    "judge_error": pa.string(), "judge_requests": pa.int64(), "judge_cached": pa.bool_(),
    "judge_prompt_tokens": pa.int64(), "judge_completion_tokens": pa.int64(), "judge_cost_usd": pa.float64(),
    "inter_scores": pa.list_(pa.float64()), "r_exec": pa.float64(), "r_static": pa.float64(),
    "r_inter": pa.float64(), "reward": pa.float64(),
}
EXEC_COLUMNS = ("exec_ok", "images", "screenshot")


class JudgeParams(JudgeChoice):
    """The judge choice (shared with the `aesthetic` training reward), a reference column and the weights."""

    reference_column: str | None = Field(None, description="Column with a reference image (artifact hash) "
                                                           "for the plot judge's visual score.")
    weights: RewardWeights = Field(default_factory=RewardWeights)


class Judge(Stage):
    name = "judge"
    Params = JudgeParams
    reads = ("id", "instruction", "code", "language")
    writes = tuple(JUDGE_COLUMNS)
    version = "3"  # 3: plots judged from plot_facts and pixels, pages from what is visible; never the code

    def __init__(self, params: Params | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        uses_llm = self.params.judge == "llm" or self.params.interactive == "llm"
        # An endpoint is I/O-bound: one process with many requests in flight, and one spending guard.
        self.parallel = not uses_llm
        self.batch_size = 1024 if uses_llm else 64  # fewer batch tails that idle the slots
        self._client: LLMClient | None = None
        self._explorer = None

    def check(self, empty: pl.DataFrame) -> None:
        missing = [c for c in EXEC_COLUMNS if c not in empty.columns]
        if missing:
            raise CurateError(f"the table has no {', '.join(missing)} column: judges score what exec rendered",
                              "run `curate exec TABLE --as executed` first, then judge that table")
        ref = self.params.reference_column
        if ref and ref not in empty.columns:
            raise CurateError(f"no column {ref!r} for --reference-column")
        if self.params.llm is not None:
            self.params.llm.api_key()  # fail before any work when a hosted API has no key

    def units(self, input_parts: list[Path]) -> list[Unit]:
        return [Unit(u.key, u.path, u.offset, u.length, {"workspace": str(workspace_root(Path(u.path)))})
                for u in super().units(input_parts)]

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        if described.get("llm"):  # how hard to push an endpoint does not change an answer
            for key in ("concurrency", "timeout_s", "max_retries", "backoff_s", "backoff_max_s"):
                described["llm"].pop(key, None)
        if self.params.judge == "llm" or self.params.interactive == "llm":
            described["prompts"] = self.params.prompt_digests()  # a prompt file edited under the same name
        return described

    def teardown(self) -> None:
        if self._explorer is not None:
            self._explorer.close()
            self._explorer = None

    # ----- a batch --------------------------------------------------------------------------------
    def run_unit(self, unit: Unit) -> Outcome:
        ws = Workspace(Path(unit.extra["workspace"]))
        batch = read_unit(unit)
        rows = list(batch.iter_rows(named=True))
        samples = [self._sample(row, ws) for row in rows]
        verdicts, usages = self._judge(samples, ws)
        inter = [self._interact(s, ws) for s in samples]
        out: dict[str, list[Any]] = {name: [] for name in JUDGE_COLUMNS}
        for sample, verdict, usage, scores in zip(samples, verdicts, usages, inter, strict=True):
            r_exec, exec_reason = exec_term(sample.language, sample.exec_ok, sample.code)
            findings = json.loads(verdict.findings_json()) if verdict.findings else []
            if exec_reason and exec_reason.startswith("lint"):
                findings.append({"dimension": "exec", "rule": "html-lint", "penalty": 0, "message": exec_reason})
            reward = terms(r_exec, verdict.total, scores, self.params.weights, self.params.interactions)
            values = {"score_alignment": verdict.alignment, "score_aesthetics": verdict.aesthetics,
                      "score_structure": verdict.structure, "score_total": verdict.total,
                      "score_task": verdict.extra.get("score_task"), "score_visual": verdict.extra.get("score_visual"),
                      "judge_feedback": verdict.feedback, "judge_findings": json.dumps(findings, ensure_ascii=False),
                      "judge_name": self._judge_name(), "judge_error": verdict.error, "inter_scores": scores,
                      **usage, **reward}
            for name in JUDGE_COLUMNS:
                out[name].append(values.get(name))
        kept = batch.drop([c for c in JUDGE_COLUMNS if c in batch.columns]).to_arrow()
        for name, kind in JUDGE_COLUMNS.items():
            kept = kept.append_column(name, pa.array(out[name], type=kind))
        return Outcome(kept=kept, n_in=batch.height)

    def _judge_name(self) -> str:
        return self.params.name

    def _judge(self, samples: list[Sample], ws: Workspace) -> tuple[list[Verdict], list[dict[str, Any]]]:
        none = {"judge_requests": 0, "judge_cached": None, "judge_prompt_tokens": 0,
                "judge_completion_tokens": 0, "judge_cost_usd": 0.0}
        if self.params.judge == "builtin":
            verdicts = []
            for sample in samples:
                try:
                    verdicts.append(judge_builtin(sample))
                except Exception as err:  # noqa: BLE001 - an unreadable artifact fails its row, not the run
                    verdicts.append(Verdict.failed(f"{type(err).__name__}: {err}"[:500]))
            return verdicts, [dict(none) for _ in samples]
        from curate.judges.llm import judge_all

        client = self._llm(ws)
        failed_exec = [s.exec_ok is False for s in samples]
        judged = judge_all([s for s, f in zip(samples, failed_exec, strict=True) if not f], client.run, self.params)
        verdicts, usages, it = [], [], iter(judged)
        for sample, failed in zip(samples, failed_exec, strict=True):
            if failed:  # nothing rendered: scored 0 without a request, like a blank page
                verdicts.append(judge_builtin(sample))
                usages.append(dict(none))
                continue
            verdict, results = next(it)
            verdicts.append(verdict)
            usages.append(_usage(results))
        return verdicts, usages

    def _llm(self, ws: Workspace) -> LLMClient:
        if self._client is None:  # caps hold across the resumed runs that write this table
            self._client = stage_client(self.params.llm, ws.root, self.workdir.name if self.workdir else None)
        return self._client

    def _interact(self, sample: Sample, ws: Workspace) -> list[float] | None:
        if self.params.interactive == "off" or not sample.is_page or not sample.exec_ok:
            return None
        if self._explorer is None:
            from curate.judges.interactive import explorer

            self._explorer = explorer(self.params, ResponseCache(ws.root / "cache" / "llm"))
        return self._explorer.explore(sample.code, self.params.interactions, instruction=sample.instruction,
                                      game=sample.is_game)

    # ----- rows -----------------------------------------------------------------------------------
    def _sample(self, row: dict[str, Any], ws: Workspace) -> Sample:
        language = (row.get("language") or "").lower()
        images = [h for h in (row.get("images") or []) if h]
        shots = [row.get("screenshot_full"), row.get("screenshot")]
        ref = row.get(self.params.reference_column) if self.params.reference_column else None
        code = row.get("code") or ""
        return Sample(
            id=str(row.get("id")), instruction=row.get("instruction") or "",
            code=(extract(code, language) or code) if language in ("python", "html") else code,
            language=language, category=row.get("category"), exec_ok=row.get("exec_ok"),
            exec_error=row.get("exec_error"), stderr=row.get("stderr") or "",
            images=[ws.artifact_path(h) for h in images],
            plot_facts=[_json(f) if f else None for f in (row.get("plot_facts") or [])][:len(images)],
            screenshot=ws.artifact_path(row["screenshot"]) if row.get("screenshot") else None,
            screenshot_full=ws.artifact_path(row["screenshot_full"]) if row.get("screenshot_full") else None,
            page_facts=_json(row.get("page_facts")) or {}, console_errors=_list(row.get("console_errors")),
            failed_requests=_list(row.get("failed_requests")),
            reference_image=ws.artifact_path(ref) if ref else None,
            image_hashes=tuple(h for h in ([s for s in shots if s] if language == "html" else images)),
        )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _list(value: Any) -> list[str]:
    value = _json(value)
    return [str(v) for v in value] if isinstance(value, list) else []


def _usage(results: list[Result]) -> dict[str, Any]:
    return {"judge_requests": sum(r.requests for r in results),
            "judge_cached": bool(results) and all(r.cached for r in results),
            "judge_prompt_tokens": sum(r.prompt_tokens for r in results),
            "judge_completion_tokens": sum(r.completion_tokens for r in results),
            "judge_cost_usd": sum(r.cost_usd for r in results)}
