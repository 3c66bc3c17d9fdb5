"""The host side of a sandboxed worker: starts the zygote, sends it samples, checks what comes back.

The zygote and everything below it die with this process, whatever kills it: the launcher gets a
parent-death signal, bubblewrap's `--die-with-parent` and `unshare --kill-child` pass it on, and each
sample's init has one too (see `room.py` for the namespaces that take the rest).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curate.errors import CurateError
from curate.sandbox import cgroups
from curate.sandbox.backend import launch
from curate.sandbox.policy import Limits
from curate.sandbox.wire import (
    MAX_FIGURES,
    MAX_IMAGE_BYTES,
    MAX_NOTES,
    MAX_PLOT_FACTS_BYTES,
    MAX_PLOTLY_BYTES,
    MAX_TEXT,
    ProtocolError,
    png_size,
)
from curate.workers import die_with_parent

START_TIMEOUT_S = 120.0
GRACE_S = 30.0  # beyond the sample's wall limit: building its room, saving its figures, cleaning up
Text = Annotated[str, Field(max_length=MAX_TEXT["error"])]


class Figure(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["png", "plotly"]
    data: Annotated[str, Field(max_length=max(MAX_IMAGE_BYTES * 4 // 3 + 4, MAX_PLOTLY_BYTES))]  # base64 PNG, or JSON
    plot_facts: Annotated[str, Field(max_length=MAX_PLOT_FACTS_BYTES)] | None


class Reply(BaseModel):
    """What the zygote hands back for one sample, checked field by field before anything uses it."""

    model_config = ConfigDict(extra="forbid", strict=True)
    ok: bool
    status: int
    error_type: Annotated[str, Field(max_length=MAX_TEXT["error_type"])] | None
    error: Text | None
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_mem_mb: float
    figures: Annotated[list[Figure], Field(max_length=MAX_FIGURES)]
    notes: Annotated[list[Annotated[str, Field(max_length=MAX_TEXT["note"])]], Field(max_length=MAX_NOTES)]
    leftover_processes: int


class SandboxWorker:
    """One warm zygote. `run` never raises for what a sample does; it returns a `Reply` as a dict, whose
    `figures` hold PNG bytes (`kind` png) or plotly JSON (`kind` plotly)."""

    def __init__(self, backend: str, limits: Limits, allow_imports: list[str] | None = None):
        self.backend = backend
        self.limits = limits
        self.allow_imports = allow_imports
        self.proc: subprocess.Popen | None = None
        self.host_tmp: str | None = None
        self.groups: cgroups.WorkerGroups | None = None
        self._buffer = b""

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.backend == "none":  # the others give each sample a private /tmp; this one needs a folder
            self.host_tmp = tempfile.mkdtemp(prefix="curate-sandbox-")
            os.chmod(self.host_tmp, 0o1777)
        if self.backend != "none" and cgroups.available():
            self.groups = cgroups.WorkerGroups()
        paths = {c: str(p) for c, p in self.groups.paths.items()} if self.groups else None
        spec = launch(self.backend, self.limits.tmpfs_mb, self.host_tmp, paths)
        self._log = tempfile.TemporaryFile()
        parent = os.getpid()
        self.proc = subprocess.Popen(spec.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     env=spec.env, cwd=spec.cwd, start_new_session=True,
                                     preexec_fn=lambda: die_with_parent(parent))
        self._buffer = b""
        line = self._read_line(START_TIMEOUT_S)
        ready = json.loads(line) if line is not None else {}
        if not ready.get("ready"):
            why = ready.get("error") or self.log_tail()
            self.close()
            raise CurateError(f"the sandbox ({self.backend}) did not start: {why[-500:]}",
                              "run `curate doctor`; choose another backend with --sandbox")

    def close(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream:
                    stream.close()
            self.proc = None
            self._log.close()
        if self.groups is not None:
            self.groups.close()
            self.groups = None
        if self.host_tmp:
            shutil.rmtree(self.host_tmp, ignore_errors=True)
            self.host_tmp = None

    def log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", errors="replace").strip()

    # ----- samples --------------------------------------------------------------------------------
    def run(self, code: str, files: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Run one sample; a zygote that dies under it is restarted and the sample tried once more."""
        request = {"code": code, "files": files or [], "limits": self.limits.model_dump(),
                   "allow_imports": self.allow_imports}
        started = time.monotonic()
        for _ in range(2):
            if self.proc is None or self.proc.poll() is not None:
                self.close()
                self.start()
            line = self._ask(request)
            if line is not None:
                return self._check(line, started)
            reason = "died" if self.proc.poll() is not None else "stopped answering"
            self.close()
        return failed("SandboxError", f"the sandbox worker {reason} while running this sample, twice", started)

    def _check(self, line: bytes, started: float) -> dict[str, Any]:
        """The zygote's reply, held to its schema; PNGs decoded and checked once more."""
        try:
            reply = Reply.model_validate_json(line).model_dump()
            for figure in reply["figures"]:
                if figure["kind"] == "png":
                    figure["data"] = base64.b64decode(figure["data"], validate=True)
                    png_size(figure["data"])
        except (ValidationError, ProtocolError, binascii.Error, ValueError) as err:
            return failed("ProtocolError", f"the sandbox's reply broke the protocol: {str(err)[:500]}", started)
        return reply

    def _ask(self, request: dict[str, Any]) -> bytes | None:
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            return self._read_line(self.limits.wall_s + GRACE_S)
        except OSError:
            return None

    def _read_line(self, timeout: float) -> bytes | None:
        """A line from the zygote, or None on EOF or timeout (without blocking past `timeout`)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def __enter__(self) -> SandboxWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def failed(error_type: str, error: str, started: float) -> dict[str, Any]:
    """A reply for a sample the sandbox could not run or report on."""
    return {"ok": False, "status": -int(signal.SIGKILL), "error_type": error_type, "error": error, "stdout": "",
            "stderr": "", "wall_s": time.monotonic() - started, "cpu_s": None, "peak_mem_mb": None, "figures": [],
            "notes": [], "leftover_processes": 0}
