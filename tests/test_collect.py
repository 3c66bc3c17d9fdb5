"""`curate collect` on every format, with broken inputs: nothing is lost, every reject has its reason."""

import gzip
import hashlib
import json
import os
import threading
from collections import Counter

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import CurateError, Interrupted
from curate.runner import run_stage
from curate.stages import unique_ids
from curate.stages.collect import Collect, CollectParams
from tests.conftest import FIXTURES

DATA = FIXTURES / "collect"


def reasons(ws, table):
    with ws.connect(read_only=True) as con:
        rows = con.execute("SELECT reason, location FROM rejects WHERE table_name = ?", [table]).fetchall()
    return Counter(r[0] for r in rows), [r[1] for r in rows]


@pytest.mark.parametrize("name", ["questions.jsonl", "questions.jsonl.gz", "questions.jsonl.zst"])
def test_jsonl_plain_and_compressed(ws, name):
    summary = run_stage(ws, Collect(paths=[str(DATA / name)], kind="question"), [], "q")
    assert (summary.n_in, summary.kept, summary.rejected) == (8, 3, 5)
    counts, locations = reasons(ws, "q")
    assert counts == {"schema_mismatch": 2, "malformed_json": 1, "invalid_utf8": 1, "not_an_object": 1}
    assert all(loc.startswith(f"{name}:") for loc in locations)
    frame = ws.read("q")
    assert frame["points"].to_list() == [4.0, 5.0, 6.0]
    assert frame["subject"].to_list() == ["math", "biology", None]


def test_json_array_with_bad_items(ws):
    summary = run_stage(ws, Collect(paths=[str(DATA / "questions.json")], kind="question"), [], "q")
    assert (summary.kept, summary.rejected) == (3, 2)
    assert reasons(ws, "q")[0] == {"not_an_object": 1, "schema_mismatch": 1}


def test_truncated_json_file_is_one_reject(ws):
    summary = run_stage(ws, Collect(paths=[str(DATA / "truncated.json")]), [], "t")
    assert (summary.n_in, summary.kept, summary.rejected) == (1, 0, 1)
    assert reasons(ws, "t")[0] == {"malformed_json": 1}
    with ws.connect(read_only=True) as con:
        payload = con.execute("SELECT payload FROM rejects").fetchone()[0]
    assert payload.startswith('[{"question"')


def test_csv_with_malformed_rows(ws):
    summary = run_stage(ws, Collect(paths=[str(DATA / "questions.csv")], kind="question"), [], "q")
    assert (summary.n_in, summary.kept, summary.rejected) == (5, 3, 2)
    assert reasons(ws, "q")[0] == {"malformed_csv": 1, "schema_mismatch": 1}
    assert ws.read("q")["points"].to_list() == [4.0, 5.0, 6.0]


def test_parquet_and_map(ws, tmp_path):
    path = tmp_path / "texts.parquet"
    pq.write_table(pa.table({"content": ["alpha", "beta", None], "lang": ["en", "en", "fr"]}), path, row_group_size=2)
    summary = run_stage(ws, Collect(paths=[str(path)], kind="text", map={"content": "text"}), [], "t")
    assert (summary.n_in, summary.kept, summary.rejected) == (3, 2, 1)
    assert ws.read("t")["text"].to_list() == ["alpha", "beta"]


def test_without_kind_rows_keep_their_fields_and_clashing_rows_are_rejected(ws, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2}\n{"a": "three"}\n')
    summary = run_stage(ws, Collect(paths=[str(path)]), [], "m")
    assert (summary.kept, summary.rejected) == (2, 1)
    assert reasons(ws, "m")[0] == {"type_conflict": 1}
    frame = ws.read("m")
    assert frame.columns[:2] == ["id", "source"] and frame["a"].to_list() == [1, 2]


def test_oversized_rows_are_rejected_and_reading_goes_on(ws, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "x" * 5000}) + "\n" + json.dumps({"text": "small"}) + "\n")
    summary = run_stage(ws, Collect(paths=[str(path)], kind="text", max_row_bytes=1000), [], "t")
    assert (summary.kept, summary.rejected) == (1, 1)
    assert reasons(ws, "t") == (Counter({"oversized": 1}), ["big.jsonl:1"])


