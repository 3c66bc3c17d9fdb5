"""Facts about what a sample's figures show, read from the live figures: what the judges score instead
of the code. Standalone on purpose: imported inside the sandbox by the harness, no `curate` imports.

- `install()` tags the artists each plotting call creates with the chart kind it draws (`bar`, `box`,
  `violin`, ...). The outermost call wins, so seaborn's violins (drawn with `fill_between`) are violins and
  a histogram drawn with `bar` is a histogram. Kinds are read back from the artists still in the figure
  and visible, so a bar chart whose bars were removed or made transparent draws nothing.
- `matplotlib_facts(fig, dpi)` reads a figure as it will be saved at `dpi`: per axes the kinds drawn, the
  visible title, axis labels and legend entries, tick labels and their overlaps, scales, grid, colour bars,
  how much of the data lies inside the view and under the legend; every text with its size in pixels,
  its box on the canvas and its contrast against what is behind it.
- `plotly_facts(figure)` reads the same from a plotly figure's JSON (trace types, titles, legend,
  annotations, scales); where the text lands is only known from the rendered image.

A text counts as visible only when it says something, is shown, is not transparent, has a size, lies on
the canvas and differs from its background (contrast of at least `MIN_CONTRAST`). Everything recorded is
capped (axes, texts, characters) so a hostile figure cannot make the record large.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from typing import Any

MAX_AXES = 24
MAX_TEXTS = 160
MAX_CHARS = 80
MAX_POINTS = 400          # data points sampled per axes for "in view" and "under the legend"
MAX_BYTES = 32_000
MIN_CONTRAST = 1.25       # below this a text is the colour of its background: not there for a reader

# Axes methods and the kind they draw (None: reference lines and spans, not a chart of their own).
AXES_KINDS = {
    "bar": "bar", "barh": "bar", "broken_barh": "bar", "hist": "histogram", "stairs": "histogram",
    "pie": "pie", "scatter": "scatter", "plot": "line", "step": "line", "loglog": "line", "semilogx": "line",
    "semilogy": "line", "errorbar": "line", "fill_between": "area", "fill_betweenx": "area",
    "stackplot": "area", "boxplot": "box", "bxp": "box", "violinplot": "violin", "violin": "violin",
    "imshow": "heatmap", "matshow": "heatmap", "pcolor": "heatmap", "pcolormesh": "heatmap",
    "pcolorfast": "heatmap", "hist2d": "heatmap", "tripcolor": "heatmap", "hexbin": "hexbin",
    "contour": "contour", "contourf": "contour", "tricontour": "contour", "tricontourf": "contour",
    "triplot": "line", "quiver": "quiver", "barbs": "quiver", "streamplot": "stream", "stem": "stem",
    "eventplot": "event", "ecdf": "ecdf", "axhline": None, "axvline": None, "axline": None, "hlines": None,
    "vlines": None, "axhspan": None, "axvspan": None,
}
AXES3D_KINDS = {"plot_surface": "surface", "plot_wireframe": "surface", "plot_trisurf": "surface",
                "bar3d": "bar", "voxels": "bar", "scatter": "scatter", "plot": "line", "quiver": "quiver",
                "stem": "stem", "contour": "contour", "contourf": "contour", "fill_between": "area"}
# seaborn draws through its plotters; tagging them gives its own names to what it drew
SEABORN_KINDS = {
    "categorical._CategoricalPlotter": {"plot_strips": "scatter", "plot_swarms": "scatter", "plot_boxes": "box",
                                        "plot_boxens": "box", "plot_violins": "violin", "plot_points": "line",
                                        "plot_bars": "bar"},
    "distributions._DistributionPlotter": {"plot_univariate_histogram": "histogram",
                                           "plot_bivariate_histogram": "heatmap",
                                           "plot_univariate_density": "density",
                                           "plot_bivariate_density": "contour", "plot_univariate_ecdf": "ecdf"},
    "matrix._HeatMapper": {"plot": "heatmap"},
    "regression._RegressionPlotter": {"plot": "scatter"},
    "relational._ScatterPlotter": {"plot": "scatter"},
    "relational._LinePlotter": {"plot": "line"},
}
ERRORBAR_CALLS = {("categorical._CategoricalPlotter", "plot_errorbars")}
_depth = [0]


# ----- tagging what each plotting call draws --------------------------------------------------------
def install() -> None:
    """Wrap the plotting calls once (in the zygote, before any sample runs)."""
    from matplotlib.axes import Axes

    for name, kind in AXES_KINDS.items():
        _wrap(Axes, name, kind, errorbar=name == "errorbar")
    try:
        from mpl_toolkits.mplot3d.axes3d import Axes3D

        for name, kind in AXES3D_KINDS.items():
            _wrap(Axes3D, name, kind)
    except ImportError:
        pass
    try:
        import importlib

        for where, methods in SEABORN_KINDS.items():
            module, cls = where.rsplit(".", 1)
            owner = getattr(importlib.import_module(f"seaborn.{module}"), cls)
            for name, kind in methods.items():
                _wrap(owner, name, kind, by_diff=True)
        for where, name in ERRORBAR_CALLS:
            module, cls = where.rsplit(".", 1)
            _wrap(getattr(importlib.import_module(f"seaborn.{module}"), cls), name, None, by_diff=True,
                  errorbar=True)
    except (ImportError, AttributeError):
        pass


def _wrap(owner: type, name: str, kind: str | None, by_diff: bool = False, errorbar: bool = False) -> None:
    func = owner.__dict__.get(name)
    if func is None or getattr(func, "_curate_wrapped", False):
        return

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = _depth[0] == 0
        before = _all_artists() if by_diff and (outer or errorbar) else None
        _depth[0] += 1
        try:
            result = func(*args, **kwargs)
        finally:
            _depth[0] -= 1
        if outer or errorbar:
            try:
                made = [a for a in _all_artists().values() if id(a) not in before] if before is not None \
                    else _artists_in(result)
                for artist in made:
                    if outer:
                        artist._curate_kind = kind or "reference"
                    if errorbar:
                        artist._curate_errorbar = True
            except Exception:  # noqa: BLE001 - tagging must never break a sample
                pass
        return result

    wrapper._curate_wrapped = True
    setattr(owner, name, wrapper)


def _all_artists() -> dict[int, Any]:
    from matplotlib._pylab_helpers import Gcf

    out: dict[int, Any] = {}
    for manager in Gcf.get_all_fig_managers():
        for ax in manager.canvas.figure.axes:
            for artist in _children(ax):
                out[id(artist)] = artist
    return out


def _artists_in(value: Any, depth: int = 0) -> list[Any]:
    from matplotlib.artist import Artist

    if isinstance(value, Artist):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [a for v in value for a in _artists_in(v, depth + 1)]
    # a streamplot's set, a bar container's error bars
    parts = [getattr(value, k, None) for k in ("lines", "arrows", "patches", "errorbar")]
    return [a for p in parts if p is not None for a in _artists_in(p, depth + 1)]


def _children(ax: Any) -> list[Any]:
    return list(getattr(ax, "_children", None) or [*ax.lines, *ax.collections, *ax.patches, *ax.images])


# ----- colours ------------------------------------------------------------------------------------
def _rgba(colour: Any) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    try:
        return tuple(float(c) for c in to_rgba(colour))  # type: ignore[return-value]
    except (ValueError, TypeError):
        return (0.0, 0.0, 0.0, 1.0)


def _over(top: tuple[float, ...], under: tuple[float, ...], alpha: float | None = None) -> tuple[float, ...]:
    a = top[3] if alpha is None else alpha
    return tuple(a * t + (1 - a) * u for t, u in zip(top[:3], under[:3], strict=True)) + (1.0,)


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2])


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG contrast ratio of two colours (0–1 channels)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _hex(rgb: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(1.0, c)) * 255):02x}" for c in rgb[:3])


# ----- matplotlib ---------------------------------------------------------------------------------
class _Canvas:
    """Display coordinates of the drawn figure mapped to pixels of the image saved at `dpi`."""

    def __init__(self, fig: Any, dpi: float):
        self.scale = dpi / fig.dpi
        self.width = fig.get_figwidth() * dpi
        self.height = fig.get_figheight() * dpi

    def box(self, bbox: Any) -> list[float]:
        """[left, top, right, bottom] in saved pixels, origin at the top left."""
        s = self.scale
        return [round(bbox.x0 * s, 1), round(self.height - bbox.y1 * s, 1), round(bbox.x1 * s, 1),
                round(self.height - bbox.y0 * s, 1)]

    def on_canvas(self, box: list[float]) -> float:
        """Share of a box's area that lies on the canvas."""
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        if area <= 0:
            return 0.0
        inside = max(0.0, min(box[2], self.width) - max(box[0], 0)) * max(0.0, min(box[3], self.height) - max(box[1], 0))
        return inside / area


