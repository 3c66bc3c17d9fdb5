"""Sandbox backends: bubblewrap where it works, else `unshare` + rlimits, else (only when asked) none.

Each backend turns "run the zygote" into an argv and an environment. bubblewrap gives the zygote a
private pid, network, IPC and UTS namespace, the system read-only (/usr, /lib*, /bin, a few files of
/etc, the Python runtime and the venv), a private size-limited /tmp and nothing else: no home, no
workspace. `unshare` gives the namespaces but not the read-only view: there the sample's unprivileged uid
and the file permissions are what keep it out of the host's files.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from curate.errors import CurateError

ZYGOTE = Path(__file__).with_name("zygote.py")
INSIDE_ZYGOTE = "/opt/curate/zygote.py"
FIGURE_FACTS = Path(__file__).with_name("figure_facts.py")  # standalone, loaded by the zygote from beside it
ETC_FILES = ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/mime.types")
ENV = {"HOME": "/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
       "MPLBACKEND": "Agg", "XDG_CACHE_HOME": "/tmp/.cache", "MPLCONFIGDIR": "/tmp/.matplotlib"}
# Only what the zygote needs to drop to the sample's uid, kill what it leaves and clean its folder.
CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
BACKENDS = ("bwrap", "unshare", "none")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    tmp: str  # the sample folders' parent, as the zygote sees it


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def available() -> tuple[str, ...]:
    """Backends that work on this machine, strongest first."""
    found = []
    bwrap = shutil.which("bwrap")
    if bwrap and _probe([*bwrap_argv(bwrap, 16), "/bin/true"]):
        found.append("bwrap")
    unshare = shutil.which("unshare")
    if unshare and _probe([*unshare_argv(unshare), "/bin/true"]):
        found.append("unshare")
    return (*found, "none")


def choose(wanted: str = "auto", unsafe: bool = False) -> str:
    """The backend to use: the strongest available, or `wanted`; `none` only with `unsafe`."""
    have = available()
    if wanted == "auto":
        best = have[0]
        if best == "none" and not unsafe:
            raise CurateError("no sandbox works on this machine (neither bubblewrap nor unshare)",
                              "install bubblewrap (apt-get install bubblewrap), or run untrusted code without "
                              "isolation with --unsafe-no-sandbox")
        return "none" if unsafe else best
    if wanted not in BACKENDS:
        raise CurateError(f"unknown sandbox backend {wanted!r}", f"choose one of: auto, {', '.join(BACKENDS)}")
    if wanted == "none" and not unsafe:
        raise CurateError("running code without a sandbox needs --unsafe-no-sandbox")
    if wanted not in have:
        raise CurateError(f"sandbox backend {wanted!r} does not work here", "run `curate doctor` to see what does")
    return wanted


def bwrap_argv(bwrap: str, tmpfs_mb: int) -> list[str]:
    # As root we skip the user namespace (so the zygote can switch samples to an unprivileged host uid,
    # which makes RLIMIT_NPROC bite); everything else `--unshare-all` would unshare, we do.
    unshare = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
               if os.geteuid() == 0 else ["--unshare-all"])
    argv = [bwrap, *unshare, "--die-with-parent", "--new-session", "--as-pid-1", "--cap-drop", "ALL"]
    for cap in CAPS:
        argv += ["--cap-add", cap]
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), top]
        elif path.exists():
            argv += ["--ro-bind", top, top]
    # the private /tmp first: a runtime or checkout under /tmp (a CI clone, say) is bound on top of it
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmpfs_mb << 20), "--tmpfs", "/tmp"]
    extras = [p for p in (*ETC_FILES, "/var/cache/fontconfig") if Path(p).exists()]
    runtimes = sorted(r for r in {sys.base_prefix, sys.prefix} if not r.startswith("/usr"))
    parents = sorted({str(p) for r in (*extras, *runtimes) for p in Path(r).parents if str(p) != "/"}, key=len)
    for parent in parents:  # traversable by the sample's uid (a runtime under /root, say), and empty
        argv += ["--perms", "0755", "--dir", parent]
    for extra in extras:
        argv += ["--ro-bind", extra, extra]
    for runtime in runtimes:
        argv += ["--ro-bind", runtime, runtime]
    argv += ["--ro-bind", str(ZYGOTE), INSIDE_ZYGOTE, "--ro-bind", str(FIGURE_FACTS),
             str(Path(INSIDE_ZYGOTE).with_name(FIGURE_FACTS.name)), "--clearenv", "--chdir", "/tmp"]
    for key, value in ENV.items():
        argv += ["--setenv", key, value]
    return argv


def unshare_argv(unshare: str) -> list[str]:
    user = [] if os.geteuid() == 0 else ["--map-root-user"]  # namespaces without root need a user namespace
    return [unshare, *user, "--net", "--pid", "--fork", "--mount-proc", "--ipc", "--uts", "--kill-child", "--"]


def sample_uid() -> int | None:
    """An unprivileged uid of its own for this worker's samples (so rlimits on processes apply and samples
    of two workers cannot signal each other); None when we are not root and cannot switch."""
    return 61000 + os.getpid() % 4000 if os.geteuid() == 0 else None


def launch(backend: str, tmpfs_mb: int, host_tmp: str) -> Launch:
    """How to start the zygote under `backend`; `host_tmp` is a private folder used when not bwrap."""
    python = sys.executable
    uid = sample_uid()
    tail = ["-I", "-X", "frozen_modules=on"]
    if backend == "bwrap":
        argv = [*bwrap_argv(shutil.which("bwrap") or "bwrap", tmpfs_mb), python, *tail, INSIDE_ZYGOTE,
                str(uid if uid is not None else "-")]
        return Launch(argv, {}, "/", "/tmp")
    env = {**ENV, "HOME": host_tmp, "XDG_CACHE_HOME": f"{host_tmp}/.cache", "MPLCONFIGDIR": f"{host_tmp}/.matplotlib"}
    zygote = [python, *tail, str(ZYGOTE)]
    if backend == "unshare":
        return Launch([*unshare_argv(shutil.which("unshare") or "unshare"), *zygote, str(uid if uid is not None else "-")],
                      env, host_tmp, host_tmp)
    return Launch([*zygote, "-"], env, host_tmp, host_tmp)
