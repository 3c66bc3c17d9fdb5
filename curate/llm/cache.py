"""A response cache in the workspace, so re-runs and resumes never pay for the same answer twice.

Entries are keyed by what makes an answer (namespace, model, prompt hash, image hashes, sampling
parameters, sample index) and live in append-only segments under `workspace/cache/llm/` (see
`curate.llm.durable`): every answer is written, flushed and fsynced before the client counts it as
received, so a `kill -9` loses only the requests still in flight. Each process appends to its own
segment, so stage workers never contend for a file and the DuckDB catalog is never written from a worker.
A line is the key, a tab, and the answer as JSON: `cut -f2 workspace/cache/llm/*.jsonl | jq .`
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from curate.llm.durable import SegmentLog, read_record
from curate.records import content_hash


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    refusal: str | None = None
    top_logprobs: list[list[tuple[str, float]]] | None = None  # per answer token: (token, logprob), best first
    cost_usd: float = 0.0  # what the answer cost when it was paid


def cache_key(judge: str, prompt_hash: str, image_hashes: tuple[str, ...], params: dict[str, object]) -> str:
    return content_hash({"judge": judge, "prompt": prompt_hash, "images": list(image_hashes), "params": params})


class ResponseCache:
    def __init__(self, root: Path):
        self.root = root
        self._log = SegmentLog(root, "answers")
        self._index: dict[str, tuple[Path, int, int]] | None = None
        self._mine: dict[str, CachedAnswer] = {}  # answers this process wrote: no need to read them back

    def _load(self) -> dict[str, tuple[Path, int, int]]:
        if self._index is None:
            self._index = {key: (path, offset, length) for key, path, offset, length in self._log.scan()}
        return self._index

    def __len__(self) -> int:
        return len(self._load().keys() | self._mine.keys())

    def __contains__(self, key: str) -> bool:
        return key in self._mine or key in self._load()

    def get(self, key: str) -> CachedAnswer | None:
        if key in self._mine:
            return self._mine[key]
        where = self._load().get(key)
        record = read_record(*where) if where else None
        return _answer(record) if record else None

    def put(self, key: str, judge: str, model: str, answer: CachedAnswer) -> None:
        """Store an answer; it is on disk when this returns."""
        self._log.append(key, _record(judge, model, answer))
        self._mine[key] = answer

    async def put_async(self, key: str, judge: str, model: str, answer: CachedAnswer) -> None:
        """Store an answer from async code (concurrent puts share one fsync); on disk when this returns."""
        await self._log.append_async(key, _record(judge, model, answer))
        self._mine[key] = answer

    def close(self) -> None:
        self._log.close()


def _record(judge: str, model: str, answer: CachedAnswer) -> dict[str, Any]:
    return {"judge": judge, "model": model, **{k: v for k, v in asdict(answer).items() if v is not None}}


def _answer(record: dict[str, Any]) -> CachedAnswer | None:
    try:
        logprobs = record.get("top_logprobs")
        return CachedAnswer(
            text=record["text"], prompt_tokens=int(record.get("prompt_tokens") or 0),
            completion_tokens=int(record.get("completion_tokens") or 0),
            finish_reason=record.get("finish_reason"), refusal=record.get("refusal"),
            top_logprobs=[[(str(t), float(p)) for t, p in step] for step in logprobs] if logprobs else None,
            cost_usd=float(record.get("cost_usd") or 0.0))
    except (KeyError, TypeError, ValueError):  # a record from another version: ask again
        return None
