"""Benchmark of `curate generate` against Bespoke Curator and a plain asyncio + openai loop.

The three run side by side in one run, each as its own process, against the same local OpenAI-compatible
server (tests/llm_server.py, in another process) with 100 ms latency and 10 % injected failures (429 with
Retry-After, 500), 2,000 prompts, 32 requests in flight. For each:

- completions/s: answers delivered over the server's window (first request to last answer), and its share
  of the bound concurrency / latency = 320/s; HTTP requests/s over the same window (retries included);
- CPU seconds per 1,000 requests: the tool's process, user + system (from wait4), start-up included, and
  after start-up (the CPU of a one-prompt run taken off);
- after a `kill -9` halfway (once the server has taken half the requests) and a second run to the end:
  `repeated`, answers the server delivered twice (paid twice), and `abandoned`, answers that were in flight
  when the process died (the server made them; nobody received them).

Curator (`bespokelabs-curator` from PyPI) lives in bench/.envs/curator (`python3.11 -m venv
bench/.envs/curator && bench/.envs/curator/bin/pip install bespokelabs-curator`); without it the results say
so and its rows are missing.

Run: python bench/generate.py [--quick]   (figures to bench/results/generate.json)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CURATOR_PYTHON = ROOT / "bench" / ".envs" / "curator" / "bin" / "python"
PEERS = ROOT / "bench" / "_generate_peers.py"
LATENCY, FAIL_RATE, CONCURRENCY = 0.1, 0.1, 32
STALL_S = 600  # a tool that has not ended by then has stalled


class Server:
    """The test server in its own process; counts from GET /_stats."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_llm_serve.py"), "--latency",
                                      str(LATENCY), "--fail-rate", str(FAIL_RATE)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=30) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def command(tool: str, url: str, work: Path, prompts: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_KEY": "bench", "CURATE_WORKSPACE": str(work / "ws"),
           "OPENAI_API_KEY": "bench", "COLUMNS": "120"}
    if tool == "curate":
        return [sys.executable, "-m", "curate", "generate", "prompts", "--as", "answers", "--model", "bench",
                "--base-url", url, "--api-key-env", "BENCH_KEY", "--prompt", "{{ text }}", "--max-tokens", "256",
                "--concurrency", str(CONCURRENCY), "--max-retries", "10"], env
    python = sys.executable if tool == "plain" else str(CURATOR_PYTHON)
    extra = [str(work / "curator-cache")] if tool == "curator" else []
    return [python, str(PEERS), tool, url, str(prompts), str(CONCURRENCY), str(work / "out.jsonl"), *extra], env


def prepare(tool: str, work: Path, prompts: Path) -> None:
    """curate reads a workspace table: collect the prompts first (not timed)."""
    if tool == "curate":
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CURATE_WORKSPACE": str(work / "ws")}
        subprocess.run([sys.executable, "-m", "curate", "collect", str(prompts), "--as", "prompts"], env=env,
                       check=True, capture_output=True)


def run(argv: list[str], env: dict[str, str], kill_at: int | None = None, server: Server | None = None) -> dict[str, Any]:
    """Run a tool to its end (or kill -9 its process group once the server has taken `kill_at` requests)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a chatty tool never blocks on it
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
                                start_new_session=True)
        if kill_at is not None:
            while proc.poll() is None and server.stats()["counts"].get("requests", 0) < kill_at:
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            _, status, usage = _wait(proc, STALL_S)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            raise SystemExit(f"{argv[2:4]}: no end after {STALL_S} s (stalled); killed") from None
        if kill_at is None and status != 0:
            log.seek(0)
            raise SystemExit(f"{argv[2:4]} failed ({status}):\n{log.read()[-3000:]}")
    return {"wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime}


def _wait(proc: subprocess.Popen, limit_s: float) -> tuple[int, int, Any]:
    """wait4 for the process (its own CPU time), giving up after `limit_s`."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = status
            return pid, status, usage
        time.sleep(0.05)
    raise TimeoutError


def whole_run(tool: str, prompts: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(tool, work, prompts)
        server = Server()
        try:
            argv, env = command(tool, server.url, work, prompts)
            ran = run(argv, env)
            return ran, server.stats()
        finally:
            server.close()


def measure(tool: str, prompts: Path, one: Path, n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    ran, stats = whole_run(tool, prompts)
    floor, floor_stats = whole_run(tool, one)  # start-up and one request: what the per-request figure leaves out
    sent = stats["counts"].get("requests", 0)
    bound = CONCURRENCY / LATENCY
    marginal = (ran["cpu_s"] - floor["cpu_s"]) / max(1, sent - floor_stats["counts"].get("requests", 0))
    figures.update(
        answers=stats["questions"], http_requests=sent, server_seconds=round(stats["seconds"], 3),
        wall_s=round(ran["wall_s"], 2), completions_per_s=round(stats["questions"] / stats["seconds"], 1),
        http_requests_per_s=round(sent / stats["seconds"], 1), bound_per_s=bound,
        share_of_bound=round(sent / stats["seconds"] / bound, 3),
        cpu_s_per_1000_requests=round(1000 * ran["cpu_s"] / max(sent, 1), 2),
        startup_cpu_s=round(floor["cpu_s"], 2), cpu_s_per_1000_requests_after_startup=round(1000 * marginal, 2))
    with tempfile.TemporaryDirectory() as tmp:  # killed halfway, then run again to the end
        work = Path(tmp)
        prepare(tool, work, prompts)
        server = Server()
        try:
            argv, env = command(tool, server.url, work, prompts)
            run(argv, env, kill_at=n // 2, server=server)
            at_kill = server.stats()
            run(argv, env)
            after = server.stats()
        finally:
            server.close()
    figures.update(requests_before_kill=at_kill["counts"].get("requests", 0),
                   answers_before_kill=at_kill["questions"], repeated_after_kill=after["repeated"],
                   in_flight_at_kill=after["counts"].get("abandoned", 0), answers_in_the_end=after["questions"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 prompts instead of 2,000")
    args = parser.parse_args()
    n = 500 if args.quick else 2000
    results: dict[str, Any] = {"quick": args.quick, "prompts": n, "latency_s": LATENCY, "fail_rate": FAIL_RATE,
                               "concurrency": CONCURRENCY, "cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.jsonl"
        prompts.write_text("".join(json.dumps({"text": f"Item {i}: write one sentence about the number {i}."}) + "\n"
                                   for i in range(n)))
        one = Path(tmp) / "one.jsonl"
        one.write_text(json.dumps({"text": "One sentence, please."}) + "\n")
        tools = ["curate", "plain"]
        if CURATOR_PYTHON.exists():
            tools.append("curator")
        else:
            results["curator"] = {"error": f"not installed: no {CURATOR_PYTHON.relative_to(ROOT)}"}
        for tool in tools:
            print(f"== {tool}", flush=True)
            try:
                results[tool] = measure(tool, prompts, one, n)
            except (SystemExit, OSError, subprocess.SubprocessError) as err:
                results[tool] = {"error": str(err)[-2000:]}
            print(json.dumps(results[tool], indent=2), flush=True)
    out = ROOT / "bench" / "results" / "generate.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
