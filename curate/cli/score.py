"""`curate score`: a verifier model's probability of YES for each row (SWE-RM's reward model)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, console, print_summary, workspace
from curate.cli.generate import run_stopping_cleanly


class ScoreBackend(StrEnum):
    transformers = "transformers"
    openai = "openai"


def score(
    name: Annotated[str, typer.Argument(help="Table with chat messages, e.g. written by `curate format`.")],
    as_: AsOpt,
    model: Annotated[str, typer.Option(help="Model folder (transformers), or the endpoint's model name.")],
    backend: Annotated[ScoreBackend | None, typer.Option(help="transformers (a local folder, exact logits) or "
                                                              "openai (an endpoint's logprobs); default: openai "
                                                              "when --base-url is given.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint returning logprobs "
                                                      "(vLLM, SGLang).")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the key.")] = "OPENAI_API_KEY",
    yes: Annotated[str, typer.Option("--yes", help="The answer meaning resolved, as the model writes it.")] = "YES",
    no: Annotated[str, typer.Option("--no", help="The answer meaning not resolved.")] = "NO",
    column: Annotated[str, typer.Option(help="Column of chat messages (a trailing assistant turn is dropped).")] = "messages",
    assistant_prefix: Annotated[str | None, typer.Option(
        help="What the verifier writes before YES/NO, e.g. '<judgement>' (SWE-Gym); default: what the "
             "table's target column puts before the answer.")] = None,
    top_logprobs: Annotated[int, typer.Option(help="Top tokens asked of an endpoint (at most 20).")] = 20,
    concurrency: Annotated[int, typer.Option(help="Requests in flight (endpoint).")] = 32,
    max_requests: Annotated[int | None, typer.Option(help="Cap: requests in all, across resumed runs.")] = None,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Score each conversation with a generative verifier: rm_score = exp(l_YES) / (exp(l_YES) + exp(l_NO)).

    Columns: [bold]rm_score[/], [bold]rm_logit_yes[/], [bold]rm_logit_no[/] (log-probabilities of the two
    answers as the next tokens) and [bold]rm_bound[/]: [bold]exact[/] from a local model; from an
    endpoint's top-k logprobs, [bold]upper[/] / [bold]lower[/] when YES / NO is not among them (the score
    is then a bound) and [bold]unknown[/] when neither is. Then: curate eval rm OUT --score-column rm_score.

    The answer is read after the text the table's targets put before it ([bold]<judgement>[/] with
    `curate format --template swe-gym`, nothing with yes-no), or after [bold]--assistant-prefix[/]; an
    endpoint must continue a partial assistant turn (continue_final_message: vLLM, SGLang).
    """
    from curate.stages.score import Score, ScoreParams

    chosen = backend.value if backend else ("openai" if base_url else "transformers")
    params = ScoreParams(model=model, backend=chosen, base_url=base_url, api_key_env=api_key_env, yes=yes, no=no,
                         column=column, assistant_prefix=assistant_prefix, top_logprobs=top_logprobs,
                         concurrency=concurrency, max_requests=max_requests)
    space = workspace(ws)
    stage = Score(params)
    summary = run_stopping_cleanly(space, stage, [name], as_, force)
    print_summary(summary)
    if not summary.skipped:
        if stage.prefix:
            console.print(f"  answers read after the assistant prefix {stage.prefix!r}")
        frame = space.scan(as_).select("rm_score", "rm_bound").collect()
        bounds = ", ".join(f"{b} {n:,}" for b, n in frame.group_by("rm_bound").len().sort("rm_bound").rows())
        console.print(f"  scored {frame.height:,} · mean rm_score {frame['rm_score'].mean() or 0:.3f} · {bounds}")
        console.print(f"  [dim]next: curate eval rm {as_} --score-column rm_score[/]")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Evaluate",
                epilog="Example: curate score swe_rm --as swe_scored --model runs/verifier   |   curate score "
                       "swe_rm --as swe_scored --base-url http://localhost:8000/v1 --model my-verifier")(score)
