"""Folding answers before they are compared: width, LaTeX spacing and wrappers, `$`, stray punctuation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WRAPPERS = re.compile(r"\\(?:text|mathrm|textbf|mathbf|textrm|mathit|boldsymbol|rm|bf|operatorname|mbox|boxed)"
                       r"\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\(?:left|right|displaystyle|quad|qquad)(?![A-Za-z])|\\[,;:! ]")
_RELATIONS = [(re.compile(r"\\(?:leqslant|leq|le)(?![A-Za-z])|≤|⩽"), r"\\le "),
              (re.compile(r"\\(?:geqslant|geq|ge)(?![A-Za-z])|≥|⩾"), r"\\ge "),
              (re.compile(r"\\(?:neq|ne)(?![A-Za-z])|≠"), r"\\ne ")]
_SPLIT_DECIMAL = re.compile(r"(\d)\s*\.\s+(\d)")
_EITHER = re.compile(r"#\s*#")
_SPACES = re.compile(r"\s+")
_END = re.compile(r"[\s.。;；,，、:：]+$")
_OPEN, _CLOSE = "([{", ")]}"


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """An answer as comparable text: `＄\\frac{1}{2}＄．` → `\\frac{1}{2}`, `0. 98` → `0.98`."""
    text = unicodedata.normalize("NFKC", str(text)).replace("−", "-").replace("–", "-").replace("∶", ":")
    for _ in range(3):
        text = _WRAPPERS.sub(r"\1", text)
    text = _SPACING.sub("", text).replace("~", " ").replace("$", "").replace("\\#", "#").replace("\\%", "%")
    for pattern, repl in _RELATIONS:
        text = pattern.sub(repl, text)
    text = _SPLIT_DECIMAL.sub(r"\1.\2", text)  # "0. 98": a decimal split by the PDF extraction
    text = _EITHER.sub("##", text)  # GAOKAO-Bench's "either" separator
    text = _SPACES.sub(" ", text).strip()
    text = _END.sub("", text)  # "4 ." and "$\\frac{1}{2}$." end a sentence, not the answer
    return _balance(text).strip()


def _balance(text: str) -> str:
    """Drop closing brackets that close nothing at the end (`36}`), an artefact of extraction."""
    depth = 0
    for ch in text:
        depth += (ch in _OPEN) - (ch in _CLOSE)
    while depth < 0 and text and text[-1] in _CLOSE:
        text, depth = text[:-1], depth + 1
    return text


def squash(text: str) -> str:
    """Folded, lower-case, without whitespace: equal squashed texts are the same answer."""
    return _SPACES.sub("", fold(text)).lower()


def normalise_text(text: str) -> str:
    """For words, not maths: folded, lower-case, without whitespace, punctuation and LaTeX backslashes."""
    text = fold(text).lower()
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P")
                   and ch not in "\\^{}")


def split_top(text: str, separators: str | list[str]) -> list[str]:
    """`text` cut at separators that sit outside brackets: `(1,2)、3` → `(1,2)`, `3`."""
    seps = sorted([separators] if isinstance(separators, str) else separators, key=len, reverse=True)
    parts, depth, current, i = [], 0, "", 0
    while i < len(text):
        sep = next((s for s in seps if depth == 0 and text.startswith(s, i)), None)
        if sep:
            parts.append(current)
            current, i = "", i + len(sep)
            continue
        depth += (text[i] in _OPEN) - (text[i] in _CLOSE)
        current += text[i]
        i += 1
    parts.append(current)
    return [p.strip() for p in parts]


def is_wordy(text: str) -> bool:
    """Words rather than maths: CJK characters, or Latin words of two or more letters and no operators."""
    folded = fold(text)
    if re.search(r"[\u4e00-\u9fff]", folded):
        return True
    if re.search(r"[=<>+*^\\_{}()\[\]\d]", folded) or re.search(r"/(?![A-Za-z])|(?<![A-Za-z])/", folded):
        return False  # maths; a slash between words is "either" (`which/that`)
    return bool(re.search(r"[A-Za-z]{2,}", folded))
