"""Copies of real plotting scripts and real pages made worse in one way each, the way a person would agree
makes them worse. Plot degradations are code appended to the script, so they act after drawing on every
open matplotlib figure and every plotly figure the script holds; page degradations are CSS injected into
the page, or its images pointed at files that do not exist.
"""

from __future__ import annotations

import re

PRELUDE = '''
import matplotlib.pyplot as _dg_plt
import numpy as _dg_np


def _dg_figures():
    return [_dg_plt.figure(n) for n in _dg_plt.get_fignums()]


def _dg_axes():
    return [a for f in _dg_figures() for a in f.axes
            if a.get_visible() and getattr(a, "_colorbar", None) is None and getattr(a, "name", "") == "rectilinear"]


def _dg_plotly():
    try:
        from plotly.basedatatypes import BaseFigure
    except ImportError:
        return []
    return [v for v in list(globals().values()) if isinstance(v, BaseFigure)]


def _dg_numbers(values):
    try:
        array = _dg_np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return []
    return [float(v) for v in array[_dg_np.isfinite(array)][:60]]
'''

PLOTS: dict[str, str] = {
    # titles, axis labels and legends removed after drawing (as in the report)
    "text_removed": '''
for _f in _dg_figures():
    _f.suptitle("")
    for _l in list(_f.legends):
        _l.remove()
    for _a in _f.axes:
        for _loc in ("center", "left", "right"):
            _a.set_title("", loc=_loc)
        _a.set_xlabel("")
        _a.set_ylabel("")
        if hasattr(_a, "set_zlabel"):
            _a.set_zlabel("")
        if _a.get_legend() is not None:
            _a.get_legend().remove()
for _p in _dg_plotly():
    _p.update_layout(title_text="", showlegend=False)
    _p.update_xaxes(title_text="")
    _p.update_yaxes(title_text="")
''',
    # every text at 2 pt: there, but unreadable
    "unreadable_fonts": '''
from matplotlib.text import Text as _DgText
for _f in _dg_figures():
    for _a in _f.axes:
        _a.tick_params(labelsize=2)
    for _t in _f.findobj(_DgText):
        _t.set_fontsize(2)
for _p in _dg_plotly():
    _p.update_layout(font_size=2, title_font_size=2, legend_font_size=2)
    _p.update_xaxes(tickfont_size=2, title_font_size=2)
    _p.update_yaxes(tickfont_size=2, title_font_size=2)
''',
    "clashing_colours": '''
_DG_LOUD = ["#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff", "#00ffff"]
for _f in _dg_figures():
    _f.set_facecolor("#ff00ff")
    for _a in _f.axes:
        _a.set_facecolor("#00ff00")
        for _i, _c in enumerate([*_a.lines, *_a.collections, *_a.patches]):
            try:
                _c.set_color(_DG_LOUD[_i % 6])
                if getattr(_c, "get_array", lambda: None)() is not None:
                    _c.set_cmap("hsv")
            except Exception:
                pass
        for _im in _a.images:
            _im.set_cmap("hsv")
for _p in _dg_plotly():
    _p.update_layout(paper_bgcolor="#ff00ff", plot_bgcolor="#00ff00", colorway=_DG_LOUD)
    for _i, _t in enumerate(_p.data):
        for _change in ({"marker_color": _DG_LOUD[_i % 6]}, {"marker_colors": _DG_LOUD}, {"colorscale": "HSV"},
                        {"line_color": _DG_LOUD[(_i + 1) % 6]}):
            try:
                _t.update(**_change)
            except Exception:
                pass
''',
    # as many x tick labels as the locator gives, at a size that makes neighbours run into each other
    "overlapping_ticks": '''
from matplotlib.ticker import MaxNLocator as _DgMaxN
for _a in _dg_axes():
    _conv = _a.xaxis.get_converter() if hasattr(_a.xaxis, "get_converter") else _a.xaxis.converter
    _named = type(_conv).__name__ == "StrCategoryConverter" or type(_a.xaxis.get_major_locator()).__name__ == "FixedLocator"
    if not _named:  # numbers: more of them; named ticks keep their labels and only grow
        _a.xaxis.set_major_locator(_DgMaxN(nbins=40))
    _a.figure.draw_without_rendering()
    _labels = [t.get_text() for t in _a.get_xticklabels()] or ["0"]
    _spacing = _a.bbox.width / max(1, len(_labels))
    _chars = max(2, max(len(t) for t in _labels))
    _size = min(40, max(12, 1.6 * _spacing / (0.6 * _chars) * 72 / _a.figure.dpi))
    _a.tick_params(axis="x", labelsize=_size, labelrotation=0)
for _p in _dg_plotly():
    _xs = [v for _t in _p.data if "x" in _t and getattr(_t, "x", None) is not None for v in list(_t.x)]
    _names = list(dict.fromkeys(v for v in _xs if isinstance(v, str)))
    _count = len(_names) or 60
    _chars = max([len(n) for n in _names] or [4])
    _width = 420 if _names else 1000  # a few named ticks only collide in a narrow figure
    _room = (_width - 160) / max(1, _count)
    _p.update_layout(width=_width)
    _p.update_xaxes(tickangle=0, nticks=60, tickfont_size=min(40, max(14, 1.6 * _room / (0.6 * _chars))))
''',
    "legend_covering": '''
for _a in _dg_axes():
    _h, _l = _a.get_legend_handles_labels()
    if not _h:
        _h = [x for x in [*_a.lines, *_a.collections, *_a.patches[:1]] if x.get_visible()][:4]
        _l = [f"series {i + 1}" for i in range(len(_h))]
    if _h:
        _a.legend(_h, _l, loc="center", fontsize=22, markerscale=3, framealpha=1, borderpad=1.5)
for _p in _dg_plotly():
    _p.update_layout(showlegend=True, legend=dict(x=0.5, y=0.5, xanchor="center", yanchor="middle",
                                                  bgcolor="#ffffff", font_size=26, borderwidth=1))
''',
    # the data redrawn as another kind of chart than the instruction asks for ({wanted} is filled in)
    "wrong_kind": '''
_DG_WANTED = "{wanted}"
for _a in _dg_axes():
    _vals = []
    for _x in _a.lines:
        _vals += _dg_numbers(_x.get_ydata())
    for _x in _a.patches:
        _vals += _dg_numbers([getattr(_x, "get_height", lambda: float("nan"))()])
    for _x in _a.collections:
        _off = _dg_np.asarray(_x.get_offsets())
        _vals += _dg_numbers(_off[:, 1]) if len(_off) > 1 else _dg_numbers(_x.get_array() if _x.get_array() is not None else [])
    for _x in _a.images:
        _vals += _dg_numbers(_dg_np.nanmean(_dg_np.asarray(_x.get_array(), dtype=float), axis=1))
    _vals = [abs(v) + 0.1 for v in _vals[:12]] or [3.0, 5.0, 2.0, 6.0, 4.0]
    for _x in [*_a.lines, *_a.collections, *_a.patches, *_a.images]:
        _x.remove()
    if _DG_WANTED in ("bar", "histogram"):
        _a.plot(range(len(_vals)), _vals, marker="o")
    else:
        _a.bar(range(len(_vals)), _vals)
    _a.relim()
    _a.autoscale()
for _p in _dg_plotly():
    _vals = []
    for _t in _p.data:
        for _key in ("y", "values", "z", "r", "x"):
            _vals += _dg_numbers(getattr(_t, _key, None) if _key in _t else [])
    _vals = [abs(v) + 0.1 for v in _vals[:12]] or [3.0, 5.0, 2.0, 6.0, 4.0]
    import plotly.graph_objects as _dg_go
    _p.data = []
    _p.add_trace(_dg_go.Scatter(y=_vals, mode="lines+markers") if _DG_WANTED in ("bar", "histogram")
                 else _dg_go.Bar(y=_vals))
''',
    "squashed_aspect": '''
for _f in _dg_figures():
    _w, _h = _f.get_size_inches()
    _f.set_size_inches(_w * 2.2, _h * 0.32)
for _p in _dg_plotly():
    _p.update_layout(width=1800, height=230)
''',
    # the view limited to the middle of each axis: most of the data falls outside
    "data_cut_off": '''
for _a in _dg_axes():
    for _get, _set in ((_a.get_xlim, _a.set_xlim), (_a.get_ylim, _a.set_ylim)):
        _lo, _hi = _get()
        _set(_lo + 0.35 * (_hi - _lo), _hi - 0.35 * (_hi - _lo))
for _p in _dg_plotly():
    for _update, _key in ((_p.update_xaxes, "x"), (_p.update_yaxes, "y")):
        _vals = [v for _t in _p.data for v in _dg_numbers(getattr(_t, _key, None) if _key in _t else [])]
        if len(_vals) > 1 and max(_vals) > min(_vals):
            _lo, _hi = min(_vals), max(_vals)
            _update(range=[_lo + 0.35 * (_hi - _lo), _hi - 0.35 * (_hi - _lo)], autorange=False)
''',
}
# the kinds of chart `wrong_kind` can stand in for (the instruction must name one)
KIND_WORDS = ("bar", "histogram", "line", "scatter", "pie", "box", "violin", "heatmap", "area", "contour")


