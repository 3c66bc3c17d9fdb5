"""The reward model's prompt: a trajectory rendered as an interaction log inside a judge template.

Two built-in templates (`--template`):
- `yes-no` (the default; curate's own): SWE-Gym's judge questions, the log as `[ROLE]…[/ROLE]` blocks with
  the final patch last, and a bare `YES` / `NO` answer: the single answer token SWE-RM scores
  (`r = exp(l_YES) / (exp(l_YES) + exp(l_NO))`).
- `swe-gym`: SWE-Gym's OpenHands verifier exactly (its system and user text; the log laid out as its
  `format_traj` does: the system prompt under a header, then `*** Turn N - ROLE ***` sections between
  100-dash rules, consecutive user messages merged, tool results as `TOOL EXECUTION RESULT`; no separate
  patch; the answer `<judgement>YES</judgement>` or `<judgement>NO</judgement>`).

Another template is a YAML or JSON file with `system` and `user` strings (`user` holds `{log}`), and
optionally `layout` (`blocks` or `turns`) and the answers `yes` / `no`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from curate.errors import CurateError

YES, NO = "YES", "NO"
RULE = "-" * 100
SYSTEM_HEADER = "*** System Message that describes the assistant's behavior ***"
JUDGE_CRITERIA = (
    "You are an expert judge evaluating AI assistant interactions. Your task is to determine if the "
    "assistant successfully resolved the user's request.\n\n"
    "Key evaluation criteria:\n"
    "1. Did the assistant complete the main task requested by the user?\n"
    "2. Did the assistant handle all edge cases and requirements specified?\n"
    "3. Were there any errors or issues in the final solution?\n"
    "4. Did the assistant verify the solution works as intended?\n\n"
)
QUESTION = ("Based on the above interaction, did the assistant successfully resolve the user's initial request? "
            "Respond with YES or NO.")
EVALUATE = "Please evaluate the following interaction between an AI assistant and a user:\n\n"


@dataclass(frozen=True)
class Template:
    name: str
    system: str
    user: str  # holds `{log}`
    layout: Literal["blocks", "turns"] = "blocks"
    answers: tuple[str, str] = (YES, NO)  # the assistant turn for resolved, not resolved

    def answer(self, resolved: bool) -> str:
        return self.answers[0] if resolved else self.answers[1]

    def pieces(self, messages: list[dict[str, Any]], patch: str | None) -> tuple[list[str], str]:
        """The log as one piece per message, and its tail (the final patch, or the closing rule): what
        middle-out cutting works on (pieces can go, the tail stays)."""
        if self.layout == "turns":
            return _turns(messages), RULE + "\n"
        return [render_block(m["role"], m["content"]) for m in messages], render_block("final patch", patch) if patch else ""

    def render_log(self, messages: list[dict[str, Any]], patch: str | None) -> str:
        pieces, tail = self.pieces(messages, patch)
        if self.layout == "turns":
            return "".join(pieces) + tail
        return "\n\n".join(pieces + ([tail] if tail else []))

    def chat(self, messages: list[dict[str, Any]], patch: str | None, resolved: bool | None = None) -> list[dict[str, str]]:
        """The judge chat: system, user (the log inside the template), and the answer when a label is given."""
        user = self.user.replace("{log}", self.render_log(messages, patch))  # not str.format: logs hold braces
        chat = ([{"role": "system", "content": self.system}] if self.system else []) + [{"role": "user", "content": user}]
        return chat + ([{"role": "assistant", "content": self.answer(resolved)}] if resolved is not None else [])


YES_NO = Template(
    name="yes-no",
    system=JUDGE_CRITERIA + "Respond only with YES or NO.",
    user=f"{EVALUATE}=== INTERACTION LOG ===\n\n{{log}}\n\n=== END INTERACTION ===\n\n{QUESTION}",
)
SWE_GYM = Template(
    name="swe-gym",
    system=JUDGE_CRITERIA + 'Respond only with "<judgement>YES</judgement>" or "<judgement>NO</judgement>".',
    user=f"{EVALUATE}=== INTERACTION LOG ===\n{{log}}\n=== END INTERACTION ===\n\n{QUESTION}",
    layout="turns",
    answers=("<judgement>YES</judgement>", "<judgement>NO</judgement>"),
)
TEMPLATES = {t.name: t for t in (YES_NO, SWE_GYM)}
DEFAULT_TEMPLATE = YES_NO.name


def render_block(role: str, content: str) -> str:
    tag = role.upper()
    return f"[{tag}]\n{content}\n[/{tag}]"


def _turns(messages: list[dict[str, Any]]) -> list[str]:
    """SWE-Gym's `format_traj`, one piece per message: a merged user message continues the turn before it."""
    pieces, rest = [], messages
    if messages and messages[0]["role"] == "system":
        pieces.append(f"{SYSTEM_HEADER}\n{messages[0]['content']}\n")
        rest = messages[1:]
    section, previous = -1, None
    for item in rest:
        role = item["role"]
        if role == "user" and previous == "user":
            pieces.append(f"{item['content']}\n")
        else:
            section += 1
            title = "TOOL EXECUTION RESULT" if role == "tool" else role.upper()
            pieces.append(f"{RULE}\n*** Turn {section // 2 + 1} - {title} ***\n{item['content']}\n")
        previous = role
    return pieces


