"""Maths answers through sympy: expressions, equations, tuples, intervals, sets and inequalities.

Every comparison returns True or False when both sides are maths it can read, and None when either is not
(the caller then tries something else, or says it cannot decide). Model output is never `eval`'d: only a
small alphabet of names (one letter, optionally subscripted, and a few functions) reaches sympy's parser.
"""

from __future__ import annotations

import cmath
import random
import re
from functools import lru_cache

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from curate.rlev.quantities import REL_TOL, close
from curate.rlev.text import fold, split_top

_FUNCTIONS = {"sqrt", "sin", "cos", "tan", "cot", "log", "exp", "pi", "oo", "E", "Abs"}
_LATEX = [(r"\\[dt]?frac", r"\\frac"), (r"\\(?:cdot|times)", "*"), (r"\\div", "/"), (r"\\pi", " pi "),
          (r"\\infty", " oo "), (r"\\(?:ln|lg|log)", " log "), (r"\\(sin|cos|tan|cot|exp)", r" \1 "),
          (r"\^\s*\{?\s*\\circ\s*\}?|°", "*pi/180"), (r"%", "/100"), (r"π", " pi "), (r"∞", " oo "), (r"(?<![A-Za-z])ln(?![A-Za-z])", " log ")]
_SUBSCRIPT = re.compile(r"([A-Za-z])_\s*\{?\s*([A-Za-z0-9]{1,3})\s*\}?")
_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the `{...}` group opening at `start`, and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i], i + 1
    return None


def _replace_command(text: str, command: str, arity: int, build) -> str | None:
    """Rewrite `\\command{a}{b}` (arity groups, or single characters) with build(*args)."""
    while (at := text.find(command)) >= 0:
        pos, args = at + len(command), []
        for _ in range(arity):
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos < len(text) and text[pos] == "{":
                found = _braced(text, pos)
                if found is None:
                    return None
                args.append(found[0])
                pos = found[1]
            elif pos < len(text):
                args.append(text[pos])
                pos += 1
            else:
                return None
        text = text[:at] + build(*args) + text[pos:]
    return text


def _names(text: str) -> str | None:
    """Names as sympy reads them: `a_n` one symbol, `ab` as `a b`; None for foreign words."""
    def word(match: re.Match) -> str:
        name = match.group(0)
        if name in _FUNCTIONS or re.fullmatch(r"[A-Za-z](?:_[A-Za-z0-9]+)?", name):
            return name
        return " ".join(name) if name.isalpha() and len(name) <= 4 else "\x00"

    text = re.sub(r"[A-Za-z][A-Za-z0-9_]*", word, text)
    return None if "\x00" in text else text


def latex_to_expression(text: str) -> str | None:
    """A sympy-parsable string for a LaTeX or plain maths answer, or None when it is not plain maths."""
    text = fold(text)
    if not text or len(text) > 200 or "|" in text:
        return None  # |x| needs pairing we do not attempt
    text = _SUBSCRIPT.sub(lambda m: f" {m.group(1)}_{m.group(2)} ", text)
    for pattern, repl in _LATEX:
        text = re.sub(pattern, repl, text)
    text = re.sub(r"\\sqrt\s*\[([^\]]+)\]\s*\{([^{}]*)\}", r"((\2)**(1/(\1)))", text)
    text = _replace_command(text, "\\frac", 2, lambda a, b: f"(({a})/({b}))")
    text = text and _replace_command(text, "\\sqrt", 1, lambda a: f"sqrt({a})")
    if text is None or "\\" in text:
        return None
    text = text.replace("{", "(").replace("}", ")").replace("^", "**")
    if (re.search(r"[^0-9A-Za-z_+\-*/().\s]", text) or re.search(r"\*\*\s*\(?\s*\d{3,}", text)
            or re.search(r"[A-Za-z)]\s*\.", text) or text.count("**") > 3 or re.search(r"\d\s+\d", text)):
        return None  # anything beyond arithmetic (attributes, huge powers, "1 3") is not ours to evaluate
    return _names(text)