def matplotlib_facts(fig: Any, dpi: float = 100) -> dict[str, Any]:
    """What one matplotlib figure shows when saved at `dpi` (see the module docstring)."""
    fig.draw_without_rendering()  # lays the figure out as saving will: text sizes, tight/constrained layout
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
    canvas = _Canvas(fig, dpi)
    face = _over(_rgba(fig.get_facecolor()), (1.0, 1.0, 1.0, 1.0))  # a transparent figure is seen on white
    data_axes = [ax for ax in fig.axes if ax.get_visible() and getattr(ax, "_colorbar", None) is None]
    texts: list[dict[str, Any]] = []
    axes_facts = [_axes_facts(ax, fig, renderer, canvas, face, texts) for ax in data_axes[:MAX_AXES]]
    legends = [_legend_entries(leg, renderer, canvas, face, texts, "legend") for leg in fig.legends]
    for t in fig.texts:
        role = ("suptitle" if t is getattr(fig, "_suptitle", None) else "supxlabel"
                if t is getattr(fig, "_supxlabel", None) else "supylabel" if t is getattr(fig, "_supylabel", None)
                else "text")
        _text(t, role, renderer, canvas, fig, face, texts)
    shown = [t for t in texts if t["visible"]]
    geometry = {ax.get_subplotspec().get_gridspec().get_geometry() for ax in data_axes
                if hasattr(ax, "get_subplotspec") and ax.get_subplotspec() is not None}
    facts = {
        "library": "matplotlib", "width": round(canvas.width), "height": round(canvas.height), "dpi": dpi,
        "background": _hex(face),
        "suptitle": next((t["text"] for t in shown if t["role"] == "suptitle"), ""),
        "axes": [a for a in axes_facts if a is not None],
        "figure_legends": [entries for entries in legends if entries],
        "colorbars": sum(getattr(ax, "_colorbar", None) is not None and ax.get_visible() for ax in fig.axes),
        "grid": [max((g[0] for g in geometry), default=1), max((g[1] for g in geometry), default=1)],
        "texts": _capped_texts(texts),
        "min_text_px": min((t["px"] for t in shown), default=None),
        "text_overlaps": _overlapping_pairs(shown),
        "clipped_texts": sum(1 for t in texts if t["visible"] and t["on_canvas"] < 0.98),
    }
    return facts


