"""`curate collect`: read sources into a workspace table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, console, print_summary, workspace
from curate.errors import CurateError
from curate.runner import RunSummary, run_stage
from curate.sources import FORMATS
from curate.stages.collect import Collect, CollectParams
from curate.store import Workspace
from curate.swe.notes import collect_notes


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    """`a=b` items (also comma-separated) into a dict."""
    pairs = {}
    for item in (part for text in items for part in text.split(",") if part):
        if "=" not in item:
            raise CurateError(f"bad {flag} {item!r}", f"write {flag} source_field=new_name")
        key, value = item.split("=", 1)
        pairs[key.strip()] = value.strip()
    return pairs


def collect(
    paths: Annotated[list[str], typer.Argument(help="Files, folders, or a Hugging Face dataset name.")],
    name: AsOpt,
    kind: Annotated[str | None, typer.Option(help="Validate rows as: text, code, trajectory, question.")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"One of: auto, {', '.join(sorted(FORMATS))}.")] = "auto",
    map_: Annotated[list[str], typer.Option("--map", help="Rename a field: --map content=text (repeatable).")] = [],  # noqa: B006
    source: Annotated[str | None, typer.Option(help="Value of the source column (default: the file name).")] = None,
    labels: Annotated[Path | None, typer.Option(help="Evaluation report to join labels from (trajectory formats).")] = None,
    unlisted: Annotated[str | None, typer.Option(
        help="An instance the --labels report does not list: reject (default: no label) or unresolved (reports "
             "that list resolved ids only).")] = None,
    split: Annotated[str | None, typer.Option(help="Split to load (Hugging Face datasets).")] = None,
    option: Annotated[list[str], typer.Option("--option", "-o", help="Format option key=value (repeatable).")] = [],  # noqa: B006
    max_row_bytes: Annotated[int, typer.Option(help="Reject rows larger than this many bytes.")] = 16 * 1024 * 1024,
    max_reject_rate: Annotated[float | None, typer.Option(
        help="Exit non-zero when more than this share of rows is rejected (0–1); off by default.")] = None,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Read sources into a table; rows that cannot be read or validated go to [bold]rejects[/] with the reason.

    Formats: JSONL (plain, .gz, .zst), JSON arrays, CSV, Parquet, Hugging Face datasets (a save_to_disk
    folder, a local dataset folder, or a name), and the domain formats listed in --format.
    """
    options: dict[str, object] = dict(parse_pairs(option, "--option"))
    if labels is not None:
        options["labels"] = str(labels)
    if unlisted is not None:
        options["unlisted"] = unlisted
    if split is not None:
        options["split"] = split
    params = CollectParams(paths=paths, format=fmt, kind=kind, map=parse_pairs(map_, "--map"), source=source,
                           max_row_bytes=max_row_bytes, options=options)
    space = workspace(ws)
    summary = run_stage(space, Collect(params), [], name, force=force)
    print_summary(summary)
    print_notes(space, summary)
    if max_reject_rate is not None and summary.reject_rate > max_reject_rate:
        raise CurateError(
            f"{summary.reject_rate:.1%} of rows were rejected, above --max-reject-rate {max_reject_rate:.1%}",
            f"the good rows are in table {name!r}; look at the rejects with "
            f"curate sql \"SELECT reason, message, location FROM rejects WHERE table_name = '{name}'\"",
        )


def print_notes(space: Workspace, summary: RunSummary) -> None:
    """The trajectory notes of a collect (labels the --unlisted rule would give, leaked test outcomes)."""
    if summary.stage == "collect" and not summary.skipped:
        for note in collect_notes(space, summary.output):
            console.print(f"  [yellow]{note}[/]")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build", epilog="Example: curate collect data/*.jsonl.gz --kind text --map content=text --as raw")(collect)
