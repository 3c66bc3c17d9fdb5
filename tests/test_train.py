"""Training: real TRL SFT and GRPO on a tiny random-init model built locally, on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch

from curate.errors import CurateError
from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.store import Workspace
from curate.train import rewards
from curate.train.data import read_frame, to_dataset
from curate.train.grpo import GRPOParams, train_grpo
from curate.train.rewards import resolve_reward
from curate.train.sft import SFTParams, train_sft
from curate.train.tiny import file_texts, make_tiny_model

FIX = Path(__file__).parent / "fixtures" / "train"
REWARD = f"{FIX / 'rewards.py'}:target_share"
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # a tiny model gains nothing from threads that fight over shared cores


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", file_texts([FIX / "chats" / "chats.jsonl"]))


def _load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _nll(model, tokenizer, conversations: list[list[dict]]) -> float:
    """Mean next-token loss of the model on whole conversations."""
    losses = []
    with torch.no_grad():
        for messages in conversations:
            ids = torch.tensor([tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]])
            losses.append(model(input_ids=ids, labels=ids).loss.item())
    return sum(losses) / len(losses)


# ----- data -------------------------------------------------------------------------------------
def test_sft_shapes_questions_as_conversations_with_system_prompt():
    frame = pl.DataFrame({"question": ["2+2?", ""], "answer": ["4", "5"], "exam_id": ["e1", "e1"]})
    loaded = to_dataset(frame, "sft", system="Answer briefly.")
    assert loaded.format == "question_answer"
    assert loaded.skipped == {"empty question": 1}
    assert loaded.dataset[0] == {
        "prompt": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "2+2?"}],
        "completion": [{"role": "assistant", "content": "4"}],
    }


def test_grpo_keeps_every_other_column_for_the_rewards():
    frame = read_frame(None, None, FIX / "questions", "train")
    loaded = to_dataset(frame, "grpo")
    assert loaded.rows == 2  # train.jsonl only, test.jsonl is another split
    row = loaded.dataset[1]
    assert row["prompt"] == [{"role": "user", "content": "Say something."}]
    assert (row["answer"], row["target"], row["scale"]) == ("aaaa", "a", 1.8)
    assert "question" not in row


def test_messages_from_a_split_column_and_rows_without_an_answer_are_counted():
    loaded = to_dataset(read_frame(None, None, FIX / "chats", "train"), "sft")
    assert loaded.format == "messages" and loaded.rows == 5 and len(loaded.dataset) == 4
    assert loaded.skipped == {"no assistant turn": 1}
    prompts = to_dataset(read_frame(None, None, FIX / "chats", "test"), "grpo").dataset
    assert prompts[0]["prompt"] == [{"role": "user", "content": "Held out question?"}]  # the answer is cut off


def test_data_errors_say_what_to_do(ws):
    with pytest.raises(CurateError, match="no rows of split 'dev'") as err:
        read_frame(None, None, FIX / "chats", "dev")
    assert "test, train" in err.value.hint
    with pytest.raises(CurateError, match="no files of split 'validation'"):  # never train+test mixed instead
        read_frame(None, None, FIX / "questions", "validation")
    with pytest.raises(CurateError, match="no SFT columns among a, b"):
        to_dataset(pl.DataFrame({"a": [1], "b": [2]}), "sft")
    with pytest.raises(CurateError, match="unknown table"):
        read_frame(ws, "nope", None, None)


# ----- rewards ----------------------------------------------------------------------------------
def test_reward_registry_resolves_lazily_and_explains_what_is_missing(monkeypatch):
    assert all(":" in target and target.startswith("curate.rewards.") for target in rewards.REWARDS.values())
    assert {"value", "aesthetic"} <= set(rewards.REWARDS)
    monkeypatch.setitem(rewards.REWARDS, "ghost", "curate.rewards_not_here:reward")
    with pytest.raises(CurateError, match="reward 'ghost' .curate.rewards_not_here:reward. cannot be loaded: no module named 'curate.rewards_not_here'"):
        resolve_reward("ghost")
    with pytest.raises(CurateError, match="unknown reward 'valeu'") as err:
        resolve_reward("valeu")
    assert "'value'" in err.value.hint and "file.py:function" in err.value.hint
    with pytest.raises(CurateError, match="has no function 'nope'"):
        resolve_reward(f"{FIX / 'rewards.py'}:nope")
    share = resolve_reward(REWARD)
    assert share([[{"role": "assistant", "content": "aab"}], "bbbb"], target=["a", "a"]) == [2 / 3, 0.0]
    assert resolve_reward("os.path:join") is __import__("os").path.join


def test_the_papers_rewards_are_registered():
    value = resolve_reward("value")  # RLEV: s(x) for a correct answer, 0 otherwise
    assert value(["The answer is B", "A"], answer=["B", "B"], scale=[1.5, 1.5]) == [1.5, 0.0]
    assert callable(resolve_reward("aesthetic"))


# ----- training ---------------------------------------------------------------------------------
def test_sft_learns_the_chats(tiny, tmp_path):
    params = SFTParams(model=str(tiny), out=tmp_path / "sft", max_steps=12, lr=5e-3, batch_size=4, seed=0)
    result = train_sft(params, data_dir=FIX / "chats")
    losses = [step["loss"] for step in result.metrics["steps"]]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3
    # The saved model, not just the log, fits the training chats better than the random init does.
    chats = to_dataset(read_frame(None, None, FIX / "chats", "train"), "sft").dataset["messages"]
    before, after = _nll(*_load(tiny), chats), _nll(*_load(tmp_path / "sft"), chats)
    assert after < 0.8 * before
    saved = json.loads((tmp_path / "sft" / "metrics.json").read_text())
    assert saved["trainer"] == "sft" and saved["trained_rows"] == 4 and saved["skipped"] == {"no assistant turn": 1}


def test_a_stopped_training_is_recorded_interrupted(tiny, tmp_path, monkeypatch):
    """Ctrl-C during training (raised from inside the real TRL loop) is recorded as stopped, not failed."""
    import trl

    ws = Workspace(tmp_path / "ws")
    run_stage(ws, Collect(CollectParams(paths=[str(FIX / "chats" / "chats.jsonl")])), [], "chats")
    steps = []

    def stopped_at_the_second_step(self, *args, **kwargs):
        steps.append(1)
        if len(steps) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    real = trl.SFTTrainer.training_step
    monkeypatch.setattr(trl.SFTTrainer, "training_step", stopped_at_the_second_step)
    with pytest.raises(KeyboardInterrupt):
        train_sft(SFTParams(model=str(tiny), out=tmp_path / "sft", max_steps=5, batch_size=2), ws=ws, table="chats")
    run = ws.runs().filter(pl.col("stage") == "train_sft").to_dicts()[0]
    assert (run["status"], run["message"]) == ("interrupted", "SIGINT: stopped")


def test_grpo_raises_the_reward_and_records_it(tiny, tmp_path):
    params = GRPOParams(model=str(tiny), out=tmp_path / "grpo", rewards=[REWARD], max_steps=15, lr=3e-2,
                        batch_size=8, num_generations=4, max_completion_length=8, seed=0)
    assert (params.beta, GRPOParams.model_fields["num_generations"].default) == (0.001, 8)  # the papers' defaults
    result = train_grpo(params, data_dir=FIX / "questions")
    steps = result.metrics["steps"]
    assert len(steps) == 15
    assert all({"reward", "rewards/target_share/mean", "kl", "loss"} <= set(step) for step in steps)
    first, last = (sum(s["reward"] for s in part) / 3 for part in (steps[:3], steps[-3:]))
    assert last > first + 0.15, (first, last)
    assert result.metrics["params"]["reward_names"] == ["target_share"]
    (before, _), (after, _) = _load(tiny), _load(tmp_path / "grpo")
    changed = [name for name, p in after.state_dict().items() if not torch.equal(p, before.state_dict()[name])]
    assert changed


def test_grpo_params_check_groups_and_weights(tiny, tmp_path):
    with pytest.raises(CurateError, match="not a multiple of 8 generations"):
        GRPOParams(model=str(tiny), out=tmp_path, rewards=[REWARD], batch_size=12)
    with pytest.raises(CurateError, match="2 reward weights for 1 rewards"):
        GRPOParams(model=str(tiny), out=tmp_path, rewards=[REWARD], reward_weights=[1.0, 2.0])


# ----- command line -----------------------------------------------------------------------------
def test_cli_end_to_end(cli, tmp_path):
    ws = tmp_path / "ws"
    run_stage(Workspace(ws), Collect(CollectParams(paths=[str(FIX / "chats" / "chats.jsonl")])), [], "chats")
    made = cli("train", "make-tiny-model", str(tmp_path / "tiny"), "--table", "chats", workspace=ws, env=ONE_THREAD)
    assert made.returncode == 0, made.stderr
    sft = cli("train", "sft", "chats", "--model", str(tmp_path / "tiny"), "--out", str(tmp_path / "sft"),
              "--max-steps", "3", "--lr", "1e-3", "--batch-size", "2", workspace=ws, env=ONE_THREAD)
    assert sft.returncode == 0, sft.stderr
    assert "train sft" in sft.stderr and "4 rows" in sft.stderr
    assert (tmp_path / "sft" / "model.safetensors").exists()
    assert len(json.loads((tmp_path / "sft" / "metrics.json").read_text())["steps"]) == 3
    runs = cli("sql", "SELECT stage, status, n_in, n_kept, n_filtered FROM runs WHERE stage = 'train_sft'",
               "--format", "csv", workspace=ws)
    assert "train_sft,done,5,4,1" in runs.stdout, runs.stdout + runs.stderr

    grpo = cli("train", "grpo", "--data", str(FIX / "questions"), "--model", str(tmp_path / "sft"),
               "--out", str(tmp_path / "grpo"), "--reward", REWARD, "--reward-weight", "2", "--max-steps", "2",
               "--batch-size", "4", "--num-generations", "4", "--max-completion-length", "4", workspace=ws, env=ONE_THREAD)
    assert grpo.returncode == 0, grpo.stderr
    metrics = json.loads((tmp_path / "grpo" / "metrics.json").read_text())
    assert metrics["params"]["reward_weights"] == [2.0] and metrics["params"]["beta"] == 0.001
    assert all("rewards/target_share/mean" in step for step in metrics["steps"])


def test_cli_errors_are_short(cli, tmp_path):
    bad = cli("train", "grpo", "--data", str(FIX / "questions"), "--model", str(tmp_path), "--out", str(tmp_path),
              "--reward", "valeu")
    assert bad.returncode == 2 and "unknown reward 'valeu'" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli("train", "sft", "--data", str(FIX / "chats"), "--model", str(tmp_path / "none"), "--out", str(tmp_path))
    assert missing.returncode == 2 and "no model folder" in missing.stderr