def _axes_facts(ax: Any, fig: Any, renderer: Any, canvas: _Canvas, face: tuple[float, ...],
                texts: list[dict[str, Any]]) -> dict[str, Any] | None:
    projection = getattr(ax, "name", "rectilinear")
    patch = ax.patch
    framed = ax.get_frame_on() if callable(getattr(ax, "get_frame_on", None)) else True  # 3D axes have none
    ax_face = _over(_rgba(patch.get_facecolor()), face) if patch.get_visible() and framed else face
    drawn = [a for a in _children(ax) if _shown(a)]
    kinds = sorted({k for k in (_kind(a) for a in drawn) if k and k != "reference"}
                   | ({"3d"} if projection == "3d" else set()) | ({"polar"} if projection == "polar" else set()))
    data = [a for a in drawn if getattr(a, "_curate_kind", None) != "reference"]
    if not ax.axison and not drawn and not ax.texts:
        return None  # a hidden, unused axes is not part of the picture
    facts: dict[str, Any] = {"projection": projection, "kinds": kinds, "box": canvas.box(ax.bbox),
                             "empty": not data, "axis_on": bool(ax.axison),
                             "background": _hex(ax_face)}
    for role, t in (("title", ax.title), ("title", getattr(ax, "_left_title", None)),
                    ("title", getattr(ax, "_right_title", None))):
        if t is not None:
            _text(t, role, renderer, canvas, fig, ax_face if _inside(t, renderer, ax) else face, texts)
    facts["title"] = " ".join(e["text"] for e in texts[-3:] if e["role"] == "title" and e["visible"] and e["ax"] is ax)
    labels = {"x": ax.xaxis, "y": ax.yaxis}
    if projection == "3d":
        labels["z"] = ax.zaxis
    for name, axis in labels.items():
        entry = _text(axis.label, f"{name}label", renderer, canvas, fig, face, texts)
        facts[f"{name}label"] = entry["text"] if entry and entry["visible"] else ""
    facts["ticklabels"], facts["tick_overlap"] = {}, {}
    for name, axis in labels.items():
        entries = [_text(label, f"{name}tick", renderer, canvas, fig, ax_face if projection == "3d" else face, texts)
                   for label in _tick_labels(axis)]
        shown = [e for e in entries if e and e["visible"]]
        facts["ticklabels"][name] = len(shown)
        facts["tick_overlap"][name] = round(_tick_overlap(shown), 3)
    for t in ax.texts:
        _text(t, "annotation", renderer, canvas, fig, ax_face if _inside(t, renderer, ax) else face, texts)
    facts["annotations"] = sum(1 for e in texts if e["role"] == "annotation" and e["visible"] and e["ax"] is ax)
    legend = ax.get_legend()
    facts["legend"] = _legend_entries(legend, renderer, canvas, face, texts, "legend", ax) if legend else []
    facts["xscale"], facts["yscale"] = ax.get_xscale(), ax.get_yscale()
    facts["grid"] = any(line.get_visible() for line in [*ax.get_xgridlines(), *ax.get_ygridlines()])
    facts["errorbars"] = any(getattr(a, "_curate_errorbar", False) for a in data)
    facts["series"] = _series(data)
    points = _points(data, ax) if projection == "rectilinear" else None
    if points is not None and len(points):
        x0, y0, x1, y1 = ax.bbox.x0 - 1, ax.bbox.y0 - 1, ax.bbox.x1 + 1, ax.bbox.y1 + 1
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
        facts["data_in_view"] = round(float(inside.mean()), 3)
        facts["legend_covers"] = round(_covered(points[inside], legend, renderer), 3) if legend and facts["legend"] else 0.0
    else:
        facts["data_in_view"], facts["legend_covers"] = None, 0.0
    facts["legend_area"] = round(_legend_area(legend, ax, renderer), 3) if legend and facts["legend"] else 0.0
    return facts


def _shown(artist: Any) -> bool:
    """Whether an artist puts visible ink on the canvas."""
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    try:
        if not artist.get_visible() or (artist.get_alpha() is not None and artist.get_alpha() <= 0.02):
            return False
        if isinstance(artist, Line2D):
            if len(artist.get_xdata()) == 0 or _rgba(artist.get_color())[3] <= 0.02:
                return False
            line = artist.get_linestyle() not in ("None", "none", "", " ") and artist.get_linewidth() > 0
            marker = str(artist.get_marker()) not in ("None", "none", "", " ")
            return line or marker
        if isinstance(artist, Collection):
            if not len(artist.get_paths()) and not len(artist.get_offsets()):
                return False
            colours = [*artist.get_facecolor(), *(artist.get_edgecolor() if max(artist.get_linewidth(), default=0) > 0 else [])]
            return any(c[3] > 0.02 for c in colours) or getattr(artist, "get_array", lambda: None)() is not None
        if isinstance(artist, Patch):
            fill = artist.get_fill() and artist.get_facecolor()[3] > 0.02
            edge = artist.get_linewidth() > 0 and artist.get_edgecolor()[3] > 0.02
            extents = artist.get_extents()
            return (fill or edge) and extents.width > 0 and extents.height > 0
        if isinstance(artist, AxesImage):
            return artist.get_array() is not None and artist.get_array().size > 0
        return True
    except Exception:  # noqa: BLE001 - an artist we cannot read is counted as drawn
        return True


