"""A reference answer written another way, as a model might: the answer check must still accept it.

`reformatted(answer, question_type)` applies every change that keeps the meaning:
- fractions: `\\frac{a}{b}` → `(a)/(b)` (simple ones), and a plain `a/b` → `\\frac{a}{b}`;
- assignment form: a short answer `y=2x` → `2x` (the name dropped), a bare value `2` → `x=2`;
- spacing: the spaces inside formulas removed, a space put around `=` and after commas;
- width: every ASCII character written full-width (`Ａ`, `１`, `（`, `＝`, `＄`).
Worked solutions (long references) get only the spacing and width changes.
"""

from __future__ import annotations

import re

_SIMPLE_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_PLAIN_FRAC = re.compile(r"(?<![\w}\\)])(-?\d+)\s*/\s*(\d+)(?![\w{(])")
_ASSIGNMENT = re.compile(r"^(\$?)\s*([a-zA-Z])\s*=\s*([^=]+?)(\$?)\s*([.。]?)\s*$")


def full_width(text: str) -> str:
    """ASCII printable characters as their full-width forms (NFKC folds them back)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ("\u3000" if ch == " " else ch) for ch in text)


def _respace(text: str) -> str:
    def formula(match: re.Match) -> str:
        body = re.sub(r"(?<![\\A-Za-z])\s+|\s+(?![A-Za-z])", "", match.group(1))  # keep "\sqrt 2", "\pi r"
        return "$" + body.replace("=", " = ").replace(",", ", ") + "$"

    return re.sub(r"\$([^$]+)\$", formula, text)


def _short(text: str) -> bool:
    return "\n" not in text.strip() and len(text.strip()) <= 60


def reformatted(answer: str, question_type: str | None = None) -> str:
    text = answer.strip()
    if question_type in ("single_choice", "multi_choice", "choice_slots"):
        return full_width(" " + text.replace(",", "， ") + " ")
    if _short(text):
        assignment = _ASSIGNMENT.match(text)
        if assignment:
            text = f"{assignment.group(1)}{assignment.group(3).strip()}{assignment.group(4)}{assignment.group(5)}"
        elif re.fullmatch(r"\$?-?\d+(?:\.\d+)?\$?\s*[.。]?", text):
            text = "$x=" + text.strip("$ .。") + "$"
        text = _SIMPLE_FRAC.sub(r"(\1)/(\2)", text)
        if not _SIMPLE_FRAC.search(answer):
            text = _PLAIN_FRAC.sub(r"\\frac{\1}{\2}", text)
    return full_width(_respace(text))
