"""`curate eval value`: value-aware accuracy (RLEV) of model answers on a valued question table."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.table import Table

from curate.cli.common import WorkspaceOpt, console, out, workspace
from curate.errors import CurateError
from curate.llm import LLMConfig
from curate.rlev.evaluate import (
    RunResult,
    as_dict,
    average,
    pooled,
    read_predictions,
    runs_from_table,
    score_run,
)
from curate.rlev.llm import client as llm_client
from curate.rlev.metrics import plot_buckets
from curate.store import Workspace
from curate.tokens import load_counter


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _paper_table(name: str, results: list[RunResult]) -> Table:
    """The paper's table: one row per run, then the average of the per-run figures."""
    view = Table("run", "n", "Acc", "H-Acc", "mean length", "value density", "rules / judge / undecided",
                 title=f"{name}: {len(results)} run{'s' if len(results) > 1 else ''}")
    for r in results:
        s = r.scores
        view.add_row(r.name, str(s.n), _pct(s.accuracy), _pct(s.h_accuracy), _num(s.mean_tokens, 1),
                     _num(s.value_density, 4), f"{r.checks['rules']} / {r.checks['judge']} / {r.checks['undecided']}")
    mean = average(results)
    view.add_row("Average", "", _pct(mean["accuracy"]), _pct(mean["h_accuracy"]), _num(mean["mean_tokens"], 1),
                 _num(mean["value_density"], 4), "", style="bold")
    return view


