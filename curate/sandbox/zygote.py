"""The warm worker inside the sandbox: imports the plotting stack once, then gives each sample a clean room.

Protocol with the host: one JSON request per line on stdin, one JSON reply per line on the stdout it started
with. Per sample: a cgroup (when the host handed us cgroup folders), then a fork into a new PID namespace;
that child is the sample's init: it joins the cgroup, builds the room (`room.enter`), forks the sample
(which drops to an unprivileged uid of its own and its rlimits), waits for it, counts what it left and
reports on a control pipe; when init exits, the kernel kills the rest. The zygote reads the sample's stdout,
stderr and result over pipes it owns, with caps, and never opens a path the sample could choose.
Standalone on purpose (bound into the sandbox with `room`, `harness` and `wire`, without the rest of
`curate`); its only argument is a JSON configuration (see `curate.sandbox.backend.zygote_config`).
"""

from __future__ import annotations

import base64
import gc
import importlib
import io
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
OUT_FD = os.dup(1)
os.dup2(2, 1)  # stray prints from imports must not corrupt the protocol

import room  # noqa: E402
import wire  # noqa: E402

CONFIG = json.loads(sys.argv[1])
CLEAN = CONFIG["clean"]  # namespaces per sample (every backend but the unsafe `none`)
if CONFIG["own_tmp"]:  # `unshare`: the host's /tmp must not get our caches
    room.fresh_tmp(CONFIG["tmpfs_mb"], CONFIG["keep"])

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import harness  # noqa: E402  (imports matplotlib, numpy and plotly)
import matplotlib.pyplot as plt  # noqa: E402
import pandas  # noqa: E402,F401
import plotly.express  # noqa: E402,F401
import plotly.graph_objects  # noqa: E402,F401
import seaborn  # noqa: E402,F401

# Imported once here so samples start warm, and so that they work where the sample's uid cannot read
# the runtime's folders (the unshare fallback with Python under /root).
PRELOAD = ("encodings.idna", "encodings.ascii", "encodings.latin_1", "csv", "json", "math", "random", "statistics",
           "datetime", "calendar", "collections", "itertools", "functools", "re", "io", "string", "textwrap",
           "decimal", "fractions", "pathlib", "typing", "dataclasses", "warnings", "copy", "heapq", "bisect",
           "operator", "enum", "glob", "shutil", "tempfile", "socket", "subprocess", "urllib.request",
           "mpl_toolkits.mplot3d", "matplotlib.animation", "matplotlib.patches", "matplotlib.colors",
           "matplotlib.ticker", "matplotlib.dates", "matplotlib.gridspec", "matplotlib.cm", "matplotlib.lines",
           "plotly.subplots", "pandas.plotting", "seaborn.objects")
UID_SPAN = 1 << 16  # uids of one worker's samples: uid_base + sample number, modulo this
DRAIN_S = 5.0  # after init is gone, the pipes close as soon as the kernel has killed the rest
CONTROL_CAP = 64 << 10
PROBE_LIMITS = {"wall_s": 60, "cpu_s": 60, "mem_mb": 512, "nproc": 16, "nofile": 64, "fsize_mb": 1,
                "output_bytes": 1024, "tmpfs_mb": 16}
OWN_PID_NS = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if CLEAN else -1


def _warm_up() -> None:
    """Load the backend, fonts, text layout and common modules once, here, rather than in every sample."""
    fig = plt.figure()
    fig.gca().set_title("warm-up")
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    gc.freeze()  # the samples' garbage collections leave the warm objects (and their shared pages) alone


