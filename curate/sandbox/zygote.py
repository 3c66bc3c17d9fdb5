"""The warm worker that runs inside the sandbox: imports the plotting stack once, forks once per sample.

Standalone on purpose (it is bound alone into the sandbox, without the rest of `curate`). Protocol: one
JSON request per line on stdin, one JSON result per line on the stdout it started with; everything the
samples print goes to files in their own folder. The child drops to an unprivileged uid and its rlimits
before running the code; the zygote keeps only the capabilities it needs to clean up after it.
"""

from __future__ import annotations

import base64
import builtins
import ctypes
import importlib
import importlib.util
import io
import json
import os
import random
import resource
import select
import shutil
import signal
import sys
import time
import traceback

OUT_FD = os.dup(1)
os.dup2(2, 1)  # stray prints from imports must not corrupt the protocol

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401
import numpy  # noqa: E402
import pandas  # noqa: E402,F401
import plotly.basedatatypes  # noqa: E402
import plotly.express  # noqa: E402,F401
import plotly.graph_objects  # noqa: E402,F401
import plotly.io  # noqa: E402
import seaborn  # noqa: E402,F401
from matplotlib.figure import Figure  # noqa: E402


def _load_figure_facts():  # noqa: ANN202 - bound beside the zygote, standalone like it
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figure_facts.py")
    spec = importlib.util.spec_from_file_location("figure_facts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


figure_facts = _load_figure_facts()
figure_facts.install()  # tags what each plotting call draws, for the judges


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


# Imported once here so samples start warm, and so that they work where the sample's uid cannot read
# the runtime's folders (the unshare fallback with Python under /root).
PRELOAD = ("encodings.idna", "encodings.ascii", "encodings.latin_1", "csv", "json", "math", "random", "statistics",
           "datetime", "calendar", "collections", "itertools", "functools", "re", "io", "string", "textwrap",
           "decimal", "fractions", "pathlib", "typing", "dataclasses", "warnings", "copy", "heapq", "bisect",
           "operator", "enum", "glob", "shutil", "tempfile", "socket", "subprocess", "urllib.request",
           "mpl_toolkits.mplot3d", "matplotlib.animation", "matplotlib.patches", "matplotlib.colors",
           "matplotlib.ticker", "matplotlib.dates", "matplotlib.gridspec", "matplotlib.cm", "matplotlib.lines",
           "plotly.subplots", "pandas.plotting", "seaborn.objects")
LIBC = ctypes.CDLL(None, use_errno=True)
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 8 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_warm_up()


def _read_capped(path: str, cap: int) -> tuple[str, int]:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            data = f.read(cap)
    except OSError:
        return "", 0
    text = data.decode("utf-8", errors="replace")
    if size > cap:
        text += f"\n…[truncated: {size:,} bytes in all]"
    return text, size


def _set_limits(limits: dict) -> None:
    mb = 1024 * 1024
    pairs = [(resource.RLIMIT_AS, limits["mem_mb"] * mb), (resource.RLIMIT_CPU, limits["cpu_s"]),
             (resource.RLIMIT_NOFILE, limits["nofile"]), (resource.RLIMIT_FSIZE, limits["fsize_mb"] * mb),
             (resource.RLIMIT_NPROC, limits["nproc"]), (resource.RLIMIT_CORE, 0)]
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def _drop_privileges(uid: int | None) -> None:
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # from root to another uid: every capability goes with it


class Capture:
    """Figures the sample made: matplotlib figures (open at the end or saved) and plotly figures shown."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.figures: list[Figure] = []
        self.facts: list[str] = []  # plot_facts JSON, one per saved image
        self.plotly: list = []  # plotly figures shown or written, each once
        original_savefig = Figure.savefig
        capture = self

        def savefig(fig, fname, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            capture.note(fig)
            if isinstance(fname, (str, os.PathLike)):  # savefig paths land in the sample's folder
                fname = os.path.join(workdir, os.path.basename(os.fspath(fname)) or "figure.png")
            return original_savefig(fig, fname, *args, **kwargs)

        def show_plotly(fig, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if not any(f is fig for f in capture.plotly):
                capture.plotly.append(fig)

        Figure.savefig = savefig
        plt.show = lambda *a, **k: None
        plotly.basedatatypes.BaseFigure.show = show_plotly
        plotly.basedatatypes.BaseFigure.write_image = show_plotly  # no kaleido: rendered in Chromium instead
        plotly.basedatatypes.BaseFigure.write_html = show_plotly
        plotly.io.show = show_plotly

    def note(self, fig: Figure) -> None:
        if not any(f is fig for f in self.figures):
            self.figures.append(fig)

    def save(self) -> int:
        for num in plt.get_fignums():
            self.note(plt.figure(num))
        count = 0
        for fig in self.figures[:MAX_IMAGES]:
            self.facts.append(figure_facts.safe_matplotlib_facts(fig, 100))  # what the saved image shows
            fig.canvas.print_figure(os.path.join(self.workdir, f".curate-image-{count}.png"), format="png", dpi=100)
            count += 1
        return count


def _allow_imports(allowed: list[str]) -> None:
    real_import = builtins.__import__
    allowed_set = set(allowed)

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002, ANN001, ANN202
        if level == 0 and (globals or {}).get("__name__") == "__main__" and name.split(".")[0] not in allowed_set:
            raise ImportError(f"import of {name!r} is not allowed (allowed: {', '.join(sorted(allowed_set))})")
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded


def run_child(request: dict, workdir: str, uid: int | None) -> None:
    """In the forked child: confine, run the sample, save its figures, write result.json, exit."""
    me = os.getpid()
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead of a kill
        _set_limits(request["limits"])
        _drop_privileges(uid)
        LIBC.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG (after setuid, which clears it)
        os.makedirs(workdir, mode=0o700)
        os.chdir(workdir)
        for item in request.get("files") or []:
            name = os.path.basename(item["name"])
            with open(name, "w", encoding="utf-8") as f:
                f.write(item["content"])
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, name in ((1, ".curate-stdout"), (2, ".curate-stderr")):
            os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        os.close(OUT_FD)
    except BaseException as err:  # noqa: BLE001 - the child must never return into the zygote's loop
        os.write(2, f"sandbox setup failed: {err!r}\n".encode())
        os._exit(70)
    capture = Capture(workdir)
    random.seed(0)  # the same sample draws the same figure (generators it seeds or creates itself aside)
    numpy.random.seed(0)
    if request.get("allow_imports") is not None:
        _allow_imports(request["allow_imports"])
    result = {"error_type": None, "error": None, "exit": 0}
    namespace = {"__name__": "__main__", "__file__": os.path.join(workdir, "sample.py")}
    try:
        code = compile(request["code"], "sample.py", "exec")
        exec(code, namespace)  # noqa: S102
    except SystemExit as err:
        status = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
        result.update(exit=status)
        if status:
            result.update(error_type="SystemExit", error=f"exit status {status}")
    except BaseException as err:  # noqa: BLE001 - whatever the sample raises is its result
        if os.getpid() != me:
            os._exit(1)  # a process the sample forked: never run the harness twice
        result.update(exit=1, error_type=type(err).__name__, error=str(err)[:2000])
        try:
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    if os.getpid() != me:
        os._exit(0)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    try:
        if not capture.plotly:  # plotly figures built but never shown: the sample's "open figures"
            capture.plotly = [v for v in namespace.values() if isinstance(v, plotly.basedatatypes.BaseFigure)]
        result["n_images"] = capture.save() if result["exit"] == 0 else 0
        result["plot_facts"] = capture.facts[:result["n_images"]]
        result["plotly"] = [plotly.io.to_json(f) for f in capture.plotly[:MAX_IMAGES]] if result["exit"] == 0 else []
    except BaseException as err:  # noqa: BLE001
        result.update(exit=1, error_type=type(err).__name__, error=f"saving figures failed: {err}"[:2000])
        result["n_images"] = 0
    try:
        with open(".curate-result.json", "w") as f:
            json.dump(result, f)
    finally:
        os._exit(result["exit"] if isinstance(result["exit"], int) and 0 <= result["exit"] < 256 else 1)


def _wait(pid: int, wall_s: float) -> tuple[int | None, object, bool]:
    """Wait for the child up to `wall_s`; kill its process group past it. Returns (status, rusage, timed_out)."""
    deadline = time.monotonic() + wall_s
    fd = os.pidfd_open(pid)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill_tree(pid)
                _, status, usage = os.wait4(pid, 0)
                return status, usage, True
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                _, status, usage = os.wait4(pid, 0)
                return status, usage, False
    finally:
        os.close(fd)


def _kill_tree(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _leftovers(uid: int | None) -> list[int]:
    """Processes the sample left behind: those of its uid (its own, in our pid namespace), else everything
    else in our pid namespace, else (no namespace, no uid) our children: as a subreaper we inherit orphans."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("State", "").strip().startswith("Z"):
            continue
        if uid is not None:
            mine = str(uid) in fields.get("Uid", "").split()
        else:
            mine = me == 1 or fields.get("PPid", "").strip() == str(me)
        if mine:
            found.append(int(entry))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def cleanup(uid: int | None) -> int:
    """Kill what the sample left running; returns how many there were."""
    left = _leftovers(uid)
    for _ in range(50):
        pids = _leftovers(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.01)
    _reap()
    return len(left)


def describe_signal(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def run_one(request: dict, counter: int, uid: int | None) -> dict:
    limits = request["limits"]
    workdir = os.path.join(request.get("tmp", "/tmp"), f"curate-run-{counter}")
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        run_child(request, workdir, uid)
    status, usage, timed_out = _wait(pid, limits["wall_s"])
    wall = time.monotonic() - started
    left = cleanup(uid)
    stat = os.statvfs(workdir if os.path.isdir(workdir) else "/")
    disk_full = stat.f_bavail * stat.f_frsize < 64 * 1024
    stdout, out_size = _read_capped(os.path.join(workdir, ".curate-stdout"), limits["output_bytes"])
    stderr, err_size = _read_capped(os.path.join(workdir, ".curate-stderr"), limits["output_bytes"])
    try:
        with open(os.path.join(workdir, ".curate-result.json")) as f:
            inner = json.loads(f.read(1 << 20))
    except (OSError, ValueError):
        inner = {}
    images, facts, plot_facts = [], inner.get("plot_facts") or [], []
    for i in range(min(int(inner.get("n_images") or 0), MAX_IMAGES)):
        try:
            with open(os.path.join(workdir, f".curate-image-{i}.png"), "rb") as f:
                data = f.read(MAX_IMAGE_BYTES + 1)
        except OSError:
            continue
        if data.startswith(PNG_MAGIC) and len(data) <= MAX_IMAGE_BYTES:
            images.append(base64.b64encode(data).decode())
            plot_facts.append(facts[i] if i < len(facts) and isinstance(facts[i], str) else None)
    shutil.rmtree(workdir, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    error_type, error = inner.get("error_type"), inner.get("error")
    fsize = limits["fsize_mb"] * 1024 * 1024
    if timed_out:
        error_type, error = "Timeout", f"wall time limit of {limits['wall_s']} s exceeded; killed"
    elif code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL) and cpu >= limits["cpu_s"] - 0.5:
        error_type, error = "CPULimit", f"CPU time limit of {limits['cpu_s']} s exceeded; killed"
    elif max(out_size, err_size) >= fsize or "[Errno 27]" in (error or ""):
        error_type, error = "OutputLimit", f"output or file size limit of {limits['fsize_mb']} MB exceeded"
    elif disk_full or "[Errno 28]" in (error or ""):
        error_type, error = "DiskLimit", f"the sandbox's private /tmp ({limits['tmpfs_mb']} MB) is full ({error or 'no space left'})"
    elif error_type == "MemoryError" or (code < 0 and "MemoryError" in stderr):
        error_type, error = "MemoryLimit", f"memory limit of {limits['mem_mb']} MB exceeded ({error or 'MemoryError'})"
    elif error_type == "BlockingIOError" and "Resource temporarily unavailable" in (error or ""):
        error_type, error = "ProcessLimit", f"process limit of {limits['nproc']} reached: {error}"
    elif code < 0:
        error_type, error = "Crash", f"killed by {describe_signal(-code)}"
    elif code == 70 and not inner:
        error_type, error = "SandboxError", stderr.strip()[-500:] or "sandbox setup failed"
    elif code != 0 and not error_type:
        error_type, error = "ExitStatus", f"exit status {code}"
    if left and not error_type:
        error_type = "LeftoverProcess"
        error = f"{left} background process(es) were still running after the sample ended; killed"
    ok = code == 0 and not timed_out and not error_type
    return {"ok": ok, "status": code if not timed_out else -int(signal.SIGKILL), "error_type": error_type,
            "error": error, "stdout": stdout, "stderr": stderr, "wall_s": wall, "cpu_s": cpu,
            "peak_mem_mb": usage.ru_maxrss / 1024, "images": images, "plot_facts": plot_facts, "plotly": inner.get("plotly") or [],
            "leftover_processes": left}


def main() -> None:
    uid = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else None
    if os.getpid() == 1:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # init ignores what it has no handler for
            signal.signal(sig, signal.SIG_DFL)
    else:
        LIBC.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a sample come back to us
    os.write(OUT_FD, b'{"ready": true}\n')
    stdin = sys.stdin.buffer
    counter = 0
    for line in stdin:
        counter += 1
        try:
            reply = run_one(json.loads(line), counter, uid)
        except Exception as err:  # noqa: BLE001 - report and keep serving
            reply = {"ok": False, "status": -1, "error_type": "SandboxError", "error": repr(err)[:2000]}
        data = (json.dumps(reply) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(OUT_FD, view):]


if __name__ == "__main__":
    main()
