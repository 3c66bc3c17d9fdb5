"""A model stand-in for the AesCode loop: answers deterministically per prompt, model and seed, with real
code from a small bank (five matplotlib gallery scripts of fixtures/plots, hand-written pages of
fixtures/generate; see the NOTICE files there)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.llm_server import hashed_score, prompt_text

BANK = Path(__file__).parent / "fixtures" / "generate"
PLOTS = [Path(__file__).parent / "fixtures" / "plots" / "scripts" / f"matplotlib__plot_types__{name}.py"
         for name in ("basic__bar", "basic__plot", "basic__scatter_plot", "stats__hist_plot", "stats__pie")]
PAGES = sorted((BANK / "pages").glob("*.html"))
CHARTS = ("bar chart", "line chart", "histogram", "pie chart", "scatter plot")
FEATURES = ("three feature cards in a grid", "a pricing table", "a photo gallery", "a schedule by day")


def bank_responder(body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    text = prompt_text(body)
    pick = hashed_score(f"{text}|{body.get('model')}|{body.get('seed')}", 0, 10**6)
    if "You write instructions" in system:
        keyword = re.search(r"Keyword: (.*)", text).group(1).strip()
        if "web design" in system:
            return (f"Design a single-file page for a {keyword}: a hero with its name, {FEATURES[pick % 4]}, a warm "
                    f"palette and a button that reveals more details (variant {pick % 997}).")
        return (f"Draw a {CHARTS[pick % 5]} of {keyword} with twelve made-up values, labelled axes, a title and a "
                f"calm blue palette (variant {pick % 997}).")
    if "front-end designer" in system:
        return f"Here is the page.\n```html\n{PAGES[pick % len(PAGES)].read_text()}```\n"
    if "data visualisation" in system:
        return f"```python\n{PLOTS[pick % len(PLOTS)].read_text()}```\nThe script draws the chart."
    return "OK"
