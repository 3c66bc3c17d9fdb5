"""Atomic file writes: write to a temporary name in the same folder, then rename into place.

A write that fails (a full disk) removes its temporary file, so the space it took is free again for the
error to be recorded; one killed midway leaves `.NAME.tmp-PID`, which the next run over that folder removes
(`remove_leftovers`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TMP_GLOB = ".*.tmp-*"


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _write(path: Path, write: Callable[[Path], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_parquet(table: pa.Table, path: Path) -> None:
    _write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_json(value: Any, path: Path) -> None:
    _write(path, lambda tmp: tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str)))


def write_bytes(data: bytes, path: Path) -> None:
    _write(path, lambda tmp: tmp.write_bytes(data))


def replace_folder(new: Path, target: Path, trash: Path) -> None:
    """Put folder `new` at `target`, moving an existing `target` aside to `trash` first (two renames: for
    folders outside the workspace's tables, which are versioned instead; see `curate.store.versions`)."""
    if target.exists():
        os.replace(target, trash)
        os.replace(new, target)
        shutil.rmtree(trash)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, target)


def remove_leftovers(paths: Iterable[Path]) -> None:
    """Remove what killed writers left: of `paths` (named `...-PID`), those whose process is gone (a live
    one may still be writing them)."""
    for path in list(paths):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and pid_alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Is process `pid` still running (on this machine)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
