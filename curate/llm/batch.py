"""The OpenAI Batch API (`/v1/files`, `/v1/batches`) for half-price runs that may take hours.

A run submits what the cache does not hold yet, keeps the batch ids in the workspace
(`cache/batches/<table>.json`) and returns. The same command later polls them: a finished batch's answers
go into the answer cache (durably, one by one, like online answers), its failed or expired requests are
submitted again in a new batch (up to `MAX_ATTEMPTS` times each, then they are rejected with their error),
and once nothing is pending the stage builds its rows from the cache.

A submission is written down before it is uploaded (with a nonce in the batch's metadata), so a kill
between the upload and the bookkeeping finds the batch again instead of paying for it twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletion

from curate.llm.cache import CachedAnswer
from curate.llm.client import LLMClient, answer_of
from curate.store.atomic import write_json

MAX_ATTEMPTS = 3
BATCH_DISCOUNT = 0.5  # the Batch API's price, as a share of the online price
FINAL = ("completed", "expired", "failed", "cancelled")


@dataclass(frozen=True)
class BatchLine:
    key: str  # the answer's cache key, and the request's custom_id
    body: dict[str, Any]


@dataclass
class Progress:
    pending: list[str] = field(default_factory=list)  # "batch_x (status, done/total)"
    submitted: int = 0
    collected: int = 0


class BatchBook:
    """The batches of one output table; closed (forgotten) once that table is committed."""

    def __init__(self, workspace_root: Path, table: str):
        self.path = workspace_root / "cache" / "batches" / f"{table}.json"
        manifest = workspace_root / "tables" / table / "_manifest.json"
        self.state: dict[str, Any] = {"batches": [], "attempts": {}, "errors": {}}
        if self.path.exists() and not (manifest.exists() and manifest.stat().st_mtime >= self.path.stat().st_mtime):
            self.state = json.loads(self.path.read_text())

    def save(self) -> None:
        write_json(self.state, self.path)

    @property
    def submitted_keys(self) -> set[str]:
        return {k for b in self.state["batches"] for k in b["keys"]}

    def error(self, key: str) -> str | None:
        """Why a request is given up (it failed `MAX_ATTEMPTS` times), or None."""
        if self.state["attempts"].get(key, 0) >= MAX_ATTEMPTS:
            return self.state["errors"].get(key, "batch request failed")
        return None


async def advance(client: LLMClient, lines: list[BatchLine], book: BatchBook, table: str) -> Progress:
    """Poll this model's batches, collect what finished, submit what is missing. Needs `async with client`."""
    progress = Progress()
    model = client.config.model
    for batch in [b for b in book.state["batches"] if b["model"] == model and not b.get("collected")]:
        if batch.get("id") is None:  # killed between writing the submission down and keeping its id
            batch["id"] = await _find(client, batch["nonce"])
            if batch["id"] is None:  # it never reached the server: forget it, its requests go again
                book.state["batches"].remove(batch)
                for key in batch["keys"]:
                    book.state["attempts"][key] -= 1
                book.save()
                continue
        remote = await client.openai.batches.retrieve(batch["id"])
        counts = remote.request_counts
        if remote.status not in FINAL:
            progress.pending.append(f"{batch['id']} ({remote.status}, {counts.completed if counts else 0:,}"
                                    f"/{counts.total if counts else len(batch['keys']):,})")
            continue
        progress.collected += await _collect(client, remote, book)
        batch["collected"], batch["status"] = True, remote.status
        book.save()
    if progress.pending:
        return progress
    missing = [line for line in lines if line.key not in client.cache and book.error(line.key) is None]
    if missing:
        progress.submitted = await _submit(client, missing, book, table)
    return progress


async def _collect(client: LLMClient, remote: Any, book: BatchBook) -> int:
    collected = 0
    if remote.output_file_id:
        for line in await _lines(client, remote.output_file_id):
            response = line.get("response") or {}
            if response.get("status_code") != 200:
                book.state["errors"][line["custom_id"]] = _line_error(line)
                continue
            completion = ChatCompletion.model_validate(response["body"])
            usage = completion.usage
            prompt, done = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
            cost = client.config.cost(prompt, done) * BATCH_DISCOUNT
            answer = answer_of(completion)
            await client.cache.put_async(line["custom_id"], "chat", client.config.model, CachedAnswer(
                answer.text, prompt, done, answer.finish_reason, answer.refusal, answer.top_logprobs, cost))
            await client.ledger.record(prompt, done, cost)
            collected += 1
    if remote.error_file_id:
        for line in await _lines(client, remote.error_file_id):
            book.state["errors"][line["custom_id"]] = _line_error(line)
    return collected


async def _submit(client: LLMClient, missing: list[BatchLine], book: BatchBook, table: str) -> int:
    room = list(missing)
    if client.caps.max_requests is not None:  # a batch line is a request: the cap holds here too
        room = room[:max(0, client.caps.max_requests - client.ledger.spent.requests)]
    if not room or client.caps.reached(client.ledger.spent):
        return 0
    nonce = uuid.uuid4().hex
    book.state["batches"].append({"id": None, "nonce": nonce, "model": client.config.model,
                                  "keys": [line.key for line in room], "status": "submitting"})
    for line in room:
        book.state["attempts"][line.key] = book.state["attempts"].get(line.key, 0) + 1
        await client.ledger.reserve()
    book.save()  # written down before anything is paid for
    payload = "".join(json.dumps({"custom_id": line.key, "method": "POST", "url": "/v1/chat/completions",
                                  "body": line.body}) + "\n" for line in room).encode()
    upload = await client.openai.files.create(file=(f"curate-{table}.jsonl", payload), purpose="batch")
    created = await client.openai.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
        metadata={"curate_table": table, "curate_nonce": nonce})
    book.state["batches"][-1].update(id=created.id, status=created.status)
    book.save()
    return len(room)


async def _find(client: LLMClient, nonce: str) -> str | None:
    async for remote in client.openai.batches.list(limit=100):
        if (remote.metadata or {}).get("curate_nonce") == nonce:
            return remote.id
    return None


async def _lines(client: LLMClient, file_id: str) -> list[dict[str, Any]]:
    content = await client.openai.files.content(file_id)
    return [json.loads(line) for line in content.text.splitlines() if line.strip()]


def _line_error(line: dict[str, Any]) -> str:
    if line.get("error"):
        return f"{line['error'].get('code', 'error')}: {line['error'].get('message', '')}"[:300]
    response = line.get("response") or {}
    message = ((response.get("body") or {}).get("error") or {}).get("message", "")
    return f"http_{response.get('status_code')}: {message}"[:300]
