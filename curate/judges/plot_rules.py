"""The built-in judge's rules for plots: what the figure shows (`plot_facts`, recorded while the sample ran)
and how the PNG looks. The code is never read: a title set to '' or drawn in white on white earns nothing.

Alignment (0–40): the chart kinds drawn against those the instruction asks for, a legible title and axis
labels, a legend when colours tell series apart, the elements asked for (legend, grid, annotations, colour
bar, log scale, subplots, error bars) and quoted texts, all as they appear on the canvas.
Aesthetics (0–30): text size and contrast, overlapping labels (from the facts), background, palette,
clutter and figure size (from the pixels). Structure (0–30): blank or sparse images, text cut at the edge,
hidden axes, empty axes, data cut off by the limits, a legend over the data, a squashed aspect, empty
bands, warnings on stderr.
"""

from __future__ import annotations

import re
from typing import Any

from curate.judges.base import Finding, Sample, Verdict
from curate.judges.image_metrics import ImageStats, measure

# kind: what an instruction says to ask for it
CHART_TYPES: dict[str, str] = {
    # "colour bar" and "error bars" are elements, not bar charts
    "bar": r"(?<!color )(?<!colour )(?<!error )\bbars?\b|column chart|barplot|countplot",
    "line": r"\bline (chart|plot|graph)|\blineplot|\btrend|time[- ]series",
    "scatter": r"\bscatter|\bbubble chart",
    "pie": r"\bpie\b|\bdonut|\bdoughnut",
    "histogram": r"\bhistogram",
    "box": r"\bbox ?plot|\bbox[- ]and[- ]whisker",
    "violin": r"\bviolin",
    "heatmap": r"\bheat ?map|correlation matrix",
    "area": r"\barea (chart|plot|graph)|stacked area",
    "3d": r"\b3d\b|three[- ]dimensional|\bsurface plot",
    "polar": r"\bpolar|\bradar|\bspider",
    "contour": r"\bcontour",
    "hexbin": r"\bhexbin|hexagonal bin",
    "ecdf": r"\becdf\b|empirical cumulative",
    "stem": r"\bstem (plot|chart)",
    "quiver": r"\bquiver|\bvector field",
    "map": r"\bchoropleth|\b(world|geographic|county|country) map|\bmap of",
    "treemap": r"\btreemap|\bsunburst|\bicicle",
}
# what else draws what an instruction asks for
SATISFIES: dict[str, set[str]] = {
    "line": {"line", "ecdf", "density", "stem"}, "histogram": {"histogram", "bar"}, "heatmap": {"heatmap", "hexbin"},
    "area": {"area", "density"}, "treemap": {"treemap", "sunburst"}, "pie": {"pie", "sunburst"},
    "quiver": {"quiver", "stream"}, "3d": {"3d", "surface"}, "contour": {"contour", "density"},
    "scatter": {"scatter"},
}
ELEMENTS: dict[str, str] = {
    "legend": r"\blegend",
    "grid": r"\bgrid ?lines?\b|\bwith (a )?grid|\bgrid\b",
    "annotations": r"\bannotat|data labels|value labels|label each",
    "colour bar": r"colou?r ?bar",
    "log scale": r"\blog(arithmic)?[- ]scale",
    "subplots": r"\bsubplots?\b|side[- ]by[- ]side|\bfacet",
    "error bars": r"error ?bars?|confidence interval",
}
QUOTED_RE = re.compile(r"['\"“]([^'\"”\n]{3,60})['\"”]")
NO_AXES = {"pie", "heatmap", "3d", "polar", "map", "treemap", "sunburst", "surface", "indicator", "table",
           "sankey", "parallel"}
GRID_KINDS = {"heatmap", "3d", "polar", "surface"}  # axes that a label helps but a reader can do without
COLOURMAPPED = {"heatmap", "contour", "hexbin", "surface", "map", "treemap", "sunburst", "density"}
SERIES_KINDS = {"line", "scatter", "area", "density", "ecdf"}
LEGIBLE_PX = 6.0      # text smaller than this is there but cannot be read: it earns nothing
SMALL_PX = 8.0        # the smallest comfortable size on a chart


