"""DuckDB over a workspace: `snapshot` for curate's own readers, `refresh` for `catalog.duckdb`.

Curate never needs catalog.duckdb: its readers get an in-memory DuckDB whose views list the files of the
table versions they pinned, so neither a writer's commit nor a user's DuckDB session holding the catalog can
make them fail. The file is kept for people (the `duckdb` CLI, notebooks): writers refresh its views when
they can; when a DuckDB session holds it they say so and go on, and the next writer refreshes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING

import duckdb

from curate.errors import CurateError
from curate.store import runs
from curate.store.versions import Pins

if TYPE_CHECKING:
    from curate.store.workspace import Workspace

SIDE_VIEWS = (  # view, subfolder of each table, its columns (for the view when no table has any)
    ("rejects", "_rejects", ("table_name", "run_id", "stage", "row_id", "reason", "message", "location", "payload")),
    ("filtered", "_filtered", ("table_name", "run_id", "stage", "row_id", "reason", "detail")),
)
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.PRAGMA,
                   duckdb.StatementType.CALL, duckdb.StatementType.SET}
STORAGE_ERRORS = (duckdb.IOException, duckdb.TransactionException, OSError)  # a full disk, a read-only one
HOLDER_RE = re.compile(r"held in (.+?) \(PID (\d+)\)")


def snapshot(ws: Workspace, pins: Pins) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per table, `rejects`, `filtered` and `runs`, as they are now; the
    versions it reads stay pinned by `pins`."""
    con = duckdb.connect()
    con.execute(f"SET file_search_path = {_quote(str(ws.root))}")
    sides: dict[str, list[str]] = {view: [] for view, _, _ in SIDE_VIEWS}
    committed = {}
    for name in ws.table_names():
        version = pins.current(ws.tables_dir, name)
        if version is None:  # gone since it was listed
            continue
        parts = [str(p) for p in sorted(version.glob("part-*.parquet"))]
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {_parquet(parts)}')
        for view, sub, _ in SIDE_VIEWS:
            sides[view] += [str(p) for p in sorted(version.glob(f"{sub}/part-*.parquet"))]
        manifest = json.loads((version / "_manifest.json").read_text())
        if manifest.get("run_id"):
            committed[manifest["run_id"]] = manifest
    for view, _, columns in SIDE_VIEWS:
        body = f"SELECT * FROM {_parquet(sides[view])}" if sides[view] else _empty((c, "VARCHAR") for c in columns)
        con.execute(f"CREATE VIEW {view} AS {body}")
    files = [_quote(str(p)) for p in sorted(ws.runs_dir.glob("*.json"))]
    con.execute(f"CREATE TABLE runs AS {runs.read_sql('[' + ', '.join(files) + ']') if files else _empty(runs.COLUMNS)}")
    for run in runs.load(ws.runs_dir):  # as they ended, if a kill kept them from saying so
        change = runs.settle(run, committed)
        if change:
            con.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in change)} WHERE run_id = ?",
                        [*change.values(), run["run_id"]])
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """A snapshot is in memory, so DuckDB would let a query change it (or write files): allow only reads."""
    for statement in con.extract_statements(sql):
        if statement.type not in READ_STATEMENTS:
            raise CurateError(f"`curate sql` only reads; this is a {statement.type.name} statement",
                              "use SELECT, DESCRIBE, SUMMARIZE, SHOW or EXPLAIN; --format csv / json to save results")


def refresh(ws: Workspace) -> str | None:
    """Rebuild catalog.duckdb's views (relative paths: open it from inside the workspace); a note instead
    when that fails (another process holds the file, the disk is full)."""
    try:
        con = open_catalog(ws)
    except CurateError as err:
        return f"{err.message}: its views were not refreshed (the tables are written; `curate sql` sees them)"
    except STORAGE_ERRORS as err:
        return f"could not refresh {ws.catalog_path}: {str(err).splitlines()[0]}"
    try:
        _rebuild(ws, con)
        con.close()  # a checkpoint: it too may find the disk full
    except STORAGE_ERRORS as err:
        return f"could not refresh {ws.catalog_path}: {str(err).splitlines()[0]}"
    finally:
        with suppress(*STORAGE_ERRORS):
            con.close()
    return None


def _rebuild(ws: Workspace, con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET file_search_path = {_quote(str(ws.root))}")  # the views keep their relative paths
    _migrate_runs(ws, con)
    names = ws.table_names()
    existing = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'").fetchall()}
    for view in existing - set(names) - {"rejects", "filtered", "runs"}:
        con.execute(f'DROP VIEW "{view}"')
    for name in names:
        con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM {_parquet(f"tables/{name}/part-*.parquet")}')
    for view, sub, columns in SIDE_VIEWS:
        found = any(ws.tables_dir.glob(f"*/{sub}/part-*.parquet"))
        body = (f"SELECT * FROM {_parquet(f'tables/*/{sub}/part-*.parquet')}" if found
                else _empty((c, "VARCHAR") for c in columns))
        con.execute(f"CREATE OR REPLACE VIEW {view} AS {body}")
    body = runs.read_sql("'runs/*.json'") if any(ws.runs_dir.glob("*.json")) else _empty(runs.COLUMNS)
    con.execute(f"CREATE OR REPLACE VIEW runs AS {body}")


def open_catalog(ws: Workspace, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """catalog.duckdb itself; a clear error naming the process when a DuckDB session holds it."""
    try:
        return duckdb.connect(str(ws.catalog_path), read_only=read_only)
    except duckdb.IOException as err:
        holder = HOLDER_RE.search(str(err))
        if "lock" not in str(err).lower():
            raise
        who = f"{holder[1]} (pid {holder[2]})" if holder else "another process"
        raise CurateError(f"{ws.catalog_path} is held by {who}",
                          "close that DuckDB session, or open the catalog read-only "
                          "(`duckdb -readonly catalog.duckdb`, `duckdb.connect(..., read_only=True)`)") from None


def _migrate_runs(ws: Workspace, con: duckdb.DuckDBPyConnection) -> None:
    """Workspaces made before run records were files kept `runs` as a table in the catalog: move it out."""
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'runs' AND schema_name = 'main'").fetchall():
        return
    table = con.sql("SELECT * FROM runs").to_arrow_table()
    for row in table.to_pylist():
        if not (ws.runs_dir / f"{row['run_id']}.json").exists():
            row["params"] = json.loads(row["params"]) if row.get("params") else None
            runs.record(ws.runs_dir, row["run_id"], {k: v for k, v in row.items() if k != "run_id"})
    con.execute("DROP TABLE runs")


def _parquet(files: str | list[str]) -> str:
    source = _quote(files) if isinstance(files, str) else "[" + ", ".join(_quote(f) for f in files) + "]"
    return f"read_parquet({source}, union_by_name = true)"


def _empty(columns: Iterable[tuple[str, str]]) -> str:
    return "SELECT " + ", ".join(f"NULL::{kind} AS {name}" for name, kind in columns) + " WHERE false"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
