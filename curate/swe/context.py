"""Fitting a trajectory into a context budget, middle-out.

What is counted (`count`):
- `log` (the default): the tokens of the interaction log as the template lays it out (one piece per
  message, then the final patch), summed piece by piece;
- `chat`: the whole judge chat the reward model reads and is trained on: the template's system and user
  text around the log, and the answer, through the tokenizer's chat template when it has one (else the
  messages' texts). This is SWE-Gym's rule: it drops verifier rows over 32,768 tokens of chat.

To fit a budget the messages in the middle go first, from the centre outwards, replaced by one note saying
how many were cut: the opening messages up to the issue (the first user message) and the last message stay,
and the final patch is never cut. Only when that is still too long are the kept messages shortened in their
middle, longest first. A trajectory whose patch (or template) alone exceeds the budget cannot fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from curate.swe.prompt import Template, render_block
from curate.tokens import TokenCounter

NOTE_ROLE = "user"  # a role every chat template accepts mid-conversation
Count = Literal["log", "chat"]


@dataclass
class Fitted:
    messages: list[dict[str, Any]]
    n_tokens_full: int
    n_tokens: int
    fits_context: bool  # the whole trajectory fits without cutting
    truncated: bool
    fitted: bool  # it fits now (whole or cut)


def count_log(counter: TokenCounter, template: Template, messages: list[dict[str, Any]], patch: str | None) -> list[int]:
    """Tokens per message of the log, then of its tail (the patch or closing rule; 0 when there is none)."""
    pieces, tail = template.pieces(messages, patch)
    return counter.count([*pieces, tail]) if tail else [*counter.count(pieces), 0]


def count(counter: TokenCounter, template: Template, messages: list[dict[str, Any]], patch: str | None,
          mode: Count) -> int:
    if mode == "chat":  # the answer is counted as the longer one, so both labels fit the same budget
        return counter.count_chat(template.chat(messages, patch, resolved=len(template.answers[0]) >= len(template.answers[1])))
    return sum(count_log(counter, template, messages, patch))


def fit(counter: TokenCounter, template: Template, messages: list[dict[str, Any]], patch: str | None,
        budget: int | None, truncate: bool, mode: Count = "log") -> Fitted:
    full = count(counter, template, messages, patch, mode)
    if budget is None or full <= budget:
        return Fitted(messages, full, full, True, False, True)
    if not truncate:
        return Fitted(messages, full, full, False, False, False)
    counts = count_log(counter, template, messages, patch)
    overhead = full - sum(counts)  # the template and answer around the log (0 when counting the log)
    log_budget = budget - overhead
    for _ in range(3):  # pieces counted apart can differ from the whole by a few tokens: cut again by the excess
        kept = _drop_middle(counter, template, messages, counts[:-1], log_budget - counts[-1])
        kept = _shorten(counter, template, kept, log_budget - counts[-1])
        total = count(counter, template, kept, patch, mode)
        if total <= budget:
            break
        log_budget -= total - budget
    return Fitted(kept, full, total, False, True, total <= budget)


def _protected(messages: list[dict[str, Any]]) -> set[int]:
    first_user = next((i for i, m in enumerate(messages) if m["role"] == "user"), 0)
    return set(range(first_user + 1)) | {len(messages) - 1}


def _note(n_messages: int, n_tokens: int) -> dict[str, str]:
    return {"role": NOTE_ROLE,
            "content": f"[… {n_messages} messages ({n_tokens:,} tokens) cut to fit the context budget …]"}


def _drop_middle(counter: TokenCounter, template: Template, messages: list[dict[str, Any]], counts: list[int],
                 budget: int) -> list[dict[str, Any]]:
    keep = _protected(messages)
    middle = [i for i in range(len(messages)) if i not in keep]
    if not middle:
        return list(messages)
    centre = (middle[0] + middle[-1]) / 2
    order = sorted(middle, key=lambda i: (abs(i - centre), i))  # centre first: the cut stays one run
    note_tokens = counter.count([render_block(NOTE_ROLE, _note(len(middle), sum(counts))["content"])])[0]
    total, removed = sum(counts), set()
    for i in order:
        if total + note_tokens <= budget:
            break
        removed.add(i)
        total -= counts[i]
    if not removed:
        return list(messages)
    first = min(removed)
    kept = [m for i, m in enumerate(messages) if i not in removed]
    kept.insert(first, _note(len(removed), sum(counts[i] for i in removed)))
    return kept


def _shorten(counter: TokenCounter, template: Template, messages: list[dict[str, Any]],
             budget: int) -> list[dict[str, Any]]:
    """Cut the middle of the longest kept messages until the log fits (or nothing is left to cut)."""
    messages = [dict(m) for m in messages]
    counts = count_log(counter, template, messages, None)[:-1]
    total = sum(counts)
    for index in sorted(range(len(messages)), key=lambda i: -counts[i]):
        excess = total - budget
        if excess <= 0:
            break
        keep = max(counts[index] - excess - 16, 0)  # 16: room for the cut marker
        messages[index]["content"] = counter.cut(messages[index]["content"], keep)
        new = counter.count(template.pieces([messages[index]], None)[0])[0]
        total += new - counts[index]
        counts[index] = new
    return messages