@lru_cache(maxsize=8192)
def to_sympy(text: str) -> sympy.Expr | None:
    expression = latex_to_expression(text)
    if not expression or not expression.strip():
        return None
    names = {n: sympy.Symbol(n) for n in re.findall(r"[A-Za-z]_[A-Za-z0-9]+", expression)}
    try:
        # unevaluated: `9^9^9` stays a formula (evalf later gives a float) instead of a 370-million-digit integer
        parsed = parse_expr(expression, transformations=_TRANSFORMS, evaluate=False,
                            local_dict={"e": sympy.E, "pi": sympy.pi, "E": sympy.E, **names})
    except Exception:  # noqa: BLE001 - sympy raises many kinds of errors on bad input
        return None
    return parsed if isinstance(parsed, sympy.Expr) else None


def _points(*exprs: sympy.Expr) -> list[dict]:
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    rng = random.Random(0)
    return [{}] if not symbols else [{s: rng.uniform(0.5, 2.5) for s in symbols} for _ in range(3)]


def _value(expr: sympy.Expr, point: dict) -> complex | None:
    try:
        return complex(expr.evalf(subs=point))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _same_number(x: complex, y: complex, rel_tol: float) -> bool:
    if not (cmath.isfinite(x) and cmath.isfinite(y)):
        return x == y
    return close(x.real, y.real, rel_tol) and close(x.imag, y.imag, rel_tol)


def equal_expressions(a: sympy.Expr, b: sympy.Expr, rel_tol: float = REL_TOL) -> bool:
    """Equal as numbers; with free symbols, equal at a few random points."""
    for point in _points(a, b):
        x, y = _value(a, point), _value(b, point)
        if x is None or y is None or not _same_number(x, y, rel_tol):
            return False
    return True


def same_math(prediction: str, reference: str, rel_tol: float = REL_TOL) -> bool | None:
    a, b = to_sympy(prediction), to_sympy(reference)
    if a is None or b is None:
        return None
    return equal_expressions(a, b, rel_tol)


# ----- equations ---------------------------------------------------------------------------------------
def _sides(text: str) -> list[str]:
    return split_top(fold(text), "=")


def same_equation(prediction: str, reference: str, rel_tol: float = REL_TOL) -> bool | None:
    """`3x-y=0` = `y=3x`: the two sides' differences are proportional (None unless both are equations)."""
    p, r = _sides(prediction), _sides(reference)
    if len(p) != 2 or len(r) != 2:
        return None
    parsed = [to_sympy(s) for s in (*p, *r)]
    if any(e is None for e in parsed):
        return None
    d1, d2 = parsed[0] - parsed[1], parsed[2] - parsed[3]
    ratios = []
    for point in _points(d1, d2):
        x, y = _value(d1, point), _value(d2, point)
        if x is None or y is None:
            return False
        if abs(y) < 1e-12 or abs(x) < 1e-12:
            if not (abs(y) < 1e-12 and abs(x) < 1e-12):
                return False
            continue
        ratios.append(x / y)
    return all(_same_number(q, ratios[0], rel_tol) for q in ratios) if ratios else True


_NAME = r"\|?\s*(?:\\?[A-Za-z]+\s*)(?:_\s*\{?[^{}=]{1,8}\}?)?(?:\^\s*\{?[^{}=]{1,4}\}?)?(?:\([^()=]{0,12}\))?\s*\|?"
_NAMED = re.compile(rf"(?:{_NAME}|\|[A-Z]{{2}}\|)")


def named_value(text: str) -> str | None:
    """The value of `y=2x`, `S_{5}=…=\\frac{121}{3}`, `\\sin C=…` (the last side, when the first is a name)."""
    sides = _sides(text)
    if len(sides) < 2 or not _NAMED.fullmatch(sides[0]):
        return None
    return sides[-1] or None


