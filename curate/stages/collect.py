"""`collect`: read sources into a table, validating every row against its record kind.

Ids are unique in a collected table: a path given twice is read once, and repeated ids are taken out once
every unit is done (`curate.stages.unique_ids`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field, ValidationError

from curate.errors import CurateError
from curate.records import arrow_schema, build, content_hash, kind_model
from curate.sources import detect, expand, get_format
from curate.sources.base import RawRow
from curate.sources.files import MAX_ROW_BYTES
from curate.stage import Outcome, Params, Reject, Stage, Unit, cap_payload
from curate.stages.unique_ids import drop_repeated_ids, write_ids


class CollectParams(Params):
    paths: list[str] = Field(min_length=1, description="Files, folders or dataset names to read.")
    format: str = Field("auto", description="Source format; `auto` guesses from the file name.")
    kind: str | None = Field(None, description="Record kind to validate rows against (text, code, trajectory, question).")
    map: dict[str, str] = Field(default_factory=dict, description="Rename source fields: {source_name: our_name}.")
    source: str | None = Field(None, description="Value of the `source` column; the file name by default.")
    max_row_bytes: int = Field(MAX_ROW_BYTES, gt=0, description="Rows larger than this are rejected.")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of the source format.")


class Collect(Stage):
    name = "collect"
    Params = CollectParams
    parallel = True

    def __init__(self, params: CollectParams | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self.params: CollectParams
        if self.params.kind is not None:
            kind_model(self.params.kind)

    def _formats(self) -> list[tuple[Path, str]]:
        """Each source once (a path given twice, or a file also inside a given folder, is read once)."""
        pairs: dict[str, tuple[Path, str]] = {}
        for path in expand(self.params.paths, self.params.format):
            fmt = detect(path) if self.params.format == "auto" else self.params.format
            get_format(fmt)
            if fmt != "hf" and not path.exists():
                raise CurateError(f"no such file or folder: {path}", "check the path; folders are read recursively")
            if path.exists() and not (path.is_file() or path.is_dir() or path.is_fifo()):
                # a device such as /dev/zero would never end; a named pipe (`<(zcat …)`) ends with its writer
                raise CurateError(f"{path} is not a file, a folder or a named pipe", "give files or folders")
            if path.exists() and not os.access(path, os.R_OK):
                raise CurateError(f"cannot read {path}: permission denied", "check the file's permissions")
            pairs.setdefault(str(path.resolve()) if path.exists() else str(path), (path, fmt))
        return list(pairs.values())

    def inputs_key(self) -> list[Any]:
        """Sources by name, size and modification time: a changed file makes a fresh run. Option values that
        name files (a labels report, a tokenizer) count too."""
        key = []
        for path, fmt in self._formats():
            key.append([str(path.resolve()) if path.exists() else str(path), fmt, _stat(path)])
        for name, value in sorted(self.params.options.items()):
            if isinstance(value, str) and value and Path(value).exists():
                key.append([name, _stat(Path(value))])
        return key

    def options(self) -> dict[str, Any]:
        return {"max_row_bytes": self.params.max_row_bytes, "kind": self.params.kind, **self.params.options}

    def units(self, input_parts: list[Path]) -> list[Unit]:
        units = []
        for i, (path, fmt) in enumerate(self._formats()):
            for unit in get_format(fmt).units(path, f"{i:05d}", self.options()):
                units.append(Unit(key=unit.key, path=unit.path, offset=unit.offset, length=unit.length,
                                  extra={**unit.extra, "format": fmt}))
        return units

    def run_unit(self, unit: Unit) -> Outcome:
        fmt = unit.extra["format"]
        kind = self.params.kind or unit.extra.get("kind") or get_format(fmt).kind
        source = self.params.source or Path(unit.path).name
        rows: list[tuple[dict[str, Any], str, str]] = []  # (row, content hash, location)
        rejects: list[Reject] = []
        n_in = 0
        for item in get_format(fmt).read(unit, self.options()):
            n_in += 1
            row = item.reject or self._row(item, kind, source)
            if isinstance(row, Reject):
                rejects.append(row)
            else:
                rows.append((*row, item.location))
        table, kept = _table(rows, rejects, arrow_schema(kind_model(kind)) if kind else None)
        if self.workdir is not None:  # the ids beside the shard, for `finish`
            write_ids(self.workdir, unit.key, [(r[0]["id"], r[2], r[1]) for r in kept])
        return Outcome(kept=table, n_in=n_in, rejected=rejects)

    def _row(self, item: RawRow, kind: str | None, source: str) -> tuple[dict[str, Any], str] | Reject:
        """The row and the hash of its content (what its id is when the source gives none)."""
        raw = {self.params.map.get(k, k): v for k, v in item.raw.items()}
        if kind is None:
            raw.setdefault("source", source)
            content = content_hash({k: v for k, v in raw.items() if k not in ("id", "source")})
            raw["id"] = raw.get("id") or content
            return {"id": str(raw.pop("id")), "source": str(raw.pop("source")), **raw}, content
        try:
            record = build(kind_model(kind), raw, source)
        except ValidationError as err:
            return Reject(reason="schema_mismatch", message=_summarise(err), location=item.location,
                          row_id=raw.get("id"), payload=cap_payload(json.dumps(item.raw, ensure_ascii=False, default=str)))
        return record.model_dump(), record.content_id() if raw.get("id") else record.id

    def finish(self, output: str, run_id: str) -> None:
        drop_repeated_ids(self.workdir, self.name, output, run_id)

    def output_schema(self) -> pa.Schema | None:
        return arrow_schema(kind_model(self.params.kind)) if self.params.kind else None


def _stat(path: Path) -> list[tuple[str, int, int]]:
    return [(str(p.relative_to(path)) if p != path else p.name, p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted([path, *path.rglob("*")] if path.is_dir() else [path]) if p.is_file()]


def _summarise(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "row"
        parts.append(f"{where}: {e['msg']}")
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _table(rows: list[tuple[dict[str, Any], str, str]], rejects: list[Reject],
           schema: pa.Schema | None) -> tuple[pa.Table, list[tuple[dict[str, Any], str, str]]]:
    """The kept rows as a table, and those rows. Rows without a kind keep their own types, and one whose
    types clash with the rest is rejected; so is a typed row Arrow cannot hold (an integer past 64 bits)."""
    try:
        return pa.Table.from_pylist([r[0] for r in rows], schema=schema), rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    good: list[tuple[dict[str, Any], str, str]] = []
    unified = schema
    for entry in rows:
        row, _, location = entry
        try:
            candidate = pa.Table.from_pylist([row], schema=schema).schema
            if schema is None and unified is not None:
                candidate = pa.unify_schemas([unified, candidate], promote_options="default")
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
            fits = schema is None and not isinstance(err, OverflowError)
            what = "types differ from earlier rows" if fits else "a value does not fit its column"
            rejects.append(Reject(reason="type_conflict", message=f"{what}: {err}",
                                  row_id=row.get("id"), location=location,
                                  payload=cap_payload(json.dumps(row, ensure_ascii=False, default=str))))
            continue
        unified = candidate
        good.append(entry)
    if not good:
        return (schema or pa.schema([])).empty_table(), good
    return pa.Table.from_pylist([r[0] for r in good], schema=unified), good
