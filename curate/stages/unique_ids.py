"""Unique ids in a collected table, though its units run in parallel.

Each unit lists its kept rows' ids (with their location and content hash) beside its shard; once every
unit is done, the repeats are taken out of the shards. Of rows with the same id the first is kept (units in
order, rows in order); a later one with the same content is filtered as `duplicate_id`, one with other
content (a source that gave one id to two rows) is rejected as `id_conflict`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from curate.runner import FILTERED_SCHEMA, REJECT_SCHEMA
from curate.store.atomic import write_json, write_parquet

IDS_SCHEMA = pa.schema([("id", pa.string()), ("location", pa.string()), ("content", pa.string())])


def write_ids(workdir: Path, key: str, rows: list[tuple[str, str, str]]) -> None:
    """The (id, location, content hash) of a unit's kept rows, in the shard's order."""
    write_parquet(pa.Table.from_pylist([dict(zip(IDS_SCHEMA.names, row, strict=True)) for row in rows],
                                       schema=IDS_SCHEMA), workdir / "_work" / "ids" / f"{key}.parquet")


def drop_repeated_ids(workdir: Path, stage: str, output: str, run_id: str) -> None:
    """Take every repeated id out of the shards. Safe to run again after a kill: a shard's counts are
    recomputed from the unit's own, its extra rejected and filtered rows rewritten the same, and the shard,
    rewritten last, is recognised by its row count."""
    ids = workdir / "_work" / "ids"
    if not any(ids.glob("*.parquet")):
        return
    with duckdb.connect() as con:
        found = con.execute("""
            WITH rows AS (SELECT * FROM read_parquet(?, filename = true, file_row_number = true)),
            ranked AS (SELECT *, row_number() OVER (PARTITION BY id ORDER BY filename, file_row_number) AS nth
                       FROM rows WHERE id IN (SELECT id FROM rows GROUP BY id HAVING count(*) > 1))
            SELECT parse_filename(later.filename, true) AS key, later.file_row_number AS pos, later.id,
                   later.location, first.location AS first_location, later.content = first.content AS same
            FROM ranked later JOIN ranked first ON first.id = later.id AND first.nth = 1
            WHERE later.nth > 1 ORDER BY key, pos""", [str(ids / "*.parquet")])
        columns = [d[0] for d in found.description]
        repeats = [dict(zip(columns, row, strict=True)) for row in found.fetchall()]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for repeat in repeats:
        by_key.setdefault(repeat["key"], []).append(repeat)
    for key, dropped in by_key.items():
        _drop(workdir, key, dropped, {"table_name": output, "run_id": run_id, "stage": stage})


def _drop(workdir: Path, key: str, dropped: list[dict[str, Any]], run: dict[str, str]) -> None:
    same = [r for r in dropped if r["same"]]
    conflicts = [r for r in dropped if not r["same"]]
    name = f"part-{key}-ids.parquet"
    if same:
        write_parquet(pa.Table.from_pylist(
            [{**run, "row_id": r["id"], "reason": "duplicate_id",
              "detail": json.dumps({"location": r["location"], "kept": r["first_location"]})} for r in same],
            schema=FILTERED_SCHEMA), workdir / "_filtered" / name)
    if conflicts:
        write_parquet(pa.Table.from_pylist(
            [{**run, "row_id": r["id"], "reason": "id_conflict", "location": r["location"], "payload": None,
              "message": f"id {r['id']!r} is already used by different content at {r['first_location']} "
                         "(if the source's `id` is not a row id, rename it: --map id=NAME)"} for r in conflicts],
            schema=REJECT_SCHEMA), workdir / "_rejects" / name)
    done, before = workdir / "_done" / f"{key}.json", workdir / "_work" / "ids" / f"{key}.json"
    if not before.exists():  # the unit's own counts, kept once: a repeated pass starts from them again
        write_json(json.loads(done.read_text()), before)
    counts = json.loads(before.read_text())
    reasons = Counter(counts["reasons"]) + Counter("duplicate_id" if r["same"] else "id_conflict" for r in dropped)
    write_json({**counts, "kept": counts["kept"] - len(dropped), "filtered": counts["filtered"] + len(same),
                "rejected": counts["rejected"] + len(conflicts), "reasons": dict(reasons)}, done)
    part = workdir / f"part-{key}.parquet"
    rows = pq.read_metadata(workdir / "_work" / "ids" / f"{key}.parquet").num_rows
    if pq.read_metadata(part).num_rows == rows:  # not rewritten yet
        positions = {r["pos"] for r in dropped}
        write_parquet(pq.read_table(part).filter(pa.array([i not in positions for i in range(rows)])), part)
