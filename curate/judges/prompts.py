"""The prompts of the LLM/VLM judges and of the LLM explorer: one text file per judge, each replaceable
(`curate judge --prompt-file NAME=PATH`, or `prompt_NAME: PATH` in a recipe's judge stage).

The defaults in `prompt_files/` follow the published rubrics: OpenDesign's `judge_single` for pages
(`page`), PandasPlotBench's task and visual judges for plots (`plot-task`, `plot-visual`), and
OpenDesign's interactive agent (`explore-plan`, its planning turn; `explore-act`, WebVoyager-style
acting; `explore-game`, added for games). A file holds a `[system]` and a `[user]` section, or only the
user text. The names in braces listed in `FIELDS` are filled in and nothing else, so JSON braces in a
prompt need no escaping.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import CurateError

DEFAULTS = Path(__file__).with_name("prompt_files")
# name: the fields a prompt of that judge may use
FIELDS: dict[str, tuple[str, ...]] = {
    "page": ("instruction",),
    "plot-task": ("instruction",),
    "plot-visual": ("instruction",),
    "explore-plan": ("instruction", "elements"),
    "explore-act": ("instruction", "plan", "history", "step", "elements"),
    "explore-game": (),
}
NEEDS_INSTRUCTION = {"page", "plot-task", "plot-visual", "explore-plan"}  # a prompt that cannot see the task is wrong
SECTION_RE = re.compile(r"^\[(system|user)\]\s*$", re.M)


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str | None
    user: str
    source: str   # the file it came from, for error messages

    def render(self, text: str, **values: Any) -> str:
        for key in FIELDS[self.name]:
            text = text.replace("{" + key + "}", str(values.get(key, "")))
        return text

    def messages(self, images: list[dict[str, Any]] | None = None, system_extra: str = "",
                 **values: Any) -> list[dict[str, Any]]:
        """Chat messages: the system section, then the user text with `images` (content parts) after it."""
        out: list[dict[str, Any]] = []
        system = "\n\n".join(p for p in (self.system and self.render(self.system, **values), system_extra) if p)
        if system:
            out.append({"role": "system", "content": system})
        user = self.render(self.user, **values)
        out.append({"role": "user", "content": [{"type": "text", "text": user}, *images] if images else user})
        return out

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.system}\x00{self.user}".encode()).hexdigest()[:16]


@functools.cache
def load_prompt(name: str, path: Path | None = None) -> Prompt:
    """The prompt of judge `name`: the file at `path`, or the default."""
    if name not in FIELDS:
        raise CurateError(f"no judge prompt named {name!r}", f"prompts: {', '.join(FIELDS)}")
    source = Path(path) if path else DEFAULTS / f"{name}.txt"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as err:
        raise CurateError(f"cannot read the {name} prompt file {source}: {err.strerror or err}",
                          "give an existing text file: --prompt-file NAME=PATH") from None
    parts = SECTION_RE.split(text)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    user = sections.get("user", parts[0].strip() if not sections else "")
    if not user:
        raise CurateError(f"the {name} prompt file {source} has no user text",
                          "write the prompt, or a [system] section and a [user] section")
    if name in NEEDS_INSTRUCTION and "{instruction}" not in f"{sections.get('system', '')}{user}":
        raise CurateError(f"the {name} prompt file {source} never uses {{instruction}}",
                          "put {instruction} where the sample's instruction goes")
    return Prompt(name, sections.get("system") or None, user, str(source))


def prompt_files(option: list[str] | None) -> dict[str, Path]:
    """`--prompt-file NAME=PATH` options as {name: path}, checked."""
    out: dict[str, Path] = {}
    for item in option or []:
        name, sep, path = item.partition("=")
        if not sep or name not in FIELDS:
            raise CurateError(f"--prompt-file {item!r}: expected NAME=PATH", f"names: {', '.join(FIELDS)}")
        load_prompt(name, Path(path))  # fail now, not after the first batch
        out[name] = Path(path)
    return out
