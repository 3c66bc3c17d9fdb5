"""User-facing errors: a message and the fix, printed without a traceback by the CLI."""

from __future__ import annotations

import difflib
import errno
import re
import shutil
import signal
from collections.abc import Iterable
from pathlib import Path


class CurateError(Exception):
    """An error the user can fix; `hint` says how."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):  # keep the hint when raised in a worker process
        return (type(self), (self.message, self.hint))

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice that looks most like `name`, if any looks close enough."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown(what: str, name: str, choices: Iterable[str]) -> CurateError:
    """An error for an unknown table, stage, column or key that names the closest match."""
    choices = sorted(set(choices))
    guess = closest(name, choices)
    hint = f"did you mean {guess!r}?" if guess else (
        f"choose one of: {', '.join(choices)}" if choices else f"there is no {what} yet"
    )
    return CurateError(f"unknown {what} {name!r}", hint)


class RunStopped(CurateError):
    """A stage stops on purpose before its work is done (say a spending cap is reached): the runner keeps
    the finished shards, records the run `interrupted` with this message, and the next run resumes."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the command; `detail` says what was finished. The CLI prints one line with
    the command that resumes, and exits 128 + the signal's number (130, 143). Not an `Exception`, so that
    no `except Exception` swallows it, nor a `KeyboardInterrupt`, which Typer would swallow."""

    def __init__(self, signum: int = signal.SIGINT, detail: str | None = None):
        super().__init__(signal.Signals(signum).name, detail)
        self.signum = signum
        self.detail = detail


_FAULTS = (  # errno, words in messages of libraries that drop the errno (DuckDB, Polars), what it is
    ({errno.ENOSPC, errno.EDQUOT}, ("No space left on device", "Disk quota exceeded"), "full"),
    ({errno.EROFS}, ("Read-only file system",), "read-only"),
    ({errno.EACCES, errno.EPERM}, ("Permission denied",), "denied"),
)
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def os_fault(err: BaseException, where: Path | None = None) -> CurateError | None:
    """A full disk, a read-only file system or a denied permission, as one error naming the path and the
    fix; None for any other error. `where` is the folder being written when the error does not say."""
    if isinstance(err, CurateError):
        return None
    text = str(err)
    code = getattr(err, "errno", None)
    kind = next((k for codes, words, k in _FAULTS if code in codes or any(w in text for w in words)), None)
    if kind is None:
        return None
    found = _QUOTED_PATH.search(text)
    path = Path(getattr(err, "filename", None) or (found[1] if found else None) or where or Path.cwd())
    if kind == "full":
        return CurateError(f"no space left on the disk holding {path} ({_free_mb(path):.1f} MB free)",
                           "free some space there (or point --workspace / CURATE_WORKSPACE at a larger disk), then "
                           "run the same command again: it resumes where it stopped")
    if kind == "read-only":
        return CurateError(f"{path} is on a read-only file system",
                           "point --workspace / CURATE_WORKSPACE at a writable folder; commands that only read "
                           "(ls, show, sql, stats, export) work on a read-only workspace")
    return CurateError(f"permission denied: {path}",
                       f"give your user access (chmod -R u+rwX {_existing(path)}, or chown), or choose another folder")


def _free_mb(path: Path) -> float:
    return shutil.disk_usage(_existing(path)).free / 2**20


def _existing(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists."""
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path
