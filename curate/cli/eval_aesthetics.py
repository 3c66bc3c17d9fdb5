"""`curate eval aesthetics`: OpenDesign- and PandasPlotBench-style figures over a judged table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from curate.cli.common import WorkspaceOpt, console, out, workspace
from curate.errors import CurateError
from curate.judges.aggregate import histogram, opendesign, pandasplotbench

NEEDED = ("language", "score_total", "judge_error", "exec_ok", "inter_scores")


def aesthetics(
    name: Annotated[str, typer.Argument(help="Table written by `curate judge`.")],
    plot: Annotated[Path | None, typer.Option(help="Histogram PNG (default: <workspace>/reports/<table>_aesthetics.png).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    structure_quirk: Annotated[bool, typer.Option(
        help="OpenDesign's published script: the structure mean divides by (pages − judge failures) "
             "without leaving zero totals out (to compare with published tables).")] = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Print OpenDesign figures for pages (means of the total and each dimension leaving out judge failures
    and zero totals, good rate ≥ 75, InterAes over all pages) and PandasPlotBench figures for plots per
    score (a missing score counts 0; integer mean and median, good ≥ 75, bad ≤ 25; error rate over all
    items), computed as the benchmarks' scripts do, and save a histogram of the scores."""
    space = workspace(ws)
    space.require(name)
    missing = [c for c in NEEDED if c not in space.columns(name)]
    if missing:
        raise CurateError(f"table {name!r} has no {', '.join(missing)} column(s)",
                          f"judge it first: curate judge {name} --as {name}_judged")
    optional = [c for c in ("score_task", "score_visual", "exec_error") if c in space.columns(name)]
    frame = space.scan(name).select(*NEEDED, "score_alignment", "score_aesthetics", "score_structure",
                                    *optional).collect()
    figures = {"table": name, "opendesign": opendesign(frame, structure_quirk),
               "pandasplotbench": pandasplotbench(frame)}
    path = histogram(frame, plot or space.root / "reports" / f"{name}_aesthetics.png", f"score_total of {name}")
    figures["histogram"] = str(path)
    if as_json:
        out.print_json(json.dumps(figures))
        return
    plots = dict(figures["pandasplotbench"])
    blocks = [("OpenDesign (pages)", figures["opendesign"]), ("PandasPlotBench (plots)", plots)]
    blocks += [(f"PandasPlotBench {score} score", stats) for score, stats in plots.pop("scores", {}).items()]
    for title, block in blocks:
        table = Table(title=title, show_header=False)
        for key, value in block.items():
            table.add_row(key, "—" if value is None else f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
        out.print(table)
    console.print(f"histogram: {path}")


def register(app: typer.Typer) -> None:
    from curate.cli.evaluate import eval_app

    eval_app.command("aesthetics", epilog="Example: curate eval aesthetics judged --plot scores.png")(aesthetics)
