"""AUC, ECE and RM@k against straightforward reference computations; the YES/NO score and hybrid reward."""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from curate.errors import CurateError
from curate.rewards.swe import hybrid_reward, yes_no_score
from curate.swe.metrics import calibration_bins, expected_calibration_error, rm_at_k, roc_auc


def reference_ece(y, s, n_bins):
    total, n = 0.0, len(s)
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i in range(n) if lo <= s[i] < hi or (b == n_bins - 1 and s[i] == 1.0)]
        if members:
            total += len(members) / n * abs(np.mean([y[i] for i in members]) - np.mean([s[i] for i in members]))
    return total


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_ece_match_references_on_random_scores(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.4
    s = np.clip(rng.normal(0.5 + 0.2 * y, 0.2), 0, 1)
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert expected_calibration_error(y, s, 10) == pytest.approx(reference_ece(y, s, 10), abs=1e-12)
    assert expected_calibration_error(y, s, 7) == pytest.approx(reference_ece(y, s, 7), abs=1e-12)


def test_adversarial_inputs_ties_and_edges():
    y = [True, False, True, False, True, False]
    tied = [0.5] * 6
    assert roc_auc(y, tied) == pytest.approx(roc_auc_score(y, tied)) == pytest.approx(0.5)
    coarse = [1.0, 1.0, 0.0, 0.0, 1.0, 0.3]  # ties across classes and scores on bin edges
    assert roc_auc(y, coarse) == pytest.approx(roc_auc_score(y, coarse))
    assert expected_calibration_error(y, coarse, 10) == pytest.approx(reference_ece(y, coarse, 10))
    assert roc_auc([False, True], [0.9, 0.1]) == 0.0  # perfectly wrong
    # equal-mass bins hold equal counts and the same total
    rng = np.random.default_rng(1)
    s = rng.random(100)
    y = rng.random(100) < s
    bins = calibration_bins(y, s, 4, equal_mass=True)
    assert [b.count for b in bins] == [25, 25, 25, 25]
    order = np.argsort(s)
    reference = sum(abs(y[g].mean() - s[g].mean()) * len(g) / 100 for g in np.array_split(order, 4))
    assert expected_calibration_error(y, s, 4, equal_mass=True) == pytest.approx(reference)


def test_one_class_and_bad_scores_are_clear_errors():
    with pytest.raises(CurateError, match="all 3 trajectories are resolved"):
        roc_auc([True, True, True], [0.1, 0.5, 0.9])
    with pytest.raises(CurateError, match="unresolved"):
        roc_auc([False, False], [0.1, 0.5])
    with pytest.raises(CurateError, match=r"probabilities in \[0, 1\]"):
        expected_calibration_error([True, False], [1.5, -2.0])
    with pytest.raises(CurateError, match="NaN"):
        roc_auc([True, False], [float("nan"), 0.2])


def brute_force_rm(items, k, ties="smaller-id", seed=0):
    """Average over every k-subset of the resolved flag of its top pick, ties broken by enumeration."""
    picks = []
    for sub in itertools.combinations(items, k):
        best = max(t[1] for t in sub)
        top = [t for t in sub if t[1] == best]
        if ties == "expected":
            picks.append(np.mean([t[2] for t in top]))
        elif ties == "random":
            picks.append(min(top, key=lambda t: hashlib.sha256(f"{seed}:{t[0]}".encode()).digest())[2])
        else:
            as_ids = sorted(top, key=lambda t: int(t[0][1:]))  # ids t<number>: compared by their number
            picks.append((as_ids[0] if ties == "smaller-id" else as_ids[-1])[2])
    return sum(picks) / len(picks)


@pytest.mark.parametrize("ties", ["smaller-id", "larger-id", "random", "expected"])
def test_rm_at_k_matches_enumeration_for_every_tie_rule(ties):
    rng = np.random.default_rng(3)
    groups = {}
    for g in range(6):
        n = int(rng.integers(3, 13))  # ids t2 … t12: "t10" sorts before "t9" as text, not as an id
        groups[f"inst{g}"] = [(f"t{i}", float(rng.choice([0.2, 0.5, 0.8])), bool(rng.random() < 0.5))
                              for i in range(n)]
    for point in rm_at_k(groups, ties=ties, seed=5):
        eligible = [items for items in groups.values() if len(items) >= point.k]
        assert point.instances == len(eligible) and point.under_k == 0
        assert point.rm == pytest.approx(np.mean([brute_force_rm(items, point.k, ties, 5) for items in eligible]))
        oracle = np.mean([np.mean([any(t[2] for t in sub) for sub in itertools.combinations(items, point.k)])
                          for items in eligible])
        assert point.oracle == pytest.approx(oracle)
        assert point.random == pytest.approx(np.mean([np.mean([t[2] for t in items]) for items in eligible]))


def test_tie_rules_ids_as_ids_and_instances_with_fewer_than_k():
    tied = {"i": [("9", 0.7, True), ("10", 0.7, False)]}
    assert rm_at_k(tied, [1])[0].rm == 0.5  # k=1: a random one of the two
    assert rm_at_k(tied, [2], ties="smaller-id")[0].rm == 1.0  # "9" < "10" as ids
    assert rm_at_k(tied, [2], ties="larger-id")[0].rm == 0.0
    assert rm_at_k(tied, [2], ties="expected")[0].rm == 0.5
    shuffled = {"i": list(reversed(tied["i"]))}  # a random order is fixed by the seed, not by the rows' order
    assert rm_at_k(tied, [2], ties="random", seed=1)[0].rm == rm_at_k(shuffled, [2], ties="random", seed=1)[0].rm
    assert {rm_at_k(tied, [2], ties="random", seed=s)[0].rm for s in range(20)} == {0.0, 1.0}
    groups = {"big": [("a", 0.9, False), ("b", 0.1, True), ("c", 0.5, True)], "small": [("d", 0.2, True)]}
    left_out = rm_at_k(groups, [3])[0]
    assert (left_out.instances, left_out.under_k, left_out.rm) == (1, 0, 0.0)
    used = rm_at_k(groups, [3], under_k="use-all")[0]
    assert (used.instances, used.under_k, used.rm, used.oracle) == (2, 1, 0.5, 1.0)
    with pytest.raises(CurateError, match="unknown tie rule"):
        rm_at_k(groups, ties="first")


def test_yes_no_score_and_hybrid_reward():
    assert yes_no_score(2.0, 0.5) == pytest.approx(math.exp(2.0) / (math.exp(2.0) + math.exp(0.5)))
    assert yes_no_score(1000.0, -1000.0) == 1.0 and yes_no_score(-1000.0, 1000.0) == 0.0  # no overflow
    np.testing.assert_allclose(yes_no_score(np.array([0.0, 1.0]), np.array([0.0, 0.0])), [0.5, math.e / (math.e + 1)])
    assert hybrid_reward(0.7, resolved=True, finished=True) == pytest.approx(1.7)
    assert hybrid_reward(0.7, resolved=False, finished=False) == pytest.approx(0.2)
    assert hybrid_reward(0.7, resolved=False, finished=True) == pytest.approx(0.7)
    np.testing.assert_allclose(hybrid_reward(np.array([0.1, 0.2]), np.array([True, False]), np.array([True, False])),
                               [1.1, -0.3])
    with pytest.raises(ValueError):
        hybrid_reward(1.5, True, True)


def test_evaluate_rm_from_a_score_column_and_from_scores(tmp_path):
    import polars as pl

    from curate.swe.evaluate import evaluate_rm

    frame = pl.DataFrame({"id": ["a", "b", "c", "d", "e"], "instance_id": ["i1", "i1", "i2", "i2", "i2"],
                          "resolved": [True, False, False, True, False], "rm": [0.9, 0.2, 0.6, 0.4, None]})
    report = evaluate_rm(frame, "t", tmp_path / "col", score_column="rm", bins=5)
    assert (report.n_scored, report.n_unscored) == (4, 1)
    assert report.auc == pytest.approx(roc_auc_score([True, False, False, True], [0.9, 0.2, 0.6, 0.4]))
    assert report.rm_at_k[1] == {"k": 2, "instances": 2, "under_k": 0, "rm": 0.5, "random": 0.5, "oracle": 1.0}
    scores = pl.DataFrame({"id": ["a", "b", "c", "d", "zz"], "score": [0.9, 0.2, 0.6, 0.4, 0.5]})
    from_file = evaluate_rm(frame, "t", tmp_path / "file", scores=scores)
    assert from_file.auc == report.auc and from_file.n_unknown_scores == 1
    assert (tmp_path / "file" / "reliability.png").exists() and (tmp_path / "file" / "metrics.json").exists()
    with pytest.raises(CurateError, match="not boolean"):
        evaluate_rm(frame.with_columns(pl.col("resolved").cast(pl.Int64)), "t", tmp_path, score_column="rm")
