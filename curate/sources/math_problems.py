"""MATH-style question sets (`curate collect PATH --format math`): problems graded by difficulty, not points.

The layout of Hendrycks et al.'s MATH: one JSON object per problem, `{"problem", "level": "Level 3",
"type": "Algebra", "solution": "... \\boxed{...}"}`, as one file per problem (`train/algebra/1.json`), a
JSON array, or JSON Lines (as the Hugging Face copies ship it). A row gets `question` (the problem),
`answer` (an `answer` field, else the last `\\boxed{}` of the solution), `difficulty` (the level as written),
`subject` (the type) and `solution`. Values then come from the levels:
`curate value --value-source difficulty --difficulty-map "Level 1=0.01,...,Level 5=0.08"`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.rlev.final import boxed
from curate.sources import register
from curate.sources.base import RawRow, SourceFormat, rejected
from curate.sources.files import load_json_file, read_jsonl
from curate.stage import Unit

_SUFFIXES = (".json", ".jsonl")


def math_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    """One unit per file; a folder gives its `*.json` and `*.jsonl` files."""
    files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES) if path.is_dir() else [path]
    return [Unit(key=f"{key}-{i:05d}", path=str(p), offset=0, length=None, extra={"first_line": 1})
            for i, p in enumerate(files)]


def _row(item: Any) -> dict[str, Any] | tuple[str, str]:
    """A question row from one problem, or (reason, message)."""
    if not isinstance(item, dict):
        return "not_an_object", f"expected a JSON object, got {type(item).__name__}"
    problem, solution = item.get("problem"), item.get("solution")
    if not isinstance(problem, str) or not problem.strip():
        return "missing_field", "missing problem"
    answer = item.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        boxes = boxed(solution) if isinstance(solution, str) else []
        if not boxes:
            return "no_answer", "no answer field and no \\boxed{} answer in the solution"
        answer = boxes[-1]
    return {"question": problem.strip(), "answer": answer.strip(), "difficulty": item.get("level"),
            "subject": item.get("type"), "question_type": "blank", "solution": solution}


def _items(unit: Unit, options: dict[str, Any]) -> Iterator[tuple[str, Any] | RawRow]:
    path = Path(unit.path)
    if path.suffix == ".jsonl":
        for row in read_jsonl(unit, options):
            yield row if row.raw is None else (row.location, row.raw)
        return
    document, failure = load_json_file(path)
    if failure:
        yield failure
        return
    for index, item in enumerate(document if isinstance(document, list) else [document]):
        yield f"{path.name}[{index}]" if isinstance(document, list) else path.name, item


def read_math(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    for found in _items(unit, options):
        if isinstance(found, RawRow):
            yield found
            continue
        location, item = found
        row = _row(item)
        if isinstance(row, tuple):
            yield rejected(location, row[0], row[1], json.dumps(item, ensure_ascii=False, default=str))
        else:
            yield RawRow(location=location, raw=row)


# No record kind: a `question` needs points, and these problems have none; their rows keep their own columns.
register(SourceFormat("math", read_math, math_units,
                      help="MATH-style problems (problem, level, type, solution with \\boxed{}): JSON or JSONL"))
