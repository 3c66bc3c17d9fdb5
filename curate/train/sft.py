"""Supervised fine-tuning over TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from rich.console import Console

from curate.store import Workspace
from curate.train.run import (
    TrainParams,
    TrainResult,
    common_args,
    execute,
    load_data,
    load_model,
    progress_callback,
)


class SFTParams(TrainParams):
    lr: float = Field(2e-5, gt=0)
    max_length: int = Field(1024, ge=8, description="Tokens per sequence; longer ones are truncated.")
    assistant_only_loss: bool = Field(False, description="Loss on assistant turns only (conversational data).")


def train_sft(params: SFTParams, *, ws: Workspace | None = None, table: str | None = None,
              data_dir: Path | None = None, console: Console | None = None) -> TrainResult:
    """Fine-tune `params.model` on a table of `ws` or the files under `data_dir`; see `curate.train.data`."""
    console = console or Console(stderr=True)
    loaded = load_data(ws, table, data_dir, params, "sft")
    model, tokenizer = load_model(params.model)
    from trl import SFTConfig, SFTTrainer  # slow: after the checks that can fail

    config = SFTConfig(**common_args(params), max_length=params.max_length,
                       assistant_only_loss=params.assistant_only_loss and loaded.format == "messages")
    tracker = progress_callback(console, "sft", ("loss",))
    trainer = SFTTrainer(model=model, args=config, train_dataset=loaded.dataset, processing_class=tokenizer,
                         callbacks=[tracker])
    warn_cut(trainer.train_dataset, len(loaded.dataset), params.max_length, console)
    return execute(trainer, tracker, kind="sft", params=params, loaded=loaded, ws=ws, table=table,
                   data_dir=data_dir, extra={}, console=console)


def warn_cut(prepared: Any, n_rows: int, max_length: int, console: Console) -> None:
    """Say how many rows TRL cut at `max_length`: it keeps their start, so the end of a long chat (the
    answer a verifier is trained to write, after a long trajectory) is not trained on, or, with
    assistant-only loss, the row is left out."""
    if "input_ids" not in getattr(prepared, "column_names", ()):
        return
    cut = sum(len(ids) >= max_length for ids in prepared["input_ids"])
    dropped = n_rows - len(prepared)
    if cut or dropped:
        console.print(f"[yellow]warning:[/] {cut + dropped:,} of {n_rows:,} rows are longer than --max-length "
                      f"{max_length:,} tokens: their ends (the answer turn) are cut"
                      + (f", {dropped:,} left out with no answer left" if dropped else "")
                      + f". Fit them before formatting (curate tokens --count chat --template T --budget "
                        f"{max_length}) or raise --max-length.")