def _set_limits(limits: dict) -> None:
    mb = 1024 * 1024
    pairs = [(resource.RLIMIT_CPU, limits["cpu_s"]), (resource.RLIMIT_NOFILE, limits["nofile"]),
             (resource.RLIMIT_FSIZE, limits["fsize_mb"] * mb), (resource.RLIMIT_NPROC, limits["nproc"]),
             (resource.RLIMIT_CORE, 0)]
    if not CONFIG["cgroups"]:  # without a memory cgroup, the fallback: address space per process
        pairs.append((resource.RLIMIT_AS, limits["mem_mb"] * mb))
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def _sample(request: dict, workdir: str, pipes: dict[str, tuple[int, int]], uid: int | None) -> None:
    """The sample's process: its fds, limits and uid, then the harness. Never returns."""
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of a kill
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(pipes["out"][1], 1)
        os.dup2(pipes["err"][1], 2)
        os.dup2(pipes["result"][1], 3, inheritable=False)  # not passed on to programs the sample runs
        os.closerange(4, 1 << 20)  # nothing of the zygote's: not its request pipe, not the control pipe
        _set_limits(request["limits"])
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)  # from root to another uid: every capability goes with it
        room.prctl(room.PR_SET_NO_NEW_PRIVS, 1)  # no setuid program gives them back
        room.prctl(room.PR_SET_PDEATHSIG, signal.SIGKILL)  # (cleared by setuid, so set after it)
        os.chdir(workdir)
        for item in request.get("files") or []:
            with open(os.path.basename(item["name"]), "w", encoding="utf-8") as f:
                f.write(item["content"])
    except BaseException as err:  # noqa: BLE001 - the child must never return into the zygote's loop
        os.write(2, f"sandbox setup failed: {err!r}\n".encode())
        os._exit(70)
    harness.run(request, workdir, 3)


def _init(request: dict, pipes: dict[str, tuple[int, int]], cgroup: room.SampleCgroup | None,
          uid: int | None) -> None:
    """pid 1 of the sample's namespace: build the room, run the sample, report. Never returns."""
    control = pipes["control"][1]
    try:
        room.prctl(room.PR_SET_PDEATHSIG, signal.SIGKILL)
        if cgroup is not None:
            cgroup.join()
        if CLEAN:
            workdir = room.enter(request["limits"]["tmpfs_mb"], uid, CONFIG["keep"])
        else:
            room.prctl(room.PR_SET_CHILD_SUBREAPER, 1)
            workdir = tempfile.mkdtemp(prefix="curate-sample-")
            if uid is not None:
                os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
            _sample(request, workdir, pipes, uid)
        for name in ("out", "err", "result"):
            os.close(pipes[name][1])
        while True:
            finished, status = os.waitpid(-1, 0)
            if finished == pid:
                break
        room.reap()
        left = room.others_in_namespace() if CLEAN else room.kill_children()
        disk = os.statvfs(workdir)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sample and what we reaped of it
        report = {"status": status, "leftover": left, "disk_free": disk.f_bavail * disk.f_frsize,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}
        if not CLEAN:
            shutil.rmtree(workdir, ignore_errors=True)
    except BaseException as err:  # noqa: BLE001
        report = {"setup_error": f"{type(err).__name__}: {err}"[:500]}
    os.write(control, json.dumps(report).encode())
    os.close(control)  # done: the zygote need not wait for our exit (nor for the kernel's teardown after it)
    os._exit(0)


