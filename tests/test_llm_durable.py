"""Nothing paid twice: answers are durable before they count, and spending caps hold across kills.

The judge runs as a user runs it (`curate judge ... --judge llm`, a subprocess) and is `kill -9`ed at
random moments, each time once the server has taken a few more requests; the server's own count says
how many answers it delivered for the same question more than once."""

from __future__ import annotations

import asyncio
import io

import polars as pl
import pytest
from PIL import Image

from curate.llm import CachedAnswer, LLMClient, LLMConfig, Request, ResponseCache
from curate.llm.budget import Caps, SpendLedger, Spent
from curate.llm.durable import SegmentLog
from curate.stages.exec import store_png
from curate.store import Workspace
from tests.conftest import put_table
from tests.llm_runs import kill_at_random_moments, kill_group, start_cli, wait_for
from tests.llm_server import LLMServer

KEY_ENV = {"CURATE_TEST_KEY": "sk-durable-test"}
CONCURRENCY = 4


def judge_ready(ws: Workspace, n: int) -> None:
    """A table as `exec` leaves it: n plots, each with a rendered image (no need to run them here)."""
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 90, 200)).save(png, format="PNG")
    image = store_png(ws.root, png.getvalue())
    put_table(ws, "executed", pl.DataFrame({
        "id": [f"p{i}" for i in range(n)], "instruction": [f"Plot series {i} as a line" for i in range(n)],
        "code": ["import matplotlib.pyplot as plt\nplt.plot([1, 2])"] * n, "language": ["python"] * n,
        "exec_ok": [True] * n, "images": [[image]] * n, "screenshot": [None] * n,
    }, schema_overrides={"screenshot": pl.String}))


def judge_args(server: LLMServer, *extra: str) -> list[str]:
    return ["judge", "executed", "--as", "judged", "--judge", "llm", "--base-url", server.url, "--model", "vlm",
            "--api-key-env", "CURATE_TEST_KEY", "--concurrency", str(CONCURRENCY), *extra]


def test_a_torn_tail_is_skipped_and_every_completed_append_is_read(tmp_path):
    log = SegmentLog(tmp_path / "log", "answers")
    log.append("a", {"text": "one"})
    path, _ = log.append("b", {"text": "two"})
    with open(path, "ab") as handle:  # a kill in the middle of a write
        handle.write(b'c\t{"text": "thr')
    assert [k for k, _ in SegmentLog(tmp_path / "log", "answers").records()] == ["a", "b"]

    cache = ResponseCache(tmp_path / "cache")
    cache.put("k1", "j", "m", CachedAnswer("hello", 3, 1, finish_reason="length", cost_usd=0.5))
    again = ResponseCache(tmp_path / "cache").get("k1")
    assert again == CachedAnswer("hello", 3, 1, finish_reason="length", cost_usd=0.5)


def test_concurrent_answers_share_fsyncs_but_each_is_on_disk_before_it_returns(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    with LLMServer(latency=0.02) as server:
        client = LLMClient(LLMConfig(model="m", base_url=server.url, api_key_env="CURATE_TEST_KEY", concurrency=8),
                           ResponseCache(tmp_path / "c"))
        seen_on_disk: list[int] = []

        def check(result) -> None:  # a fresh reader sees every answer that was handed back
            seen_on_disk.append(len(ResponseCache(tmp_path / "c")))

        requests = [Request("t", [{"role": "user", "content": f"q{i}"}]) for i in range(24)]
        client.run(requests, on_done=check)
    assert seen_on_disk == sorted(seen_on_disk) and all(n >= i + 1 for i, n in enumerate(seen_on_disk))


def test_the_same_question_in_flight_twice_is_asked_once(monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    with LLMServer(latency=0.05) as server:
        client = LLMClient(LLMConfig(model="m", base_url=server.url, api_key_env="CURATE_TEST_KEY"))
        same = [Request("t", [{"role": "user", "content": "same question"}]) for _ in range(5)]
        results = client.run(same)
    assert server.counts["chat"] == 1 and all(r.ok for r in results) and sum(r.cached for r in results) == 4


def test_the_ledger_closes_when_its_table_is_committed(tmp_path):
    ledger = SpendLedger(tmp_path / "spend", tmp_path / "manifest.json")
    asyncio.run(ledger.reserve())
    asyncio.run(ledger.record(10, 5, 0.25))
    kept = SpendLedger(tmp_path / "spend", tmp_path / "manifest.json")
    assert kept.before == Spent(1, 10, 5, 0.25)
    assert Caps(max_requests=1).reached(kept.spent).startswith("max_requests reached")
    assert Caps(max_tokens_total=20).reached(kept.spent) is None
    (tmp_path / "manifest.json").write_text("{}")  # the table was committed after these requests
    assert SpendLedger(tmp_path / "spend", tmp_path / "manifest.json").before == Spent()


def test_a_judge_killed_at_random_moments_pays_for_no_answer_twice(ws, cli):
    judge_ready(ws, 90)
    with LLMServer(latency=0.03) as server:
        kills = kill_at_random_moments(judge_args(server), ws.root, server, kills=2, span=30, env=KEY_ENV)
        done = cli(*judge_args(server), workspace=ws.root, env=KEY_ENV)
        assert done.returncode == 0, done.stderr
        repeated = server.stats()["repeated"]
        # an answer is lost only when it was in flight at a kill: at most `concurrency` per kill
        assert kills >= 2 and repeated <= kills * CONCURRENCY, (kills, repeated)
        assert len(server.answered) == 90  # every question answered, by one run or another
    frame = ws.read("judged")
    assert frame.height == 90 and frame["judge_error"].null_count() == 90


def test_max_requests_means_in_all_across_a_kill(ws, cli):
    judge_ready(ws, 60)
    with LLMServer(latency=0.03) as server:
        args = judge_args(server, "--max-requests", "40")
        proc = start_cli(*args, workspace=ws.root, env=KEY_ENV)
        assert wait_for(lambda: server.counts["requests"] >= 20, proc)
        kill_group(proc)
        done = cli(*args, workspace=ws.root, env=KEY_ENV)
        assert done.returncode == 0, done.stderr
        assert "already spent" in done.stderr  # what earlier runs spent is shown at start
        # 40 in all, not 40 more (a request counted just before a kill may never have left)
        assert 40 - CONCURRENCY <= server.counts["requests"] <= 40
    frame = ws.read("judged")
    stopped = frame.filter(pl.col("judge_error").is_not_null())
    assert stopped.height >= 20 and all(e.startswith("max_requests reached") for e in stopped["judge_error"])


@pytest.mark.parametrize("fault", ["429", "500"])
def test_retried_requests_count_against_the_cap(fault, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    with LLMServer(plan=lambda seen, body: fault if seen == 0 else None) as server:
        config = LLMConfig(model="m", base_url=server.url, api_key_env="CURATE_TEST_KEY", max_requests=3,
                           backoff_s=0.001, backoff_max_s=0.01, concurrency=1)
        results = LLMClient(config).run([Request("t", [{"role": "user", "content": f"q{i}"}]) for i in range(3)])
    assert server.counts["requests"] == 3 and server.counts[fault] >= 1
    failed = [r for r in results if not r.ok]
    assert failed and all(r.stopped and r.error.startswith("max_requests reached") for r in failed)
