"""cgroup folders for the samples of one worker, where this machine lets us make them.

With cgroup v1 `memory` and `pids` controllers writable (as root), each worker gets a folder in each, below
the cgroup it runs in (so whatever limits the machine puts on us still hold), and the zygote makes one
sub-folder per sample: memory and process limits then hold for the sample as a whole, however many processes
it starts. Without them, the limits fall back to rlimits per process. cgroup v2 needs a delegated subtree
(its "no internal processes" rule), which we do not set up: there, too, the rlimits apply.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from pathlib import Path

from curate.sandbox.room import remove_cgroup

MOUNT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
PREFIX = "curate-"


def own(controller: str) -> Path | None:
    """Our process's cgroup folder in a v1 `controller` hierarchy, if we may write there."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            folder = MOUNT / controller / path.lstrip("/")
            return folder if (folder / "cgroup.procs").is_file() and os.access(folder, os.W_OK) else None
    return None


@functools.cache
def available() -> bool:
    """Whether samples get cgroups: v1 `memory` and `pids` writable here, and a folder can be made and removed."""
    if os.geteuid() != 0 or not all(own(c) for c in CONTROLLERS):
        return False
    try:
        WorkerGroups().close()
    except OSError:
        return False
    return True


def guarantee() -> str:
    """Which memory and process limits are in force, in words (for `curate doctor` and the README)."""
    if available():
        return "cgroup v1 memory and pids: limits hold for each sample as a whole (all its processes)"
    return ("rlimits only: memory (address space) and processes are limited per process, so a sample with "
            "several processes can use several times --memory-mb (no writable cgroup v1 memory and pids here)")


def remove(folder: Path) -> None:
    """Remove a cgroup folder and its sub-folders, killing whatever is still in them."""
    for child in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True) if folder.is_dir() else []:
        remove(child)
    remove_cgroup(str(folder))


def sweep_stale() -> None:
    """Remove the folders of workers that were killed before they could remove their own."""
    for controller in CONTROLLERS:
        parent = own(controller)
        for folder in parent.glob(f"{PREFIX}*") if parent else []:
            owner = re.match(rf"{PREFIX}(\d+)-", folder.name)
            if owner and not Path(f"/proc/{owner.group(1)}").exists():
                remove(folder)


class WorkerGroups:
    """One worker's folder in each controller; `paths` maps controller to folder."""

    def __init__(self) -> None:
        sweep_stale()
        name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.paths: dict[str, Path] = {}
        try:
            for controller in CONTROLLERS:
                folder = own(controller) / name  # type: ignore[operator]
                folder.mkdir()
                self.paths[controller] = folder
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        for folder in self.paths.values():
            remove(folder)
        self.paths = {}
