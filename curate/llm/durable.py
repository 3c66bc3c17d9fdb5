"""Append-only segment files: every record is on disk (written, flushed, fsynced) before `append` returns.

A folder holds one segment per process (`<prefix>-<pid>-<random>.jsonl`), so processes never write to the
same file and need no lock. A line is `KEY<TAB>JSON` and is written with one `write` call; a kill in the
middle of one leaves a last line without its newline, which readers skip (a torn tail), so a reader sees
exactly the records whose append returned, plus perhaps some that were still being synced.

`append_async` commits in groups: the records appended while a sync is running go to disk together with
one fsync (in a thread, so the event loop goes on), and each caller resumes only once its own record is
durable.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.errors import CurateError


class SegmentLog:
    def __init__(self, folder: Path, prefix: str = "seg"):
        self.folder = folder
        self.prefix = prefix
        self._handle: Any = None
        self._pid = 0
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None  # held: a task nobody references may be collected
        self._lock = threading.Lock()

    # ----- writing ------------------------------------------------------------------------------------
    def append(self, key: str, record: dict[str, Any]) -> tuple[Path, int]:
        """Write one record durably; returns its segment and the offset of its line."""
        return self._write([_line(key, record)])[0]

    async def append_async(self, key: str, record: dict[str, Any]) -> None:
        """Like `append`, but concurrent callers share one fsync, run off the event loop (which goes on
        receiving answers meanwhile); returns once the record is durable."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((_line(key, record), done))
        if not self._flushing:
            self._flushing = True
            self._flusher = loop.create_task(self._flush_pending())
        await done

    async def _flush_pending(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:  # what arrived during a sync goes in the next one
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(None, self._write, [line for line, _ in batch])
                except (OSError, CurateError) as err:  # every waiter learns it; none counts its answer as kept
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(err)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._flushing = False

    def _write(self, lines: list[bytes]) -> list[tuple[Path, int]]:
        with self._lock:  # a sync append and a group commit's thread never interleave
            try:
                handle = self._open()
                offsets, position = [], handle.tell()
                for line in lines:
                    offsets.append((Path(handle.name), position))
                    position += len(line)
                handle.write(b"".join(lines))
                handle.flush()
                os.fsync(handle.fileno())
                return offsets
            except OSError as err:
                self.close()  # what follows goes to a new segment, never glued to a torn line
                if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise CurateError(f"the disk is full: cannot keep answers in {self.folder}",
                                  "free some space, then run the same command again: every answer kept so far "
                                  "is safe, and nothing in flight was counted") from None

    def _open(self) -> Any:
        if self._handle is None or self._pid != os.getpid():  # a forked child writes its own segment
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{self.prefix}-{os.getpid()}-{uuid.uuid4().hex[:10]}.jsonl"
            self._handle = open(self.folder / name, "ab")  # noqa: SIM115 - kept open for the process
            self._pid = os.getpid()
            _fsync_dir(self.folder)  # the new file's name is durable too
        return self._handle

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            try:
                self._handle.close()
            except OSError:  # a full disk may refuse the last flush: the lines before it are synced
                pass
        self._handle = None

    # ----- reading ------------------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        return sorted(self.folder.glob(f"{self.prefix}-*.jsonl")) if self.folder.exists() else []

    def scan(self) -> Iterator[tuple[str, Path, int, int]]:
        """(key, segment, offset, length) of every complete line, oldest segment first."""
        for path in self.segments():
            offset = 0
            with open(path, "rb") as handle:
                for raw in handle:
                    length = len(raw)
                    if raw.endswith(b"\n") and b"\t" in raw:
                        yield raw.split(b"\t", 1)[0].decode(), path, offset, length
                    offset += length

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every readable record (a torn or corrupt line is skipped)."""
        for key, path, offset, length in self.scan():
            record = read_record(path, offset, length)
            if record is not None:
                yield key, record


def read_record(path: Path, offset: int, length: int) -> dict[str, Any] | None:
    with open(path, "rb") as handle:
        handle.seek(offset)
        raw = handle.read(length)
    try:
        return json.loads(raw.split(b"\t", 1)[1])
    except (IndexError, ValueError):
        return None


def _line(key: str, record: dict[str, Any]) -> bytes:
    if "\t" in key or "\n" in key:
        raise ValueError(f"a segment key holds no tab or newline: {key!r}")
    body = json.dumps(record, separators=(",", ":"))  # ASCII escapes: even a lone surrogate is writable
    return key.encode() + b"\t" + body.encode() + b"\n"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
