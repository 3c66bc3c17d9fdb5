"""Rendering untrusted pages in Chromium: screenshots, console errors, failed requests and page facts.

One browser per worker (started by `chromium.Launcher`: memory bound per process, no crash dumps, its own
network namespace as root), driven through Playwright's async API on a private event loop so that every
page has a hard deadline. Each page gets a browser context of its own, closed after it: no cookies, storage,
cache, popups or unload handlers carry over to the next page. Its address is a function of its content
(`http://p<hash>/`: a host of one label, so no two pages share a parent domain), and a route handler
answers only that page's own files: every other request is blocked and recorded, and so are WebSockets
(which reach nothing) and popups (closed).
Timers and animation frames run on a paused clock that we advance, so the same page gives the same
screenshot. The DOM is measured and the facts computed through the DevTools protocol in an isolated world
the page's scripts cannot reach, and every list and text a page can grow has a cap, with the count dropped.
Several pages render at once; a crashed browser is restarted and its pages tried once more. Plotly figures
are drawn apart, on our own page (`figures.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from curate.render.chromium import NO_CRASH_DUMPS, Launcher, launch
from curate.render.facts import FACT_LIMITS, FACTS_JS
from curate.render.figures import Canvas, plotly_figure

VIEWPORT = {"width": 1280, "height": 960}
NO_NETWORK = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=socks5://127.0.0.1:9",
              "--proxy-bypass-list=<-loopback>", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
              "--js-flags=--max-old-space-size=512", "--disable-features=Translate,MediaRouter,OptimizationHints"]
# Appended to the served page (no extra round trip): animations and transitions jump to their end.
NO_ANIMATION_STYLE = ("\n<style>*, *::before, *::after { animation-duration: 0s !important; "
                      "animation-delay: 0s !important; transition: none !important; "
                      "caret-color: transparent !important; }</style>")
# The same page gives the same screenshot: Math.random is a seeded generator (mulberry32) in every page,
# and the clock stands still at CLOCK_S (2024-01-01, seconds since the epoch) except when we run it.
SEEDED_RANDOM = """(() => { let a = 0x2545F491; Math.random = () => { a |= 0; a = a + 0x6D2B79F5 | 0;
  let t = Math.imul(a ^ a >>> 15, 1 | a); t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
  return ((t ^ t >>> 14) >>> 0) / 4294967296; }; })();"""
CLOCK_S = 1_704_067_200
MAX_CONSOLE, MAX_REQUESTS, MAX_LINE = 50, 50, 500
MAX_FACT_TEXT, MAX_FACT_ITEMS, MAX_FACTS_BYTES = 300, 500, 256 << 10
# Runs the facts script and caps what it returns (strings, lists), counting what it cut.
CAPPED = """(facts, limits, maxText, maxItems) => { let cut = 0;
  const cap = (v) => {
    if (typeof v === "string") { if (v.length > maxText) { cut++; return v.slice(0, maxText); } return v; }
    if (Array.isArray(v)) { if (v.length > maxItems) cut += v.length - maxItems; return v.slice(0, maxItems).map(cap); }
    if (v && typeof v === "object") { const o = {}; for (const k of Object.keys(v).slice(0, maxItems)) o[k] = cap(v[k]); return o; }
    return v; };
  const out = cap(facts(limits)); if (cut) out.truncated = cut; return out; }"""


def origin_of(html: str, files: dict[str, bytes]) -> str:
    """The page's address: the same page always gets the same one, and different pages share no parent."""
    digest = hashlib.sha256(html.encode())
    for name in sorted(files):
        digest.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return f"http://p{digest.hexdigest()[:20]}"


@dataclass
class PageResult:
    ok: bool = True
    error_type: str | None = None
    error: str | None = None
    screenshot: bytes | None = None
    screenshot_full: bytes | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    facts: dict[str, Any] | None = None
    wall_s: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)

    def fail(self, error_type: str, error: str) -> None:
        if self.ok:  # the first failure is the reason
            self.ok, self.error_type, self.error = False, error_type, error

    def note(self, kind: str, line: str) -> None:
        """Add a console error or failed request, up to the cap; beyond it, only count."""
        lines = self.console_errors if kind == "console_errors" else self.failed_requests
        if len(lines) < (MAX_CONSOLE if kind == "console_errors" else MAX_REQUESTS):
            lines.append(line[:MAX_LINE])
        else:
            self.dropped[kind] = self.dropped.get(kind, 0) + 1

    def close(self) -> None:
        for kind, count in self.dropped.items():
            getattr(self, kind).append(f"…[{count:,} more dropped]")


