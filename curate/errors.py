"""User-facing errors: a message and the fix, printed without a traceback by the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class StageStopped(CurateError):
    """A stage that stopped on purpose before its end (a spending cap reached, a batch still running):
    its run is recorded `interrupted` with this message, and the same command continues it."""