LOG = re.compile(r"=== INTERACTION LOG ===\n(.*)\n=== END INTERACTION ===", re.S)
TURN = re.compile(rf"^{RULE}\n\*\*\* Turn \d+ - ([A-Z][A-Z ]*) \*\*\*\n", re.M)
BLOCK = re.compile(r"^\[([A-Z][A-Z ]*)\]\n(.*?)\n\[/\1\]$", re.S | re.M)


def parse_log(text: str) -> tuple[list[dict[str, str]], str | None] | None:
    """A judge prompt's interaction log back into messages and the final patch (None when `text` holds no
    log): the inverse of both layouts, so verifier rows published ready-made can be read as trajectories."""
    found = LOG.search(text)
    if found is None:
        return None
    log = found[1].strip("\n")
    if TURN.search(log) or log.startswith(SYSTEM_HEADER):
        return _parse_turns(log.removesuffix(RULE)), None
    messages, patch = [], None
    for tag, content in BLOCK.findall(log):
        if tag in ("FINAL PATCH", "PATCH"):
            patch = content
        elif tag != "STEP":  # R2E-Gym numbers its steps in blocks of their own
            messages.append({"role": tag.lower(), "content": content})
    return messages, patch


def _parse_turns(log: str) -> list[dict[str, str]]:
    parts = TURN.split(log)  # [before the first turn, role, content, role, content, ...]
    head = parts[0].removeprefix(SYSTEM_HEADER + "\n")
    messages = [{"role": "system", "content": head.removesuffix("\n")}] if parts[0].startswith(SYSTEM_HEADER) else []
    for title, content in zip(parts[1::2], parts[2::2], strict=True):
        role = "tool" if title == "TOOL EXECUTION RESULT" else title.lower()
        messages.append({"role": role, "content": content.removesuffix("\n")})
    return messages


def load_template(spec: str | Path) -> Template:
    """A built-in template by name, or a YAML / JSON file with `system` and `user` (holding `{log}`)."""
    if str(spec) in TEMPLATES:
        return TEMPLATES[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise CurateError(f"unknown template {str(spec)!r}",
                          f"built-in: {', '.join(TEMPLATES)}; or a YAML/JSON file with system and user keys")
    try:
        data = yaml.safe_load(path.read_text()) if path.suffix in (".yaml", ".yml") else json.loads(path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise CurateError(f"template {path} cannot be parsed: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("user"), str) or "{log}" not in data["user"]:
        raise CurateError(f"template {path} needs a `user` string holding {{log}}",
                          "e.g. user: \"Did this resolve the issue?\\n{log}\\nAnswer YES or NO.\"")
    layout = data.get("layout", "blocks")
    if layout not in ("blocks", "turns"):
        raise CurateError(f"template {path}: layout {layout!r} is neither blocks nor turns")
    return Template(name=path.stem, system=str(data.get("system") or ""), user=data["user"], layout=layout,
                    answers=(str(data.get("yes", YES)), str(data.get("no", NO))))
