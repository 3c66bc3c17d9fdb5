"""Pages in Chromium: screenshots, facts, and hostile pages (by class) contained, recorded, and kept from the next."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from curate.render.pages import PageRenderer, origin_of

LOOP = "<p>x</p><script>while (true) {}</script>"


@pytest.fixture(scope="module")
def renderer():
    with PageRenderer(timeout_s=60, max_dom=5000, mem_mb=1024) as r:
        yield r


def test_screenshots_and_page_facts(renderer):
    page = ("<html><head><title>Shop</title></head><body style='background:#ffffff;color:#777777;margin:0'>"
            "<h1 style='font-size:32px;color:#000000'>Big</h1><p style='font-size:11px'>Small grey text</p>"
            "<div id='wide' style='width:1600px;height:20px'>wide</div><img src='logo.png'>"
            "<img src='missing.png'><script>console.error('oops')</script></body></html>")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
          b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
    result = renderer.render(page, {"logo.png": png})
    assert result.ok, result.error
    assert result.screenshot.startswith(b"\x89PNG") and result.screenshot_full.startswith(b"\x89PNG")
    assert "oops" in result.console_errors
    assert any("missing.png (404" in r for r in result.failed_requests)
    facts = result.facts
    assert facts["title"] == "Shop" and facts["images_broken"] == 1 and facts["dom_size"] >= 8
    grey = next(p for p in facts["color_pairs"] if p["text"] == "Small grey text")
    assert grey["fg"] == "#777777" and grey["bg"] == "#ffffff" and grey["font_size_px"] == 11
    assert 4.4 < grey["contrast"] < 4.6  # WCAG: #777 on white is 4.48
    assert [o["id"] for o in facts["overflowing"]] == ["wide"]
    assert {"tag", "x", "y", "w", "h"} <= set(facts["boxes"][0]) and {f["px"] for f in facts["font_sizes"]} >= {11, 32}
    json.dumps(facts)


def test_tall_page_has_a_full_page_screenshot(renderer):
    result = renderer.render("<div style='height:3000px;background:linear-gradient(red,blue)'></div>")
    assert result.ok and result.screenshot != result.screenshot_full


def test_outside_requests_and_websockets_are_blocked_and_recorded(renderer):
    result = renderer.render("<p>x</p><img src='https://example.com/a.png'>"
                             "<script>fetch('http://10.0.0.1/x').catch(() => {}); new WebSocket('ws://1.1.1.1/');"
                             "const f = document.createElement('iframe'); document.body.append(f); "
                             "const Native = f.contentWindow.WebSocket; window.WebSocket = function () {}; "
                             "new Native('ws://2.2.2.2/');</script>")
    assert any("example.com/a.png (blocked" in r for r in result.failed_requests)
    assert any("10.0.0.1" in r for r in result.failed_requests)
    assert any(r.startswith("WEBSOCKET ws://1.1.1.1/") for r in result.failed_requests)
    assert any(r.startswith("WEBSOCKET ws://2.2.2.2/") for r in result.failed_requests)  # however it was made


def test_endless_script_times_out_and_the_next_page_renders(renderer):
    result = renderer.render(LOOP, timeout_s=3)
    assert not result.ok and result.error_type == "PageTimeout" and "endless" in result.error
    assert renderer.render("<p>after</p>").ok


def test_dialogs_are_dismissed_and_recorded(renderer):
    result = renderer.render("<p>x</p><script>alert('hi'); confirm('sure?'); prompt('name?')</script>")
    assert not result.ok and result.error_type == "PageDialog"
    assert "alert('hi')" in result.error and "confirm('sure?')" in result.error
    assert result.screenshot is not None


def test_navigation_to_an_outside_address_is_blocked(renderer):
    result = renderer.render("<script>location.href = 'https://evil.example.com/steal'</script>")
    assert not result.ok and result.error_type == "NavigationBlocked" and "evil.example.com" in result.error


def test_giant_dom_fails(renderer):
    result = renderer.render("<body><script>for (let i = 0; i < 20000; i++) "
                             "document.body.appendChild(document.createElement('div'))</script></body>")
    assert not result.ok and result.error_type == "DomTooLarge" and "20,0" in result.error


def browser_processes() -> list[int]:
    """Main Chromium processes started under this test process (renderers and helpers have --type=)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                commands[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, cmd in commands.items()
            if "chrom" in cmd and "--type=" not in cmd and "--remote-debugging-pipe" in cmd and descends(pid)]


