"""`tokens`: count each trajectory's tokens and fit it into a context budget (drop or cut middle-out).

`count: log` (default) counts the interaction log; `count: chat` the whole judge chat the template makes
(system, user with the log, answer; through the tokenizer's chat template when it has one): SWE-Gym drops
verifier rows over 32,768 tokens counted so (`count: chat, template: swe-gym, budget: 32K, over: drop`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from curate.stage import Filtered, Outcome, Params, Stage
from curate.swe.context import Count, fit
from curate.swe.prompt import DEFAULT_TEMPLATE, load_template
from curate.tokens import counter_key, load_counter, parse_budget


class TokensParams(Params):
    tokenizer: str | None = Field(None, description="tokenizer.json, a tokenizer folder or name; "
                                                    "none: the bytes/4 estimate.")
    budget: int | None = Field(None, description="Context budget in tokens (32K, 128K, 256K or a number); "
                                                 "none: count only.")
    over: Literal["truncate", "drop"] = Field("truncate", description="What to do with trajectories over "
                                                                      "the budget: cut middle-out, or drop.")
    reserve: int | None = Field(None, ge=0, description="Tokens of the budget kept free: default 256 (room for "
                                                       "the template and answer) with count log, 0 with count chat.")
    count: Count = Field("log", description="What is counted: log (the interaction log) or chat (the whole judge "
                                            "chat, template and answer included).")
    template: str = Field(DEFAULT_TEMPLATE, description="The judge template laying out the log (and the chat): "
                                                        "yes-no, swe-gym, or a YAML/JSON file.")

    @property
    def kept_free(self) -> int:
        return self.reserve if self.reserve is not None else (256 if self.count == "log" else 0)

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> int | None:
        return parse_budget(value)


class Tokens(Stage):
    name = "tokens"
    Params = TokensParams
    reads = ("messages", "patch")
    writes = ("n_tokens", "n_tokens_full", "fits_context", "truncated", "token_counter")
    batch_size = 256

    def inputs_key(self) -> list[str | None]:  # a changed tokenizer or template file re-runs the stage
        path = Path(self.params.template)
        return [counter_key(self.params.tokenizer), path.read_text() if path.is_file() else None]

    def check(self, empty: pl.DataFrame) -> None:
        load_template(self.params.template)

    def setup(self) -> None:
        load_counter(self.params.tokenizer)

    def process_batch(self, batch: pl.DataFrame) -> Outcome:
        params: TokensParams = self.params
        counter, template = load_counter(params.tokenizer), load_template(params.template)
        budget = None if params.budget is None else max(params.budget - params.kept_free, 1)
        rows, filtered = [], []
        for row in batch.to_dicts():
            result = fit(counter, template, row["messages"], row.get("patch"), budget, params.over == "truncate",
                         params.count)
            if not result.fitted:
                filtered.append(Filtered(row["id"], "over_budget", {"n_tokens": result.n_tokens,
                                                                     "budget": budget, "over": params.over}))
                continue
            rows.append({**row, "messages": result.messages, "n_tokens": result.n_tokens,
                         "n_tokens_full": result.n_tokens_full, "fits_context": result.fits_context,
                         "truncated": result.truncated, "token_counter": counter.name})
        schema = {**batch.schema, "n_tokens": pl.Int64, "n_tokens_full": pl.Int64, "fits_context": pl.Boolean,
                  "truncated": pl.Boolean, "token_counter": pl.String}
        return Outcome(kept=pl.DataFrame(rows, schema=schema), n_in=batch.height, filtered=filtered)
