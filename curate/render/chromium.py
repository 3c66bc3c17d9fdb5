"""Launching the system Chromium (Debian's `chromium`) through Playwright.

`playwright install` cannot download browsers here, so we always pass `executable_path`. The flags keep
Chromium from dialling out (it retries its background services forever on a closed network otherwise).
`Launcher` starts it for untrusted pages: through a small script that bounds every Chromium process's
memory, turns crash dumps off, ties Chromium's life to the Playwright driver's, and (as root) puts it in a
network and PID namespace of its own; its home folder is a private one, removed with it.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from curate.errors import CurateError

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]
NO_CRASH_DUMPS = ["--disable-breakpad", "--disable-crash-reporter"]


def chromium_path() -> str:
    """The Chromium binary: $CURATE_CHROMIUM, else `chromium` (or `chromium-browser`) on the PATH."""
    for candidate in (os.environ.get("CURATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    raise CurateError("Chromium is not installed",
                      "install Debian's package: apt-get install chromium (make setup does it), "
                      "or set CURATE_CHROMIUM to a Chromium binary")


def launch(playwright, extra_args: Sequence[str] = (), **kwargs):  # noqa: ANN001, ANN201 - Playwright's types
    """A headless Chromium browser from a started `sync_playwright()` (or async) instance."""
    kwargs.setdefault("executable_path", chromium_path())
    return playwright.chromium.launch(headless=True, args=[*FLAGS, *extra_args], **kwargs)


@functools.cache
def _works(*argv: str) -> bool:
    try:
        return subprocess.run([*argv, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Launcher:
    """How one renderer starts Chromium for untrusted pages; `close` removes its private folder.

    - memory: every Chromium process gets RLIMIT_DATA of `mem_mb` (V8 reserves address space it never
      uses, so the data limit, not the address-space one, is what bounds a renderer: a page's typed arrays
      then fail to allocate instead of growing the renderer without end);
    - crash dumps: core dumps off, breakpad off, and a home folder of its own (where Chromium keeps its
      crash database), removed by `close`;
    - lifetime: a parent-death signal (`setpriv`) kills it when the Playwright driver dies, and as PID 1 of
      its own namespace (`unshare --pid`, as root) it takes its renderers with it;
    - network: a network namespace of its own (`unshare --net`, as root): no network whatever a page does.
    """

    def __init__(self, mem_mb: int) -> None:
        self.folder = tempfile.mkdtemp(prefix="curate-chromium-")
        unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
        self.namespaces = bool(unshare and os.geteuid() == 0 and _works(unshare, "--net", "--pid", "--fork", "--"))
        self.tethered = bool(setpriv and _works(setpriv, "--pdeathsig", "KILL", "--"))
        command = [chromium_path()]
        if self.namespaces:
            command = [unshare, "--net", "--pid", "--fork", "--kill-child", "--", *command]
        if self.tethered:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self.script = str(Path(self.folder) / "chromium.sh")
        Path(self.script).write_text(f"#!/bin/sh\nulimit -c 0\nulimit -d {mem_mb * 1024}\n"
                                     f"exec {shlex.join(command)} \"$@\"\n")
        os.chmod(self.script, 0o755)

    def launch_kwargs(self) -> dict:
        home = self.folder
        return {"executable_path": self.script,
                "env": {"HOME": home, "XDG_CONFIG_HOME": f"{home}/.config", "XDG_CACHE_HOME": f"{home}/.cache",
                        "TMPDIR": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}}

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
