"""Looking at a workspace: `ls`, `show`, `sql`, `stats`; and `filter`, the simplest stage."""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from typing import Annotated, Any

import duckdb
import typer
from rich.table import Table
from rich.text import Text

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, out, print_summary, workspace
from curate.errors import CurateError
from curate.runner import run_stage
from curate.stages.filter import Filter, FilterParams
from curate.store.catalog import check_read_only


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# What a terminal would act on rather than show: control characters (escape sequences start with one) and
# the invisible marks that reorder or hide text.
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Sample text made safe for a terminal: what it would act on becomes a visible escape (`\\x1b`)."""
    return UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                           else f"\\u{ord(m.group()):04x}", text)


def _cell(value: Any, width: int = 60) -> Text:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = printable(text.replace("\n", "⏎"))
    return Text(text if len(text) <= width else text[: width - 1] + "…")  # Text: no Rich markup


def print_frame(columns: list[str], rows: list[tuple], fmt: Format, title: str | None = None) -> None:
    if fmt is Format.json:
        for row in rows:
            out.print_json(json.dumps(dict(zip(columns, row, strict=True)), default=str), indent=None, ensure_ascii=True)
    elif fmt is Format.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        if sys.stdout.isatty():  # (written to a file or a pipe, the text stays as it is)
            rows = [tuple(printable(v) if isinstance(v, str) else v for v in row) for row in rows]
        writer.writerows(rows)
    else:
        table = Table(*columns, title=title, show_lines=False)
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        out.print(table)


def ls(ws: WorkspaceOpt = None) -> None:
    """List the workspace's tables: rows, size on disk and the stage that made them."""
    space = workspace(ws)
    table = Table("table", "rows", "size", "stage", "run", "finished")
    for name in space.table_names():
        info = space.info(name)
        table.add_row(name, f"{info.rows:,}", _size(info.bytes), info.stage, info.run_id, info.created[:19])
    out.print(table)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _query(space: Any, sql: str) -> tuple[list[str], list[tuple]]:
    with space.connect(read_only=True) as con:
        try:
            check_read_only(con, sql)
            result = con.execute(sql)
        except duckdb.Error as err:
            names = space.table_names()
            raise CurateError(f"query failed: {str(err).splitlines()[0]}",
                              f"tables: {', '.join(names + ['runs', 'rejects', 'filtered'])}") from None
        columns = [d[0] for d in result.description] if result.description else []
        return columns, result.fetchall() if columns else []


def show(
    name: Annotated[str, typer.Argument(help="Table to show.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 10,
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns to show.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.table,
    ws: WorkspaceOpt = None,
) -> None:
    """Show the first rows of a table (long cells are cut in the table view; json shows them whole)."""
    space = workspace(ws)
    space.require(name)
    have = space.columns(name)
    wanted = [c.strip() for c in columns.split(",")] if columns else have
    for column in wanted:
        if column not in have:
            from curate.errors import unknown

            raise unknown(f"column of {name!r}", column, have)
    select = ", ".join(f'"{c}"' for c in wanted)
    cols, rows = _query(space, f'SELECT {select} FROM "{name}" LIMIT {int(limit)}')
    print_frame(cols, rows, fmt, title=f"{name} (first {len(rows)} rows)")


def sql(
    query: Annotated[str, typer.Argument(help="DuckDB SQL over the workspace's tables, runs, rejects, filtered.")],
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.table,
    ws: WorkspaceOpt = None,
) -> None:
    """Query the workspace with DuckDB (read-only): every table is a view, plus runs, rejects and filtered."""
    columns, rows = _query(workspace(ws), query)
    print_frame(columns, rows, fmt)


def stats(name: Annotated[str, typer.Argument(help="Table to describe.")], ws: WorkspaceOpt = None) -> None:
    """Describe a table: per column type, nulls, distinct values, min / max / mean; and how it was made."""
    space = workspace(ws)
    space.require(name)
    columns, rows = _query(space, f'SELECT column_name, column_type, count, null_percentage, '
                                  f'approx_unique, min, max, avg FROM (SUMMARIZE "{name}")')
    print_frame(columns, rows, Format.table, title=f"{name}")
    manifest = space.manifest(name) or {}
    counts = manifest.get("counts", {})
    out.print(f"made by [bold]{manifest.get('stage')}[/] from {manifest.get('inputs') or 'sources'}: "
              f"in {counts.get('in', 0):,} · kept {counts.get('kept', 0):,} · filtered {counts.get('filtered', 0):,}"
              f" · rejected {counts.get('rejected', 0):,}")
    if manifest.get("reasons"):
        out.print("reasons: " + ", ".join(f"{k} {v:,}" for k, v in manifest["reasons"].items()))


def filter_(
    name: Annotated[str, typer.Argument(help="Table to filter.")],
    where: Annotated[str, typer.Option(help="DuckDB SQL condition; rows where it is true are kept.")],
    as_: AsOpt,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Keep the rows where a SQL condition holds; the others are recorded in [bold]filtered[/] with the rule."""
    print_summary(run_stage(workspace(ws), Filter(FilterParams(where=where)), [name], as_, force=force))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Inspect", epilog="Example: curate ls -w workspace")(ls)
    app.command(rich_help_panel="Inspect", epilog="Example: curate show raw --limit 5 --columns id,text")(show)
    app.command(rich_help_panel="Inspect", epilog="Example: curate sql \"SELECT reason, count(*) FROM rejects GROUP BY 1\" --format csv")(sql)
    app.command(rich_help_panel="Inspect", epilog="Example: curate stats raw")(stats)
    app.command("filter", rich_help_panel="Build", epilog="Example: curate filter raw --where \"length(text) > 200\" --as long")(filter_)
