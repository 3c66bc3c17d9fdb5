"""GAOKAO papers: which paper a question belongs to, and what that paper is worth.

An exam is one paper of one year and one variant. The variant (GAOKAO-Bench's `category`) is written many
ways (`（新课标Ⅰ）`, `(新课标ⅰ)`, `新课标Ⅰ卷`, `甲卷`, `全国甲卷理科`), so it is read into a canonical name
plus, where the category says so, the science (理) or liberal-arts (文) track. The paper then follows from
the subject and the exam system:

- national papers (新课标 / 全国 variants, and provinces before their reform): physics, chemistry and
  biology are sections of 理科综合 (300 points), history, geography and politics of 文科综合 (300); maths
  is 理科数学 (Math I) or 文科数学 (Math II), 150 each; Chinese and English 150;
- reformed papers (新高考, 新课标 from 2024, provinces from their reform year): maths is one paper (150) and
  each science or humanity is a paper of its own (100).

`DEFAULT_TOTALS` is the table of known totals; `curate value --totals` overrides it per paper or per exam.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NATIONAL, REFORMED = "national", "reformed"

# subject → paper, per exam system; a subject not listed is a paper of its own
PAPERS: dict[str, dict[str, str]] = {
    NATIONAL: {"Math_I": "理科数学", "Math_II": "文科数学", "Math": "数学", "Chinese": "语文", "English": "英语",
               "Physics": "理科综合", "Chemistry": "理科综合", "Biology": "理科综合",
               "History": "文科综合", "Geography": "文科综合", "Political_Science": "文科综合"},
    REFORMED: {"Math_I": "数学", "Math_II": "数学", "Math": "数学", "Chinese": "语文", "English": "英语",
               "Physics": "物理", "Chemistry": "化学", "Biology": "生物",
               "History": "历史", "Geography": "地理", "Political_Science": "政治"},
}
# Known totals of the papers (raw points of the paper as set, before any provincial rescaling).
DEFAULT_TOTALS: dict[str, float] = {
    "语文": 150, "英语": 150, "数学": 150, "理科数学": 150, "文科数学": 150, "理科综合": 300, "文科综合": 300,
    "物理": 100, "化学": 100, "生物": 100, "历史": 100, "地理": 100, "政治": 100,
}
# The year each provincial paper moved to the reformed system (separate science and humanity papers).
REFORM_YEAR: dict[str, int] = {
    "上海": 2017, "浙江": 2017, "北京": 2020, "天津": 2020, "山东": 2020, "海南": 2020, "河北": 2021,
    "辽宁": 2021, "江苏": 2021, "福建": 2021, "湖北": 2021, "湖南": 2021, "广东": 2021, "重庆": 2021,
}
# From 2013 the 新课标 paper split into 新课标Ⅰ/Ⅱ(/Ⅲ), also called 全国卷Ⅰ/Ⅱ/Ⅲ; before, there was one 新课标
# paper and 全国卷Ⅰ/Ⅱ were the 大纲 papers.
NATIONAL_PAPERS_FROM = 2013
NEW_CURRICULUM_REFORMED_FROM = 2024  # 新高考Ⅰ/Ⅱ卷 were renamed 新课标Ⅰ/Ⅱ卷 in 2024

# Subjects as bank names spell them, longest first so that Math_II wins over Math_I over Math.
SUBJECT_NAMES: list[tuple[str, str]] = [
    ("Math_II", "Math_II"), ("文科数学", "Math_II"), ("文数", "Math_II"), ("Math_I", "Math_I"),
    ("理科数学", "Math_I"), ("理数", "Math_I"), ("Mathematics", "Math"), ("Math", "Math"), ("数学", "Math"),
    ("Chinese", "Chinese"), ("语文", "Chinese"), ("English", "English"), ("英语", "English"),
    ("Physics", "Physics"), ("物理", "Physics"), ("Chemistry", "Chemistry"), ("化学", "Chemistry"),
    ("Biology", "Biology"), ("生物", "Biology"), ("History", "History"), ("历史", "History"),
    ("Geography", "Geography"), ("地理", "Geography"), ("Political_Science", "Political_Science"),
    ("Politics", "Political_Science"), ("政治", "Political_Science"),
]

_ROMAN = {"1": "I", "2": "II", "3": "III", "一": "I", "二": "II", "三": "III"}
_NUMERAL = r"(III|II|I|[123一二三])"
_PROVINCES = "|".join(REFORM_YEAR) + "|安徽|四川|江西|陕西|山西|河南|广西|云南|贵州|甘肃|吉林|黑龙江|内蒙古|宁夏|青海|新疆|西藏"
_MARKERS = [  # (pattern over the folded category, canonical name); the first that matches wins
    (re.compile(rf"新高考\s*(?:全国)?\s*卷?\s*{_NUMERAL}?"), "新高考"),
    (re.compile(rf"新课标\s*(?:全国)?\s*卷?\s*{_NUMERAL}?"), "新课标"),
    (re.compile(r"(?:全国)?\s*([甲乙丙])\s*卷"), "全国"),
    (re.compile(rf"全国\s*(?:卷|统一考试)?\s*{_NUMERAL}"), "全国卷"),
    (re.compile(r"大纲"), "全国大纲卷"),
    (re.compile(rf"({_PROVINCES})"), "province"),
]


@dataclass(frozen=True)
class Variant:
    """A paper variant: its canonical name, and the track (`理` / `文`) when the category names one."""

    name: str | None
    track: str | None = None


def fold(text: str) -> str:
    """Width, case of Roman numerals and brackets folded: `（新课标ⅰ）` → `新课标I`."""
    text = unicodedata.normalize("NFKC", str(text)).strip().strip("()[]【】 \t")
    return re.sub(r"(?<![A-Za-z])([ivx]+)(?![A-Za-z])", lambda m: m.group(1).upper(), text)


def read_variant(category: str | None, year: int | None) -> Variant:
    """The variant a category names; `name` is None when it names none (a garbled category)."""
    if category is None or not str(category).strip():
        return Variant(None)
    text = fold(category)
    track = "理" if re.search(r"理科|理数|理综", text) else "文" if re.search(r"文科|文数|文综", text) else None
    for pattern, kind in _MARKERS:
        match = pattern.search(text)
        if not match:
            continue
        numeral = _ROMAN.get(match.group(1), match.group(1)) if match.groups() and match.group(1) else ""
        if kind == "全国":
            return Variant(f"全国{match.group(1)}卷", track)
        if kind == "全国卷":  # 全国卷Ⅱ of 2016 is 新课标Ⅱ; of 2010 it is a 大纲 paper
            name = f"新课标{numeral}" if year is not None and year >= NATIONAL_PAPERS_FROM else f"全国卷{numeral}"
            return Variant(name, track)
        if kind == "province":
            return Variant(f"{match.group(1)}卷", track)
        if kind == "新课标" and numeral == "I" and year is not None and year < NATIONAL_PAPERS_FROM:
            numeral = ""  # one 新课标 paper until 2012: a "新课标Ⅰ" of 2010 is that paper
        return Variant(kind if kind == "全国大纲卷" else f"{kind}{numeral}", track)
    # no known marker: a short category is a variant of its own (`解析版`); a long one is garbled text
    short = len(text) <= 12 and "\n" not in text and "$" not in text
    return Variant(re.sub(r"\s+", "", text) if short else None, track)


def system_of(variant: str | None, year: int | None) -> str:
    """`reformed` for 新高考 papers, 新课标 papers from 2024 and provinces after their reform; else `national`."""
    if not variant:
        return NATIONAL
    if variant.startswith("新高考"):
        return REFORMED
    if variant.startswith("新课标") and year is not None and year >= NEW_CURRICULUM_REFORMED_FROM:
        return REFORMED
    province = variant.removesuffix("卷")
    if province in REFORM_YEAR and year is not None and year >= REFORM_YEAR[province]:
        return REFORMED
    return NATIONAL


def subject_in(name: str) -> str | None:
    """The subject a bank or file name names (`2010-2022_Math_I_MCQs` → `Math_I`, `理数` → `Math_I`)."""
    for spelling, subject in SUBJECT_NAMES:
        if re.search(rf"(?<![A-Za-z]){re.escape(spelling)}(?![A-Za-z])", name):
            return subject
    return None


def paper_of(subject: str, variant: Variant, year: int | None) -> str:
    """The paper a subject's questions sit in: `Physics` on 2016 新课标I → `理科综合`."""
    system = system_of(variant.name, year)
    if system == NATIONAL and subject == "Math" and variant.track:
        return "理科数学" if variant.track == "理" else "文科数学"
    return PAPERS[system].get(subject, subject)


def exam_key(year: int | str | None, variant: str | None, paper: str | None) -> str | None:
    """`year/variant/paper` (`2016/新课标I/理科综合`), without the variant when it is unknown."""
    if not paper or year is None or str(year).strip() == "":
        return None
    return "/".join([str(year).strip(), *([variant] if variant else []), str(paper).strip()])
