"""`curate generate` against the local OpenAI-compatible server: rows, filters with reasons, rejects,
the content-keyed cache (proved by the server's own count), caps, kills, errors before any row is spent,
keys that never leak, the Batch API, rate limits, and the local transformers backend."""

from __future__ import annotations

import asyncio
import json
import time

import polars as pl
import pytest

from curate.errors import CurateError, RunStopped
from curate.llm.rate import Throttle
from curate.runner import run_stage
from curate.stages.generate import Generate, GenerateParams
from curate.store import Workspace
from tests.conftest import put_table
from tests.llm_runs import kill_at_random_moments
from tests.llm_server import LLMServer, prompt_text

KEY = "CURATE_TEST_KEY"
CANARY = "sk-canary-7f3e9a1b2c4d5e6f-DO-NOT-LEAK"


def answer(body: dict) -> str:
    """Answers by what the prompt asks, deterministic per prompt and model."""
    text = prompt_text(body)
    if "TRUNCATE" in text:
        return "```python\n" + "x = 1\n" * 400 + "```"
    if "EMPTY" in text:
        return ""
    if "PROSE" in text:
        return "I would draw a bar chart with blue bars."
    if "JSON" in text:
        return '{"title": "Sales", "bars": 3}' if "GOOD" in text else '{"title": 3}'
    return f"Here it is.\n```python\n# by {body['model']}, seed {body.get('seed')}\nprint({text!r})\n```\n"


def plan(seen: int, body: dict) -> str | None:
    text = prompt_text(body)
    return "refuse" if "REFUSE" in text else "500" if "BROKEN" in text else None


def instructions(ws: Workspace, name: str, texts: list[str], **extra: list) -> None:
    put_table(ws, name, pl.DataFrame({"id": [f"i{k}" for k in range(len(texts))], "instruction": texts,
                                      "category": ["plot"] * len(texts), **extra}))


def params(server: LLMServer, **kw) -> GenerateParams:
    base = dict(prompt="Write Python for: {{ instruction }}", models=[
        {"model": "m1", "base_url": server.url, "api_key_env": KEY},
        {"model": "m2", "base_url": server.url, "api_key_env": KEY}],
        n=2, seed=7, max_tokens=200, extract="python", max_retries=1, concurrency=4, price_input=2.0,
        price_output=8.0)
    return GenerateParams(**{**base, **kw})


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY, CANARY)


def test_every_candidate_kept_filtered_or_rejected_and_nothing_paid_twice(ws):
    texts = ["plot sales", "plot costs", "TRUNCATE", "EMPTY", "PROSE", "REFUSE", "BROKEN", "plot sales"]
    instructions(ws, "seeds", texts, difficulty=list(range(len(texts))))
    with LLMServer(answer, plan=plan) as server:
        summary = run_stage(ws, Generate(params(server)), ["seeds"], "gen")
        assert (summary.n_in, summary.kept, summary.filtered, summary.rejected) == (32, 12, 16, 4)
        assert dict(summary.reasons) == {"truncated": 4, "empty": 4, "no_code_block": 4, "refused": 4,
                                         "http_500": 4}
        # eight questions were asked twice (the duplicated row): each answered once, the twin shared it
        assert max(server.answered.values()) == 1 and len(server.answered) == 24
        frame = ws.read("gen")
        assert frame.columns == ["id", "instruction", "category", "difficulty", "gen_group", "gen_model",
                                 "gen_sample", "gen_text", "gen_finish_reason", "gen_prompt_tokens",
                                 "gen_completion_tokens", "gen_cost_usd", "gen_cached", "code"]
        assert frame["id"].n_unique() == 12 and set(frame["gen_group"]) == {"i0", "i1", "i7"}
        assert sorted(frame["gen_model"].unique()) == ["m1", "m2"] and set(frame["gen_sample"]) == {0, 1}
        row = frame.filter(pl.col("gen_group") == "i0", pl.col("gen_model") == "m2", pl.col("gen_sample") == 1).row(0, named=True)
        assert row["code"] == "# by m2, seed 8\nprint('Write Python for: plot sales')"
        assert row["gen_finish_reason"] == "stop" and row["difficulty"] == 0
        assert row["gen_cost_usd"] == pytest.approx((2 * row["gen_prompt_tokens"] + 8 * row["gen_completion_tokens"]) / 1e6)
        with ws.connect(read_only=True) as con:
            detail = con.sql("SELECT reason, detail FROM filtered WHERE table_name = 'gen'").fetchall()
        truncated = [json.loads(d) for r, d in detail if r == "truncated"]
        assert truncated[0]["text"].startswith("```python\nx = 1") and truncated[0]["finish_reason"] == "length"

        sent = server.counts["requests"]
        run_stage(ws, Generate(params(server)), ["seeds"], "gen", force=True)
        assert server.counts["requests"] - sent == 4 * 2  # only the failed requests are asked again
        assert ws.read("gen")["gen_cached"].all()
        instructions(ws, "other", ["plot costs"])  # another table, another recipe: the same question
        sent = server.counts["requests"]
        run_stage(ws, Generate(params(server, max_requests=0)), ["other"], "gen_other")
        assert server.counts["requests"] == sent and ws.read("gen_other").height == 4


