"""`curate eval value`: score model answers on a value-annotated table, one or several runs.

A run's answers come from a predictions file (JSONL or CSV rows with `id` and either `correct` or
`response`, plus `n_tokens`), or from a table of responses, such as the one `curate generate` writes:
the response in `gen_text`, the question's id in `gen_group`, one run per `gen_model` × `gen_sample`.
Responses are checked against the table's `answer` (`curate.rlev.answers`; undecided ones go to the judge
when there is one, and count as not correct otherwise, shown apart). Per run: Acc, H-Acc, mean length,
value density; the average row is the mean of the per-run figures, as the paper reports it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import CurateError, unknown
from curate.llm import LLMClient
from curate.rlev.answers import JUDGE
from curate.rlev.judging import Answer, decide
from curate.rlev.metrics import ValueScores, value_scores
from curate.tokens import TokenCounter

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
AVERAGED = ("accuracy", "h_accuracy", "mean_tokens", "value_density", "accuracy_top", "accuracy_bottom")
# the answer's own length first: `generate` carries the input's columns over, so an `n_tokens` beside
# `gen_completion_tokens` counts the question, not the answer
TOKEN_COLUMNS = ("gen_completion_tokens", "completion_tokens", "gen_tokens", "n_tokens")
RUN_COLUMNS = ("gen_model", "gen_sample")


@dataclass
class Run:
    """One model's answers to the questions: rows with `id` and `correct` or `response` (+ `n_tokens`)."""

    name: str
    rows: list[dict[str, Any]]
    unreadable: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    name: str
    scores: ValueScores
    answers: int  # answers given in the run
    unmatched_rows: int = 0  # rows of the table this run does not answer: not scored
    unknown_ids: list[str] = field(default_factory=list)  # answers to ids the table lacks
    unreadable: int = 0
    checks: Counter = field(default_factory=Counter)  # how each answer was decided: rules, judge, undecided, given
    judged: int = 0
    judged_correct: int = 0
    judge_failed: int = 0
    values: list[float] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.name, **self.scores.as_dict(), "answers": self.answers,
                "unmatched_rows": self.unmatched_rows, "unknown_ids": len(self.unknown_ids),
                "unreadable": self.unreadable, "checked": sum(v for k, v in self.checks.items() if k not in ("given", "filtered")),
                "checks": dict(self.checks), "judged": self.judged, "judged_correct": self.judged_correct,
                "judge_failed": self.judge_failed}


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def read_predictions(path: Path) -> Run:
    """The rows of a JSONL or CSV predictions file, and the reasons of those that could not be read."""
    if not path.exists():
        raise CurateError(f"no such predictions file: {path}", "give a JSONL or CSV file with id and correct or response")
    rows, bad = [], []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)]
    else:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                bad.append(f"{path.name}:{number}: {err.msg}")
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad.append(f"{path.name}:{number}: not a JSON object")
    good = []
    for index, row in enumerate(rows):
        if row.get("id") in (None, ""):
            bad.append(f"{path.name}: row {index + 1} has no id")
        elif "correct" not in row and "response" not in row:
            bad.append(f"{path.name}: row {index + 1} has neither correct nor response")
        elif row.get("correct") is not None and _bool(row["correct"]) is None:
            bad.append(f"{path.name}: row {index + 1}: correct={row['correct']!r} is not true/false")
        else:
            good.append(row)
    _unique(good, path.name, "give one prediction per question")
    return Run(path.stem, good, bad)


def _unique(rows: list[dict[str, Any]], where: str, hint: str) -> None:
    seen: set[str] = set()
    for row in rows:
        key = str(row["id"])
        if key in seen:
            raise CurateError(f"{where}: id {key!r} has more than one answer", hint)
        seen.add(key)


def runs_from_table(name: str, frame: pl.DataFrame, response_column: str = "gen_text", key: str = "gen_group",
                    run_by: list[str] | None = None, tokens_column: str | None = None,
                    filtered: list[dict[str, Any]] | None = None) -> list[Run]:
    """Runs from a table of responses: one per distinct value of the `run_by` columns (default: those of
    `gen_model`, `gen_sample` the table has). `filtered` are the details of answers the table's stage filtered
    (`generate`: truncated, refused, empty, ...): the model did answer, so each counts as a wrong answer, as
    the paper counts a cut-off response."""
    for column in (response_column, key, *(run_by or []), *([tokens_column] if tokens_column else [])):
        if column not in frame.columns:
            err = unknown(f"column of {name!r}", column, frame.columns)
            err.hint = f"{err.hint}; choose with --response-column, --key, --run-by, --tokens-column"
            raise err
    by = run_by if run_by is not None else [c for c in RUN_COLUMNS if c in frame.columns]
    tokens = tokens_column or next((c for c in TOKEN_COLUMNS if c in frame.columns), None)
    answers: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in frame.iter_rows(named=True):
        if r[key] is not None:
            answers.setdefault(tuple(r[c] for c in by), []).append(
                {"id": r[key], "response": r[response_column], "n_tokens": r[tokens] if tokens else None})
    for d in filtered or []:
        if d.get(key) is not None and all(c in d for c in by):
            answers.setdefault(tuple(d[c] for c in by), []).append(
                {"id": d[key], "correct": False, "filtered": d["reason"], "n_tokens": d.get(tokens) if tokens else None})
    runs = []
    for values, rows in sorted(answers.items(), key=lambda item: tuple((v is None, v) for v in item[0])):
        label = " ".join(f"{c}={v}" for c, v in zip(by, values, strict=True)) or name
        _unique(rows, f"{name} ({label})", "tell runs apart with --run-by COLUMN (e.g. gen_model,gen_sample)")
        runs.append(Run(label, rows))
    return runs