def eval_value(
    name: Annotated[str, typer.Argument(help="Table written by `curate value`.")],
    predictions: Annotated[list[Path] | None, typer.Option(
        "--predictions", help="JSONL or CSV: id, and correct or response; plus n_tokens. One run per file "
                              "(repeatable).")] = None,
    responses: Annotated[list[str] | None, typer.Option(
        "--responses", help="Table of responses (e.g. written by curate generate); runs by --run-by "
                            "(repeatable).")] = None,
    response_column: Annotated[str, typer.Option(help="Column of --responses holding the response.")] = "gen_text",
    key: Annotated[str, typer.Option(help="Column of --responses holding the question's id.")] = "gen_group",
    run_by: Annotated[str | None, typer.Option(
        help="Columns of --responses that tell runs apart, comma-separated (default: gen_model,gen_sample "
             "where present; '' for one run).")] = None,
    tokens_column: Annotated[str | None, typer.Option(
        help="Column of --responses with response lengths (default: the first of gen_completion_tokens, "
             "completion_tokens, n_tokens).")] = None,
    tokenizer: Annotated[str | None, typer.Option(
        help="Count response lengths with this tokenizer (path or name; 'estimate' = bytes/4) where none are given.")] = None,
    split: Annotated[str | None, typer.Option(help="Score only rows of this split (the split column).")] = None,
    plot: Annotated[Path | None, typer.Option(
        help="PNG of accuracy by value bucket, all runs pooled (default: beside the first predictions file, "
             "else reports/NAME.value_buckets.png in the workspace).")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the figures as JSON here.")] = None,
    skip_filtered: Annotated[bool, typer.Option(
        help="Leave out answers the --responses table's stage filtered (truncated, refused, empty, ...) instead "
             "of counting them as not correct.")] = False,
    buckets: Annotated[int, typer.Option(min=1, help="Value buckets in the plot.")] = 5,
    share: Annotated[float, typer.Option(min=0.01, max=0.5, help="Share of questions in the top and bottom groups.")] = 0.2,
    rel_tol: Annotated[float, typer.Option(help="Relative tolerance when comparing numbers.")] = 1e-4,
    judge_model: Annotated[str | None, typer.Option(
        help="Ask this model about answers the rules cannot decide (never choices).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint of --judge-model.")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
    max_requests: Annotated[int | None, typer.Option(help="Spending guard for --judge-model.")] = None,
    fmt_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Value-aware accuracy (RLEV) of model answers on a table written by `curate value`, per run.

    Prints the paper's table: Acc, H-Acc (Σ v over correct / Σ v over all), mean length and value
    density (H-Acc% / mean tokens) per run, and the average of the per-run figures; saves a plot of
    accuracy by value bucket. Answers come from --predictions files and/or --responses tables.

    Responses are checked against the table's answer (choices, numbers with units, equations, sets,
    LaTeX, text; final answers taken from worked solutions). Answers the rules cannot decide go to
    --judge-model when given, else count as not correct and are shown as undecided.
    """
    if not predictions and not responses:
        raise CurateError("give the answers to score", "--predictions FILE (JSONL/CSV) or --responses TABLE")
    space = workspace(ws)
    table = space.read(space.require(name))
    if split is not None:
        if "split" not in table.columns:
            raise CurateError(f"table {name!r} has no split column", f"run curate split {name} --by exam_id first")
        table = table.filter(pl.col("split") == split)
    runs = [read_predictions(p) for p in predictions or []]
    by = None if run_by is None else [c.strip() for c in run_by.split(",") if c.strip()]
    for source in responses or []:
        cut = [] if skip_filtered else _filtered(space, source)
        runs += runs_from_table(source, space.read(space.require(source)), response_column, key, by, tokens_column,
                                filtered=cut)
        if cut:
            reasons = Counter(d["reason"] for d in cut)
            console.print(f"[yellow]note:[/] {len(cut)} answers of {source!r} were filtered "
                          f"({', '.join(f'{r} {n}' for r, n in reasons.most_common())}): each counts as not correct "
                          "(--skip-filtered leaves them out)")
    judge = None
    if judge_model:
        judge = llm_client(LLMConfig(model=judge_model, base_url=base_url, api_key_env=api_key_env,
                                     max_requests=max_requests), space.root / "cache" / "llm")
    counter = load_counter(tokenizer) if tokenizer else None
    results = [score_run(table, run, judge=judge, counter=counter, rel_tol=rel_tol, share=share, n_buckets=buckets)
               for run in runs]
    if not any(r.scores.n for r in results):
        raise CurateError("no answer matches a row of the table",
                          "answers are joined on the table's id (--key for --responses tables)")
    plot = plot or (predictions[0].with_name(predictions[0].stem + ".value_buckets.png") if predictions
                    else space.root / "reports" / f"{name}.value_buckets.png")
    plot_buckets(pooled(results, share, buckets), plot, title=f"{name}: accuracy by question value")
    figures = {**as_dict(results), "plot": str(plot)}
    if report is not None:
        report.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    for run in runs:
        for reason in run.unreadable[:3]:
            console.print(f"[yellow]warning:[/] unreadable prediction: {reason}")
    for r in results:
        if r.unknown_ids:
            console.print(f"[yellow]warning:[/] {r.name}: {len(r.unknown_ids)} answers name ids not in {name!r} "
                          f"(e.g. {r.unknown_ids[0]}); not scored")
        if r.unmatched_rows:
            console.print(f"[yellow]warning:[/] {r.name}: {r.unmatched_rows} of {table.height} rows have no answer; "
                          "not scored")
        if r.checks["undecided"]:
            console.print(f"[yellow]note:[/] {r.name}: {r.checks['undecided']} answers the rules cannot decide count "
                          "as not correct" + ("" if judge else "; --judge-model decides them"))
    if fmt_json:
        out.print_json(json.dumps(figures, default=str))
        return
    out.print(_paper_table(name, results))
    if len(results) == 1:
        s = results[0].scores
        out.print(f"Acc, top {s.share:.0%} by value: {_pct(s.accuracy_top)} · bottom {s.share:.0%}: "
                  f"{_pct(s.accuracy_bottom)}")
    if judge is not None:
        out.print(f"judge: asked {figures['judged']}, judged correct {figures['judged_correct']}, "
                  f"failed {figures['judge_failed']}")
    console.print(f"plot: {plot}")


def _filtered(space: Workspace, table: str) -> list[dict[str, Any]]:
    """The details of the rows `table`'s stage filtered, each with its reason."""
    with space.connect(read_only=True) as con:
        found = con.execute("SELECT reason, detail FROM filtered WHERE table_name = ?", [table]).fetchall()
    return [{**json.loads(detail or "{}"), "reason": reason} for reason, detail in found]


def register(app: typer.Typer) -> None:
    from curate.cli.evaluate import eval_app

    eval_app.command("value", epilog="Example: curate eval value rlev_split --split test --responses answers "
                                     "--judge-model Qwen/Qwen2.5-72B-Instruct --base-url http://localhost:8000/v1"
                     )(eval_value)
