"""Run a stage over a workspace: resumable, parallel, accounted for, recorded in the lineage.

A stage's output is built in `tables/.staging/<name>/`, one shard per unit; a shard is done when its
`_done/<key>.json` exists (written last, atomically), so a re-run after a kill redoes only unfinished
units, and because units and their order are fixed, it ends with exactly the rows of an unbroken run.
The finished folder becomes the table's new version in one rename (`Workspace.commit`).

How a run ends: `done`; `interrupted` by SIGINT / SIGTERM (`Interrupted`) or by a stage stopping on
purpose (`RunStopped`), with what was finished; `failed` with the error, a full disk or a read-only
workspace told as such (`os_fault`). In every case the finished shards stay for the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

import curate
from curate.engines import engine_name, run_on_ray
from curate.errors import CurateError, Interrupted, RunStopped, os_fault, unknown
from curate.records import content_hash
from curate.stage import Outcome, Stage, Unit
from curate.store import runs
from curate.store.atomic import TMP_GLOB, remove_leftovers, write_json, write_parquet
from curate.store.workspace import Workspace, check_table_name
from curate.workers import run_in_pool

REJECT_SCHEMA = pa.schema([(n, pa.string()) for n in
                           ("table_name", "run_id", "stage", "row_id", "reason", "message", "location", "payload")])
FILTERED_SCHEMA = pa.schema([(n, pa.string()) for n in ("table_name", "run_id", "stage", "row_id", "reason", "detail")])
EMPTY_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string())])


@dataclass
class RunSummary:
    stage: str
    output: str
    run_id: str
    n_in: int = 0
    kept: int = 0
    filtered: int = 0
    rejected: int = 0
    seconds: float = 0.0
    skipped: bool = False
    reasons: Counter = field(default_factory=Counter)

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.n_in if self.n_in else 0.0


def fingerprint(stage: Stage, ws: Workspace, inputs: list[str]) -> str:
    upstream = [(name, (ws.manifest(name) or {}).get("fingerprint")) for name in inputs]
    return content_hash({"stage": stage.name, "version": stage.version, "params": stage.describe(),
                         "inputs": upstream, "extra": stage_inputs_key(stage)})


def stage_inputs_key(stage: Stage) -> Any:
    """What a stage reads besides tables (source files, say), so that a change there re-runs it."""
    key = getattr(stage, "inputs_key", None)
    return key() if callable(key) else None


def run_stage(ws: Workspace, stage: Stage, inputs: list[str], output: str, *, force: bool = False,
              recipe_hash: str | None = None, workers: int | None = None, engine: str | None = None,
              console: Console | None = None) -> RunSummary:
    """Run `stage` on the `inputs` tables of `ws`, writing table `output`.

    `engine` is `local` (a process pool) or `ray` (Ray Data); by default $CURATE_ENGINE, else local.
    """
    check_table_name(output)
    console = console or Console(stderr=True)
    with ws.writer():
        for name in inputs:
            ws.require(name)
        _check_columns(ws, stage, inputs)
        fp = fingerprint(stage, ws, inputs)
        done = ws.manifest(output) if output in ws.table_names() else None
        if done and done.get("fingerprint") == fp and not force:
            counts = done["counts"]
            return RunSummary(stage.name, output, done["run_id"], counts["in"], counts["kept"],
                              counts["filtered"], counts["rejected"], skipped=True)
        return _execute(ws, stage, inputs, output, fp, recipe_hash, workers, engine_name(engine), console)


def _check_columns(ws: Workspace, stage: Stage, inputs: list[str]) -> None:
    if not inputs:
        return
    have = ws.columns(inputs[0])
    for column in stage.reads:
        if column not in have:
            raise unknown(f"column of table {inputs[0]!r} (stage {stage.name} reads it)", column, have)
    stage.check(ws.scan(inputs[0]).head(0).collect())


def _execute(ws: Workspace, stage: Stage, inputs: list[str], output: str, fp: str,
             recipe_hash: str | None, workers: int | None, engine: str, console: Console) -> RunSummary:
    staging = ws.staging_dir / output
    marker = staging / "_fingerprint"
    resumed = marker.exists() and marker.read_text() == fp and (staging / "_run_id").exists()
    run_id = json.loads((staging / "_run_id").read_text()) if resumed else uuid.uuid4().hex[:12]
    started = datetime.now(UTC).replace(tzinfo=None)
    ws.record_run(run_id=run_id, stage=stage.name, inputs=inputs, output=output, params=stage.describe(),
                  fingerprint=fp, recipe_hash=recipe_hash, version=curate.__version__, started_at=started,
                  status="running", ended_at=None, message="resumed" if resumed else None)
    clock = time.monotonic()
    units: list[Unit] = []
    try:
        if not resumed and staging.exists():  # another stage or parameters: start again
            shutil.rmtree(staging)
        remove_leftovers(staging.rglob(TMP_GLOB))  # half-written shards of a killed run
        staging.mkdir(parents=True, exist_ok=True)
        marker.write_text(fp)
        write_json(run_id, staging / "_run_id")
        # the writer lock keeps every table as it is: stages see parts under `tables/<name>/` (not the
        # version's folder), as some name a table by its folder
        input_parts = [ws.table_dir(name) / p.name for name in inputs for p in ws.parts(name)]
        stage.workdir = staging
        units = stage.units(input_parts)
        todo = [u for u in units if not (staging / "_done" / f"{u.key}.json").exists()]
        _run_units(stage, todo, len(units), staging, output, run_id, workers, engine, console)
        stage.finish(output, run_id)
        summary = _commit(ws, stage, inputs, output, fp, run_id, recipe_hash, staging, started)
    except BaseException as err:
        raise _ended(ws, run_id, stage, output, staging, len(units), err) from None
    summary.seconds = time.monotonic() - clock
    return summary


def _ended(ws: Workspace, run_id: str, stage: Stage, output: str, staging: Path, n_units: int,
           err: BaseException) -> BaseException:
    """Record how a run that did not finish ended; returns the error to raise in its place."""
    remove_leftovers(staging.rglob(TMP_GLOB))  # the workers are gone: free what they were writing
    finished = f"{len(list(staging.glob('_done/*.json')))} of {n_units} shards done"
    if isinstance(err, (Interrupted, KeyboardInterrupt)):
        signum = getattr(err, "signum", signal.SIGINT)
        status, message = "interrupted", f"{signal.Signals(signum).name}: {finished}"
        err = Interrupted(signum, f"{stage.name} → {output}: {finished}")
    elif isinstance(err, RunStopped):
        status, message = "interrupted", f"{err.message} ({finished})"
    else:
        err = os_fault(err, staging) or err
        status, message = "failed", (str(err) if isinstance(err, CurateError) else f"{type(err).__name__}: {err}")[:2000]
    try:
        ws.record_run(run_id=run_id, status=status, ended_at=datetime.now(UTC).replace(tzinfo=None), message=message)
    except OSError:  # a disk too full even for the record: the next writer marks the run interrupted
        pass
    return err


# ----- units ------------------------------------------------------------------------------------
def write_shard(stage: Stage, unit: Unit, staging: Path, output: str, run_id: str) -> dict[str, int]:
    try:
        return _write_shard(stage, unit, staging, output, run_id)
    except OSError as err:  # told here, where the path is known, and as an error that crosses processes
        raise os_fault(err, staging) or err from None


def _write_shard(stage: Stage, unit: Unit, staging: Path, output: str, run_id: str) -> dict[str, int]:
    outcome: Outcome = stage.run_unit(unit)
    outcome.check(unit)
    kept = outcome.kept_table()
    name = f"part-{unit.key}.parquet"
    if kept.num_rows:
        write_parquet(kept, staging / name)
    if outcome.rejected:
        rows = [{"table_name": output, "run_id": run_id, "stage": stage.name, "row_id": r.row_id,
                 "reason": r.reason, "message": r.message, "location": r.location, "payload": r.payload}
                for r in outcome.rejected]
        write_parquet(pa.Table.from_pylist(rows, schema=REJECT_SCHEMA), staging / "_rejects" / name)
    if outcome.filtered:
        rows = [{"table_name": output, "run_id": run_id, "stage": stage.name, "row_id": f.row_id,
                 "reason": f.reason, "detail": json.dumps(f.detail, sort_keys=True, default=str) if f.detail else None}
                for f in outcome.filtered]
        write_parquet(pa.Table.from_pylist(rows, schema=FILTERED_SCHEMA), staging / "_filtered" / name)
    counts = {"in": outcome.n_in, "kept": kept.num_rows, "filtered": len(outcome.filtered),
              "rejected": len(outcome.rejected),
              "reasons": dict(Counter(r.reason for r in outcome.rejected) + Counter(f.reason for f in outcome.filtered))}
    write_json(counts, staging / "_done" / f"{unit.key}.json")
    return counts


def _workers(stage: Stage, n_units: int, workers: int | None) -> int:
    if not stage.parallel or n_units < 2:
        return 1
    wanted = workers or int(os.environ.get("CURATE_WORKERS", "0")) or os.cpu_count() or 1
    return max(1, min(wanted, n_units))


def _run_units(stage: Stage, todo: list[Unit], total: int, staging: Path, output: str, run_id: str,
               workers: int | None, engine: str, console: Console) -> None:
    n_workers = _workers(stage, len(todo), workers)
    columns = (SpinnerColumn(), TextColumn(f"[bold]{stage.name}[/] → {output}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("shards"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(stage.name, total=total, completed=total - len(todo))
        if engine == "ray" and stage.parallel and todo:
            for _ in run_on_ray(stage, todo, staging, output, run_id, n_workers, write_shard):
                progress.advance(task)
            return
        if n_workers == 1:
            stage.setup()
            try:
                for unit in todo:
                    write_shard(stage, unit, staging, output, run_id)
                    progress.advance(task)
            finally:
                stage.teardown()
            return
        for _ in run_in_pool(stage, todo, n_workers, write_shard, staging, output, run_id):
            progress.advance(task)


# ----- commit -----------------------------------------------------------------------------------
def _commit(ws: Workspace, stage: Stage, inputs: list[str], output: str, fp: str, run_id: str,
            recipe_hash: str | None, staging: Path, started: datetime) -> RunSummary:
    summary = RunSummary(stage.name, output, run_id)
    for path in sorted((staging / "_done").glob("*.json")):
        counts = json.loads(path.read_text())
        summary.n_in += counts["in"]
        summary.kept += counts["kept"]
        summary.filtered += counts["filtered"]
        summary.rejected += counts["rejected"]
        summary.reasons.update(counts["reasons"])
    _unify_parts(stage, staging)
    ended = datetime.now(UTC).replace(tzinfo=None)
    write_json({"stage": stage.name, "stage_version": stage.version, "params": stage.describe(),
                "inputs": inputs, "fingerprint": fp, "run_id": run_id, "recipe_hash": recipe_hash,
                "curate_version": curate.__version__, "started_at": started.isoformat(),
                "ended_at": ended.isoformat(), "reasons": dict(summary.reasons),
                "counts": {"in": summary.n_in, "kept": summary.kept, "filtered": summary.filtered,
                           "rejected": summary.rejected}}, staging / "_manifest.json")
    for leftover in ("_done", "_fingerprint", "_run_id", "_work"):
        path = staging / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    ws.commit(staging, output, run_id)
    ws.record_run(run_id=run_id, **runs.done_fields(ws.manifest(output) or {}))
    ws.refresh_catalog()
    return summary


def _unify_parts(stage: Stage, staging: Path) -> None:
    """Give every part one schema (sources without a kind may vary); write an empty part if none."""
    parts = sorted(staging.glob("part-*.parquet"))
    if not parts:
        write_parquet((stage.output_schema() or EMPTY_SCHEMA).empty_table(), staging / "part-00000-00000.parquet")
        return
    schemas = [pq.read_schema(p) for p in parts]
    if all(s.equals(schemas[0]) for s in schemas):
        return
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise CurateError(f"the shards of this table disagree on column types: {err}",
                          "give the rows a record kind with --kind, or rename fields with --map") from None
    for path, schema in zip(parts, schemas, strict=True):
        if not schema.equals(unified):
            table = pq.read_table(path)
            columns = {f.name: (table[f.name].cast(f.type) if f.name in table.column_names
                                else pa.nulls(table.num_rows, f.type)) for f in unified}
            write_parquet(pa.table(columns, schema=unified), path)
