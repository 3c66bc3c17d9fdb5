"""Recipes: validated before anything runs; unknown keys name the key, the line and the closest key."""

from pathlib import Path

import pytest

from curate.errors import CurateError
from curate.recipes import load_recipe, run_recipe
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    """The recipe beside the source file it names."""
    (tmp_path / "notes.jsonl").write_text('{"text": "short"}\n{"text": "a much longer note"}\n{"bad json\n')
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


GOOD = """\
name: t
sources:
  - as: raw
    paths: [notes.jsonl]
    kind: text
stages:
  - stage: filter
    input: raw
    as: short
    where: "length(text) < 10"
"""


@pytest.mark.parametrize("text, line, key, guess", [
    (GOOD.replace("sources:", "sourcs:"), 2, "sourcs", "sources"),
    (GOOD.replace("    kind: text", "    kind: text\n    mapp: {a: b}"), 6, "mapp", "map"),
    (GOOD.replace('    where: "length(text) < 10"', '    wher: "x"'), 10, "wher", "where"),
])
def test_unknown_keys_name_the_key_line_and_closest(tmp_path, text, line, key, guess):
    with pytest.raises(CurateError) as err:
        load_recipe(write(tmp_path, text))
    assert f"r.yaml:{line}: unknown key {key!r}" in err.value.message
    assert f"did you mean {guess!r}" in err.value.hint


def test_unknown_stage_and_bad_values(tmp_path):
    with pytest.raises(CurateError) as err:
        load_recipe(write(tmp_path, GOOD.replace("stage: filter", "stage: filtr")))
    assert "r.yaml:7: stages.0.stage: unknown stage 'filtr'" in err.value.message and "'filter'" in err.value.hint
    with pytest.raises(CurateError, match=r"r.yaml:3: sources.0.as: Field required"):
        load_recipe(write(tmp_path, GOOD.replace("  - as: raw\n", "  - kind: text\n")))


def test_recipe_runs_resolves_paths_and_skips_when_done(tmp_path, ws):
    recipe = load_recipe(write(tmp_path, GOOD))
    first = list(run_recipe(recipe, ws))
    assert [(s.output, s.kept, s.filtered, s.rejected) for s in first] == [("raw", 2, 0, 1), ("short", 1, 1, 0)]
    assert all(s.skipped for s in run_recipe(recipe, ws))
    with ws.connect(read_only=True) as con:
        assert {r[0] for r in con.execute("SELECT recipe_hash FROM runs").fetchall()} == {recipe.hash}


BROKEN = """\
name: t
sources:
  - as: raw
    paths: [notes.jsonl, data/missing.jsonl]
    kind: txt
stages:
  - stage: filter
    input: rwa
    as: short
    wher: "x"
  - stage: split
    input: [short, later]
    as: parts
    by: id
    exclude: data/held_out.txt
  - stage: filter
    input: raw
    as: later
    where: "true"
  - stage: dedupp
    input: raw
    as: 2nd
exports:
  - table: shortt
"""


def test_every_problem_is_found_before_anything_runs(tmp_path, cli):
    """Tables read, files named, stages, parameters and output names: all reported at once, with the file,
    line, key path and closest match, before any source is collected."""
    (tmp_path / "data").mkdir()
    with pytest.raises(CurateError) as err:
        load_recipe(write(tmp_path, BROKEN))
    found = err.value.message
    assert "r.yaml: 9 problems, nothing was run" in found
    for expected in [
        f"r.yaml:4: sources.0.paths.1: no such file or folder: {tmp_path / 'data/missing.jsonl'}",
        "r.yaml:5: sources.0.kind: unknown record kind 'txt' (did you mean 'text'?)",
        "r.yaml:8: stages.0.input: unknown table 'rwa' (did you mean 'raw'?)",
        "r.yaml:10: unknown key 'wher' (did you mean 'where'?)",
        "r.yaml:12: stages.1.input.1: table 'later' is written by a later step",
        f"r.yaml:15: stages.1.exclude: no such file or folder: {tmp_path / 'data/held_out.txt'}",
        "r.yaml:20: stages.3.stage: unknown stage 'dedupp' (did you mean 'dedup'?)",
        "r.yaml:22: stages.3.as: invalid table name '2nd'",
        "r.yaml:24: exports.0.table: unknown table 'shortt' (did you mean 'short'?)",
    ]:
        assert expected in found, expected
    assert "where: Field required" not in found  # the typo says why

    # from the command line: exit 2, no traceback, and not one source collected
    workspace = tmp_path / "w"
    result = cli("run", str(tmp_path / "r.yaml"), workspace=workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown table 'rwa'" in result.stderr and "no such file or folder" in result.stderr
    assert not (workspace / "tables").exists()


def test_tables_of_the_workspace_may_be_read(tmp_path, ws):
    recipe = GOOD.replace("    input: raw\n", "    input: earlier\n")
    with pytest.raises(CurateError, match="unknown table 'earlier'"):
        load_recipe(write(tmp_path, recipe))
    assert load_recipe(write(tmp_path, recipe), tables=["earlier"]).stages[0].inputs == ["earlier"]


def test_cli_run_reports_a_bad_recipe_without_traceback(cli, tmp_path):
    result = cli("run", str(write(tmp_path, GOOD.replace("sources:", "sourcs:"))), workspace=tmp_path / "w")
    assert result.returncode == 2
    assert "unknown key 'sourcs'" in result.stderr and "Traceback" not in result.stderr


def test_every_shipped_recipe_is_valid():
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert recipes
    for path in recipes:
        assert load_recipe(path).name
