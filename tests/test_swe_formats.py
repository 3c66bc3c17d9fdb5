"""AutoCodeRover runs, ATIF trajectories (Harbor jobs) and SWE-Gym's rows, on files written in their layouts;
SWE-Gym's verifier format reproduced exactly."""

from __future__ import annotations

import json

import polars as pl
from swe_helpers import SWE

from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.stages.format import Format, FormatParams

SWE_GYM_SYSTEM = (  # SWE-Gym's verifier system prompt, as published
    "You are an expert judge evaluating AI assistant interactions. Your task is to determine if the assistant "
    "successfully resolved the user's request.\n\nKey evaluation criteria:\n1. Did the assistant complete the main "
    "task requested by the user?\n2. Did the assistant handle all edge cases and requirements specified?\n3. Were "
    "there any errors or issues in the final solution?\n4. Did the assistant verify the solution works as "
    "intended?\n\nRespond only with \"<judgement>YES</judgement>\" or \"<judgement>NO</judgement>\".")


def _collect(ws, path, fmt, name, **options):
    summary = run_stage(ws, Collect(CollectParams(paths=[str(path)], format=fmt, options=options)), [], name)
    with ws.connect(read_only=True) as con:
        rejects = con.execute(f"SELECT location, reason FROM rejects WHERE table_name = '{name}'").fetchall()
    table = ws.read(name)
    return summary, {r["instance_id"]: r for r in table.to_dicts()}, dict(rejects)


def test_autocoderover_run_with_its_report(ws):
    summary, rows, rejects = _collect(ws, SWE / "autocoderover", "autocoderover", "acr")
    assert rejects == {"run/acme__widgets-103": "no_label", "run/broken__acr-9": "malformed_json"}
    assert {i: (r["resolved"], r["label_source"]) for i, r in rows.items()} == {
        "acme__widgets-101": (True, "report.json:resolved"),
        "acme__widgets-102": (False, "report.json:generated, not in resolved"),
        "acme__widgets-104": (False, "report.json:no_apply")}
    validated = rows["acme__widgets-101"]
    assert validated["leaks_test_results"] is True and validated["policy"] == "gpt-4o-2024-05-13"
    assert validated["messages"][-1] == {"role": "user", "content": "Written a patch that resolves the issue. Congratulations!"}
    assert validated["messages"][0]["role"] == "system" and "<issue>Widget.resize()" in validated["messages"][1]["content"]
    assert json.loads(validated["meta"])["leak_evidence"] == ["run_test_suite_1.log", "info.log: validation",
                                                             "conversation: test verdict"]
    newer = rows["acme__widgets-102"]  # timestamped folder, tries in output_N, the patch selected_patch.json names
    assert newer["leaks_test_results"] is False and newer["policy"] == "claude-3-5-sonnet-20241022"
    assert "text = text * 2" in newer["patch"] and json.loads(newer["meta"])["conversation_file"] == "output_0/debug_agent_write_patch_1.json"
    assert rows["acme__widgets-104"]["patch"].startswith("diff --git a/widgets/themes.py")  # the last extracted patch
    _, rows, _ = _collect(ws, SWE / "autocoderover", "autocoderover", "acr_all", unlisted="unresolved")
    unpatched = rows["acme__widgets-103"]
    assert (unpatched["resolved"], unpatched["finished"], unpatched["patch"]) == (False, False, None)
    assert unpatched["label_source"] == "report.json:unlisted"
    # one instance folder, the report named with --labels
    _, rows, _ = _collect(ws, SWE / "autocoderover" / "run" / "acme__widgets-101", "autocoderover", "one",
                          labels=str(SWE / "autocoderover" / "report.json"))
    assert list(rows) == ["acme__widgets-101"] and rows["acme__widgets-101"]["resolved"] is True


def test_atif_trajectories_in_a_harbor_job(ws):
    summary, rows, rejects = _collect(ws, SWE / "atif", "atif", "atif")
    assert (summary.kept, summary.rejected) == (2, 2)
    assert set(rejects.values()) == {"no_label"}  # the timed-out trial (no reward) and the file with no result
    assert {i: (r["resolved"], r["label_source"]) for i, r in rows.items()} == {
        "acme__widgets-101": (True, "result.json:reward"), "acme__widgets-102": (False, "result.json:reward")}
    row = rows["acme__widgets-101"]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool", "tool",
                                                    "assistant"]
    thought = row["messages"][2]["content"]
    assert thought.startswith("I should look at widgets/core.py first.\n\nLet me read the module.\n### Tool Call 0\n")
    assert "<function=bash>\n<parameter=command>sed -n 1,60p widgets/core.py</parameter>\n</function>" in thought
    assert row["messages"][3]["content"].startswith("class Widget:")
    assert row["policy"] == "anthropic/claude-sonnet-4-5" and row["finished"] is True and row["patch"] is None
    assert json.loads(row["meta"])["reward"] == 1.0
    _, rows, rejects = _collect(ws, SWE / "atif", "atif", "labelled", labels=str(SWE / "atif" / "labels.json"))
    alone = rows["acme__widgets-103"]  # a file on its own: instance and patch from `extra`, label from --labels
    assert (alone["resolved"], alone["label_source"], alone["policy"]) == (True, "labels.json:resolved_ids", "openai/gpt-5")
    assert alone["patch"].startswith("diff --git a/widgets/cli.py") and alone["finished"] is True
    assert list(rejects.values()) == ["no_label"]


