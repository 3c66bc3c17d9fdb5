"""The interactive judge: act on a page and score each interaction 0/1.

`Explorer` (built-in): finds interactive elements (buttons, links, inputs, selects, canvases, elements
with handlers), plans up to N of them (handlers and buttons first, then inputs, canvases, links), acts
through Playwright (click; type then Enter; arrow keys for canvases and games) and scores an interaction 1
when the page changed visibly (screenshot or DOM) without new console errors, else 0.

`LLMExplorer` (OpenDesign's agent, WebVoyager style): numbered Set-of-Mark labels drawn on the screenshot;
a planning turn ranks the interactions to try (cut to the first N: 5, 3 in training), then each turn the
model answers `Score: 0|1|NaN` for its previous action and its next action, one of `Click [n]`,
`Type [n]; text`, `Wait`, `ArrowUp|ArrowDown|ArrowLeft|ArrowRight`, `FINISH`. Game pages also get the game
prompt (play with the arrow keys, judge whether it works). Prompts: `curate.judges.prompts`.

Pages get their own origin; every request outside it is aborted, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from curate.errors import CurateError
from curate.judges.choice import JudgeChoice
from curate.llm import LLMClient, LLMConfig, ParseError, Request, ResponseCache, image_part
from curate.render.chromium import launch
from curate.render.pages import NO_ANIMATION_STYLE, NO_NETWORK, VIEWPORT

ORIGIN = "http://page.curate.invalid"
FIND_JS = """() => {
  const sel = 'button, a[href], input:not([type=hidden]), select, textarea, canvas, summary, [onclick], ' +
              '[role=button], [role=tab], [role=link], [tabindex]:not([tabindex="-1"]), label[for]';
  const out = [];
  document.querySelectorAll('[data-curate-n]').forEach(e => e.removeAttribute('data-curate-n'));
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (r.width < 4 || r.height < 4 || s.visibility === 'hidden' || s.display === 'none' || el.disabled) continue;
    if (r.bottom < 0 || r.right < 0 || r.top > 4 * innerHeight) continue;
    el.setAttribute('data-curate-n', String(out.length));
    const tag = el.tagName.toLowerCase();
    out.push({n: out.length, tag, type: (el.getAttribute('type') || '').toLowerCase(),
              handler: el.hasAttribute('onclick') || el.getAttribute('role') === 'button',
              text: (el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('placeholder') || '').trim().slice(0, 60),
              href: tag === 'a' ? (el.getAttribute('href') || '') : '',
              x: r.x, y: r.y, w: r.width, h: r.height});
  }
  return out;
}"""
DOM_JS = """() => document.body ? document.body.innerHTML.length + ':' + document.body.innerText +
  Array.from(document.querySelectorAll('input,select,textarea')).map(e => e.value + e.checked).join('|') : ''"""
MARK_JS = """(items) => {
  const layer = document.createElement('div');
  layer.id = '__curate_marks';
  layer.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none;z-index:2147483647';
  for (const it of items) {
    const b = document.createElement('div');
    b.style.cssText = `position:absolute;left:${it.x + scrollX}px;top:${it.y + scrollY}px;width:${it.w}px;` +
      `height:${it.h}px;outline:2px solid #e4007c;`;
    const t = document.createElement('span');
    t.textContent = it.n;
    t.style.cssText = 'position:absolute;left:-2px;top:-16px;background:#e4007c;color:#fff;font:bold 12px sans-serif;padding:0 3px';
    b.appendChild(t); layer.appendChild(b);
  }
  document.body.appendChild(layer);
}"""
UNMARK_JS = "() => { const l = document.getElementById('__curate_marks'); if (l) l.remove(); }"
TEXT_TYPES = {"", "text", "search", "email", "url", "tel", "password", "number"}


def plan(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The N most promising elements: handlers and buttons, then inputs, canvases, then links."""
    def rank(it: dict[str, Any]) -> int:
        if it["handler"] or it["tag"] in ("button", "summary") or it["type"] in ("button", "submit", "checkbox", "radio"):
            return 0
        if it["tag"] in ("input", "select", "textarea"):
            return 1
        if it["tag"] == "canvas":
            return 2
        return 3 if it["tag"] == "a" else 4
    chosen, seen = [], set()
    for it in sorted(items, key=lambda i: (rank(i), i["y"], i["x"])):
        key = (it["tag"], it["text"], it["href"])
        if key in seen and it["text"]:
            continue
        seen.add(key)
        chosen.append(it)
        if len(chosen) == n:
            break
    return chosen


