"""A workspace: a folder of Parquet tables, with `catalog.duckdb` for people who want DuckDB views of it.

Layout::

    workspace/
      catalog.duckdb            views over the tables, `runs`, `rejects`, `filtered` (for the duckdb CLI, notebooks)
      tables/<name>             the table: a link to its current version folder, which holds
        part-*.parquet                    kept rows
        _rejects/part-*.parquet           rows that failed, with reason and payload
        _filtered/part-*.parquet          rows a rule removed, with the rule
        _manifest.json                    stage, parameters, fingerprint and counts of the run
      tables/.<name>@<run_id>/  the versions (an old one goes once nobody reads it)
      tables/.staging/<name>/   a stage in progress (resumed shard by shard)
      runs/<run_id>.json        the lineage, one file per run
      artifacts/<hash>.png      images and screenshots, by content hash

The Parquet files and run records are the truth. Curate's readers never open catalog.duckdb (they build
their views in memory from the files), so neither a running writer nor a user's DuckDB session can make
them fail; writers refresh the catalog's views when they can. The views use paths relative to the
workspace: open the catalog from inside the folder (`cd workspace && duckdb -readonly catalog.duckdb`), or
set DuckDB's `file_search_path` to it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from curate.errors import CurateError, os_fault, unknown
from curate.store import catalog, runs, versions
from curate.store.atomic import TMP_GLOB, remove_leftovers

CATALOG = "catalog.duckdb"
RESERVED = {"runs", "rejects", "filtered", "tables"}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    bytes: int
    stage: str
    run_id: str
    created: str


def check_table_name(name: str) -> str:
    if not NAME_RE.match(name) or name.lower() in RESERVED:
        raise CurateError(
            f"invalid table name {name!r}",
            "use letters, digits and underscores, starting with a letter; "
            f"not one of {', '.join(sorted(RESERVED))}",
        )
    return name


class Workspace:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.tables_dir = self.root / "tables"
        self.staging_dir = self.tables_dir / ".staging"
        self.runs_dir = self.root / "runs"
        self.artifacts_dir = self.root / "artifacts"
        self.catalog_path = self.root / CATALOG
        self._lock_depth = 0
        self._pins = versions.Pins()
        self._noted: set[str] = set()

    # ----- tables -------------------------------------------------------------------------------
    def table_dir(self, name: str) -> Path:
        """Where table `name` is read (a link to its current version)."""
        return self.tables_dir / name

    def table_names(self) -> list[str]:
        if not self.tables_dir.exists():
            return []
        return sorted(p.name for p in self.tables_dir.iterdir()
                      if not p.name.startswith(".") and (p / "_manifest.json").exists())

    def require(self, name: str) -> str:
        if name not in self.table_names():
            raise unknown("table", name, self.table_names())
        return name

    def manifest(self, name: str) -> dict[str, Any] | None:
        path = self.table_dir(name) / "_manifest.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def version(self, name: str) -> Path:
        """The folder of table `name`'s current version, pinned: no writer removes it while this object lives
        (a long-lived reader that wants to free old versions makes a new Workspace)."""
        version = self._pins.current(self.tables_dir, self.require(name))
        if version is None:
            raise unknown("table", name, self.table_names())
        return version

    def parts(self, name: str) -> list[Path]:
        return sorted(self.version(name).glob("part-*.parquet"))

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.parts(name), missing_columns="insert")

    def read(self, name: str) -> pl.DataFrame:
        return self.scan(name).collect()

    def columns(self, name: str) -> list[str]:
        return list(pq.read_schema(self.parts(name)[0]).names)

    def info(self, name: str) -> TableInfo:
        parts = self.parts(name)
        manifest = json.loads((parts[0].parent / "_manifest.json").read_text())  # of the version we count
        return TableInfo(
            name=name,
            rows=sum(pq.ParquetFile(p).metadata.num_rows for p in parts),
            bytes=sum(p.stat().st_size for p in parts),
            stage=manifest.get("stage", "?"),
            run_id=manifest.get("run_id", "?"),
            created=manifest.get("ended_at", "?"),
        )

    def commit(self, staging: Path, name: str, run_id: str) -> None:
        """Make the finished folder `staging` table `name`, in one rename; the old version goes if unread."""
        old = versions.version_of(self.tables_dir, name)
        versions.commit(self.tables_dir, name, staging, run_id)
        if old is not None:
            self._pins.release(old)  # this writer is done reading it
        versions.prune(self.tables_dir, name)

    def artifact_path(self, digest: str, suffix: str = ".png") -> Path:
        return self.artifacts_dir / digest[:2] / f"{digest}{suffix}"

    # ----- the writer lock, lineage and the catalog ----------------------------------------------
    @contextmanager
    def writer(self, wait: float | None = None) -> Iterator[Workspace]:
        """Hold the workspace's writer lock: one writing command at a time, the others wait."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        wait = float(os.environ.get("CURATE_LOCK_WAIT", "30")) if wait is None else wait
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".lock", "a+")
        except OSError as err:
            raise os_fault(err, self.root) or err from None
        with handle:
            self._lock(handle, wait)
            self._lock_depth = 1
            try:
                try:
                    self.sync()
                except OSError as err:
                    raise os_fault(err, self.root) or err from None
                yield self
            finally:
                self._lock_depth = 0
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _lock(self, handle: Any, wait: float) -> None:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise CurateError(
                        f"workspace {self.root} is busy: {holder} is writing to it",
                        "wait for it to finish, or raise CURATE_LOCK_WAIT (seconds to wait)",
                    ) from None
                if not told:
                    self.note(f"waiting for {holder}, which is writing to {self.root} (up to {wait:.0f} s)")
                    told = True
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """DuckDB over the workspace. Read-only: an in-memory snapshot of the tables, `runs`, `rejects` and
        `filtered` as they are now, which nothing can lock. Otherwise catalog.duckdb itself."""
        if read_only and not (self.tables_dir.exists() or self.runs_dir.exists()):
            raise CurateError(f"no workspace at {self.root}",
                              "run `curate collect` first, or point --workspace / CURATE_WORKSPACE at one")
        if not read_only:
            self.root.mkdir(parents=True, exist_ok=True)
        pins = versions.Pins()  # held while the connection is open
        con = catalog.snapshot(self, pins) if read_only else catalog.open_catalog(self)
        try:
            yield con
        finally:
            con.close()
            pins.close()

    def sync(self) -> None:
        """Finish what killed writers left (a version not yet swapped in, runs still `running`, temporary
        files), then refresh catalog.duckdb's views."""
        versions.recover(self.tables_dir)
        for trash in self.staging_dir.glob(".trash-*"):  # left by versions of curate before versioned tables
            shutil.rmtree(trash, ignore_errors=True)
        remove_leftovers(self.runs_dir.glob(TMP_GLOB))
        committed = {m["run_id"]: m for m in map(self.manifest, self.table_names()) if m and m.get("run_id")}
        runs.close(self.runs_dir, committed)
        self.refresh_catalog()

    def refresh_catalog(self) -> None:
        note = catalog.refresh(self)
        if note:
            self.note(note)

    def note(self, text: str) -> None:
        """Tell the user something once (on stderr): a fact about the workspace, not an error."""
        if text not in self._noted:
            self._noted.add(text)
            print(f"note: {text}", file=sys.stderr)

    def record_run(self, **fields: Any) -> None:
        """Create or update a run's lineage record (`run_id` plus any columns of `runs`)."""
        runs.record(self.runs_dir, fields.pop("run_id"), fields)

    def runs(self) -> pl.DataFrame:
        if not (self.tables_dir.exists() or self.runs_dir.exists()):
            return pl.DataFrame()
        with self.connect(read_only=True) as con:
            return pl.from_arrow(con.sql("SELECT * FROM runs ORDER BY started_at").to_arrow_table())


def open_workspace(path: str | Path | None = None) -> Workspace:
    """The workspace at `path`, else $CURATE_WORKSPACE, else ./workspace."""
    return Workspace(Path(path or os.environ.get("CURATE_WORKSPACE") or "workspace"))