def test_errors_before_any_row_is_spent(ws):
    instructions(ws, "seeds", ["plot sales"])
    with LLMServer(answer, models=("m1", "m2")) as server:
        with pytest.raises(CurateError, match="unknown column in the prompt template 'instrution'") as caught:
            run_stage(ws, Generate(params(server, prompt="Write {{ instrution }}")), ["seeds"], "g")
        assert caught.value.hint == "did you mean 'instruction'?"
        with pytest.raises(CurateError, match="unknown model .*'m3'") as caught:
            run_stage(ws, Generate(params(server, models=[{"model": "m3", "base_url": server.url, "api_key_env": KEY}])),
                      ["seeds"], "g")
        assert "m1" in caught.value.hint and server.counts["chat"] == 0
    with pytest.raises(CurateError, match="cannot reach"):
        run_stage(ws, Generate(params(server)), ["seeds"], "g")  # the server is gone
    with LLMServer(answer, api_key="sk-the-right-one") as server:
        with pytest.raises(CurateError, match=f"refused the key in \\${KEY}") as caught:
            run_stage(ws, Generate(params(server)), ["seeds"], "g")
        # stopped at once: one refused model listing, nothing retried, no row spent, the key not shown
        assert CANARY not in str(caught.value) and server.counts["unauthorized"] == 1 and server.counts["chat"] == 0


def test_a_cap_stops_cleanly_and_a_higher_cap_continues_and_the_key_never_leaks(ws, cli):
    instructions(ws, "seeds", [f"plot series {i}" for i in range(6)])
    with LLMServer(answer, latency=0.01, api_key=CANARY) as server:
        args = ["generate", "seeds", "--as", "gen", "--model", "m1", "--base-url", server.url, "--api-key-env", KEY,
                "--n", "2", "--seed", "1", "--prompt", "Plot {{ instruction }}", "--extract", "python",
                "--concurrency", "2"]
        capped = cli(*args, "--max-requests", "5", workspace=ws.root, env={KEY: CANARY})
        assert capped.returncode == 3 and "max_requests reached (5 requests)" in capped.stderr, capped.stderr
        assert "gen" not in ws.table_names() and server.counts["requests"] == 5
        runs = ws.runs().filter(pl.col("output") == "gen")
        assert runs["status"].to_list() == ["interrupted"] and "max_requests reached" in runs["message"][0]
        more = cli(*args, "--max-requests", "12", workspace=ws.root, env={KEY: CANARY})
        assert more.returncode == 0, more.stderr
        assert "already spent 5 requests" in more.stderr
        assert server.counts["requests"] == 12 and max(server.answered.values()) == 1
    frame = ws.read("gen")
    assert frame.height == 12 and frame["gen_cached"].sum() == 5
    # the canary key reached no row, cache, ledger, log, manifest or catalog, and no output
    assert CANARY not in capped.stdout + capped.stderr + more.stdout + more.stderr
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_cost_and_token_caps_stop_the_run(ws):
    instructions(ws, "seeds", [f"plot series {i}" for i in range(8)])
    with LLMServer(answer) as server:
        with pytest.raises(RunStopped, match="max_cost_usd reached"):
            run_stage(ws, Generate(params(server, max_cost_usd=0.002, concurrency=1)), ["seeds"], "gen")
        spent = server.counts["requests"]
        assert 0 < spent < 32
        with pytest.raises(RunStopped, match="max_tokens_total reached"):
            run_stage(ws, Generate(params(server, max_tokens_total=1, concurrency=1)), ["seeds"], "gen")
        assert server.counts["requests"] == spent  # the tokens spent before already pass this cap


