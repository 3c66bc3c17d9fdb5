from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.store import Workspace

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def ws(tmp_path: Path):
    """A fresh workspace; afterwards, every table in it must account for every input row."""
    space = Workspace(tmp_path / "workspace")
    yield space
    for name in space.table_names():
        counts = space.manifest(name)["counts"]
        assert counts["in"] == counts["kept"] + counts["filtered"] + counts["rejected"], (name, counts)


def put_table(ws: Workspace, name: str, table) -> None:
    """Write `table` (Arrow or Polars) straight into `ws` as a source table, for tests of later stages."""
    import json

    from curate.store.atomic import write_parquet

    table = table.to_arrow() if hasattr(table, "to_arrow") else table
    write_parquet(table, ws.table_dir(name) / "part-00000-00000.parquet")
    counts = {"in": table.num_rows, "kept": table.num_rows, "filtered": 0, "rejected": 0}
    (ws.table_dir(name) / "_manifest.json").write_text(
        json.dumps({"stage": "test", "fingerprint": f"test-{name}", "counts": counts}))


def run_cli(*args: str, workspace: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run `curate ARGS` as a user would, in a subprocess, with this checkout's code. `timeout` only guards
    against a hang: on a loaded machine a whole recipe takes minutes."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    if workspace is not None:
        full_env["CURATE_WORKSPACE"] = str(workspace)
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
