"""The AesCode generation loop end to end against the local server (latency, injected 429 and 500):
seed keywords → instructions → semantic dedup → code from two models, two samples each → exec → judge →
best-of → export; a second run is up to date and pays for nothing."""

from __future__ import annotations

import datasets
import polars as pl

from curate.store import Workspace
from tests.conftest import ROOT, run_cli
from tests.llm_bank import bank_responder
from tests.llm_server import LLMServer, prompt_text


def test_aescode_generate_recipe(tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "data").symlink_to(ROOT / "recipes" / "data")
    env = {"OPENAI_API_KEY": "sk-recipe-test"}
    # the rainfall prompt meets a 429 and then a 500 before it is answered; 10 % of the rest fail at random
    plan = lambda seen, body: ("429", "500")[seen] if seen < 2 and "rainfall" in prompt_text(body) else None  # noqa: E731
    with LLMServer(bank_responder, latency=0.01, fail_rate=0.1, faults=("429", "500"), retry_after=0.01,
                   plan=plan) as server:
        text = (ROOT / "recipes" / "aescode_generate.yaml").read_text().replace("http://localhost:8000/v1", server.url)
        text = text.replace("    k: 6 ", "    k: 3 ")  # three instructions are enough here: exec and judge are slow
        recipe = recipes / "aescode_generate.yaml"
        recipe.write_text(text)
        done = run_cli("run", str(recipe), workspace=tmp_path / "ws", env=env)
        assert done.returncode == 0, done.stderr
        assert server.counts["429"] and server.counts["500"]  # the faults happened and were retried
        sent = server.counts["requests"]
        again = run_cli("run", str(recipe), workspace=tmp_path / "ws", env=env)
        assert again.returncode == 0 and server.counts["requests"] == sent  # up to date: nothing asked again
    ws = Workspace(tmp_path / "ws")
    for name in ws.table_names():
        counts = ws.manifest(name)["counts"]
        assert counts["in"] == counts["kept"] + counts["filtered"] + counts["rejected"], (name, counts)
    assert ws.manifest("aescode_instructions")["counts"]["kept"] == 16  # 8 keywords × 2 samples
    assert ws.manifest("aescode_unique")["counts"]["kept"] == 3  # K-Means representatives
    candidates = ws.read("aescode_candidates")
    assert candidates.height == 3 * 2 * 2 and candidates["gen_model"].n_unique() == 2
    unique_ids = set(ws.read("aescode_unique")["id"])
    assert set(candidates["gen_group"]) == unique_ids
    executed = ws.read("aescode_exec")
    assert executed["exec_ok"].sum() == executed.height  # real code from the bank runs
    best = ws.read("aescode_best")
    assert best.height == 3 and set(best["gen_group"]) == unique_ids
    winners = ws.read("aescode_judged").sort("score_total", descending=True).group_by("gen_group").first()
    assert set(best.select("gen_group", "score_total").rows()) == set(winners.select("gen_group", "score_total").rows())
    final = ws.read("aescode_gen_final")
    exported = datasets.load_dataset(str(ws.root / "exports" / "aescode_gen_final"))
    assert sum(len(split) for split in exported.values()) == final.height
    sample = next(iter(exported.values()))[0]["messages"]
    assert [m["role"] for m in sample] == ["user", "assistant"]
    assert sample[1]["content"] in set(final["code"]) and sample[0]["content"] in set(final["instruction"])
    assert final.filter(pl.col("language") == "html").height and final.filter(pl.col("language") == "python").height