def test_big_jsonl_is_cut_into_units_that_keep_line_numbers(ws, tmp_path, monkeypatch):
    from curate.sources import files

    monkeypatch.setattr(files, "CHUNK_BYTES", 2000)
    path = tmp_path / "many.jsonl"
    lines = [json.dumps({"text": f"row {i} " + "y" * 40}) for i in range(300)]
    lines[250] = "{broken"
    path.write_text("\n".join(lines) + "\n")
    stage = Collect(paths=[str(path)], kind="text")
    assert len(stage.units([])) > 5
    summary = run_stage(ws, stage, [], "t", workers=1)
    assert (summary.kept, summary.rejected) == (299, 1)
    assert reasons(ws, "t")[1] == ["many.jsonl:251"]
    assert ws.read("t")["text"].to_list() == [json.loads(x)["text"] for x in lines if x != "{broken"]


def test_saved_dataset_folder_and_load_dataset_folder(ws, tmp_path):
    saved = tmp_path / "saved"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list([{"text": "one"}, {"text": "two"}]),
        "test": datasets.Dataset.from_list([{"text": "three"}]),
    }).save_to_disk(str(saved))
    summary = run_stage(ws, Collect(paths=[str(saved)], kind="text"), [], "saved")
    assert summary.kept == 3
    frame = ws.read("saved").sort("text")
    assert [json.loads(m)["split"] for m in frame["meta"]] == ["train", "test", "train"]

    folder = tmp_path / "hub_style"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    params = CollectParams(paths=[str(folder)], format="hf", kind="text", options={"split": "train"})
    assert run_stage(ws, Collect(params), [], "loaded").kept == 2

    broken = tmp_path / "broken"  # what `datasets` cannot load is one clear error, not a traceback
    broken.mkdir()
    (broken / "state.json").write_text("{not json")
    with pytest.raises(CurateError, match="could not load dataset"):
        run_stage(ws, Collect(paths=[str(broken)], kind="text"), [], "broken")


def test_folders_are_walked(ws, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "src" / "sub" / "b.csv").write_text("text\nb\n")
    (tmp_path / "src" / "README").write_text("not data")
    assert run_stage(ws, Collect(paths=[str(tmp_path / "src")], kind="text"), [], "t").kept == 2


def test_cli_summary_and_max_reject_rate(cli, tmp_path):
    workspace = tmp_path / "w"
    ok = cli("collect", str(DATA / "questions.jsonl"), "--kind", "question", "--as", "q", workspace=workspace)
    assert ok.returncode == 0, ok.stderr
    assert "kept 3" in ok.stderr and "rejected 5" in ok.stderr
    strict = cli("collect", str(DATA / "questions.jsonl"), "--kind", "question", "--as", "q2",
                 "--max-reject-rate", "0.2", workspace=workspace)
    assert strict.returncode != 0
    assert "above --max-reject-rate" in strict.stderr and "Traceback" not in strict.stderr
    listing = cli("ls", workspace=workspace)
    assert "q2" in listing.stdout  # the good rows are kept even when the command fails


@pytest.mark.parametrize("args, message", [
    (["--kind", "questoin"], "did you mean 'question'"),
    (["--format", "jsonlines"], "did you mean 'jsonl'"),
])
def test_cli_unknown_names_suggest_the_closest(cli, tmp_path, args, message):
    result = cli("collect", str(DATA / "questions.jsonl"), "--as", "q", *args, workspace=tmp_path / "w")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_missing_file_is_a_clear_error(cli, tmp_path):
    result = cli("collect", str(tmp_path / "nope.jsonl"), "--as", "q", workspace=tmp_path / "w")
    assert result.returncode == 2
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


