"""Is a model's answer right, wrong, or beyond what the rules can tell?

`check_response(response, reference, question_type)` returns a `Verdict`: `correct` True or False with
`check = "rules"` when the rules can compare the two with confidence, and `correct = None` with
`check = "undecided"` when they cannot (a paraphrase of a text answer, a reference whose conclusion is
prose or a proof, an answer in words against a formula). Never "wrong" for what it cannot read: an
undecided answer goes to an LLM judge where one is configured (`curate.rlev.judging`), which then gives
`check = "judge"`.

The final answers are taken from both sides (`curate.rlev.final`: `\\boxed{}`, `故…`, `答案为…`, one per
part of a multi-part answer) and compared part by part, each with the first rule that can read both:
- choices (`curate.rlev.choices`); alternatives in the reference (`3/10 ## 0.3`, `which/that`); statement
  labels (`(1)(2)(3)(5)`); lists in any order (`1 和 3`, `A、B`; against `…或…`, one of several items is
  undecided: alternatives or an incomplete solution set);
- inequalities and intervals (`x>2` = `(2,+\\infty)`), tuples and sets, equations (`3x-y=0` = `y=3x`),
  numbers with units, expressions through sympy (`\\frac{2}{4}` = `0.5`, `2\\sqrt{2}` = `\\sqrt 8`);
- assignment forms: against a value, `y=2x` counts as `2x` and a chain `S_5=…=\\frac{121}{3}` by its last
  term; a reference `y=2x` accepts `2x`;
- words (Chinese or English): equal after folding width, case, spaces and punctuation; different words
  are wrong for a fill-in-the-blank (`question_type = "blank"`), undecided otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curate.rlev.choices import choice_letters, is_choice, same_choice
from curate.rlev.final import extract_answer, label_set, reference_answers, response_answers
from curate.rlev.maths import named_value, same_elements, same_equation, same_intervals, same_math
from curate.rlev.quantities import REL_TOL, same_quantity
from curate.rlev.text import fold, is_wordy, normalise_text, split_top, squash

RULES, JUDGE, UNDECIDED = "rules", "judge", "undecided"
_LIST_SEPARATORS = ["、", "和", "及", "以及", "与"]
_OR = ["或者", "或", " or "]

__all__ = ["JUDGE", "RULES", "UNDECIDED", "Verdict", "candidate_answer", "check_response", "extract_answer",
           "is_choice", "reference_check"]


@dataclass(frozen=True)
class Verdict:
    correct: bool | None  # None: not decided
    check: str  # rules | judge | undecided


def _combine(verdicts: list[bool | None]) -> bool | None:
    """All parts right: right; any part wrong: wrong; else undecided."""
    if any(v is False for v in verdicts):
        return False
    return True if verdicts and all(v is True for v in verdicts) else None


def _items(prediction: str, items: list[str], closed: bool, rel_tol: float, partial_undecided: bool) -> bool | None:
    """A prediction against a list of reference items, in any order."""
    got = [g for g in split_top(fold(prediction), [*_LIST_SEPARATORS, *_OR, ",", "，", ";", "；"]) if g]
    remaining, verdicts = list(items), []
    for item in got:
        found = [(r, _same(item, r, closed, rel_tol)) for r in remaining]
        match = next((r for r, v in found if v is True), None)
        if match is not None:
            remaining.remove(match)
            verdicts.append(True)
        else:
            verdicts.append(False if all(v is False for _, v in found) else None)
    if any(v is False for v in verdicts) or (not partial_undecided and remaining and None not in verdicts):
        return False
    if not remaining and all(v is True for v in verdicts):
        return True
    return None


def _alternatives(prediction: str, alternatives: list[str], closed: bool, rel_tol: float) -> bool | None:
    verdicts = [_same(prediction, a, closed, rel_tol) for a in alternatives]
    if any(v is True for v in verdicts):
        return True
    return False if all(v is False for v in verdicts) else None


def _same(prediction: str, reference: str, closed: bool, rel_tol: float = REL_TOL) -> bool | None:
    """One final answer against one reference answer."""
    pred, ref = fold(prediction), fold(reference)
    if not ref:
        return None
    if not pred:
        return False
    if squash(pred) == squash(ref):
        return True
    alternatives = split_top(ref, "##")
    if len(alternatives) > 1:  # "3/10 ## 0.3": either; a prediction giving both must be right in each
        return _combine([_alternatives(p, alternatives, closed, rel_tol) for p in split_top(pred, "##")])
    labels = label_set(ref)
    if labels is not None:
        got = label_set(pred) or re.findall(r"\d{1,2}", pred)
        return sorted(got) == sorted(labels) if got else None
    if not (is_wordy(pred) or is_wordy(ref)):  # "one half" is not the product o·n·e·h·a·l·f
        for rule in (same_intervals, same_elements, same_equation, same_quantity, same_math):
            verdict = rule(pred, ref, rel_tol)
            if verdict is not None:
                return verdict
    for separators, partial_undecided in ((_OR, True), (_LIST_SEPARATORS, False)):
        items = split_top(ref, separators)
        if len(items) > 1:
            return _items(pred, items, closed, rel_tol, partial_undecided)
    value_ref, value_pred = named_value(ref), named_value(pred)
    if value_ref and (value_pred or "=" not in pred):
        return _same(value_pred or pred, value_ref, closed, rel_tol)
    if value_pred and "=" not in ref:
        return _same(value_pred, ref, closed, rel_tol)
    if re.fullmatch(r"[A-H]{1,4}", ref):  # a letter answer inside an open question: "（1）C"
        got = choice_letters(pred)
        return None if got is None else got == frozenset(ref)
    return _words(pred, ref, closed)


def _words(pred: str, ref: str, closed: bool) -> bool | None:
    if not (is_wordy(ref) and is_wordy(pred)):
        return None  # words against maths, or maths the rules cannot read
    options = [o for o in ref.split("/") if o.strip()] if re.fullmatch(r"[A-Za-z /']+", ref) else [ref]
    if any(normalise_text(pred) == normalise_text(o) for o in options):
        return True
    return False if closed else None


def check_response(response: str, reference: str, question_type: str | None = None, *,
                   rel_tol: float = REL_TOL) -> Verdict:
    """Is the response's final answer (or are its answers, part by part) the reference's?"""
    response, reference = str(response or ""), str(reference or "")
    if is_choice(reference, question_type):
        candidate = extract_answer(response)
        if choice_letters(candidate) is None and "\n" not in response.strip() and len(fold(response)) <= 40:
            candidate = response  # "B. $[0,2]$": the letter, then the option's text
        return Verdict(same_choice(candidate, reference, question_type), RULES)
    if not response.strip():
        return Verdict(False, RULES)
    wanted = reference_answers(reference)
    if not wanted or any(w is None for w in wanted):
        return Verdict(None, UNDECIDED)
    got = response_answers(response, len(wanted))
    if got is None:
        return Verdict(None, UNDECIDED)
    closed = question_type == "blank"
    verdict = _combine([_same(g, w, closed, rel_tol) for g, w in zip(got, wanted, strict=True)])
    return Verdict(verdict, UNDECIDED if verdict is None else RULES)


def reference_check(reference: str, question_type: str | None = None) -> str:
    """`rules` when the rules can read the reference's final answer(s), `undecided` when they cannot (prose,
    proofs): answers to it then need a judge."""
    if is_choice(str(reference), question_type):
        return RULES
    wanted = reference_answers(str(reference or ""))
    return RULES if wanted and all(w is not None for w in wanted) else UNDECIDED


def candidate_answer(response: str, reference: str) -> str:
    """The final answer(s) of a response as a judge should see them: one per part of the reference."""
    wanted = reference_answers(str(reference or ""))
    got = response_answers(str(response or ""), len(wanted) or 1) if wanted else None
    return "; ".join(got) if got else extract_answer(str(response or ""))
