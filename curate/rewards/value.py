"""The RLEV reward: `r = s(x) * 1[correct]`, a correct answer earning its question's scale in [1, 2].

Usable as a TRL reward function on a dataset with `answer` and `scale` columns (as `curate value` writes
them): `GRPOTrainer(..., reward_funcs=[value_reward])`. TRL passes the dataset's columns as keyword
lists; `question_type`, when present, tells the checker how to compare (choices as letter sets), and
`question` (else the prompt) is what a judge reads.

`value_reward` decides by the rules alone. `make_value_reward(judge=LLMConfig(...), cache_dir=...)` adds the
same LLM judge as `curate eval value --judge-model`, asked only about answers the rules cannot decide,
cached and capped by `max_requests`. An answer that neither can decide earns None (TRL: no reward from
this function for that completion), never a silent 0 or full marks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from curate.judges.completions import completion_text
from curate.llm import LLMConfig
from curate.rlev.judging import Answer, decide
from curate.rlev.llm import client as llm_client
from curate.rlev.quantities import REL_TOL


def make_value_reward(judge: LLMConfig | None = None, cache_dir: Path | None = None,
                      rel_tol: float = REL_TOL) -> Callable[..., list[float | None]]:
    """A TRL reward function `f(completions, answer, scale, question_type=None, **columns)`."""
    client = llm_client(judge, cache_dir) if judge is not None else None

    def value_reward(completions: Sequence[Any], answer: Sequence[str], scale: Sequence[float | None],
                     question_type: Sequence[str | None] | None = None, question: Sequence[str] | None = None,
                     prompts: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        n = len(completions)
        types = question_type if question_type is not None else [None] * n
        texts = question if question is not None else [completion_text(p) for p in prompts] if prompts else [""] * n
        answers = [Answer(completion_text(c), str(a), t, str(q or ""))
                   for c, a, t, q in zip(completions, answer, types, texts, strict=True)]
        verdicts = decide(answers, client, rel_tol=rel_tol).verdicts
        return [None if v.correct is None else ((1.0 if s is None else float(s)) if v.correct else 0.0)
                for v, s in zip(verdicts, scale, strict=True)]

    return value_reward


# The rules alone, for `curate train grpo --reward value`.
value_reward = make_value_reward()