def wanted_types(instruction: str) -> set[str]:
    text = instruction.lower()
    return {name for name, ask in CHART_TYPES.items() if re.search(ask, text)}


class Figure:
    """The facts of one image, read the same way for matplotlib and plotly."""

    def __init__(self, facts: dict[str, Any]):
        self.facts = facts
        self.plotly = facts.get("library") == "plotly"
        self.axes = [] if self.plotly else list(facts.get("axes") or [])
        self.texts = [t for t in facts.get("texts") or [] if isinstance(t, dict)]

    @property
    def legible(self) -> list[dict[str, Any]]:
        return [t for t in self.texts if t.get("visible") and float(t.get("px") or 0) >= LEGIBLE_PX]

    def said(self, role: str) -> bool:
        return any(t.get("role") == role for t in self.legible)

    @property
    def kinds(self) -> set[str]:
        if self.plotly:
            return set(self.facts.get("kinds") or [])
        return {k for a in self.axes for k in a.get("kinds") or []}

    @property
    def data_axes(self) -> list[dict[str, Any]]:
        return [a for a in self.axes if not a.get("empty")]

    def has_title(self) -> bool:
        return self.said("title") or self.said("suptitle")

    def has_axis_label(self, axis: str) -> bool:
        return self.said(f"{axis}label") or (axis in "xy" and self.said(f"sup{axis}label"))

    def legend_entries(self) -> int:
        return sum(1 for t in self.legible if t.get("role") == "legend")

    def element(self, name: str) -> bool:
        f = self.facts
        if name == "legend":
            return self.legend_entries() > 0
        if name == "grid":
            return any(a.get("grid") for a in self.axes) if not self.plotly else any(
                ax.get("showgrid") is not False for ax in (f.get("axes") or {}).values()) and bool(self.kinds - NO_AXES)
        if name == "annotations":
            return self.said("annotation") or bool(f.get("trace_text"))
        if name == "colour bar":
            return bool(f.get("colorbars")) or bool(f.get("colorbar"))
        if name == "log scale":
            if self.plotly:
                return any(ax.get("type") == "log" for ax in (f.get("axes") or {}).values())
            return any("log" in str(a.get(k)) for a in self.axes for k in ("xscale", "yscale"))
        if name == "subplots":
            return (f.get("subplots") or 1) > 1 if self.plotly else len(self.data_axes) > 1
        if name == "error bars":
            return any(a.get("errorbars") for a in self.axes) or bool(f.get("errorbars"))
        return False


def _figures(sample: Sample) -> list[Figure | None]:
    return [Figure(f) if isinstance(f, dict) and not f.get("error") else None for f in sample.plot_facts] + \
        [None] * (len(sample.images) - len(sample.plot_facts))


