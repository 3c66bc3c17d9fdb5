"""Benchmark figures over a judged table, computed exactly as the benchmarks' own scripts compute them.

OpenDesign (pages, `opendesign`): the static means (total and each dimension) leave out judge failures
(`judge_error`: an unparseable answer, ...) and zero totals; good rate = share of those with total ≥ 75.
With `structure_quirk`, the structure mean divides by (pages − judge failures) without leaving the zero
totals out, as the published script does (for comparing with published tables). InterAes = the mean over
every page of its summed 0/1 interaction scores (NaN skipped); a page that failed to run or to be explored
counts as [0].

PandasPlotBench (plots, `pandasplotbench`), per score (`task`, `visual` from an LLM judge; `total`): a
missing score is filled with 0 and stays in every denominator; mean and median reported as integers
(truncated, as `int(np.mean(...))`), good = share ≥ 75 and bad = share ≤ 25 rounded to 2 places;
error rate = items whose execution error is non-empty / all items, rounded to 3 places. `average` is the
mean of the task and visual means (how AesCoder reports a single PandasPlotBench number).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

GOOD, BAD = 75.0, 25.0


def _round(value: Any, places: int = 4) -> Any:
    return None if value is None else round(float(value), places)


def opendesign(frame: pl.DataFrame, structure_quirk: bool = False) -> dict[str, Any]:
    pages = frame.filter(pl.col("language") == "html")
    failures = pages.filter(pl.col("judge_error").is_not_null() | pl.col("score_total").is_null())
    judged = pages.filter(pl.col("judge_error").is_null() & pl.col("score_total").is_not_null()
                          & (pl.col("score_total") > 0))
    figures: dict[str, Any] = {"pages": pages.height, "included": judged.height, "judge_failures": failures.height,
                               "zero_totals": pages.filter(pl.col("score_total") == 0).height}
    for column, key in (("score_total", "mean_total"), ("score_alignment", "mean_alignment"),
                        ("score_aesthetics", "mean_aesthetics"), ("score_structure", "mean_structure")):
        figures[key] = _round(judged[column].mean()) if judged.height else None
    if structure_quirk:
        denominator = pages.height - failures.height
        figures["mean_structure"] = _round(judged["score_structure"].sum() / denominator) if denominator else None
        figures["structure_quirk"] = True
    figures["good_rate"] = _round((judged["score_total"] >= GOOD).mean()) if judged.height else None
    figures["inter_aes"] = inter_aes(pages)
    return figures


def inter_aes(pages: pl.DataFrame) -> float | None:
    """Mean over all pages of the summed interaction scores; None when no page was explored."""
    if "inter_scores" not in pages.columns or pages["inter_scores"].is_null().all():
        return None
    sums = [sum(s for s in (scores or []) if s is not None and not math.isnan(s)) for scores in pages["inter_scores"].to_list()]
    return _round(sum(sums) / len(sums))


def score_stats(scores: list[float | None]) -> dict[str, Any]:
    """PandasPlotBench's statistics of one score: missing → 0, kept in every denominator."""
    filled = [0.0 if s is None or math.isnan(s) else float(s) for s in scores]
    n = len(filled)
    ordered = sorted(filled)
    median = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    return {"mean": int(sum(filled) / n), "median": int(median), "good": round(sum(s >= GOOD for s in filled) / n, 2),
            "bad": round(sum(s <= BAD for s in filled) / n, 2), "min": int(min(filled)), "max": int(max(filled)),
            "items": n, "missing": sum(1 for s in scores if s is None or math.isnan(s))}


def pandasplotbench(frame: pl.DataFrame) -> dict[str, Any]:
    plots = frame.filter(pl.col("language") == "python")
    figures: dict[str, Any] = {"plots": plots.height}
    if not plots.height:
        return figures
    errors = plots["exec_error"] if "exec_error" in plots.columns else None
    failed = sum(1 for e, ok in zip(errors if errors is not None else [None] * plots.height, plots["exec_ok"],
                                    strict=True) if (e or "") != "" or ok is False)
    figures["error_rate"] = round(failed / plots.height, 3)
    scores = {"total": "score_total", "task": "score_task", "visual": "score_visual"}
    figures["scores"] = {name: score_stats(plots[column].to_list()) for name, column in scores.items()
                         if column in plots.columns and plots[column].is_not_null().any()}
    means = [figures["scores"][k]["mean"] for k in ("task", "visual") if k in figures["scores"]]
    figures["average"] = sum(means) / len(means) if len(means) == 2 else None
    return figures


def histogram(frame: pl.DataFrame, out: Path, title: str) -> Path:
    """Histograms of score_total for pages and plots, side by side, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(label, frame.filter((pl.col("language") == lang) & pl.col("score_total").is_not_null())["score_total"])
              for label, lang in (("pages (OpenDesign rubric)", "html"), ("plots (PandasPlotBench)", "python"))]
    groups = [(label, s) for label, s in groups if s.len()] or [("all rows", frame["score_total"].drop_nulls())]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4), squeeze=False)
    for ax, (label, scores) in zip(axes[0], groups, strict=True):
        ax.hist(scores.to_list(), bins=range(0, 105, 5), color="#4C72B0", edgecolor="white")
        ax.axvline(GOOD, color="#55A868", linestyle="--", label=f"good ≥ {GOOD:g}")
        ax.axvline(BAD, color="#C44E52", linestyle=":", label=f"bad ≤ {BAD:g}")
        ax.set_title(f"{label}: n = {scores.len()}")
        ax.set_xlabel("score_total")
        ax.set_ylabel("rows")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
