"""The local OpenAI-compatible server (tests/llm_server.py) in its own process, for the benchmarks: it
prints its port, then serves until its stdin closes; counts at GET /_stats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm_server import LLMServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = LLMServer(latency=args.latency, fail_rate=args.fail_rate, faults=("429", "500"), retry_after=0.05,
                       seed=args.seed).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
