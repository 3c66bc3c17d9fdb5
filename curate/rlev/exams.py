"""Exams and their totals: which exam a row belongs to, and which total T_i each exam uses.

A total is, in order of precedence:
- `override`: a totals file names the exam (`2016/新课标Ⅰ/理科综合`), its paper (`理科综合`) or its subject;
- `known`: the source gives it (`exam_total`; the GAOKAO reader fills in the paper's known total);
- `derived`: the sum of the points of the exam's questions in the table (low when the bank lacks part of
  the exam, which `incomplete_warnings` points out).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from curate.errors import CurateError
from curate.rlev.papers import exam_key, fold, read_variant

OVERRIDE, KNOWN, DERIVED = "override", "known", "derived"
_VARIANT_KEYS = ("variant", "category", "paper_variant")


@dataclass
class ExamTotal:
    total: float | None
    source: str | None
    points: float | None  # the summed points of the exam's questions in the table
    paper: str | None = None
    questions: int = 0


def field(row: Mapping[str, Any], key: str) -> Any:
    """A row's column, or the same key inside its `meta` JSON (where collect keeps fields it has no column for)."""
    if row.get(key) not in (None, ""):
        return row[key]
    meta = row.get("meta")
    if isinstance(meta, str) and meta:
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            return None
    return meta.get(key) if isinstance(meta, dict) else None


def exam_of(row: Mapping[str, Any]) -> str | None:
    """The row's exam: its `exam_id`, else `year/variant/paper` from its fields (the subject when no paper)."""
    if row.get("exam_id"):
        return str(row["exam_id"])
    year = field(row, "year")
    category = next((field(row, k) for k in _VARIANT_KEYS if field(row, k)), None)
    year_number = int(year) if str(year or "").strip().isdigit() else None
    variant = read_variant(category, year_number).name if category else None
    return exam_key(year, variant, field(row, "paper") or field(row, "subject"))


def _flatten(raw: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML `{2016: {新课标Ⅰ: {理科综合: 300}}}` as flat keys `2016/新课标Ⅰ/理科综合`."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, name + "/") if isinstance(value, Mapping) else {name: value})
    return flat


def canonical_key(key: str) -> str:
    """A totals key as exam ids are written: `2016/（新课标ⅰ）/理科综合` → `2016/新课标I/理科综合`."""
    parts = [p.strip() for p in str(key).split("/")]
    if len(parts) == 3 and parts[0].isdigit():
        variant = read_variant(parts[1], int(parts[0])).name or fold(parts[1])
        return exam_key(parts[0], variant, parts[2]) or key
    return str(key).strip()


def read_totals(path: Path) -> dict[str, float]:
    """Known totals: a JSON or YAML mapping (flat or nested by year and variant), or a CSV `exam_id,total`.

    A key is an exam id (`2016/新课标Ⅰ/理科综合`), a paper (`理科综合`) or a subject (`Physics`); a paper or
    subject key applies to each exam of it that has no key of its own.
    """
    if not path.exists():
        raise CurateError(f"no such totals file: {path}", "give a JSON/YAML mapping or a CSV of exam_id,total")
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            if rows and not {"exam_id", "total"} <= set(rows[0]):
                raise CurateError(f"{path.name}: a totals CSV needs the columns exam_id and total",
                                  f"it has: {', '.join(rows[0])}")
            raw: object = {row["exam_id"]: row["total"] for row in rows}
        elif path.suffix.lower() == ".json":
            raw = json.loads(path.read_text(encoding="utf-8"))
        else:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as err:
        raise CurateError(f"{path.name}: cannot read the totals file: {err}") from None
    if not isinstance(raw, dict):
        raise CurateError(f"{path.name}: a totals file maps exam ids, papers or subjects to totals",
                          "e.g. {\"理科综合\": 300, \"2016/新课标Ⅰ/理科综合\": 300, \"Math_I\": 150}")
    totals: dict[str, float] = {}
    for key, value in _flatten(raw).items():
        try:
            total = float(value)
        except (TypeError, ValueError):
            total = 0.0
        if not total > 0:
            raise CurateError(f"{path.name}: the total of {key!r} is {value!r}", "totals are positive numbers")
        totals[canonical_key(key)] = total
    return totals


def resolve_total(exam: str, paper: str | None, subjects: list[str], given: float | None, summed: float | None,
                  overrides: Mapping[str, float]) -> tuple[float | None, str | None]:
    """(total, total_source) of one exam, by the precedence above; a subject key applies to the paper its
    questions sit in (`Physics: 300` to 理科综合)."""
    for key in (exam, canonical_key(exam), paper, *sorted(subjects)):
        if key and key in overrides:
            return overrides[key], OVERRIDE
    if given is not None:
        return given, KNOWN
    if summed is not None:
        return summed, DERIVED
    return None, None


def incomplete_warnings(exams: Mapping[str, ExamTotal]) -> list[str]:
    """Warnings, with numbers, for exams whose questions do not add up to the total they use."""
    warnings = []
    fixed = {e: x for e, x in exams.items() if x.source in (KNOWN, OVERRIDE) and x.points and x.total}
    short = sorted((x.points / x.total, e) for e, x in fixed.items() if x.points < x.total - 1e-9)
    if short:
        ratio, example = short[len(short) // 2]
        x = fixed[example]
        warnings.append(
            f"{len(short)} of {len(fixed)} exams with a known total hold fewer points than it (median "
            f"{100 * ratio:.0f}%, e.g. {example}: {x.points:g} of {x.total:g} points): the bank lacks part of "
            f"those papers, so their values sum to less than 1 — as they should")
    over = sorted((x.points / x.total, e) for e, x in fixed.items() if x.points > x.total + 1e-9)
    if over:
        ratio, example = over[-1]
        x = fixed[example]
        warnings.append(
            f"{len(over)} of {len(fixed)} exams hold more points than their known total (e.g. {example}: "
            f"{x.points:g} > {x.total:g}): optional questions, two papers under one name, or a wrong total")
    warnings.extend(_derived_warnings({e: x for e, x in exams.items() if x.source == DERIVED and x.total}))
    return warnings


def _derived_warnings(derived: Mapping[str, ExamTotal]) -> list[str]:
    """Derived totals look incomplete when an exam holds one question (its value is 1), or far fewer points
    than other exams of the same paper."""
    if not derived:
        return []
    by_paper: dict[str, list[float]] = {}
    for x in derived.values():
        by_paper.setdefault(x.paper or "", []).append(x.total)
    low = sorted((x.total / statistics.median(by_paper[x.paper or ""]), e) for e, x in derived.items()
                 if x.paper and len(by_paper[x.paper]) > 2 and x.total < 0.5 * statistics.median(by_paper[x.paper]))
    single = sorted(e for e, x in derived.items() if x.questions == 1)
    totals = sorted(x.total for x in derived.values())
    if not low and not single:
        return []
    parts = []
    if low:
        ratio, example = low[0]
        parts.append(f"{len(low)} sum to less than half the median of their paper (e.g. {example}: "
                     f"{derived[example].total:g} points, {100 * ratio:.0f}% of the median)")
    if single:
        parts.append(f"{len(single)} hold a single question, whose value is then 1 (e.g. {single[0]})")
    return [f"{len(derived)} exams use derived totals (the sum of their questions' points; median "
            f"{statistics.median(totals):g}, from {totals[0]:g} to {totals[-1]:g}) and look incomplete: "
            f"{'; '.join(parts)}. Give their known totals with --totals FILE (by exam id, paper or subject)"]
