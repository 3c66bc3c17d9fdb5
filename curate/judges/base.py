"""What a judge reads (`Sample`) and what it returns (`Verdict`, built from `Finding`s).

The three dimensions and their ranges follow OpenDesign's static rubric: alignment with the instruction
0–40, aesthetics and readability 0–30, structural integrity 0–30; total 0–100.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MAX = {"alignment": 40.0, "aesthetics": 30.0, "structure": 30.0}


@dataclass
class Sample:
    """One row to judge, with its artifacts resolved to files of the workspace."""

    id: str
    instruction: str
    code: str
    language: str                       # "python" (plots) or "html" (pages)
    category: str | None = None
    exec_ok: bool | None = None
    exec_error: str | None = None
    stderr: str = ""
    images: list[Path | bytes] = field(default_factory=list)   # files of the workspace, or PNG bytes
    plot_facts: list[dict[str, Any] | None] = field(default_factory=list)  # what each image shows
    screenshot: Path | bytes | None = None
    screenshot_full: Path | bytes | None = None
    page_facts: dict[str, Any] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    reference_image: Path | None = None
    image_hashes: tuple[str, ...] = ()

    @property
    def is_page(self) -> bool:
        return self.language == "html"

    @property
    def is_game(self) -> bool:
        """A game page (OpenDesign's Game Dev category, or an instruction asking for a game): the
        explorer plays it with the arrow keys."""
        return self.is_page and ((self.category or "").lower().startswith("game")
                                 or re.search(r"\bgames?\b|\bplayable\b", self.instruction.lower()) is not None)

    @classmethod
    def from_page(cls, instruction: str, html: str, page: Any, category: str | None = None) -> Sample:
        """A sample from a freshly rendered page (`curate.render.pages.PageResult`), for rewards."""
        return cls(id="", instruction=instruction, code=html, language="html", category=category, exec_ok=page.ok,
                   exec_error=page.error, screenshot=page.screenshot, screenshot_full=page.screenshot_full,
                   page_facts=page.facts or {}, console_errors=list(page.console_errors),
                   failed_requests=list(page.failed_requests))


def available(image: Path | bytes | None) -> Path | bytes | None:
    """The image if there is one to look at (a file that exists, or bytes)."""
    if image is None or (isinstance(image, Path) and not image.exists()):
        return None
    return image


@dataclass(frozen=True)
class Finding:
    """One observation behind a score: which dimension it costs, how many points, and why."""

    dimension: str   # alignment | aesthetics | structure
    rule: str
    penalty: float
    message: str


@dataclass
class Verdict:
    alignment: float | None = None
    aesthetics: float | None = None
    structure: float | None = None
    total: float | None = None
    feedback: str | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the plot judge's visual/task scores

    @classmethod
    def from_findings(cls, findings: list[Finding], **extra: Any) -> Verdict:
        scores = {d: max(0.0, top - sum(f.penalty for f in findings if f.dimension == d)) for d, top in MAX.items()}
        worst = sorted(findings, key=lambda f: -f.penalty)[:3]
        feedback = " ".join(f"{f.message}." for f in worst) if worst else "No problems found."
        return cls(round(scores["alignment"], 2), round(scores["aesthetics"], 2), round(scores["structure"], 2),
                   round(sum(scores.values()), 2), feedback, findings, extra=extra)

    @classmethod
    def failed(cls, reason: str) -> Verdict:
        return cls(error=reason)

    def findings_json(self) -> str:
        return json.dumps([asdict(f) for f in self.findings], ensure_ascii=False)
