"""`curate value` on hand-made exams: v = points / T_i, s = 1 + min(alpha * v, 1), totals and their sources,
the controls, weak values from difficulty (a MATH-shaped set), and the answer checks of an RL set."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from curate.errors import CurateError
from curate.rlev.exams import canonical_key, read_totals
from curate.rlev.papers import exam_key
from curate.rlev.values import scale
from curate.runner import run_stage
from curate.stages.value import Value, ValueParams
from curate.store import Workspace


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    """Small sources: run units in this process rather than spawning a pool on a shared 2-core box."""
    monkeypatch.setenv("CURATE_WORKERS", "1")



def make_table(ws: Workspace, rows: list[dict], name: str = "q") -> str:
    """Write rows as a workspace table through the real collect stage (rows format, question kind)."""
    from curate.stages.collect import Collect, CollectParams

    path = ws.root.parent / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run_stage(ws, Collect(CollectParams(paths=[str(path)], format="rows")), [], name)
    return name


def value(ws: Workspace, table: str, out: str = "v", **params) -> tuple[pl.DataFrame, object]:
    summary = run_stage(ws, Value(ValueParams(**params)), [table], out)
    return ws.read(out), summary


def rejects(ws: Workspace, table: str) -> dict[str, str]:
    with ws.connect(read_only=True) as con:
        rows = con.execute("SELECT row_id, reason FROM rejects WHERE table_name = ?", [table]).fetchall()
    return dict(rows)


# Exam A: 7 questions worth 5, 5, 10, 10, 15, 20, 35 points (no total given): T = 100.
EXAM_A = [{"question": f"A{i}", "answer": "1", "points": p, "exam_id": "A"}
          for i, p in enumerate([5, 5, 10, 10, 15, 20, 35])]


def test_values_of_an_exam_sum_to_one_when_its_total_is_the_sum(ws):
    frame, summary = value(ws, make_table(ws, EXAM_A))
    assert summary.kept == 7 and frame["total_source"].unique().to_list() == ["derived"]
    assert frame["exam_total"].unique().to_list() == [100.0]
    assert math.isclose(frame["value"].sum(), 1.0)
    for row in frame.iter_rows(named=True):
        assert math.isclose(row["value"], row["points"] / 100)
        # s = 1 + min(10 v, 1): 5 points → 1.5, 10 points → 2, 35 points → clipped at 2
        assert math.isclose(row["scale"], 1 + min(10 * row["points"] / 100, 1))
    assert sorted(set(frame["scale"].round(6).to_list())) == [1.5, 2.0]


def test_scale_formula():
    assert scale(0.0) == 1.0 and scale(0.02) == pytest.approx(1.2) and scale(0.1) == 2.0 and scale(1.0) == 2.0
    assert scale(0.05, alpha=4) == pytest.approx(1.2)


def test_alpha_changes_the_scale(ws):
    frame, _ = value(ws, make_table(ws, EXAM_A), alpha=2.0)
    top = frame.filter(pl.col("points") == 35).row(0, named=True)
    assert math.isclose(top["scale"], 1 + min(2 * 0.35, 1))


def test_total_sources_and_their_precedence(ws, tmp_path):
    rows = EXAM_A + [{"question": "B1", "answer": "x", "points": 6, "exam_id": "B", "exam_total": 60},
                     {"question": "B2", "answer": "y", "points": 4, "exam_id": "B", "exam_total": 60},
                     {"question": "C1", "answer": "z", "points": 12, "exam_id": "C", "subject": "Math"}]
    table = make_table(ws, rows)
    totals = tmp_path / "totals.yaml"
    totals.write_text("A: 150\nMath: 120\n")
    frame, _ = value(ws, table, totals=totals)
    by_exam = {r["exam_id"]: r for r in frame.iter_rows(named=True)}
    assert (by_exam["A"]["exam_total"], by_exam["A"]["total_source"]) == (150.0, "override")
    assert (by_exam["B"]["exam_total"], by_exam["B"]["total_source"]) == (60.0, "known")
    assert (by_exam["C"]["exam_total"], by_exam["C"]["total_source"]) == (120.0, "override")  # by subject
    assert math.isclose(frame.filter(pl.col("exam_id") == "A")["value"].sum(), 100 / 150)
    assert by_exam["A"]["exam_points"] == 100.0
    # a totals file may override a source's own total, by exam id
    totals.write_text('{"B": 50}')
    totals_json = totals.with_suffix(".json")
    totals.rename(totals_json)
    frame, _ = value(ws, table, "v2", totals=totals_json)
    b = frame.filter(pl.col("exam_id") == "B").row(0, named=True)
    assert (b["exam_total"], b["total_source"]) == (50.0, "override")


def test_gaokao_totals_are_overridden_per_paper_or_per_exam(ws, tmp_path):
    rows = [{"question": f"q{i}", "answer": "1", "points": 6, "subject": s, "paper": "理科综合", "year": y,
             "category": c, "exam_total": 300}
            for i, (s, y, c) in enumerate([("Physics", 2016, "（新课标Ⅰ）"), ("Biology", 2016, "(新课标ⅰ)"),
                                           ("Physics", 2017, "（新课标Ⅰ）"), ("Physics", 2016, "（新课标Ⅱ）")])]
    table = make_table(ws, rows)
    totals = tmp_path / "totals.yaml"
    # a paper key, and a (year, variant, paper) key written as the bank writes its variants, nested
    totals.write_text("理科综合: 290\n2016:\n  （新课标ⅰ）:\n    理科综合: 280\n")
    frame, _ = value(ws, table, totals=totals)
    by_q = {r["question"]: (r["exam_id"], r["exam_total"], r["total_source"]) for r in frame.iter_rows(named=True)}
    assert by_q["q0"] == by_q["q1"] == ("2016/新课标I/理科综合", 280.0, "override")
    assert by_q["q2"] == ("2017/新课标I/理科综合", 290.0, "override")
    frame, _ = value(ws, table, "v2")
    assert set(frame["total_source"]) == {"known"} and set(frame["exam_total"]) == {300.0}
    totals.write_text("Biology: 250\n")  # a subject key: the paper its questions sit in
    frame, _ = value(ws, table, "v3", totals=totals)
    assert set(frame.filter(pl.col("exam_id") == "2016/新课标I/理科综合")["exam_total"]) == {250.0}
    assert set(frame.filter(pl.col("exam_id") != "2016/新课标I/理科综合")["exam_total"]) == {300.0}
    assert canonical_key("2016/（新课标Ⅰ）/理科综合") == "2016/新课标I/理科综合" == exam_key(2016, "新课标I", "理科综合")


def test_warns_when_an_exam_looks_incomplete(ws, tmp_path, cli):
    table = make_table(ws, EXAM_A[:3])  # 20 of the exam's points
    totals = tmp_path / "totals.csv"
    totals.write_text("exam_id,total\nA,100\n")
    result = cli("value", table, "--totals", str(totals), "--as", "v", workspace=ws.root)
    assert result.returncode == 0, result.stderr
    err = " ".join(result.stderr.split())
    assert "1 of 1 exams with a known total hold fewer points than it" in err and "A: 20 of 100 points" in err
    # the distribution, beside the paper's: values 0.05, 0.05, 0.1
    assert "mean v 0.0667 · mean s 1.667 · v > 0.1: 0.00% (of 3)" in err and "RLEV paper" in err
    frame = ws.read("v")
    assert math.isclose(frame["value"].sum(), 0.2) and set(frame["total_source"]) == {"override"}


def test_warns_with_numbers_when_derived_totals_look_incomplete(ws, capsys):
    # five papers of one subject summing to 100 points, one to 10, one with a single question
    rows = [{"question": f"{e}{i}", "answer": "1", "points": 20, "year": 2000 + e, "subject": "Physics"}
            for e in range(5) for i in range(5)]
    rows += [{"question": "x1", "answer": "1", "points": 5, "year": 2010, "subject": "Physics"},
             {"question": "x2", "answer": "1", "points": 5, "year": 2010, "subject": "Physics"},
             {"question": "y1", "answer": "1", "points": 8, "year": 2011, "subject": "Physics"}]
    frame, _ = value(ws, make_table(ws, rows))
    assert set(frame["total_source"]) == {"derived"} and frame["exam_id"].n_unique() == 7
    err = " ".join(capsys.readouterr().err.split())
    assert "7 exams use derived totals" in err and "median 100" in err
    assert "2 sum to less than half the median of their paper (e.g. 2011/Physics: 8 points, 8% of the median)" in err
    assert "1 hold a single question, whose value is then 1 (e.g. 2011/Physics)" in err


def test_rows_that_cannot_get_a_value_are_rejected_with_reasons(ws):
    rows = EXAM_A[:2] + [
        {"question": "D1", "answer": "1", "points": 5, "exam_id": "D", "exam_total": 50},
        {"question": "D2", "answer": "2", "points": 5, "exam_id": "D", "exam_total": 40},  # conflicting totals
        {"question": "E1", "answer": "3", "points": 70, "exam_id": "E", "exam_total": 50},  # more than the exam
        {"question": "F1", "answer": "4", "points": 3},  # no exam, nothing to derive one from
    ]
    table = make_table(ws, rows)
    frame, summary = value(ws, table)
    assert summary.n_in == 6 and summary.kept == 2 and summary.rejected == 4
    ids = {r["question"]: r["id"] for r in ws.read(table).iter_rows(named=True)}
    assert rejects(ws, "v") == {ids["D1"]: "conflicting_exam_total", ids["D2"]: "conflicting_exam_total",
                                ids["E1"]: "points_exceed_total", ids["F1"]: "no_exam"}


def test_exam_ids_are_derived_from_year_variant_and_paper(ws):
    rows = [{"question": "q1", "answer": "1", "points": 3, "subject": "Math", "year": 2020, "category": "（新课标Ⅰ）"},
            {"question": "q2", "answer": "2", "points": 7, "subject": "Math", "year": 2020, "category": "(新课标ⅰ)"},
            {"question": "q3", "answer": "3", "points": 5, "subject": "Math", "year": 2020, "category": "新课标II"}]
    frame, _ = value(ws, make_table(ws, rows))
    by_q = {r["question"]: r for r in frame.iter_rows(named=True)}
    assert by_q["q1"]["exam_id"] == by_q["q2"]["exam_id"] == "2020/新课标I/Math"
    assert by_q["q3"]["exam_id"] == "2020/新课标II/Math"
    assert math.isclose(by_q["q1"]["value"], 0.3) and by_q["q3"]["value"] == 1.0


def test_exam_helpers(tmp_path):
    assert exam_key(2019, None, "Physics") == "2019/Physics" and exam_key(2019, "新课标I", None) is None
    bad = tmp_path / "t.yaml"
    bad.write_text("A: -3\n")
    with pytest.raises(CurateError, match="positive"):
        read_totals(bad)


def test_difficulty_weak_labels(ws):
    rows = [{"question": f"q{i}", "answer": "1", "points": 1, "exam_id": "X", "difficulty": d}
            for i, d in enumerate(["primary", "Junior", "senior", "university", "PhD", "kindergarten"])]
    table = make_table(ws, rows)
    frame, summary = value(ws, table, value_source="difficulty")
    assert summary.rejected == 1 and list(summary.reasons) == ["unknown_difficulty"]
    got = dict(zip(frame["difficulty"], frame["value"], strict=True))
    assert got == {"primary": 0.01, "Junior": 0.02, "senior": 0.04, "university": 0.06, "PhD": 0.08}
    assert set(frame["value_source"]) == {"difficulty"}
    frame, _ = value(ws, table, "v2", value_source="difficulty",
                     difficulty_map={"primary": 0.1, "junior": 0.2, "senior": 0.3, "university": 0.4,
                                     "phd": 0.5, "kindergarten": 0.05})
    assert frame.height == 6 and frame.filter(pl.col("difficulty") == "kindergarten")["scale"][0] == 1.5


def test_weak_values_from_math_levels(ws, cli, tmp_path):
    """A MATH-shaped set (problem, level, type, solution): its levels 1–5 mapped explicitly to the paper's
    (1, 2, 4, 6, 8) / 100; `Level ?` has no value and is rejected with the reason."""
    from curate.stages.collect import Collect, CollectParams
    from tests.conftest import FIXTURES

    summary = run_stage(ws, Collect(CollectParams(paths=[str(FIXTURES / "rlev" / "math")], format="math")), [], "math")
    assert summary.rejected == 1  # the problem without a boxed answer: no_answer
    table = ws.read("math")
    assert table.height == 11 and set(table["difficulty"]) == {f"Level {i}" for i in range(1, 6)} | {"Level ?"}
    assert table.filter(pl.col("question").str.contains("Simplify"))["answer"].to_list() == [r"\frac{3}{4}"]
    levels = "Level 1=0.01,Level 2=0.02,Level 3=0.04,Level 4=0.06,Level 5=0.08"
    result = cli("value", "math", "--value-source", "difficulty", "--difficulty-map", levels, "--as", "weak",
                 workspace=ws.root)
    assert result.returncode == 0, result.stderr
    frame = ws.read("weak")
    got = {r["difficulty"]: (r["value"], r["scale"]) for r in frame.iter_rows(named=True)}
    assert got == {"Level 1": (0.01, pytest.approx(1.1)), "Level 2": (0.02, pytest.approx(1.2)),
                   "Level 3": (0.04, pytest.approx(1.4)), "Level 4": (0.06, pytest.approx(1.6)),
                   "Level 5": (0.08, pytest.approx(1.8))}
    assert "reasons: unknown_difficulty 1" in " ".join(result.stdout.split() + result.stderr.split())
    assert set(frame["check"]) == {"rules"}  # MATH's boxed answers are all checkable


def test_answer_checks_and_undecidable_rows_left_out_of_an_rl_set(ws):
    rows = [{"question": "q1", "answer": "B", "points": 5, "exam_id": "E", "question_type": "single_choice"},
            {"question": "q2", "answer": r"$\frac{1}{2}$", "points": 5, "exam_id": "E", "question_type": "blank"},
            {"question": "q3", "answer": "洋务运动创办了近代企业，引进了西方的技术，培养了人才，但没有改变落后的社会制度，"
                                         "最终失败了。" * 2, "points": 12, "exam_id": "E", "question_type": "open"}]
    table = make_table(ws, rows)
    frame, _ = value(ws, table)
    assert dict(zip(frame["question"], frame["check"], strict=True)) == {"q1": "rules", "q2": "rules", "q3": "undecided"}
    frame, _ = value(ws, table, "j", judge=True)
    assert frame.filter(pl.col("question") == "q3")["check"].to_list() == ["judge"]
    frame, summary = value(ws, table, "rl", drop_undecidable=True)
    assert frame["question"].to_list() == ["q1", "q2"] and summary.filtered == 1
    assert list(summary.reasons) == ["undecidable"]
    assert math.isclose(frame["value"].sum(), 10 / 22)  # the exam's total still counts the dropped question


def test_uniform_and_shuffle_controls(ws):
    table = make_table(ws, EXAM_A)
    true, _ = value(ws, table)
    uniform, _ = value(ws, table, "u", uniform=True)
    assert uniform["value"].to_list() == true["value"].to_list()
    assert set(uniform["scale"].round(9)) == {round(true["scale"].mean(), 9)}
    shuffled, _ = value(ws, table, "s", shuffle=True, seed=3)
    again, _ = value(ws, table, "s2", shuffle=True, seed=3)
    # the scales (what the reward pays) are permuted; the true values stay, for H-Acc
    assert shuffled["value"].to_list() == true["value"].to_list()
    assert sorted(shuffled["scale"]) == sorted(true["scale"]) and shuffled["scale"].to_list() != true["scale"].to_list()
    assert shuffled["scale"].to_list() == again["scale"].to_list()  # seeded
    with pytest.raises(ValueError, match="pick one"):
        ValueParams(uniform=True, shuffle=True)
