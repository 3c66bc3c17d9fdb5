"""The RLEV loop as a user types it: `curate generate` answers a valued table through an OpenAI-compatible
endpoint (the local test server), then `curate eval value VALUED --responses ANSWERS` scores them, one run per
model × sample, against figures computed here by hand."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.runner import run_stage
from curate.stages.value import Value, ValueParams
from tests.conftest import put_table
from tests.llm_server import LLMServer, prompt_text
from tests.test_rlev_values import make_table

KEY = "CURATE_TEST_KEY"
# One exam of 100 points: values 0.4, 0.3, 0.2, 0.1.
EXAM = [{"question": q, "answer": a, "points": p, "exam_id": "E", "question_type": t} for q, a, p, t in [
    ("Which force keeps the Moon in orbit? A friction B gravity C magnetism D tension", "B", 40, "single_choice"),
    ("Compute 6 * 7.", "42", 30, "blank"),
    ("A 2 kg mass accelerates at 3 m/s^2. What net force acts on it?", "6 N", 20, "blank"),
    ("How many days are in a week?", "7", 10, "blank")]]
# The model's answer per question and sample (sample i is sent with seed i): right or wrong on purpose.
ANSWERS = {
    EXAM[0]["question"]: ("Gravity pulls it, so the answer is B.", "The answer is (C)."),
    EXAM[1]["question"]: ("6 * 7 = 41, so the answer is $\\boxed{41}$.", "$\\boxed{42}$"),
    EXAM[2]["question"]: ("F = ma = 2 kg * 3 m/s^2, so F = 6 N.", "F = 5 N"),
    EXAM[3]["question"]: ("A week has 8 days: \\boxed{8}", "There are seven days, so \\boxed{7}."),
}
RIGHT = [(True, False), (False, True), (True, False), (False, True)]  # per question, per sample
VALUES = [0.4, 0.3, 0.2, 0.1]


def responder(body: dict) -> str:
    return ANSWERS[prompt_text(body)][body["seed"]]


def server_tokens(text: str) -> int:
    """The completion tokens the test server reports for an answer (its usage rule: 4 characters a token)."""
    return max(1, len(text) // 4)


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("CURATE_WORKERS", "1")


def test_generate_then_eval_value_from_the_answers_table(ws, cli):
    run_stage(ws, Value(ValueParams()), [make_table(ws, EXAM)], "v")
    valued = ws.read("v")
    assert sorted(valued["value"].to_list()) == pytest.approx(sorted(VALUES))
    # the questions' own token counts, carried into the answers by generate: not the answers' lengths
    put_table(ws, "valued", valued.with_columns(n_tokens=pl.lit(999)))
    with LLMServer(responder) as server:
        done = cli("generate", "valued", "--as", "answers", "--model", "m", "--base-url", server.url,
                   "--api-key-env", KEY, "--prompt", "{{ question }}", "--n", "2", "--seed", "0",
                   workspace=ws.root, env={KEY: "k"})
        assert done.returncode == 0, done.stderr
        assert server.counts["chat"] == 8  # 4 questions × 2 samples
    answers = ws.read("answers")
    assert answers.height == 8 and set(answers["gen_group"]) == set(valued["id"])

    done = cli("eval", "value", "valued", "--responses", "answers", "--json", workspace=ws.root)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    runs = {r["run"]: r for r in figures["runs"]}
    assert list(runs) == ["gen_model=m gen_sample=0", "gen_model=m gen_sample=1"]
    densities = []
    for sample, run in enumerate(runs.values()):
        right = [flags[sample] for flags in RIGHT]
        h_acc = sum(v for v, r in zip(VALUES, right, strict=True) if r) / sum(VALUES)
        tokens = sum(server_tokens(texts[sample]) for texts in ANSWERS.values()) / len(ANSWERS)
        densities.append(100 * h_acc / tokens)
        assert run["accuracy"] == pytest.approx(sum(right) / len(right))
        assert run["h_accuracy"] == pytest.approx(h_acc)
        assert run["mean_tokens"] == pytest.approx(tokens)  # gen_completion_tokens, not the carried n_tokens
        assert run["value_density"] == pytest.approx(densities[-1])
        assert run["checks"] == {"rules": 4}
    # sample 0: B and 6 N right (0.4 + 0.2); sample 1: 42 and 7 right (0.3 + 0.1)
    assert [r["h_accuracy"] for r in runs.values()] == pytest.approx([0.6, 0.4])
    assert figures["accuracy"] == pytest.approx(0.5) and figures["h_accuracy"] == pytest.approx(0.5)
    assert figures["value_density"] == pytest.approx(sum(densities) / 2)  # the mean of the per-run densities


def test_answers_cut_by_the_token_limit_count_as_wrong(ws, cli):
    """`generate` filters a truncated answer; `eval value` still counts it, as not correct."""
    run_stage(ws, Value(ValueParams()), [make_table(ws, EXAM)], "valued")
    with LLMServer(responder) as server:
        # 9 tokens = 36 characters: sample 0's answers to the first two questions are cut
        done = cli("generate", "valued", "--as", "answers", "--model", "m", "--base-url", server.url,
                   "--api-key-env", KEY, "--prompt", "{{ question }}", "--n", "2", "--seed", "0", "--max-tokens", "9",
                   workspace=ws.root, env={KEY: "k"})
        assert done.returncode == 0, done.stderr
    assert ws.read("answers").height == 6
    done = cli("eval", "value", "valued", "--responses", "answers", "--json", workspace=ws.root)
    assert done.returncode == 0, done.stderr
    assert "2 answers of 'answers' were filtered (truncated 2)" in " ".join(done.stderr.split())
    first, second = json.loads(done.stdout)["runs"]
    assert first["checks"] == {"rules": 2, "filtered": 2} and first["h_accuracy"] == pytest.approx(0.2)
    assert second["checks"] == {"rules": 4} and second["h_accuracy"] == pytest.approx(0.4)
