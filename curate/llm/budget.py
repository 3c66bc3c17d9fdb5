"""Spending caps held in the workspace, so `--max-requests N` means N in all, across kills and resumes.

A stage that writes table T keeps what it spent in `workspace/cache/spend/T/` (append-only segments,
`curate.llm.durable`): one record per HTTP request, written durably *before* the request is sent, and one
per answer with its tokens and cost. A run that stops before T is committed (killed, or stopped by a cap)
leaves the count behind, and the next run of T starts from it, with the same or another cap. Once T is
committed (its manifest is newer than the last record) the count is closed: the next run starts at zero.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from curate.llm.durable import SegmentLog


@dataclass
class Spent:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def describe(self) -> str:
        return f"{self.requests:,} requests, {self.tokens:,} tokens, ${self.cost_usd:.4f}"


@dataclass(frozen=True)
class Caps:
    max_requests: int | None = None
    max_tokens_total: int | None = None
    max_cost_usd: float | None = None

    def reached(self, spent: Spent) -> str | None:
        """Why no further request may be sent, or None."""
        if self.max_requests is not None and spent.requests >= self.max_requests:
            return f"max_requests reached ({self.max_requests} requests)"
        if self.max_tokens_total is not None and spent.tokens >= self.max_tokens_total:
            return f"max_tokens_total reached ({spent.tokens:,} of {self.max_tokens_total:,} tokens)"
        if self.max_cost_usd is not None and spent.cost_usd >= self.max_cost_usd:
            return f"max_cost_usd reached (${spent.cost_usd:.4f} of ${self.max_cost_usd:g})"
        return None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.max_requests, self.max_tokens_total, self.max_cost_usd))


class SpendLedger:
    """Totals spent for one output table (`folder` None: this process only, nothing kept)."""

    def __init__(self, folder: Path | None = None, committed: Path | None = None):
        self.spent = Spent()
        self._log = SegmentLog(folder, "spend") if folder is not None else None
        if self._log is not None:
            segments = self._log.segments()
            if segments and committed is not None and committed.exists() and \
                    committed.stat().st_mtime >= max(p.stat().st_mtime for p in segments):
                for path in segments:  # spent by runs whose table was committed since: closed
                    path.unlink()
            for _, record in self._log.records():
                self._add(record)
        self.before = copy.copy(self.spent)  # what earlier runs spent, shown at start

    @classmethod
    def for_table(cls, workspace_root: Path, table: str) -> SpendLedger:
        return cls(workspace_root / "cache" / "spend" / table, workspace_root / "tables" / table / "_manifest.json")

    def _add(self, record: dict) -> None:
        self.spent.requests += int(record.get("requests", 0))
        self.spent.prompt_tokens += int(record.get("prompt_tokens", 0))
        self.spent.completion_tokens += int(record.get("completion_tokens", 0))
        self.spent.cost_usd += float(record.get("cost_usd", 0.0))

    async def reserve(self) -> None:
        """Count one request before it is sent (on disk when this returns)."""
        await self._append({"requests": 1})

    async def record(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        await self._append({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                            "cost_usd": cost_usd})

    async def _append(self, record: dict) -> None:
        self._add(record)  # counted at once, so concurrent requests see it before the write completes
        if self._log is not None:
            await self._log.append_async("spend", record)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
