"""The workspace store: atomic shards, resume after SIGKILL, lineage, rejects, locking."""

import json
import os
import signal
import subprocess
import sys

import polars as pl
import pytest

from curate.errors import CurateError
from curate.runner import run_stage
from curate.stages.collect import Collect
from curate.stages.filter import Filter
from tests.conftest import ROOT
from tests.progress import PATIENCE, feed, wait_for


def make_sources(folder, files=24, rows=1500):
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = [json.dumps({"text": f"file {f} row {r} " + "lorem ipsum " * 8}) for r in range(rows)]
        lines[rows // 2] = '{"text": broken'  # one reject per file
        (folder / f"part{f:02d}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_catalog_views_lineage_and_rejects(ws, tmp_path):
    src = make_sources(tmp_path / "src", files=2, rows=10)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    run_stage(ws, Filter(where="text LIKE '%row 1 %'"), ["raw"], "ones")
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw").fetchone()[0] == 18
        assert con.execute("SELECT count(*) FROM ones").fetchone()[0] == 2
        runs = con.execute("SELECT stage, inputs, output, n_in, n_kept, n_filtered, n_rejected, status, "
                           "params->>'where', version FROM runs ORDER BY started_at").fetchall()
        rejects = con.execute("SELECT table_name, stage, reason, location FROM rejects ORDER BY location").fetchall()
        filtered = con.execute("SELECT count(*), any_value(reason) FROM filtered WHERE table_name = 'ones'").fetchone()
    assert runs[0][:8] == ("collect", [], "raw", 20, 18, 0, 2, "done")
    assert runs[1][:9] == ("filter", ["raw"], "ones", 18, 2, 16, 0, "done", "text LIKE '%row 1 %'")
    assert rejects == [("raw", "collect", "malformed_json", "part00.jsonl:6"),
                       ("raw", "collect", "malformed_json", "part01.jsonl:6")]
    assert filtered == (16, "where")
    manifest = ws.manifest("ones")
    assert manifest["inputs"] == ["raw"] and manifest["counts"]["filtered"] == 16


def test_catalog_opens_with_plain_duckdb_from_the_workspace(ws, tmp_path):
    src = make_sources(tmp_path / "src", files=1, rows=5)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    code = "import duckdb; print(duckdb.connect('catalog.duckdb', read_only=True).execute('SELECT count(*) FROM raw').fetchone()[0])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ws.root, capture_output=True, text=True)
    assert result.stdout.strip() == "4", result.stderr


def test_same_inputs_and_params_do_nothing_unless_forced(ws, tmp_path):
    src = make_sources(tmp_path / "src", files=1, rows=5)
    first = run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    again = run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    assert again.skipped and again.run_id == first.run_id
    forced = run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw", force=True)
    assert not forced.skipped and forced.run_id != first.run_id
    (src / "part00.jsonl").write_text('{"text": "changed"}\n')  # a changed source makes a fresh run
    changed = run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    assert not changed.skipped and ws.read("raw")["text"].to_list() == ["changed"]
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0] == 3


def test_shard_writes_leave_no_temporary_files(ws, tmp_path):
    src = make_sources(tmp_path / "src", files=3, rows=20)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    files = [p.name for p in ws.root.rglob("*") if p.is_file()]
    assert not [f for f in files if ".tmp-" in f]
    assert not (ws.staging_dir / "raw").exists()
    assert sorted(p.name for p in ws.table_dir("raw").glob("part-*.parquet")) == [
        "part-00000-00000.parquet", "part-00001-00000.parquet", "part-00002-00000.parquet"]


def test_a_failing_stage_is_recorded_and_leaves_the_old_table(ws, tmp_path):
    src = make_sources(tmp_path / "src", files=1, rows=5)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    with pytest.raises(CurateError, match="bad --where"):
        run_stage(ws, Filter(where="text LIKE"), ["raw"], "bad")
    assert "bad" not in ws.table_names()


def collect_cmd(paths, workspace):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKERS": "1", "CURATE_WORKSPACE": str(workspace)}
    return [sys.executable, "-m", "curate", "collect", *map(str, paths), "--kind", "text", "--as", "raw"], env


@pytest.mark.parametrize("kill_after", [2, 9, 18])
def test_resume_after_sigkill_gives_the_rows_of_an_unbroken_run(tmp_path, kill_after):
    paths = sorted(make_sources(tmp_path / "src").glob("*.jsonl"))
    # source number `kill_after` becomes a named pipe: the run stalls there, after exactly `kill_after` shards
    slow = paths[kill_after]
    content = slow.read_bytes()
    slow.unlink()
    os.mkfifo(slow)
    clean_ws, killed_ws = tmp_path / "clean", tmp_path / "killed"
    cmd, env = collect_cmd(paths, clean_ws)
    feed(slow, content)
    subprocess.run(cmd, env=env, check=True, capture_output=True)

    cmd, env = collect_cmd(paths, killed_ws)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done_dir = killed_ws / "tables" / ".staging" / "raw" / "_done"
    wait_for(lambda: len(list(done_dir.glob("*.json"))) == kill_after, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed_ws / "tables" / "raw").exists()

    feed(slow, content)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    read = lambda w: pl.read_parquet(sorted((w / "tables" / "raw").glob("part-*.parquet")))  # noqa: E731
    assert read(killed_ws).equals(read(clean_ws))
    rejects = lambda w: pl.read_parquet(sorted((w / "tables" / "raw" / "_rejects").glob("*.parquet")))  # noqa: E731
    assert rejects(killed_ws).drop("run_id").equals(rejects(clean_ws).drop("run_id"))
    manifest = json.loads((killed_ws / "tables" / "raw" / "_manifest.json").read_text())
    assert manifest["counts"] == {"in": 24 * 1500, "kept": 24 * 1499, "filtered": 0, "rejected": 24}
    import duckdb

    con = duckdb.connect(str(killed_ws / "catalog.duckdb"), read_only=True)
    con.execute(f"SET file_search_path = '{killed_ws}'")  # the catalog's views read paths relative to it
    statuses = con.execute("SELECT status, message FROM runs").fetchall()
    assert statuses == [("done", "resumed")]  # the resumed run keeps its run id and finishes it


def test_a_second_writer_waits_then_stops_with_a_clear_message(ws, tmp_path, cli):
    src = make_sources(tmp_path / "src", files=1, rows=5)
    with ws.writer():
        busy = cli("collect", str(src), "--kind", "text", "--as", "raw", workspace=ws.root,
                   env={"CURATE_LOCK_WAIT": "1"})
        reader = cli("ls", workspace=ws.root)  # readers are not blocked by a writer
    assert busy.returncode == 2
    assert "is busy" in busy.stderr and "CURATE_LOCK_WAIT" in busy.stderr and "Traceback" not in busy.stderr
    assert reader.returncode == 0
    after = cli("collect", str(src), "--kind", "text", "--as", "raw", workspace=ws.root)
    assert after.returncode == 0, after.stderr


def test_concurrent_writers_both_finish_and_the_catalog_stays_whole(tmp_path):
    src = make_sources(tmp_path / "src", files=4, rows=300)
    workspace = tmp_path / "w"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKSPACE": str(workspace), "CURATE_LOCK_WAIT": str(PATIENCE)}
    procs = [subprocess.Popen([sys.executable, "-m", "curate", "collect", str(src), "--kind", "text", "--as", name],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in ("a", "b")]
    for proc in procs:
        assert proc.wait(timeout=PATIENCE) == 0, proc.stderr.read()
    import duckdb

    con = duckdb.connect(str(workspace / "catalog.duckdb"), read_only=True)
    con.execute(f"SET file_search_path = '{workspace}'")
    assert con.execute("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)").fetchone() == (1196, 1196)
    assert con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0] == 2


def test_a_stage_that_loses_rows_is_stopped(ws, tmp_path):
    from curate.stage import Outcome, Stage

    class Lossy(Stage):
        name = "lossy_test_stage"

        def process_batch(self, batch):
            return Outcome(kept=batch.head(1), n_in=batch.height)

    src = make_sources(tmp_path / "src", files=1, rows=5)
    run_stage(ws, Collect(paths=[str(src)], kind="text"), [], "raw")
    with pytest.raises(AssertionError, match="4 rows in but 1 accounted for"):
        run_stage(ws, Lossy(), ["raw"], "lossy")
    with ws.connect(read_only=True) as con:
        assert con.execute("SELECT status FROM runs WHERE stage = 'lossy_test_stage'").fetchone()[0] == "failed"
