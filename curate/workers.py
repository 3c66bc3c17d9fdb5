"""The local process pool: workers that leave Ctrl-C to the CLI and never outlive it.

- Ctrl-C sends SIGINT to the whole foreground process group. Workers are started with SIGINT ignored (a
  disposition that survives exec, and that their own children inherit), so only the CLI reacts: it stops
  the workers and records the run. No worker prints a traceback, even one still importing.
- Each worker asks the kernel to SIGKILL it when the CLI dies (PR_SET_PDEATHSIG), whatever killed the CLI,
  SIGKILL included; the multiprocessing resource tracker then sees its pipe close and exits too.
- On any exception in the CLI (an interrupt, a failed unit) the workers are terminated at once instead of
  finishing the queue: what they had not finished is redone by the next run.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from curate.stage import Stage, Unit

PR_SET_PDEATHSIG = 1
_WORKER: dict[str, Any] = {}


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def _init_worker(stage: Stage, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stage.setup()
    # pool workers end without returning to us: release the stage's resources when the process exits
    multiprocessing.util.Finalize(stage, stage.teardown, exitpriority=10)
    _WORKER["stage"] = stage


def _call(run: Callable[..., Any], unit: Unit, *args: Any) -> Any:
    return run(_WORKER["stage"], unit, *args)


def run_in_pool(stage: Stage, units: list[Unit], workers: int, run: Callable[..., Any], *args: Any) -> Iterator[Any]:
    """`run(stage, unit, *args)` for every unit in `workers` spawned processes; yields results as they end."""
    context = multiprocessing.get_context("spawn")  # fork would copy DuckDB and Polars thread state
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(stage, os.getpid()))
    try:
        with _sigint_ignored():  # the workers start (in submit) with SIGINT ignored
            pending = {pool.submit(_call, run, unit, *args) for unit in units}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    except BaseException:
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, mid-unit (Python 3.14 has `terminate_workers`; before it, its private dict)."""
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()
