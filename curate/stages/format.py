"""`format`: trajectories as reward-model training rows, ready for TRL.

- `classification` (generative classification, as SWE-RM): `messages` = the judge prompt (system, user
  holding the interaction log) and the answer as the assistant turn, for SFT with a next-token loss on the
  answer; also `target` (the answer) and `label` (resolved). The template (`curate.swe.prompt`) decides
  the layout and the answer: `yes-no` (default) a bare `YES` / `NO`, `swe-gym` SWE-Gym's verifier exactly
  (`<judgement>YES</judgement>` / `<judgement>NO</judgement>`).
- `preference` (TRL's unpaired preference format, for KTO): `prompt` = the trajectory up to the issue (its
  opening messages through the first user message), `completion` = the agent's turns after it, `label` =
  resolved (a resolved trajectory is the desirable completion).

The trajectory's own `messages` column is replaced (it stays in the input table); the rest is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from curate.errors import unknown
from curate.stage import Outcome, Params, Reject, Stage
from curate.swe.prompt import DEFAULT_TEMPLATE, load_template

MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})


class FormatParams(Params):
    style: Literal["classification", "preference"] = "classification"
    template: str = Field(DEFAULT_TEMPLATE, description="yes-no (bare YES/NO answer), swe-gym (SWE-Gym's verifier "
                                                        "exactly), or a YAML/JSON file with system and user ({log}).")
    label: str = Field("resolved", description="Boolean label column.")


class Format(Stage):
    name = "format"
    Params = FormatParams
    reads = ("messages", "patch")
    writes = ("messages", "target", "label", "prompt", "completion")
    batch_size = 500

    def check(self, empty: pl.DataFrame) -> None:
        load_template(self.params.template)
        if self.params.label not in empty.columns:
            raise unknown("label column", self.params.label, empty.columns)

    def inputs_key(self) -> str | None:
        path = Path(self.params.template)
        return path.read_text() if path.is_file() else None

    def process_batch(self, batch: pl.DataFrame) -> Outcome:
        rows, rejects = [], []
        style = self.params.style
        template = load_template(self.params.template) if style == "classification" else None
        for row in batch.to_dicts():
            resolved = row.get(self.params.label)
            if resolved is None:
                rejects.append(Reject("no_label", f"{self.params.label} is empty", row_id=row["id"]))
                continue
            if style == "classification":
                rows.append({**row, "messages": template.chat(row["messages"], row.get("patch"), bool(resolved)),
                             "target": template.answer(bool(resolved)), "label": bool(resolved)})
                continue
            split = _issue_end(row["messages"])
            completion = row["messages"][split:]
            if not completion:
                rejects.append(Reject("no_completion", "no agent turn after the issue", row_id=row["id"]))
                continue
            rest = {k: v for k, v in row.items() if k != "messages"}
            rows.append({**rest, "prompt": row["messages"][:split], "completion": completion,
                         "label": bool(resolved)})
        schema = dict(batch.schema)
        if style == "classification":
            schema.update(messages=pl.List(MESSAGE), target=pl.String, label=pl.Boolean)
        else:
            schema.pop("messages")
            schema.update(prompt=pl.List(MESSAGE), completion=pl.List(MESSAGE), label=pl.Boolean)
        return Outcome(kept=pl.DataFrame(rows, schema=schema), n_in=batch.height, rejected=rejects)


def _issue_end(messages: list[dict]) -> int:
    """Index just past the first user message (the issue): where the agent's work begins."""
    return next((i + 1 for i, m in enumerate(messages) if m["role"] == "user"), len(messages))