def test_a_device_is_refused_and_a_named_pipe_is_read_to_its_end(ws, tmp_path):
    with pytest.raises(CurateError, match="not a file, a folder or a named pipe"):
        run_stage(ws, Collect(CollectParams(paths=["/dev/zero"], kind="text", format="jsonl")), [], "zeros")
    pipe = tmp_path / "stream.jsonl"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_bytes(_jsonl(["one", "two", "three"])))
    writer.start()
    summary = run_stage(ws, Collect(CollectParams(paths=[str(pipe)], kind="text")), [], "streamed")
    writer.join()
    assert summary.kept == 3 and sorted(ws.read("streamed")["text"]) == ["one", "three", "two"]


# ----- hostile files: every malformed file ends as rejects with a reason, never a traceback ---------
def _jsonl(texts: list[str]) -> bytes:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(write_content_size=False).compress(data)


DEEP = b'{"text": "deep", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
# distinct rows that compress poorly, so that half a compressed file holds about half of them
MANY = _jsonl([hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)])


MALFORMED = [
    ("deep.jsonl", b'{"text": "a"}\n' + DEEP + b'\n{"text": "b"}\n', 2, {"too_deep": 1}),
    ("deep.json", b'[{"text": "a"}, ' + DEEP + b', {"text": "b"}]', 2, {"too_deep": 1}),
    ("surrogate.jsonl", b'{"text": "a"}\n{"text": "lone \\ud800 x"}\n{"text": "pair \\ud83d\\ude00"}\n', 2,
     {"invalid_utf8": 1}),
    ("empty.parquet", b"", 0, {"corrupt_file": 1}),
    ("corrupt.parquet", b"PAR1" + bytes(range(256)) * 4 + b"PAR1", 0, {"corrupt_file": 1}),
    ("corrupt.jsonl.zst", bytes(range(7, 250)), 0, {"corrupt_file": 1}),
    ("truncated.jsonl.zst", _zstd(MANY)[:-30_000], None, {"corrupt_file": 1}),
    ("two_frames.jsonl.zst", _zstd(_jsonl(["a"])) + _zstd(_jsonl(["b"])), 2, {}),
    ("plain.jsonl.gz", _jsonl(["a", "b"]), 0, {"corrupt_file": 1}),
    ("truncated.jsonl.gz", gzip.compress(MANY)[:60_000], None, {"corrupt_file": 1}),
    ("bom.jsonl", b"\xef\xbb\xbf" + _jsonl(["a", "b", "c"]), 3, {}),
    ("bom.csv", b"\xef\xbb\xbftext\na\nb\nc\n", 3, {}),
    ("bom.json", b"\xef\xbb\xbf" + json.dumps([{"text": t} for t in "abc"]).encode(), 3, {}),
    ("utf16.csv", "text\na\n".encode("utf-16"), 0, {"invalid_utf8": 1}),
    ("bad_byte.csv", b"text,n\na,1\nb \xff\xfe,2\nc,3\n", 2, {"invalid_utf8": 1}),
    ("big_field.csv", b'text\n"' + b"y" * 200_000 + b'"\nsmall\n', 2, {}),
    ("crlf.csv", b'text,n\r\na,1\r\n"two\r\nlines",2\r\n\r\n', 2, {}),
    ("mac.csv", b"text,n\ra,1\rb,2\r", 2, {}),
    ("same_header.csv", b"text,text,\na,b,c\n", 1, {}),
    ("lines.json", _jsonl(["a", "b"]) + b"{oops\n", 2, {"malformed_json": 1}),
    ("array.json.gz", gzip.compress(json.dumps([{"text": "a"}, {"text": "b"}]).encode()), 2, {}),
    ("garbage.jsonl", _jsonl(["a"]) + b'{"text": "b"} trailing\n\x00\x00\n', 1, {"malformed_json": 2}),
    ("empty.jsonl", b"", 0, {}),
    ("empty.csv", b"", 0, {}),
]


