"""What SFT and GRPO runs share: parameters, model loading, progress, the metrics file and lineage."""

from __future__ import annotations

import json
import math
import signal
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import curate
from curate.errors import CurateError, Interrupted
from curate.store import Workspace
from curate.train.data import Loaded, Purpose, read_frame, to_dataset

METRICS_FILE = "metrics.json"


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Folder of a causal LM and its tokenizer, or a Hub id already in the local cache.")
    out: Path = Field(description="Folder for the trained model and metrics.json.")
    max_steps: int = Field(20, ge=1)
    lr: float = Field(gt=0)
    batch_size: int = Field(8, ge=1, description="Sequences per optimiser step (completions for GRPO).")
    seed: int = 0
    split: str | None = Field("train", description="Rows of this `split` value, where the data has a split column.")
    system: str | None = Field(None, description="System prompt prepended to conversational prompts.")
    gradient_checkpointing: bool = False


@dataclass
class TrainResult:
    out: Path
    run_id: str
    metrics: dict[str, Any]


def load_data(ws: Workspace | None, table: str | None, data_dir: Path | None, params: TrainParams,
              purpose: Purpose) -> Loaded:
    return to_dataset(read_frame(ws, table, data_dir, params.split), purpose, params.system)


def load_model(name: str):
    """The model and tokenizer in folder `name`, or cached from the Hub under that id (never downloaded here).

    A tokenizer without a pad token pads with its end token.
    """
    local = Path(name).is_dir()
    if not local and (Path(name).exists() or name.startswith((".", "/")) or name.count("/") != 1):
        raise CurateError(f"no model folder {name}", "make a tiny one with `curate train make-tiny-model OUT`, "
                                                    "or download one first: hf download ORG/NAME --local-dir DIR")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=not local)
        model = AutoModelForCausalLM.from_pretrained(name, local_files_only=not local)
    except OSError as err:
        raise CurateError(f"cannot load model {name!r}: {str(err).splitlines()[0]}",
                          "give a folder with config.json, weights and a tokenizer, or a Hub id already in the "
                          "cache (hf download ORG/NAME)") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise CurateError(f"the tokenizer of {name!r} has no chat template",
                          "curate trains on conversational data; use a chat model (make-tiny-model writes one)")
    return model, tokenizer


def common_args(params: TrainParams) -> dict[str, Any]:
    """Trainer arguments every run uses: log every step to us, save once at the end, no tqdm, no trackers."""
    import torch

    cuda = torch.cuda.is_available()
    return dict(output_dir=str(params.out), max_steps=params.max_steps, learning_rate=params.lr,
                per_device_train_batch_size=params.batch_size, seed=params.seed, data_seed=params.seed,
                logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                bf16=cuda and torch.cuda.is_bf16_supported(), dataloader_pin_memory=cuda,
                gradient_checkpointing=None, activation_checkpointing=params.gradient_checkpointing)


def quiet() -> None:
    """Our progress bar replaces the libraries' bars and per-step prints."""
    import datasets
    import transformers

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")  # their renames, not ours
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def progress_callback(console: Console, label: str, keys: tuple[str, ...]):
    """A TRL callback that shows a progress bar with the latest of `keys` and keeps every log line."""
    from transformers import TrainerCallback

    class Track(TrainerCallback):
        def __init__(self) -> None:
            self.keys = keys
            self.logs: list[dict[str, Any]] = []
            self.progress = Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("steps  {task.fields[last]}"), TimeElapsedColumn(),
                                     console=console, transient=True)
            self.task = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.progress.start()
            self.task = self.progress.add_task(label, total=state.max_steps, last="")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "train_runtime" in logs:
                return
            self.logs.append({"step": state.global_step, **{k: _number(v) for k, v in logs.items()}})
            shown = "  ".join(f"{k} {logs[k]:.4g}" for k in keys if isinstance(logs.get(k), int | float))
            self.progress.update(self.task, completed=state.global_step, last=shown)

        def on_train_end(self, args, state, control, **kwargs):
            self.progress.stop()

    return Track()


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def execute(trainer: Any, tracker: Any, *, kind: str, params: TrainParams, loaded: Loaded,
            ws: Workspace | None, table: str | None, data_dir: Path | None, extra: dict[str, Any],
            console: Console) -> TrainResult:
    """Train, save the model (with its tokenizer), write metrics.json, and record the run in the lineage."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(UTC).replace(tzinfo=None)
    described = {**params.model_dump(mode="json"), **extra}
    record = _recorder(ws if table else None, run_id=run_id, stage=f"train_{kind}", inputs=[table],
                       output=str(params.out), params=described, version=curate.__version__, started_at=started,
                       n_in=loaded.rows, n_kept=len(loaded.dataset), n_filtered=sum(loaded.skipped.values()),
                       n_rejected=0)
    record(status="running")
    clock = time.monotonic()
    try:
        trainer.train()
        trainer.save_model(str(params.out))
    except BaseException as err:
        stopped = isinstance(err, Interrupted | KeyboardInterrupt)  # Ctrl-C, SIGTERM: not a failure
        message = f"{signal.Signals(getattr(err, 'signum', signal.SIGINT)).name}: stopped" if stopped \
            else f"{type(err).__name__}: {err}"[:2000]
        record(status="interrupted" if stopped else "failed", ended_at=datetime.now(UTC).replace(tzinfo=None),
               message=message)
        raise
    metrics = {
        "run_id": run_id, "trainer": kind, "model": params.model, "data": table or str(data_dir),
        "format": loaded.format, "rows": loaded.rows, "trained_rows": len(loaded.dataset),
        "skipped": dict(loaded.skipped), "params": described, "seconds": round(time.monotonic() - clock, 2),
        "steps": tracker.logs,
    }
    params.out.mkdir(parents=True, exist_ok=True)
    (params.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str))
    record(status="done", ended_at=datetime.now(UTC).replace(tzinfo=None), message=f"metrics: {params.out / METRICS_FILE}")
    console.print(f"[bold green]✓[/] [bold]train {kind}[/] → {params.out}  {len(loaded.dataset):,} rows · "
                  f"{len(tracker.logs)} steps · {metrics['seconds']:.1f} s")
    if loaded.skipped:
        console.print("  skipped: " + ", ".join(f"{k} {v:,}" for k, v in loaded.skipped.most_common()))
    moved = [f"{key} {tracker.logs[0][key]:.4g} → {tracker.logs[-1][key]:.4g}" for key in tracker.keys
             if tracker.logs and isinstance(tracker.logs[0].get(key), float) and isinstance(tracker.logs[-1].get(key), float)]
    if moved:
        console.print("  " + " · ".join(moved) + f"  [dim](every step in {params.out / METRICS_FILE})[/]")
    return TrainResult(params.out, run_id, metrics)


def _recorder(ws: Workspace | None, **fixed: Any):
    """Upserts the run's lineage row in `ws` (nothing when training from a folder)."""
    def record(**fields: Any) -> None:
        if ws is not None:
            ws.record_run(**fixed, **fields)
    return record
