"""The `curate` command line: thin commands over the library."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shlex
import signal
import sys
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from curate.cli.common import console
from curate.engines import engine_name
from curate.errors import CurateError, Interrupted, os_fault

app = typer.Typer(
    name="curate",
    help="Build curated, labelled post-training datasets: collect → dedup → exec → judge → label → export.\n\n"
         "Every command works on a workspace (./workspace, or --workspace / CURATE_WORKSPACE): Parquet "
         "tables catalogued in DuckDB, with lineage and every rejected or filtered row kept.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _options(
    engine: str = typer.Option(None, "--engine", envvar="CURATE_ENGINE",
                               help="Where row-wise stages run: local (process pool) or ray (Ray Data)."),
) -> None:
    if engine:
        os.environ["CURATE_ENGINE"] = engine_name(engine)


# Each module of this package registers its commands (and says where they go in --help). A command's module
# pulls in its stage's libraries, so only the modules of the command typed are loaded (`curate show` need
# not import sympy or openai); `--help`, a typo or a command missing here load them all.
COMMAND_MODULES = {
    "collect": ["collect"], "dedup": ["dedup"], "decontaminate": ["dedup"], "exec": ["exec"], "doctor": ["exec"],
    "judge": ["judge"], "best-of": ["best_of"], "generate": ["generate"], "score": ["score"],
    "value": ["value"], "tokens": ["tokens"], "balance": ["balance"], "split": ["split"], "format": ["format"],
    "export": ["export"], "push": ["export"], "report": ["report"], "run": ["recipes"],
    "ls": ["tables"], "show": ["tables"], "sql": ["tables"], "stats": ["tables"], "filter": ["tables"],
    "eval": ["evaluate", "eval_aesthetics", "eval_rm", "eval_value"], "train": ["train"],
}


def load_commands(names: list[str] | None = None) -> typer.Typer:
    """Register the commands of the named modules of this package (all of them by default); returns `app`."""
    for name in names or [info.name for info in pkgutil.iter_modules(__path__)]:
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "register") and name not in _loaded:
            module.register(app)
            _loaded.add(name)
    return app


def _typed_command(args: list[str]) -> str | None:
    """The command on the command line, past the global `--engine X` / `--engine=X`; None for `--help` and
    the like."""
    while args and args[0].startswith("--engine"):
        args = args[1:] if "=" in args[0] else args[2:]
    return args[0] if args and not args[0].startswith("-") else None


_loaded: set[str] = set()


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        load_commands(COMMAND_MODULES.get(_typed_command(sys.argv[1:]) or ""))
        app()
    except Interrupted as err:
        what = f"{err.detail}; " if err.detail else ""
        console.print(f"[bold yellow]interrupted[/] ({signal.Signals(err.signum).name}): {escape(what)}resume with: "
                      f"[bold]{escape(_command())}[/]", soft_wrap=True)
        sys.exit(128 + err.signum)
    except CurateError as err:
        _error(err)
    except ValidationError as err:
        console.print(f"[bold red]error:[/] invalid parameters:\n{err}")
        sys.exit(2)
    except Exception as err:
        fault = os_fault(err)  # a full disk, a read-only folder, a denied permission: not a bug
        if fault is None:
            raise
        _error(fault)


def _stop(signum: int, frame: object) -> None:
    """The first SIGINT / SIGTERM stops the command cleanly (the runner records what was done); a second
    one, while that cleanup runs, exits at once (workers die with this process anyway)."""
    if _stopping:
        os._exit(128 + signum)
    _stopping.append(signum)
    raise Interrupted(signum)


_stopping: list[int] = []


def _error(err: CurateError) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(err.message)}", soft_wrap=True)
    if err.hint:
        console.print(f"  [yellow]hint:[/] {escape(err.hint)}", soft_wrap=True)
    sys.exit(2)


def _command() -> str:
    """The command line as typed, to run again."""
    return shlex.join(["curate", *sys.argv[1:]])
