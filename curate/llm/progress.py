"""A progress bar for model calls: answers, requests, tokens, dollars spent and projected for the table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from curate.llm.budget import SpendLedger


class SpendProgress:
    """`total` answers to get for the whole table, `done` of them already there (finished shards)."""

    def __init__(self, label: str, total: int, done: int, ledger: SpendLedger, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.ledger = ledger
        self.total, self.done_before, self.done = total, done, done
        self._progress = Progress(
            TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("answers"),
            TextColumn("{task.fields[spend]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False, disable=not self.console.is_terminal)
        self._task = self._progress.add_task(label, total=total, completed=done, spend=self._spend())

    def _spend(self) -> str:
        spent = self.ledger.spent
        line = f"· {spent.requests:,} requests · {spent.tokens:,} tokens · ${spent.cost_usd:.4f}"
        fresh = self.done - self.done_before
        if fresh and spent.cost_usd:
            now = spent.cost_usd - self.ledger.before.cost_usd
            line += f" (≈ ${self.ledger.before.cost_usd + now * (self.total - self.done_before) / fresh:.4f} for all)"
        return line

    def __enter__(self) -> SpendProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._progress.update(self._task, advance=n, spend=self._spend())

    def summary(self) -> str:
        return f"{self.done:,} of {self.total:,} answers {self._spend()}"
