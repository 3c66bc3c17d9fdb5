"""Chat messages from a row: Jinja2 templates over its columns, rendered in a sandbox.

Templates come from users and recipes, and rows from anywhere: the sandboxed environment keeps a
template from reaching Python internals, and undefined names are errors, not empty strings. A template
that names a column the table does not have fails before any request, naming the closest column.
The system prompt is fixed (`system`) or chosen per row by a column's value from a YAML mapping
(`system_by`), as OpenDesign picks one per category; a `default` key serves the other values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from curate.errors import CurateError, unknown

DEFAULT_KEY = "default"


class PromptError(ValueError):
    """A row the templates cannot render (its reason goes to the rejects)."""


def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def load_system_by(path: Path) -> dict[str, str]:
    """A YAML mapping from a column's value to the system prompt of the rows that have it."""
    if not path.is_file():
        raise CurateError(f"no system prompt file {path}", "--system-by COLUMN=FILE.yaml, the file a mapping "
                                                           "from each value of COLUMN to its system prompt")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CurateError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CurateError(f"{path}: expected a mapping from value to system prompt (text)",
                          "e.g.\n  plot: You write Python plotting code...\n  page: You write one HTML page...")
    return {str(k): v for k, v in data.items()}


class Prompts:
    """Renders the messages of a row: an optional system prompt, then the user prompt."""

    def __init__(self, prompt: str, system: str | None = None, system_by: str | None = None,
                 system_prompts: dict[str, str] | None = None):
        env = _env()
        self.sources = {"prompt": prompt, "system": system,
                        **{f"system[{k}]": v for k, v in (system_prompts or {}).items()}}
        try:
            self._templates = {name: env.from_string(text) for name, text in self.sources.items() if text is not None}
        except TemplateSyntaxError as err:
            raise CurateError(f"template error on line {err.lineno}: {err.message}",
                              "prompts are Jinja2: {{ column }}, {% if column %}...{% endif %}") from None
        self._names = {name: meta.find_undeclared_variables(env.parse(text))
                       for name, text in self.sources.items() if text is not None}
        self.system_by = system_by
        self.system_prompts = system_prompts or {}

    def check(self, columns: list[str]) -> None:
        """Every column a template names exists (else an error naming the closest one)."""
        if self.system_by is not None and self.system_by not in columns:
            raise unknown("column for --system-by", self.system_by, columns)
        for where, names in self._names.items():
            for name in sorted(names):
                if name not in columns:
                    raise unknown(f"column in the {where} template", name, columns)

    def messages(self, row: dict[str, Any]) -> list[dict[str, str]]:
        messages = []
        system = self._system_template(row)
        if system is not None:
            messages.append({"role": "system", "content": self._render(system, row)})
        messages.append({"role": "user", "content": self._render("prompt", row)})
        return messages

    def _system_template(self, row: dict[str, Any]) -> str | None:
        if self.system_by is None:
            return "system" if "system" in self._templates else None
        value = row.get(self.system_by)
        for key in (str(value), DEFAULT_KEY):
            if f"system[{key}]" in self._templates:
                return f"system[{key}]"
        raise PromptError(f"no system prompt for {self.system_by} = {value!r} (and no {DEFAULT_KEY!r} entry)")

    def _render(self, name: str, row: dict[str, Any]) -> str:
        try:
            return self._templates[name].render(row)
        except (UndefinedError, SecurityError, TypeError, ValueError) as err:
            raise PromptError(f"the {name} template fails on this row: {err}") from None
