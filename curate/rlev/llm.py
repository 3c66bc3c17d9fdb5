"""The two model calls of RLEV: predicting a question's points, and judging two answers equivalent.

Both go through `curate.llm` (the real `openai` client: bounded concurrency, retries, a cache in the
workspace, a request budget), so a re-run pays only for what is not cached yet.

The value predictor's default prompt is the paper's (Table 7): that system prompt, the question as the
user turn, and a bare number as the answer, out of the exam's total (100 where it is unknown).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from curate.errors import CurateError
from curate.llm import LLMClient, LLMConfig, ParseError, Request, ResponseCache, Result, parse_json_object

DEFAULT_TOTAL = 100.0  # the paper asks for a score out of 100 when the exam's total is unknown

# RLEV, Table 7: the value predictor's system prompt; the user turn is the question.
VALUE_PROMPT = ("You are a scoring assistant. Given a question and its answer, output a numeric score greater "
                "than 0 and up to {total_score} inclusive (decimals allowed, e.g. 0.5) that reflects how much "
                "this problem would contribute in a {total_score}-point exam. Respond with only the score, no "
                "other text.")
# The same prompt asking for JSON instead of a bare number (`reply="json"`).
VALUE_PROMPT_JSON = VALUE_PROMPT.replace("Respond with only the score, no other text.",
                                         'Respond with only a JSON object {{"score": <number>}}, no other text.')
Reply = Literal["number", "json"]

EQUIVALENCE_PROMPT = """Question:
{question}

Reference answer: {reference}
Candidate's final answer: {candidate}

Does the candidate's final answer mean the same as the reference answer (same value, same option, same
set of items, possibly written differently)? Judge only the final answer, not any working.
Answer with a JSON object {{"equivalent": true}} or {{"equivalent": false}}."""

_BARE = re.compile(r"(?:score\s*[:：=]?\s*)?([-+]?\d+(?:\.\d+)?)\s*(?:points?|pts|分)?\s*(?:/\s*\d+(?:\.\d+)?)?\s*\.?",
                   re.I)


def client(config: LLMConfig, cache_dir: Path | None) -> LLMClient:
    return LLMClient(config, cache=ResponseCache(cache_dir) if cache_dir is not None else None)


def check_prompt(template: str) -> str:
    """A value prompt may use `{total_score}` and nothing else: say so before any request is paid for."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise CurateError(f"the value prompt is not a valid template: {err}",
                          "write {total_score} for the total; double other braces: {{ }}") from None
    unknown = names - {"total_score"}
    if unknown:
        raise CurateError(f"the value prompt uses {', '.join(sorted(unknown))}, which is not given",
                          "the prompt may use {total_score}; the question is the user turn")
    return template


def parse_score(text: str, total: float, reply: Reply = "number") -> float:
    """The score of an answer: a bare number (`7`, `7.5 points`, `Score: 7`), or JSON `{"score": N}`."""
    if reply == "json":
        try:
            score = float(parse_json_object(text, ["score"])["score"])
        except (TypeError, ValueError):
            raise ParseError("score is not a number") from None
    else:
        cleaned = text.strip().strip("*`\"' ")
        match = _BARE.fullmatch(cleaned)
        numbers = re.findall(r"[-+]?\d+(?:\.\d+)?", cleaned)
        if match:
            score = float(match.group(1))
        elif len(numbers) == 1:
            score = float(numbers[0])
        else:
            raise ParseError("answer with the score alone: one number, no other text")
    if not 0 < score <= total:
        raise ParseError(f"score {score:g} is outside (0, {total:g}]")
    return score


def value_request(question: str, total: float, prompt: str = VALUE_PROMPT, reply: Reply = "number") -> Request:
    system = prompt.format(total_score=f"{total:g}")
    return Request(judge="rlev_value", messages=[{"role": "system", "content": system},
                                                 {"role": "user", "content": question}],
                   parse=lambda text: parse_score(text, total, reply))


def predict_points(llm: LLMClient, questions: Sequence[str], totals: Sequence[float], prompt: str | None = None,
                   reply: Reply = "number") -> list[Result]:
    """A predicted score in (0, total] per question; `Result.error` says why one failed."""
    prompt = prompt or (VALUE_PROMPT_JSON if reply == "json" else VALUE_PROMPT)
    return llm.run([value_request(q, t, prompt, reply) for q, t in zip(questions, totals, strict=True)])


def _equivalent(text: str) -> bool:
    value = parse_json_object(text, ["equivalent"])["equivalent"]
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "yes", "1"):
        return True
    if str(value).strip().lower() in ("false", "no", "0"):
        return False
    raise ParseError("equivalent must be true or false")


@dataclass(frozen=True)
class Pair:
    """One answer for the judge: the question, the reference and the candidate's final answer."""

    question: str
    reference: str
    candidate: str


def judge_equivalence(llm: LLMClient, pairs: Sequence[Pair]) -> list[Result]:
    """Per pair: `value` True when the model judges the candidate's answer equivalent to the reference."""
    requests = [Request(judge="rlev_equivalence",
                        messages=[{"role": "user", "content": EQUIVALENCE_PROMPT.format(
                            question=p.question, reference=p.reference, candidate=p.candidate)}],
                        parse=_equivalent)
                for p in pairs]
    return llm.run(requests)
