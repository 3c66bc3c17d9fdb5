"""`curate eval value` (Acc, H-Acc, length, value density per run and their average, top/bottom by value, the
plot; answers from files or from a table of responses), predicted values (RLEV's Table 7 prompt) and the
equivalence judge through a local OpenAI-compatible server, and the RLEV recipe end to end."""

from __future__ import annotations

import json
import math
import re

import polars as pl
import pytest
from PIL import Image

from curate.errors import CurateError
from curate.llm import LLMConfig
from curate.rlev.answers import reference_check
from curate.rlev.evaluate import runs_from_table, score_run
from curate.rlev.metrics import value_buckets, value_scores
from curate.runner import run_stage
from curate.stages.value import Value, ValueParams
from tests.conftest import ROOT
from tests.llm_server import LLMServer, prompt_text
from tests.test_rlev_values import make_table

# One exam of 100 points: values 0.40, 0.25, 0.15, 0.12, 0.08.
EXAM = [{"question": f"Question {i}", "answer": a, "points": p, "exam_id": "E", "question_type": t}
        for i, (p, a, t) in enumerate([(40, "B", "single_choice"), (25, "AC", "multi_choice"),
                                       (15, r"\frac{1}{2}", "blank"), (12, "6 N", "blank"), (8, "7", "blank")])]
CORRECT = [True, False, True, True, False]
TOKENS = [100, 200, 300, 400, 500]

@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    """Small sources: run units in this process rather than spawning a pool on a shared 2-core box."""
    monkeypatch.setenv("CURATE_WORKERS", "1")



def test_metrics_match_a_hand_computation():
    values = [0.40, 0.25, 0.15, 0.12, 0.08]
    s = value_scores(values, CORRECT, TOKENS)
    assert s.accuracy == pytest.approx(3 / 5)
    assert s.h_accuracy == pytest.approx((0.40 + 0.15 + 0.12) / 1.0)
    assert s.mean_tokens == 300 and s.value_density == pytest.approx(67 / 300)
    assert s.accuracy_top == 1.0 and s.accuracy_bottom == 0.0  # top 20% = the 0.40 question, bottom = 0.08
    assert value_scores(values, CORRECT).value_density is None  # no lengths, no density


def test_buckets_keep_equal_values_together():
    buckets = value_buckets([0.1, 0.1, 0.1, 0.2, 0.3, 0.3], [True, False, True, True, False, False], 3)
    assert [(b.low, b.high, b.n) for b in buckets] == [(0.1, 0.1, 3), (0.2, 0.2, 1), (0.3, 0.3, 2)]
    assert buckets[0].accuracy == pytest.approx(2 / 3)
    # a large run of one value does not swallow its small neighbours
    values = [0.01] * 2 + [0.02] * 10 + [0.05] * 3
    buckets = value_buckets(values, [True] * 15, 5)
    assert [(b.low, b.high, b.n) for b in buckets] == [(0.01, 0.01, 2), (0.02, 0.02, 10), (0.05, 0.05, 3)]


@pytest.fixture
def valued(ws):
    table = make_table(ws, EXAM)
    run_stage(ws, Value(ValueParams()), [table], "v")
    return ws


def test_eval_value_from_correct_flags(valued, tmp_path, cli):
    frame = valued.read("v").sort("points", descending=True)
    predictions = tmp_path / "answers.csv"
    predictions.write_text("id,correct,n_tokens\n" + "".join(
        f"{i},{str(c).lower()},{t}\n" for i, c, t in zip(frame["id"], CORRECT, TOKENS, strict=True)))
    report = tmp_path / "report.json"
    result = cli("eval", "value", "v", "--predictions", str(predictions), "--report", str(report),
                 workspace=valued.root)
    assert result.returncode == 0, result.stderr
    figures = json.loads(report.read_text())
    assert figures["accuracy"] == pytest.approx(0.6) and figures["h_accuracy"] == pytest.approx(0.67)
    assert figures["value_density"] == pytest.approx(67 / 300)
    assert figures["accuracy_top"] == 1.0 and figures["accuracy_bottom"] == 0.0
    assert "H-Acc" in result.stdout and "67.00%" in result.stdout
    plot = tmp_path / "answers.value_buckets.png"
    assert figures["plot"] == str(plot)
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width > 300


