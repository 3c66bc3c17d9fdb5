"""plot_facts: what a figure shows, read from the live figure (matplotlib, seaborn) or a plotly figure's
JSON. In-process here (the sandbox runs the same module: test_judge_gaming.py goes through it)."""

from __future__ import annotations

import base64
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from curate.sandbox import figure_facts  # noqa: E402

figure_facts.install()


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def facts(fig) -> dict:
    return json.loads(figure_facts.safe_matplotlib_facts(fig, 100))


def texts(f: dict) -> dict[str, dict]:
    return {t["text"]: t for t in f["texts"]}


def test_kinds_come_from_the_calls_that_drew_what_is_still_shown():
    import seaborn as sns

    fig, axes = plt.subplots(2, 3, figsize=(9, 6))
    axes[0, 0].bar(["a", "b"], [1, 2])
    axes[0, 1].hist(np.random.default_rng(0).normal(size=200), bins=12)
    sns.violinplot(data=[np.arange(10), np.arange(5, 15)], ax=axes[0, 2])  # drawn with fill_between
    axes[1, 0].plot([1, 2, 3], [3, 1, 2], "o")
    axes[1, 1].imshow(np.eye(4))
    hidden = axes[1, 2].bar(["x"], [1])
    for patch in hidden:
        patch.set_alpha(0)
    kinds = [a["kinds"] for a in facts(fig)["axes"]]
    assert kinds == [["bar"], ["histogram"], ["violin"], ["scatter"], ["heatmap"], []]
    assert facts(fig)["axes"][5]["empty"] is True


def test_a_text_counts_only_when_a_reader_can_see_it():
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([1, 2, 3], [1, 3, 2], label="series")
    ax.set_title("Seen title", fontsize=12)  # in points, whatever rcParams another test left
    ax.set_xlabel("faded", alpha=0)
    ax.set_ylabel("white", color="white")
    ax.text(0.5, 9, "far away", transform=ax.transAxes)
    ax.annotate("tiny", (2, 2), fontsize=1)
    ax.legend()
    f = facts(fig)
    t = texts(f)
    assert t["Seen title"]["visible"] and t["Seen title"]["px"] == pytest.approx(12 * 100 / 72, abs=0.5)
    assert t["faded"]["why"] == "transparent" and t["white"]["why"] == "no-contrast"
    assert t["far away"]["why"] == "off-canvas"
    assert t["tiny"]["visible"] and t["tiny"]["px"] < 2  # drawn, but the judge finds it illegible
    axes = f["axes"][0]
    assert (axes["title"], axes["xlabel"], axes["ylabel"], axes["legend"]) == ("Seen title", "", "", ["series"])


def test_crowded_ticks_cut_data_and_a_legend_over_the_data():
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 10, 200)
    ax.scatter(x, np.sin(x), label="points")
    ax.set_xticks(np.linspace(0, 10, 30), [f"category {i}" for i in range(30)])
    ax.legend(loc="center", fontsize=20, markerscale=3, framealpha=1)
    axes = facts(fig)["axes"][0]
    assert axes["tick_overlap"]["x"] > 0.5 and axes["legend_covers"] > 0.05
    ax.set_xlim(4, 6)
    assert facts(fig)["axes"][0]["data_in_view"] < 0.3
    clean, ax2 = plt.subplots(figsize=(6, 4))
    ax2.scatter(x, np.sin(x), label="points")
    ax2.legend(loc="best")
    tidy = facts(clean)["axes"][0]
    assert tidy["tick_overlap"]["x"] == 0 and tidy["data_in_view"] == 1 and tidy["legend_covers"] < 0.05


def test_rotated_tick_labels_that_do_not_touch_are_not_overlaps():
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([f"label {i}" for i in range(12)], range(12))
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    assert facts(fig)["axes"][0]["tick_overlap"]["x"] == 0


def test_plotly_facts_from_the_figure_json():
    y = base64.b64encode(np.array([1.0, 5.0, 9.0], dtype="f8").tobytes()).decode()
    figure = {"data": [{"type": "bar", "name": "a", "x": [1, 2, 3], "y": {"dtype": "f8", "bdata": y}},
                       {"type": "scatter", "mode": "markers", "name": "b", "x": [1, 2, 3], "y": [2, 3, 4],
                        "error_y": {"array": [0.1, 0.2, 0.1]}}],
              "layout": {"title": {"text": "Sales"}, "xaxis": {"title": {"text": ""}, "range": [0, 2.5]},
                         "yaxis": {"title": {"text": "Units", "font": {"color": "rgba(0,0,0,0)"}}, "type": "log"},
                         "legend": {"x": 0.5, "y": 0.5}}}
    f = json.loads(figure_facts.safe_plotly_facts(json.dumps(figure)))
    assert f["kinds"] == ["bar", "scatter"] and f["title"] == "Sales" and f["legend"] == ["a", "b"]
    assert f["axes"]["xaxis"]["title"] == "" and f["axes"]["yaxis"]["title"] == ""  # transparent
    assert f["axes"]["yaxis"]["type"] == "log" and f["errorbars"] and f["legend_inside"]
    assert f["data_in_view"] < 1  # x = 3 lies outside [0, 2.5]
    assert json.loads(figure_facts.safe_plotly_facts("not json"))["error"]


def test_plotly_tick_crowding_counts_the_ticks_plotly_would_draw():
    """With the angle fixed, labels that do not fit run into each other: on a numeric axis plotly.js picks
    a step of 1, 2 or 5 × 10^k for `nticks`, so four bars with nticks=60 get 61 labels such as "1.05"."""
    def crowding(xaxis):
        figure = {"data": [{"type": "bar", "x": [1, 2, 3, 4], "y": [1, 4, 9, 16]}], "layout": {"xaxis": xaxis}}
        return json.loads(figure_facts.safe_plotly_facts(json.dumps(figure)))["tick_crowding"]

    assert crowding({}) is None  # plotly.js turns labels that do not fit
    assert crowding({"tickangle": 0}) < 1  # its own few ticks fit
    assert crowding({"tickangle": 0, "nticks": 60, "tickfont": {"size": 14}}) > 1.1


def test_the_record_is_bounded():
    fig, ax = plt.subplots()
    for i in range(400):
        ax.text(i / 400, 0.5, "x" * 500)
    assert len(figure_facts.safe_matplotlib_facts(fig, 100).encode()) <= figure_facts.MAX_BYTES