# ----- tuples, intervals, sets, inequalities ----------------------------------------------------------
def _elements(text: str) -> tuple[str, list[str]] | None:
    """(bracket kind, top-level comma-separated items) of `(1, 2)`, `[0,2)`, `\\{1,2\\}`."""
    text = fold(text)
    opener = next((o for o in ("\\{", "(", "[", "{") if text.startswith(o)), None)
    if opener is None or len(text) < 2 or text[-1] not in ")]}":
        return None
    closer = "\\}" if text.endswith("\\}") else text[-1]
    body = text[len(opener):len(text) - len(closer)]
    if body.count("(") != body.count(")") or body.count("[") != body.count("]"):
        return None  # "(1)(2)" or "(a)+(b)" is not one bracket pair
    items = split_top(body, [",", "，"])
    if len(items) < 2:
        return None
    return opener + closer, items


_RELATION = re.compile(r"\s*(<|>|\\le|\\ge)\s*")
_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le"}


def relation_intervals(text: str) -> list[str] | None:
    """Intervals of a one-variable inequality: `x \\le 8` → `(-oo,8]`, `1<x<3` → `(1,3)`; unions with `\\cup`
    or `或`; set-builder `\\{x \\mid x>2\\}` too. None when the text is not one."""
    text = fold(text)
    builder = re.fullmatch(r"\\\{\s*([A-Za-z])\s*(?:\\mid|\|)\s*(.+)\\\}", text)
    if builder:
        text = builder.group(2)
    pieces = split_top(text, ["\\cup", "∪", "或", " or "])
    if len(pieces) > 1:
        found = [relation_intervals(p) for p in pieces]
        return None if any(f is None for f in found) else [i for f in found for i in f]
    if _elements(text):
        return [text.replace(" ", "")]
    parts = _RELATION.split(text)
    if len(parts) == 3:  # x < 3, or 3 > x
        left, op, right = parts
        if re.fullmatch(r"[A-Za-z]", right.strip()):
            left, op, right = right, _FLIP[op], left
        if not re.fullmatch(r"[A-Za-z]", left.strip()):
            return None
        bound = right.strip()
        return [f"(-oo,{bound}{')' if op == '<' else ']'}" if op in ("<", "\\le")
                else f"{'(' if op == '>' else '['}{bound},oo)"]
    if len(parts) == 5 and re.fullmatch(r"[A-Za-z]", parts[2].strip()) and parts[1] in ("<", "\\le") \
            and parts[3] in ("<", "\\le"):
        return [f"{'(' if parts[1] == '<' else '['}{parts[0].strip()},{parts[4].strip()}"
                f"{')' if parts[3] == '<' else ']'}"]
    return None


def _interval_value(text: str) -> str:
    return text.replace("+oo", "oo").replace("+ oo", "oo")


def same_elements(prediction: str, reference: str, rel_tol: float = REL_TOL) -> bool | None:
    """Tuples and intervals item by item, sets in any order (None unless both are bracketed lists)."""
    got, want = _elements(prediction), _elements(reference)
    if got is None or want is None:
        return None
    if got[0] != want[0] or len(got[1]) != len(want[1]):
        return False
    pairs = list(zip(got[1], want[1], strict=True))
    if want[0] in ("\\{\\}", "{}"):  # a set: any order
        remaining = list(got[1])
        for item in want[1]:
            match = next((g for g in remaining if _item_equal(g, item, rel_tol)), None)
            if match is None:
                return False
            remaining.remove(match)
        return True
    return all(_item_equal(g, w, rel_tol) for g, w in pairs)


def _item_equal(a: str, b: str, rel_tol: float) -> bool:
    a, b = _interval_value(a), _interval_value(b)
    if re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b):
        return True
    verdict = same_math(a, b, rel_tol)
    return bool(verdict)


def same_intervals(prediction: str, reference: str, rel_tol: float = REL_TOL) -> bool | None:
    """`x>2` = `(2,+\\infty)`, unions in any order (None unless both read as intervals and one is a relation)."""
    if not (_RELATION.search(fold(prediction)) or _RELATION.search(fold(reference))):
        return None
    got, want = relation_intervals(prediction), relation_intervals(reference)
    if got is None or want is None:
        return None
    if len(got) != len(want):
        return False
    remaining = list(got)
    for item in want:
        match = next((g for g in remaining if same_elements(g, item, rel_tol)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True
