"""A client for a stage: the workspace's answer cache, and the spend ledger of the table it writes."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from curate.llm.budget import SpendLedger
from curate.llm.cache import ResponseCache
from curate.llm.client import LLMClient
from curate.llm.config import LLMConfig


def cache_dir(workspace_root: Path) -> Path:
    return workspace_root / "cache" / "llm"


def table_ledger(workspace_root: Path, table: str | None, console: Console | None = None) -> SpendLedger:
    """The spend of the run writing `table` so far, said aloud when earlier runs left some."""
    if table is None:
        return SpendLedger()
    ledger = SpendLedger.for_table(workspace_root, table)
    if ledger.before.requests:
        (console or Console(stderr=True)).print(
            f"[yellow]{table}: earlier runs already spent {ledger.before.describe()}; "
            f"spending caps count it[/]")
    return ledger


def stage_client(config: LLMConfig, workspace_root: Path, table: str | None,
                 ledger: SpendLedger | None = None) -> LLMClient:
    """A client whose answers are cached in the workspace and whose spending caps hold across the runs
    that write `table` (a killed run's requests count for its resumption)."""
    return LLMClient(config, ResponseCache(cache_dir(workspace_root)),
                     ledger or table_ledger(workspace_root, table))
