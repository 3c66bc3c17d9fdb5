"""Sandbox backends: bubblewrap where it works, else `unshare`, else (only when asked) none.

Each backend turns "run the zygote" into an argv, an environment and the zygote's configuration.
bubblewrap gives the zygote a private pid, network, IPC and UTS namespace and a view of the system
read-only (/usr, /lib*, /bin, a few files of /etc, the Python runtime and the venv), a private /tmp and
nothing else: no home, no workspace. `unshare` gives the namespaces but not that view: there each sample
sees the host's files read-only, and its unprivileged uid and the file permissions are what keep it out of
the host's secrets. Under both, the zygote gives every sample a clean room of its own (`room.py`).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from curate.errors import CurateError

HERE = Path(__file__).parent  # the zygote and the standalone modules it imports
INSIDE = "/opt/curate"
INSIDE_CGROUPS = "/run/curate-cgroup"
ETC_FILES = ("/etc/fonts", "/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/mime.types")
ENV = {"HOME": "/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
       "MPLBACKEND": "Agg", "XDG_CACHE_HOME": "/tmp/.cache", "MPLCONFIGDIR": "/tmp/.matplotlib"}
# Only what the zygote needs to build each sample's namespaces and mounts, give it its folder and uid, and
# kill what its cgroup still holds; the sample itself keeps none of them.
CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL")
BACKENDS = ("bwrap", "unshare", "none")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str


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


def runtimes() -> list[str]:
    """The Python runtime and its virtual environment, where they are not part of /usr."""
    return sorted(r for r in {sys.base_prefix, sys.prefix} if not r.startswith("/usr"))


def kept_under_tmp(backend: str) -> list[str]:
    """What a fresh /tmp must not hide when it lives under /tmp (a CI clone, say): the Python runtime, and
    outside bubblewrap (which binds it at /opt/curate) the zygote's own folder."""
    paths = [*runtimes(), *([] if backend == "bwrap" else [str(HERE)])]
    return [p for p in paths if p.startswith("/tmp/")]


def bwrap_argv(bwrap: str, tmpfs_mb: int) -> list[str]:
    # As root we skip the user namespace (so the zygote can switch samples to unprivileged host uids,
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
    parents = sorted({str(p) for r in (*extras, *runtimes()) for p in Path(r).parents if str(p) != "/"}, key=len)
    for parent in parents:  # traversable by the sample's uid (a runtime under /root, say), and empty
        argv += ["--perms", "0755", "--dir", parent]
    for extra in extras:
        argv += ["--ro-bind", extra, extra]
    for runtime in runtimes():
        argv += ["--ro-bind", runtime, runtime]
    argv += ["--ro-bind", str(HERE), INSIDE, "--clearenv", "--chdir", "/tmp"]
    for key, value in ENV.items():
        argv += ["--setenv", key, value]
    return argv


def unshare_argv(unshare: str) -> list[str]:
    user = [] if os.geteuid() == 0 else ["--map-root-user"]  # namespaces without root need a user namespace
    return [unshare, *user, "--net", "--pid", "--fork", "--mount-proc", "--ipc", "--uts", "--kill-child", "--"]


def uid_base() -> int | None:
    """The first of the 65,536 unprivileged uids this worker gives its samples, one each in turn (so that
    rlimits on processes count one sample only, and no sample shares a uid with another that runs or ran
    recently); None when we are not root and cannot switch."""
    return (1 << 30) + (os.getpid() % (1 << 14)) * (1 << 16) if os.geteuid() == 0 else None


def launch(backend: str, tmpfs_mb: int, host_tmp: str | None, cgroups: dict[str, str] | None) -> Launch:
    """How to start the zygote under `backend`. `host_tmp`: a private folder for the unsafe `none` backend;
    `cgroups`: the worker's cgroup folders by controller, or None (rlimits only)."""
    tail = [sys.executable, "-I", "-X", "frozen_modules=on"]
    keep = kept_under_tmp(backend)
    config = {"clean": backend != "none", "own_tmp": backend == "unshare", "tmpfs_mb": tmpfs_mb, "keep": keep,
              "uid_base": uid_base(), "cgroups": cgroups}
    if backend == "bwrap":
        argv = bwrap_argv(shutil.which("bwrap") or "bwrap", tmpfs_mb)
        if cgroups:
            config["cgroups"] = {c: f"{INSIDE_CGROUPS}/{c}" for c in cgroups}
            for controller, path in cgroups.items():
                argv += ["--dir", f"{INSIDE_CGROUPS}/{controller}", "--bind", path, f"{INSIDE_CGROUPS}/{controller}"]
        return Launch([*argv, *tail, f"{INSIDE}/zygote.py", json.dumps(config)], {}, "/")
    zygote = [*tail, str(HERE / "zygote.py"), json.dumps(config)]
    if backend == "unshare":
        return Launch([*unshare_argv(shutil.which("unshare") or "unshare"), *zygote], ENV, "/")
    env = {**ENV, "HOME": host_tmp, "TMPDIR": host_tmp, "XDG_CACHE_HOME": f"{host_tmp}/.cache",
           "MPLCONFIGDIR": f"{host_tmp}/.matplotlib"}
    return Launch(zygote, env, host_tmp or "/")