def alignment(sample: Sample, figures: list[Figure]) -> list[Finding]:
    text = sample.instruction.lower()
    found: list[Finding] = []
    wanted = wanted_types(sample.instruction)
    drawn = set().union(*(f.kinds for f in figures)) if figures else set()
    met = {w for w in wanted if drawn & SATISFIES.get(w, {w})}
    if wanted and not met:
        found.append(Finding("alignment", "chart-type", 15, f"asked for a {'/'.join(sorted(wanted))} chart, "
                                                            f"the figure shows {'/'.join(sorted(drawn)) or 'no chart'}"))
    elif len(wanted) > 1 and met != wanted:
        found.append(Finding("alignment", "chart-type", 6, f"missing chart type: {', '.join(sorted(wanted - met))}"))
    if not any(f.has_title() for f in figures):
        found.append(Finding("alignment", "title", 8, "no legible title on the figure"))
    kinds = wanted | drawn
    per_axis = 4 if kinds - NO_AXES or not kinds else 2 if kinds & GRID_KINDS else 0
    missing = [axis for axis in ("x", "y") if not any(f.has_axis_label(axis) for f in figures)]
    if per_axis and missing:
        found.append(Finding("alignment", "axis-labels", per_axis * len(missing),
                             f"no legible {' or '.join(missing)} axis label on the figure"))
    asked = [name for name, ask in ELEMENTS.items() if re.search(ask, text)]
    absent = [name for name in asked if not any(f.element(name) for f in figures)]
    if absent:
        found.append(Finding("alignment", "requested-elements", round(9 * len(absent) / len(asked), 2),
                             f"asked for but not shown: {', '.join(absent)}"))
    if "legend" not in asked and not any(f.element("legend") or f.element("annotations") for f in figures):
        series = max([a.get("series") or 0 for f in figures for a in f.data_axes
                      if set(a.get("kinds") or []) & SERIES_KINDS]
                     + [f.facts.get("series") or 0 for f in figures if f.plotly], default=0)
        if series >= 2:
            found.append(Finding("alignment", "legend", 4, f"{series} series told apart by colour, "
                                                           "but no legend says which is which"))
    quoted = [q for q in QUOTED_RE.findall(sample.instruction) if not q.strip().endswith((".csv", ".json"))]
    shown = " ".join(t.get("text", "") for f in figures for t in f.legible).lower()
    lost = [q for q in quoted if q.lower() not in shown]
    if lost:
        found.append(Finding("alignment", "requested-text", round(8 * len(lost) / len(quoted), 2),
                             f"requested text not shown: {', '.join(repr(q) for q in lost[:3])}"))
    return found


def text_findings(figure: Figure, stats: ImageStats) -> list[Finding]:
    """Legibility: size and contrast of the texts, and texts running into each other."""
    found: list[Finding] = []
    texts = [t for t in figure.texts if t.get("visible")]
    if figure.plotly and figure.facts.get("tick_px"):  # the tick labels plotly.js draws, at their size
        texts = texts + [{"text": "0000", "px": figure.facts["tick_px"], "visible": True}]
    weights = [max(1, len(str(t.get("text") or ""))) for t in texts]
    if texts:
        small = sum(w for t, w in zip(texts, weights, strict=True) if float(t.get("px") or 0) < SMALL_PX) / sum(weights)
        smallest = min(float(t.get("px") or 0) for t in texts)
        if small > 0.1 or smallest < LEGIBLE_PX:
            found.append(Finding("aesthetics", "small-text", round(min(8.0, 2 + 8 * small), 2),
                                 f"{small:.0%} of the text is under {SMALL_PX:g} px (smallest {smallest:.1f} px)"))
        low = sum(w for t, w in zip(texts, weights, strict=True) if float(t.get("contrast") or 21) < 4.5) / sum(weights)
        if low > 0.05:
            worst = min(texts, key=lambda t: float(t.get("contrast") or 21))
            found.append(Finding("aesthetics", "text-contrast", round(min(7.0, 2 + 8 * low), 2),
                                 f"{low:.0%} of the text is below WCAG contrast 4.5:1 (worst "
                                 f"{float(worst.get('contrast') or 0):.1f}:1, {str(worst.get('text'))[:30]!r})"))
    elif stats.label_contrast is not None and stats.label_contrast < 4.5:  # text the facts cannot place
        found.append(Finding("aesthetics", "text-contrast", 7 if stats.label_contrast < 3 else 3,
                             f"tick labels have contrast {stats.label_contrast:.1f}:1 (WCAG asks 4.5:1)"))
    overlap = max((max((a.get("tick_overlap") or {}).values(), default=0) for a in figure.axes), default=0.0)
    if figure.plotly:  # estimated from the labels' sizes and the room plotly.js gives them, else the pixels
        crowding = float(figure.facts.get("tick_crowding") or 0)
        overlap = max(stats.label_overlap, min(1.0, crowding - 1) if crowding > 1.1 else 0.0)
    if overlap > 0:
        found.append(Finding("aesthetics", "label-overlap", round(min(10.0, 3 + 10 * overlap), 2),
                             f"{overlap:.0%} of an axis's tick labels run into each other"))
    pairs = int(figure.facts.get("text_overlaps") or 0)
    if pairs:
        found.append(Finding("aesthetics", "text-overlap", min(6, 2 * pairs), f"{pairs} pair(s) of texts overlap"))
    return found


