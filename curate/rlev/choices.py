"""Multiple-choice answers: `B`, `b`, `(B)`, `B.`, `B. $[0,2]$` name option B; `BC` = `C, B` = `B和C`;
`choice_slots` answers (`A,C,B`, one group per answer slot) compare slot by slot."""

from __future__ import annotations

import re

from curate.rlev.text import fold

CHOICE_TYPES = {"single_choice", "multi_choice", "choice_slots"}
_LETTER_GROUP = re.compile(r"[\s(\[]*([A-Ha-h](?:[\s,;、和与&]*[A-Ha-h])*)[\s)\].。]*")
_OPTION_START = re.compile(r"\s*\(?([A-H])[).:、]")
_PREFIX = re.compile(r"^(?:答案|故选|应选|选项?|answer|option)\s*(?:is|为|是)?\s*[:：]?\s*", re.I)


def is_choice(reference: str, question_type: str | None = None) -> bool:
    if question_type is not None:
        return question_type in CHOICE_TYPES
    return re.fullmatch(r"[A-H]+(?:,[A-H]+)*", reference.strip()) is not None


def choice_letters(text: str) -> frozenset[str] | None:
    """The set of option letters an answer names, or None when it names none clearly."""
    plain = _PREFIX.sub("", fold(text))
    whole = _LETTER_GROUP.fullmatch(plain)
    if whole:
        return frozenset(ch for ch in whole.group(1).upper() if "A" <= ch <= "H")
    start = _OPTION_START.match(plain)  # "B. $[0,2]$": the letter, then the option's text
    if start:
        return frozenset(start.group(1))
    groups = set(re.findall(r"(?<![A-Za-z])([A-H]{1,8})(?![A-Za-z])", plain))
    return frozenset(next(iter(groups))) if len(groups) == 1 else None


def same_choice(prediction: str, reference: str, question_type: str | None) -> bool:
    """An answer that names no option clearly is wrong: a choice question asks for a letter."""
    if question_type == "choice_slots" or "," in reference:
        wanted = [frozenset(s.strip().upper()) for s in reference.split(",")]
        tokens = re.split(r"[\s,;、，；]+", fold(prediction).upper())
        parts = [p for p in tokens if p and not re.fullmatch(r"\(?\d{1,2}[.)、]?", p)]  # "1. C 2. D": numbering
        if len(parts) == 1 and len(parts[0]) == len(wanted) and all(len(w) == 1 for w in wanted):
            parts = list(parts[0])  # "ACB" for three one-letter slots
        return len(parts) == len(wanted) and all(choice_letters(p) == w for p, w in zip(parts, wanted, strict=True))
    got = choice_letters(prediction)
    return got is not None and got == choice_letters(reference)
