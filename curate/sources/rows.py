"""One record per row (`curate collect FILE --format rows`): JSONL, CSV or Parquet, as questions or trajectories.

- questions: `question`, `answer`, `points`, `exam_id` and optionally `exam_total`, `difficulty`, `subject`,
  `year`; a list answer (one entry per answer slot) becomes text;
- trajectories: `instance_id`, `model` (or `policy`), `messages` (or `text`), `patch`, and a label
  (`resolved` or `label`), normalised as the trajectory formats are (`curate.sources.trajectories`).

The kind is `--kind` if given, else read off the first row: a row with `instance_id` is a trajectory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.sources import register
from curate.sources.base import RawRow, SourceFormat
from curate.sources.files import jsonl_units, parquet_units, read_csv, read_jsonl, read_parquet
from curate.sources.trajectories import finish, parse_row
from curate.stage import Unit


def _kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz").removesuffix(".zst").removesuffix(".zstd")
    for suffix, kind in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(suffix):
            return kind
    raise CurateError(f"--format rows reads .jsonl, .csv or .parquet files, not {path.name}",
                      "convert the file, or use --format gaokao for GAOKAO-Bench JSON")


_READERS = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet}


def rows_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    kind = _kind(path)
    if kind == "jsonl":
        units = jsonl_units(path, key, options)
    elif kind == "parquet":
        units = parquet_units(path, key, options)
    else:
        units = [Unit(key=f"{key}-00000", path=str(path))]
    record_kind = options.get("kind") or _record_kind(units[0], options)
    return [Unit(key=u.key, path=u.path, offset=u.offset, length=u.length, extra={**u.extra, "kind": record_kind})
            for u in units]


def _record_kind(unit: Unit, options: dict[str, Any]) -> str:
    first = next((row.raw for row in _READERS[_kind(Path(unit.path))](unit, options) if row.raw), {})
    return "trajectory" if "instance_id" in first else "question"


def read_rows(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    trajectory = unit.extra.get("kind") == "trajectory"
    for row in _READERS[_kind(Path(unit.path))](unit, options):
        if row.raw is None:
            yield row
        elif trajectory:
            yield finish(lambda r=row.raw: parse_row(r, Path(unit.path)), row.location, options)
        else:
            answer = row.raw.get("answer")
            if isinstance(answer, list) and answer and all(isinstance(a, str) for a in answer):
                row.raw["answer"] = answer[0] if len(answer) == 1 else ",".join(answer)
            yield row


register(SourceFormat("rows", read_rows, rows_units,
                      help="one question or trajectory per row (JSONL, CSV, Parquet); the kind from --kind or the fields"))
