"""The trajectory adapters on real-format samples, broken files included, and labels from reports."""

from __future__ import annotations

import json

import polars as pl
import pytest
from swe_helpers import SWE, collect_mini, tiny_tokenizer

from curate.errors import CurateError
from curate.runner import run_stage
from curate.sources.trajectories import repo_of
from curate.stages.collect import Collect, CollectParams
from curate.store import Workspace
from curate.swe.labels import Label, load_labels


def _collect(ws, path, fmt, name, **options):
    summary = run_stage(ws, Collect(CollectParams(paths=[str(path)], format=fmt, options=options)), [], name)
    with ws.connect(read_only=True) as con:
        rejects = con.execute(f"SELECT location, reason FROM rejects WHERE table_name = '{name}'").fetchall()
    return summary, ws.read(name), dict(rejects)


def test_mini_swe_agent_with_harness_reports(ws):
    summary, table, rejects = _collect(ws, SWE / "mini-swe-agent", "mini-swe-agent", "mini",
                                       labels=str(SWE / "reports"))
    assert (summary.n_in, summary.kept, summary.rejected) == (7, 4, 3)
    assert rejects == {"broken__noinfo-2.traj.json": "missing_field",
                       "broken__truncated-1.traj.json": "malformed_json",
                       "unlabelled__repo-3.traj.json": "no_label"}
    truth = {p.name.removesuffix(".report.json"): json.loads(p.read_text())["resolved"]
             for p in (SWE / "reports").glob("*.report.json")}
    assert dict(zip(table["instance_id"], table["resolved"], strict=True)) == truth
    row = table.filter(instance_id="django__django-11099").row(0, named=True)
    assert row["repo"] == "django/django" and row["policy"] == "google/gemini-3-pro-preview"
    assert row["finished"] is True and row["patch"].startswith("diff --git")
    assert row["messages"][0]["role"] == "system" and "PR description" in row["messages"][1]["content"]
    assert row["label_source"] == "django__django-11099.report.json:resolved"


def test_swe_agent_traj_files(ws):
    summary, table, rejects = _collect(ws, SWE / "swe-agent", "swe-agent", "sa",
                                       labels=str(SWE / "swe-agent" / "report.json"), policy="my-model")
    assert rejects == {"broken__nostatus-2.traj": "missing_field", "broken__truncated-1.traj": "malformed_json"}
    by_id = {r["instance_id"]: r for r in table.to_dicts()}
    assert set(by_id) == {"django__django-11099", "django__django-11276", "sympy__sympy-14711", "unfinished__repo-4"}
    assert by_id["unfinished__repo-4"]["finished"] is False and by_id["unfinished__repo-4"]["patch"] is None
    assert by_id["django__django-11099"]["finished"] is True and by_id["django__django-11099"]["resolved"] is True
    assert by_id["django__django-11276"]["resolved"] is False
    assert all(r["policy"] == "my-model" for r in by_id.values())
    assert json.loads(by_id["unfinished__repo-4"]["meta"])["exit_status"] == "exit_cost"


def test_openhands_event_logs_and_eval_output(ws, tmp_path):
    labels = str(SWE / "openhands-labels.json")
    _, events, rejects = _collect(ws, SWE / "openhands", "openhands", "oh", labels=labels)
    assert rejects == {"broken__truncated-1.json": "malformed_json"}
    assert set(events["instance_id"]) == {"django__django-11099", "django__django-11276"}
    row = events.filter(instance_id="django__django-11099").row(0, named=True)
    roles = [m["role"] for m in row["messages"]]
    assert roles[:2] == ["system", "user"] and {"assistant", "tool"} <= set(roles)
    assert row["finished"] is True and row["resolved"] is True
    events_list = json.loads((SWE / "openhands" / "django__django-11099.json").read_text())
    pairs = [events_list[i:i + 2] for i in range(0, len(events_list), 2)]  # older logs: [action, observation]
    (tmp_path / "django__django-11099.json").write_text(json.dumps(pairs))
    _, paired, _ = _collect(ws, tmp_path / "django__django-11099.json", "openhands", "pairs", labels=labels)
    assert paired["messages"].to_list() == [row["messages"]]
    _, rows, rejects = _collect(ws, SWE / "openhands" / "output.jsonl", "openhands", "oh2", labels=labels)
    assert sorted(rejects.values()) == ["malformed_json", "missing_field"]
    assert set(rows["policy"]) == {"openhands-sample-policy"} and rows["patch"].is_not_null().all()


