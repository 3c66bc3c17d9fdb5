"""`curate exec` end to end: every row kept with the column contract, artifacts stored, results cached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from curate.sandbox import cgroups
from curate.stages.exec import RESULT_COLUMNS, extract
from curate.store import Workspace
from tests.conftest import ROOT

SAMPLES = Path(__file__).parent / "fixtures" / "exec" / "samples.jsonl"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("exec") / "workspace"
    assert run_cli("collect", str(SAMPLES), "--kind", "code", "--as", "code", workspace=root).returncode == 0
    done = run_cli("exec", "code", "--as", "code_exec", "--timeout", "20", workspace=root)
    assert done.returncode == 0, done.stderr
    return Workspace(root), done


def rows(ws: Workspace, table: str = "code_exec") -> list[dict]:
    return ws.read(table).sort("instruction").to_dicts()


def by_instruction(ws: Workspace, table: str = "code_exec") -> dict[str, dict]:
    return {r["instruction"]: r for r in rows(ws, table)}


def test_every_row_is_kept_with_the_column_contract(executed):
    ws, done = executed
    table = ws.read("code_exec")
    assert table.height == len(SAMPLES.read_text().splitlines())
    assert set(RESULT_COLUMNS) <= set(table.columns)
    with duckdb.connect() as con:  # the contract's types, as a reader of the Parquet sees them
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM '{ws.parts('code_exec')[0]}'").fetchall()}
    assert types["exec_ok"] == "BOOLEAN" and types["images"] == "VARCHAR[]" and types["wall_s"] == "DOUBLE"
    assert "kept 9" in done.stderr


def test_python_plots_run_and_their_images_are_artifacts(executed):
    ws, _ = executed
    got = by_instruction(ws)
    bar = got["Bar chart of fruit counts"]  # a model answer: the fenced block is extracted
    assert bar["exec_ok"] and bar["exec_status"] == 0 and len(bar["images"]) == 1
    assert ws.artifact_path(bar["images"][0]).read_bytes().startswith(b"\x89PNG")
    csv = got["Line plot from a CSV"]  # its data file is beside it in the sandbox
    assert csv["exec_ok"] and csv["stdout"] == "31\n" and len(csv["images"]) == 1
    assert csv["cpu_s"] > 0 and csv["peak_mem_mb"] > 0 and csv["wall_s"] > 0
    plotly = got["Scatter with plotly"]  # drawn by plotly.js in Chromium
    assert plotly["exec_ok"] and ws.artifact_path(plotly["images"][0]).exists()


def test_failures_are_rows_with_reasons(executed):
    ws, _ = executed
    got = by_instruction(ws)
    broken = got["Broken code"]
    assert not broken["exec_ok"] and broken["exec_error_type"] == "ValueError" and "Traceback" in broken["stderr"]
    prose = got["Only prose"]
    assert not prose["exec_ok"] and prose["exec_error_type"] == "NoCode" and "```python" in prose["exec_error"]


def test_pages_get_screenshots_console_errors_and_facts(executed):
    ws, _ = executed
    page = by_instruction(ws)["A landing page"]
    assert page["exec_ok"] and ws.artifact_path(page["screenshot"]).exists()
    assert ws.artifact_path(page["screenshot_full"]).exists()
    assert "oops" in page["console_errors"]
    assert any("cdn.example.com" in r and "blocked" in r for r in page["failed_requests"])
    facts = json.loads(page["page_facts"])
    assert facts["title"] == "Shop" and facts["overflowing"] and facts["boxes"]
    assert any(p["text"] == "Small grey text" and p["contrast"] < 4.5 for p in facts["color_pairs"])


def test_a_rerun_takes_finished_samples_from_the_cache(executed, cli):
    ws, _ = executed
    first = rows(ws)
    cache = ws.root / "cache" / "exec"
    key = by_instruction(ws)["Line plot from a CSV"]["exec_key"]
    path = cache / key[:2] / f"{key}.json"
    cached = json.loads(path.read_text())
    path.write_text(json.dumps({**cached, "stdout": "from the cache\n"}))  # a run that executes would say 31
    done = cli("exec", "code", "--as", "code_exec_again", "--timeout", "20", workspace=ws.root)
    assert done.returncode == 0, done.stderr
    again = by_instruction(ws, "code_exec_again")
    assert again["Line plot from a CSV"]["stdout"] == "from the cache\n"
    assert [r["exec_key"] for r in rows(ws, "code_exec_again")] == [r["exec_key"] for r in first]
    path.write_text(json.dumps(cached))


def test_no_sandbox_needs_the_unsafe_flag(executed, cli):
    ws, _ = executed
    done = cli("exec", "code", "--as", "nope", "--sandbox", "none", workspace=ws.root)
    assert done.returncode == 2 and "--unsafe-no-sandbox" in done.stderr and "Traceback" not in done.stderr


def test_doctor_reports_the_sandbox_and_chromium(cli):
    done = cli("doctor")
    assert done.returncode == 0, done.stderr
    assert "active: bwrap" in done.stdout and "Chromium" in done.stdout and "took a screenshot" in done.stdout
    assert "cgroup v1 memory and pids" in done.stdout and "clean room" in done.stdout


def test_doctor_fails_when_chromium_is_missing(cli, tmp_path):
    done = cli("doctor", env={"CURATE_CHROMIUM": str(tmp_path / "nope"), "PATH": str(tmp_path)})
    assert done.returncode == 1 and "Chromium is not installed" in done.stdout


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("print(1)", "python", "print(1)"),
    ("Sure:\n```python\nimport os\n```\nand\n```py\nprint(2)\n```", "python", "import os\n\n\nprint(2)"),
    ("```\nplain()\n```", "python", "plain()"),
    ("Only words ```bash\nls\n```", "python", None),
    ("```html\n<html><head></head><body></body></html>\n```\n```css\nh1{}\n```\n```js\nx()\n```", "html",
     "<html><head><style>\nh1{}\n</style>\n</head><body><script>\nx()\n</script>\n</body></html>"),
    ("", "html", None),
])
def test_extract(text, language, expected):
    assert extract(text, language) == expected


def test_a_malformed_result_is_that_rows_protocol_error(executed):
    ws, _ = executed
    forged = by_instruction(ws)["A forged result"]
    assert not forged["exec_ok"] and forged["exec_error_type"] == "ProtocolError" and "record" in forged["exec_error"]
    cached = json.loads((ws.root / "cache" / "exec" / forged["exec_key"][:2] / f"{forged['exec_key']}.json")
                        .read_text())
    assert not cached["exec_ok"] and cached["exec_error_type"] == "ProtocolError"


def exec_run(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKSPACE": str(root)}
    return subprocess.Popen([sys.executable, "-m", "curate", "exec", "code", "--as", "code_exec", "--timeout", "20",
                             *args], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for(condition, what: str, run: subprocess.Popen, limit_s: float = 300) -> None:
    """Poll until `condition()` holds (a sign of progress), failing if the run ends first."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert run.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no sign of {what} in {limit_s:g} s"
        time.sleep(0.05)