def test_kill_at_random_moments_resumes_to_the_rows_of_an_unbroken_run(ws, cli, tmp_path):
    texts = [f"plot series {i}" for i in range(40)]
    instructions(ws, "seeds", texts)
    with LLMServer(answer, latency=0.02, fail_rate=0.1, faults=("429", "500"), retry_after=0.01) as server:
        args = ["generate", "seeds", "--as", "gen", "--model", "m1", "--base-url", server.url, "--api-key-env", KEY,
                "--n", "2", "--seed", "3", "--prompt", "Plot {{ instruction }}", "--extract", "python",
                "--concurrency", "4", "--max-retries", "8"]
        kills = kill_at_random_moments(args, ws.root, server, kills=2, span=40, env={KEY: CANARY}, seed=1)
        done = cli(*args, workspace=ws.root, env={KEY: CANARY})
        assert done.returncode == 0, done.stderr
        assert kills == 2 and server.stats()["repeated"] <= kills * 4
        unbroken = Workspace(tmp_path / "unbroken")
        instructions(unbroken, "seeds", texts)
        p = params(server, models=[{"model": "m1", "base_url": server.url, "api_key_env": KEY}], seed=3,
                   prompt="Plot {{ instruction }}", max_tokens=4096, max_retries=8, price_input=0, price_output=0)
        run_stage(unbroken, Generate(p), ["seeds"], "gen")
    columns = ["id", "gen_group", "gen_sample", "gen_text", "code"]
    assert ws.read("gen").select(columns).sort("id").equals(unbroken.read("gen").select(columns).sort("id"))


def test_system_prompt_by_category_and_structured_output(ws, tmp_path):
    put_table(ws, "seeds", pl.DataFrame({"id": ["a", "b", "c"], "instruction": ["JSON GOOD", "JSON bad", "JSON GOOD x"],
                                         "category": ["plot", "page", "poster"]}))
    (tmp_path / "systems.yaml").write_text("plot: You write plotting code.\npage: You write one HTML page.\n")
    (tmp_path / "schema.json").write_text(json.dumps({
        "type": "object", "properties": {"title": {"type": "string"}, "bars": {"type": "integer"}},
        "required": ["title", "bars"], "additionalProperties": False}))
    with LLMServer(answer) as server:
        summary = run_stage(ws, Generate(params(server, system_by="category", system_by_file=tmp_path / "systems.yaml",
                                                response_format=tmp_path / "schema.json", extract="json", n=1,
                                                into="spec")), ["seeds"], "gen")
        systems = {prompt_text({"messages": b["messages"][1:]}): b["messages"][0]["content"] for b in server.bodies}
        assert systems["Write Python for: JSON GOOD"] == "You write plotting code."
        assert server.bodies[0]["response_format"]["json_schema"]["schema"]["required"] == ["title", "bars"]
    assert dict(summary.reasons) == {"schema_mismatch": 2, "prompt_error": 1}  # 'poster' has no system prompt
    frame = ws.read("gen")
    assert json.loads(frame["spec"][0]) == {"title": "Sales", "bars": 3}