def _kind(artist: Any) -> str | None:
    """The kind an artist draws: its call's tag, else what its class says."""
    from matplotlib.collections import PathCollection, PolyCollection, QuadMesh
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle, Wedge

    kind = getattr(artist, "_curate_kind", None)
    if isinstance(artist, Line2D) and kind in (None, "line"):
        no_line = artist.get_linestyle() in ("None", "none", "", " ")
        return "scatter" if no_line else "line"
    if kind:
        return kind
    if type(artist).__name__ in ("QuadContourSet", "ContourSet", "TriContourSet"):
        return "contour"
    for cls, name in ((PathCollection, "scatter"), (QuadMesh, "heatmap"), (AxesImage, "heatmap"),
                      (Wedge, "pie"), (Rectangle, "bar"), (PolyCollection, "area")):
        if isinstance(artist, cls):
            return name
    return None


def _series(artists: list[Any]) -> int:
    """How many colours tell the data apart (lines, bars, markers; colour-mapped artists count as one)."""
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours: set[tuple[float, ...]] = set()
    for a in artists:
        try:
            if isinstance(a, Line2D):
                found = [_rgba(a.get_color())]
            elif isinstance(a, Patch):
                found = [tuple(a.get_facecolor())]
            elif isinstance(a, PathCollection) and a.get_array() is None:
                found = [tuple(c) for c in a.get_facecolor()[:50]]
            else:
                continue
        except Exception:  # noqa: BLE001
            continue
        colours |= {tuple(round(c, 2) for c in colour[:3]) for colour in found if colour[3] > 0.02}
        if len(colours) > 20:
            break
    return min(len(colours), 20)


