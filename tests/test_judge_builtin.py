"""The built-in judge: it ranks clean charts and pages above degraded copies, explains every point it
takes, and the judge stage writes the reward's terms (an execution or lint failure gates the rest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from curate.judges.base import Sample
from curate.judges.builtin import judge_builtin
from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.stages.exec import Exec, ExecParams
from curate.stages.filter import Filter, FilterParams
from curate.stages.judge import Judge, JudgeParams
from curate.stages.reward import Reward, RewardParams
from curate.store import Workspace
from tests.judge_cases import (
    PAGE_DEGRADATIONS,
    PLOT_DEGRADATIONS,
    PLOTS,
    clean_pages,
    degrade_page,
    degrade_plot,
    render_plot,
)

BAD_LINT = ("<html><head><title>x</title></head><body><div id='a'>one</div><div id='a'>two</div>"
            "<p>never closed</body></html>")
PLOT_OK = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.title('Two bars')\nplt.xlabel('k')\nplt.ylabel('v')\n"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Workspace:
    """Clean and degraded pages, two plots (one failing) and an unlinted page: collected, executed, judged."""
    root = tmp_path_factory.mktemp("judged")
    rows = []
    for i, (instruction, html) in enumerate(clean_pages()):
        rows.append({"instruction": instruction, "code": html, "language": "html", "case": f"{i}:clean"})
        rows += [{"instruction": instruction, "code": degrade_page(html, how), "language": "html", "case": f"{i}:{how}"}
                 for how in PAGE_DEGRADATIONS]
    rows += [{"instruction": "A bar chart with two bars", "code": f"```python\n{PLOT_OK}```", "language": "python",
              "case": "plot:ok"},
             {"instruction": "A plot that crashes", "code": "raise RuntimeError('no data')", "language": "python",
              "case": "plot:fails"},
             {"instruction": "A page", "code": BAD_LINT, "language": "html", "case": "page:lint"}]
    ws = Workspace(root / "ws")
    run_stage(ws, Collect(CollectParams(paths=[str(write_jsonl(root / "in.jsonl", rows))], kind="code")), [], "raw")
    run_stage(ws, Exec(ExecParams()), ["raw"], "executed", workers=1)
    run_stage(ws, Judge(JudgeParams()), ["executed"], "judged", workers=1)
    return ws


def by_case(ws: Workspace) -> dict[str, dict]:
    frame = ws.read("judged").with_columns(pl.col("meta").str.json_path_match("$.case").alias("case"))
    return {r["case"]: r for r in frame.iter_rows(named=True)}


def plot_pairs(tmp_path: Path) -> list[tuple[str, float, float, list[str]]]:
    def verdict(plot, name):
        image, facts = render_plot(plot, tmp_path / f"{name}.png")
        return judge_builtin(Sample(id=name, instruction=plot.instruction, code=plot.code(), language="python",
                                    exec_ok=True, images=[image], plot_facts=[facts]))
    pairs = []
    for i, plot in enumerate(PLOTS):
        clean = verdict(plot, f"clean{i}")
        for how in PLOT_DEGRADATIONS:
            worse = verdict(degrade_plot(plot, how), f"{how}{i}")
            pairs.append((f"plot{i}:{how}", clean.total, worse.total, [f.rule for f in worse.findings]))
    return pairs


def test_clean_beats_degraded_in_at_least_90_percent_of_pairs(judged, tmp_path):
    rows = by_case(judged)
    pairs = plot_pairs(tmp_path)
    for key, row in rows.items():
        page, how = key.split(":")
        if page.isdigit() and how != "clean":
            findings = [f["rule"] for f in json.loads(row["judge_findings"])]
            pairs.append((key, rows[f"{page}:clean"]["score_total"], row["score_total"], findings))
    assert len(pairs) >= 60
    wins = [p for p in pairs if p[1] > p[2]]
    assert len(wins) / len(pairs) >= 0.9, [p for p in pairs if p[1] <= p[2]]
    # a degraded copy that lost points says why
    assert all(rules for _, _, _, rules in wins)


def test_findings_explain_every_point(judged):
    for row in judged.read("judged").iter_rows(named=True):
        findings = json.loads(row["judge_findings"])
        lost = sum(f["penalty"] for f in findings if f["dimension"] in ("alignment", "aesthetics", "structure"))
        assert row["score_total"] == pytest.approx(max(0.0, 100 - lost), abs=0.05) or lost > 100
        for dimension, top in (("alignment", 40), ("aesthetics", 30), ("structure", 30)):
            assert 0 <= row[f"score_{dimension}"] <= top
        assert row["judge_name"] == "builtin" and row["judge_error"] is None


def test_degradations_are_named(judged):
    rows = by_case(judged)
    expected = {"clashing_colours": "text-contrast", "overflowing_layout": "overflow", "styles_stripped": "unstyled",
                "missing_title": "title", "overlapping_boxes": "overlapping-boxes"}
    for key, row in rows.items():
        page, how = key.split(":")
        if page.isdigit() and how in expected:
            assert expected[how] in {f["rule"] for f in json.loads(row["judge_findings"])}, key


def test_exec_failure_and_lint_gate_the_reward(judged):
    rows = by_case(judged)
    failed = rows["plot:fails"]
    assert failed["exec_ok"] is False and failed["score_total"] == 0
    assert failed["r_exec"] == -1 and failed["reward"] == pytest.approx(-0.1) and failed["r_static"] is None
    ok = rows["plot:ok"]
    assert ok["r_exec"] == 1 and ok["r_static"] == pytest.approx(ok["score_total"] / 100)
    assert ok["reward"] == pytest.approx(0.1 + 0.8 * ok["r_static"])  # interactive off: its term counts 0
    lint = rows["page:lint"]
    assert lint["exec_ok"] is True and lint["r_exec"] == -1 and lint["reward"] == pytest.approx(-0.1)
    rules = {f["message"].split(" (")[0] for f in json.loads(lint["judge_findings"]) if f["rule"] == "html-lint"}
    assert rules and "doctype-first" in next(iter(rules))
    clean = rows["0:clean"]
    assert clean["r_exec"] == 1 and clean["reward"] == pytest.approx(0.1 + 0.8 * clean["score_total"] / 100)


def test_reward_stage_reweighs_without_judging(judged):
    weights = dict(w_exec=0.2, w_static=0.6, w_inter=0.2)
    run_stage(judged, Reward(RewardParams(**weights)), ["judged"], "reweighed")
    rows = judged.read("reweighed")
    assert rows["score_total"].to_list() == judged.read("judged")["score_total"].to_list()
    for row in rows.iter_rows(named=True):
        if row["r_exec"] < 0:
            assert row["reward"] == pytest.approx(-0.2)
        else:
            assert row["reward"] == pytest.approx(0.2 + 0.6 * row["score_total"] / 100)


def test_cli_judge_and_eval_aesthetics(judged, cli, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(judged.root, ws)
    few = "json_extract_string(meta, '$.case') IN ('0:clean', '0:clashing_colours', 'plot:ok', 'plot:fails')"
    run_stage(Workspace(ws), Filter(FilterParams(where=few)), ["executed"], "few")
    done = cli("judge", "few", "--as", "again", "--w-static", "0.7", "--interactive", "builtin",
               "--interactions", "3", workspace=ws)
    assert done.returncode == 0, done.stderr
    assert "judged 4" in done.stderr and "failed 0" in done.stderr
    again = Workspace(ws).read("again").sort("id")
    first = judged.read("judged").filter(pl.col("id").is_in(again["id"].to_list())).sort("id")
    assert again["score_total"].to_list() == first["score_total"].to_list()  # deterministic
    for row in again.filter(pl.col("exec_ok")).iter_rows(named=True):
        if row["language"] == "html":  # the coffee page's contact form and its degraded twin were explored
            assert 1 <= len(row["inter_scores"]) <= 3 and set(row["inter_scores"]) <= {0.0, 1.0}
            assert row["r_inter"] == pytest.approx(sum(row["inter_scores"]) / 3)
            assert row["reward"] == pytest.approx(0.1 + 0.7 * row["score_total"] / 100 + 0.1 * row["r_inter"])
        else:
            assert row["inter_scores"] is None and row["r_inter"] is None
            assert row["reward"] == pytest.approx(0.1 + 0.7 * row["score_total"] / 100)
    figures = cli("eval", "aesthetics", "judged", "--json", "--plot", str(tmp_path / "hist.png"), workspace=ws)
    assert figures.returncode == 0, figures.stderr
    data = json.loads(figures.stdout)
    pages = judged.read("judged").filter(pl.col("language") == "html")
    included = pages.filter(pl.col("score_total") > 0)
    assert data["opendesign"]["pages"] == pages.height
    assert data["opendesign"]["mean_total"] == pytest.approx(included["score_total"].mean(), abs=1e-3)
    assert data["opendesign"]["good_rate"] == pytest.approx((included["score_total"] >= 75).mean(), abs=1e-3)
    assert data["pandasplotbench"]["plots"] == 2 and data["pandasplotbench"]["error_rate"] == 0.5
    assert (tmp_path / "hist.png").read_bytes()[:4] == b"\x89PNG"
    missing = cli("eval", "aesthetics", "raw", workspace=ws)
    assert missing.returncode == 2 and "judge it first" in missing.stderr
    unexecuted = cli("judge", "raw", "--as", "nope", workspace=ws)
    assert unexecuted.returncode == 2 and "curate exec" in unexecuted.stderr and "Traceback" not in unexecuted.stderr
