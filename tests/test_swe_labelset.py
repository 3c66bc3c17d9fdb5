"""Building the label set: token budgets, balancing, splits by instance, formatting for TRL."""

from __future__ import annotations

import json

import polars as pl
import pytest
from swe_helpers import collect_mini, tiny_tokenizer
from transformers import PreTrainedTokenizerFast
from trl.data_utils import is_conversational, maybe_apply_chat_template

from curate.errors import CurateError
from curate.records import Trajectory, arrow_schema
from curate.runner import run_stage
from curate.stages.balance import Balance, BalanceParams
from curate.stages.format import Format, FormatParams
from curate.stages.split import Split, SplitParams
from curate.stages.tokens import Tokens, TokensParams
from curate.swe.context import count_log
from curate.swe.prompt import SWE_GYM, YES_NO, render_block
from curate.tokens import load_counter, parse_budget
from tests.conftest import put_table


def synthetic(ws, name, groups: dict[tuple[str, str], tuple[int, int]], per_instance: int = 1) -> None:
    """A trajectory table with (source, policy) → (positives, negatives)."""
    rows, n = [], 0
    for (source, policy), (pos, neg) in groups.items():
        for label in [True] * pos + [False] * neg:
            rows.append({"id": f"r{n:04d}", "source": source, "meta": None, "instance_id": f"o__r-{n // per_instance}",
                         "repo": "o/r", "policy": policy, "patch": "diff", "finished": True, "resolved": label,
                         "label_source": "test", "leaks_test_results": None, "n_tokens": None,
                         "messages": [{"role": "user", "content": f"issue {n}"}, {"role": "assistant", "content": "fix"}]})
            n += 1
    table = pl.DataFrame(rows).to_arrow().select(arrow_schema(Trajectory).names).cast(arrow_schema(Trajectory))
    put_table(ws, name, table)


def test_token_counts_match_the_tokenizer_and_budget_truncates_middle_out(ws, tmp_path):
    path = tiny_tokenizer(tmp_path / "tok")
    collect_mini(ws)
    run_stage(ws, Tokens(TokensParams(tokenizer=str(path))), ["mini"], "counted")
    counted = ws.read("counted")
    counter = load_counter(str(path))
    first = counted.row(0, named=True)
    assert first["n_tokens"] == sum(counter.count([render_block(m["role"], m["content"]) for m in first["messages"]]
                                                  + [render_block("final patch", first["patch"])]))
    assert counted["fits_context"].all() and not counted["truncated"].any()
    budget = int(counted["n_tokens"].median())
    summary = run_stage(ws, Tokens(TokensParams(tokenizer=str(path), budget=budget, reserve=0)), ["mini"], "cut")
    cut = ws.read("cut").sort("id")
    assert summary.kept == 4 and cut["truncated"].sum() >= 1
    assert (cut["n_tokens"] <= budget).all()
    assert (cut["fits_context"] == (cut["n_tokens_full"] <= budget)).all()
    original = {r["id"]: r for r in ws.read("mini").to_dicts()}
    for row in cut.filter(pl.col("truncated")).to_dicts():
        before = original[row["id"]]["messages"]
        assert row["messages"][:2] == before[:2]  # system prompt and issue kept
        assert row["messages"][-1] == before[-1] and row["patch"] == original[row["id"]]["patch"]
        assert any("cut to fit the context budget" in m["content"] for m in row["messages"])
        assert sum(count_log(counter, YES_NO, row["messages"], row["patch"])) == row["n_tokens"]
    summary = run_stage(ws, Tokens(TokensParams(tokenizer=str(path), budget=budget, reserve=0, over="drop")),
                        ["mini"], "dropped")
    assert summary.kept == int((counted["n_tokens"] <= budget).sum()) and summary.reasons["over_budget"] == summary.filtered