def _points(artists: list[Any], ax: Any) -> Any:
    """Display coordinates of a sample of the data's points: line vertices, markers and arrows (offsets),
    the end of each bar, an image's edges, and vertices of other shapes (areas, violins, contours, meshes,
    stream lines, steps)."""
    import numpy as np
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    def sample(xy: Any, n: int = MAX_POINTS) -> Any:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return xy[:: max(1, len(xy) // n)]

    chunks = []
    for a in artists:
        try:
            if isinstance(a, Line2D):
                chunks.append(a.get_transform().transform(sample(a.get_xydata())))
            elif isinstance(a, Collection) and len(a.get_offsets()) > 1:
                chunks.append(a.get_offset_transform().transform(sample(a.get_offsets())))
            elif isinstance(a, Collection):
                paths = a.get_paths()
                for path in paths[:: max(1, len(paths) // 50)][:60]:
                    chunks.append(a.get_transform().transform(sample(path.vertices, 20)))
            elif isinstance(a, Rectangle):
                x, y, w, h = a.get_x(), a.get_y(), a.get_width(), a.get_height()
                chunks.append(a.get_data_transform().transform([[x + w / 2, y + h], [x + w, y + h / 2]]))
            elif isinstance(a, Patch):
                chunks.append(a.get_transform().transform(sample(a.get_path().vertices, 40)))
            elif isinstance(a, AxesImage):
                left, right, bottom, top = a.get_extent()
                mid_x, mid_y = (left + right) / 2, (bottom + top) / 2
                chunks.append(ax.transData.transform([[mid_x, bottom], [mid_x, top], [left, mid_y], [right, mid_y]]))
        except Exception:  # noqa: BLE001 - units or transforms we cannot read: leave the artist out
            continue
    if not chunks:
        return None
    points = np.concatenate(chunks)
    points = points[np.isfinite(points).all(1)]
    return points[:: max(1, len(points) // (4 * MAX_POINTS))]


def _covered(points: Any, legend: Any, renderer: Any) -> float:
    """Share of the data points in view that lie under the legend's box (only an opaque legend hides)."""
    if not len(points) or not legend.get_visible():
        return 0.0
    frame = legend.get_frame()
    if legend.get_frame_on() and frame.get_facecolor()[3] * (frame.get_alpha() or 1) < 0.3:
        return 0.0
    box = legend.get_window_extent(renderer)
    inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0)
              & (points[:, 1] <= box.y1))
    return float(inside.mean())


def _legend_area(legend: Any, ax: Any, renderer: Any) -> float:
    """Share of the axes' area under the legend's box."""
    box, area = legend.get_window_extent(renderer), ax.bbox.width * ax.bbox.height
    w = min(box.x1, ax.bbox.x1) - max(box.x0, ax.bbox.x0)
    h = min(box.y1, ax.bbox.y1) - max(box.y0, ax.bbox.y0)
    return max(0.0, w) * max(0.0, h) / area if area > 0 else 0.0


def _inside(t: Any, renderer: Any, ax: Any) -> bool:
    try:
        box = t.get_window_extent(renderer)
        return ax.bbox.contains((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
    except Exception:  # noqa: BLE001
        return False


def _tick_labels(axis: Any) -> list[Any]:
    try:
        ticks = axis._update_ticks()  # the ticks that will be drawn (inside the view)
    except Exception:  # noqa: BLE001 - an axis with units we cannot format
        return []
    labels = []
    for tick in ticks[:60]:
        if tick.get_visible():
            labels += [lab for lab in (tick.label1, tick.label2) if lab.get_visible()]
    return labels


def _legend_entries(legend: Any, renderer: Any, canvas: _Canvas, face: tuple[float, ...],
                    texts: list[dict[str, Any]], role: str, ax: Any = None) -> list[str]:
    """Texts of a legend's visible entries ([] when it shows no entry: no handles, hidden, empty labels)."""
    if legend is None or not legend.get_visible():
        return []
    frame = legend.get_frame()
    back = _over(_rgba(frame.get_facecolor()), face) if legend.get_frame_on() else face
    entries = []
    for handle, text in zip(getattr(legend, "legend_handles", []), legend.get_texts(), strict=False):
        entry = _text(text, role, renderer, canvas, legend.figure, back, texts, ax)
        if handle is not None and entry and entry["visible"]:
            entries.append(entry["text"])
    _text(legend.get_title(), "legend_title", renderer, canvas, legend.figure, back, texts, ax)
    return entries[:20]


def _text(t: Any, role: str, renderer: Any, canvas: _Canvas, fig: Any, back: tuple[float, ...],
          texts: list[dict[str, Any]], ax: Any = None) -> dict[str, Any] | None:
    """Record one text: what it says, whether a reader can see it, and why not."""
    if t is None:
        return None
    text = " ".join(str(t.get_text() or "").split())
    if not text:
        return None
    entry: dict[str, Any] = {"role": role, "text": text[:MAX_CHARS], "ax": ax if ax is not None else t.axes}
    px = float(t.get_fontsize()) * fig.dpi * canvas.scale / 72
    patch = t.get_bbox_patch() if hasattr(t, "get_bbox_patch") else None
    if patch is not None and patch.get_visible() and patch.get_facecolor()[3] > 0.3:
        back = _over(_rgba(patch.get_facecolor()), back)
    alpha = (t.get_alpha() if t.get_alpha() is not None else 1.0) * _rgba(t.get_color())[3]
    ink = _over(_rgba(t.get_color()), back, alpha)
    try:
        box = canvas.box(t.get_window_extent(renderer))
    except Exception:  # noqa: BLE001
        box = [0.0, 0.0, 0.0, 0.0]
    entry.update(px=round(px, 1), box=box, contrast=round(contrast(ink, back), 2), colour=_hex(ink),
                 rotation=round(float(t.get_rotation()) % 180, 1), on_canvas=round(canvas.on_canvas(box), 3))
    why = ("hidden" if not t.get_visible() else "transparent" if alpha <= 0.02 else "zero-size" if px < 1 or
           box[2] - box[0] < 1 else "off-canvas" if entry["on_canvas"] < 0.2 else "no-contrast"
           if entry["contrast"] < MIN_CONTRAST else None)
    entry["visible"] = why is None
    if why:
        entry["why"] = why
    size = _unrotated_size(t, text, renderer) if entry["rotation"] not in (0.0, 90.0) else None
    entry["_unrotated"] = (size[0] * canvas.scale, size[1] * canvas.scale) if size else None
    texts.append(entry)
    return entry


def _unrotated_size(t: Any, text: str, renderer: Any) -> tuple[float, float] | None:
    try:
        w, h, _ = renderer.get_text_width_height_descent(text, t.get_fontproperties(), ismath=False)
        return float(w), float(h)
    except Exception:  # noqa: BLE001
        return None


def _tick_overlap(labels: list[dict[str, Any]]) -> float:
    """Share of an axis's tick labels that run into a neighbour (rotated labels compared as rotated)."""
    if len(labels) < 2:
        return 0.0
    def centre(e: dict[str, Any]) -> tuple[float, float]:
        b = e["box"]
        return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    crowded: set[int] = set()
    for i, a in enumerate(labels):
        for j in range(i + 1, len(labels)):
            if _collide(a, labels[j], centre(a), centre(labels[j])):
                crowded |= {i, j}
    return len(crowded) / len(labels)


def _collide(a: dict[str, Any], b: dict[str, Any], ca: tuple[float, float], cb: tuple[float, float]) -> bool:
    if a["_unrotated"] and b["_unrotated"] and a["rotation"] == b["rotation"]:
        theta = math.radians(a["rotation"])
        dx, dy = cb[0] - ca[0], cb[1] - ca[1]
        along = abs(dx * math.cos(theta) - dy * math.sin(theta))
        across = abs(dx * math.sin(theta) + dy * math.cos(theta))
        return (along < (a["_unrotated"][0] + b["_unrotated"][0]) / 2 - 1
                and across < (a["_unrotated"][1] + b["_unrotated"][1]) / 2 - 1)
    return _intersection(a["box"], b["box"]) > 1.0


def _intersection(a: list[float], b: list[float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _overlapping_pairs(shown: list[dict[str, Any]]) -> int:
    """Pairs of visible texts (not two ticks or two entries of one legend) whose boxes overlap by over
    a fifth of the smaller."""
    count = 0
    items = shown[:300]
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a["role"] == b["role"] and a["ax"] is b["ax"] and (a["role"].endswith("tick") or a["role"] == "legend"):
                continue
            small = min((a["box"][2] - a["box"][0]) * (a["box"][3] - a["box"][1]),
                        (b["box"][2] - b["box"][0]) * (b["box"][3] - b["box"][1]))
            if small > 0 and _intersection(a["box"], b["box"]) > 0.2 * small:
                count += 1
    return count


def _capped_texts(texts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The texts for the record: labels, titles and legends before ticks; private fields dropped."""
    order = sorted(texts, key=lambda e: e["role"].endswith("tick"))
    return [{k: v for k, v in e.items() if not k.startswith("_") and k != "ax"} for e in order[:MAX_TEXTS]]


# ----- plotly -------------------------------------------------------------------------------------
PLOTLY_KINDS = {
    "bar": "bar", "waterfall": "bar", "funnel": "bar", "histogram": "histogram", "pie": "pie",
    "funnelarea": "pie", "box": "box", "violin": "violin", "heatmap": "heatmap", "image": "heatmap",
    "histogram2d": "heatmap", "contour": "contour", "histogram2dcontour": "contour", "surface": "surface",
    "mesh3d": "surface", "isosurface": "surface", "volume": "surface", "cone": "quiver",
    "streamtube": "stream", "scatter3d": "scatter", "scatterpolar": "polar", "scatterpolargl": "polar",
    "barpolar": "polar", "scattergeo": "map", "choropleth": "map", "choroplethmapbox": "map",
    "choroplethmap": "map", "scattermapbox": "map", "scattermap": "map", "densitymapbox": "map",
    "densitymap": "map", "treemap": "treemap", "sunburst": "sunburst", "icicle": "treemap",
    "sankey": "sankey", "parcoords": "parallel", "parcats": "parallel", "table": "table",
    "indicator": "indicator", "candlestick": "finance", "ohlc": "finance", "splom": "scatter",
    "scatterternary": "scatter", "scattercarpet": "scatter", "carpet": "contour",
}
CARTESIAN = {"bar", "histogram", "line", "scatter", "area", "box", "violin", "heatmap", "contour"}
SERIES_KINDS = {"line", "scatter", "area", "bar", "histogram"}
THREE_D = {"scatter3d", "surface", "mesh3d", "isosurface", "volume", "cone", "streamtube"}
COLOURSCALED = {"heatmap", "contour", "surface", "histogram2d", "histogram2dcontour", "choropleth", "densitymapbox",
                "densitymap", "choroplethmapbox", "choroplethmap", "volume", "isosurface", "cone", "streamtube"}
TYPED_DTYPES = {"i1": "int8", "u1": "uint8", "i2": "int16", "u2": "uint16", "i4": "int32", "u4": "uint32",
                "f4": "float32", "f8": "float64"}


def plotly_facts(figure: dict[str, Any] | str, width: int = 1000, height: int = 650) -> dict[str, Any]:
    """What a plotly figure shows, from its JSON (drawn at `width` × `height` unless its layout says)."""
    fig = json.loads(figure) if isinstance(figure, str) else figure
    layout = fig.get("layout") or {}
    template = ((layout.get("template") or {}).get("layout")) or {}
    base_px = _number(_get(layout, "font", "size"), _number(_get(template, "font", "size"), 12))
    ink = _rgba_css(_get(layout, "font", "color") or _get(template, "font", "color") or "#444")
    paper = _rgba_css(layout.get("paper_bgcolor") or template.get("paper_bgcolor") or "#fff")
    plot_bg = _rgba_css(layout.get("plot_bgcolor") or template.get("plot_bgcolor") or "#fff")
    paper_rgb = _over(paper, (1.0, 1.0, 1.0, 1.0))
    texts: list[dict[str, Any]] = []
    traces = [t for t in (fig.get("data") or [])[:50] if isinstance(t, dict)]
    shown = [t for t in traces if t.get("visible", True) is True]
    kinds = sorted({k for t in shown for k in _plotly_kinds(t)})
    title = _plotly_text(texts, "title", layout.get("title"), base_px * 1.4, ink, paper_rgb, template.get("title"))
    axes = sorted(k for k in layout if k.startswith(("xaxis", "yaxis")))
    axis_facts = {}
    for name in axes or []:
        spec = layout.get(name) or {}
        label = _plotly_text(texts, f"{name[0]}label", spec.get("title"), base_px, ink, paper_rgb,
                             (template.get(name[:5]) or {}).get("title"))
        axis_facts[name] = {"title": label, "type": spec.get("type", "linear"), "visible": spec.get("visible", True),
                            "range": spec.get("range"), "showgrid": spec.get("showgrid")}
    for note in (layout.get("annotations") or [])[:40]:
        if isinstance(note, dict) and note.get("visible", True):
            _plotly_text(texts, "annotation", note.get("text"), _number(_get(note, "font", "size"), base_px), ink,
                         paper_rgb, None, note.get("font"))
    legend_entries = _plotly_legend(layout, shown)
    legend_spec = layout.get("legend") or {}
    legend_px = _number(_get(legend_spec, "font", "size"), base_px)
    for entry in legend_entries:
        _plotly_text(texts, "legend", entry, legend_px, ink, paper_rgb, None, legend_spec.get("font"))
    visible = [t for t in texts if t["visible"]]
    w = _number(layout.get("width"), width)
    h = _number(layout.get("height"), height)
    ticks = {name: _number(_get(layout, name, "tickfont", "size"), _number(_get(template, name[:5], "tickfont", "size"), base_px))
             for name in (axes or (["xaxis", "yaxis"] if set(kinds) & CARTESIAN else []))}
    return {
        "library": "plotly", "width": round(w), "height": round(h), "background": _hex(paper_rgb),
        "plot_background": _hex(_over(plot_bg, paper_rgb)), "kinds": kinds,
        "traces": [{"type": t.get("type", "scatter"), "mode": t.get("mode"), "name": str(t.get("name") or "")[:MAX_CHARS],
                    "visible": t.get("visible", True)} for t in traces[:30]],
        "title": title, "axes": axis_facts, "legend": legend_entries,
        "legend_inside": _legend_inside(legend_spec) if legend_entries else False,
        "legend_px": legend_px if legend_entries else None,
        "annotations": sum(1 for t in visible if t["role"] == "annotation"),
        "trace_text": any(t.get("text") is not None and "text" in str(t.get("mode", "text")) or t.get("texttemplate")
                          or t.get("textinfo") for t in shown),
        "errorbars": any(isinstance(t.get(k), dict) and t[k].get("visible", True) is not False
                         and (t[k].get("array") is not None or t[k].get("value") is not None)
                         for t in shown for k in ("error_x", "error_y")),
        "colorbar": any(_has_scale(t) for t in shown) or any(
            isinstance(v, dict) and v.get("showscale", True) for k, v in layout.items() if k.startswith("coloraxis")),
        "subplots": max(1, len([a for a in axes if a.startswith("xaxis")]), len(layout.get("grid") or {}) and 2),
        "data_in_view": _plotly_in_view(shown, layout),
        "tick_px": min(ticks.values(), default=None),
        "tick_crowding": max((_crowding(layout.get(a) or {}, shown, ticks[a], w) for a in ticks if a.startswith("xaxis")),
                             default=None),
        "series": sum(1 for t in shown if set(_plotly_kinds(t)) & SERIES_KINDS),
        "texts": texts[:MAX_TEXTS],
        "min_text_px": min([t["px"] for t in visible] + list(ticks.values()), default=None),
    }


def _plotly_kinds(trace: dict[str, Any]) -> list[str]:
    kind = trace.get("type", "scatter")
    out = [PLOTLY_KINDS.get(kind, kind)] if kind not in ("scatter", "scattergl") else []
    if kind in ("scatter", "scattergl"):
        mode = trace.get("mode") or "lines+markers"
        if trace.get("fill") not in (None, "none"):
            out.append("area")
        elif "lines" in mode:
            out.append("line")
        if "markers" in mode and "lines" not in mode:
            out.append("scatter")
    if kind in THREE_D:
        out.append("3d")
    return out


def _plotly_legend(layout: dict[str, Any], shown: list[dict[str, Any]]) -> list[str]:
    """The legend's entries as plotly.js draws them: shown by default for two or more traces (or a pie's
    labels), an unnamed trace as "trace N"."""
    listed = [(i, t) for i, t in enumerate(shown) if t.get("showlegend", True) is not False and t.get("type") != "pie"]
    pies = [str(label) for t in shown if t.get("type") == "pie" for label in _values(t.get("labels"))[:20]]
    show = layout.get("showlegend")
    if show is False or (show is None and len(listed) < 2 and not pies):
        return []
    return ([str(t.get("name") or f"trace {i}") for i, t in listed] + pies)[:20]


def _crowding(axis: dict[str, Any], traces: list[dict[str, Any]], px: float, width: float) -> float | None:
    """How much wider the x tick labels are than the room they have (over 1: they run into each other).
    plotly.js turns labels that do not fit unless the figure fixes the angle: only then is it estimated,
    from the tick values or the categories, at 0.6 em per character."""
    if not isinstance(axis.get("tickangle"), int | float) or axis.get("tickangle") % 180 not in (0,):
        return None
    labels = [str(v) for v in (_values(axis.get("ticktext")) or _values(axis.get("tickvals")))]
    if not labels:
        values = [v for t in traces for v in _values(t.get("x"))[:500]]
        strings = list(dict.fromkeys(v for v in values if isinstance(v, str)))
        numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        count = int(axis["nticks"]) if isinstance(axis.get("nticks"), int | float) else 7
        labels = strings or _auto_ticks(numbers, axis.get("range"), count)
    if not labels:
        return None
    domain = axis.get("domain") if isinstance(axis.get("domain"), list) else [0, 1]
    room = max(1.0, (width - 160) * float(domain[1] - domain[0]))
    return round(sum(0.6 * px * len(text) + 4 for text in labels) / room, 3)


def _auto_ticks(numbers: list[float], given: Any, count: int) -> list[str]:
    """The labels plotly.js puts on a linear axis of these values: a step of 1, 2 or 5 × 10^k giving at most
    `count` ticks over the range (the figure's own, else the data's), written with the step's decimals."""
    ends = [float(v) for v in given] if isinstance(given, list) and len(given) == 2 and all(
        isinstance(v, int | float) for v in given) else [min(numbers), max(numbers)] if numbers else []
    if not ends or not all(math.isfinite(v) for v in ends):
        return []
    low, high = min(ends), max(ends)
    rough = (high - low) / max(1, count) or 1.0
    base = 10 ** math.floor(math.log10(rough))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= rough * (1 - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(low / step - 1e-9)
    return [f"{i * step:.{decimals}f}" for i in range(first, first + 200) if i * step <= high + step * 1e-9]


def _legend_inside(spec: dict[str, Any]) -> bool:
    """A legend placed over the plotting area (plotly puts it outside, to the right, by default)."""
    x, y = spec.get("x"), spec.get("y")
    return isinstance(x, int | float) and isinstance(y, int | float) and 0.05 < x < 0.95 and 0.05 < y < 0.95


def _has_scale(trace: dict[str, Any]) -> bool:
    if trace.get("type") in COLOURSCALED:
        return trace.get("showscale", True) is not False
    marker = trace.get("marker") or {}
    return bool(marker.get("showscale")) or bool(marker.get("colorbar"))


def _plotly_in_view(shown: list[dict[str, Any]], layout: dict[str, Any]) -> float | None:
    """Share of the x/y points inside fixed axis ranges (None when no axis has a fixed numeric range)."""
    inside = total = 0
    for trace in shown:
        xs, ys = _values(trace.get("x")), _values(trace.get("y"))
        for values, axis in ((xs, "xaxis" + str(trace.get("xaxis", "x"))[1:]), (ys, "yaxis" + str(trace.get("yaxis", "y"))[1:])):
            rng = (layout.get(axis) or {}).get("range")
            numbers = [v for v in values[:2000] if isinstance(v, int | float) and math.isfinite(v)]
            if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(r, int | float) for r in rng) and numbers):
                continue
            if (layout.get(axis) or {}).get("type") == "log":
                rng = [10 ** max(-300, min(300, r)) for r in rng]
            lo, hi = min(rng), max(rng)
            total += len(numbers)
            inside += sum(lo <= v <= hi for v in numbers)
    return round(inside / total, 3) if total else None


def _values(value: Any) -> list[Any]:
    """An array from plotly JSON: a list, or a typed array `{dtype, bdata}` (plotly ≥ 6)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value.get("dtype") in TYPED_DTYPES and isinstance(value.get("bdata"), str):
        import numpy as np

        try:
            return np.frombuffer(base64.b64decode(value["bdata"])[: 8 * 20000],
                                 dtype=TYPED_DTYPES[value["dtype"]]).tolist()
        except ValueError:
            return []
    return []


def _plotly_text(texts: list[dict[str, Any]], role: str, spec: Any, default_px: float, ink: tuple[float, ...],
                 back: tuple[float, ...], template: Any = None, font: Any = None) -> str:
    if isinstance(spec, dict):
        text, font = spec.get("text"), spec.get("font") or font
    else:
        text = spec
    text = " ".join(str(text or "").replace("<br>", " ").split())
    if not text:
        return ""
    template_font = (template or {}).get("font") if isinstance(template, dict) else None
    px = _number(_get(font, "size"), _number(_get(template_font, "size"), default_px))
    colour = _rgba_css(_get(font, "color") or _get(template_font, "color")) if (_get(font, "color") or _get(template_font, "color")) else ink
    seen = _over(colour, back)
    ratio = round(contrast(seen, back), 2)
    why = "transparent" if colour[3] <= 0.02 else "zero-size" if px < 1 else "no-contrast" if ratio < MIN_CONTRAST else None
    entry = {"role": role, "text": text[:MAX_CHARS], "px": round(px, 1), "contrast": ratio, "colour": _hex(seen),
             "visible": why is None}
    if why:
        entry["why"] = why
    if len(texts) < MAX_TEXTS:
        texts.append(entry)
    return entry["text"] if why is None else ""


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else float(default)


def _rgba_css(colour: Any) -> tuple[float, float, float, float]:
    """A CSS colour as plotly writes it (#hex, rgb(), rgba(), names) as 0–1 channels."""
    text = str(colour or "").strip().lower().replace(" ", "")
    if text.startswith(("rgb(", "rgba(")):
        try:
            parts = [float(p) for p in text[text.index("(") + 1:-1].split(",")]
        except ValueError:
            return (0.0, 0.0, 0.0, 1.0)
        alpha = parts[3] if len(parts) > 3 else 1.0
        return (parts[0] / 255, parts[1] / 255, parts[2] / 255, alpha)
    return _rgba(text or "black")


# ----- the record ---------------------------------------------------------------------------------
def to_json(facts: dict[str, Any]) -> str:
    """The facts as JSON of at most MAX_BYTES (texts dropped from the end first)."""
    text = json.dumps(facts, ensure_ascii=False, default=str)
    while len(text.encode()) > MAX_BYTES and facts.get("texts"):
        facts["texts"] = facts["texts"][: len(facts["texts"]) // 2]
        text = json.dumps(facts, ensure_ascii=False, default=str)
    if len(text.encode()) > MAX_BYTES:
        text = json.dumps({"library": facts.get("library"), "error": "facts too large"})
    return text


def safe_matplotlib_facts(fig: Any, dpi: float = 100) -> str:
    """`matplotlib_facts` as bounded JSON; a figure that cannot be read gives `{"error": ...}`, never raises."""
    try:
        return to_json(matplotlib_facts(fig, dpi))
    except Exception as err:  # noqa: BLE001 - facts must never fail the sample
        return json.dumps({"library": "matplotlib", "error": f"{type(err).__name__}: {err}"[:300]})


def safe_plotly_facts(figure: dict[str, Any] | str) -> str:
    try:
        return to_json(plotly_facts(figure))
    except Exception as err:  # noqa: BLE001
        return json.dumps({"library": "plotly", "error": f"{type(err).__name__}: {err}"[:300]})