def test_swe_gym_rows_raw_and_in_verifier_layout(ws, tmp_path):
    summary, raw, rejects = _collect(ws, SWE / "swe-gym" / "sampled.jsonl", "swe-gym", "sampled")
    assert sorted(rejects.values()) == ["malformed_json", "no_label"]
    assert {i: r["resolved"] for i, r in raw.items()} == {"acme__widgets-101": True, "acme__widgets-102": False}
    first = raw["acme__widgets-101"]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool",
                                                      "assistant", "tool", "assistant"]
    assert first["policy"] == "gpt-4o-2024-08-06" and first["patch"].startswith("diff --git a/widgets/core.py")
    # SWE-Gym's verifier format, exactly: its system text, its log layout, its answer
    run_stage(ws, Format(FormatParams(template="swe-gym")), ["sampled"], "verifier")
    formatted = ws.read("verifier").filter(instance_id="acme__widgets-101").row(0, named=True)
    system, user, answer = formatted["messages"]
    assert system == {"role": "system", "content": SWE_GYM_SYSTEM}
    assert user["content"] == (SWE / "swe-gym" / "expected_user_0.txt").read_text()
    assert answer == {"role": "assistant", "content": "<judgement>YES</judgement>"} == {
        "role": "assistant", "content": formatted["target"]}
    # published verifier rows are read back into the run: formatting them again gives the same prompt
    _, rows, _ = _collect(ws, SWE / "swe-gym" / "verifier.jsonl", "swe-gym", "published")
    table = ws.read("published")
    assert table.height == 3 and table["instance_id"].n_unique() == 2  # ids from the issue: rows 1 and 3 share one
    assert sorted(table["label_source"]) == ["row", "row", "row:judgement"]
    run_stage(ws, Format(FormatParams(template="swe-gym")), ["published"], "again")
    prompts = {r["messages"][1]["content"] for r in ws.read("again").to_dicts()}
    assert (SWE / "swe-gym" / "expected_user_0.txt").read_text() in prompts
    # the same rows as Parquet (messages as a JSON string), in a folder as a dataset repository holds them
    (tmp_path / "data").mkdir()
    lines = [json.loads(line) for line in (SWE / "swe-gym" / "sampled.jsonl").read_text().splitlines()[:2]]
    frame = pl.DataFrame([{**r, "messages": json.dumps(r["messages"]), "metrics": None} for r in lines])
    frame.write_parquet(tmp_path / "data" / "train-00000-of-00001.parquet")
    _, from_parquet, _ = _collect(ws, tmp_path, "swe-gym", "pq")
    assert from_parquet["acme__widgets-101"]["messages"] == first["messages"]


def test_atif_variants_parse(tmp_path):
    """Multimodal content parts, an older Harbor's flat `verifier_result.reward`, a job's own result.json."""
    from curate.sources.atif import parse_atif

    trial = tmp_path / "job" / "acme__widgets-101__Ab12Cd3"
    (trial / "agent").mkdir(parents=True)
    data = {"schema_version": "ATIF-v1.6", "session_id": "s", "agent": {"name": "a", "version": "1"},
            "steps": [{"step_id": 1, "source": "user", "message": [{"type": "text", "text": "Fix it."},
                                                                   {"type": "image", "source": {"path": "x.png"}}]},
                      {"step_id": 2, "source": "agent", "message": "Done.",
                       "observation": {"results": [{"content": [{"type": "text", "text": "ok"}]}]}}]}
    (trial / "agent" / "trajectory.json").write_text(json.dumps(data))
    (trial / "result.json").write_text(json.dumps({"trial_name": trial.name, "verifier_result": {"reward": 0.5}}))
    (tmp_path / "job" / "result.json").write_text(json.dumps({"n_total_trials": 1, "stats": {}}))
    row = parse_atif(data, trial / "agent" / "trajectory.json")
    assert row["messages"] == [{"role": "user", "content": "Fix it.\n"}, {"role": "assistant", "content": "Done."},
                               {"role": "tool", "content": "ok"}]
    assert (row["instance_id"], row["resolved"], row["reward"]) == ("acme__widgets-101", False, 0.5)
    (tmp_path / "job" / "loose.atif.json").write_text(json.dumps(data))
    loose = parse_atif(data, tmp_path / "job" / "loose.atif.json")  # beside the job's result.json, not a trial's
    assert loose["instance_id"] == "loose" and "resolved" not in loose
