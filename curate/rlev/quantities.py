"""Numbers with units: `0.5 m` = `50 cm`, `36 km/h` = `10 m/s`, `50%` = `0.5`, `2 \\times 10^{3} m` = `2 km`."""

from __future__ import annotations

import math
import re

from curate.rlev.text import fold

REL_TOL = 1e-4
ABS_TOL = 1e-9

_PREFIXES = {"k": 1e3, "M": 1e6, "G": 1e9, "c": 1e-2, "m": 1e-3, "μ": 1e-6, "u": 1e-6, "n": 1e-9, "d": 1e-1}
# unit → (factor to the base unit, base); derived units (N, J, ...) are their own bases.
_UNITS = {"m": (1, "m"), "g": (1e-3, "kg"), "s": (1, "s"), "N": (1, "N"), "J": (1, "J"), "W": (1, "W"),
          "V": (1, "V"), "A": (1, "A"), "Pa": (1, "Pa"), "Hz": (1, "Hz"), "C": (1, "C"), "Ω": (1, "Ω"),
          "ohm": (1, "Ω"), "T": (1, "T"), "K": (1, "K"), "mol": (1, "mol"), "L": (1e-3, "m^3"),
          "eV": (1.602176634e-19, "J"), "min": (60, "s"), "h": (3600, "s"), "°": (1, "°"),
          "米": (1, "m"), "厘米": (1e-2, "m"), "千米": (1e3, "m"), "秒": (1, "s"), "克": (1e-3, "kg"),
          "千克": (1, "kg"), "公斤": (1, "kg"), "牛": (1, "N"), "焦": (1, "J"), "瓦": (1, "W"), "度": (1, "°")}
_NUMBER = r"[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"({_NUMBER})\s*(?:(?:\\times|×|\*|x)\s*10\s*\^\s*\{{?([-+]?\d+)\}}?)?\s*(.*)")


def _unit_token(token: str) -> tuple[float, dict[str, float]] | None:
    match = re.fullmatch(r"(.+?)(?:\^\{?([-+]?\d+)\}?|([23]))?", token)
    if not match:
        return None
    name, power = match.group(1), float(match.group(2) or match.group(3) or 1)
    if name in _UNITS:
        factor, base = _UNITS[name]
    elif name[:1] in _PREFIXES and name[1:] in _UNITS:
        factor, base = _PREFIXES[name[:1]] * _UNITS[name[1:]][0], _UNITS[name[1:]][1]
    else:
        return None
    return factor ** power, {base: power}


def _unit(text: str) -> tuple[float, dict[str, float]] | None:
    """Factor to base units and the dimensions of a unit like `km/h`, `m·s^{-2}`, `cm2`; None if unknown."""
    text = text.strip().replace("\\cdot", "·").replace("\\,", "")
    if not text:
        return 1.0, {}
    if text in ("%", "\\%"):
        return 0.01, {}
    factor, dims = 1.0, {}
    for index, part in enumerate(text.split("/")):
        sign = 1 if index == 0 else -1
        for token in filter(None, re.split(r"[·*\s.]+", part)):
            read = _unit_token(token)
            if read is None:
                return None
            factor *= read[0] ** sign
            for base, power in read[1].items():
                dims[base] = dims.get(base, 0) + sign * power
    return factor, {k: v for k, v in dims.items() if v}


def quantity(text: str) -> tuple[float, float, dict[str, float] | None] | None:
    """(number as written, number in base units, dimensions or None when unitless) of `12.5 km/h`."""
    match = _QUANTITY.fullmatch(fold(text))
    if not match:
        return None
    number = float(match.group(1).replace(",", "")) * 10 ** int(match.group(2) or 0)
    unit = _unit(match.group(3))
    if unit is None:
        return None
    factor, dims = unit
    return number, number * factor, dims if match.group(3).strip() else None


def close(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=ABS_TOL)


def same_quantity(prediction: str, reference: str, rel_tol: float = REL_TOL) -> bool | None:
    """Equal quantities (None when either is not a number with a known unit)."""
    got, want = quantity(prediction), quantity(reference)
    if got is None or want is None:
        return None
    if got[2] is not None and want[2] is not None:
        return got[2] == want[2] and close(got[1], want[1], rel_tol)
    # a unit on one side only: compare as written, or converted (50% against 0.5)
    return close(got[0], want[0], rel_tol) or close(got[1], want[1], rel_tol)
