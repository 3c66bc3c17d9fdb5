"""`curate score`: a verifier's P(YES) from an endpoint's top logprobs (with bounds) and from a local model's
exact logits; and the SWE loop `format` → `train sft` (tiny local model) → `score` → `eval rm`."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
import torch

from curate.runner import run_stage
from curate.stages.format import Format, FormatParams
from curate.stages.score import Score, ScoreParams
from curate.train.sft import SFTParams, train_sft
from curate.train.tiny import make_tiny_model, row_texts
from tests.conftest import put_table
from tests.llm_server import LLMServer, prompt_text
from tests.swe_helpers import collect_mini

MESSAGE = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
TOPS = {  # the endpoint's top logprobs of the first answer token, per case
    "both": [(" YES", -0.9), ("YES", -1.6), ("NO", -1.2), ("The", -3.0)],
    "no_yes": [("NO", -0.3), ("The", -2.0), ("I", -2.5)],
    "no_no": [("YES", -0.2), ("Yes", -2.2), ("It", -4.0)],
    "neither": [("The", -0.7), ("I", -1.1)],
}


def conversation(case: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer YES or NO."}, {"role": "user", "content": f"case {case}"},
            {"role": "assistant", "content": "YES"}]


def test_endpoint_scores_from_top_logprobs_with_bounds(ws, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    put_table(ws, "rm", pl.DataFrame({"id": list(TOPS) + ["empty"],
                                      "messages": [conversation(c) for c in TOPS] + [[{"role": "assistant", "content": "NO"}]]},
                                     schema={"id": pl.String, "messages": MESSAGE}))
    logprobs = lambda body: TOPS[prompt_text(body).split("case ")[1]]  # noqa: E731
    with LLMServer(logprobs=logprobs) as server:
        params = ScoreParams(model="verifier", backend="openai", base_url=server.url, api_key_env="CURATE_TEST_KEY")
        summary = run_stage(ws, Score(params), ["rm"], "scored")
        assert all(b["messages"][-1]["role"] == "user" and b["max_tokens"] == 1 and b["top_logprobs"] == 20
                   for b in server.bodies)  # the answer turn is dropped; one token is asked for
        sent = server.counts["chat"]
        run_stage(ws, Score(params), ["rm"], "scored", force=True)
        assert server.counts["chat"] == sent  # cached in the workspace
    assert summary.kept == 4 and dict(summary.reasons) == {"no_prompt": 1}
    rows = {r["id"]: r for r in ws.read("scored").iter_rows(named=True)}
    l_yes = math.log(math.exp(-0.9) + math.exp(-1.6))  # " YES" and "YES" both spell the answer
    assert rows["both"]["rm_bound"] == "exact"
    assert rows["both"]["rm_score"] == pytest.approx(math.exp(l_yes) / (math.exp(l_yes) + math.exp(-1.2)))
    assert (rows["no_yes"]["rm_bound"], rows["no_yes"]["rm_logit_yes"]) == ("upper", -2.5)  # YES ≤ the last listed
    assert rows["no_yes"]["rm_score"] == pytest.approx(1 / (1 + math.exp(-0.3 + 2.5)))
    assert (rows["no_no"]["rm_bound"], rows["no_no"]["rm_logit_no"]) == ("lower", -4.0)
    assert rows["neither"]["rm_bound"] == "unknown" and rows["neither"]["rm_score"] is None


def test_swe_loop_format_train_score_eval(ws, cli, tmp_path):
    """format → train sft on a tiny local model → score with that model → eval rm --score-column rm_score."""
    collect_mini(ws)
    run_stage(ws, Format(FormatParams(style="classification")), ["mini"], "swe_rm")
    frame = ws.read("swe_rm")
    base = make_tiny_model(tmp_path / "tiny", row_texts(frame.select("messages").to_dicts()), hidden_size=32,
                           layers=1, vocab_size=400)
    trained = tmp_path / "verifier"
    train_sft(SFTParams(model=str(base), out=trained, max_steps=3, batch_size=4, split="", max_length=256),
              ws=ws, table="swe_rm")
    summary = run_stage(ws, Score(ScoreParams(model=str(trained))), ["swe_rm"], "swe_scored")
    assert summary.kept == frame.height and summary.rejected == 0
    scored = ws.read("swe_scored")
    assert scored["rm_bound"].unique().to_list() == ["exact"] and scored["rm_score"].is_between(0, 1).all()

    # rm_logit_yes is log P(YES | prompt, assistant turn opened) from the model's own logits; this
    # tokenizer spells YES in several tokens (Y, E, S), so it is the sum over them
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(trained), AutoTokenizer.from_pretrained(trained)
    row = scored.row(0, named=True)
    prompt = tokenizer.apply_chat_template(row["messages"][:-1], tokenize=False, add_generation_prompt=True)
    start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def logprob(answer: str) -> float:
        ids = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            steps = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], dim=-1)
        return sum(float(steps[t - 1, ids[t]]) for t in range(start, len(ids)))
    l_yes, l_no = logprob("YES"), logprob("NO")
    assert row["rm_logit_yes"] == pytest.approx(l_yes, abs=1e-4) and row["rm_logit_no"] == pytest.approx(l_no, abs=1e-4)
    assert row["rm_score"] == pytest.approx(math.exp(l_yes) / (math.exp(l_yes) + math.exp(l_no)), abs=1e-5)

    done = cli("eval", "rm", "swe_scored", "--score-column", "rm_score", workspace=ws.root)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((ws.root / "reports" / "eval_rm" / "swe_scored" / "metrics.json").read_text())
    assert metrics["n_scored"] == frame.height and 0 <= metrics["auc"] <= 1