def test_eval_value_checks_responses(valued, tmp_path, cli):
    frame = valued.read("v").sort("points", descending=True)
    responses = ["The answer is (b).", "答案：A", r"so $x = \boxed{0.5}$", "F = 6N", "8"]
    lines = [json.dumps({"id": i, "response": r, "n_tokens": t})
             for i, r, t in zip(frame["id"], responses, TOKENS, strict=True)]
    predictions = tmp_path / "answers.jsonl"
    predictions.write_text("\n".join(lines + ['{"id": "nope", "response": "B"}', "{not json"]) + "\n")
    result = cli("eval", "value", "v", "--predictions", str(predictions), "--json", workspace=valued.root)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    # correct: B, 1/2 and 6 N; wrong: A for AC, 8 for 7
    assert figures["accuracy"] == pytest.approx(0.6) and figures["h_accuracy"] == pytest.approx(0.67)
    assert figures["checked"] == 5 and figures["unknown_ids"] == 1 and figures["unreadable"] == 1
    assert figures["checks"] == {"rules": 5}
    assert "1 answers name ids not in 'v'" in result.stderr and "unreadable prediction" in result.stderr


def test_eval_value_scores_one_split(ws, tmp_path, cli):
    table = make_table(ws, EXAM + [dict(r, exam_id="F", question=r["question"] + " (F)") for r in EXAM])
    run_stage(ws, Value(ValueParams()), [table], "v")
    run_stage(ws, _split(), ["v"], "s")
    frame = ws.read("s")
    assert frame.group_by("exam_id").agg(pl.col("split").n_unique())["split"].max() == 1
    test_ids = frame.filter(pl.col("split") == "test")["id"].to_list()
    assert 0 < len(test_ids) < frame.height
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "correct": True}) + "\n" for i in frame["id"]))
    result = cli("eval", "value", "s", "--split", "test", "--predictions", str(predictions), "--json",
                 workspace=ws.root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == len(test_ids)


def _split():
    from curate.stages.split import Split, SplitParams

    return Split(SplitParams(by="exam_id", ratios={"train": 0.5, "test": 0.5}))


def test_eval_value_asks_a_model_only_about_answers_the_rules_cannot_decide(valued, tmp_path, cli):
    def responder(body):
        text = prompt_text(body)
        return '{"equivalent": true}' if "Candidate's final answer: one half" in text else '{"equivalent": false}'

    frame = valued.read("v").sort("points", descending=True)
    responses = ["B", "A", "The answer is one half", "5 N", "8"]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "response": r}) + "\n"
                                   for i, r in zip(frame["id"], responses, strict=True)))
    with LLMServer(responder) as server:
        result = cli("eval", "value", "v", "--predictions", str(predictions), "--json", "--judge-model", "test-model",
                     "--base-url", server.url, workspace=valued.root)
        assert result.returncode == 0, result.stderr
        # "B", "A", "5 N" against "6 N" and "8" against "7" are decided by the rules: only "one half" is asked
        assert server.counts["chat"] == 1
    figures = json.loads(result.stdout)
    assert (figures["judged"], figures["judged_correct"], figures["judge_failed"]) == (1, 1, 0)
    assert figures["checks"] == {"rules": 4, "judge": 1}
    assert figures["h_accuracy"] == pytest.approx(0.40 + 0.15)


def test_eval_value_over_several_runs_prints_the_papers_table(valued, tmp_path, cli):
    """Two runs: per-run Acc, H-Acc, mean length and value density, and the average row as the mean of the
    per-run figures (value density averaged, not recomputed)."""
    frame = valued.read("v").sort("points", descending=True)
    runs = {"a": ([True, False, True, True, False], [100, 200, 300, 400, 500]),  # H-Acc 0.67, 300 tokens
            "b": ([False, True, False, False, True], [10, 10, 10, 10, 10])}      # H-Acc 0.33, 10 tokens
    paths = []
    for name, (correct, tokens) in runs.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("id,correct,n_tokens\n" + "".join(f"{i},{str(c).lower()},{t}\n"
                                                         for i, c, t in zip(frame["id"], correct, tokens, strict=True)))
        paths += ["--predictions", str(path)]
    report = tmp_path / "r.json"
    result = cli("eval", "value", "v", *paths, "--report", str(report), workspace=valued.root)
    assert result.returncode == 0, result.stderr
    figures = json.loads(report.read_text())
    a, b = figures["runs"]
    assert (a["run"], b["run"]) == ("a", "b")
    assert a["h_accuracy"] == pytest.approx(0.67) and b["h_accuracy"] == pytest.approx(0.33)
    assert a["value_density"] == pytest.approx(67 / 300) and b["value_density"] == pytest.approx(33 / 10)
    assert figures["accuracy"] == pytest.approx((0.6 + 0.4) / 2)
    assert figures["mean_tokens"] == pytest.approx((300 + 10) / 2)
    assert figures["value_density"] == pytest.approx((67 / 300 + 33 / 10) / 2)  # not 50 / 155
    out = " ".join(result.stdout.split())
    assert "Average" in out and "60.00%" in out and "40.00%" in out and "50.00%" in out and "1.7617" in out


