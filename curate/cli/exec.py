"""`curate exec`: run code samples in the sandbox and pages in Chromium; `curate doctor`: what works here."""

from __future__ import annotations

import platform
import shutil
import subprocess
from typing import Annotated

import typer
from rich.table import Table

from curate.cli.common import AsOpt, ForceOpt, WorkspaceOpt, out, print_summary, workspace
from curate.runner import run_stage
from curate.stages.exec import PACKAGES, Exec, ExecParams, runtime_versions


def exec_(
    name: Annotated[str, typer.Argument(help="Table of `code` records (instruction, code, language, data_files).")],
    as_: AsOpt,
    timeout: Annotated[float, typer.Option("--timeout", help="Wall-clock seconds per sample or page.")] = 30.0,
    cpu: Annotated[int, typer.Option("--cpu", help="CPU seconds per Python sample.")] = 30,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="Memory per Python sample (all its processes "
                                                               "together where cgroups allow; `curate doctor` "
                                                               "says) and per browser process, MB.")] = 2048,
    allow_imports: Annotated[str | None, typer.Option(
        "--allow-imports", help="Comma-separated top-level modules a sample may import, e.g. "
                                "matplotlib,numpy,pandas,seaborn,plotly,math.")] = None,
    sandbox: Annotated[str, typer.Option(help="Sandbox backend: auto, bwrap, unshare (or none, with "
                                              "--unsafe-no-sandbox).")] = "auto",
    unsafe_no_sandbox: Annotated[bool, typer.Option(
        "--unsafe-no-sandbox", help="Run the code WITHOUT isolation (trusted samples only).")] = False,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: CPU count).")] = None,
    force: ForceOpt = False,
    ws: WorkspaceOpt = None,
) -> None:
    """Run each code sample in the sandbox (plots) or Chromium (pages) and record what happened.

    Columns: [bold]exec_ok[/], errors, output, time, memory, images, and for pages screenshots, console
    errors, failed requests and page facts.

    Python samples run in a warm sandboxed worker, each in a clean room of its own (no network, a fresh
    private /tmp, read-only system, no home or workspace, scrubbed environment, its own uid, memory and
    process limits for the whole sample); pages render in Chromium, each in a fresh browser context, with
    every outside request blocked.
    Failures are kept as rows with exec_ok = false. Finished samples are cached by exec_key: a re-run or a
    resumed run skips them.
    """
    if unsafe_no_sandbox and sandbox == "auto":
        sandbox = "none"
    modules = [m.strip() for m in allow_imports.split(",") if m.strip()] if allow_imports is not None else None
    params = ExecParams(wall_s=timeout, cpu_s=cpu, mem_mb=memory_mb, allow_imports=modules, sandbox=sandbox,
                        unsafe_no_sandbox=unsafe_no_sandbox)
    print_summary(run_stage(workspace(ws), Exec(params), [name], as_, force=force, workers=workers))


def doctor() -> None:
    """Say what this machine can do: the sandbox backend in use, the limits it can hold, Chromium, Playwright,
    fonts, libraries.

    Exits with status 1 when something `curate exec` needs is missing or broken.
    """
    from curate.sandbox import available, cgroups

    have = available()
    versions = runtime_versions()
    backend = have[0]
    checks: list[tuple[str, bool | str | None, str]] = [
        ("sandbox", backend != "none", f"active: {backend}; available: {', '.join(have)}"
         + ("" if backend == "bwrap" else " (bubblewrap missing or not working: weaker isolation)")
         + "; each sample in a clean room of its own (PID, mount and IPC namespaces, a fresh /tmp, its own uid)"),
        ("limits", True if cgroups.available() else "weaker", cgroups.guarantee()),
        ("python", True, f"{platform.python_version()} ({platform.machine()})"),
        *[(name, versions[name] != "absent", versions[name]) for name in PACKAGES],
        ("chromium", versions["chromium"] != "absent", versions["chromium"]),
        ("browser via playwright", *_browser_check()),
        ("fonts", *_fonts()),
    ]
    table = Table("component", "status", "detail")
    labels = {True: "[green]ok[/]", False: "[red]failed[/]", None: "[yellow]unknown[/]", "weaker": "[yellow]weaker[/]"}
    for name, ok, detail in checks:
        table.add_row(name, labels[ok], detail)
    out.print(table)
    if any(ok is False for _, ok, _ in checks):
        raise typer.Exit(1)


def _browser_check() -> tuple[bool, str]:
    try:
        from curate.render.pages import PageRenderer

        with PageRenderer(timeout_s=30) as renderer:
            version = renderer.version()
            result = renderer.render("<p>doctor</p>", facts=False)
            isolation = {"netns": "a network namespace and the router",
                         "router": "the router only (unshare --net unavailable)"}[renderer.isolation]
        if not result.screenshot:
            return False, f"{result.error_type}: {result.error}"
        return True, (f"launched {version}, took a screenshot; pages cut off from the network by {isolation}; "
                      f"a fresh context per page; each browser process's memory bounded (RLIMIT_DATA); "
                      f"no crash dumps")
    except Exception as err:  # noqa: BLE001 - the doctor reports, it does not crash
        return False, f"{type(err).__name__}: {str(err)[:200]}"


def _fonts() -> tuple[bool | None, str]:
    if not shutil.which("fc-list"):
        return None, "fc-list not installed"
    families = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout.splitlines()
    names = sorted({f.split(",")[0] for f in families if f})
    return bool(names), f"{len(names)} families: {', '.join(names[:6])}{' …' if len(names) > 6 else ''}"


def register(app: typer.Typer) -> None:
    app.command("exec", rich_help_panel="Build",
                epilog="Example: curate exec aescode --as aescode_exec --timeout 20 "
                       "--allow-imports matplotlib,numpy,pandas,seaborn,plotly")(exec_)
    app.command(rich_help_panel="Inspect", epilog="Example: curate doctor")(doctor)
