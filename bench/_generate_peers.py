"""The peers of bench/generate.py, each run in its own process against the same local server:

    python bench/_generate_peers.py plain URL PROMPTS.jsonl CONCURRENCY OUT.jsonl
    bench/.envs/curator/bin/python bench/_generate_peers.py curator URL PROMPTS.jsonl CONCURRENCY OUT.jsonl CACHE

`plain` is the loop people write: asyncio, the openai client (its own retries, honouring Retry-After) and a
semaphore; answers are written when all are in. `curator` is Bespoke Curator's online OpenAI backend
pointed at the server (`max_concurrent_requests` = CONCURRENCY, per-minute limits out of the way), with its
cache in CACHE. Neither imports curate.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

MAX_TOKENS = 256


def prompts(path: str) -> list[str]:
    with open(path) as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def plain(url: str, path: str, concurrency: int, out: str) -> None:
    from openai import AsyncOpenAI

    async def main() -> list[str]:
        client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=10)
        slots = asyncio.Semaphore(concurrency)

        async def one(prompt: str) -> str:
            async with slots:
                response = await client.chat.completions.create(
                    model="bench", messages=[{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS)
            return response.choices[0].message.content or ""
        return list(await asyncio.gather(*(one(p) for p in prompts(path))))

    answers = asyncio.run(main())
    with open(out, "w") as handle:
        handle.writelines(json.dumps({"answer": a}) + "\n" for a in answers)


def curator(url: str, path: str, concurrency: int, out: str, cache: str) -> None:
    os.environ["CURATOR_CACHE_DIR"] = cache
    os.environ["TELEMETRY_ENABLED"] = "false"  # no network here, and none wanted
    import litellm  # ships tiktoken's encodings: without them tiktoken would download one

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", os.path.join(os.path.dirname(litellm.__file__),
                                                             "litellm_core_utils", "tokenizers"))
    from bespokelabs import curator as bespoke
    from datasets import Dataset

    class Ask(bespoke.LLM):
        def prompt(self, row: dict) -> str:
            return row["text"]

        def parse(self, row: dict, response: str) -> dict:
            return {"answer": response}

    llm = Ask(model_name="bench", backend="openai", generation_params={"max_tokens": MAX_TOKENS},
              backend_params={"base_url": url, "api_key": "bench", "max_concurrent_requests": concurrency,
                              "max_requests_per_minute": 1_000_000, "max_tokens_per_minute": 1_000_000_000,
                              "seconds_to_pause_on_rate_limit": 1, "max_retries": 10,
                              "require_all_responses": False})
    result = llm(Dataset.from_list([{"text": p} for p in prompts(path)]))
    dataset = getattr(result, "dataset", result)
    with open(out, "w") as handle:
        handle.writelines(json.dumps({"answer": row["answer"]}) + "\n" for row in dataset)


if __name__ == "__main__":
    mode, url, path, concurrency, out, *rest = sys.argv[1:]
    if mode == "plain":
        plain(url, path, int(concurrency), out)
    else:
        curator(url, path, int(concurrency), out, rest[0])
