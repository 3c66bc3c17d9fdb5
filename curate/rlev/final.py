"""Final answers: of a model's response, and of a reference that is a worked solution.

- `extract_answer(response)`: the last `\\boxed{}`; else the sentence after the last "answer is" / "答案" /
  "故选" / "故答案为"; else after the last "所以" / "故" / "因此" / "综上"; else the last line. Of that
  sentence, the formula it ends with (`所以 $b=2\\sqrt{2}$.` → `b=2\\sqrt{2}`).
- `reference_answers(reference)`: one final answer per part of a multi-part answer (`（1）… （2）…`,
  `(Ⅰ)…`, `①…②…`, or one short answer per line), each read as above; a part whose conclusion is prose
  (`所以 $n=5$ 时, $S_n$ 取得最大值`) or a proof has no final answer (None): the rules cannot check it.
- `response_answers(response, k)`: k final answers of a response, to compare part by part.
"""

from __future__ import annotations

import re
import unicodedata

from curate.rlev.maths import relation_intervals
from curate.rlev.text import fold, split_top

_STRONG = re.compile(r"(?:\b(?:final\s+)?answer\s*(?:is|:)|故答案为|答案\s*(?:应?为|应?是|[:：])|故选|应选|选择)\s*[:：]?\s*",
                     re.I)
_WEAK = re.compile(r"(?:^|(?<=[\s,，。;；:：.$]))(?:所以|因此|综上所述|综上|从而|故)\s*[:：,，]?\s*")  # not in 温故而知新
_MATH = re.compile(r"\$+([^$]+)\$+")
_CONNECTORS = re.compile(r"[\s,，、;；.。]*(?:(?:或者|或|和|与|及|or|and)[\s,，、;；]*)*[\s,，、;；.。]*", re.I)
_SHORT = 40  # folded characters: a short line or part is an answer in itself, not a worked solution

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
_MARK = re.compile(rf"\(\s*(\d{{1,2}}|[IVXivx]{{1,4}})\s*\)\s*\.?|([{_CIRCLED}])\s*\.?|(?<![\w.])(\d{{1,2}})[.、](?!\d)")
_AFTER = set("\n。；;:：】}$.，,")  # what a part marker may follow (spaces aside): "解:(1)", "…。(2)", "$ (2)"


def boxed(text: str) -> list[str]:
    """The contents of every `\\boxed{...}` / `\\fbox{...}`, in order."""
    found = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth = 0
        for i in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append(text[match.end():i].strip())
                break
    return found


def _sentence(text: str, start: int) -> str:
    """From `start` to the end of its sentence (`。`, a new line, `；`, or `. ` outside a formula)."""
    rest = text[start:]
    in_math, end = False, len(rest)
    for i, ch in enumerate(rest):
        if ch == "$":
            in_math = not in_math
        elif not in_math and (ch in "。\n；" or (ch == "." and rest[i + 1:i + 2] in (" ", ""))):
            end = i
            break
    return rest[:end].strip()


_REMARK = re.compile(r"\s*[(（][^()（）]*[\u4e00-\u9fff][^()（）]*[)）][\s.。]*$")


def _tail(sentence: str, words: bool = True) -> str | None:
    """The formula a sentence ends with, or the sentence itself when short (`words`: also when it is Chinese
    text); None for prose. A closing remark in brackets (`2 (满足 … 皆可)`) is not part of the answer."""
    sentence = _REMARK.sub("", sentence)
    segments = list(_MATH.finditer(sentence))
    if segments and _CONNECTORS.fullmatch(_MATH.sub("", sentence)):
        return _statement_or_answer(fold(sentence))  # "$A$ 或 $B$": formulas joined by "or" are the answer
    if segments:
        after = sentence[segments[-1].end():]
        ends = re.fullmatch(r"[\s.。,，;；!！)）]*", after)
        return _statement_or_answer(segments[-1].group(1).strip()) if ends else None
    folded = fold(sentence)
    if not folded or len(folded) > _SHORT or (not words and re.search(r"[\u4e00-\u9fff]", folded)):
        return None
    return _statement_or_answer(folded)


def _statement_or_answer(answer: str) -> str | None:
    """None for an inequality between expressions (`\\frac{a}{b+c} \\le …`: what a proof ends with, not an
    answer); one-variable inequalities (`x \\le 8`) are answers."""
    folded = fold(answer)
    if re.search(r"\\le|\\ge|<|>", folded) and relation_intervals(folded) is None:
        return None
    return answer


def conclusion(text: str) -> str | None:
    """The marked final answer of a worked text, or the text itself when it is short; None otherwise."""
    boxes = boxed(text)
    if boxes:
        return boxes[-1]
    stripped = text.strip()
    if "\n" not in stripped and len(fold(stripped)) <= _SHORT and not _STRONG.search(stripped) \
            and not _WEAK.search(stripped):
        return _tail(stripped) or fold(_REMARK.sub("", stripped))
    for marker, words in ((_STRONG, True), (_WEAK, False)):  # "故答案为: 分层抽样"; but "所以…即可得到…" is prose
        found = list(marker.finditer(text))
        if found:
            return _tail(_sentence(text, found[-1].end()), words)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _tail(lines[-1], words=len(lines) == 1) if lines else None  # a wrapped line of prose is no answer


