"""GAOKAO-Bench question files (`curate collect FILE --format gaokao`).

A file is `{"keywords": "2010-2022_Math_I_MCQs", "example": [item, ...]}` with one subject per file; an
item has `year`, `category` (the paper variant), `question`, `answer`, `analysis`, `index` and `score`.
Objective items answer with a list of letters, one per answer slot, and `score` is per slot, so an item
is worth `len(answer) * score`; subjective items answer with text and `score` is the whole item's.

The exam is (year, variant, paper) — `curate.rlev.papers`: every file of one paper lands in one exam (the
Chinese files form the Chinese paper; physics, chemistry and biology form 理科综合 on the national papers),
and `exam_total` is the paper's known total where the table of papers knows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.rlev.papers import DEFAULT_TOTALS, Variant, exam_key, paper_of, read_variant, subject_in
from curate.sources import register
from curate.sources.base import RawRow, SourceFormat, rejected
from curate.sources.files import load_json_file
from curate.stage import Unit, cap_payload

_YEARS = re.compile(r"^\d{4}(?:-\d{4})?年?_?")
# File-name endings that name the question type, not the subject (for subjects the table does not know).
_TYPE_SUFFIXES = ("_MCQs", "_Fill-in-the-Blank", "_Fill_in_Blanks", "_Open-ended_Questions", "_Cloze_Test",
                  "_Reading_Comp", "_Language_Cloze_Passage")
# Banks whose text answers fill blanks (one exact answer per blank), not open questions.
_BLANK_BANKS = re.compile(r"blank|cloze_passage|dictation|填空|默写", re.I)


def subject_of(keywords: str) -> str:
    """`2010-2022_Math_I_MCQs` → `Math_I`, `2010-2022_Chinese_Modern_Lit` → `Chinese`, `理数选择题` → `Math_I`."""
    known = subject_in(keywords)
    if known:
        return known
    name = _YEARS.sub("", keywords.strip())
    for suffix in _TYPE_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _letters(slot: Any) -> str:
    return "".join(ch for ch in str(slot).upper() if ch.isalpha())


def _objective(answer: list[Any]) -> tuple[str, str] | str:
    """(answer text, question type) of a list answer, or why it cannot be read."""
    slots = [_letters(s) for s in answer]
    if not slots or any(not s for s in slots):
        return "an objective answer needs a letter in every slot"
    if len(slots) > 1:
        return ",".join(slots), "choice_slots"
    return slots[0], "multi_choice" if len(slots[0]) > 1 else "single_choice"


def _item(item: Any, subject: str, keywords: str) -> dict[str, Any] | tuple[str, str]:
    """A raw question row from one item (exam not placed yet), or (reason, message)."""
    if not isinstance(item, dict):
        return "not_an_object", f"expected a JSON object, got {type(item).__name__}"
    missing = [k for k in ("year", "category", "question", "answer", "score") if item.get(k) in (None, "", [])]
    if missing:
        return "missing_field", f"missing {', '.join(missing)}"
    score = item["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or score <= 0:
        return "bad_score", f"score must be a positive number, got {score!r}"
    answer = item["answer"]
    if isinstance(answer, list):
        read = _objective(answer)
        if isinstance(read, str):
            return "bad_answer", read
        text, qtype = read
        points = len(answer) * score
    elif isinstance(answer, str):
        text, points = answer.strip(), score
        qtype = "blank" if _BLANK_BANKS.search(keywords) else "open"
    else:
        return "bad_answer", f"answer must be a list of letters or a text, got {type(answer).__name__}"
    try:
        year = int(str(item["year"]).strip())
    except ValueError:
        return "bad_year", f"year {item['year']!r} is not a number"
    return {"question": str(item["question"]).strip(), "answer": text, "points": float(points), "subject": subject,
            "year": year, "question_type": qtype, "category": item.get("category"), "score_per_slot": score,
            "analysis": item.get("analysis"), "index": item.get("index"), "bank": keywords}


def _place(row: dict[str, Any], variant: Variant, guessed: bool) -> dict[str, Any]:
    """Add the exam: variant, paper, `exam_id` and the paper's known total."""
    paper = paper_of(row["subject"], variant, row["year"])
    total = DEFAULT_TOTALS.get(paper)
    return {**row, "variant": variant.name, "paper": paper, "exam_id": exam_key(row["year"], variant.name, paper),
            **({"exam_total": float(total)} if total else {}), **({"variant_guessed": True} if guessed else {})}


def gaokao_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    """One unit per file; a folder gives its `*.json` files."""
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return [Unit(key=f"{key}-{i:05d}", path=str(p)) for i, p in enumerate(files)]


def read_gaokao(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    path = Path(unit.path)
    document, failure = load_json_file(path)
    if failure:
        yield failure
        return
    if not isinstance(document, dict) or not isinstance(document.get("example"), list):
        yield rejected(path.name, "not_gaokao", "expected an object with an `example` list (GAOKAO-Bench layout)",
                       cap_payload(json.dumps(document, ensure_ascii=False)))
        return
    keywords = str(document.get("keywords") or path.stem)
    subject = options.get("subject") or subject_of(keywords)
    previous: tuple[int, Variant] | None = None  # a garbled category takes the variant of the item before it
    for index, item in enumerate(document["example"]):
        location = f"{path.name}[{index}]"
        row = _item(item, subject, keywords)
        if isinstance(row, tuple):
            yield rejected(location, row[0], row[1], json.dumps(item, ensure_ascii=False, default=str))
            continue
        variant = read_variant(row["category"], row["year"])
        guessed = variant.name is None and previous is not None and previous[0] == row["year"]
        if guessed:
            variant = Variant(previous[1].name, variant.track or previous[1].track)
        previous = (row["year"], variant)
        yield RawRow(location=location, raw=_place(row, variant, guessed))


register(SourceFormat("gaokao", read_gaokao, gaokao_units, kind="question",
                      help="GAOKAO-Bench JSON files or folders; -o subject=NAME overrides the subject"))