def test_whole_chat_count_and_the_swe_gym_drop_rule(ws, tmp_path):
    """count=chat counts what the reward model reads: template, log and answer, through the chat template."""
    path = tiny_tokenizer(tmp_path / "tok")
    chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
    (tmp_path / "tok" / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat_template}))
    collect_mini(ws)
    swe_gym = {"tokenizer": str(tmp_path / "tok"), "count": "chat", "template": "swe-gym"}
    run_stage(ws, Tokens(TokensParams(**swe_gym)), ["mini"], "chat")
    run_stage(ws, Tokens(TokensParams(tokenizer=str(tmp_path / "tok"), template="swe-gym")), ["mini"], "log")
    counted = ws.read("chat").sort("id")
    reference = PreTrainedTokenizerFast(tokenizer_file=str(path), chat_template=chat_template)
    for row in counted.to_dicts():
        text = reference.apply_chat_template(SWE_GYM.chat(row["messages"], row["patch"], True), tokenize=False)
        assert row["n_tokens"] == len(reference(text, add_special_tokens=False)["input_ids"])
    assert (counted["n_tokens"] > ws.read("log").sort("id")["n_tokens"]).all()
    budget = int(counted["n_tokens"].median())
    summary = run_stage(ws, Tokens(TokensParams(**swe_gym, budget=budget, over="drop")), ["mini"], "dropped")
    assert summary.kept == int((counted["n_tokens"] <= budget).sum()) and summary.reasons["over_budget"] == summary.filtered
    run_stage(ws, Tokens(TokensParams(**swe_gym, budget=budget)), ["mini"], "cut")
    cut = ws.read("cut")
    assert (cut["n_tokens"] <= budget).all() and cut["truncated"].sum() == summary.filtered
    for row in cut.filter(pl.col("truncated")).to_dicts():
        text = reference.apply_chat_template(SWE_GYM.chat(row["messages"], row["patch"], True), tokenize=False)
        assert len(reference(text, add_special_tokens=False)["input_ids"]) == row["n_tokens"]


def test_tokenizer_folder_saved_with_transformers(tmp_path):
    from transformers import BertTokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "fix", "the", "bug"]))
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path / "bert")
    counter = load_counter(str(tmp_path / "bert"))
    assert counter.count(["fix the bug", "fix unknownword"]) == [3, 2] and counter.name == "tokenizer:bert"


def test_estimate_fallback_and_budget_parsing():
    assert load_counter(None).count(["abcdefgh", "abc", "é"]) == [2, 1, 1]  # ceil(UTF-8 bytes / 4)
    assert [parse_budget(b) for b in ("32K", "128k", "256K", "1M", "100000")] == [32768, 131072, 262144, 1048576, 100000]
    with pytest.raises(CurateError):
        parse_budget("lots")


def test_balance_exact_ratio_and_unmet_groups(ws):
    synthetic(ws, "raw", {("SWE-Gym", "a"): (30, 9), ("SWE-Gym", "b"): (5, 10), ("SWE-smith", "a"): (8, 0)})
    stage = Balance(BalanceParams(by="source,policy", ratio="2:1", seed=7))
    summary = run_stage(ws, stage, ["raw"], "bal")
    out = ws.read("bal")
    counts = out.group_by("source", "policy").agg(pl.col("resolved").sum().alias("pos"),
                                                  (~pl.col("resolved")).sum().alias("neg"))
    mix = {(r["source"], r["policy"]): (r["pos"], r["neg"]) for r in counts.to_dicts()}
    assert mix == {("SWE-Gym", "a"): (18, 9), ("SWE-Gym", "b"): (4, 2)}
    assert summary.filtered == 62 - 33 and set(summary.reasons) == {"balance"}
    assert not out["oversampled"].any() and out["id"].n_unique() == out.height
    notes = {tuple(p.group.values()): p.note for p in stage.plans(ws.read("raw"))}
    assert "too few negatives" in notes[("SWE-smith", "a")] and notes[("SWE-Gym", "a")] == ""
    # seeded and reproducible; another seed picks other rows
    run_stage(ws, Balance(BalanceParams(by="source,policy", seed=7)), ["raw"], "again", force=True)
    run_stage(ws, Balance(BalanceParams(by="source,policy", seed=8)), ["raw"], "other")
    assert ws.read("again")["id"].sort().to_list() == out["id"].sort().to_list()
    assert ws.read("other")["id"].sort().to_list() != out["id"].sort().to_list()


