"""Supervised fine-tuning over TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from rich.console import Console

from curate.store import Workspace
from curate.train.data import Loaded
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
    warn_cut(loaded, tokenizer, params.max_length, console)
    from trl import SFTConfig, SFTTrainer  # slow: after the checks that can fail

    config = SFTConfig(**common_args(params), max_length=params.max_length,
                       assistant_only_loss=params.assistant_only_loss and loaded.format == "messages")
    tracker = progress_callback(console, "sft", ("loss",))
    trainer = SFTTrainer(model=model, args=config, train_dataset=loaded.dataset, processing_class=tokenizer,
                         callbacks=[tracker])
    return execute(trainer, tracker, kind="sft", params=params, loaded=loaded, ws=ws, table=table,
                   data_dir=data_dir, extra={}, console=console)


def warn_cut(loaded: Loaded, tokenizer: Any, max_length: int, console: Console) -> None:
    """Say how many chats are longer than `max_length`: TRL keeps their start, so their end (the answer a
    verifier is trained to write, after a long trajectory) is not trained on, or, with assistant-only loss,
    the row is left out. Counted through the chat template, as TRL tokenizes them."""
    if loaded.format != "messages" or not getattr(tokenizer, "chat_template", None):
        return
    chats = tokenizer.apply_chat_template(list(loaded.dataset["messages"]), tokenize=True, return_dict=True)
    cut = sum(len(ids) > max_length for ids in chats["input_ids"])
    if cut:
        console.print(f"[yellow]warning:[/] {cut:,} of {len(loaded.dataset):,} chats are longer than "
                      f"--max-length {max_length:,} tokens: TRL cuts their end, the answer turn. Fit them "
                      f"before formatting (curate tokens --count chat --template T --budget {max_length}) or "
                      "raise --max-length.")
