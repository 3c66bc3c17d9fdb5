"""Evaluate a reward model's scores on a labelled trajectory table: AUC, ECE, RM@k, and the two figures."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import CurateError, unknown
from curate.swe.metrics import calibration_bins, check_rules, expected_calibration_error, rm_at_k, roc_auc
from curate.swe.plots import reliability_diagram, rm_curve


@dataclass
class RmReport:
    table: str
    n_scored: int
    n_unscored: int
    n_unknown_scores: int
    auc: float
    ece: float
    bins: int
    equal_mass: bool
    ties: str
    seed: int
    under_k: str
    rm_at_k: list[dict[str, Any]]
    calibration: list[dict[str, Any]]
    figures: dict[str, str] = field(default_factory=dict)


def read_scores(path: Path) -> pl.DataFrame:
    """`id` and `score` from a JSONL or CSV file."""
    if not path.is_file():
        raise CurateError(f"no such scores file: {path}", "give a JSONL or CSV file with id and score")
    rows: list[dict[str, Any]] = []
    try:
        if path.suffix == ".csv":
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, csv.Error, UnicodeDecodeError) as err:
        raise CurateError(f"cannot read scores {path}: {err}", "write one JSON object per line, or CSV") from None
    try:
        frame = pl.DataFrame([{"id": str(r["id"]), "score": float(r["score"])} for r in rows],
                             schema={"id": pl.String, "score": pl.Float64})
    except (KeyError, TypeError, ValueError) as err:
        raise CurateError(f"scores {path}: every row needs an id and a numeric score ({err})") from None
    duplicated = frame.filter(pl.col("id").is_duplicated())["id"].unique().to_list()
    if duplicated:
        raise CurateError(f"scores {path}: {len(duplicated)} ids appear twice, e.g. {duplicated[0]!r}")
    return frame


def evaluate_rm(frame: pl.DataFrame, table: str, out: Path, *, scores: pl.DataFrame | None = None,
                score_column: str | None = None, label: str = "resolved", group: str = "instance_id",
                bins: int = 10, equal_mass: bool = False, ties: str = "smaller-id", seed: int = 0,
                under_k: str = "leave-out") -> RmReport:
    check_rules(ties, under_k)
    for column in (label, group, "id"):
        if column not in frame.columns:
            raise unknown(f"column of {table!r}", column, frame.columns)
    if frame.schema[label] != pl.Boolean:
        raise CurateError(f"label column {label!r} is {frame.schema[label]}, not boolean",
                          "evaluate against a true/false label such as resolved")
    if (scores is None) == (score_column is None):
        raise CurateError("give the scores either as a file (--scores) or as a column (--score-column)")
    n_unknown = 0
    if scores is not None:
        n_unknown = scores.join(frame.select("id"), on="id", how="anti").height
        frame = frame.drop("score", strict=False).join(scores, on="id", how="left")
        score_column = "score"
    elif score_column not in frame.columns:
        raise unknown(f"score column of {table!r}", score_column, frame.columns)
    scored = frame.filter(pl.col(score_column).is_not_null() & pl.col(label).is_not_null())
    labels, values = scored[label].to_list(), scored[score_column].cast(pl.Float64).to_list()
    auc = roc_auc(labels, values)
    calibration = calibration_bins(labels, values, bins, equal_mass)
    ece = expected_calibration_error(labels, values, bins, equal_mass)
    groups: dict[str, list[tuple[str, float, bool]]] = {}
    for row in scored.select("id", group, score_column, label).iter_rows():
        groups.setdefault(str(row[1]), []).append((str(row[0]), float(row[2]), bool(row[3])))
    curve = rm_at_k(groups, ties=ties, seed=seed, under_k=under_k)
    out.mkdir(parents=True, exist_ok=True)
    report = RmReport(table, scored.height, frame.height - scored.height, n_unknown, auc, ece, bins, equal_mass,
                      ties, seed, under_k, [asdict(p) for p in curve], [asdict(b) for b in calibration])
    report.figures = {
        "reliability": str(reliability_diagram(calibration, ece, out / "reliability.png", table)),
        "rm_at_k": str(rm_curve(curve, out / "rm_at_k.png", table)),
    }
    (out / "metrics.json").write_text(json.dumps(asdict(report), indent=2))
    return report
