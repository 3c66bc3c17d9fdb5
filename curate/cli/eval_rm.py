"""`curate eval rm`: AUC, ECE and RM@k of a reward model's scores on a labelled trajectory table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from curate.cli.common import WorkspaceOpt, console, out, workspace
from curate.swe.evaluate import evaluate_rm, read_scores


def eval_rm(
    name: Annotated[str, typer.Argument(help="Labelled trajectory table.")],
    scores: Annotated[Path | None, typer.Option(help="JSONL or CSV of id, score (probabilities in [0, 1]).")] = None,
    score_column: Annotated[str | None, typer.Option(help="Take the scores from this column instead.")] = None,
    label: Annotated[str, typer.Option(help="Boolean label column.")] = "resolved",
    group: Annotated[str, typer.Option(help="Column naming the task instance, for RM@k.")] = "instance_id",
    bins: Annotated[int, typer.Option(help="ECE bins.")] = 10,
    equal_mass: Annotated[bool, typer.Option("--equal-mass", help="Equal-count ECE bins instead of equal-width.")] = False,
    ties: Annotated[str, typer.Option(help="RM@k ties in score: smaller-id, larger-id, random (with --seed), "
                                           "or expected (the mean over the tied top).")] = "smaller-id",
    seed: Annotated[int, typer.Option(help="Seed of --ties random.")] = 0,
    under_k: Annotated[str, typer.Option(help="Instances with fewer than k trajectories: leave-out of RM@k, "
                                              "or use-all they have.")] = "leave-out",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for metrics.json and the PNG figures "
                                                              "(default: WORKSPACE/reports/eval_rm/TABLE).")] = None,
    ws: WorkspaceOpt = None,
) -> None:
    """Score a reward model: ROC-AUC, ECE, RM@k (with random-pick and oracle lines), and two figures.

    RM@k is the expected resolve rate of the top-scored of k trajectories per instance. Ties in score are
    broken by --ties (ids compare as ids: "9" before "10"); instances with fewer than k trajectories are
    left out of that k, or counted with all they have (--under-k use-all). The table says how many
    instances each k covers.
    """
    space = workspace(ws)
    frame = space.read(space.require(name))
    target = out_dir or space.root / "reports" / "eval_rm" / name
    report = evaluate_rm(frame, name, target, scores=read_scores(scores) if scores else None,
                         score_column=score_column, label=label, group=group, bins=bins, equal_mass=equal_mass,
                         ties=ties, seed=seed, under_k=under_k)
    kind = "equal-mass" if equal_mass else "equal-width"
    out.print(f"[bold]{name}[/]: {report.n_scored:,} scored trajectories · AUC [bold]{report.auc:.3f}[/] · "
              f"ECE [bold]{report.ece:.3f}[/] ({bins} {kind} bins)")
    if report.n_unscored or report.n_unknown_scores:
        console.print(f"[yellow]{report.n_unscored:,} rows without a score (left out); "
                      f"{report.n_unknown_scores:,} scores for ids not in the table (ignored)[/]")
    rule = f"ties: {ties}" + (f" (seed {seed})" if ties == "random" else "")
    short = "with all they have" if under_k == "use-all" else "left out"
    table = Table("k", "instances", "of them < k", "RM@k", "random", "oracle",
                  title=f"RM@k ({rule}; instances with fewer than k trajectories {short})")
    for point in report.rm_at_k:
        table.add_row(str(point["k"]), str(point["instances"]), str(point["under_k"]), f"{point['rm']:.3f}",
                      f"{point['random']:.3f}", f"{point['oracle']:.3f}")
    out.print(table)
    out.print(f"figures: {report.figures['reliability']}, {report.figures['rm_at_k']}; metrics: {target / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    from curate.cli.evaluate import eval_app

    eval_app.command("rm", epilog="Example: curate eval rm swe_test --scores rm_scores.jsonl --ties expected --under-k use-all")(eval_rm)