def looks(stats: ImageStats, figure: Figure) -> list[Finding]:
    found = text_findings(figure, stats)
    loud = _loud_background(figure) if figure.facts.get("background") else (
        f"rgb{stats.background}" if stats.background_sat > 0.35 and stats.background_val > 0.3 else None)
    if loud:
        found.append(Finding("aesthetics", "loud-background", 8, f"saturated background colour {loud}"))
    if stats.loud_pairs:
        found.append(Finding("aesthetics", "clashing-colours", 5,
                             f"{stats.loud_pairs} pair(s) of fully saturated, far-apart hues side by side"))
    if stats.pure_share > 0.5 and stats.saturated_share > 0.03:
        found.append(Finding("aesthetics", "raw-colours", 4,
                             f"{stats.pure_share:.0%} of the coloured ink is raw primary/secondary colour"))
    if len(stats.hues) > 6 and not (figure.kinds & COLOURMAPPED or figure.element("colour bar")):
        found.append(Finding("aesthetics", "busy-palette", 2, f"{len(stats.hues)} distinct hues"))
    if stats.ink_share > 0.6 and stats.background_sat <= 0.35:
        found.append(Finding("aesthetics", "clutter", 3, f"ink covers {stats.ink_share:.0%} of the figure"))
    if stats.width < 300 or stats.height < 200:
        found.append(Finding("aesthetics", "tiny-figure", 3, f"figure is only {stats.width}×{stats.height} px"))
    return found


def _loud_background(figure: Figure) -> str | None:
    """A saturated figure or plotting-area background, from the colours the figure declares (the pixels
    would take a chart that fills its axes for its background)."""
    backgrounds = [figure.facts.get("background"), figure.facts.get("plot_background"),
                   *(a.get("background") for a in figure.axes)]
    for colour in backgrounds:
        if isinstance(colour, str) and len(colour) == 7:
            rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
            sat = (max(rgb) - min(rgb)) / max(rgb) if max(rgb) else 0.0
            if sat > 0.35 and max(rgb) > 0.3:
                return colour
    return None


