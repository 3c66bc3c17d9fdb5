"""ls / show / sql / stats / filter as a user types them."""

import json

import pytest

from tests.conftest import ROOT

DEMO = ROOT / "recipes" / "data" / "demo" / "notes.jsonl"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from tests.conftest import run_cli

    workspace = tmp_path_factory.mktemp("demo") / "w"
    result = run_cli("collect", str(DEMO), "--kind", "text", "--as", "notes", workspace=workspace)
    assert result.returncode == 0, result.stderr
    return workspace


def test_ls_lists_tables_with_rows_and_stage(cli, demo):
    result = cli("ls", workspace=demo)
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if " notes " in line)
    assert " 40 " in line and "collect" in line


def test_show_and_unknown_names(cli, demo):
    result = cli("show", "notes", "--limit", "2", "--columns", "id,text", "--format", "json", workspace=demo)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and set(rows[0]) == {"id", "text"}
    wrong = cli("show", "note", workspace=demo)
    assert wrong.returncode == 2 and "did you mean 'notes'" in wrong.stderr
    column = cli("show", "notes", "--columns", "txt", workspace=demo)
    assert column.returncode == 2 and "did you mean 'text'" in column.stderr


def test_sql_formats(cli, demo):
    csv_out = cli("sql", "SELECT reason, count(*) AS n FROM rejects GROUP BY 1 ORDER BY 1", "--format", "csv",
                  workspace=demo)
    assert csv_out.stdout.splitlines() == ["reason,n", "malformed_json,1", "schema_mismatch,2"]
    bad = cli("sql", "SELECT * FROM nowhere", workspace=demo)
    assert bad.returncode == 2 and "query failed" in bad.stderr and "Traceback" not in bad.stderr
    readonly = cli("sql", "DROP VIEW notes", workspace=demo)
    assert readonly.returncode == 2


def test_stats_describes_columns_and_lineage(cli, demo):
    result = cli("stats", "notes", workspace=demo)
    assert result.returncode == 0
    assert "text" in result.stdout and "VARCHAR" in result.stdout
    assert "in 48 · kept 40 · filtered 5 · rejected 3" in result.stdout  # 5 repeats: same content, same id
    assert "duplicate_id 5" in result.stdout


def test_filter_records_the_rule(cli, demo):
    result = cli("filter", "notes", "--where", "text LIKE '%SQL%'", "--as", "sql_notes", workspace=demo)
    assert result.returncode == 0, result.stderr
    counts = cli("sql", "SELECT (SELECT count(*) FROM sql_notes), (SELECT count(*) FROM filtered "
                        "WHERE table_name = 'sql_notes' AND reason = 'where')", "--format", "csv", workspace=demo)
    kept, filtered = map(int, counts.stdout.splitlines()[1].split(","))
    assert kept > 0 and kept + filtered == 40
    typo = cli("filter", "notes", "--where", "lenght(text) > 3", "--as", "x", workspace=demo)
    assert typo.returncode == 2 and "bad --where" in typo.stderr


def test_every_command_has_help_with_an_example(cli):
    from curate.cli import COMMAND_MODULES, load_commands

    app = load_commands()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"collect", "ls", "show", "sql", "stats", "filter", "run", "split"} <= set(names)
    for command in app.registered_commands:
        assert command.epilog and command.epilog.startswith("Example: curate ")
    result = cli("collect", "--help")
    assert result.returncode == 0 and "--kind" in result.stdout and "Example:" in result.stdout
    groups = [g.name for g in app.registered_groups]
    assert sorted(COMMAND_MODULES) == sorted(names + groups)  # each command loads only its own modules


def test_sample_text_reaches_the_terminal_escaped(cli, tmp_path):
    """Escape sequences, bidi overrides and Rich markup in a table's text are shown, never acted on."""
    source = tmp_path / "hostile.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "\x1b[31mred\x1b]0;pwned\x07 [bold]markup[/bold] \u202eevil"}) + "\n")
    workspace = tmp_path / "w"
    assert cli("collect", str(source), "--kind", "text", "--as", "t", workspace=workspace).returncode == 0
    table = cli("show", "t", "--columns", "text", workspace=workspace).stdout
    assert "\\x1b[31mred\\x1b]0;pwned\\x07 [bold]markup[/bold] \\u202eevil" in table
    as_json = cli("sql", "SELECT text FROM t", "--format", "json", workspace=workspace).stdout
    assert "\x1b" not in table + as_json and "\u202e" not in table + as_json and "[bold]markup" in as_json