def test_eval_value_reads_responses_from_a_table(valued, tmp_path, cli):
    """The layout `curate generate` writes: gen_text per (gen_group = question id, gen_model, gen_sample)."""
    frame = valued.read("v").sort("points", descending=True)
    right = ["B", "AC", r"\boxed{0.5}", "6 N", "7"]
    wrong = ["C", "A", "1/3", "6 N", "8"]
    lines = [{"gen_group": i, "gen_model": "m", "gen_sample": k, "gen_text": text, "gen_completion_tokens": 50 + k}
             for k, answers in enumerate([right, wrong]) for i, text in zip(frame["id"], answers, strict=True)]
    path = tmp_path / "gen.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    from curate.stages.collect import Collect, CollectParams

    run_stage(valued, Collect(CollectParams(paths=[str(path)])), [], "answers")
    result = cli("eval", "value", "v", "--responses", "answers", "--json", workspace=valued.root)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    first, second = figures["runs"]
    assert (first["run"], second["run"]) == ("gen_model=m gen_sample=0", "gen_model=m gen_sample=1")
    assert first["accuracy"] == 1.0 and second["h_accuracy"] == pytest.approx(0.12)  # only "6 N"
    assert first["mean_tokens"] == 50 and second["mean_tokens"] == 51
    assert figures["plot"] == str(valued.root / "reports" / "v.value_buckets.png")
    # other column names, one run
    result = cli("eval", "value", "v", "--responses", "answers", "--response-column", "gen_text", "--key", "gen_group",
                 "--run-by", "", "--json", workspace=valued.root)
    assert result.returncode == 2 and "more than one answer" in result.stderr and "--run-by" in result.stderr
    with pytest.raises(CurateError, match="gen_text"):
        runs_from_table("answers", valued.read("answers"), response_column="text")


def test_answers_the_generate_stage_filtered_count_as_wrong(valued):
    """A cut-off or refused answer is an answer: left out, it would lift Acc; the paper counts it wrong."""
    frame = valued.read("v").sort("points", descending=True)
    ids = list(frame["id"])
    kept = pl.DataFrame([{"gen_group": i, "gen_model": "m", "gen_sample": 0, "gen_text": t, "gen_completion_tokens": 10}
                         for i, t in zip(ids[1:], ["AC", r"\boxed{0.5}", "6 N", "7"], strict=True)])
    cut = [{"gen_group": ids[0], "gen_model": "m", "gen_sample": 0, "reason": "truncated", "gen_completion_tokens": 50}]
    (counted,) = runs_from_table("answers", kept, filtered=cut)
    (skipped,) = runs_from_table("answers", kept)
    with_cut, without = score_run(frame, counted), score_run(frame, skipped)
    assert with_cut.scores.n == 5 and with_cut.checks["filtered"] == 1 and with_cut.scores.accuracy == 0.8
    assert without.scores.n == 4 and without.scores.accuracy == 1.0
    assert with_cut.scores.mean_tokens == pytest.approx((4 * 10 + 50) / 5)


