"""Reward-model metrics: ROC-AUC, ECE and RM@k, in closed form (no sampling, so the same inputs give the
same figures).

- AUC is the Mann–Whitney statistic: the chance that a random positive scores above a random negative,
  ties counting one half (as scikit-learn's `roc_auc_score`).
- ECE = Σ_bins |bin| / n · |resolve rate in bin − mean score in bin|, over equal-width bins on [0, 1]
  (the last bin includes 1.0), or equal-mass bins (scores sorted, cut into bins of equal count).
- RM@k, per instance: the expected resolve rate of the top-scored of k trajectories drawn without
  replacement from its n, averaged over instances. The trajectory at rank j (0-based) is the top of a
  random k-subset with probability C(n−1−j, k−1) / C(n, k). Ties in score are broken by `ties`:
  `smaller-id` (the default: the smaller id ranks higher), `larger-id`, `random` (a fixed random order
  from `seed`, the same whatever the row order), or `expected` (no order: the pick is uniform among the
  tied top, so a score level whose items are the top of the subset contributes its resolve rate, with
  probability [C(n−a, k) − C(n−a−g, k)] / C(n, k) for g tied items with a items above them). Ids compare
  as ids: runs of digits by their value ("9" before "10"), the rest as text.
  An instance with fewer than k trajectories is left out of RM@k (`under_k="leave-out"`, the default) or
  counted with all it has (`under_k="use-all"`: its pick is the top of all n); each point says how many
  instances it covers and how many of them had fewer than k.
  The reference lines: random pick = the mean resolve rate of the instance's trajectories (any k),
  oracle = 1 − C(negatives, k) / C(n, k) (some pick resolves).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from itertools import groupby
from math import comb

import numpy as np

from curate.errors import CurateError


def _arrays(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise CurateError("labels and scores must be two lists of the same length")
    if not np.isfinite(s).all():
        raise CurateError("scores hold NaN or infinite values", "score every trajectory with a finite number")
    return y, s


def roc_auc(labels, scores) -> float:
    y, s = _arrays(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        only = "resolved" if n_neg == 0 else "unresolved"
        raise CurateError(f"AUC is undefined: all {len(y)} trajectories are {only}",
                          "evaluate on a set with both resolved and unresolved trajectories")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=float)
    sorted_s = s[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class Bin:
    lower: float
    upper: float
    count: int
    mean_score: float | None
    resolve_rate: float | None


def calibration_bins(labels, scores, n_bins: int = 10, equal_mass: bool = False) -> list[Bin]:
    y, s = _arrays(labels, scores)
    if n_bins < 1:
        raise CurateError("the number of bins must be at least 1")
    if len(s) == 0:
        raise CurateError("no scored trajectories")
    if s.min() < 0 or s.max() > 1:
        raise CurateError(f"ECE needs probabilities in [0, 1]; scores run from {s.min():g} to {s.max():g}",
                          "turn logits into probabilities first (curate.rewards.swe.yes_no_score)")
    if equal_mass:
        order = np.argsort(s, kind="mergesort")
        groups = [g for g in np.array_split(order, n_bins) if len(g)]
        return [Bin(float(s[g].min()), float(s[g].max()), len(g), float(s[g].mean()), float(y[g].mean()))
                for g in groups]
    index = np.minimum((s * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        bins.append(Bin(b / n_bins, (b + 1) / n_bins, count, float(s[mask].mean()) if count else None,
                        float(y[mask].mean()) if count else None))
    return bins


def expected_calibration_error(labels, scores, n_bins: int = 10, equal_mass: bool = False) -> float:
    bins = calibration_bins(labels, scores, n_bins, equal_mass)
    total = sum(b.count for b in bins)
    return float(sum(b.count / total * abs(b.resolve_rate - b.mean_score) for b in bins if b.count))


TIES = ("smaller-id", "larger-id", "random", "expected")
UNDER_K = ("leave-out", "use-all")
Item = tuple[str, float, bool]  # (id, score, resolved)


@dataclass
class RmAtK:
    k: int
    instances: int  # instances counted at this k
    under_k: int  # of them, instances with fewer than k trajectories (counted with all they have)
    rm: float
    random: float
    oracle: float


def id_key(identifier: str) -> tuple:
    """Ids as ids: digit runs compare by value, so "9" < "10" and "t2" < "t10"."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", identifier) if part)


def check_rules(ties: str, under_k: str) -> None:
    if ties not in TIES:
        raise CurateError(f"unknown tie rule {ties!r}", f"--ties one of: {', '.join(TIES)}")
    if under_k not in UNDER_K:
        raise CurateError(f"unknown rule {under_k!r} for instances with fewer than k trajectories",
                          f"--under-k one of: {', '.join(UNDER_K)}")


def rm_at_k(groups: dict[str, list[Item]], ks: list[int] | None = None, ties: str = "smaller-id", seed: int = 0,
            under_k: str = "leave-out") -> list[RmAtK]:
    """RM@k for k = 1 … the largest group (or `ks`, none above it), from {instance: [(id, score, resolved)]}."""
    check_rules(ties, under_k)
    if not groups:
        raise CurateError("no scored trajectories")
    largest = max(len(g) for g in groups.values())
    results = []
    for k in ks or range(1, largest + 1):
        picks, randoms, oracles, short = [], [], [], 0
        for items in groups.values():
            n = len(items)
            if n < k and under_k == "leave-out":
                continue
            short += n < k
            drawn = min(k, n)
            picks.append(_pick_rate(items, drawn, ties, seed))
            randoms.append(sum(t[2] for t in items) / n)
            oracles.append(1 - comb(sum(not t[2] for t in items), drawn) / comb(n, drawn))
        results.append(RmAtK(k, len(picks), short, float(np.mean(picks)), float(np.mean(randoms)),
                             float(np.mean(oracles))))
    return results


def _pick_rate(items: list[Item], k: int, ties: str, seed: int) -> float:
    """The expected resolved flag of the top-scored trajectory of a random k-subset of `items`."""
    n, total = len(items), comb(len(items), k)
    if ties == "expected":
        rate, above = 0.0, 0
        for _, level in groupby(sorted(items, key=lambda t: -t[1]), key=lambda t: t[1]):
            tied = list(level)
            g = len(tied)
            rate += (comb(n - above, k) - comb(n - above - g, k)) / total * sum(t[2] for t in tied) / g
            above += g
        return rate
    return sum(comb(n - 1 - j, k - 1) for j, t in enumerate(_ranked(items, ties, seed)) if t[2]) / total


def _ranked(items: list[Item], ties: str, seed: int) -> list[Item]:
    """Highest score first; ties in the order `ties` names (sorting by it first, then stably by score)."""
    if ties == "random":  # a hash of (seed, id): the same order whatever the rows' order or the subset
        return sorted(sorted(items, key=lambda t: hashlib.sha256(f"{seed}:{t[0]}".encode()).digest()),
                      key=lambda t: -t[1])
    return sorted(sorted(items, key=lambda t: id_key(t[0]), reverse=ties == "larger-id"), key=lambda t: -t[1])
