"""`curate eval aesthetics` computes the figures as the benchmarks' own scripts do: OpenDesign's static
means and InterAes, its structure-denominator quirk on request, PandasPlotBench's per-score statistics."""

from __future__ import annotations

import math

import polars as pl
import pytest

from curate.judges.aggregate import opendesign, pandasplotbench, score_stats

NULL = None


def pages(rows: list[tuple]) -> pl.DataFrame:
    """(alignment, aesthetics, structure, total, judge_error, inter_scores) per page."""
    return pl.DataFrame({
        "language": ["html"] * len(rows),
        "score_alignment": [r[0] for r in rows], "score_aesthetics": [r[1] for r in rows],
        "score_structure": [r[2] for r in rows], "score_total": [r[3] for r in rows],
        "judge_error": [r[4] for r in rows], "inter_scores": [r[5] for r in rows],
    }, schema_overrides={"inter_scores": pl.List(pl.Float64), "judge_error": pl.String})


def test_aescoder_worked_numbers():
    """AesCoder-4B on OpenDesign: 30.42 + 26.19 + 25.31 = 81.92. Judge failures and zero totals are left
    out of every static mean (here one of each); the total's mean is the sum of the dimensions' means."""
    frame = pages([(32.0, 27.0, 26.0, 85.0, NULL, [1.0, 1.0, 0.0]),
                   (28.84, 25.38, 24.62, 78.84, NULL, [1.0, float("nan"), 0.0]),
                   (NULL, NULL, NULL, NULL, "unparseable answer: no JSON object", [0.0]),
                   (0.0, 0.0, 0.0, 0.0, NULL, NULL)])  # a page that failed to run: explored nothing
    figures = opendesign(frame)
    assert (figures["mean_alignment"], figures["mean_aesthetics"], figures["mean_structure"]) == (30.42, 26.19, 25.31)
    assert figures["mean_total"] == pytest.approx(81.92) == pytest.approx(30.42 + 26.19 + 25.31)
    assert (figures["included"], figures["judge_failures"], figures["zero_totals"]) == (2, 1, 1)
    assert figures["good_rate"] == 1.0
    # InterAes: mean over every page of its summed 0/1 scores; NaN skipped; no exploration counts [0]
    assert figures["inter_aes"] == pytest.approx((2 + 1 + 0 + 0) / 4)
    # the published script's structure mean: (N − judge failures) in the denominator, zero totals kept
    quirk = opendesign(frame, structure_quirk=True)
    assert quirk["mean_structure"] == pytest.approx((26.0 + 24.62) / 3, abs=1e-4)
    assert quirk["mean_total"] == figures["mean_total"]


def test_pandasplotbench_fills_missing_scores_with_zero_and_keeps_them():
    stats = score_stats([100.0, 80.0, 50.0, 20.0, NULL])  # the last: the judge's answer never parsed
    assert stats == {"mean": 50, "median": 50, "good": 0.4, "bad": 0.4, "min": 0, "max": 100, "items": 5,
                     "missing": 1}
    assert score_stats([99.0, 98.0])["mean"] == 98  # int(np.mean): truncated, as the benchmark reports it
    frame = pl.DataFrame({"language": ["python"] * 4, "exec_ok": [True, True, False, True],
                          "exec_error": [None, "", "KeyError: 'x'", None],
                          "score_total": [80.0, 60.0, 0.0, NULL], "score_task": [90.0, 70.0, 0.0, NULL],
                          "score_visual": [70.0, 50.0, 0.0, 40.0], "judge_error": [None] * 4})
    figures = pandasplotbench(frame)
    assert figures["error_rate"] == 0.25  # over all items
    assert figures["scores"]["task"]["mean"] == 40 and figures["scores"]["task"]["missing"] == 1
    assert figures["scores"]["visual"]["mean"] == 40
    assert figures["average"] == 40
    assert not math.isnan(figures["scores"]["total"]["mean"])