def extract_answer(response: str) -> str:
    """The final answer of a model's response: its conclusion, else its last line (or that line's last
    formula: "so $b = 2\\sqrt{2}$" → `b = 2\\sqrt{2}`)."""
    text = _width(response).strip()
    found = conclusion(text)
    if found:
        return found
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    maths = [m for m in _MATH.findall(last) if m.strip()]
    return maths[-1].strip() if maths else last


def _label(match: re.Match) -> tuple[str, int] | None:
    bracketed, circled, dotted = match.groups()
    if circled:
        return "circled", _CIRCLED.index(circled) + 1
    if dotted:
        return "dotted", int(dotted)
    if bracketed.isdigit():
        return "bracketed", int(bracketed)
    number = _ROMAN.get(bracketed.upper())
    return ("roman", number) if number else None


def _may_start(text: str, match: re.Match, kind: str, lenient: bool) -> bool:
    """A marker starts a part after a line start or punctuation, not mid-sentence (`由(1)知`); a numbered
    list item (`61. that`) after white space; `lenient` (responses) also after a space."""
    if kind == "circled":
        return True
    start = match.start()
    i = start - 1
    while i >= 0 and text[i] in " \t\u3000":
        i -= 1
    spaced = i < start - 1
    if i < 0 or text[i] == "\n":
        return True
    if kind == "dotted":
        return spaced
    glued = kind == "bracketed" and match.group(0).endswith(".")  # "…流动性(2).蛋白质"
    return text[i] in _AFTER or (lenient and spaced) or glued


def split_parts(text: str, lenient: bool = False) -> list[str]:
    """The parts of a multi-part answer, numbered in one style (`(1)`, `(Ⅱ)`, `①`, and `1.` / `61.` lists);
    a repeated number (`(2) 法二`) continues its part; [] when there are not two parts."""
    starts: list[tuple[int, int]] = []
    style, expected = None, 1
    for match in _MARK.finditer(text):
        label = _label(match)
        if label is None or not _may_start(text, match, label[0], lenient):
            continue
        kind, number = label
        if style is None and (number == 1 or kind == "dotted"):
            style, expected = kind, number
        if kind == style and number == expected:
            starts.append((match.start(), match.end()))
            expected += 1
    if len(starts) < 2:
        return []
    bounds = [s for s, _ in starts[1:]] + [len(text)]
    return [text[body:end].strip() for (_, body), end in zip(starts, bounds, strict=True)]


def _width(text: str) -> str:
    """NFKC (full-width `（１）` → `(1)`), keeping circled numbers, which are part markers."""
    return "".join(p if p in _CIRCLED else unicodedata.normalize("NFKC", p)
                   for p in re.split(f"([{_CIRCLED}])", str(text or "")))


def _short_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines if len(lines) >= 2 and all(len(fold(line)) <= _SHORT for line in lines) else []


def label_set(text: str) -> list[str] | None:
    """`(1)(2)(3)(5)` or `①③`: which numbered statements are true, as labels; None otherwise."""
    if len(text) > 60:
        return None
    raw = re.sub(r"\s+", "", _width(text)).rstrip(".。")
    if re.fullmatch(rf"[{_CIRCLED}]+", raw):
        return [str(_CIRCLED.index(ch) + 1) for ch in raw]
    folded = re.sub(r"\s+", "", fold(text))
    if re.fullmatch(r"(?:\(\d{1,2}\))+", folded):
        return re.findall(r"\d{1,2}", folded)
    return None


_NUMBERING = re.compile(r"^\s*(?:\d{1,2}[.、)]|\(\d{1,2}\))\s*")


def _answer_lines(text: str) -> list[str]:
    """A list of short answers, one per line (`was` / `which/that` …), their numbering dropped."""
    return [_NUMBERING.sub("", line) for line in _short_lines(text)]


def _part_answer(part: str) -> str | None:
    """A part's answer: the whole part when it is short (its line wraps are the PDF's, `锦瑟无端五十\\n弦`),
    else its conclusion."""
    if part.strip() and len(fold(part)) <= _SHORT and not _STRONG.search(part) and not _WEAK.search(part):
        return _tail(part) or fold(_REMARK.sub("", part)) or None
    return conclusion(part)


def reference_answers(reference: str) -> list[str | None]:
    """One final answer per part of a reference; None for a part the rules cannot read."""
    text = _width(reference)
    if label_set(text):
        return [fold(text)]
    parts = split_parts(text)
    answers = [_part_answer(part) for part in parts] if parts else _answer_lines(text) or [conclusion(text)]
    return [a if a and fold(a) else None for a in answers]  # an empty part, or one left empty once folded


def response_answers(response: str, k: int) -> list[str] | None:
    """`k` final answers of a response, or None when it does not give k of them."""
    text = _width(response).strip()
    if k == 1:
        return [extract_answer(text)]
    boxes = boxed(text)
    if len(boxes) >= k:
        return boxes[-k:]
    for lenient in (False, True):  # the reference's own reading first: a response laid out like it
        parts = split_parts(text, lenient)
        if len(parts) == k:
            return [_part_answer(part) or extract_answer(part) for part in parts]
    lines = _answer_lines(text)
    if len(lines) >= k:
        return lines[-k:]
    single = extract_answer(text)
    for separators in (["；", ";"], ["，", ",", "、"], [" "]):
        items = [i for i in split_top(fold(single), separators) if i]
        if len(items) == k:
            return items
    return None