def test_balance_oversamples_only_when_asked(ws):
    synthetic(ws, "raw", {("S", "p"): (10, 2)})
    run_stage(ws, Balance(BalanceParams(ratio="2:1")), ["raw"], "plain")
    assert ws.read("plain")["resolved"].value_counts().sort("resolved")["count"].to_list() == [2, 4]
    summary = run_stage(ws, Balance(BalanceParams(ratio="2:1", oversample=True)), ["raw"], "over")
    over = ws.read("over")
    assert over["resolved"].value_counts().sort("resolved")["count"].to_list() == [5, 10]
    copies = over.filter(pl.col("oversampled"))
    assert copies.height == 3 and copies["id"].str.contains("~").all() and summary.filtered == 0


def test_split_by_instance_never_leaks_and_drops_eval_instances(ws, tmp_path):
    synthetic(ws, "raw", {("S", "p"): (60, 60)}, per_instance=4)
    held = ["o__r-0", "o__r-5", "o__r-29"]
    (tmp_path / "verified.txt").write_text("\n".join(held) + "\n")
    params = SplitParams(by="instance_id", ratios={"train": 0.8, "test": 0.2}, exclude=tmp_path / "verified.txt")
    summary = run_stage(ws, Split(params), ["raw"], "split")
    out = ws.read("split")
    assert out.group_by("instance_id").agg(pl.col("split").n_unique())["split"].max() == 1
    assert not out.filter(pl.col("instance_id").is_in(held)).height
    assert summary.filtered == 12 and set(out["split"]) == {"train", "test"}


def _chat_tokenizer(path) -> PreTrainedTokenizerFast:
    tok = PreTrainedTokenizerFast(tokenizer_file=str(path), unk_token="[UNK]", eos_token="[UNK]")
    tok.chat_template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
                         "{% if add_generation_prompt %}<assistant>{% endif %}")
    return tok


def test_format_classification_and_preference_for_trl(ws, tmp_path):
    collect_mini(ws)
    run_stage(ws, Format(FormatParams()), ["mini"], "cls")
    cls = ws.read("cls")
    row = cls.filter(instance_id="django__django-11099").row(0, named=True)
    system, user, answer = row["messages"]
    assert system["role"] == "system" and "expert judge" in system["content"]
    log = user["content"].split("=== INTERACTION LOG ===")[1].split("=== END INTERACTION ===")[0]
    assert "[USER]\n<pr_description>" in log and log.strip().endswith("[/FINAL PATCH]")
    assert answer == {"role": "assistant", "content": "YES"} and row["target"] == "YES" and row["label"] is True
    assert set(cls["target"]) == {"YES", "NO"} and (cls["label"] == cls["resolved"]).all()
    example = {"messages": row["messages"]}
    assert is_conversational(example)
    text = maybe_apply_chat_template(example, _chat_tokenizer(tiny_tokenizer(tmp_path / "tok")))["text"]
    assert text.endswith("<assistant>YES</assistant>")

    run_stage(ws, Format(FormatParams(style="preference")), ["mini"], "pref")
    pref = ws.read("pref")
    assert "messages" not in pref.columns and pref["label"].dtype == pl.Boolean
    example = pref.select("prompt", "completion", "label").row(0, named=True)
    assert example["prompt"][-1]["role"] == "user" and example["completion"][0]["role"] == "assistant"
    assert is_conversational(example)
    applied = maybe_apply_chat_template(example, _chat_tokenizer(tmp_path / "tok" / "tokenizer.json"))
    assert applied["prompt"].endswith("<assistant>") and "</assistant>" in applied["completion"]


def test_custom_template_file(ws, tmp_path):
    collect_mini(ws)
    (tmp_path / "judge.yaml").write_text("system: Judge.\nuser: \"Log:\\n{log}\\nResolved? YES or NO.\"\n")
    run_stage(ws, Format(FormatParams(template=str(tmp_path / "judge.yaml"))), ["mini"], "custom")
    first = ws.read("custom").row(0, named=True)["messages"]
    assert first[0]["content"] == "Judge." and first[1]["content"].startswith("Log:\n[SYSTEM]")
    (tmp_path / "bad.yaml").write_text("user: no placeholder\n")
    with pytest.raises(CurateError, match="holding"):
        run_stage(ws, Format(FormatParams(template=str(tmp_path / "bad.yaml"))), ["mini"], "bad")
