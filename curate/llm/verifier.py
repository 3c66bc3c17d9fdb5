"""A generative verifier's score: rm_score = exp(l_YES) / (exp(l_YES) + exp(l_NO)) (SWE-RM).

l_YES and l_NO are the log-probabilities of the answers as the next tokens after the prompt; the softmax over
the two equals the one over their raw logits (the vocabulary's normaliser cancels). From a local model
they are exact. From an endpoint they come from `top_logprobs` of the first answer token: tokens that
spell the answer with or without surrounding spaces (" YES", "YES") are summed. When one answer is not
among the top k, its log-probability is at most the smallest one returned, so the score is a bound:
an upper bound when YES is missing, a lower bound when NO is, and unknown when both are.

A verifier trained to write something before its answer (SWE-Gym's `<judgement>YES</judgement>`) is read
at the answer's position: after the assistant turn is opened and that prefix written (`answer_prefix`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from curate.errors import CurateError
from curate.rewards.swe import yes_no_score

Bound = Literal["exact", "upper", "lower", "unknown"]


@dataclass(frozen=True)
class Verdict:
    score: float | None
    logit_yes: float | None
    logit_no: float | None
    bound: Bound


def exact(l_yes: float, l_no: float) -> Verdict:
    return Verdict(yes_no_score(l_yes, l_no), l_yes, l_no, "exact")


def from_top_logprobs(top: list[tuple[str, float]], yes: str, no: str) -> Verdict:
    """The score from the first answer token's top-k log-probabilities, bounded when one is missing."""
    l_yes, l_no = _spelled(top, yes), _spelled(top, no)
    if l_yes is not None and l_no is not None:
        return exact(l_yes, l_no)
    if l_yes is None and l_no is None:
        return Verdict(None, None, None, "unknown")
    floor = min(p for _, p in top)  # any token not listed is at most this likely
    if l_yes is None:
        return Verdict(yes_no_score(floor, l_no), floor, l_no, "upper")
    return Verdict(yes_no_score(l_yes, floor), l_yes, floor, "lower")


def _spelled(top: list[tuple[str, float]], word: str) -> float | None:
    """log of the summed probability of the tokens that spell `word` (spaces aside)."""
    found = [p for token, p in top if token.strip() == word.strip()]
    if not found:
        return None
    peak = max(found)
    return peak + math.log(sum(math.exp(p - peak) for p in found))


def answer_prefix(targets: Iterable[str], yes: str, no: str) -> str:
    """The text the training targets put before the answer: `<judgement>` for SWE-Gym's verifier, nothing
    for a bare YES / NO. Every target must agree, or the position to score at is unknown."""
    words = [w.strip() for w in (yes, no)]
    prefixes: set[str] = set()
    for target in targets:
        found = [i for i in (target.find(w) for w in words) if i >= 0]
        if not found:
            raise CurateError(f"the target {target[:80]!r} holds neither {yes!r} nor {no!r}",
                              "give --yes/--no as the targets write them, or say where the answer starts "
                              "with --assistant-prefix TEXT ('' for right after the prompt)")
        prefixes.add(target[:min(found)])
    if len(prefixes) > 1:
        shown = ", ".join(repr(p) for p in sorted(prefixes)[:3])
        raise CurateError(f"the targets write different text before the answer ({shown})",
                          "say where the answer starts with --assistant-prefix TEXT")
    return prefixes.pop() if prefixes else ""