@dataclass
class Capped:
    """The first `cap` bytes of a stream, and how many there were in all."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.data) < self.cap:
            self.data += chunk[: self.cap - len(self.data)]

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + (f"\n…[truncated: {self.total:,} bytes in all]" if self.total > self.cap else "")


@dataclass
class Collected:
    out: Capped
    err: Capped
    reader: wire.FrameReader = field(default_factory=wire.FrameReader)
    control: bytearray = field(default_factory=bytearray)
    problem: tuple[str, str] | None = None  # why we killed the sample: (error type, message)
    usage: object = None  # its init's resources, when we killed it


def _collect(pid: int, reads: dict[str, int], limits: dict, started: float) -> Collected:
    """Read the sample's pipes until they close, killing it past a limit. They close when its init has
    reported and exited (taking with it whatever else held them); the kernel may still be tearing down its
    namespaces then, so init is reaped after the reply (see `run_one`), unless we had to kill it."""
    got = Collected(Capped(limits["output_bytes"]), Capped(limits["output_bytes"]))
    names = {fd: name for name, fd in reads.items()}
    deadline = started + limits["wall_s"]

    def stop(problem: tuple[str, str]) -> None:
        nonlocal deadline
        if got.problem is None:
            got.problem, deadline = problem, time.monotonic() + DRAIN_S
            os.kill(pid, signal.SIGKILL)  # init: with it goes the whole namespace
            _, _, got.usage = os.wait4(pid, 0)
            if not CLEAN:
                room.kill_children()  # without a namespace, what it ran comes back to us: killed too

    while names:
        left = deadline - time.monotonic()
        if left <= 0:
            if got.problem:
                break  # pipes still held open after the kill: give up on them
            stop(("Timeout", f"wall time limit of {limits['wall_s']} s exceeded; killed"))
            continue
        for fd in select.select(list(names), [], [], left)[0]:
            chunk = os.read(fd, 1 << 16)
            name = names[fd]
            if not chunk or name == "result" and got.problem and got.problem[0] == "ProtocolError":
                del names[fd]
            elif name in ("out", "err"):
                getattr(got, name).add(chunk)
                if got.out.total + got.err.total > limits["fsize_mb"] << 20:
                    stop(("OutputLimit", f"output or file size limit of {limits['fsize_mb']} MB exceeded"))
            elif name == "result":
                try:
                    got.reader.feed(chunk)
                except wire.ProtocolError as err:
                    stop(("ProtocolError", f"the sample's result broke the protocol: {err}"))
            elif len(got.control) < CONTROL_CAP:
                got.control += chunk
    for fd in reads.values():
        os.close(fd)
    return got


def describe_signal(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _classify(got: Collected, stats: dict[str, int], limits: dict) -> dict:
    """The sample's reply: what happened, from what we measured and what it reported."""
    try:
        report = json.loads(got.control) if got.control else {}
    except ValueError:
        report = {}
    sample_status = report.get("status")
    code = os.waitstatus_to_exitcode(sample_status) if sample_status is not None else -int(signal.SIGKILL)
    record, protocol = None, None
    if got.problem is None and sample_status is not None:
        try:
            record = got.reader.finish()
        except wire.ProtocolError as err:
            if code == 0 or got.reader.record is not None:  # exited 0 without its record, or a broken one
                protocol = f"the sample's result broke the protocol: {err}"
    stdout, stderr = got.out.text(), got.err.text()
    error_type, error = (record or {}).get("error_type"), (record or {}).get("error")
    cpu = got.usage.ru_utime + got.usage.ru_stime if got.usage else report.get("cpu_s", 0.0)
    if "setup_error" in report or not report and got.problem is None:
        error_type, error = "SandboxError", report.get("setup_error") or "the sample's init reported nothing"
    elif got.problem:
        error_type, error = got.problem
    elif protocol:
        error_type, error = "ProtocolError", protocol
    elif stats.get("oom_kills"):  # its main process or another of its processes
        error_type, error = "MemoryLimit", (f"memory limit of {limits['mem_mb']} MB exceeded by its processes "
                                            f"together; {stats['oom_kills']} killed")
    elif code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL) and cpu >= limits["cpu_s"] - 0.5:
        error_type, error = "CPULimit", f"CPU time limit of {limits['cpu_s']} s exceeded; killed"
    elif "[Errno 27]" in (error or ""):
        error_type, error = "OutputLimit", f"output or file size limit of {limits['fsize_mb']} MB exceeded"
    elif report["disk_free"] < 64 * 1024 or "[Errno 28]" in (error or ""):
        error_type, error = "DiskLimit", f"the sample's private /tmp ({limits['tmpfs_mb']} MB) is full ({error or 'no space left'})"
    elif error_type == "MemoryError" or (code < 0 and "MemoryError" in stderr):
        error_type, error = "MemoryLimit", f"memory limit of {limits['mem_mb']} MB exceeded ({error or 'MemoryError'})"
    elif (error_type == "BlockingIOError" and "Resource temporarily unavailable" in (error or "")) or \
            (stats.get("fork_refusals") and (code or error_type)):
        error_type, error = "ProcessLimit", f"process limit of {limits['nproc']} reached: {error or 'fork refused'}"
    elif code < 0:
        error_type, error = "Crash", f"killed by {describe_signal(-code)}"
    elif code == 70 and record is None:
        error_type, error = "SandboxError", stderr.strip()[-500:] or "sandbox setup failed"
    elif code != 0 and not error_type:
        error_type, error = "ExitStatus", f"exit status {code}"
    left = report.get("leftover", 0)
    if left and not error_type:
        error_type = "LeftoverProcess"
        error = f"{left} background process(es) were still running after the sample ended; killed"
    peak = stats["peak_bytes"] / 2**20 if "peak_bytes" in stats else \
        (got.usage.ru_maxrss if got.usage else report.get("maxrss_kb", 0)) / 1024
    figures = [{"kind": f["kind"], "plot_facts": f["plot_facts"],
                "data": base64.b64encode(f["data"]).decode() if f["kind"] == "png" else f["data"]}
               for f in record["figures"]] if record is not None and code == 0 else []
    return {"ok": code == 0 and not error_type, "status": code if got.problem is None else -int(signal.SIGKILL),
            "error_type": error_type, "error": error, "stdout": stdout, "stderr": stderr,
            "cpu_s": cpu, "peak_mem_mb": peak, "figures": figures, "notes": (record or {}).get("notes") or [],
            "leftover_processes": left}


