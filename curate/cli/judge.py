"""`curate judge`: score rendered plots and pages; write the agentic reward's terms."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, console, print_summary, workspace
from curate.errors import CurateError
from curate.judges.prompts import prompt_files
from curate.llm import LLMConfig
from curate.rewards.aesthetic import RewardWeights
from curate.runner import run_stage
from curate.stages.judge import Judge, JudgeParams


class JudgeKind(StrEnum):
    builtin = "builtin"
    llm = "llm"


class InteractiveKind(StrEnum):
    off = "off"
    builtin = "builtin"
    llm = "llm"


def judge(
    name: Annotated[str, typer.Argument(help="Table written by `curate exec`.")],
    as_: AsOpt,
    judge_: Annotated[JudgeKind, typer.Option("--judge", help="builtin (offline, deterministic) or llm.")] = JudgeKind.builtin,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
                                                      "(vLLM, SGLang, Ollama); default: OpenAI.")] = None,
    model: Annotated[str | None, typer.Option(help="Model of the LLM/VLM judge.")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 16,
    max_requests: Annotated[int | None, typer.Option(help="Spending guard: at most this many HTTP requests "
                                                          "(retries count); rows past it fail with a reason.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request before it counts as timed out.")] = 120.0,
    max_retries: Annotated[int, typer.Option(help="Retries per request on 429, 5xx, timeouts.")] = 6,
    temperature: Annotated[float, typer.Option(help="Sampling temperature of the judge.")] = 0.0,
    price_input: Annotated[float, typer.Option(help="USD per million prompt tokens (cost report).")] = 0.0,
    price_output: Annotated[float, typer.Option(help="USD per million completion tokens.")] = 0.0,
    interactive: Annotated[InteractiveKind, typer.Option(help="Also act on pages: builtin explorer or llm agent.")] = InteractiveKind.off,
    interactions: Annotated[int, typer.Option(help="Interactions per page (3 for training rewards).")] = 5,
    reference_column: Annotated[str | None, typer.Option(help="Column holding a reference image hash (plot visual score).")] = None,
    prompt_file: Annotated[list[str] | None, typer.Option(
        "--prompt-file", help="NAME=PATH: your own prompt for one judge (repeatable). Names: page, plot-task, "
                              "plot-visual, explore-plan, explore-act, explore-game; defaults in "
                              "curate/judges/prompt_files/.")] = None,
    w_exec: Annotated[float, typer.Option(help="Reward weight of the execution term.")] = 0.1,
    w_static: Annotated[float, typer.Option(help="Reward weight of the static judge.")] = 0.8,
    w_inter: Annotated[float, typer.Option(help="Reward weight of the interactive judge.")] = 0.1,
    workers: Annotated[int | None, typer.Option(help="Worker processes for the built-in judge.")] = None,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Score each rendered plot or page on OpenDesign's rubric, and write the agentic reward.

    Columns: [bold]score_alignment[/] (0–40), [bold]score_aesthetics[/] (0–30), [bold]score_structure[/]
    (0–30), [bold]score_total[/], with feedback and the findings behind them; and the agentic reward
    [bold]r_exec[/], [bold]r_static[/], [bold]r_inter[/], [bold]reward[/].

    The built-in judge is deterministic and offline and scores what was drawn (plot_facts, page facts,
    pixels), never the code. --judge llm sends OpenDesign's page rubric or PandasPlotBench's plot rubrics
    with the images to any OpenAI-compatible endpoint (--prompt-file NAME=PATH replaces a prompt); the
    key is read from $OPENAI_API_KEY (or --api-key-env) and never stored. Answers are cached in the
    workspace: a re-run pays only for rows that failed.
    """
    llm = None
    if judge_ is JudgeKind.llm or interactive is InteractiveKind.llm:
        if not model:
            raise CurateError("--judge llm needs --model", "e.g. --model gpt-4o-mini, or --base-url "
                                                           "http://localhost:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct")
        llm = LLMConfig(model=model, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency,
                        max_requests=max_requests, timeout_s=timeout, max_retries=max_retries,
                        temperature=temperature, price_input=price_input, price_output=price_output)
    prompts = {f"prompt_{name.replace('-', '_')}": path for name, path in prompt_files(prompt_file).items()}
    params = JudgeParams(judge=judge_.value, llm=llm, interactive=interactive.value, interactions=interactions,
                         reference_column=reference_column, **prompts,
                         weights=RewardWeights(w_exec=w_exec, w_static=w_static, w_inter=w_inter))
    space = workspace(ws)
    summary = run_stage(space, Judge(params), [name], as_, force=force, workers=workers)
    print_summary(summary)
    if not summary.skipped:
        report_judging(space, as_)


def report_judging(space, table: str) -> None:  # noqa: ANN001 - a Workspace
    """Failures by reason, and what the endpoint cost."""
    import polars as pl

    frame = space.scan(table).select("judge_error", "judge_requests", "judge_cached", "judge_prompt_tokens",
                                     "judge_completion_tokens", "judge_cost_usd").collect()
    failed = frame.filter(pl.col("judge_error").is_not_null())
    console.print(f"  judged {frame.height - failed.height:,} · failed {failed.height:,}")
    for reason, count in failed.group_by(pl.col("judge_error").str.split(":").list.first()).len().rows():
        console.print(f"    {reason}: {count:,}")
    if frame["judge_requests"].sum():
        console.print(f"  requests {frame['judge_requests'].sum():,} · cached rows {frame['judge_cached'].sum():,} · "
                      f"tokens {frame['judge_prompt_tokens'].sum():,} in / {frame['judge_completion_tokens'].sum():,} out"
                      f" · cost ${frame['judge_cost_usd'].sum():.4f}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build",
                epilog="Example: curate judge executed --as judged   |   curate judge executed --as judged "
                       "--judge llm --base-url http://localhost:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct")(judge)
