"""OpenAI-compatible LLM/VLM access for judges and labellers.

Quick use (sync code, e.g. inside a stage's `process_batch`)::

    from curate.llm import LLMConfig, LLMClient, Request, ResponseCache, parse_json_object

    config = LLMConfig(model="Qwen/Qwen2.5-VL-7B-Instruct", base_url="http://localhost:8000/v1",
                       api_key_env="OPENAI_API_KEY", concurrency=16, max_requests=5000)
    client = LLMClient(config, cache=ResponseCache(ws.root / "cache" / "llm"))
    # in a stage: the workspace's cache, and caps that hold across the resumed runs writing `table`
    client = stage_client(config, ws.root, table)
    results = client.run([Request(judge="value", messages=[{"role": "user", "content": "..."}],
                                  parse=lambda t: parse_json_object(t, ["score"]))])
    for r in results:          # one Result per request, in order; never raises for a failed request
        r.value, r.error, r.cached, r.requests, r.prompt_tokens, r.completion_tokens, r.cost_usd
    client.usage.as_dict()     # totals for the run: requests, retries, cache_hits, failed, tokens, cost

Async: `async with client: await client.complete(request)`; embeddings: `await client.embed(texts)`.

- `LLMConfig` holds the NAME of the key's environment variable, never the key: dump it anywhere.
- Retries (429 / 5xx / timeouts / connection errors / unreadable bodies) use exponential backoff with
  full jitter and honour `Retry-After`; `max_retries` per request. Concurrency shrinks in a 429 storm and
  grows back when calm; `rpm` / `tpm` cap requests and tokens per minute (`curate.llm.rate`).
- A parser raising `ParseError` triggers a new request telling the model what was wrong
  (`parse_retries`); the last reason stays in `Result.error`.
- A refused key (401/403) or an unknown model/path (404) raises `CurateError` at once (key masked): every
  other request would fail the same way.
- `max_requests`, `max_tokens_total`, `max_cost_usd` cap spending; once spent, requests end with error
  "max_requests reached" (etc.) and `Result.stopped`. What counts is the `SpendLedger`: in memory by
  default, or the table's ledger in the workspace (`curate.llm.budget`), where each request is recorded
  before it is sent, so a cap holds across kills and resumes.
- `image_part(path)` keeps a file reference until the request holds a concurrency slot, then inlines it
  as a `data:` URL: a batch of thousands of image requests holds paths, not megabytes of base64.
- The cache keys answers by (judge, model, prompt hash, image hashes, sampling params, sample); only parsed
  answers are stored, each on disk (fsynced) before `complete` returns it (`curate.llm.durable`). Give
  `image_hashes` (artifact hashes) for requests that carry images. Two requests with the same key in
  flight at once share one HTTP request.
- `client.preflight()` fails before any row is spent when the endpoint is unreachable, refuses the key,
  or does not list the model.
"""

from curate.llm.budget import Caps, SpendLedger, Spent
from curate.llm.cache import CachedAnswer, ResponseCache
from curate.llm.client import LLMClient, Request, Result, Usage, prompt_hash
from curate.llm.config import LLMConfig
from curate.llm.images import data_url, image_part, text_part
from curate.llm.parse import ParseError, number_in, parse_final_score, parse_json_object
from curate.llm.stage import stage_client

__all__ = ["CachedAnswer", "Caps", "LLMClient", "LLMConfig", "ParseError", "Request", "ResponseCache", "Result",
           "SpendLedger", "Spent", "Usage", "data_url", "image_part", "number_in", "parse_final_score",
           "parse_json_object", "prompt_hash", "stage_client", "text_part"]