def test_a_killed_run_resumes_to_the_rows_of_an_unbroken_one(executed, tmp_path, cli):
    """kill -9 mid-run, then resume: every column but the timings equals the unbroken run's (`executed`),
    and what was finished is not run again."""
    ws, _ = executed
    root = tmp_path / "workspace"
    assert cli("collect", str(SAMPLES), "--kind", "code", "--as", "code", workspace=root).returncode == 0
    run = exec_run(root, "--workers", "1")
    cache = root / "cache" / "exec"
    # every sample but the slow one (8 s, last) is finished: the kill lands while it runs
    wait_for(lambda: len(list(cache.glob("*/*.json"))) >= len(SAMPLES.read_text().splitlines()) - 1,
             "all the quick samples finished", run)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    finished = {p: p.stat().st_mtime_ns for p in cache.glob("*/*.json")}
    done = cli("exec", "code", "--as", "code_exec", "--timeout", "20", "--workers", "1", workspace=root)
    assert done.returncode == 0, done.stderr
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in finished.items())  # not run again
    timings = ["wall_s", "cpu_s", "peak_mem_mb"]
    resumed, unbroken = rows(Workspace(root)), rows(ws)
    assert [r["id"] for r in resumed] == [r["id"] for r in unbroken]
    differences = [(r["instruction"], k, r[k], u[k]) for r, u in zip(resumed, unbroken, strict=True)
                   for k in r if k not in timings and r[k] != u[k]]
    assert differences == []
    assert by_instruction(Workspace(root))["Zz a slow one"]["stdout"] == "slept\n"


def descendants(pid: int) -> dict[int, str]:
    """The processes below `pid` (by parent links), with their command lines."""
    parents, commands = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError):
                continue
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.parametrize(("kill", "backend"), [("the process running exec", "unshare"),
                                               ("its whole process group", "bwrap")])
def test_killing_exec_leaves_no_process_behind(tmp_path, cli, kill, backend):
    """kill -9 while Chromium is up and a sample runs: the sandbox, its samples, Chromium and the Playwright
    driver all go with it (parent-death signals and namespaces), found by walking the tree before the kill."""
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps({"instruction": "page", "language": "html", "code": "<p>hello</p>"}) + "\n" +
                      json.dumps({"instruction": "sleeper", "language": "python",
                                  "code": "import subprocess, time\nsubprocess.Popen(['sleep', '600'])\n"
                                          "time.sleep(600)"}) + "\n")
    root = tmp_path / "workspace"
    assert cli("collect", str(source), "--kind", "code", "--as", "code", workspace=root).returncode == 0
    run = exec_run(root, "--workers", "1", "--sandbox", backend)
    # progress: Chromium is up, and the sample's own `sleep` runs inside the sandbox
    wait_for(lambda: any("chromium" in c for c in descendants(run.pid).values())
             and any(c.startswith("sleep 600") for c in descendants(run.pid).values()),
             "Chromium and a running sample", run)
    tree = descendants(run.pid)
    assert any("zygote.py" in c for c in tree.values()) and any("node" in c for c in tree.values())
    os.kill(run.pid, signal.SIGKILL) if kill == "the process running exec" else os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 60
    while (left := {p: c for p, c in tree.items() if alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == {}, left
    cgroups.sweep_stale()  # the killed worker's empty cgroup folders (a later run would remove them too)
