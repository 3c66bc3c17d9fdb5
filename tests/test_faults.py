"""Faults a user meets, injected from outside a real `curate` process: Ctrl-C and SIGTERM, kill -9, a full
disk (a small tmpfs), a read-only workspace (a read-only bind mount), a forbidden one, a DuckDB session
holding catalog.duckdb; and readers while a writer replaces their table.

Runs that must be stopped midway read one source from a named pipe that the test does not feed: the run
stalls there with the other shards done, so the fault always lands mid-run, however busy the machine.
Mounts happen in a user and mount namespace (`unshare -rm`), so they need no root and leave the host as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest

from curate.errors import RunStopped
from curate.export import ExportOptions, export_table
from curate.runner import run_stage
from curate.stage import Outcome, Stage
from curate.stages.collect import Collect
from curate.stages.filter import Filter
from curate.store import Workspace
from curate.store.versions import version_of
from tests.conftest import ROOT, put_table
from tests.progress import PATIENCE, feed, tagged, wait_for


def make_sources(folder: Path, files: int = 3, rows: int = 200, width: int = 8) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        path = folder / f"part{f:02d}.jsonl"
        path.write_text("".join(json.dumps({"text": f"file {f} row {r} " + os.urandom(width).hex()}) + "\n"
                                for r in range(rows)))
        paths.append(path)
    return paths


class Stalled:
    """`curate collect` of three files and a named pipe nobody feeds, in its own process group, two workers:
    started, then waited for until the three files are done and the pipe's shard hangs."""

    def __init__(self, tmp_path: Path):
        self.workspace = tmp_path / "ws"
        self.files = make_sources(tmp_path / "src")
        self.pipe = tmp_path / "src" / "part99.jsonl"
        os.mkfifo(self.pipe)
        self.pipe_rows = b"".join(json.dumps({"text": f"piped row {r}"}).encode() + b"\n" for r in range(50))
        self.tag = uuid.uuid4().hex
        self.args = ["collect", *map(str, self.files), str(self.pipe), "--kind", "text", "--as", "raw"]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKSPACE": str(self.workspace),
                    "CURATE_WORKERS": "2", "CURATE_TEST_TAG": self.tag}
        self.proc = subprocess.Popen([sys.executable, "-m", "curate", *self.args], env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        done = self.workspace / "tables" / ".staging" / "raw" / "_done"
        wait_for(lambda: len(list(done.glob("*.json"))) == 3, self.proc, "three finished shards")

    def resume(self) -> subprocess.CompletedProcess:
        feed(self.pipe, self.pipe_rows)
        return subprocess.run([sys.executable, "-m", "curate", *self.args], env=self.env, text=True,
                              capture_output=True, timeout=PATIENCE)

    def expected_texts(self) -> list[str]:
        lines = b"".join(p.read_bytes() for p in self.files) + self.pipe_rows
        return [json.loads(line)["text"] for line in lines.splitlines()]


def no_process_left(tag: str) -> None:
    wait_for(lambda: not tagged(tag), what="exit of every process of the run")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_quietly_records_interrupted_and_resumes(tmp_path, signum):
    run = Stalled(tmp_path)
    assert len(tagged(run.tag)) >= 3  # the CLI and its two workers
    if signum == signal.SIGINT:
        os.killpg(run.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole process group
    else:
        run.proc.send_signal(signal.SIGTERM)  # `kill PID`, a scheduler stopping a job: the CLI alone
    _, stderr = run.proc.communicate(timeout=PATIENCE)
    name = signal.Signals(signum).name
    assert run.proc.returncode == 128 + signum, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"interrupted ({name}): collect → raw: 3 of 4 shards done; resume with: curate {' '.join(run.args)}"]
    no_process_left(run.tag)
    ws = Workspace(run.workspace)
    assert ws.runs().select("status", "message").rows() == [("interrupted", f"{name}: 3 of 4 shards done")]

    again = run.resume()
    assert again.returncode == 0, again.stderr
    assert ws.read("raw")["text"].to_list() == run.expected_texts()  # the rows of an unbroken run, in order
    assert ws.runs().select("status", "message").rows() == [("done", "resumed")]


def test_kill_9_of_the_cli_leaves_no_process_of_it(tmp_path):
    run = Stalled(tmp_path)
    started = tagged(run.tag)
    assert any("resource_tracker" in p for p in started) and sum("spawn_main" in p for p in started) == 2, started
    run.proc.kill()  # the CLI alone, as the OOM killer or `kill -9 PID` would
    run.proc.wait()
    no_process_left(run.tag)  # pool workers and the resource tracker went with it


def in_namespace(script: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a bash script as root of a fresh user and mount namespace: its mounts vanish with it."""
    path = tmp_path / "fault.sh"
    path.write_text("set -eu\n" + script)
    full = {**os.environ, "PYTHONPATH": str(ROOT), "PY": sys.executable, **env}
    return subprocess.run(["unshare", "-rm", "bash", str(path)], env=full, capture_output=True, text=True,
                          cwd=tmp_path, timeout=PATIENCE)


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_a_full_disk_is_one_clear_error_recorded_failed_and_the_resume_matches(tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=6, rows=3000, width=40)  # random text: shards of a known, incompressible size
    clean = Workspace(tmp_path / "clean")
    run_stage(clean, Collect(paths=[str(src)], kind="text"), [], "raw")
    tables = du(clean.tables_dir)
    # room for the catalog, the run records and about half the table
    size = du(clean.root) - tables + tables // 2
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir()
    out.mkdir()
    result = in_namespace(f"""
mount -t tmpfs -o size={size} tmpfs "$WS"
set +e
"$PY" -m curate collect "$SRC" --kind text --as raw 2> "$OUT/first.err"; echo $? > "$OUT/first.rc"
set -e
cp "$WS"/runs/*.json "$OUT/run.json"
mount -o remount,size=256m "$WS"  # space freed
"$PY" -m curate collect "$SRC" --kind text --as raw 2> "$OUT/second.err"; echo $? > "$OUT/second.rc"
cp -rL "$WS/tables/raw" "$OUT/raw"
""", {"WS": str(ws), "SRC": str(src), "OUT": str(out), "CURATE_WORKSPACE": str(ws), "CURATE_WORKERS": "2"}, tmp_path)
    assert result.returncode == 0, result.stderr
    first = (out / "first.err").read_text()
    assert (out / "first.rc").read_text().strip() == "2", first
    assert f"no space left on the disk holding {ws}" in first and "resumes where it stopped" in first, first
    assert "Traceback" not in first
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed" and "no space left" in record["message"], record
    assert (out / "second.rc").read_text().strip() == "0", (out / "second.err").read_text()
    resumed = pl.read_parquet(sorted((out / "raw").glob("part-*.parquet")))
    assert resumed.equals(clean.read("raw"))
    rejects = [pl.read_parquet(sorted((w / "raw" / "_rejects").glob("*.parquet"))).drop("run_id")
               for w in (out, clean.tables_dir)] if (out / "raw" / "_rejects").exists() else []
    assert all(r.equals(rejects[0]) for r in rejects)


def test_a_read_only_workspace_refuses_writers_clearly_and_still_serves_readers(tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=20)
    ws = Workspace(tmp_path / "ws")
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    out = tmp_path / "out"
    out.mkdir()
    result = in_namespace("""
mount --bind "$WS" "$WS"
mount -o remount,ro,bind "$WS"
set +e
"$PY" -m curate collect "$SRC" --kind text --as more 2> "$OUT/write.err"; echo $? > "$OUT/write.rc"
"$PY" -m curate sql "SELECT count(*) AS n FROM raw" --format csv > "$OUT/read.out" 2>&1; echo $? > "$OUT/read.rc"
""", {"WS": str(ws.root), "SRC": str(src), "OUT": str(out), "CURATE_WORKSPACE": str(ws.root)}, tmp_path)
    assert result.returncode == 0, result.stderr
    error = (out / "write.err").read_text()
    assert (out / "write.rc").read_text().strip() == "2" and "Traceback" not in error, error
    assert f"{ws.root}" in error and "read-only file system" in error and "--workspace" in error, error
    assert (out / "read.rc").read_text().strip() == "0", (out / "read.out").read_text()
    assert (out / "read.out").read_text().split() == ["n", "20"]


def test_a_forbidden_table_folder_is_one_clear_error_recorded_failed(tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=20)
    ws = Workspace(tmp_path / "ws")
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    forbidden = [ws.tables_dir, *ws.tables_dir.rglob("*")]
    if os.geteuid() == 0:  # root ignores modes: give the folder to a user the namespace does not map
        for path in forbidden:
            os.lchown(path, 12345, 12345)
        prefix = ["unshare", "-r"]
    else:
        for path in forbidden:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o555)
        prefix = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKSPACE": str(ws.root)}
    try:
        result = subprocess.run([*prefix, sys.executable, "-m", "curate", "collect", str(src), "--kind", "text",
                                 "--as", "more"], env=env, capture_output=True, text=True, timeout=PATIENCE)
    finally:
        if not prefix:
            for path in forbidden:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"permission denied: {ws.staging_dir}" in result.stderr and "chmod" in result.stderr, result.stderr
    failed = ws.runs().filter(pl.col("output") == "more")
    assert failed["status"].to_list() == ["failed"] and "permission denied" in failed["message"][0]


HOLD = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("mode", ["ro", "rw"])
def test_a_duckdb_session_holding_the_catalog_blocks_nobody(tmp_path, cli, mode):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=20)
    ws = Workspace(tmp_path / "ws")
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.catalog_path), mode], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        writer = cli("filter", "raw", "--where", "text LIKE '%row 1%'", "--as", "ones", workspace=ws.root)
        reader = cli("sql", "SELECT count(*) AS n FROM ones", "--format", "csv", workspace=ws.root)
    finally:
        holder.communicate("")
    assert writer.returncode == 0 and "Traceback" not in writer.stderr, writer.stderr
    assert "catalog.duckdb is held by" in writer.stderr and f"(pid {holder.pid})" in writer.stderr, writer.stderr
    assert reader.returncode == 0 and reader.stdout.split() == ["n", "11"], reader.stderr
    run_stage(ws, Filter(where="true"), ["raw"], "everything")  # the next writer refreshes the catalog
    con = duckdb.connect(str(ws.catalog_path), read_only=True)
    con.execute(f"SET file_search_path = '{ws.root}'")
    assert con.execute("SELECT (SELECT count(*) FROM ones), (SELECT count(*) FROM runs)").fetchone() == (11, 3)


def test_readers_never_fail_while_a_writer_replaces_their_table(ws, tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=100)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    run_stage(ws, Filter(where="true"), ["raw"], "t")
    seen: list[tuple] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        reader = Workspace(ws.root)  # another reader, as another process would be
        while not stop.is_set():
            try:
                with reader.connect(read_only=True) as con:
                    seen.append(con.execute("SELECT (SELECT count(*) FROM t), (SELECT list(status ORDER BY "
                                            "started_at) FROM runs WHERE output = 't')").fetchone())
            except BaseException as err:  # noqa: BLE001 - any failure of a reader is what we look for
                errors.append(err)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(8):  # each commit replaces the table: 99 rows, then 100, 99, 100, ...
            run_stage(ws, Filter(where="true" if i % 2 else "text NOT LIKE 'file 0 row 0 %'"), ["raw"], "t",
                      workers=1)
        wait_for(lambda: len(seen) >= 20, what="reads")
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:3]
    assert {n for n, _ in seen} <= {99, 100}
    assert all(set(statuses[:-1]) <= {"done"} for _, statuses in seen)  # only the newest run may be running
    with ws.writer():  # the reader is gone: the next writer removes the versions it still read
        pass
    assert len(list(ws.tables_dir.glob(".t@*"))) == 1


def test_the_next_writer_finishes_a_commit_a_kill_cut_short_and_removes_leftovers(ws, tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=10)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    old = version_of(ws.tables_dir, "raw")
    # a run killed between moving its new version into place and swapping the link: a newer complete version
    new = old.with_name(".raw@newer")
    shutil.copytree(old, new)
    manifest = json.loads((new / "_manifest.json").read_text())
    (new / "_manifest.json").write_text(json.dumps({**manifest, "run_id": "newer", "ended_at": "2999-01-01T00:00:00"}))
    # and what killed writers leave: a temporary link, the trash of the old layout, half-written files
    (ws.tables_dir / ".raw.link-1").symlink_to(".raw@newer")
    (ws.staging_dir / ".trash-raw-x").mkdir(parents=True)
    (ws.runs_dir / f".x.json.tmp-{_dead_pid()}").write_text("{")
    with Workspace(ws.root).writer():  # any writer
        pass
    assert os.readlink(ws.table_dir("raw")) == ".raw@newer"
    assert not old.exists() and not (ws.tables_dir / ".raw.link-1").exists()
    assert not list(ws.staging_dir.iterdir()) and not list(ws.runs_dir.glob(".*"))


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_committed_table_never_shows_its_run_as_running(ws, tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=10)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    run_id = ws.manifest("raw")["run_id"]
    ws.record_run(run_id=run_id, status="running")  # as if killed right after the swap, before the record
    assert ws.runs()["status"].to_list() == ["done"]


def test_export_removes_what_a_killed_export_left(ws, tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=10)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    out = tmp_path / "exports" / "raw"
    dead = _dead_pid()
    for leftover in (f".raw.tmp-{dead}", f".raw.old-{dead}"):
        (out.parent / leftover / "data").mkdir(parents=True)
    export_table(ws, "raw", out, ExportOptions(format="parquet"))
    assert sorted(p.name for p in out.parent.iterdir()) == ["raw"]


class Capped(Stage):
    """Stops on purpose at its third unit, as a stage at its spending cap does, until told otherwise."""

    name = "capped_test_stage"
    batch_size = 4
    parallel = False
    cap = True

    def process_batch(self, batch: pl.DataFrame) -> Outcome:
        if Capped.cap and batch["text"][0].startswith("file 0 row 8 "):
            raise RunStopped("spending cap reached: 2 requests of 2", "raise --max-requests")
        return Outcome(kept=batch, n_in=batch.height)


def test_a_stage_that_stops_on_purpose_is_recorded_interrupted_and_resumes(ws, tmp_path):
    src = tmp_path / "src"
    make_sources(src, files=1, rows=10)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    with pytest.raises(RunStopped, match="spending cap reached"):
        run_stage(ws, Capped(), ["raw"], "capped")
    run = ws.runs().filter(pl.col("output") == "capped")
    assert run.select("status", "message").rows() == [("interrupted", "spending cap reached: 2 requests of 2 "
                                                                        "(2 of 3 shards done)")]
    Capped.cap = False
    try:
        summary = run_stage(ws, Capped(), ["raw"], "capped")
    finally:
        Capped.cap = True
    assert summary.run_id == run["run_id"][0] and ws.read("capped").equals(ws.read("raw"))


def test_a_workspace_from_before_versions_and_run_files_carries_on(ws):
    put_table(ws, "raw", pl.DataFrame({"id": ["a", "b"], "source": ["s", "s"], "text": ["x", "y"]}))  # a real folder
    con = duckdb.connect(str(ws.catalog_path))  # the lineage was a table of the catalog
    con.execute("CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, stage VARCHAR, inputs VARCHAR[], output VARCHAR, "
                "params JSON, fingerprint VARCHAR, recipe_hash VARCHAR, version VARCHAR, n_in BIGINT, n_kept BIGINT, "
                "n_filtered BIGINT, n_rejected BIGINT, started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR, "
                "message VARCHAR)")
    con.execute("INSERT INTO runs (run_id, stage, inputs, output, params, status, started_at) VALUES "
                "('old', 'collect', [], 'raw', '{\"kind\": \"text\"}', 'done', '2020-01-01')")
    con.close()
    run_stage(ws, Filter(where="text = 'x'"), ["raw"], "raw")  # replaces the old folder with a version
    assert ws.table_dir("raw").is_symlink() and ws.read("raw")["text"].to_list() == ["x"]
    assert len(list(ws.tables_dir.glob(".raw@*"))) == 1
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT run_id, stage, params->>'kind', status FROM runs ORDER BY started_at").fetchall() == [
            ("old", "collect", "text", "done"), (ws.manifest("raw")["run_id"], "filter", None, "done")]