@dataclass
class PageJob:
    """One page to render: its HTML, its own files, and what to take of it."""

    html: str
    files: dict[str, bytes] = field(default_factory=dict)
    facts: bool = True
    timeout_s: float | None = None


class PageRenderer:
    """A browser for one worker, rendering up to `in_flight` pages at once (the waits of one overlap the work
    of another). `render` never raises for what a page does."""

    def __init__(self, timeout_s: float = 15.0, max_dom: int = 50_000, full_page_max_px: int = 8000,
                 settle_ms: int = 50, in_flight: int = 3, mem_mb: int = 2048):
        self.timeout_s = timeout_s
        self.max_dom = max_dom
        self.full_page_max_px = full_page_max_px
        self.settle_ms = settle_ms
        self.loop = asyncio.new_event_loop()
        self._slots = asyncio.Semaphore(in_flight)
        self._pw = self._browser = None
        self._restarting: asyncio.Lock | None = None
        self.restarts = 0
        self._launcher = Launcher(mem_mb)
        self._canvas = Canvas()

    # ----- lifecycle ------------------------------------------------------------------------------
    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        if self._pw is None:
            self._pw = await async_playwright().start()
        self._browser = await launch(self._pw, extra_args=[*NO_NETWORK, *NO_CRASH_DUMPS],
                                     **self._launcher.launch_kwargs())

    async def _ensure_browser(self, gone: object = None) -> None:
        """A connected browser; `gone` is the browser a page saw die (restarted once, whoever saw it)."""
        self._restarting = self._restarting or asyncio.Lock()
        async with self._restarting:
            if self._browser is not None and self._browser is not gone and self._browser.is_connected():
                return
            if self._browser is not None:
                self.restarts += 1
                try:
                    await asyncio.wait_for(self._browser.close(), 10)
                except Exception:  # noqa: BLE001 - a dead or hung browser: drop the whole driver
                    try:
                        await asyncio.wait_for(self._pw.stop(), 10)
                    except Exception:  # noqa: BLE001
                        pass
                    self._pw = None
            self._browser, self._canvas = None, Canvas()  # (the canvas went with the old browser)
            await self._start()

    def version(self) -> str:
        self.loop.run_until_complete(self._ensure_browser())
        return self._browser.version

    @property
    def isolation(self) -> str:
        """`netns` when Chromium runs in a network namespace of its own, else `router` (requests blocked)."""
        return "netns" if self._launcher.namespaces else "router"

    def close(self) -> None:
        async def go() -> None:
            try:
                await self._canvas.close()
                if self._browser is not None:
                    await asyncio.wait_for(self._browser.close(), 10)
            finally:
                if self._pw is not None:
                    await asyncio.wait_for(self._pw.stop(), 10)

        try:
            self.loop.run_until_complete(go())
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._pw = self._browser = None
        self._launcher.close()
        self.loop.close()

    # ----- pages ----------------------------------------------------------------------------------
    def render(self, html: str, files: dict[str, bytes] | None = None, *, facts: bool = True,
               timeout_s: float | None = None) -> PageResult:
        """Load `html` (with its own `files` beside it) and take its screenshots and facts."""
        return self.render_many([PageJob(html, files or {}, facts, timeout_s)])[0]

    def render_many(self, jobs: list[PageJob]) -> list[PageResult]:
        """Render `jobs` concurrently; results in the same order."""
        async def all_of() -> list[PageResult]:
            return await asyncio.gather(*(self._render_twice(job) for job in jobs))

        return self.loop.run_until_complete(all_of())

    def render_plotly(self, figure_json: str) -> PageResult:
        """Draw a plotly figure (its JSON checked by `plotly_figure`) on our own canvas page."""
        result = PageResult()
        try:
            figure = plotly_figure(figure_json)
        except ValueError as err:
            result.fail("PlotlyFigure", str(err))
            return result
        return self.loop.run_until_complete(self._draw(figure, result))

    async def _draw(self, figure: dict[str, Any], result: PageResult) -> PageResult:
        started = time.monotonic()
        timeout_s = max(self.timeout_s, 30)  # opening the canvas parses plotly.js: our own page, so 30 s at least
        for _ in range(2):
            await self._ensure_browser()
            browser = self._browser
            try:
                await self._canvas.draw(browser, figure, result, timeout_s)
                break
            except TimeoutError:
                result.fail("PageTimeout", f"plotly did not draw the figure within {timeout_s:g} s")
                break
            except Exception as err:  # noqa: BLE001
                if browser.is_connected():
                    result.fail("PageError", f"plotly could not draw the figure: {str(err)[:300]}")
                    break
                await self._ensure_browser(gone=browser)
        else:
            result.fail("BrowserCrash", "the browser crashed twice under this figure")
        result.close()
        result.wall_s = time.monotonic() - started
        return result

    async def _render_twice(self, job: PageJob) -> PageResult:
        """A page whose browser crashed under it gets a new browser and one more try."""
        for _ in range(2):
            async with self._slots:
                await self._ensure_browser()
                browser = self._browser
                try:
                    return await self._render(browser, job)
                except BrowserGone:
                    await self._ensure_browser(gone=browser)
        result = PageResult()
        result.fail("BrowserCrash", "the browser crashed twice under this page")
        return result

    async def _render(self, browser, job: PageJob) -> PageResult:  # noqa: ANN001
        started = time.monotonic()
        result = PageResult()
        sample = _Sample(origin_of(job.html, job.files), job.html + NO_ANIMATION_STYLE, job.files, result)
        timeout_s = job.timeout_s or self.timeout_s
        try:
            context = await browser.new_context(viewport=VIEWPORT, reduced_motion="reduce", service_workers="block",
                                                accept_downloads=False, locale="en-US", timezone_id="UTC")
        except Exception as err:
            raise BrowserGone(str(err)[:200]) from err
        try:
            await asyncio.wait_for(self._visit(context, sample, job, result), timeout_s)
        except TimeoutError:
            result.fail("PageTimeout", f"the page did not load and render within {timeout_s:g} s (an endless script?)")
        except Exception as err:  # noqa: BLE001
            if not browser.is_connected():
                raise BrowserGone(str(err)[:200]) from err
            crashed = "crashed" in str(err).lower()
            result.fail("PageCrash" if crashed else "PageError",
                        "the page's renderer crashed (out of memory?)" if crashed
                        else f"{type(err).__name__}: {str(err)[:500]}")
        finally:
            sample.done = True  # what runs while the context closes (unload handlers) is no one's
            try:
                await asyncio.wait_for(context.close(), 10)
            except Exception:  # noqa: BLE001 - a browser that cannot close a context is replaced
                await self._ensure_browser(gone=browser)
        for kind, events in (("PageDialog", sample.dialogs), ("PagePopup", sample.popups)):
            if events:
                what = "dialog(s), dismissed" if kind == "PageDialog" else "popup window(s), closed"
                result.fail(kind, f"the page opened {len(events)} {what}: {', '.join(events[:5])}"[:MAX_LINE])
        if sample.blocked_navigation:
            result.fail("NavigationBlocked", f"the page tried to navigate to {sample.blocked_navigation[0][:200]} "
                                             f"(blocked)")
        result.close()
        result.wall_s = time.monotonic() - started
        return result

    async def _visit(self, context, sample: _Sample, job: PageJob, result: PageResult) -> None:  # noqa: ANN001
        await context.add_init_script(SEEDED_RANDOM)
        await context.route("**/*", sample.route)
        context.on("dialog", sample.dialog)
        # `pause_at` alone (no `install`, which lets real time pass until the pause) starts every document
        # of the context with time stopped, performance.now() at 0 and Date at CLOCK_S: timers and animation
        # frames then fire only as we run the clock, in the same order every time.
        await context.clock.pause_at(CLOCK_S)
        page = sample.page = await context.new_page()
        context.on("page", sample.popup)  # every page from here on is one the page opened
        page.on("console", sample.console)
        page.on("websocket", sample.websocket)  # seen by the browser, whatever the page's script does
        page.on("pageerror", lambda e: sample.record("console_errors", f"uncaught: {e}"))
        await page.goto(f"{sample.origin}/index.html", wait_until="load")
        if self.settle_ms:
            await sample.run_clock(self.settle_ms)
        cdp = await context.new_cdp_session(page)
        world = await _isolated_world(cdp)
        dom, height = await _evaluate(cdp, world, "[document.getElementsByTagName('*').length, "
                                                  "document.documentElement.scrollHeight]")
        if dom > self.max_dom:
            result.fail("DomTooLarge", f"the page has {dom:,} elements (limit {self.max_dom:,})")
            result.facts = {"dom_size": dom}
            result.screenshot = await page.screenshot(animations="disabled")
            return
        result.screenshot = await page.screenshot(animations="disabled")
        if height <= VIEWPORT["height"]:
            result.screenshot_full = result.screenshot  # the whole page is in the viewport
        else:
            clip = None if height <= self.full_page_max_px else {"x": 0, "y": 0, "width": VIEWPORT["width"],
                                                                 "height": self.full_page_max_px}
            result.screenshot_full = await page.screenshot(full_page=True, clip=clip, animations="disabled")
        if job.facts:
            facts = await _evaluate(cdp, world, f"({CAPPED})(({FACTS_JS}), {json.dumps(FACT_LIMITS)}, "
                                                f"{MAX_FACT_TEXT}, {MAX_FACT_ITEMS})")
            facts["dom_size"] = dom  # the count from outside the page, whatever the script found
            if len(json.dumps(facts)) > MAX_FACTS_BYTES:
                facts = {"dom_size": dom, "truncated": f"facts over {MAX_FACTS_BYTES >> 10} KB left out"}
            result.facts = facts

    def __enter__(self) -> PageRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _isolated_world(cdp) -> int:  # noqa: ANN001
    """An execution context in the page's main frame that the page's own scripts cannot see or change."""
    tree = await cdp.send("Page.getFrameTree")
    world = await cdp.send("Page.createIsolatedWorld", {"frameId": tree["frameTree"]["frame"]["id"],
                                                        "worldName": "curate", "grantUniveralAccess": False})
    return world["executionContextId"]


