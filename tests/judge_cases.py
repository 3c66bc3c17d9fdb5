"""Clean charts and pages and degraded copies of them, for the built-in judge's ranking test and bench.

Plots are matplotlib code built from parts, so a degradation is a real change of the code that a user
could have written (clashing colours, crowded labels, no title or labels, content pushed off the figure,
axes switched off, unreadable text). Pages are hand-written HTML files under `fixtures/judge/pages/`; their
degradations strip the styles, clash the colours, stack sections on top of each other, overflow the
viewport or drop the title and headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

PAGES_DIR = Path(__file__).parent / "fixtures" / "judge" / "pages"


@dataclass(frozen=True)
class Plot:
    instruction: str
    data: str
    draw: str
    title: str
    xlabel: str
    ylabel: str
    figsize: str = "(8, 5)"
    colors: str = '["#4C72B0", "#DD8452", "#55A868", "#8172B3"]'
    style: str = ""
    extra: str = ""
    layout: str = "fig.tight_layout()"
    labels: bool = True

    def code(self) -> str:
        lines = ["import matplotlib", 'matplotlib.use("Agg")', "import matplotlib.pyplot as plt",
                 "import numpy as np", "rng = np.random.default_rng(0)", f"COLORS = {self.colors}", self.data,
                 f"fig, ax = plt.subplots(figsize={self.figsize})", self.style, self.draw]
        if self.labels:
            lines += [f"ax.set_title({self.title!r})", f"ax.set_xlabel({self.xlabel!r})",
                      f"ax.set_ylabel({self.ylabel!r})"]
        lines += [self.extra, self.layout]
        return "\n".join(line for line in lines if line) + "\n"


MONTHS = "cats = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug']\nvals = [3, 5, 2, 6, 4, 7, 5, 3]"
PLOTS = [
    Plot("Draw a bar chart of monthly sales with the title 'Monthly Sales' and labelled axes.", MONTHS,
         "ax.bar(cats, vals, color=COLORS[0])", "Monthly Sales", "Month", "Units sold"),
    Plot("Plot a line chart of the daily temperature in two cities over 30 days, with a legend.",
         "x = np.arange(30)\na = 15 + 5 * np.sin(x / 5)\nb = 12 + 4 * np.cos(x / 6)",
         "ax.plot(x, a, color=COLORS[0], label='Oslo')\nax.plot(x, b, color=COLORS[1], label='Bergen')\nax.legend()",
         "Daily temperature", "Day", "Temperature (°C)"),
    Plot("Make a scatter plot of height against weight with a grid.",
         "h = rng.normal(170, 8, 120)\nw = 0.9 * h - 90 + rng.normal(0, 6, 120)",
         "ax.scatter(h, w, color=COLORS[2], alpha=0.7)\nax.grid(alpha=0.3)", "Height and weight", "Height (cm)",
         "Weight (kg)"),
    Plot("Show a histogram of exam scores.", "scores = rng.normal(65, 12, 400)",
         "ax.hist(scores, bins=20, color=COLORS[3], edgecolor='white')", "Exam scores", "Score", "Students"),
    Plot("Create a box plot comparing response times of three servers.",
         "groups = [rng.normal(m, 10, 80) for m in (100, 120, 90)]",
         "ax.boxplot(groups)\nax.set_xticks([1, 2, 3], ['alpha', 'beta', 'gamma'])", "Response times", "Server",
         "Milliseconds"),
    Plot("Plot a horizontal bar chart of the population of five cities.",
         "cities = ['Lyon', 'Nice', 'Lille', 'Nantes', 'Rennes']\npop = [5.2, 3.4, 2.3, 3.1, 2.2]",
         "ax.barh(cities, pop, color=COLORS[0])", "City population", "Population (100k)", "City"),
    Plot("Draw an area chart of website visits per week.",
         "weeks = np.arange(1, 21)\nvisits = 1000 + 300 * np.sin(weeks / 3) + weeks * 20",
         "ax.fill_between(weeks, visits, color=COLORS[1], alpha=0.5)\nax.plot(weeks, visits, color=COLORS[1])",
         "Weekly visits", "Week", "Visits"),
    Plot("Make a grouped bar chart of revenue and cost per quarter, with a legend.",
         "q = np.arange(4)\nrev = [12, 15, 14, 18]\ncost = [8, 9, 11, 10]",
         "ax.bar(q - 0.2, rev, 0.4, color=COLORS[0], label='Revenue')\n"
         "ax.bar(q + 0.2, cost, 0.4, color=COLORS[1], label='Cost')\n"
         "ax.set_xticks(q, ['Q1', 'Q2', 'Q3', 'Q4'])\nax.legend()", "Revenue and cost", "Quarter", "EUR (M)"),
]
LONG_LABELS = ("ax.set_xticks(ax.get_xticks()[1:-1] if len(ax.get_xticks()) > 4 else ax.get_xticks())\n"
               "ax.set_xticks(np.linspace(*ax.get_xlim(), 12)[1:-1], "
               "[f'measurement category {i}' for i in range(10)])")


def degrade_plot(plot: Plot, how: str) -> Plot:
    if how == "clashing_colours":
        return replace(plot, colors='["#ff0000", "#00ff00", "#0000ff", "#ffff00"]',
                       style="fig.patch.set_facecolor('#ff00ff')\nax.set_facecolor('#00ff00')",
                       extra="ax.tick_params(colors='#ffff00')")
    if how == "overlapping_labels":
        return replace(plot, figsize="(5, 4)", extra=LONG_LABELS)
    if how == "missing_title_axes":
        return replace(plot, labels=False)
    if how == "overflowing_layout":
        return replace(plot, layout="fig.subplots_adjust(left=0, right=1, bottom=0, top=1)",
                       extra="ax.set_title(ax.get_title(), fontsize=40)")
    if how == "axes_off":
        return replace(plot, extra="ax.axis('off')")
    if how == "unreadable_text":
        return replace(plot, extra="ax.tick_params(labelcolor='#e8e8e8')\nax.title.set_color('#e8e8e8')")
    raise ValueError(how)


PLOT_DEGRADATIONS = ("clashing_colours", "overlapping_labels", "missing_title_axes", "overflowing_layout",
                     "axes_off", "unreadable_text")


def render_plot(plot: Plot, out: Path) -> tuple[Path, dict]:
    """Run the plot's code (our own, trusted) in this process, as the sandbox would: its figure saved, and
    the facts of what it shows."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curate.sandbox import figure_facts

    figure_facts.install()
    scope: dict[str, object] = {}
    exec(plot.code(), scope)  # noqa: S102 - fixtures we wrote
    facts = json.loads(figure_facts.safe_matplotlib_facts(scope["fig"], 80))
    scope["fig"].savefig(out, dpi=80)
    plt.close("all")
    return out, facts


