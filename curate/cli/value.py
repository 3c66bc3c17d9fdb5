"""`curate value`: give every question its value and reward scale (RLEV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.cli.collect import parse_pairs
from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, print_summary, workspace
from curate.errors import CurateError
from curate.llm import LLMConfig
from curate.rlev.values import DIFFICULTY_VALUES
from curate.runner import run_stage
from curate.stages.value import Value, ValueParams

_DEFAULT_MAP = ",".join(f"{k}={v:g}" for k, v in DIFFICULTY_VALUES.items())


def value(
    name: Annotated[str, typer.Argument(help="Table of questions.")],
    as_: AsOpt,
    value_source: Annotated[str, typer.Option(
        help="points (v = points / T_i), difficulty (weak labels) or predicted (an OpenAI-compatible model).")] = "points",
    alpha: Annotated[float, typer.Option(help="Scale s = 1 + min(alpha * v, 1).")] = 10.0,
    totals: Annotated[Path | None, typer.Option(
        help="Totals that override the known ones: YAML/JSON {paper, year/variant/paper, subject or exam_id: "
             "total}, or CSV exam_id,total.")] = None,
    difficulty_map: Annotated[str, typer.Option(help="Difficulty level → value, for --value-source difficulty.")] = _DEFAULT_MAP,
    uniform: Annotated[bool, typer.Option("--uniform", help="Control: every row gets the mean scale.")] = False,
    shuffle: Annotated[bool, typer.Option(
        "--shuffle", help="Control: the scales (the reward) permuted across rows (seeded); value stays true.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of --shuffle.")] = 0,
    model: Annotated[str | None, typer.Option(help="Model for --value-source predicted.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
    concurrency: Annotated[int, typer.Option(help="Model requests in flight at once.")] = 16,
    max_requests: Annotated[int | None, typer.Option(help="Spending guard: most model requests to send.")] = None,
    prompt_file: Annotated[Path | None, typer.Option(
        help="The value predictor's system prompt ({total_score} = the exam's total). Default: RLEV's Table 7.")] = None,
    reply: Annotated[str, typer.Option(help="How the predictor answers: number (bare, the paper) or json.")] = "number",
    judge: Annotated[bool, typer.Option(
        "--judge", help="Answers the rules cannot check will go to an LLM judge: check = judge, not undecided.")] = False,
    drop_undecidable: Annotated[bool, typer.Option(
        "--drop-undecidable", help="Leave out rows whose answers nothing can check (reason: undecidable).")] = False,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Write [bold]exam_id, exam_total, total_source, value, scale, check[/]: v = points / T_i, s = 1 + min(alpha·v, 1).

    T_i, the total of the question's exam, is an override from --totals (by exam id, paper or subject:
    total_source override), else the source's known total (GAOKAO papers: 理科综合 300, Math I 150, ...:
    known), else the sum of the exam's question points in the table (derived). Warnings give the numbers
    of exams whose points do not add up; the value distribution is printed beside the paper's.
    """
    try:
        mapping = {k: float(v) for k, v in parse_pairs([difficulty_map], "--difficulty-map").items()}
    except ValueError:
        raise CurateError(f"bad --difficulty-map {difficulty_map!r}", f"write e.g. {_DEFAULT_MAP}") from None
    llm = (LLMConfig(model=model, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency,
                     max_requests=max_requests) if model else None)
    if prompt_file is not None and not prompt_file.is_file():
        raise CurateError(f"no such prompt file: {prompt_file}", "give a text file with the system prompt")
    prompt = prompt_file.read_text(encoding="utf-8") if prompt_file else None
    params = ValueParams(value_source=value_source, alpha=alpha, totals=totals, difficulty_map=mapping,
                         uniform=uniform, shuffle=shuffle, seed=seed, llm=llm, prompt=prompt, reply=reply,
                         judge=judge, drop_undecidable=drop_undecidable)
    print_summary(run_stage(workspace(ws), Value(params), [name], as_, force=force))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build",
                epilog="Example: curate value questions --totals totals.yaml --drop-undecidable --as valued")(value)