def test_predicted_values_through_an_openai_compatible_server(ws):
    def responder(body):
        system, question = body["messages"][0]["content"], body["messages"][1]["content"]
        assert system.startswith("You are a scoring assistant. Given a question and its answer")  # Table 7
        total = float(re.search(r"in a ([\d.]+)-point exam", system).group(1))
        if question == "Question 4":
            return f"{total + 50:g}"  # out of range every time: the row is rejected
        return "10" if question == "Question 0" else "I think it is worth 5 points."

    rows = EXAM + [{"question": "Question 9", "answer": "1", "points": 20, "exam_id": "Z", "subject": "Art"}]
    table = make_table(ws, [dict(r, exam_total=None) for r in rows])
    with LLMServer(responder) as server:
        config = LLMConfig(model="test-model", base_url=server.url, api_key_env="CURATE_TEST_KEY", backoff_s=0.01)
        params = ValueParams(value_source="predicted", llm=config)
        summary = run_stage(ws, Value(params), [table], "p")
        frame = ws.read("p")
        assert summary.rejected == 1 and list(summary.reasons) == ["prediction_failed"]
        by_q = {r["question"]: r for r in frame.iter_rows(named=True)}
        # exam E's total is the sum of its points (100): the model scored out of 100
        assert by_q["Question 0"]["value"] == pytest.approx(10 / 100) and by_q["Question 0"]["scale"] == 2.0
        assert by_q["Question 1"]["value"] == pytest.approx(5 / 100)
        assert by_q["Question 9"]["value"] == pytest.approx(5 / 20)  # exam Z: one question of 20 points
        assert set(frame["value_source"]) == {"predicted"}
        sent = server.counts["chat"]
        # a re-run answers from the cache in the workspace: no new requests except the failed row's
        assert list((ws.root / "cache" / "llm").glob("answers-*.jsonl"))
        run_stage(ws, Value(params), [table], "p", force=True)
        assert server.counts["chat"] - sent == 1 + params.llm.parse_retries


def test_predicted_values_with_another_prompt_and_json_answers(ws):
    seen = []

    def responder(body):
        seen.append(body["messages"][0]["content"])
        return 'Sure: {"score": 30}'

    table = make_table(ws, [{"question": "Q", "answer": "1", "points": 1, "exam_id": "E", "exam_total": 150}])
    with LLMServer(responder) as server:
        config = LLMConfig(model="m", base_url=server.url, api_key_env="CURATE_TEST_KEY")
        params = ValueParams(value_source="predicted", llm=config, reply="json",
                             prompt="Score this question out of {total_score}. Reply with JSON.")
        run_stage(ws, Value(params), [table], "p")
    assert seen == ["Score this question out of 150. Reply with JSON."]
    assert ws.read("p")["value"].to_list() == [pytest.approx(0.2)]
    with pytest.raises(CurateError, match="question"):
        ValueParams(value_source="predicted", llm=config, prompt="Out of {total_score}: {question}")


def test_predicted_values_assume_100_points_without_a_total(ws):
    rows = [{"question": "What is 2+2?", "answer": "4", "difficulty": "primary"}]
    path = ws.root.parent / "untyped.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n")
    from curate.stages.collect import Collect, CollectParams

    run_stage(ws, Collect(CollectParams(paths=[str(path)])), [], "u")  # no kind: no points at all
    with LLMServer(lambda body: "4") as server:
        config = LLMConfig(model="m", base_url=server.url, api_key_env="CURATE_TEST_KEY")
        run_stage(ws, Value(ValueParams(value_source="predicted", llm=config)), ["u"], "p")
    row = ws.read("p").row(0, named=True)
    assert (row["exam_total"], row["total_source"], row["value"]) == (100.0, "default", 0.04)
    assert math.isclose(row["scale"], 1.4)


def test_rlev_recipe_runs_offline_and_splits_by_exam(tmp_path, cli):
    workspace = tmp_path / "w"
    result = cli("run", str(ROOT / "recipes" / "rlev.yaml"), workspace=workspace)
    assert result.returncode == 0, result.stderr
    err = " ".join(result.stderr.split())
    assert "hold fewer points than it" in err  # GAOKAO papers in the bank are partial
    from curate.store import Workspace

    space = Workspace(workspace)
    sources = pl.concat([space.read(t).select("answer", "question_type") for t in ("rlev_gaokao", "rlev_mock")])
    undecidable = sum(reference_check(a, t) == "undecided" for a, t in sources.iter_rows())
    assert 0 < undecidable < 1030  # only open-ended references (1,030 in the bank) can be beyond the rules
    assert "value distribution: mean v" in err and f"{undecidable} undecidable rows left out" in err
    frame = space.read("rlev_split")
    assert frame.height == 2821 - undecidable and frame["value"].null_count() == 0 and set(frame["check"]) == {"rules"}
    assert set(frame["total_source"]) == {"override", "known"}
    splits_per_exam = frame.group_by("exam_id").agg(pl.col("split").n_unique().alias("n"))
    assert splits_per_exam["n"].max() == 1 and set(frame["split"]) == {"train", "test"}
    assert frame["scale"].min() >= 1.0 and frame["scale"].max() <= 2.0