def test_batch_api_submits_returns_collects_and_resubmits_only_failures(ws):
    instructions(ws, "seeds", [f"plot series {i}" for i in range(5)])
    fates = {"first": True}

    def batch_plan(custom_id: str, body: dict) -> str | None:  # two requests fail, one expires, in the first batch
        if not fates["first"]:
            return None
        text = prompt_text(body)
        return "fail" if "series 1" in text else "expire" if "series 2" in text and body["seed"] == 7 else None

    with LLMServer(answer, batch_polls=2, batch_plan=batch_plan) as server:
        p = params(server, batch=True)
        with pytest.raises(RunStopped, match="submitted 20 requests"):
            run_stage(ws, Generate(p), ["seeds"], "gen")
        assert server.counts["chat"] == 0 and server.counts["batches"] == 2  # one batch per model
        with pytest.raises(RunStopped, match="still running"):
            run_stage(ws, Generate(p), ["seeds"], "gen")
        with pytest.raises(RunStopped, match="submitted 6 requests"):  # 4 failed and 2 expired, again
            run_stage(ws, Generate(p), ["seeds"], "gen")
        fates["first"] = False
        book = ws.root / "cache" / "batches" / "gen.json"
        state = json.loads(book.read_text())
        state["batches"][-1]["id"] = None  # as if killed before the new batch's id was written down
        book.write_text(json.dumps(state))
        with pytest.raises(RunStopped, match="still running"):
            run_stage(ws, Generate(p), ["seeds"], "gen")
        summary = run_stage(ws, Generate(p), ["seeds"], "gen")
        assert summary.kept == 20 and server.counts["batches"] == 4  # found again, not submitted twice
        assert server.counts["batch_requests"] == 20 and server.counts["chat"] == 0
    frame = ws.read("gen")
    assert not frame["gen_cached"].any()
    assert frame["gen_cost_usd"].sum() == pytest.approx(
        (2 * frame["gen_prompt_tokens"].sum() + 8 * frame["gen_completion_tokens"].sum()) / 1e6 / 2)


def test_rate_limits_and_adaptive_concurrency(ws):
    instructions(ws, "seeds", [f"plot series {i}" for i in range(12)])
    with LLMServer(answer) as server:
        stamps: list[float] = []
        real = server._answer

        async def stamped(body, **kw):
            stamps.append(time.monotonic())
            return await real(body, **kw)
        server._answer = stamped
        run_stage(ws, Generate(params(server, models=[params(server).models[0]], n=1, rpm=300)), ["seeds"], "gen")
    # 300 per minute = 5 per second, one second's worth at first: the last of 12 leaves 1.4 s after the
    # bucket opened (unthrottled, all 12 arrive within a few milliseconds)
    assert len(stamps) == 12 and stamps[-1] - stamps[0] >= 1.0

    async def storm() -> tuple[int, int]:
        throttle = Throttle(16)
        for _ in range(12):
            throttle.answered(rate_limited=True, retry_after=0.01)
        shrunk = throttle.limit
        for _ in range(20 * 32):
            throttle.answered(rate_limited=False)
        return shrunk, throttle.limit
    shrunk, grown = asyncio.run(storm())
    assert shrunk < 16 and grown == 16


def answers(ws: Workspace) -> list[str]:
    """Every answer text, kept or filtered."""
    with ws.connect(read_only=True) as con:
        filtered = [json.loads(d)["text"] for (d,) in con.sql("SELECT detail FROM filtered").fetchall()]
    return sorted(filtered + ws.read("gen")["gen_text"].to_list())


def test_local_transformers_backend(ws, tmp_path):
    from curate.train.tiny import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny", ["plot the sales", "plot the costs"], hidden_size=32, layers=1)
    instructions(ws, "seeds", ["plot the sales", "plot the costs"])
    p = GenerateParams(prompt="{{ instruction }}", models=[{"model": str(model)}], backend="transformers", n=2,
                       temperature=0.9, max_tokens=6, seed=0)
    summary = run_stage(ws, Generate(p), ["seeds"], "gen")
    assert summary.n_in == 4 and summary.kept + summary.filtered == 4
    again = Workspace(tmp_path / "again")
    instructions(again, "seeds", ["plot the sales", "plot the costs"])
    run_stage(again, Generate(p), ["seeds"], "gen")
    # each sample under its own seed: the same texts whatever the batch, in another workspace too
    assert answers(ws) == answers(again)
    with pytest.raises(CurateError, match="vLLM, which is not installed"):
        run_stage(ws, Generate(p.model_copy(update={"backend": "vllm"})), ["seeds"], "gen_vllm")
