"""`curate score`: a verifier's P(YES) from an endpoint's top logprobs (with bounds) and from a local model's
exact logits, read after the assistant prefix the template writes (`<judgement>` for SWE-Gym's verifier);
and the SWE loop `format` (both templates) → `train sft` (tiny local model) → `score` → `eval rm`."""

from __future__ import annotations

import io
import json
import math

import polars as pl
import pytest
import torch
from rich.console import Console

from curate.errors import CurateError
from curate.llm.verifier import answer_prefix
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


JUDGED = "<judgement>"
AFTER_PREFIX = [("YES", -0.4), ("NO", -1.3), ("</", -3.0)]  # what follows "<judgement>"
AT_TURN_START = [("<", -0.05), ("YES", -4.0), ("NO", -5.0)]  # a fresh assistant turn starts with the tag


def test_answer_prefix_is_what_the_targets_write_before_the_answer():
    assert answer_prefix(["YES", "NO"], "YES", "NO") == ""
    assert answer_prefix(["<judgement>YES</judgement>", "<judgement>NO</judgement>"], "YES", "NO") == JUDGED
    assert answer_prefix(["<judgement>NO</judgement>"], "YES", "NO") == JUDGED  # one class is enough
    assert answer_prefix([], "YES", "NO") == ""
    with pytest.raises(CurateError, match="different text before the answer"):
        answer_prefix(["YES", "<judgement>NO</judgement>"], "YES", "NO")
    with pytest.raises(CurateError, match="neither"):
        answer_prefix(["Resolved"], "YES", "NO")


def test_endpoint_continues_the_assistant_prefix_of_the_swe_gym_template(ws, monkeypatch):
    """The swe-gym target is `<judgement>YES</judgement>`: the endpoint gets `<judgement>` as a partial
    assistant turn to continue (vLLM's and SGLang's continue_final_message), and the score is read there."""
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    targets = [f"{JUDGED}YES</judgement>", f"{JUDGED}NO</judgement>"]
    messages = [[*conversation(c)[:-1], {"role": "assistant", "content": t}]
                for c, t in zip("ab", targets, strict=True)]
    put_table(ws, "rm", pl.DataFrame({"id": ["a", "b"], "target": targets, "messages": messages},
                                     schema={"id": pl.String, "target": pl.String, "messages": MESSAGE}))

    def logprobs(body: dict) -> list[tuple[str, float]]:
        continued = body["messages"][-1] == {"role": "assistant", "content": JUDGED}
        return AFTER_PREFIX if continued else AT_TURN_START

    with LLMServer(logprobs=logprobs) as server:
        params = dict(model="verifier", backend="openai", base_url=server.url, api_key_env="CURATE_TEST_KEY")
        assert run_stage(ws, Score(ScoreParams(**params)), ["rm"], "scored").kept == 2
        assert all(b["continue_final_message"] is True and b["add_generation_prompt"] is False
                   and [m["role"] for m in b["messages"]] == ["system", "user", "assistant"]
                   for b in server.bodies)
        sent = len(server.bodies)
        run_stage(ws, Score(ScoreParams(**params, assistant_prefix="")), ["rm"], "at_turn_start")
        assert all("continue_final_message" not in b and b["messages"][-1]["role"] == "user"
                   for b in server.bodies[sent:])
    after = math.exp(-0.4) / (math.exp(-0.4) + math.exp(-1.3))
    assert ws.read("scored")["rm_score"].to_list() == pytest.approx([after, after])
    assert ws.read("at_turn_start")["rm_score"].to_list() == pytest.approx([1 / (1 + math.exp(-1.0))] * 2)


def test_swe_loop_format_train_score_eval(ws, cli, tmp_path):
    """format (yes-no and swe-gym) → train sft on a tiny local model → score with it → eval rm."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    collect_mini(ws)
    run_stage(ws, Format(FormatParams(style="classification")), ["mini"], "swe_rm")
    run_stage(ws, Format(FormatParams(style="classification", template="swe-gym")), ["mini"], "swe_gym")
    rows = [r for table in ("swe_rm", "swe_gym") for r in ws.read(table).select("messages").to_dicts()]
    base = make_tiny_model(tmp_path / "tiny", row_texts(rows), hidden_size=32, layers=1, vocab_size=400)
    trained = tmp_path / "verifier"
    said = io.StringIO()
    train_sft(SFTParams(model=str(base), out=trained, max_steps=3, batch_size=4, split="", max_length=256),
              ws=ws, table="swe_gym", console=Console(file=said, width=300))
    rows_in = ws.read("swe_gym").height  # every chat is longer than 256 tokens: its answer is cut, and said so
    assert f"{rows_in} of {rows_in} chats are longer than --max-length 256 tokens" in said.getvalue()
    model, tokenizer = AutoModelForCausalLM.from_pretrained(trained), AutoTokenizer.from_pretrained(trained)

    def logprob(context: str, answer: str) -> float:
        """log P(answer | context) from the model's own logits; this tokenizer spells YES in several
        tokens (Y, E, S), so it is the sum over them."""
        start = len(tokenizer(context, add_special_tokens=False)["input_ids"])
        ids = tokenizer(context + answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            steps = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0], dim=-1)
        return sum(float(steps[t - 1, ids[t]]) for t in range(start, len(ids)))

    for table, prefix in (("swe_rm", ""), ("swe_gym", JUDGED)):
        summary = run_stage(ws, Score(ScoreParams(model=str(trained))), [table], f"{table}_scored")
        assert summary.kept == ws.read(table).height and summary.rejected == 0
        scored = ws.read(f"{table}_scored")
        assert scored["rm_bound"].unique().to_list() == ["exact"]
        assert scored["rm_score"].is_between(0, 1).all()
        # rm_logit_yes is log P(YES | prompt, assistant turn opened, the template's prefix written)
        row = scored.row(0, named=True)
        prompt = tokenizer.apply_chat_template(row["messages"][:-1], tokenize=False,
                                               add_generation_prompt=True)
        l_yes, l_no = logprob(prompt + prefix, "YES"), logprob(prompt + prefix, "NO")
        assert row["rm_logit_yes"] == pytest.approx(l_yes, abs=1e-4)
        assert row["rm_logit_no"] == pytest.approx(l_no, abs=1e-4)
        assert row["rm_score"] == pytest.approx(1 / (1 + math.exp(l_no - l_yes)), abs=1e-5)
        if prefix:  # not where a bare YES would go: the first token of the assistant turn
            assert abs(row["rm_logit_yes"] - logprob(prompt, "YES")) > 1e-3

    done = cli("eval", "rm", "swe_gym_scored", "--score-column", "rm_score", workspace=ws.root)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((ws.root / "reports" / "eval_rm" / "swe_gym_scored" / "metrics.json").read_text())
    assert metrics["n_scored"] == ws.read("swe_gym").height and 0 <= metrics["auc"] <= 1
