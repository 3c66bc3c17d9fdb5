"""`curate generate`: ask one or more models about every row of a table."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, console, print_summary, workspace
from curate.errors import CurateError, RunStopped
from curate.runner import RunSummary, run_stage
from curate.stage import Stage
from curate.store import Workspace

STOPPED_EXIT = 3  # the run stopped on purpose (a cap, a batch out) and the same command continues it


class Backend(StrEnum):
    openai = "openai"
    transformers = "transformers"
    vllm = "vllm"


class ExtractKind(StrEnum):
    html = "html"
    python = "python"
    json = "json"
    code = "code"


def _per_model(values: list[str] | None, models: list[str], flag: str) -> list[str | None]:
    """One value for all models, or one per --model in order."""
    values = values or []
    if len(values) <= 1:
        return [values[0] if values else None] * len(models)
    if len(values) != len(models):
        raise CurateError(f"{len(values)} {flag} for {len(models)} --model",
                          f"give one {flag} for all models, or one per --model, in the same order")
    return list(values)


def _yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CurateError(f"cannot read {what} {path}: {err}") from None


def model_specs(models: list[str], base_urls: list[str] | None, key_envs: list[str] | None,
                models_file: Path | None, prices_file: Path | None) -> list[dict[str, Any]]:
    """The models to ask, from --model (with --base-url / --api-key-env) and/or a models YAML."""
    specs: list[dict[str, Any]] = []
    if models_file is not None:
        listed = _yaml(models_file, "models file")
        if not isinstance(listed, list) or not all(isinstance(m, dict) and "model" in m for m in listed):
            raise CurateError(f"{models_file}: expected a list of models",
                              "- model: gpt-4o-mini\n    base_url: https://api.openai.com/v1\n    api_key_env: "
                              "OPENAI_API_KEY\n    price_input: 0.15\n    price_output: 0.6")
        specs += listed
    for name, url, key in zip(models, _per_model(base_urls, models, "--base-url"),
                              _per_model(key_envs, models, "--api-key-env"), strict=True):
        specs.append({"model": name, **({"base_url": url} if url else {}), **({"api_key_env": key} if key else {})})
    if not specs:
        raise CurateError("generate needs a model", "--model NAME (repeatable), or --models models.yaml")
    if prices_file is not None:
        prices = _yaml(prices_file, "prices file")
        if not isinstance(prices, dict):
            raise CurateError(f"{prices_file}: expected model: {{input: USD/M, output: USD/M}}")
        for spec in specs:
            price = prices.get(spec["model"]) or {}
            spec.setdefault("price_input", price.get("input"))
            spec.setdefault("price_output", price.get("output"))
    return specs


def run_stopping_cleanly(space: Workspace, stage: Stage, inputs: list[str], output: str, force: bool) -> RunSummary:
    """Run a model stage; a stop on purpose (a cap, a batch still out) is said plainly, exit code 3."""
    try:
        return run_stage(space, stage, inputs, output, force=force)
    except RunStopped as stop:
        console.print(f"[bold yellow]stopped:[/] {stop.message}")
        if stop.hint:
            console.print(f"  [yellow]next:[/] {stop.hint}")
        sys.exit(STOPPED_EXIT)


def generate(
    name: Annotated[str, typer.Argument(help="Input table: one request per row, model and sample.")],
    as_: AsOpt,
    prompt: Annotated[str | None, typer.Option(help="User prompt, a Jinja2 template over the row's columns, "
                                                    "e.g. 'Write a plot: {{ instruction }}'.")] = None,
    prompt_file: Annotated[Path | None, typer.Option(help="The user prompt template from a file.")] = None,
    system: Annotated[str | None, typer.Option(help="System prompt (a template too).")] = None,
    system_file: Annotated[Path | None, typer.Option(help="The system prompt from a file.")] = None,
    system_by: Annotated[str | None, typer.Option(help="COLUMN=FILE.yaml: the system prompt by the row's value of "
                                                       "COLUMN (a 'default' key for the other values).")] = None,
    model: Annotated[list[str] | None, typer.Option(help="Model to ask (repeatable: every row goes to each); a "
                                                         "model folder with --backend transformers/vllm.")] = None,
    base_url: Annotated[list[str] | None, typer.Option(help="OpenAI-compatible endpoint: one for all models, or "
                                                            "one per --model (default: OpenAI).")] = None,
    api_key_env: Annotated[list[str] | None, typer.Option(help="Environment variable holding the key: one for "
                                                               "all, or one per --model.")] = None,
    models: Annotated[Path | None, typer.Option("--models", help="YAML list of models: model, base_url, "
                                                                 "api_key_env, price_input, price_output.")] = None,
    backend: Annotated[Backend, typer.Option(help="openai (any compatible endpoint), transformers or vllm "
                                                  "(a local model folder).")] = Backend.openai,
    n: Annotated[int, typer.Option("--n", help="Samples per prompt and model.")] = 1,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Completion tokens per answer; a longer one is filtered "
                                                 "'truncated'.")] = 4096,
    seed: Annotated[int | None, typer.Option(help="Sampling seed (sample i sends seed + i).")] = None,
    stop: Annotated[list[str] | None, typer.Option(help="Stop sequence (repeatable).")] = None,
    extract: Annotated[ExtractKind | None, typer.Option(help="Pull the answer's code out of its fenced block "
                                                             "into `code` (or --into).")] = None,
    into: Annotated[str | None, typer.Option(help="Column for the extracted code; without --extract, the whole "
                                                  "answer.")] = None,
    response_format: Annotated[Path | None, typer.Option(help="JSON Schema file: ask for structured output and "
                                                              "validate it.")] = None,
    price_input: Annotated[float, typer.Option(help="USD per million prompt tokens.")] = 0.0,
    price_output: Annotated[float, typer.Option(help="USD per million completion tokens.")] = 0.0,
    prices: Annotated[Path | None, typer.Option(help="YAML of prices per model: {model: {input: ., output: .}}.")] = None,
    max_requests: Annotated[int | None, typer.Option(help="Cap: HTTP requests in all, across resumed runs.")] = None,
    max_tokens_total: Annotated[int | None, typer.Option(help="Cap: prompt + completion tokens in all.")] = None,
    max_cost_usd: Annotated[float | None, typer.Option(help="Cap: dollars in all.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at most, per model (shrinks in 429 "
                                                  "storms).")] = 32,
    rpm: Annotated[float | None, typer.Option(help="Requests per minute at most, per model.")] = None,
    tpm: Annotated[float | None, typer.Option(help="Tokens per minute at most, per model.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request before it counts as timed out.")] = 120.0,
    max_retries: Annotated[int, typer.Option(help="Retries per request on 429, 5xx, timeouts.")] = 6,
    batch: Annotated[bool, typer.Option("--batch", help="Use the Batch API (half price): submit and return; the "
                                                        "same command later collects.")] = False,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Ask models about every row: one chat request per row, model and sample.

    Columns: the input's, and [bold]gen_group[/] (the input row's id), [bold]gen_model[/],
    [bold]gen_sample[/], [bold]gen_text[/], [bold]gen_finish_reason[/], [bold]gen_prompt_tokens[/],
    [bold]gen_completion_tokens[/], [bold]gen_cost_usd[/], [bold]gen_cached[/]; with --extract, the code
    in [bold]code[/] (or --into). Answers cut by the length limit, refused, empty, without the expected
    block or failing the schema are filtered with that reason; requests that keep failing are rejected.

    Every answer is cached in the workspace before it counts: a re-run or a resumed run pays for nothing
    twice. A run that reaches a cap stops (exit 3, recorded interrupted) and the same command with a
    higher cap continues. Keys are read from the environment and never stored.
    """
    from curate.stages.generate import Generate, GenerateParams

    column, file = None, None
    if system_by is not None:
        column, sep, file = system_by.partition("=")
        if not sep or not column or not file:
            raise CurateError(f"--system-by {system_by!r}: expected COLUMN=FILE.yaml", "e.g. --system-by category=system.yaml")
    specs = model_specs(model or [], base_url, api_key_env, models, prices)
    params = GenerateParams(
        prompt=prompt, prompt_file=prompt_file, system=system, system_file=system_file, system_by=column,
        system_by_file=Path(file) if file else None, models=specs, backend=backend.value, n=n,
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, stop=stop or None,
        extract=extract.value if extract else None, into=into, response_format=response_format,
        price_input=price_input, price_output=price_output, max_requests=max_requests,
        max_tokens_total=max_tokens_total, max_cost_usd=max_cost_usd, concurrency=concurrency, rpm=rpm, tpm=tpm,
        timeout_s=timeout, max_retries=max_retries, batch=batch)
    space = workspace(ws)
    summary = run_stopping_cleanly(space, Generate(params), [name], as_, force)
    print_summary(summary)
    if not summary.skipped:
        report_generation(space, as_)


def report_generation(space: Workspace, table: str) -> None:
    """What the kept answers cost, and how many came from the cache."""
    import polars as pl

    frame = space.scan(table).select("gen_cached", "gen_prompt_tokens", "gen_completion_tokens", "gen_cost_usd").collect()
    paid = frame.filter(~pl.col("gen_cached"))
    console.print(f"  answers kept {frame.height:,} · from the cache {frame.height - paid.height:,} · paid now "
                  f"{paid.height:,}: tokens {paid['gen_prompt_tokens'].sum():,} in / "
                  f"{paid['gen_completion_tokens'].sum():,} out · ${paid['gen_cost_usd'].sum():.4f}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Build",
                epilog="Example: curate generate instructions --as candidates --model gpt-4o-mini --model "
                       "Qwen/Qwen2.5-Coder-7B-Instruct --base-url https://api.openai.com/v1 --base-url "
                       "http://localhost:8000/v1 --n 2 --prompt 'Write the page: {{ instruction }}' "
                       "--extract html")(generate)
