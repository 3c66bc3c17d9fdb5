"""Where and how to reach an OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama, ...).

The key itself is never a field: only the NAME of the environment variable that holds it, so parameters
can be dumped into manifests, lineage and cache keys without leaking it.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from curate.errors import CurateError
from curate.llm.budget import Caps


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Model name as the endpoint knows it.")
    base_url: str | None = Field(None, description="Endpoint, e.g. http://localhost:8000/v1 (vLLM); "
                                                   "None means OpenAI's own API.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the key.")
    concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight at once.")
    timeout_s: float = Field(120.0, gt=0, description="Seconds before one request counts as timed out.")
    max_retries: int = Field(6, ge=0, description="Retries of one request on 429, 5xx, timeouts, bad bodies.")
    backoff_s: float = Field(1.0, gt=0, description="First backoff; doubles each retry, with full jitter.")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest wait between two tries.")
    parse_retries: int = Field(2, ge=0, description="New requests when an answer cannot be parsed.")
    max_requests: int | None = Field(None, ge=0, description="Spending cap: HTTP requests in all (retries "
                                                              "count; across resumed runs of the same table).")
    max_tokens_total: int | None = Field(None, ge=0, description="Spending cap: prompt + completion tokens in all.")
    max_cost_usd: float | None = Field(None, ge=0, description="Spending cap: dollars in all (at the prices given).")
    rpm: float | None = Field(None, gt=0, description="Requests per minute at most.")
    tpm: float | None = Field(None, gt=0, description="Tokens per minute at most (estimated before sending).")
    temperature: float = 0.0
    max_tokens: int | None = Field(2048, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, description="Sampling seed, for endpoints that honour one.")
    stop: list[str] | None = Field(None, description="Stop sequences.")
    price_input: float = Field(0.0, ge=0, description="USD per million prompt tokens, for the cost figure.")
    price_output: float = Field(0.0, ge=0, description="USD per million completion tokens.")

    def sampling(self) -> dict[str, object]:
        """The parameters that change an answer, and so belong in the cache key (unset ones left out)."""
        optional = {"top_p": self.top_p, "seed": self.seed, "stop": self.stop}
        return {"temperature": self.temperature, "max_tokens": self.max_tokens,
                **{k: v for k, v in optional.items() if v is not None}}

    def caps(self) -> Caps:
        return Caps(self.max_requests, self.max_tokens_total, self.max_cost_usd)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_input + completion_tokens * self.price_output) / 1e6

    def api_key(self) -> str:
        """The key from the environment; local servers (vLLM, Ollama) accept any placeholder."""
        key = os.environ.get(self.api_key_env)
        if key:
            return key
        if self.base_url is None:
            raise CurateError(f"no API key: ${self.api_key_env} is not set",
                              f"export {self.api_key_env}=..., or pass --api-key-env NAME, or point "
                              "--base-url at a local server that needs no key")
        return "not-needed"