class _Browser:
    """One Chromium on a private event loop; each page gets a fresh context at the fake origin."""

    def __init__(self, timeout_s: float = 20.0, settle_ms: int = 250):
        self.timeout_s = timeout_s
        self.settle_ms = settle_ms
        self.loop = asyncio.new_event_loop()
        self._pw = self._browser = None

    async def _open(self, html: str):  # noqa: ANN202
        if self._browser is None or not self._browser.is_connected():
            from playwright.async_api import async_playwright

            self._pw = self._pw or await async_playwright().start()
            self._browser = await launch(self._pw, extra_args=NO_NETWORK)
        context = await self._browser.new_context(viewport=VIEWPORT, reduced_motion="reduce",
                                                  service_workers="block", accept_downloads=False)
        page = await context.new_page()
        errors: list[str] = []

        async def route(route) -> None:  # noqa: ANN001
            url = route.request.url
            if url.split("#")[0] in (ORIGIN, ORIGIN + "/", ORIGIN + "/index.html"):
                await route.fulfill(status=200, body=html + NO_ANIMATION_STYLE, content_type="text/html")
            else:
                await route.abort("blockedbyclient")

        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: asyncio.ensure_future(d.dismiss()))
        await page.route("**/*", route)
        await page.goto(ORIGIN + "/index.html", wait_until="load")
        await page.wait_for_timeout(self.settle_ms)
        return context, page, errors

    async def _state(self, page) -> tuple[str, str]:  # noqa: ANN001
        # focus rings and hover styles are not the page responding: move them out of the picture
        await page.mouse.move(0, 0)
        await page.evaluate("() => document.activeElement && document.activeElement.blur && document.activeElement.blur()")
        shot = await page.screenshot(animations="disabled")
        return hashlib.sha256(shot).hexdigest(), await page.evaluate(DOM_JS)

    async def _act(self, page, item: dict[str, Any], action: str = "auto", text: str = "test") -> None:  # noqa: ANN001
        target = page.locator(f'[data-curate-n="{item["n"]}"]').first
        if action.startswith("Arrow"):
            await page.keyboard.press(action)
        elif action == "type" or (action == "auto" and item["tag"] in ("input", "textarea") and item["type"] in TEXT_TYPES):
            await target.fill(text, timeout=3000)
            await target.press("Enter", timeout=3000)
        elif action == "auto" and item["tag"] == "select":
            values = await target.evaluate("e => Array.from(e.options).map(o => o.value)")
            if len(values) > 1:
                await target.select_option(values[1], timeout=3000)
        elif action == "auto" and item["type"] == "range":
            await target.focus()
            for _ in range(5):
                await page.keyboard.press("ArrowRight")
        elif action == "auto" and item["tag"] == "canvas":
            await target.click(timeout=3000)
            for key in ("ArrowRight", "ArrowUp", "Space", "ArrowLeft"):
                await page.keyboard.press(key)
        else:
            await target.click(timeout=3000)
        await page.wait_for_timeout(self.settle_ms)

    def close(self) -> None:
        async def go() -> None:
            if self._browser is not None:
                await self._browser.close()
            if self._pw is not None:
                await self._pw.stop()
        try:
            self.loop.run_until_complete(go())
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self.loop.close()


class Explorer(_Browser):
    """The built-in explorer: deterministic, offline."""

    def explore(self, html: str, n: int = 5, instruction: str = "", game: bool = False) -> list[float]:
        """One 0/1 score per planned interaction ([] when the page has nothing to interact with); a game's
        canvas gets the arrow keys in any case."""
        try:
            return self.loop.run_until_complete(asyncio.wait_for(self._explore(html, n), self.timeout_s * 2))
        except CurateError:  # no Chromium: the user's to fix, not the page's fault
            raise
        except Exception:  # noqa: BLE001 - a page that cannot be explored scores 0 on every planned try
            return [0.0] * n

    async def _explore(self, html: str, n: int) -> list[float]:
        context, page, errors = await self._open(html)
        try:
            items = plan(await page.evaluate(FIND_JS), n)
            shot, dom = await self._state(page)
            await page.wait_for_timeout(self.settle_ms)
            animated = (await self._state(page))[0] != shot  # the page moves by itself: trust the DOM only
            scores = []
            for item in items:
                n_errors = len(errors)
                try:
                    await self._act(page, item)
                except Exception:  # noqa: BLE001 - covered, detached or not actionable: nothing happened
                    scores.append(0.0)
                    continue
                after_shot, after_dom = await self._state(page)
                changed = after_dom != dom or (not animated and after_shot != shot)
                scores.append(1.0 if changed and len(errors) == n_errors else 0.0)
                shot, dom = after_shot, after_dom
            return scores
        finally:
            await context.close()


ACTION_RE = re.compile(r"Action:\s*(Click \[(\d+)\]|Type \[(\d+)\];\s*(.*)|Wait|Arrow(?:Up|Down|Left|Right)|FINISH)", re.I)
SCORE_RE = re.compile(r"Score:\s*(0|1|NaN)\b", re.I)
PLAN_RE = re.compile(r"^\s*\d+\s*[.)]\s*(.+?)\s*$", re.M)


def parse_plan(text: str) -> list[str]:
    """The numbered interactions of a planning answer, most important first."""
    steps = [s for s in PLAN_RE.findall(text) if s]
    if not steps:
        raise ParseError("expected a numbered list of interactions (1. Click [n] - what should happen)")
    return steps[:20]


