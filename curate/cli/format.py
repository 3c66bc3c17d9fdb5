"""`curate format`: trajectories as reward-model training rows (TRL-ready)."""

from __future__ import annotations

from typing import Annotated

import typer

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, print_summary, workspace
from curate.runner import run_stage
from curate.stages.format import Format, FormatParams


def format_(
    name: Annotated[str, typer.Argument(help="Labelled trajectory table.")],
    as_: AsOpt,
    style: Annotated[str, typer.Option(help="classification (messages + YES/NO target) or preference "
                                            "(TRL unpaired: prompt, completion, label).")] = "classification",
    template: Annotated[str, typer.Option(help="yes-no (curate's: bare YES/NO answer), swe-gym (SWE-Gym's verifier "
                                               "exactly: <judgement>YES</judgement>), or a YAML/JSON file with "
                                               "system and user ({log}).")] = "yes-no",
    label: Annotated[str, typer.Option(help="Boolean label column.")] = "resolved",
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Write [bold]messages[/] (judge prompt + answer), [bold]target[/] and [bold]label[/] for
    generative classification, or [bold]prompt[/] / [bold]completion[/] / [bold]label[/] for TRL's KTO.
    """
    params = FormatParams(style=style, template=template, label=label)
    print_summary(run_stage(workspace(ws), Format(params), [name], as_, force=force))


def register(app: typer.Typer) -> None:
    app.command("format", rich_help_panel="Build",
                epilog="Example: curate format swe_split --template swe-gym --as swe_rm")(format_)
