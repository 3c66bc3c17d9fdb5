"""Helpers for tests that kill `curate` mid-run against the local LLM server and count what it paid for."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT
from tests.llm_server import LLMServer


def start_cli(*args: str, workspace: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`curate ARGS` in its own process group (so a kill reaches every process it started)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "CURATE_WORKSPACE": str(workspace),
                **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "curate", *args], env=full_env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen | None = None, deadline_s: float = 300) -> bool:
    """Wait for a sign of progress; False when the process ended first (nothing left to interrupt)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if proc is not None and proc.poll() is not None:
            return False
        if time.monotonic() > end:
            raise AssertionError("no progress: the run never got there")
        time.sleep(0.01)
    return True


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=60)


def kill_at_random_moments(args: list[str], workspace: Path, server: LLMServer, kills: int, span: int,
                           env: dict[str, str] | None = None, seed: int = 0) -> int:
    """Start the command `kills` times and `kill -9` it once the server has taken between 3 and `span`
    more requests (never a fixed sleep). Returns the number of kills done (a run may finish first)."""
    rng = random.Random(seed)
    done = 0
    for _ in range(kills):
        start = server.counts["requests"]
        target = start + rng.randint(3, span)
        proc = start_cli(*args, workspace=workspace, env=env)
        if not wait_for(lambda t=target: server.counts["requests"] >= t, proc):
            proc.communicate(timeout=60)
            break  # it finished before the moment came
        kill_group(proc)
        done += 1
    return done