# ----- pages ----------------------------------------------------------------------------------------
def clean_pages() -> list[tuple[str, str]]:
    """(instruction, html) of each clean page; the instruction is the page's first comment."""
    pages = []
    for path in sorted(PAGES_DIR.glob("*.html")):
        html = path.read_text()
        instruction = re.search(r"<!--\s*instruction:\s*(.*?)\s*-->", html, re.S).group(1)
        pages.append((instruction, html))
    return pages


def _inject(html: str, css: str) -> str:
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


def degrade_page(html: str, how: str) -> str:
    if how == "styles_stripped":
        html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
        return re.sub(r'\sstyle="[^"]*"', "", html)
    if how == "clashing_colours":
        return _inject(html, "body, header, section, footer, main, nav { background: #ff00ff !important; }"
                             " * { color: #ffff00 !important; } button, .card { background: #00ff00 !important; }")
    if how == "overlapping_boxes":
        return _inject(html, "section, .card, figure, main > ul, main > ol { position: absolute !important; top: 140px !important;"
                             " left: 60px !important; }")
    if how == "overflowing_layout":
        return _inject(html, "section, header, .card, main { min-width: 2400px !important; }")
    if how == "missing_title":
        html = re.sub(r"<title>.*?</title>", "", html, flags=re.S)
        return re.sub(r"<h1[^>]*>.*?</h1>", "", html, flags=re.S)
    raise ValueError(how)


PAGE_DEGRADATIONS = ("styles_stripped", "clashing_colours", "overlapping_boxes", "overflowing_layout",
                     "missing_title")
