"""The agentic aesthetic reward of AesCoder: r = w_exec·r_exec + w_static·r_static + w_inter·r_inter.

- `r_exec` is +1 when the code ran and (for HTML) passes the HTMLHint-style lint, else −1; a −1 gates
  the other agents off: the reward is then just `w_exec · −1`.
- `r_static` is the static judge's total divided by `static_norm` (100: the rubric's scale).
- `r_inter` is the sum of the interactive judge's 0/1 scores divided by `inter_norm` (default: the
  number of interactions planned); NaN scores (nothing happened) count 0. A missing term counts 0.

`terms` is the pure combination used by the `judge` and `reward` stages; `make_aesthetic_reward` builds a
TRL reward function (`f(completions, **kwargs) -> list[float]`) that renders each completion in Chromium,
lints, judges and explores it with the same judge choice (`JudgeChoice`) as `curate judge`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from curate.judges.choice import JudgeChoice
from curate.judges.completions import completion_text
from curate.judges.htmllint import lint_html


class RewardWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    w_exec: float = Field(0.1, description="Weight of the execution term (+1 / −1).")
    w_static: float = Field(0.8, description="Weight of the static aesthetics term.")
    w_inter: float = Field(0.1, description="Weight of the interactive term.")
    static_norm: float = Field(100.0, gt=0, description="r_static = score_total / static_norm.")
    inter_norm: float | None = Field(None, gt=0, description="r_inter = Σ scores / inter_norm "
                                                              "(default: number of interactions).")


def exec_term(language: str, exec_ok: bool | None, code: str | None) -> tuple[float, str | None]:
    """(+1 or −1, the reason for a −1) for extracted `code`. HTML must also pass the lint."""
    if not exec_ok:
        return -1.0, "execution failed"
    if language == "html":
        report = lint_html(code or "")
        if not report.passed:
            return -1.0, f"lint: {report.summary()}"
    return 1.0, None


def terms(r_exec: float, score_total: float | None, inter_scores: Sequence[float] | None,
          weights: RewardWeights, interactions: int) -> dict[str, float | None]:
    """Every term of the reward, normalised, and the weighted sum (None when the static judge failed)."""
    if r_exec < 0:
        return {"r_exec": r_exec, "r_static": None, "r_inter": None, "reward": weights.w_exec * r_exec}
    r_static = None if score_total is None else score_total / weights.static_norm
    r_inter = None
    if inter_scores is not None:
        norm = weights.inter_norm or max(1, interactions)
        r_inter = sum(s for s in inter_scores if s is not None and not math.isnan(s)) / norm
    reward = None if r_static is None else (
        weights.w_exec * r_exec + weights.w_static * r_static + weights.w_inter * (r_inter or 0.0))
    return {"r_exec": r_exec, "r_static": r_static, "r_inter": r_inter, "reward": reward}


def default_choice() -> JudgeChoice:
    """The judge of `curate train grpo --reward aesthetic`: the YAML file named by $CURATE_AESTHETIC_JUDGE
    (the judge stage's keys), else the built-in judge and explorer with the paper's 3 interactions."""
    path = os.environ.get("CURATE_AESTHETIC_JUDGE")
    return JudgeChoice.from_file(Path(path)) if path else JudgeChoice(interactive="builtin", interactions=3)


def make_aesthetic_reward(choice: JudgeChoice | None = None, weights: RewardWeights | None = None,
                          timeout_s: float = 15.0, cache_dir: Path | None = None) -> Callable[..., list[float]]:
    """A TRL reward function for HTML completions, judged by `choice`: the same choice `curate judge`
    takes (built-in, or an LLM/VLM judge; explorer off, built-in or the LLM agent). Default:
    `default_choice()`, read at the first call. An LLM judge answers all completions of a call
    concurrently; `cache_dir` keeps its answers.

    >>> reward = make_aesthetic_reward(JudgeChoice(judge="llm", llm=LLMConfig(model=...), interactive="llm",
    ...                                            interactions=3))
    >>> GRPOTrainer(..., reward_funcs=[reward])     # prompts arrive as kwargs["prompts"]
    """
    weights = weights or RewardWeights()
    state: dict[str, Any] = {}

    def judge(samples: list[Any], how: JudgeChoice) -> list[Any]:
        from curate.judges.builtin import judge_builtin

        if how.judge == "builtin":
            return [judge_builtin(s) for s in samples]
        from curate.judges.llm import judge_all
        from curate.llm import LLMClient, ResponseCache

        if "client" not in state:
            state["client"] = LLMClient(how.llm, ResponseCache(cache_dir) if cache_dir else None)
        return [verdict for verdict, _ in judge_all(samples, state["client"].run, how)]

    def aesthetic_reward(completions: Sequence[Any], prompts: Sequence[Any] | None = None, **_: Any) -> list[float]:
        from curate.judges.base import Sample
        from curate.render.pages import PageRenderer
        from curate.stages.exec import extract

        how = state.setdefault("choice", choice or default_choice())
        if "renderer" not in state:
            state["renderer"] = PageRenderer(timeout_s=timeout_s)
        gated = weights.w_exec * -1.0  # failed execution or lint: the other agents are off
        out: list[float] = [gated] * len(completions)
        samples: list[tuple[int, Any]] = []
        for i, completion in enumerate(completions):
            prompt = completion_text(prompts[i]) if prompts is not None and i < len(prompts) else ""
            html = extract(completion_text(completion), "html")
            if exec_term("html", html is not None, html)[0] < 0:
                continue
            page = state["renderer"].render(html)
            if page.ok:
                samples.append((i, Sample.from_page(prompt, html, page)))
        verdicts = judge([s for _, s in samples], how) if samples else []
        for (i, sample), verdict in zip(samples, verdicts, strict=True):
            scores = None
            if how.interactive != "off":
                if "explorer" not in state:
                    from curate.judges.interactive import explorer

                    state["explorer"] = explorer(how, timeout_s=timeout_s)
                scores = state["explorer"].explore(sample.code, how.interactions, instruction=sample.instruction,
                                                   game=sample.is_game)
            value = terms(1.0, verdict.total, scores, weights, how.interactions)["reward"]
            out[i] = float(value) if value is not None else 0.0
        return out

    def close() -> None:
        """Shut the browsers down (they stay open between calls, for speed)."""
        for key in ("renderer", "explorer"):
            if key in state:
                state.pop(key).close()

    aesthetic_reward.close = close  # type: ignore[attr-defined]
    return aesthetic_reward


# The paper's defaults (0.1 / 0.8 / 0.1, 3 interactions during training), for `curate train grpo --reward
# aesthetic`; the judge comes from $CURATE_AESTHETIC_JUDGE, and browsers start on the first call.
aesthetic_reward = make_aesthetic_reward()
