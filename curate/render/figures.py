"""Plotly figures drawn in Chromium (no kaleido), from their JSON and as data only.

A figure's JSON must pass `plotly_figure` (its schema and size cap). It is then handed to our own page as
an argument (serialised data, never pasted into a script), where plotly.js, loaded once, draws one figure
after another: no sample code ever runs in that page, so it need not be fresh for each figure the way a
sample's page is, and plotly.js (3.5 MB of script) is not parsed again for every figure.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from curate.render.pages import PageResult

MAX_PLOTLY_BYTES = 8 << 20
CANVAS_FIGURES = 100  # figures drawn on one canvas page before it is opened afresh
ORIGIN = "http://plotly-canvas"
CANVAS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="/plotly.min.js"></script>
<style>body{margin:0;background:#fff}</style></head><body><div id="fig"></div></body></html>"""
DRAW = """async (fig) => { Plotly.purge("fig");
  await Plotly.newPlot("fig", fig.data, Object.assign({width: 1000, height: 650}, fig.layout), {staticPlot: true}); }"""


@functools.cache
def plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


def plotly_figure(text: str) -> dict[str, Any]:
    """A plotly figure's JSON held to its schema (`data`: a list of objects; `layout`: an object) and cap:
    the figure as plain data; raises ValueError otherwise."""
    if len(text) > MAX_PLOTLY_BYTES:
        raise ValueError(f"plotly JSON of {len(text):,} bytes (cap {MAX_PLOTLY_BYTES:,})")
    try:
        figure = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"plotly figure is not JSON: {str(err)[:100]}") from None
    if not isinstance(figure, dict) or not isinstance(figure.get("data", []), list) or \
            not all(isinstance(trace, dict) for trace in figure.get("data", [])) or \
            not isinstance(figure.get("layout", {}), dict):
        raise ValueError("plotly figure is not {data: [objects], layout: object}")
    return {"data": figure.get("data", []), "layout": figure.get("layout", {})}


class Canvas:
    """Our page with plotly.js loaded, in a browser context of its own; it reports into `result`."""

    def __init__(self) -> None:
        self.context = self.page = None
        self.drawn = 0
        self.result: PageResult | None = None

    async def draw(self, browser, figure: dict[str, Any], result: PageResult, timeout_s: float) -> None:  # noqa: ANN001
        """Draw `figure` and put its screenshot into `result`; a canvas that fails is closed (and opened
        afresh for the next figure)."""
        self.result = result
        try:
            if self.page is None or self.drawn >= CANVAS_FIGURES:
                await asyncio.wait_for(self._open(browser), timeout_s)
            await asyncio.wait_for(self.page.evaluate(DRAW, figure), timeout_s)
            result.screenshot = await asyncio.wait_for(self.page.locator("#fig").screenshot(animations="disabled"),
                                                       timeout_s)
            self.drawn += 1
        except BaseException:
            await self.close()
            raise
        finally:
            self.result = None

    async def _open(self, browser) -> None:  # noqa: ANN001
        await self.close()
        self.context = await browser.new_context(viewport={"width": 1280, "height": 960}, service_workers="block",
                                                 accept_downloads=False, locale="en-US", timezone_id="UTC")
        await self.context.route("**/*", self._route)
        self.page = await self.context.new_page()
        self.page.on("console", self._console)
        await self.page.goto(f"{ORIGIN}/index.html", wait_until="load")
        self.drawn = 0

    def _console(self, message) -> None:  # noqa: ANN001
        if message.type == "error":
            self._note("console_errors", message.text)

    def _note(self, kind: str, line: str) -> None:
        if self.result is not None:
            self.result.note(kind, line)

    async def _route(self, route) -> None:  # noqa: ANN001 - a figure's images or fonts from elsewhere: blocked
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" == ORIGIN and parts.path in ("/index.html", "/plotly.min.js"):
            body, kind = (CANVAS_PAGE, "text/html") if parts.path == "/index.html" else (plotly_js(), "text/javascript")
            await route.fulfill(status=200, body=body, content_type=kind)
            return
        self._note("failed_requests", f"{route.request.method} {route.request.url[:300]} (blocked: outside address)")
        await route.abort("blockedbyclient")

    async def close(self) -> None:
        if self.context is not None:
            context, self.context, self.page = self.context, None, None
            try:
                await asyncio.wait_for(context.close(), 10)
            except Exception:  # noqa: BLE001 - a dead browser took it already
                pass
