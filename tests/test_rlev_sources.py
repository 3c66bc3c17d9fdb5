"""The question adapters: GAOKAO-Bench files (real ones, and broken ones) and generic question rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.rlev.papers import DEFAULT_TOTALS, Variant, paper_of, read_variant
from curate.runner import run_stage
from curate.sources.gaokao import subject_of
from curate.stages.collect import Collect, CollectParams
from tests.conftest import FIXTURES, ROOT

GAOKAO = FIXTURES / "rlev" / "gaokao"
BROKEN = FIXTURES / "rlev" / "broken"
BANK = ROOT / "recipes" / "data" / "rlev" / "gaokao-bench"

@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    """Small sources: run units in this process rather than spawning a pool on a shared 2-core box."""
    monkeypatch.setenv("CURATE_WORKERS", "1")



def collect(ws, paths, fmt, name="q"):
    summary = run_stage(ws, Collect(CollectParams(paths=[str(p) for p in paths], format=fmt)), [], name)
    return summary, ws.read(name)


def rejects(ws, name="q"):
    with ws.connect(read_only=True) as con:
        return con.execute("SELECT reason, location, message FROM rejects WHERE table_name = ? ORDER BY location",
                           [name]).fetchall()


def test_subject_from_bank_name():
    assert subject_of("2010-2022_Math_I_MCQs") == "Math_I"
    assert subject_of("2010-2022_Math_II_Open-ended_Questions") == "Math_II"
    assert subject_of("2010-2022_Math_I_Fill-in-the-Blank") == "Math_I"
    assert subject_of("2012-2022_English_Fill_in_Blanks") == "English"
    assert subject_of("2010-2022_Chinese_Language_Famous_Passages_and_Sentences_Dictation") == "Chinese"
    assert subject_of("2010-2022_Political_Science_MCQs") == "Political_Science"
    assert subject_of("2016-2022理科数学全国卷解答题") == "Math_I" and subject_of("2023_Math_MCQs") == "Math"
    assert subject_of("2010-2022_Music_MCQs") == "Music"


@pytest.mark.parametrize(("category", "year", "name", "track"), [
    ("（新课标Ⅰ）", 2016, "新课标I", None), ("（新课标ⅰ）", 2016, "新课标I", None), ("(新课标i)", 2016, "新课标I", None),
    ("（新课标Ⅰ卷）", 2020, "新课标I", None), ("（新课标卷）", 2010, "新课标", None),
    ("（新课标ⅰ）", 2010, "新课标", None),  # one 新课标 paper until 2012
    ("（全国卷Ⅲ）", 2020, "新课标III", None), ("（全国卷ii）", 2010, "全国卷II", None),  # 2010: a 大纲 paper
    ("（甲卷）", 2021, "全国甲卷", None), ("全国甲卷理科", 2023, "全国甲卷", "理"), ("全国乙卷文科", 2023, "全国乙卷", "文"),
    ("新高考Ⅰ卷", 2022, "新高考I", None), ("（北京卷）", 2019, "北京卷", None), ("（解析版）", 2021, "解析版", None),
    ("所以双曲线的一条渐近线不妨取 $y=2 x$,\n则圆心", 2023, None, None),  # garbled: no variant
    ("方法二: 所以 $S_5=20$.故选: C\n全国甲卷文科", 2023, "全国甲卷", "文"),
])
def test_paper_variants_are_read_whatever_their_spelling(category, year, name, track):
    assert read_variant(category, year) == Variant(name, track)


@pytest.mark.parametrize(("subject", "variant", "year", "paper"), [
    ("Physics", "新课标I", 2016, "理科综合"), ("Biology", "全国甲卷", 2022, "理科综合"), ("History", "全国乙卷", 2022, "文科综合"),
    ("Math_I", "新课标II", 2016, "理科数学"), ("Math_II", "新课标II", 2016, "文科数学"), ("Chinese", "新课标I", 2016, "语文"),
    ("Physics", "新高考I", 2022, "物理"), ("Math_II", "新高考II", 2022, "数学"), ("Math_I", "新课标I", 2024, "数学"),
    ("Chemistry", "北京卷", 2019, "理科综合"), ("Chemistry", "北京卷", 2021, "化学"), ("Music", "新课标I", 2016, "Music"),
])
def test_papers_and_their_known_totals(subject, variant, year, paper):
    assert paper_of(subject, Variant(variant), year) == paper
    expected = {"理科综合": 300, "文科综合": 300, "物理": 100, "化学": 100}.get(paper, 150 if paper != "Music" else None)
    assert DEFAULT_TOTALS.get(paper) == expected
    assert paper_of("Math", Variant("全国甲卷", "理"), 2023) == "理科数学"


def test_real_gaokao_files(ws):
    summary, table = collect(ws, [GAOKAO], "gaokao")
    source = {p.name: json.loads(p.read_text())["example"] for p in GAOKAO.glob("*.json")}
    assert summary.rejected == 0 and table.height == sum(len(v) for v in source.values())
    # objective items: points = len(answer) * score per slot; subjective: the item's score
    mcq = source["2010-2022_Math_I_MCQs.json"][0]
    row = table.filter(table["question"] == mcq["question"].strip()).row(0, named=True)
    assert row["points"] == len(mcq["answer"]) * mcq["score"] and row["answer"] == mcq["answer"][0]
    assert row["question_type"] == "single_choice" and row["subject"] == "Math_I" and row["year"] == 2022
    open_item = source["2010-2022_Math_I_Open-ended_Questions.json"][0]
    row = table.filter(table["question"] == open_item["question"].strip()).row(0, named=True)
    assert row["points"] == open_item["score"] and row["question_type"] == "open"
    blanks = source["2010-2022_Math_I_Fill-in-the-Blank.json"]
    assert table.filter(table["question_type"] == "blank").height == len(blanks)
    # a physics item answered "AC" is a multiple choice of one slot, worth one slot's score
    multi = table.filter(table["question_type"] == "multi_choice")
    assert sorted(multi["answer"].to_list()) == ["ABD", "AC"] and set(multi["points"].to_list()) == {6.0}
    # the Math I paper of one year and variant spans the MCQ, blank and open files: one exam of 150 points
    exam = table.filter(table["exam_id"] == "2022/全国乙卷/理科数学")
    assert set(exam["question_type"].to_list()) == {"single_choice", "blank", "open"}
    assert set(exam["exam_total"].to_list()) == {150.0}
    expected = sum(len(e["answer"]) * e["score"] if isinstance(e["answer"], list) else e["score"]
                   for name, items in source.items() if "Math" in name
                   for e in items if e["category"] == "（全国乙卷）")
    assert exam["points"].sum() == expected
    # physics sits in the 300-point science paper; 新课标ⅰ of 2010 is that year's one 新课标 paper
    assert {"2022/全国甲卷/理科综合", "2010/新课标/理科综合", "2011/新课标/理科综合"} <= set(table["exam_id"].to_list())
    meta = json.loads(exam["meta"][0])
    assert (meta["paper"], meta["variant"], meta["category"]) == ("理科数学", "全国乙卷", "（全国乙卷）")
    assert "analysis" in meta and meta["bank"].startswith("2010-2022_Math_I")


def test_a_garbled_category_takes_the_paper_of_the_item_before_it(ws, tmp_path):
    item = {"year": "2023", "question": "1+1=?", "answer": ["B"], "analysis": "", "index": 0, "score": 5}
    items = [dict(item, category="全国甲卷理科"), dict(item, question="2+2=?", category="所以 $y=2 x$,\n则圆心到渐近线"),
             dict(item, question="3+3=?", category="全国甲卷文科")]
    path = tmp_path / "2023_Math_MCQs.json"
    path.write_text(json.dumps({"keywords": "2023_Math_MCQs", "example": items}, ensure_ascii=False))
    _, table = collect(ws, [path], "gaokao")
    by_q = dict(zip(table["question"], table["exam_id"], strict=True))
    assert by_q == {"1+1=?": "2023/全国甲卷/理科数学", "2+2=?": "2023/全国甲卷/理科数学", "3+3=?": "2023/全国甲卷/文科数学"}
    assert json.loads(table.filter(table["question"] == "2+2=?")["meta"][0])["variant_guessed"] is True


def test_the_whole_real_bank_groups_its_files_into_real_papers(ws):
    """GAOKAO-Bench as published: 32 files, 2,811 questions, 173 exams of (year, variant, paper)."""
    from curate.stages.value import Value, ValueParams

    summary, table = collect(ws, [BANK], "gaokao", name="bank")
    assert summary.kept == 2811 and summary.rejected == 0
    run_stage(ws, Value(ValueParams()), ["bank"], "valued")
    valued = ws.read("valued")
    assert valued.height == 2811 and valued["exam_id"].n_unique() == 173
    assert set(valued["total_source"]) == {"known"}

    def exam(exam_id: str) -> dict:
        rows = valued.filter(valued["exam_id"] == exam_id)
        banks = {json.loads(m)["bank"].split("_", 1)[1] for m in rows["meta"]}
        return {"total": set(rows["exam_total"]), "subjects": set(rows["subject"]), "banks": banks, "n": rows.height,
                "points": rows["points"].sum(), "value": rows["value"].sum()}

    # 2016 新课标Ⅰ: physics, chemistry and biology are one paper of 300 points, from five files
    science = exam("2016/新课标I/理科综合")
    assert science["total"] == {300.0} and science["subjects"] == {"Physics", "Chemistry", "Biology"}
    assert science["banks"] == {"Physics_MCQs", "Physics_Open-ended_Questions", "Chemistry_MCQs", "Biology_MCQs",
                                "Biology_Open-ended_Questions"}
    # its Chinese paper gathers all eight Chinese files, its English paper the five English ones (150 each)
    chinese, english = exam("2016/新课标I/语文"), exam("2016/新课标I/英语")
    assert chinese["total"] == english["total"] == {150.0} and len(chinese["banks"]) == 8 and len(english["banks"]) == 5
    # Math I and Math II are two papers of 150; history, geography and politics one of 300
    assert exam("2016/新课标I/理科数学")["subjects"] == {"Math_I"} and exam("2016/新课标I/文科数学")["total"] == {150.0}
    humanities = exam("2022/全国甲卷/文科综合")
    assert humanities["total"] == {300.0} and humanities["subjects"] == {"History", "Geography", "Political_Science"}
    # 2021 (甲卷) history and (全国甲卷) geography are one paper; 2020 全国卷Ⅲ Chinese is 新课标Ⅲ
    assert exam("2021/全国甲卷/文科综合")["subjects"] == {"History", "Geography", "Political_Science"}
    assert "2020/新课标III/语文" in set(valued["exam_id"]) and "2020/全国卷III/语文" not in set(valued["exam_id"])
    # the bank holds part of each paper: values sum to points / the real total, not to 1
    assert science["value"] == pytest.approx(science["points"] / 300)
    assert 0.02 < valued["value"].mean() < 0.05 and valued["scale"].mean() < 1.5


def test_broken_gaokao_files_are_rejected_with_reasons(ws):
    summary, table = collect(ws, sorted(BROKEN.glob("*.json")), "gaokao")
    reasons = {(r[1], r[0]) for r in rejects(ws)}
    assert ("truncated.json", "malformed_json") in reasons
    assert ("not_gaokao.json", "not_gaokao") in reasons
    assert ("latin1.json", "invalid_utf8") in reasons
    by_item = {loc: reason for loc, reason in reasons if loc.startswith("bad_items.json[")}
    assert by_item == {"bad_items.json[1]": "missing_field", "bad_items.json[2]": "bad_score",
                       "bad_items.json[3]": "bad_score", "bad_items.json[4]": "bad_answer",
                       "bad_items.json[5]": "bad_year", "bad_items.json[6]": "not_an_object",
                       "bad_items.json[7]": "bad_answer", "bad_items.json[8]": "missing_field"}
    # the one good item is kept: every item is kept or rejected, none dropped
    assert table.height == 1 and table["answer"][0] == "BD" and table["question_type"][0] == "multi_choice"
    assert summary.n_in == summary.kept + summary.rejected == 12


def test_rows_format_csv_and_jsonl(ws, tmp_path):
    summary, table = collect(ws, [FIXTURES / "rlev" / "questions.csv"], "rows")
    assert summary.kept == 3 and summary.rejected == 1
    [(reason, location, message)] = rejects(ws)
    assert reason == "schema_mismatch" and location == "questions.csv:4" and "points" in message
    row = table.filter(table["question"] == "What is 2 + 3?").row(0, named=True)
    assert (row["points"], row["exam_total"], row["exam_id"], row["difficulty"]) == (4.0, 10.0, "quiz-1", "primary")
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"question": "Pick two", "answer": ["A", "C"], "points": 2, "exam_id": "e"}) + "\n"
                     + "{broken\n")
    summary, table = collect(ws, [jsonl], "rows", name="q2")
    assert table["answer"].to_list() == ["A,C"] and summary.rejected == 1
    parquet = tmp_path / "q.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "1+1", "answer": "2", "points": 3.0, "exam_id": "p",
                                          "exam_total": 30.0, "difficulty": "primary"}]), parquet)
    summary, table = collect(ws, [parquet], "rows", name="q3")
    assert summary.kept == 1 and table.row(0, named=True)["exam_total"] == 30.0


def test_rows_format_refuses_unknown_files(ws, tmp_path, cli):
    path = tmp_path / "bank.txt"
    path.write_text("question")
    result = cli("collect", str(path), "--format", "rows", "--as", "q", workspace=tmp_path / "w")
    assert result.returncode == 2 and "--format rows reads .jsonl, .csv or .parquet" in result.stderr


def test_formats_are_listed(cli):
    result = cli("collect", "--help")
    assert "gaokao" in result.stdout and "rows" in result.stdout
