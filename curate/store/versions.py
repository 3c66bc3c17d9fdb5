"""Versioned table folders: the table NAME is a link `tables/NAME` → `tables/.NAME@RUN_ID/`.

Committing a table is one rename (a new link over the old one), so a reader finds the old rows or the new,
never a missing folder. Readers pin the version they read (a shared `flock` on its folder); an old version
is removed once nobody pins it, by the commit that replaced it or else by the next writer. A run killed
after moving its version into place but before swapping the link left a complete version (the
manifest is written before the move): the next writer finishes the swap. A version sits beside its link,
so a part's `resolve().parents[2]` is still the workspace.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
import weakref
from pathlib import Path


def version_folder(tables_dir: Path, name: str, run_id: str) -> Path:
    return tables_dir / f".{name}@{run_id}"


def _versions(tables_dir: Path, name: str | None = None) -> list[Path]:
    return sorted(tables_dir.glob(f".{name or '*'}@*")) if tables_dir.is_dir() else []


def _table(version: Path) -> str:
    return version.name[1:].split("@")[0]


def version_of(tables_dir: Path, name: str) -> Path | None:
    """The folder that holds table `name`'s rows now; None when there is no such table."""
    link = tables_dir / name
    try:
        return tables_dir / os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError:  # not a link: a table folder written before versions (or by hand)
        return link if link.is_dir() else None


def commit(tables_dir: Path, name: str, staging: Path, run_id: str) -> Path:
    """Make the finished folder `staging` table `name`'s current version; returns the version's folder."""
    version = version_folder(tables_dir, name, run_id)
    os.replace(staging, version)
    _point(tables_dir, name, version)
    return version


def _point(tables_dir: Path, name: str, version: Path) -> None:
    link = tables_dir / name
    if link.is_dir() and not link.is_symlink():  # a folder from before versions: it becomes a version
        os.replace(link, version_folder(tables_dir, name, uuid.uuid4().hex[:12]))
    tmp = tables_dir / f".{name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(version, tables_dir), tmp)
    os.replace(tmp, link)


def recover(tables_dir: Path) -> None:
    """Finish what killed writers left: swap to a complete version newer than the current one, remove
    temporary links and the versions nobody reads."""
    for tmp in tables_dir.glob(".*.link-*"):
        tmp.unlink(missing_ok=True)
    for version in sorted(_versions(tables_dir), key=_ended_at):
        name = _table(version)
        current = version_of(tables_dir, name)
        if current != version and (version / "_manifest.json").exists() and (
                current is None or _ended_at(version) > _ended_at(current)):
            _point(tables_dir, name, version)
    prune(tables_dir)


def prune(tables_dir: Path, name: str | None = None) -> None:
    """Remove the old versions of table `name` (of every table when None) that no reader pins."""
    for version in _versions(tables_dir, name):
        if version != version_of(tables_dir, _table(version)):
            _remove_unpinned(version)


def _remove_unpinned(version: Path) -> None:
    try:
        fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # a reader still reads it: a later writer removes it
        os.close(fd)
        return
    except OSError:  # a file system without locks: there are no pins to respect
        pass
    try:
        shutil.rmtree(version)
    finally:
        os.close(fd)


def _ended_at(version: Path) -> str:
    try:
        return json.loads((version / "_manifest.json").read_text()).get("ended_at") or ""
    except (OSError, ValueError):
        return ""


class Pins:
    """The versions a reader reads, each held with a shared lock until the reader goes away."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}
        self.close = weakref.finalize(self, _close_all, self._fds)  # at the latest when this object goes

    def current(self, tables_dir: Path, name: str) -> Path | None:
        """Table `name`'s current version, pinned: no writer removes it while this object lives."""
        while True:
            version = version_of(tables_dir, name)
            if version is None or version in self._fds or version == tables_dir / name:
                return version
            try:
                fd = os.open(version, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:  # replaced and removed since we looked: look again
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a writer is removing it
            except OSError:  # a file system without locks: read unpinned
                pass
            if version.is_dir():
                self._fds[version] = fd
                return version
            os.close(fd)

    def release(self, version: Path) -> None:
        fd = self._fds.pop(version, None)
        if fd is not None:
            os.close(fd)


def _close_all(fds: dict[Path, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()
