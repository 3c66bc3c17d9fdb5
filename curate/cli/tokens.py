"""`curate tokens`: count trajectory tokens and fit them into a context budget."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, out, print_summary, workspace
from curate.runner import run_stage
from curate.stages.tokens import Tokens, TokensParams


def tokens(
    name: Annotated[str, typer.Argument(help="Trajectory table.")],
    as_: AsOpt,
    tokenizer: Annotated[str | None, typer.Option(help="tokenizer.json, a folder saved with save_pretrained, "
                                                       "or a name; default: estimate (UTF-8 bytes / 4).")] = None,
    budget: Annotated[str | None, typer.Option(help="Context budget: 32K, 128K, 256K or a number of tokens.")] = None,
    over: Annotated[str, typer.Option(help="Over the budget: truncate (middle-out) or drop.")] = "truncate",
    reserve: Annotated[int | None, typer.Option(help="Tokens of the budget kept free (default: 256 with --count "
                                                     "log, for the template and answer; 0 with --count chat).")] = None,
    count: Annotated[str, typer.Option(help="Count the interaction log (log) or the whole judge chat, template "
                                            "and answer included (chat).")] = "log",
    template: Annotated[str, typer.Option(help="Judge template laying out the log: yes-no, swe-gym, or a "
                                               "YAML/JSON file.")] = "yes-no",
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Count each trajectory's tokens ([bold]n_tokens[/]) and report the share that fits a context budget.

    Over the budget, a trajectory is cut middle-out (its issue, last message and final patch kept; columns
    truncated, n_tokens_full) or dropped (filtered, reason over_budget). fits_context says whether it fitted whole.
    SWE-Gym's rule: --count chat --template swe-gym --budget 32K --over drop.
    """
    space = workspace(ws)
    params = TokensParams(tokenizer=tokenizer, budget=budget, over=over, reserve=reserve, count=count,
                          template=template)
    summary = run_stage(space, Tokens(params), [name], as_, force=force)
    print_summary(summary)
    if params.budget is not None and summary.n_in:
        stats = space.scan(as_).select(pl.col("fits_context").sum().alias("fit"),
                                       pl.col("truncated").sum().alias("cut")).collect().row(0)
        out.print(f"{stats[0]:,} of {summary.n_in:,} trajectories ({stats[0] / summary.n_in:.1%}) fit "
                  f"a {params.budget:,}-token budget ({params.kept_free:,} reserved; counting the {params.count}) "
                  f"whole; {stats[1]:,} truncated, "
                  f"{summary.filtered:,} dropped")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build",
                epilog="Example: curate tokens swe_raw --tokenizer tok/tokenizer.json --budget 128K --as swe_fit")(tokens)
