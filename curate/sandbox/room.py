"""The clean room of one sample, set up by the zygote: namespaces, a fresh /tmp, a cgroup.

Each sample runs as pid 2 of a PID namespace of its own under a small init (pid 1, our code): when init
exits, the kernel kills whatever the sample left, by membership. Its mount namespace sees the system
read-only and without setuid, with fresh tmpfs on `/tmp`, `/dev/shm` and `/var/tmp` and a `/proc` that shows
only its own processes; its IPC namespace is its own. Nothing of it outlives the sample. Where the host
gave us cgroup folders, the sample gets a cgroup of its own in each, with its memory and process limits.
Standalone (standard library only), bound into the sandbox beside the zygote.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_PRIVATE = 0x2, 0x4, 0x8, 1 << 18
AT_FDCWD, AT_RECURSIVE, AT_EMPTY_PATH = -100, 0x8000, 0x1000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
OPEN_TREE_CLONE, MOVE_MOUNT_F_EMPTY_PATH = 0x1, 0x4
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442  # the same on every architecture
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
WORKDIR = "/tmp/work"


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def prctl(option: int, value: int) -> None:
    _check(LIBC.prctl(option, value, 0, 0, 0), "prctl")


def unshare(flags: int) -> None:
    _check(LIBC.unshare(flags), "unshare")


def setns(fd: int, kind: int) -> None:
    _check(LIBC.setns(fd, kind), "setns")


def mount(source: str, target: str, fstype: str, flags: int, data: str = "") -> None:
    _check(LIBC.mount(source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode()),
           f"mount {target}")


def fresh_tmp(size_mb: int, keep: list[str]) -> None:
    """A new, empty tmpfs on /tmp; `keep` (the Python runtime, when it lives under /tmp) stays visible."""
    trees = [(path, _check(LIBC.syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(), OPEN_TREE_CLONE | AT_RECURSIVE
                                        | os.O_CLOEXEC), f"open_tree {path}")) for path in keep]
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,nr_inodes=65536,mode=1777")
    for path, fd in trees:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _check(LIBC.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, path.encode(), MOVE_MOUNT_F_EMPTY_PATH),
               f"move_mount {path}")
        os.close(fd)


def enter(size_mb: int, uid: int | None, keep: list[str]) -> str:
    """In the sample's init (pid 1 of a new PID namespace, still privileged): make its private world.
    Returns its work folder."""
    unshare(CLONE_NEWNS | CLONE_NEWIPC)
    attr = MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, MS_PRIVATE, 0)
    _check(LIBC.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)),
           "mount_setattr")  # private first: nothing mounted below reaches the zygote or the host
    fresh_tmp(size_mb, keep)
    for shared in ("/dev/shm", "/var/tmp"):
        if os.path.isdir(shared) and not os.path.islink(shared):
            mount("tmpfs", shared, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,nr_inodes=4096,mode=1777")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.mkdir(WORKDIR, 0o700)
    if uid is not None:
        os.chown(WORKDIR, uid, uid)
    return WORKDIR


def others_in_namespace() -> int:
    """Processes of this PID namespace besides its init (us), zombies included: what the sample left."""
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit() and entry != "1")


def kill_all(members: Callable[[], list[int]]) -> int:
    """SIGKILL the processes `members()` lists until it lists none (they may start others meanwhile);
    returns how many there were at first."""
    first = None
    for _ in range(100):
        pids = members()
        first = len(pids) if first is None else first
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    return first or 0


def _children() -> list[int]:
    reap()  # (the dead ones)
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and f.read().rsplit(")", 1)[1].split()[1] == me:
                    found.append(int(entry))
        except (OSError, IndexError):
            continue
    return found


def kill_children() -> int:
    """Without namespaces (the unsafe `none` backend): kill our children until none is left (we are a
    subreaper, so orphans of the sample come back to us); returns how many there were at first."""
    return kill_all(_children)


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class SampleCgroup:
    """The sample's own cgroup in each controller folder the host handed over (cgroup v1 `memory`, `pids`)."""

    def __init__(self, roots: dict[str, str], name: str, mem_mb: int, nproc: int):
        self.dirs = {controller: os.path.join(root, name) for controller, root in roots.items()}
        for path in self.dirs.values():
            remove_cgroup(path)  # one left by a zygote killed mid-sample
            os.mkdir(path)
        if "memory" in self.dirs:
            self._write("memory", "memory.limit_in_bytes", mem_mb << 20)
            if os.path.exists(os.path.join(self.dirs["memory"], "memory.memsw.limit_in_bytes")):
                self._write("memory", "memory.memsw.limit_in_bytes", mem_mb << 20)  # no escape into swap
        if "pids" in self.dirs:
            self._write("pids", "pids.max", nproc)
        self.join_fds = [os.open(os.path.join(p, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
                         for p in self.dirs.values()]

    def _write(self, controller: str, name: str, value: int) -> None:
        with open(os.path.join(self.dirs[controller], name), "w") as f:
            f.write(str(value))

    def _read(self, controller: str, name: str) -> str:
        with open(os.path.join(self.dirs[controller], name)) as f:
            return f.read()

    def join(self) -> None:
        """In the sample's init: move ourselves in (the sample and all it starts follow)."""
        for fd in self.join_fds:
            os.write(fd, b"0")
        self.close_fds()

    def close_fds(self) -> None:
        for fd in self.join_fds:
            os.close(fd)
        self.join_fds = []

    def stats(self) -> dict[str, int]:
        """`peak_bytes` (all its processes together), `oom_kills`, `fork_refusals`."""
        found = {}
        if "memory" in self.dirs:
            found["peak_bytes"] = int(self._read("memory", "memory.max_usage_in_bytes"))
            oom = dict(line.split() for line in self._read("memory", "memory.oom_control").splitlines())
            found["oom_kills"] = int(oom.get("oom_kill", 0))
        if "pids" in self.dirs and os.path.exists(os.path.join(self.dirs["pids"], "pids.events")):
            found["fork_refusals"] = int(dict(line.split() for line in self._read("pids", "pids.events")
                                              .splitlines()).get("max", 0))
        return found

    def remove(self) -> None:
        for path in self.dirs.values():
            remove_cgroup(path)  # (already empty when init is gone: a safeguard)


def _members(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def remove_cgroup(path: str) -> None:
    """Kill whatever is still in a cgroup folder (v1 has no `cgroup.kill`), then remove it."""
    kill_all(lambda: _members(path))
    for _ in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:  # (busy for a moment while the last member exits)
            time.sleep(0.01)