def test_a_crashed_browser_is_restarted_without_losing_the_page(renderer):
    assert renderer.render("<p>before</p>").ok
    victims = browser_processes()
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    result = renderer.render("<p>after the crash</p>")
    assert result.ok and result.screenshot and renderer.restarts >= 1


def test_plotly_figure_renders_without_kaleido(renderer):
    result = renderer.render_plotly('{"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}')
    assert result.ok and result.screenshot.startswith(b"\x89PNG")


def test_chromium_runs_without_network():
    """Chromium launched as the renderer launches it (no router, no proxy flags) cannot reach a server on our
    loopback, while the same browser launched plainly can: the network namespace is what stops it."""
    import asyncio
    import http.server
    import threading

    from playwright.async_api import async_playwright

    from curate.render.chromium import Launcher, launch

    launcher = Launcher(mem_mb=1024)
    assert launcher.namespaces, "unshare --net --pid must work here (make setup runs the tests as root)"
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"

    async def visit(**kwargs: str) -> str:
        async with async_playwright() as pw:
            browser = await launch(pw, **kwargs)
            page = await browser.new_page()
            try:
                await page.goto(url, timeout=10000)
                return "reached"
            except Exception as err:  # noqa: BLE001
                return str(err)
            finally:
                await browser.close()

    try:
        assert asyncio.run(visit()) == "reached"
        isolated = asyncio.run(visit(**launcher.launch_kwargs()))
    finally:
        server.shutdown()
        launcher.close()
    assert "ERR_" in isolated


def test_pages_rendered_together_keep_their_own_results(renderer):
    from curate.render.pages import PageJob

    jobs = [PageJob(f"<title>p{i}</title><script>console.error('from {i}')</script><img src='x{i}.png'>")
            for i in range(7)]
    jobs[2] = PageJob(LOOP, timeout_s=3)
    jobs[4] = PageJob("<script>alert('only four')</script>")
    results = renderer.render_many(jobs)
    assert results[2].error_type == "PageTimeout" and results[4].error_type == "PageDialog"
    for i in (0, 1, 3, 5, 6):
        assert results[i].ok and results[i].facts["title"] == f"p{i}", (i, results[i].error)
        mine = [e for e in results[i].console_errors if e.startswith("from ")]
        assert mine == [f"from {i}"]  # its own message, and no other page's
        # its own address, a function of the page alone: the same row whatever ran before it
        assert results[i].failed_requests == [f"GET {origin_of(jobs[i].html, {})}/x{i}.png (404: no such file)"]


def test_random_and_timer_driven_pages_render_the_same_twice(renderer):
    page = ("<p id='t'></p><canvas id='c' width='300' height='200'></canvas><script>const c = document."
            "getElementById('c').getContext('2d'); let n = 0; const draw = () => { n++; c.fillStyle = "
            "`hsl(${Math.random() * 360},70%,50%)`; c.fillRect(Math.random() * 300, Math.random() * 200, 20, 20); "
            "document.getElementById('t').textContent = `${n} frames at ${new Date().toISOString()}`; "
            "requestAnimationFrame(draw); }; requestAnimationFrame(draw); setInterval(() => c.fillRect(n, n, 5, 5), 7);"
            "</script>")
    first, second = renderer.render(page), renderer.render(page)
    assert first.ok and first.screenshot == second.screenshot and first.facts == second.facts