def test_rows_format_labels_in_rows(ws):
    summary, table, rejects = _collect(ws, SWE / "rows.jsonl", "rows", "rows")
    assert (summary.kept, summary.rejected) == (4, 3)
    assert sorted(rejects.values()) == ["malformed_json", "missing_field", "no_label"]
    assert set(table["source"]) == {"SWE-bench"} and set(table["label_source"]) == {"row"}
    assert set(table["policy"]) == {"rows-sample-policy"}


def test_tokenizer_option_fills_n_tokens(ws, tmp_path):
    collect_mini(ws, "counted", tokenizer=str(tiny_tokenizer(tmp_path / "tok")))
    assert ws.read("counted")["n_tokens"].min() > 100
    collect_mini(ws, "plain")
    assert ws.read("plain")["n_tokens"].is_null().all()


def test_label_report_shapes(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"resolved_ids": ["a__b-1"], "unresolved_ids": ["a__b-2"],
                                                       "empty_patch_ids": ["a__b-3"], "error_ids": ["a__b-4"]}))
    (tmp_path / "a__b-5.report.json").write_text(json.dumps(
        {"tests_status": {"FAIL_TO_PASS": {"success": ["t1"], "failure": []}, "PASS_TO_PASS": {"success": [], "failure": []}}}))
    (tmp_path / "per_instance.json").write_text(json.dumps({"a__b-6": {"resolved": False}, "a__b-7": {
        "tests_status": {"FAIL_TO_PASS": {"success": ["t"], "failure": ["u"]}}}}))
    labels = load_labels(tmp_path).labels
    assert {k: v.resolved for k, v in labels.items()} == {"a__b-1": True, "a__b-2": False, "a__b-3": False,
                                                         "a__b-4": False, "a__b-5": True, "a__b-6": False,
                                                         "a__b-7": False}
    assert labels["a__b-5"].source == "a__b-5.report.json:FAIL_TO_PASS"
    assert labels["a__b-4"].source == "summary.json:error_ids"


def test_report_lists_say_what_each_list_means(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({
        "stats": {"generated": 6, "resolved": 2},  # counts say nothing about one instance
        "resolved": ["a__b-1"], "resolved_per_project": {"a/b": ["a__b-1", "a__b-2"], "c/d": []},
        "generated": ["a__b-1", "a__b-2", "a__b-3", "a__b-4", "a__b-5"], "applied": ["a__b-1", "a__b-2", "a__b-3"],
        "no_apply": ["a__b-4"], "install_fail": ["a__b-5"], "unresolved_ids": ["a__b-6"], "incomplete_ids": ["a__b-7"], "no_logs": ["a__b-8"], "error_ids": ["a__b-9"], "test_timeout": ["a__b-9"],
        "empty_patch_ids": ["a__b-2"]}))  # a__b-2: resolved per project and an empty patch
    found = load_labels(report)
    got = {i: (lab.resolved, lab.source, lab.problem) for i, lab in found.labels.items()}
    assert got["a__b-1"] == (True, "report.json:resolved", None)
    assert got["a__b-2"][2] == "label_conflict" and "resolved_per_project" in got["a__b-2"][1]
    assert got["a__b-3"] == (False, "report.json:generated, not in resolved", None)
    assert got["a__b-4"] == (False, "report.json:no_apply", None)
    assert got["a__b-5"] == (None, "report.json:install_fail", "not_evaluated")
    assert got["a__b-6"] == (False, "report.json:unresolved_ids", None)
    assert got["a__b-7"][2] == got["a__b-8"][2] == "not_evaluated"
    assert got["a__b-9"] == (None, "report.json: in error_ids and in test_timeout", "label_conflict")
    assert found.label("a__b-99") is None
    assert found.label("a__b-99", "unresolved") == Label(False, "report.json:unlisted")
    assert found.label("a__b-1", "unresolved").resolved is True  # the rule touches unlisted ids only