def degrade_plot(code: str, how: str, wanted: str | None) -> str:
    return f"{code}\n\n# ---- degraded: {how}\n{PRELUDE}{PLOTS[how].replace('{wanted}', wanted or '')}"


def _inject(html: str, css: str) -> str:
    style = f"<style>{css}</style>"
    return html.replace("</head>", style + "</head>", 1) if "</head>" in html else style + html


PAGES: dict[str, str] = {
    # the page's blocks taken out of the flow and stacked on top of each other
    "broken_layout": "body > *, main > *, section, article, header, footer, nav, aside, table, form, "
                     "[class*=card] { position: absolute !important; top: 60px !important; left: 40px !important; "
                     "width: 70% !important; }",
    "unreadable_contrast": "*, *::before, *::after { color: rgba(140, 140, 140, 0.25) !important; }",
    # boxes narrowed and lines kept from wrapping: text runs out of its box, over its neighbours
    "overflowing_text": "body * { max-width: 260px !important; } p, li, h1, h2, h3, h4, h5, dt, dd, td, th, a, "
                        "button, span, label, code { white-space: nowrap !important; }",
}
IMAGE_RE = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*)([\"'])(.*?)\2", re.I | re.S)
URL_RE = re.compile(r"url\(\s*([\"']?)(?!#)[^)\"']+\1\s*\)", re.I)


def has_images(html: str) -> bool:
    return bool(IMAGE_RE.search(html) or URL_RE.search(html))


def degrade_page(html: str, how: str) -> str:
    if how == "missing_images":
        counter = iter(range(10_000))
        html = IMAGE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}missing-{next(counter)}.png{m.group(2)}", html)
        return URL_RE.sub("url(missing.png)", html)
    return _inject(html, PAGES[how])


PAGE_KINDS = (*PAGES, "missing_images")