async def _evaluate(cdp, context_id: int, expression: str) -> Any:  # noqa: ANN001
    reply = await cdp.send("Runtime.evaluate", {"expression": expression, "contextId": context_id,
                                                "returnByValue": True})
    if "exceptionDetails" in reply:
        raise RuntimeError(f"measuring the page failed: {reply['exceptionDetails'].get('text', '')[:200]}")
    return reply["result"]["value"]


@dataclass
class _Sample:
    """One page being rendered: what its listeners report into, until it is `done`."""

    origin: str
    html: str
    files: dict[str, bytes]
    result: PageResult
    page: Any = None
    dialogs: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    blocked_navigation: list[str] = field(default_factory=list)
    done: bool = False

    async def run_clock(self, ms: int) -> None:
        """Fire the page's timers and animation frames of the next `ms`. The clock rethrows what a timer
        threw (the page's own error: recorded, as an uncaught one would be) and fails when a popup closes as
        it runs there too (the page's own frames have run)."""
        try:
            await self.page.context.clock.run_for(ms)
        except Exception as err:
            if self.page.is_closed():
                raise
            if "closed" not in str(err):
                first = str(err).removeprefix("Clock.run_for: ").splitlines()[0]  # (not the clock's stack)
                self.record("console_errors", f"uncaught: {first}")

    def record(self, kind: str, line: str) -> None:
        if not self.done:
            self.result.note(kind, line)

    def console(self, message) -> None:  # noqa: ANN001
        # Chromium's own "Failed to load resource" line for a request that failed is left out: the request
        # is in `failed_requests` already, and the line arrives whenever the network layer gets to it, so a
        # run would record it or not by timing alone (a resumed run would differ from an unbroken one)
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.record("console_errors", message.text)

    async def dialog(self, dialog) -> None:  # noqa: ANN001 - from the page or any popup of it
        if not self.done:
            self.dialogs.append(f"{dialog.type}({dialog.message[:200]!r})")
        await dialog.dismiss()

    async def popup(self, page) -> None:  # noqa: ANN001
        if page is self.page:
            return
        if not self.done:
            self.popups.append(page.url[:200])
        await page.close()

    def websocket(self, socket) -> None:  # noqa: ANN001 - it reaches nothing: no network, no resolver, no proxy
        self.record("failed_requests", f"WEBSOCKET {socket.url[:300]} (blocked: no network)")

    async def route(self, route) -> None:  # noqa: ANN001
        request = route.request
        parts = urlsplit(request.url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            if request.is_navigation_request() and _frame_of(request) == self.page.main_frame and not self.done:
                self.blocked_navigation.append(request.url)
            self.record("failed_requests", f"{request.method} {request.url[:300]} (blocked: outside address)")
            await route.abort("blockedbyclient")
            return
        if parts.path in ("/", "/index.html"):
            await route.fulfill(status=200, body=self.html, content_type="text/html; charset=utf-8")
            return
        body = self.files.get(parts.path.lstrip("/"))
        if body is None:
            self.record("failed_requests", f"{request.method} {request.url[:300]} (404: no such file)")
            await route.fulfill(status=404, body="not found")
            return
        mime = mimetypes.guess_type(parts.path)[0] or "application/octet-stream"
        await route.fulfill(status=200, body=body, content_type=mime)


def _frame_of(request) -> Any:  # noqa: ANN001
    """The frame a request comes from; None for a popup's first navigation (its frame does not exist yet)."""
    try:
        return request.frame
    except Exception:  # noqa: BLE001 - Playwright raises its own Error type here
        return None


class BrowserGone(Exception):
    """The browser crashed or cannot be driven any more."""