def test_resolved_only_report_names_the_unlisted_rule(cli, tmp_path):
    """A classic SWE-agent submission: `stats` and the resolved ids only; not listed means not resolved."""
    report = SWE / "swe-agent" / "final_report.json"
    args = ("collect", str(SWE / "swe-agent"), "--format", "swe-agent", "--labels", str(report))
    result = cli(*args, "--as", "strict", workspace=tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "kept 2" in text and "no_label 2" in text
    assert "not listed in final_report.json" in text and "--unlisted unresolved keeps these 2 rows" in text
    result = cli(*args, "--unlisted", "unresolved", "--as", "open", workspace=tmp_path)
    assert result.returncode == 0 and "--unlisted" not in result.stderr
    table = Workspace(tmp_path).read("open")
    assert dict(zip(table["instance_id"], table["label_source"], strict=True)) == {
        "django__django-11099": "final_report.json:resolved", "sympy__sympy-14711": "final_report.json:resolved",
        "django__django-11276": "final_report.json:unlisted", "unfinished__repo-4": "final_report.json:unlisted"}
    assert table.filter(pl.col("label_source").str.ends_with("unlisted"))["resolved"].to_list() == [False, False]
    result = cli(*args, "--unlisted", "maybe", "--as", "bad", workspace=tmp_path)
    assert result.returncode == 2 and "bad --unlisted" in result.stderr and "Traceback" not in result.stderr


def test_swe_agent_demonstrations_are_not_the_run(ws, tmp_path):
    data = json.loads((SWE / "swe-agent" / "django__django-11099.traj").read_text())
    demo = {"role": "user", "content": "Here is a demonstration of how to solve another issue: ...", "is_demo": True,
            "agent": "primary"}
    data["history"].insert(1, demo)
    (tmp_path / "django__django-11099.traj").write_text(json.dumps(data))
    _, table, _ = _collect(ws, tmp_path / "django__django-11099.traj", "swe-agent", "demo",
                           labels=str(SWE / "swe-agent" / "report.json"))
    messages = table["messages"].to_list()[0]
    assert len(messages) == len(data["history"]) - 1 and "demonstration" not in str(messages)


def test_conflicting_reports_reject_the_trajectory(ws, tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"resolved": ["django__django-11099"]}))
    (tmp_path / "two.json").write_text(json.dumps({"unresolved": ["django__django-11099"]}))
    _, table, rejects = _collect(ws, SWE / "mini-swe-agent" / "django__django-11099.traj.json", "mini-swe-agent",
                                 "conflict", labels=str(tmp_path))
    assert table.height == 0 and list(rejects.values()) == ["label_conflict"]


def test_bad_inputs_are_user_errors(ws, tmp_path):
    with pytest.raises(CurateError, match="no such labels report"):
        _collect(ws, SWE / "mini-swe-agent", "mini-swe-agent", "x", labels=str(tmp_path / "missing.json"))
    with pytest.raises(CurateError, match="no .traj files"):
        _collect(ws, tmp_path, "swe-agent", "y")


def test_repo_from_instance_id():
    assert repo_of("scikit-learn__scikit-learn-10844") == "scikit-learn/scikit-learn"
    assert repo_of("not-an-instance") is None


def test_rows_from_parquet(ws, tmp_path):
    import polars as pl

    good = [json.loads(line) for line in (SWE / "rows.jsonl").read_text().splitlines()[:4]]
    pl.DataFrame(good).write_parquet(tmp_path / "rows.parquet")
    summary, table, _ = _collect(ws, tmp_path / "rows.parquet", "rows", "pq")
    assert summary.kept == 4 and table["messages"].list.len().min() > 2
    assert sorted(table["instance_id"]) == sorted(r["instance_id"] for r in good)


def test_a_changed_labels_report_re_runs_collect(ws, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"resolved": ["django__django-11099"]}))
    path = SWE / "mini-swe-agent" / "django__django-11099.traj.json"
    assert _collect(ws, path, "mini-swe-agent", "one", labels=str(report))[1]["resolved"].to_list() == [True]
    report.write_text(json.dumps({"unresolved": ["django__django-11099"]}))
    summary, table, _ = _collect(ws, path, "mini-swe-agent", "one", labels=str(report))
    assert not summary.skipped and table["resolved"].to_list() == [False]


def test_published_trajectories_read_whole(ws):
    """Three trajectories of mini-swe-agent's published run, untrimmed (115-260 KB): labels as the harness says."""
    full = SWE / "mini-swe-agent-full"
    summary, table, rejects = _collect(ws, full / "trajs", "mini-swe-agent", "full", labels=str(full / "reports"),
                                       tokenizer="estimate")
    truth = {p.name.removesuffix(".report.json"): json.loads(p.read_text())["resolved"]
             for p in (full / "reports").glob("*.report.json")}
    assert (summary.kept, rejects) == (3, {}) and dict(zip(table["instance_id"], table["resolved"], strict=True)) == truth
    for row in table.to_dicts():  # the estimate is ⌈bytes / 4⌉ a block: every message is there, whole
        data = json.loads((full / "trajs" / f"{row['instance_id']}.traj.json").read_text())
        assert [m["content"] for m in row["messages"]] == [m["content"] for m in data["messages"]]
        assert row["n_tokens"] >= sum(len(m["content"]) for m in data["messages"]) / 4 > 10_000
        assert row["patch"] == data["info"]["submission"]
