"""The `runs` lineage: one JSON file per run in `workspace/runs/`, replaced atomically at each change.

Files rather than rows of catalog.duckdb, so that recording a run never waits for a DuckDB lock (a user's
notebook may hold the catalog) and readers see the lineage without opening the catalog.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from curate.store.atomic import write_bytes

COLUMNS = (
    ("run_id", "VARCHAR"), ("stage", "VARCHAR"), ("inputs", "VARCHAR[]"), ("output", "VARCHAR"),
    ("params", "JSON"), ("fingerprint", "VARCHAR"), ("recipe_hash", "VARCHAR"), ("version", "VARCHAR"),
    ("n_in", "BIGINT"), ("n_kept", "BIGINT"), ("n_filtered", "BIGINT"), ("n_rejected", "BIGINT"),
    ("started_at", "TIMESTAMP"), ("ended_at", "TIMESTAMP"), ("status", "VARCHAR"), ("message", "VARCHAR"),
)
KILLED = "killed before it finished"
SLACK = 4096  # blank bytes after each record: room for its final update (status, end, message) on a full disk


def record(folder: Path, run_id: str, fields: dict[str, Any]) -> None:
    """Create or update run `run_id`'s record with `fields` (the columns above)."""
    path = folder / f"{run_id}.json"
    current = _load(path) or {"run_id": run_id}
    current.update(fields, owner=process_token(os.getpid()))  # alive owner: the run is still going
    text = json.dumps(current, indent=2, sort_keys=True, default=str).encode()
    data = text.ljust(len(text) + SLACK)  # JSON allows trailing blanks
    try:
        write_bytes(data, path)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not _overwrite(path, text):
            raise


def _overwrite(path: Path, text: bytes) -> bool:
    """Rewrite a record in the room its earlier version holds: on a full disk, the last word on a run (that it
    failed, and why) still gets written. Not atomic, which only a full disk justifies."""
    try:
        with open(path, "r+b") as handle:
            size = os.fstat(handle.fileno()).st_size
            if len(text) > size:
                return False
            handle.write(text.ljust(size))
            handle.flush()
            os.fsync(handle.fileno())
        return True
    except OSError:
        return False


def load(folder: Path) -> list[dict[str, Any]]:
    return [r for r in (_load(p) for p in sorted(folder.glob("*.json"))) if r]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def close(folder: Path, committed: dict[str, dict[str, Any]]) -> None:
    """Write down how the runs that a kill left open ended (see `settle`)."""
    for run in load(folder):
        change = settle(run, committed)
        if change:
            record(folder, run["run_id"], change)


def settle(run: dict[str, Any], committed: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """How an open run really ended: `done` when its table was committed (`committed` maps run ids to the
    manifests of the tables as they are), `interrupted` once its process is gone; None when it is as recorded."""
    if run["run_id"] in committed and run.get("status") != "done":
        return done_fields(committed[run["run_id"]])
    if run.get("status") == "running" and not token_alive(run.get("owner")):
        return {"status": "interrupted", "message": KILLED}
    return None


def done_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """A run's record once its table is committed, from the table's manifest."""
    counts = manifest.get("counts", {})
    return {"status": "done", "ended_at": manifest.get("ended_at"), "n_in": counts.get("in"),
            "n_kept": counts.get("kept"), "n_filtered": counts.get("filtered"), "n_rejected": counts.get("rejected")}


def process_token(pid: int) -> str:
    """`PID:START`: the start time tells a process from a later one that got the same pid (after a reboot)."""
    try:
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "?"
    return f"{pid}:{start}"


def token_alive(token: str | None) -> bool:
    if not token:
        return False
    pid = int(token.split(":")[0])
    return pid > 0 and process_token(pid) == token


def read_sql(source: str) -> str:
    """DuckDB SQL reading run records: `source` is a quoted glob or a list of quoted paths."""
    columns = ", ".join(f"{name}: '{kind}'" for name, kind in COLUMNS)
    return f"SELECT * FROM read_json({source}, columns = {{{columns}}})"