def score_run(table: pl.DataFrame, run: Run, *, judge: LLMClient | None = None, counter: TokenCounter | None = None,
              rel_tol: float = 1e-4, share: float = 0.2, n_buckets: int = 5) -> RunResult:
    """Join one run's answers to the table by id, decide correctness, and compute the RLEV metrics."""
    rows = {str(r["id"]): r for r in table.to_dicts()}
    matched = sorted([(rows[str(p["id"])], p) for p in run.rows if str(p["id"]) in rows], key=lambda m: str(m[0]["id"]))
    result = RunResult(run.name, value_scores([], []), answers=len(run.rows), unreadable=len(run.unreadable),
                       unmatched_rows=len(rows) - len(matched),
                       unknown_ids=[str(p["id"]) for p in run.rows if str(p["id"]) not in rows])
    given = [m for m in matched if m[1].get("correct") is not None and not m[1].get("filtered")]
    cut = [m for m in matched if m[1].get("filtered")]
    to_check = [m for m in matched if m[1].get("correct") is None]
    if to_check and "answer" not in table.columns:
        raise CurateError("answers give responses to check, but the table has no answer column")
    judged = decide([Answer(str(p.get("response") or ""), str(r["answer"]), r.get("question_type"),
                            str(r.get("question") or "")) for r, p in to_check], judge, rel_tol=rel_tol)
    correct = {id(p): bool(_bool(p["correct"])) for _, p in given + cut}
    for (_, p), verdict in zip(to_check, judged.verdicts, strict=True):
        correct[id(p)] = verdict.correct is True
        result.checks[verdict.check] += 1
        result.judged_correct += verdict.check == JUDGE and verdict.correct is True
    if given:
        result.checks["given"] = len(given)
    if cut:
        result.checks["filtered"] = len(cut)
    result.judged, result.judge_failed = judged.asked, judged.failed
    result.values = [float(r["value"]) for r, _ in matched]
    result.correct = [correct[id(p)] for _, p in matched]
    tokens = _lengths(matched, counter)
    result.scores = value_scores(result.values, result.correct, tokens, share=share, n_buckets=n_buckets)
    return result


def _lengths(matched: list[tuple[dict[str, Any], dict[str, Any]]], counter: TokenCounter | None) -> list[float] | None:
    """Response lengths in tokens: as given, else counted with `counter`; None when some are unknown."""
    given = [_number(p.get("n_tokens")) for _, p in matched]
    if all(t is not None for t in given):
        return given
    if counter is None or any(p.get("response") is None for _, p in matched):
        return None
    return [float(n) for n in counter.count([str(p["response"]) for _, p in matched])]


def _number(value: Any) -> float | None:
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def average(results: list[RunResult]) -> dict[str, float | None]:
    """The paper's "Average" row: the mean of each per-run figure (value density averaged per run, not
    recomputed from the averaged H-Acc and length)."""
    out: dict[str, float | None] = {}
    for name in AVERAGED:
        figures = [getattr(r.scores, name) for r in results]
        known = [f for f in figures if f is not None and not math.isnan(f)]
        out[name] = sum(known) / len(known) if known and len(known) == len(figures) else None
    return out


def pooled(results: list[RunResult], share: float, n_buckets: int) -> ValueScores:
    """Every run's answers together (for the accuracy-by-value plot)."""
    values = [v for r in results for v in r.values]
    correct = [c for r in results for c in r.correct]
    return value_scores(values, correct, share=share, n_buckets=n_buckets)


def as_dict(results: list[RunResult]) -> dict[str, Any]:
    """The figures as JSON: the average at the top (one run: that run's), then each run."""
    runs = [r.as_dict() for r in results]
    totals = {k: sum(r[k] for r in runs) for k in ("n", "correct", "answers", "unknown_ids", "unreadable", "checked",
                                                   "judged", "judged_correct", "judge_failed")}
    checks: Counter = Counter()
    for r in results:
        checks.update(r.checks)
    return {**average(results), **totals, "checks": dict(checks), "unmatched_rows": max(r["unmatched_rows"] for r in runs),
            "share": results[0].scores.share, "runs": runs,
            "buckets": [asdict(b) for b in results[0].scores.buckets] if len(results) == 1 else None}