def structure(stats: ImageStats, figure: Figure, sample: Sample) -> list[Finding]:
    if stats.ink_share < 0.005:
        return [Finding("structure", "blank", 30, "the figure is blank")]
    found: list[Finding] = []
    f = figure.facts
    if stats.ink_share < 0.01:
        found.append(Finding("structure", "sparse", 5, f"ink covers only {stats.ink_share:.1%} of the figure"))
    clipped = int(f.get("clipped_texts") or 0)
    if clipped:
        found.append(Finding("structure", "text-cut-off", min(6, 2 * clipped), f"{clipped} text(s) cut at the "
                                                                             "edge of the figure"))
    if stats.border_ink > 0.2:
        found.append(Finding("structure", "cut-at-edge", 6, f"{stats.border_ink:.0%} of the border is inked: "
                                                            "content runs off the figure"))
    needs_axes = [a for a in figure.data_axes if set(a.get("kinds") or []) - NO_AXES]
    if any(not a.get("axis_on", True) for a in needs_axes) or (figure.plotly and (figure.kinds - NO_AXES) and any(
            ax.get("visible") is False for ax in (f.get("axes") or {}).values())):
        found.append(Finding("structure", "axes-hidden", 8, "the axes of a chart that needs them are switched off"))
    empty = [a for a in figure.axes if a.get("empty")]
    if empty or (figure.plotly and not figure.kinds):
        found.append(Finding("structure", "empty-axes", min(8, 4 * max(1, len(empty))),
                             f"{max(1, len(empty))} axes with nothing drawn in them"))
    shares = [a["data_in_view"] for a in figure.data_axes if a.get("data_in_view") is not None]
    if figure.plotly and f.get("data_in_view") is not None:
        shares.append(f["data_in_view"])
    if shares and min(shares) < 0.9:
        found.append(Finding("structure", "data-cut-off", round(min(12.0, 12 * (0.9 - min(shares)) + 2), 2),
                             f"only {min(shares):.0%} of the data lies inside the axis limits"))
    covered = max((float(a.get("legend_covers") or 0) for a in figure.axes), default=0.0)
    area = max((float(a.get("legend_area") or 0) for a in figure.data_axes), default=0.0)
    if covered > 0.05 or area > 0.3 or (figure.plotly and f.get("legend_inside") and float(f.get("legend_px") or 0) >= 16):
        found.append(Finding("structure", "legend-over-data", round(min(8.0, 3 + 20 * covered + 5 * area), 2),
                             f"the legend covers {covered:.0%} of the data points and {area:.0%} of the chart"
                             if not figure.plotly else "a large legend sits over the plotting area"))
    found += _aspect(figure, stats)
    if stats.blank_band > 0.35:
        found.append(Finding("structure", "empty-region", 6, f"an empty band {stats.blank_band:.0%} of the height"))
    warnings = [line for line in sample.stderr.splitlines() if "Warning" in line]
    if warnings:
        found.append(Finding("structure", "warnings", min(6, 2 * len(warnings)), f"{len(warnings)} warning(s): "
                                                                                 f"{warnings[0].strip()[:120]}"))
    return found


def _aspect(figure: Figure, stats: ImageStats) -> list[Finding]:
    """A figure or a lone chart squashed flat or thin (ridge plots and facet rows are many axes: exempt)."""
    width, height = float(figure.facts.get("width") or stats.width), float(figure.facts.get("height") or stats.height)
    ratio = height / width if width else 1.0
    boxes = [a.get("box") for a in figure.data_axes if a.get("box")]
    if len(boxes) == 1:
        b = boxes[0]
        w, h = b[2] - b[0], b[3] - b[1]
        ratio = min(ratio, h / w) if ratio < 1 and w > 0 else max(ratio, h / w) if w > 0 else ratio
    flatness = min(ratio, 1 / ratio) if ratio > 0 else 0.0
    if flatness < 0.25:  # the further past 1:4, the worse
        return [Finding("structure", "squashed", round(min(10.0, 4 + 24 * (0.25 - flatness)), 2),
                        f"the {'chart' if len(boxes) == 1 else 'figure'} is {'flat' if ratio < 1 else 'thin'}: "
                        f"height/width {ratio:.2f}")]
    return []


NO_FACTS = [Finding("alignment", "no-facts", 40, "nothing recorded about what the figure shows (re-run "
                                                 "`curate exec`): nothing can be credited")]


def judge_plot(sample: Sample) -> Verdict:
    if not sample.images:
        return Verdict.from_findings([Finding("alignment", "no-figure", 40, "the code produced no figure"),
                                      Finding("aesthetics", "no-figure", 30, "nothing to look at"),
                                      Finding("structure", "no-figure", 30, "no figure")])
    stats = [measure(p) for p in sample.images]
    figures = _figures(sample)
    known = [f for f in figures if f is not None]
    findings = alignment(sample, known) if known else list(NO_FACTS)
    # with several figures, the worst one speaks for the sample
    per_image = [looks(s, f or Figure({})) + structure(s, f or Figure({}), sample) for s, f in zip(stats, figures, strict=True)]
    findings += max(per_image, key=lambda fs: sum(x.penalty for x in fs))
    return Verdict.from_findings(findings)
