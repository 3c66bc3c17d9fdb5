"""Waiting for a process to show progress, rather than sleeping a fixed time (a busy machine is slow)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

PATIENCE = 600  # seconds before a test gives up waiting for a sign of progress (never reached when all is well)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen | None = None, what: str = "progress") -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert proc is None or proc.poll() is None, f"the process ended before {what}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"no {what} in {PATIENCE} s"
        time.sleep(0.05)


def feed(pipe: Path, data: bytes) -> None:
    """Write `data` into the named pipe once a reader opens it (in the background)."""
    def write() -> None:
        with open(pipe, "wb") as handle:
            handle.write(data)
    threading.Thread(target=write, daemon=True).start()


def tagged(tag: str) -> list[str]:
    """Live processes (not zombies) whose environment carries `tag`: everything a run started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"CURATE_TEST_TAG={tag}".encode() in (proc / "environ").read_bytes():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found
