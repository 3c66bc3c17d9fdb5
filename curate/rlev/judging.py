"""Deciding answers: the rules first, then an LLM judge for what the rules cannot decide.

The same path serves `curate eval value --judge-model` and the `value` training reward: the judge is asked
only about undecided answers (never choices), its answers are cached in the workspace and its requests
capped by `LLMConfig.max_requests`; a failed or unaffordable request leaves the answer undecided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from curate.llm import LLMClient
from curate.rlev.answers import JUDGE, UNDECIDED, Verdict, candidate_answer, check_response
from curate.rlev.llm import Pair, judge_equivalence
from curate.rlev.quantities import REL_TOL


@dataclass(frozen=True)
class Answer:
    response: str
    reference: str
    question_type: str | None = None
    question: str = ""


@dataclass
class Judged:
    verdicts: list[Verdict]
    asked: int = 0  # undecided answers sent to the judge
    failed: int = 0  # of those, requests that failed (the answer stays undecided)


def decide(answers: Sequence[Answer], judge: LLMClient | None = None, *, rel_tol: float = REL_TOL) -> Judged:
    verdicts = [check_response(a.response, a.reference, a.question_type, rel_tol=rel_tol) for a in answers]
    todo = [i for i, v in enumerate(verdicts) if v.check == UNDECIDED]
    if judge is None or not todo:
        return Judged(verdicts)
    pairs = [Pair(answers[i].question, answers[i].reference, candidate_answer(answers[i].response, answers[i].reference))
             for i in todo]
    failed = 0
    for i, result in zip(todo, judge_equivalence(judge, pairs), strict=True):
        if result.ok:
            verdicts[i] = Verdict(bool(result.value), JUDGE)
        else:
            failed += 1
    return Judged(verdicts, asked=len(todo), failed=failed)