def parse_turn(text: str) -> tuple[float, str, int | None, str]:
    """(score of the previous action, action kind, label, typed text)."""
    score = SCORE_RE.search(text)
    action = ACTION_RE.search(text)
    if not score or not action:
        raise ParseError("expected 'Score: 0|1|NaN' and 'Action: ...' lines")
    value = float("nan") if score.group(1).lower() == "nan" else float(score.group(1))
    raw = action.group(1)
    if raw.lower().startswith("click"):
        return value, "click", int(action.group(2)), ""
    if raw.lower().startswith("type"):
        return value, "type", int(action.group(3)), action.group(4).strip()[:200]
    keys = {k.lower(): k for k in ("ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight")}
    return value, keys.get(raw.lower(), raw.upper()), None, ""


class LLMExplorer(_Browser):
    """OpenDesign's interactive agent: a planning turn (a ranked plan, cut to the first `n` interactions),
    then WebVoyager-style turns through Set-of-Mark screenshots, each scoring the previous action
    (`Score: 0|1|NaN`) and taking the next (`Action: ...`); game pages get the game prompt too."""

    def __init__(self, config: LLMConfig, cache: ResponseCache | None = None, prompts: JudgeChoice | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.client = LLMClient(config, cache)
        choice = prompts or JudgeChoice()
        self.plan_prompt, self.act_prompt = choice.prompt("explore-plan"), choice.prompt("explore-act")
        self.game_prompt = choice.prompt("explore-game").user

    def explore(self, html: str, n: int = 5, instruction: str = "", game: bool = False) -> list[float]:
        try:
            return self.loop.run_until_complete(self._explore(html, n, instruction, game))
        except CurateError:  # no Chromium, a refused key: the user's to fix
            raise
        except Exception:  # noqa: BLE001 - a page the agent could not drive: nothing could be judged
            return [float("nan")] * n

    async def _look(self, page) -> tuple[list[dict[str, Any]], bytes, str]:  # noqa: ANN001
        items = await page.evaluate(FIND_JS)
        await page.evaluate(MARK_JS, items)
        shot = await page.screenshot(animations="disabled")
        await page.evaluate(UNMARK_JS)
        listing = "\n".join(f"[{i['n']}] <{i['tag']}> {i['text']}" for i in items[:80]) or "(none)"
        return items, shot, listing

    async def _explore(self, html: str, n: int, instruction: str, game: bool) -> list[float]:
        context, page, _ = await self._open(html)
        scores: list[float] = []
        history: list[str] = []
        extra = self.game_prompt if game else ""
        try:
            async with self.client:
                _, shot, listing = await self._look(page)
                planned = await self.client.complete(Request("opendesign-plan", self.plan_prompt.messages(
                    [image_part(shot)], system_extra=extra, instruction=instruction, elements=listing),
                    parse=parse_plan))
                if not planned.ok:
                    return [float("nan")] * n
                plan = planned.value[:n]
                for step in range(len(plan) + 1):
                    items, shot, listing = await self._look(page)
                    next_step = plan[step] if step < len(plan) else "nothing: score your last action and FINISH"
                    result = await self.client.complete(Request("webvoyager-agent", self.act_prompt.messages(
                        [image_part(shot)], system_extra=extra, instruction=instruction,
                        plan="; ".join(f"{i + 1}. {p}" for i, p in enumerate(plan)),
                        history="; ".join(history) or "nothing yet", step=next_step, elements=listing),
                        parse=parse_turn))
                    if not result.ok:  # the endpoint gave up: what was left cannot be judged
                        scores += [float("nan")] * (len(plan) - len(scores))
                        break
                    score, action, label, typed = result.value
                    if step > 0:
                        scores.append(score)
                    if action == "FINISH" or step == len(plan):
                        break
                    history.append(f"{action} {label if label is not None else ''} {typed}".strip())
                    await self._agent_act(page, items, action, label, typed)
        finally:
            await context.close()
        return scores

    async def _agent_act(self, page, items: list[dict[str, Any]], action: str, label: int | None,  # noqa: ANN001
                         typed: str) -> None:
        try:
            if action == "WAIT":
                await page.wait_for_timeout(1000)
            elif action.startswith("Arrow"):
                await page.keyboard.press(action)
            elif label is not None and 0 <= label < len(items):
                await self._act(page, items[label], "type" if action == "type" else "click", typed or "test")
        except Exception:  # noqa: BLE001 - the agent scores what happened on its next turn
            pass


def explorer(choice: JudgeChoice, cache: ResponseCache | None = None, timeout_s: float = 20.0) -> Explorer | LLMExplorer:
    """The explorer a judge choice asks for (`interactive: builtin` or `llm`)."""
    if choice.interactive == "llm":
        return LLMExplorer(choice.llm, cache, choice, timeout_s=timeout_s)
    return Explorer(timeout_s=timeout_s)