# ----- nothing carries over from one page to the next ---------------------------------------------
def test_cookies_storage_and_unload_handlers_stay_with_their_page(renderer):
    planter = renderer.render(
        "<p>planter</p><script>document.cookie = 'seen=1; path=/'; document.cookie = 'parent=1; domain=invalid';"
        "localStorage.setItem('seen', '1'); addEventListener('pagehide', () => console.error('unload ran'));"
        "addEventListener('beforeunload', (e) => { e.preventDefault(); e.returnValue = 'stay'; });</script>")
    assert planter.ok and planter.console_errors == []
    reader = renderer.render("<script>document.title = JSON.stringify([document.cookie, localStorage.length, "
                             "window.opener === null])</script>")
    assert reader.ok and reader.facts["title"] == '["",0,true]' and reader.console_errors == []


def test_popups_and_their_dialogs_are_closed_and_recorded(renderer):
    result = renderer.render("<p>x</p><script>const w = window.open('/index.html?popup'); "
                             "window.open('https://evil.example.com/');</script>")
    assert not result.ok and result.error_type in ("PagePopup", "PageDialog"), result.error
    assert "popup" in result.error or "dialog" in result.error
    assert any("evil.example.com" in r for r in result.failed_requests)
    assert renderer.render("<p>next</p>").ok


# ----- records the page cannot forge or blow up ---------------------------------------------------
def test_dom_size_is_measured_where_the_page_cannot_lie(renderer):
    result = renderer.render("<body><script>document.getElementsByTagName = () => ({length: 3}); "
                             "Object.defineProperty(HTMLCollection.prototype, 'length', {get: () => 3});"
                             "for (let i = 0; i < 20000; i++) document.body.appendChild(document.createElement('i'))"
                             "</script></body>")
    assert not result.ok and result.error_type == "DomTooLarge" and result.facts["dom_size"] > 20000


def test_every_list_and_text_a_page_grows_is_capped_with_the_count_dropped(renderer):
    result = renderer.render("<script>document.title = 'T'.repeat(10 ** 7); for (let i = 0; i < 300; i++) "
                             "{ console.error('e' + i); fetch('x' + i + '.png').catch(() => {}); }</script>"
                             "<p>capped</p>")
    assert result.ok, result.error
    assert len(result.console_errors) == 51 and result.console_errors[:2] == ["e0", "e1"]
    assert result.console_errors[-1] == "…[250 more dropped]"  # Chromium's own 404 lines are not recorded
    assert len(result.failed_requests) == 51 and result.failed_requests[-1] == "…[250 more dropped]"
    assert len(result.facts["title"]) == 300 and result.facts["truncated"] >= 1
    assert len(json.dumps(result.facts)) < 256 << 10


def test_a_renderer_cannot_grow_past_its_memory_bound(renderer):
    result = renderer.render("<p>x</p><script>const a = []; for (let i = 0; i < 30; i++) "
                             "a.push(new Uint8Array(100 * 1024 * 1024).fill(1)); document.title = 'all ' + a.length;"
                             "</script>")
    assert result.error_type == "PageCrash" or "Array buffer allocation failed" in " ".join(result.console_errors)
    assert renderer.render("<p>next</p>").ok


def test_chromium_keeps_no_crash_dumps_and_no_files(renderer):
    assert renderer.render("<p>x</p>").ok
    main = browser_processes()[0]
    limits = Path(f"/proc/{main}/limits").read_text()
    assert re.search(r"Max core file size\s+0\s", limits) and re.search(r"Max data size\s+1073741824\s", limits)
    environ = dict(v.split("=", 1) for v in Path(f"/proc/{main}/environ").read_text().split("\0") if "=" in v)
    assert environ["HOME"] == renderer._launcher.folder and "--disable-breakpad" in \
        Path(f"/proc/{main}/cmdline").read_text()


def test_a_plotly_figure_is_drawn_as_data_only(renderer):
    injected = json.dumps({"data": [{"type": "bar", "x": [1], "y": [2], "name": "</script><script>alert(1)</script>"}]})
    assert renderer.render_plotly(injected).ok
    for forged in ("1; alert(1)", '{"data": "x"}', json.dumps({"data": [1, 2]})):
        result = renderer.render_plotly(forged)
        assert not result.ok and result.error_type == "PlotlyFigure" and result.screenshot is None

