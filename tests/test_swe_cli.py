"""The SWE-RM flow as a user runs it: the recipe, then `curate eval rm` on scores from a file."""

from __future__ import annotations

import json

import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from swe_helpers import ROOT

from curate.store import Workspace


def test_recipe_builds_a_balanced_split_label_set(cli, tmp_path):
    workspace = tmp_path / "ws"
    result = cli("run", str(ROOT / "recipes" / "swe_rm.yaml"), workspace=workspace)
    assert result.returncode == 0, result.stderr
    ws = Workspace(workspace)
    fitted = ws.read("swe_fit")
    assert fitted["truncated"].any() and (fitted["n_tokens"] <= 4 * 1024).all()
    balanced = ws.read("swe_balanced")
    for (_, _), group in balanced.group_by("source", "policy"):
        assert group["resolved"].sum() == 2 * (~group["resolved"]).sum()
    held = set((ROOT / "recipes" / "data" / "swe" / "eval_instances.txt").read_text().split())
    split = ws.read("swe_split")
    assert not set(split["instance_id"]) & held
    assert split.group_by("instance_id").agg(pl.col("split").n_unique())["split"].max() == 1
    rm = ws.read("swe_rm")
    assert set(rm["target"]) == {"YES", "NO"} and rm.height == split.height
    assert all(m[-1]["content"] == t for m, t in zip(rm["messages"].to_list(), rm["target"], strict=True))
    kto = ws.read("swe_kto")
    assert {"prompt", "completion", "label"} <= set(kto.columns)
    import datasets  # the recipe's exports load as TRL-ready splits

    exported = datasets.load_dataset(str(workspace / "exports" / "swe_kto"))
    assert sum(exported.num_rows.values()) == kto.height
    assert exported["train"][0]["prompt"][0]["role"] == "system" and isinstance(exported["train"][0]["label"], bool)
    assert datasets.load_dataset(str(workspace / "exports" / "swe_rm"))["train"].column_names == ["id", "messages"]

    # evaluate a reward model's scores (here: noisy scores written to a file, as a scorer would)
    scores = fitted.select("id", "resolved").with_columns(
        (pl.col("resolved").cast(pl.Float64) * 0.4 + pl.col("id").hash(seed=1) % 600 / 1000).alias("score"))
    scores_path = tmp_path / "scores.jsonl"
    scores_path.write_text("".join(json.dumps({"id": i, "score": s}) + "\n" for i, s in scores.select("id", "score").iter_rows()))
    out = tmp_path / "eval"
    result = cli("eval", "rm", "swe_fit", "--scores", str(scores_path), "--out", str(out), "--bins", "5",
                 workspace=workspace)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["auc"] == pytest.approx(roc_auc_score(scores["resolved"].to_list(), scores["score"].to_list()))
    assert "AUC" in result.stdout and "RM@k" in result.stdout
    assert metrics["rm_at_k"][0]["k"] == 1 and metrics["n_scored"] == fitted.height
    for name in ("reliability.png", "rm_at_k.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = cli("eval", "rm", "swe_fit", "--scores", str(scores_path), "--out", str(tmp_path / "all"),
                 "--ties", "expected", "--under-k", "use-all", workspace=workspace)
    assert result.returncode == 0, result.stderr
    assert "ties: expected" in result.stdout and "with all they have" in result.stdout
    metrics = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert (metrics["ties"], metrics["under_k"]) == ("expected", "use-all")
    assert all(p["instances"] == fitted["instance_id"].n_unique() for p in metrics["rm_at_k"])


def test_cli_errors_and_unmet_ratio(cli, tmp_path):
    workspace = tmp_path / "ws"
    swe = ROOT / "tests" / "fixtures" / "swe"
    assert cli("collect", str(swe / "rows.jsonl"), "--format", "rows", "--as", "rows", workspace=workspace).returncode == 0
    result = cli("balance", "rows", "--by", "policy", "--ratio", "3:1", "--as", "bal", workspace=workspace)
    assert result.returncode == 0, result.stderr
    assert "could not reach 3:1" in result.stderr + result.stdout
    only_positive = tmp_path / "pos.jsonl"
    ws = Workspace(workspace)
    ids = ws.read("rows").filter(pl.col("resolved"))["id"].to_list()
    only_positive.write_text("".join(json.dumps({"id": i, "score": 0.9}) + "\n" for i in ids))
    assert cli("filter", "rows", "--where", "resolved", "--as", "pos", workspace=workspace).returncode == 0
    result = cli("eval", "rm", "pos", "--scores", str(only_positive), workspace=workspace)
    assert result.returncode == 2 and "AUC is undefined" in result.stderr and "Traceback" not in result.stderr
    result = cli("tokens", "rows", "--budget", "2K", "--reserve", "0", "--as", "fit", workspace=workspace)
    assert result.returncode == 0 and "of 4 trajectories" in result.stdout and "2,048-token budget" in result.stdout
    result = cli("tokens", "rows", "--budget", "lots", "--as", "t", workspace=workspace)
    assert result.returncode == 2 and "bad context budget" in result.stderr
