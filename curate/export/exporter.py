"""`export_table`: a workspace table to a folder of Parquet or JSONL shards (or the Hub layout) plus its card."""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
from rich.progress import Progress

from curate.errors import CurateError, os_fault
from curate.export import card as cards
from curate.export.formats import Mapping, Plan, apply, plan
from curate.export.images import embed, image_columns
from curate.export.lineage import lineage, recipes_of
from curate.export.stats import GROUP_COLUMNS, LABEL_COLUMNS, SCORE_COLUMNS, summary
from curate.export.writer import ShardWriter, portable_schema
from curate.store import Workspace
from curate.store.atomic import remove_leftovers, replace_folder

FORMATS = ("parquet", "jsonl", "hf")
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
DEFAULT_SPLIT = "train"


@dataclass
class ExportOptions:
    format: str = "hf"
    mapping: Mapping = field(default_factory=Mapping)
    max_shard_mb: float = 500
    license: str = "other"
    pretty_name: str | None = None
    overwrite: bool = False
    embed_images: bool = True  # parquet and hf only: JSONL keeps the artifact hashes


@dataclass
class ExportResult:
    table: str
    out: Path
    format: str
    files: list[Path]
    splits: dict[str, int]
    card: Path
    missing_images: int = 0

    @property
    def rows(self) -> int:
        return sum(self.splits.values())


def export_table(ws: Workspace, table: str, out: Path, options: ExportOptions | None = None,
                 progress: Progress | None = None) -> ExportResult:
    options = options or ExportOptions()
    if options.format not in FORMATS:
        raise CurateError(f"unknown export format {options.format!r}", f"one of: {', '.join(FORMATS)}")
    if options.max_shard_mb <= 0:
        raise CurateError("--max-shard-mb must be positive")
    ws.require(table)
    the_plan = plan(options.mapping, ws.columns(table))
    out = out.resolve()
    _check_target(out, options.overwrite)
    for leftover in ("tmp", "old"):  # of exports to `out` killed midway
        remove_leftovers(out.parent.glob(f".{glob.escape(out.name)}.{leftover}-*"))
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        files, split_files, schema, missing = _write_shards(ws, table, the_plan, options, staging, progress)
        card_path = staging / "README.md"
        _write_card(ws, table, options, schema, split_files, card_path, out.name, missing)
        replace_folder(staging, out, out.parent / f".{out.name}.old-{os.getpid()}")
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        fault = os_fault(err, out.parent)
        if fault:
            raise fault from None
        raise
    return ExportResult(table=table, out=out, format=options.format,
                        files=[out / f.relative_to(staging) for f in files],
                        splits={s.name: s.rows for s in split_files}, card=out / "README.md", missing_images=missing)


def _check_target(out: Path, overwrite: bool) -> None:
    """Replace only what we wrote before (a folder whose card says `curate`), unless told to."""
    if not out.exists() or overwrite:
        return
    if not out.is_dir():
        raise CurateError(f"{out} exists and is not a folder", "choose another --out")
    readme = out / "README.md"
    ours = readme.exists() and "- curate" in readme.read_text(errors="replace").split("\n---", 1)[0]
    if any(out.iterdir()) and not ours:
        raise CurateError(f"{out} is not empty and was not written by curate export",
                          "choose an empty or new --out folder, or pass --overwrite to replace it")


