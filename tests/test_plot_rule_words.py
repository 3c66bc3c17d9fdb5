"""Words of a plot instruction that name an element, not a chart type (found on the AesCode sample), and
elements credited from what the figure shows."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from curate.judges.base import Sample  # noqa: E402
from curate.judges.plot_rules import Figure, alignment, wanted_types  # noqa: E402
from curate.sandbox import figure_facts  # noqa: E402


def test_colour_bar_and_error_bars_are_not_bar_charts():
    assert wanted_types("A heatmap of the correlation matrix with a colour bar") == {"heatmap"}
    assert wanted_types("A line chart of the means with error bars") == {"line"}
    assert wanted_types("A color bar next to the contour plot") == {"contour"}
    assert wanted_types("A bar chart of sales") == {"bar"}
    assert wanted_types("Stacked bars per region") == {"bar"}


def test_seaborn_heatmap_annotations_and_colour_bar_count():
    import seaborn as sns

    figure_facts.install()
    corr = np.corrcoef(np.random.default_rng(0).normal(size=(4, 30)))
    sample = Sample(id="x", instruction="A heatmap of the correlations, annotated with the coefficients and a colour bar",
                    code="", language="python")
    for labels, expected in ((("series", "series"), []), (("", ""), [("axis-labels", 4)])):  # 2 per heatmap axis
        ax = sns.heatmap(corr, annot=True, cbar=True)
        ax.set(title="r", xlabel=labels[0], ylabel=labels[1])
        facts = json.loads(figure_facts.safe_matplotlib_facts(ax.figure, 100))
        plt.close("all")
        assert [(f.rule, f.penalty) for f in alignment(sample, [Figure(facts)])] == expected