def run_one(request: dict, number: int) -> tuple[dict, Callable[[], None]]:
    """Run one sample; returns its reply, and what is left to do once the reply is sent: reap its init and
    remove its cgroup (the kernel's teardown of its namespaces then overlaps the host's work)."""
    limits = request["limits"]
    uid = None if CONFIG["uid_base"] is None else CONFIG["uid_base"] + number % UID_SPAN
    cgroup = room.SampleCgroup(CONFIG["cgroups"], f"sample-{number}", limits["mem_mb"], limits["nproc"]) \
        if CONFIG["cgroups"] else None
    pipes = {name: os.pipe2(os.O_CLOEXEC) for name in ("out", "err", "result", "control")}
    started = time.monotonic()
    if CLEAN:
        room.unshare(room.CLONE_NEWPID)  # our next child is pid 1 of a namespace of its own
    pid = os.fork()
    if pid == 0:
        _init(request, pipes, cgroup, uid)
    if CLEAN:
        room.setns(OWN_PID_NS, room.CLONE_NEWPID)  # (unshare once more next time)
    for _, write in pipes.values():
        os.close(write)

    def clean_up() -> None:
        if got is None or got.problem is None:  # (a killed init was reaped already)
            os.waitpid(pid, 0)
        if cgroup is not None:
            cgroup.remove()

    got = None
    try:
        if cgroup is not None:
            cgroup.close_fds()
        got = _collect(pid, {name: read for name, (read, _) in pipes.items()}, limits, started)
        stats = cgroup.stats() if cgroup is not None else {}
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        clean_up()
        raise
    return {**_classify(got, stats, limits), "wall_s": time.monotonic() - started}, clean_up


def _sandbox_error(error: str) -> dict:
    return {"ok": False, "status": -1, "error_type": "SandboxError", "error": error[:2000], "stdout": "",
            "stderr": "", "wall_s": 0.0, "cpu_s": 0.0, "peak_mem_mb": 0.0, "figures": [], "notes": [],
            "leftover_processes": 0}


def _send(reply: dict) -> None:
    data = memoryview((json.dumps(reply) + "\n").encode())
    while data:
        data = data[os.write(OUT_FD, data):]


def main() -> None:
    if os.getpid() == 1:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # init ignores what it has no handler for
            signal.signal(sig, signal.SIG_DFL)
    else:
        room.prctl(room.PR_SET_CHILD_SUBREAPER, 1)  # orphans of a sample come back to us
    _warm_up()
    probe, clean_up = run_one({"code": "", "files": [], "limits": PROBE_LIMITS, "allow_imports": None}, 0)
    clean_up()
    _send({"ready": probe["ok"], "error": probe["error"]})  # a clean room that cannot be built fails here
    for number, line in enumerate(sys.stdin.buffer, 1):
        clean_up = lambda: None  # noqa: E731
        try:
            reply, clean_up = run_one(json.loads(line), number)
        except Exception as err:  # noqa: BLE001 - report and keep serving
            reply = _sandbox_error(repr(err))
        _send(reply)
        clean_up()


if __name__ == "__main__":
    main()