def _write_shards(ws: Workspace, table: str, the_plan: Plan, options: ExportOptions, staging: Path,
                  progress: Progress | None) -> tuple[list[Path], list[cards.SplitFiles], pa.Schema, int]:
    by_split = options.format == "hf"
    embedding = options.embed_images and options.format != "jsonl"
    missing = 0

    def mapped(frame: pl.DataFrame) -> pl.DataFrame:
        nonlocal missing
        frame = apply(the_plan, frame)
        if embedding:
            frame, lost = embed(frame, ws)
            missing += lost
        return frame

    max_bytes = int(options.max_shard_mb * 1024 * 1024)
    writers: dict[str, ShardWriter] = {}
    nbytes: dict[str, int] = defaultdict(int)

    def writer(split: str) -> ShardWriter:
        if split not in writers:
            folder, prefix = (staging / "data", split) if by_split else (staging, table)
            writers[split] = ShardWriter(folder, prefix, "jsonl" if options.format == "jsonl" else "parquet", max_bytes)
        return writers[split]

    parts = ws.parts(table)
    task = progress.add_task(f"export {table}", total=len(parts)) if progress else None
    empty = mapped(ws.scan(table).head(0).collect())
    schema = portable_schema((empty.drop("split") if by_split and "split" in empty.columns else empty).to_arrow().schema)
    if options.format != "jsonl":  # Parquet readers (and the Hub's viewer) learn the features from the file too
        features = cards.hf_features(schema, image_columns(schema.names) if embedding else [])
        schema = schema.with_metadata(features.arrow_schema.metadata)
    for part in parts:
        frame = mapped(pl.read_parquet(part))
        if by_split and "split" in frame.columns:
            frame = frame.with_columns(pl.col("split").fill_null(DEFAULT_SPLIT))
            for (name,), group in frame.partition_by("split", as_dict=True, maintain_order=True).items():
                _check_split_name(str(name))
                data = group.drop("split").to_arrow().cast(schema)
                writer(str(name)).write(data)
                nbytes[str(name)] += data.nbytes
        else:
            data = frame.drop("split") if by_split and "split" in frame.columns else frame
            arrow = data.to_arrow().cast(schema)
            writer(DEFAULT_SPLIT).write(arrow)
            nbytes[DEFAULT_SPLIT] += arrow.nbytes
        if progress and task is not None:
            progress.advance(task)
    if not writers:
        writer(DEFAULT_SPLIT).write(schema.empty_table())
    files: list[Path] = []
    split_files = []
    for name in sorted(writers, key=lambda s: (s != "train", s)):
        w = writers[name]
        w.schema = w.schema or schema
        paths = w.close()
        files += paths
        pattern = (f"data/{name}-*" if by_split else f"{table}-*.{w.ext}")
        split_files.append(cards.SplitFiles(name=name, pattern=pattern, rows=w.rows, num_bytes=nbytes[name],
                                            download_bytes=sum(p.stat().st_size for p in paths)))
    return files, split_files, schema, missing


def _check_split_name(name: str) -> None:
    if not SPLIT_NAME.match(name):
        raise CurateError(f"split name {name!r} cannot be a Hub split",
                          "use letters, digits and underscores (train, validation, test)")


def _write_card(ws: Workspace, table: str, options: ExportOptions, schema: pa.Schema,
                splits: list[cards.SplitFiles], path: Path, out_name: str, missing_images: int) -> None:
    steps = lineage(ws, table)
    wanted = [c for c in (*SCORE_COLUMNS, *LABEL_COLUMNS, *GROUP_COLUMNS, "value", "scale", "split", "dup_cluster_size")
              if c in ws.columns(table)]
    stats = summary(ws.scan(table).select(wanted).collect())
    kinds = sorted({str(s.params.get("kind")) for s in steps if s.is_source and s.params.get("kind")})
    export_type = options.mapping.type.value
    title = options.pretty_name or table.replace("_", " ")
    images = image_columns(schema.names) if options.embed_images and options.format != "jsonl" else []
    data = cards.card_data(schema=schema, splits=splits, license=options.license, export_type=export_type,
                           kinds=kinds, pretty_name=title, tags=[*kinds, export_type], image_columns=images)
    command = f"curate export {table} --format {options.format} --type {export_type} --out {out_name}"
    body = cards.card_body(title=title, table=table, steps=steps, recipes=recipes_of(ws, steps), stats=stats,
                           splits=splits, export_type=export_type, schema=schema, export_command=command,
                           missing_images=missing_images)
    cards.render_card(data, body).save(path)
