"""Anti-gaming: a copy whose code mentions more (titles, labels, legends, the instruction's keywords) but
whose canvas shows less must lose to the original. Real samples, run for real: a seaborn example script
(tests/fixtures/plots, BSD-3) and one of our pages, through collect → exec (sandbox, Chromium) → judge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.stages.exec import Exec, ExecParams
from curate.stages.judge import Judge, JudgeParams
from curate.store import Workspace
from tests.judge_cases import PAGES_DIR

SCRIPT = (Path(__file__).parent / "fixtures" / "plots" / "scripts" / "seaborn__examples__wide_data_lineplot.py").read_text()
PLOT_INSTRUCTION = "A line chart of the four random walks, titled 'Four random walks', with labelled axes and a legend."
LABELS = 'ax = plt.gca()\nax.set_title("Four random walks")\nax.set_xlabel("Date")\nax.set_ylabel("Position")\n'
SHOWN = f"import matplotlib.pyplot as plt\n{LABELS}"
# each copy says "title", "xlabel", "ylabel" and "legend" in its code, and shows less than the original
PLOT_COPIES = {
    "empty_labels": SHOWN + 'ax.set_title("")\nax.set_xlabel("")\nax.set_ylabel("")\n',
    "transparent_text": SHOWN.replace('")', '", alpha=0)'),
    "white_on_white": SHOWN.replace('")', '", color="white")'),
    "one_point_font": SHOWN.replace('")', '", fontsize=1)'),
    "moved_off_the_figure": SHOWN + 'ax.set_title("Four random walks", y=4)\nax.xaxis.set_label_coords(0.5, -4)\n'
                            'ax.yaxis.set_label_coords(-4, 0.5)\n',
    "legend_without_handles": SHOWN + 'ax.get_legend().remove()\nax.legend(handles=[], title="legend")\n',
}
COFFEE = (PAGES_DIR / "coffee.html").read_text()
PAGE_INSTRUCTION = re.search(r"<!--\s*instruction:\s*(.*?)\s*-->", COFFEE, re.S).group(1)
KEYWORDS = ("coffee shop menu espresso flat white cold brew prices contact form email subscribe newsletter "
            "roastery beans latte cappuccino order") * 3
HIDERS = {
    "hidden_div": '<div style="display:none">{}</div>',
    "white_on_white": '<p style="color:#fffdf8;background:#fffdf8">{}</p>',
    "off_screen": '<p style="position:absolute;left:-9999px">{}</p>',
    "zero_size_font": '<p style="font-size:0">{}</p>',
    "behind_another_element": '<div style="position:relative"><p>{}</p><div style="position:absolute;inset:0;'
                              'background:#fffdf8"></div></div>',
}


def page_copy(how: str) -> str:
    """The page with its menu section gone (it shows less) and the keywords in a place no reader sees."""
    html = re.sub(r"<section[^>]*>.*?</section>", "", COFFEE, count=1, flags=re.S)
    return html.replace("</body>", HIDERS[how].format(KEYWORDS) + "</body>")


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("gaming")
    rows = [{"instruction": PLOT_INSTRUCTION, "code": f"{SCRIPT}\n{SHOWN}", "language": "python", "case": "plot"}]
    rows += [{"instruction": PLOT_INSTRUCTION, "code": f"{SCRIPT}\n{extra}", "language": "python", "case": f"plot:{how}"}
             for how, extra in PLOT_COPIES.items()]
    rows.append({"instruction": PAGE_INSTRUCTION, "code": COFFEE, "language": "html", "case": "page"})
    rows += [{"instruction": PAGE_INSTRUCTION, "code": page_copy(how), "language": "html", "case": f"page:{how}"}
             for how in HIDERS]
    (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws = Workspace(root / "ws")
    run_stage(ws, Collect(CollectParams(paths=[str(root / "in.jsonl")], kind="code")), [], "raw")
    run_stage(ws, Exec(ExecParams()), ["raw"], "executed", workers=1)
    run_stage(ws, Judge(JudgeParams()), ["executed"], "judged", workers=1)
    return {json.loads(r["meta"])["case"]: r for r in ws.read("judged").iter_rows(named=True)}


def rules(row: dict) -> set[str]:
    return {f["rule"] for f in json.loads(row["judge_findings"]) if f["penalty"]}


@pytest.mark.parametrize("how", list(PLOT_COPIES))
def test_a_plot_that_mentions_more_but_shows_less_loses(judged, how):
    original, copy = judged["plot"], judged[f"plot:{how}"]
    assert original["exec_ok"] and copy["exec_ok"], copy["exec_error"]
    assert original["score_total"] > copy["score_total"], (how, rules(copy))
    assert not {"title", "axis-labels", "requested-elements", "requested-text"} & rules(original)
    assert {"title", "requested-text", "requested-elements", "small-text"} & rules(copy)


def test_the_facts_say_why_a_text_is_not_there(judged):
    def why(case: str) -> set[str]:
        texts = json.loads(judged[case]["plot_facts"][0])["texts"]
        return {t.get("why") for t in texts if t["text"] in ("Four random walks", "Date", "Position")}
    assert why("plot") == {None}
    assert why("plot:transparent_text") == {"transparent"}
    assert why("plot:white_on_white") == {"no-contrast"}
    assert why("plot:moved_off_the_figure") == {"off-canvas"}
    facts = json.loads(judged["plot:legend_without_handles"]["plot_facts"][0])
    assert facts["axes"][0]["legend"] == [] and facts["axes"][0]["kinds"] == ["line"]


@pytest.mark.parametrize("how", list(HIDERS))
def test_a_page_with_hidden_keywords_loses(judged, how):
    original, copy = judged["page"], judged[f"page:{how}"]
    assert original["exec_ok"] and copy["exec_ok"]
    assert original["score_total"] > copy["score_total"], (how, rules(copy))
    facts = json.loads(copy["page_facts"])
    assert "espresso flat white cold brew" not in facts["visible_text"]
    assert sum(facts["hidden_text"].values()) >= len(KEYWORDS)
