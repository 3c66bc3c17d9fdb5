"""`curate run`: run a recipe file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.cli.collect import print_notes
from curate.cli.common import ForceOpt, WorkspaceOpt, console, print_summary, workspace
from curate.export import ExportResult
from curate.recipes import finish_recipe, load_recipe, run_recipe


def run(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.", exists=True, dir_okay=False)],
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Run a recipe: its sources, stages, exports and report, in order; finished stages are skipped on a re-run.

    The whole recipe is checked first (keys, stages and their parameters, the tables each step reads, the
    files it names): every problem is listed with its line, and nothing runs until there are none.
    """
    space = workspace(ws)
    loaded = load_recipe(recipe, space.table_names())
    console.print(f"[bold]recipe[/] {loaded.name} ({recipe}, hash {loaded.hash})")
    for summary in run_recipe(loaded, space, force=force):
        print_summary(summary)
        print_notes(space, summary)
    for written in finish_recipe(loaded, space):
        if isinstance(written, ExportResult):
            console.print(f"[bold green]✓[/] export [bold]{written.table}[/] → {written.out}  {written.rows:,} rows")
        else:
            console.print(f"[bold green]✓[/] report → {written}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build", epilog="Example: curate run recipes/demo.yaml")(run)
