"""`value`: give every question its value `v = points / T_i` and reward scale `s = 1 + min(alpha * v, 1)`.

The exam of a row is its `exam_id`, else `year/variant/paper` from its fields; its total `T_i` is, in order,
an override from `--totals` (by exam id, paper or subject), the source's known `exam_total`, or the sum of
the exam's points in the table (`total_source`: `override`, `known`, `derived`; `curate.rlev.exams`).
Values can also come from difficulty levels (weak labels) or from a model's prediction (RLEV's Table 7
prompt, `curate.rlev.llm`). `check` says how answers to the row can be checked (`rules`, `judge`,
`undecided`; `curate.rlev.answers`), and `drop_undecidable` leaves the undecidable rows out of an RL set.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator
from rich.console import Console

from curate.errors import CurateError
from curate.llm import LLMConfig
from curate.rlev.answers import JUDGE, UNDECIDED, reference_check
from curate.rlev.exams import ExamTotal, exam_of, field, incomplete_warnings, read_totals, resolve_total
from curate.rlev.llm import DEFAULT_TOTAL, check_prompt, predict_points
from curate.rlev.llm import client as llm_client
from curate.rlev.values import ALPHA, DIFFICULTY_VALUES, PAPER, distribution
from curate.stage import Filtered, Outcome, Params, Reject, TableStage, Unit, cap_payload
from curate.stages.exec import workspace_root

OUTPUT = {"exam_id": pl.String, "exam_total": pl.Float64, "total_source": pl.String, "exam_points": pl.Float64,
          "value_source": pl.String, "value": pl.Float64, "scale": pl.Float64, "check": pl.String}


class ValueParams(Params):
    value_source: Literal["points", "difficulty", "predicted"] = Field(
        "points", description="points: v = points / T_i; difficulty: weak labels; predicted: a model's score.")
    alpha: float = Field(ALPHA, gt=0, description="s = 1 + min(alpha * v, 1).")
    totals: Path | None = Field(None, description="Totals that override the known ones: JSON/YAML "
                                                  "{paper | year/variant/paper | subject | exam_id: total} "
                                                  "(flat or nested), or CSV exam_id,total.")
    difficulty_map: dict[str, float] = Field(default_factory=lambda: dict(DIFFICULTY_VALUES),
                                             description="Difficulty level → value (fraction of an exam).")
    uniform: bool = Field(False, description="Control: every row gets the mean scale (value kept).")
    shuffle: bool = Field(False, description="Control: the scales permuted across rows (seeded); `value` "
                                             "stays true, so H-Acc still weighs by the true values.")
    seed: int = 0
    llm: LLMConfig | None = Field(None, description="The model for --value-source predicted; its answers are "
                                                    "cached in the workspace (cache/llm).")
    prompt: str | None = Field(None, description="The value predictor's system prompt ({total_score} is the "
                                                 "exam's total; the question is the user turn). Default: "
                                                 "RLEV's Table 7.")
    reply: Literal["number", "json"] = Field("number", description="How the predictor answers: a bare number "
                                                                   "(the paper) or JSON {\"score\": N}.")
    judge: bool = Field(False, description="Answers the rules cannot check will go to an LLM judge: their "
                                           "rows get check = judge instead of undecided.")
    drop_undecidable: bool = Field(False, description="Leave out rows whose answers nothing can check "
                                                      "(check = undecided), filtered with reason `undecidable`.")

    @model_validator(mode="after")
    def _check(self) -> ValueParams:
        if self.uniform and self.shuffle:
            raise ValueError("--uniform and --shuffle are two different controls: pick one")
        if self.value_source == "predicted" and self.llm is None:
            raise ValueError("--value-source predicted needs a model (--model, and --base-url for a local server)")
        bad = {k: v for k, v in self.difficulty_map.items() if not 0 < v <= 1}
        if bad:
            raise ValueError(f"difficulty values are fractions of an exam in (0, 1]; got {bad}")
        self.difficulty_map = {k.strip().lower(): v for k, v in self.difficulty_map.items()}
        if self.prompt is not None:
            check_prompt(self.prompt)
        return self


class Value(TableStage):
    name = "value"
    Params = ValueParams
    writes = tuple(OUTPUT)
    version = "2"

    def __init__(self, params: ValueParams | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self.params: ValueParams
        self.warnings: list[str] = []
        self._cache_dir: Path | None = None

    def check(self, empty: pl.DataFrame) -> None:
        needed = {"points": ("points",), "difficulty": ("difficulty",), "predicted": ("question",)}
        for column in ("id", *needed[self.params.value_source]):
            if column not in empty.columns:
                raise CurateError(f"value --value-source {self.params.value_source} needs a {column!r} column",
                                  f"the table has: {', '.join(empty.columns)}")
        if self.params.drop_undecidable and "answer" not in empty.columns:
            raise CurateError("--drop-undecidable needs an 'answer' column to check answers against")
        if self.params.totals is not None:
            read_totals(self.params.totals)

    def inputs_key(self) -> Any:
        path = self.params.totals
        return path.read_text(encoding="utf-8") if path is not None and path.exists() else None

    def run_unit(self, unit: Unit) -> Outcome:
        # the input lives at <workspace>/tables/<name>/part-*.parquet: model answers are cached beside it
        self._cache_dir = workspace_root(Path(unit.extra["parts"][0])) / "cache" / "llm"
        return super().run_unit(unit)

    def process_table(self, table: pl.LazyFrame) -> Outcome:
        self.warnings = []
        frame = table.collect()
        frame = frame.drop([c for c in OUTPUT if c in frame.columns and c not in ("exam_id", "exam_total")])
        rows = frame.to_dicts()
        exams = [exam_of(row) for row in rows]
        reasons: dict[int, tuple[str, str]] = {}
        info = self._exam_totals(rows, exams, reasons)
        values = self._values(rows, exams, info, reasons)
        checks = self._checks(frame)
        filtered = [Filtered(str(rows[i].get("id")), "undecidable", {"check": UNDECIDED, "exam_id": exams[i]})
                    for i in range(len(rows)) if i not in reasons and self.params.drop_undecidable
                    and checks[i] == UNDECIDED]
        dropped = {f.row_id for f in filtered}
        kept_index = [i for i in range(len(rows)) if i not in reasons and str(rows[i].get("id")) not in dropped]
        exam_info = [_exam_info(info, exams[i], self.params.value_source) for i in kept_index]
        out = frame[kept_index].with_columns(
            pl.Series("exam_id", [exams[i] for i in kept_index], dtype=pl.String),
            pl.Series("exam_total", [x.total for x in exam_info], dtype=pl.Float64),
            pl.Series("total_source", [x.source for x in exam_info], dtype=pl.String),
            pl.Series("exam_points", [x.points for x in exam_info], dtype=pl.Float64),
            pl.lit(self.params.value_source, dtype=pl.String).alias("value_source"),
            pl.Series("value", [values[i] for i in kept_index], dtype=pl.Float64),
            pl.Series("check", [checks[i] for i in kept_index], dtype=pl.String),
        )
        out = self._controls(out)
        rejected = [Reject(reason, message, row_id=str(rows[i].get("id")), location=exams[i],
                           payload=cap_payload(json.dumps(rows[i], ensure_ascii=False, default=str)))
                    for i, (reason, message) in sorted(reasons.items())]
        self._report(out, len(filtered))
        return Outcome(kept=out, n_in=len(rows), filtered=filtered, rejected=rejected)

    # ----- exams and their totals -----------------------------------------------------------------
    def _exam_totals(self, rows: list[dict[str, Any]], exams: list[str | None],
                     reasons: dict[int, tuple[str, str]]) -> dict[str, ExamTotal]:
        by_points = self.params.value_source == "points"
        members: dict[str, list[int]] = defaultdict(list)
        for i, (row, exam) in enumerate(zip(rows, exams, strict=True)):
            if by_points and _positive(row.get("points")) is None:
                reasons[i] = ("no_points", f"points must be a positive number, got {row.get('points')!r}")
            elif by_points and exam is None:
                reasons[i] = ("no_exam", "no exam_id, and no year and subject or paper to derive one")
            elif exam is not None:
                members[exam].append(i)
        overrides = read_totals(self.params.totals) if self.params.totals else {}
        info: dict[str, ExamTotal] = {}
        for exam, index in members.items():
            given = {_positive(rows[i].get("exam_total")) for i in index} - {None}
            if len(given) > 1:
                for i in index:
                    reasons[i] = ("conflicting_exam_total",
                                  f"the rows of exam {exam} give different totals: {sorted(given)}")
                continue
            points = [_positive(rows[i].get("points")) for i in index]
            summed = float(sum(points)) if None not in points else None
            paper = field(rows[index[0]], "paper")
            subjects = sorted({str(s) for i in index if (s := field(rows[i], "subject"))})
            total, source = resolve_total(exam, paper, subjects, next(iter(given), None), summed, overrides)
            info[exam] = ExamTotal(total, source, summed, paper or (subjects[0] if subjects else None), len(index))
        self.warnings.extend(incomplete_warnings(info))
        return info

    # ----- values -------------------------------------------------------------------------------
    def _values(self, rows: list[dict[str, Any]], exams: list[str | None], info: dict[str, ExamTotal],
                reasons: dict[int, tuple[str, str]]) -> list[float | None]:
        values: list[float | None] = [None] * len(rows)
        source = self.params.value_source
        for i, row in enumerate(rows):
            if i in reasons:
                continue
            if source == "points":
                total = info[exams[i]].total
                points = _positive(row["points"])
                if points > total + 1e-9:
                    reasons[i] = ("points_exceed_total", f"{points:g} points in an exam of {total:g}")
                    continue
                values[i] = points / total
            elif source == "difficulty":
                level = str(row.get("difficulty") or "").strip().lower()
                if level not in self.params.difficulty_map:
                    reasons[i] = ("unknown_difficulty", f"difficulty {row.get('difficulty')!r} is not one of "
                                                        f"{', '.join(self.params.difficulty_map)}")
                    continue
                values[i] = self.params.difficulty_map[level]
        if source == "predicted":
            self._predict(rows, exams, info, values, reasons)
        return values

    def _predict(self, rows: list[dict[str, Any]], exams: list[str | None], info: dict[str, ExamTotal],
                 values: list[float | None], reasons: dict[int, tuple[str, str]]) -> None:
        """v = predicted score / exam total; the score is out of 100 where the exam's total is unknown."""
        todo = [i for i in range(len(rows)) if i not in reasons]
        totals = [_exam_info(info, exams[i], self.params.value_source).total for i in todo]
        questions = [str(rows[i].get("question") or "") for i in todo]
        results = predict_points(llm_client(self.params.llm, self._cache_dir), questions, totals,
                                 self.params.prompt, self.params.reply)
        for i, total, result in zip(todo, totals, results, strict=True):
            if result.ok:
                values[i] = result.value / total
            else:
                reasons[i] = ("prediction_failed", result.error or "no answer")

    def _checks(self, frame: pl.DataFrame) -> list[str | None]:
        """How answers to each row can be checked: by the rules, by a judge, or not at all."""
        if "answer" not in frame.columns:
            return [None] * frame.height
        types = frame["question_type"].to_list() if "question_type" in frame.columns else [None] * frame.height
        checks = [reference_check(str(a or ""), t) for a, t in zip(frame["answer"].to_list(), types, strict=True)]
        return [JUDGE if c == UNDECIDED and self.params.judge else c for c in checks]

    def _controls(self, out: pl.DataFrame) -> pl.DataFrame:
        """s from the true values; the controls then change `scale` only (the reward), never `value`."""
        alpha = self.params.alpha
        out = out.with_columns((1.0 + pl.min_horizontal(alpha * pl.col("value"), pl.lit(1.0))).alias("scale"))
        if self.params.shuffle and out.height:
            order = np.random.default_rng(self.params.seed).permutation(out.height)
            out = out.with_columns(pl.Series("scale", out["scale"].to_numpy()[order], dtype=pl.Float64))
        if self.params.uniform and out.height:
            out = out.with_columns(pl.lit(out["scale"].mean(), dtype=pl.Float64).alias("scale"))
        return out

    def _report(self, out: pl.DataFrame, dropped: int) -> None:
        console = Console(stderr=True)
        for warning in self.warnings:
            console.print(f"[yellow]warning:[/] value: {warning}")
        if out.height:
            mine = distribution(out["value"].to_list(), out["scale"].to_list())
            console.print(f"value distribution: {mine.line()}\n"
                          f"  RLEV paper's data: {PAPER.line().replace('(of 100,000)', '(100K exam questions)')}")
        if "check" in out.columns and out["check"].drop_nulls().len():
            counts = out["check"].value_counts(sort=True).iter_rows()
            console.print("answer checks: " + ", ".join(f"{name} {n}" for name, n in counts)
                          + (f"; {dropped} undecidable rows left out" if dropped else ""))

    def output_schema(self) -> pa.Schema:  # what an empty input gives
        return pl.DataFrame(schema={"id": pl.String, **OUTPUT}).to_arrow().schema


def _exam_info(info: dict[str, ExamTotal], exam: str | None, value_source: str) -> ExamTotal:
    """An exam's total, its source and its summed points; predictions assume 100 where no total is known."""
    found = info.get(exam) if exam is not None else None
    if found and found.total is not None:
        return found
    if value_source == "predicted":
        return ExamTotal(DEFAULT_TOTAL, "default", found.points if found else None)
    return found or ExamTotal(None, None, None)


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and np.isfinite(number) else None
