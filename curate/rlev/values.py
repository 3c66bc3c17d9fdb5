"""The RLEV formulas: value `v(x) = points / T_i` and reward scale `s(x) = 1 + min(alpha * v(x), 1)`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 10.0

# Weak labels when a bank has difficulty levels but no points: (1, 2, 4, 6, 8) / 100, as in the paper.
DIFFICULTY_VALUES: dict[str, float] = {"primary": 0.01, "junior": 0.02, "senior": 0.04, "university": 0.06,
                                       "phd": 0.08}


def value(points: float, total: float) -> float:
    return points / total


def scale(v: float, alpha: float = ALPHA) -> float:
    """The reward of a correct answer: 1 for a worthless question, up to 2 once `alpha * v` reaches 1."""
    return 1.0 + min(alpha * v, 1.0)


@dataclass(frozen=True)
class Distribution:
    n: int
    mean_value: float
    mean_scale: float
    share_above: float  # share of questions with v > 0.1

    def line(self) -> str:
        return (f"mean v {self.mean_value:.4f} · mean s {self.mean_scale:.3f} · "
                f"v > 0.1: {100 * self.share_above:.2f}% (of {self.n:,})")


# The paper's training data (100K exam questions): mean v 0.02, mean s ≈ 1.2, 1.18% with v > 0.1.
PAPER = Distribution(n=100_000, mean_value=0.02, mean_scale=1.2, share_above=0.0118)


def distribution(values: Sequence[float], scales: Sequence[float]) -> Distribution:
    kept = [(v, s) for v, s in zip(values, scales, strict=True) if v is not None and not math.isnan(v)]
    if not kept:
        return Distribution(0, math.nan, math.nan, math.nan)
    return Distribution(n=len(kept), mean_value=sum(v for v, _ in kept) / len(kept),
                        mean_scale=sum(s for _, s in kept) / len(kept),
                        share_above=sum(v > 0.1 for v, _ in kept) / len(kept))