@pytest.mark.parametrize("name, data, kept, reasons", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_files_keep_their_good_rows(ws, tmp_path, name, data, kept, reasons):
    path = tmp_path / name
    path.write_bytes(data)
    summary = run_stage(ws, Collect(paths=[str(path)], kind="text"), [], "t", workers=1)
    assert reasons_of(ws, "t") == reasons
    if kept is None:  # a truncated stream: the rows before the damage are kept, and the one reject says where
        assert 0 < summary.kept < 3000 and summary.n_in == summary.kept + 1
    else:
        assert summary.kept == kept
    assert summary.n_in == summary.kept + summary.filtered + summary.rejected


def reasons_of(ws, table):
    return dict(reasons(ws, table)[0])


def test_oversized_csv_record_is_skipped_whole(ws, tmp_path):
    """A quoted field running over --max-row-bytes (over many lines) is one reject; the rows after it stay."""
    path = tmp_path / "big.csv"
    path.write_text('text,n\nbefore,1\n"' + "long line, with commas\n" * 200 + '",2\nafter,3\n')
    summary = run_stage(ws, Collect(paths=[str(path)], kind="text", max_row_bytes=1000), [], "t", workers=1)
    assert (summary.kept, summary.rejected) == (2, 1)
    assert reasons(ws, "t") == (Counter({"oversized": 1}), ["big.csv:3"])
    assert ws.read("t")["text"].to_list() == ["before", "after"]


def test_ids_are_unique_across_inputs(ws, tmp_path):
    """Ids are unique in a collected table: a path given twice is read once; a repeated row (same id, same
    content) is filtered as duplicate_id; a source id reused for other content is rejected as id_conflict."""
    first = tmp_path / "a.jsonl"
    first.write_text(_jsonl(["one", "two", "one"]).decode())
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "a.jsonl").write_bytes(first.read_bytes())
    given = tmp_path / "given_ids.jsonl"
    given.write_text('{"id": "q1", "text": "x"}\n{"id": "q1", "text": "x"}\n{"id": "q1", "text": "y"}\n')
    paths = [str(first), str(first), str(tmp_path / "copy"), str(given)]
    summary = run_stage(ws, Collect(paths=paths, kind="text"), [], "t", workers=1)
    assert (summary.n_in, summary.kept, summary.filtered, summary.rejected) == (9, 3, 5, 1)
    frame = ws.read("t")
    assert frame["text"].to_list() == ["one", "two", "x"] and frame["id"].n_unique() == 3
    with ws.connect(read_only=True) as con:
        filtered = con.execute("SELECT reason, detail FROM filtered ORDER BY detail").fetchall()
        conflict = con.execute("SELECT reason, message, location FROM rejects").fetchone()
    assert {r[0] for r in filtered} == {"duplicate_id"}
    assert json.loads(filtered[0][1]) == {"kept": "a.jsonl:1", "location": "a.jsonl:1"}  # the copy's first row
    assert conflict[0] == "id_conflict" and conflict[2] == "given_ids.jsonl:3"
    assert conflict[1].startswith("id 'q1' is already used by different content at given_ids.jsonl:1")


def test_repeated_ids_pass_resumes_after_a_kill(ws, tmp_path, monkeypatch):
    """Killed while taking repeats out of the shards, the re-run ends with the rows of an unbroken run."""
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text(_jsonl(["same", f"own {name}"]).decode())
    paths = [str(tmp_path / n) for n in ("a.jsonl", "b.jsonl", "c.jsonl")]
    real = unique_ids._drop

    def killed_after_one_shard(*args):
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(unique_ids, "_drop", killed_after_one_shard)
    with pytest.raises(Interrupted):  # the runner turns Ctrl-C into its own interruption, run recorded
        run_stage(ws, Collect(paths=paths, kind="text"), [], "t", workers=1)
    monkeypatch.setattr(unique_ids, "_drop", real)
    summary = run_stage(ws, Collect(paths=paths, kind="text"), [], "t", workers=1)
    assert (summary.n_in, summary.kept, summary.filtered, summary.rejected) == (6, 4, 2, 0)
    assert sorted(ws.read("t")["text"].to_list()) == ["own a.jsonl", "own b.jsonl", "own c.jsonl", "same"]
