"""The built-in judge's rules for web pages: what a reader sees, as the page facts measured in Chromium
record it (visible text, visible elements, text/background contrast, font sizes, overflow, element boxes,
text covered by other elements, broken images), the console errors and failed requests, and the
screenshots. The HTML is never read: text hidden by CSS, pushed off the page, clipped away, the colour of
its background or behind another element earns nothing.

Alignment (0–40): instruction keywords in the visible text (20), requested elements visible (12), a title
(2), a main heading (2), some content (4). Aesthetics (0–30): text contrast (10), type scale (6), styling
(4), palette (6), clutter (4). Structure (0–30): overflow (8), text covered by other elements (6), console
errors (6), broken images (5), failed requests (3), overlapping boxes (4), empty regions (4).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from curate.judges.base import Finding, Sample, Verdict, available
from curate.judges.image_metrics import measure

STOPWORDS = set("""
about above after again against also another any are around based been before being below between both build
but can could create created creating design designed does doing down during each every feature features
few for from full further had has have having here how include includes including into its itself just like
look make makes making more most must need needs nice only other over own page pages same should show shows
simple some such than that the their them then there these they this those through under until using very
want what when where which while will with within without would your you modern clean beautiful responsive
website web site section sections style styled layout display user users element elements component
components interactive professional stunning sleek elegant minimal minimalist visually appealing attractive
html css javascript single file landing named called titled two three four five six code implement implementing include contain contains containing please
""".split())
# name: (instruction pattern, what the page must show, from the page facts' counts of visible elements)
ELEMENTS: dict[str, tuple[str, Callable[[dict[str, int]], bool]]] = {
    "button": (r"\bbuttons?\b|\bcta\b|call[- ]to[- ]action", lambda e: e.get("button", 0) > 0),
    "form": (r"\bforms?\b|\binputs?\b|subscribe|newsletter|search bar|contact form", lambda e: e.get("input", 0) > 0),
    "navigation": (r"\bnav(igation)?\b|\bnavbar|\bmenu\b|header with links",
                   lambda e: e.get("nav", 0) > 0 or e.get("top_links", 0) >= 3),
    "footer": (r"\bfooter", lambda e: e.get("footer", 0) > 0),
    "table": (r"\btables?\b|pricing comparison", lambda e: e.get("table", 0) > 0 or e.get("grid_cells", 0) >= 4),
    "chart": (r"\bcharts?\b|\bgraphs?\b|visuali[sz]", lambda e: e.get("chart", 0) > 0),
    "image": (r"\bimages?\b|\bgallery|\bphotos?\b|\bpictures?\b|\bhero image|\blogos?\b",
              lambda e: e.get("image", 0) + e.get("svg", 0) > 0),
    "game": (r"\bgames?\b|\bplayable|\bscore\b", lambda e: e.get("canvas", 0) > 0 or e.get("grid_cells", 0) >= 9),
    "3d": (r"\b3d\b|three\.js|webgl", lambda e: e.get("webgl", 0) + e.get("css3d", 0) > 0),
    "video": (r"\bvideos?\b", lambda e: e.get("video", 0) > 0),
    # a dialog stays hidden until it is opened: its element counts, with something to open it
    "modal": (r"\bmodal|\bdialog|\bpop-?up", lambda e: e.get("dialog", 0) > 0 and e.get("button", 0) > 0),
    "carousel": (r"\bcarousel|\bslider|\bslideshow", lambda e: e.get("carousel", 0) > 0),
    "card": (r"\bcards?\b", lambda e: e.get("card_groups", 0) > 0),
    "animation": (r"\banimat", lambda e: e.get("animated", 0) + e.get("canvas", 0) > 0),
}
WORD_RE = re.compile(r"[a-z][a-z0-9]{3,}")
HEADING_PX = 28  # a text this large near the top reads as the page's heading, whatever its tag


def keywords(instruction: str, limit: int = 15) -> list[str]:
    seen: list[str] = []
    for word in WORD_RE.findall(instruction.lower()):
        if word not in STOPWORDS and word not in seen and len(word) >= 4:
            seen.append(word)
    return seen[:limit]


def _stem(word: str) -> str:
    return word[:4]  # crude, but plan/plans, note/notes, photo/photographer meet


def alignment(sample: Sample) -> list[Finding]:
    facts = sample.page_facts or {}
    found: list[Finding] = []
    words = keywords(sample.instruction)
    if words:
        seen = f"{facts.get('title') or ''} {facts.get('visible_text') or ''}".lower()
        have = {_stem(w) for w in WORD_RE.findall(seen)}
        missing = [w for w in words if _stem(w) not in have]
        coverage = 1 - len(missing) / len(words)
        if coverage < 0.7:
            found.append(Finding("alignment", "keywords", round(20 * (1 - coverage / 0.7), 2),
                                 f"{coverage:.0%} of the instruction's key words are visible on the page "
                                 f"(missing: {', '.join(missing[:6])})"))
    elements = facts.get("elements") or {}
    asked = [n for n, (ask, _) in ELEMENTS.items() if re.search(ask, sample.instruction.lower())]
    absent = [n for n in asked if not ELEMENTS[n][1](elements)]
    if absent:
        found.append(Finding("alignment", "requested-elements", round(12 * len(absent) / len(asked), 2),
                             f"asked for but not visible on the page: {', '.join(absent)}"))
    if not str(facts.get("title") or "").strip():
        found.append(Finding("alignment", "title", 2, "no <title>"))
    if not elements.get("h1") and float(facts.get("largest_text_px") or 0) < HEADING_PX:
        found.append(Finding("alignment", "heading", 2, "no visible main heading"))
    length = int(facts.get("text_length") or 0)
    if length < 80 and not elements.get("canvas"):
        found.append(Finding("alignment", "content", 4, f"almost no visible content ({length} characters of text)"))
    return found


def _count(value: Any) -> int:
    if isinstance(value, list | tuple | dict):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _font_sizes(facts: dict[str, Any]) -> list[float]:
    """One entry per text element (exec records `[{px, count}]`), capped so one size cannot swamp."""
    sizes = facts.get("font_sizes") or []
    if isinstance(sizes, dict):
        sizes = [{"px": k, "count": n} for k, n in sizes.items()]
    return [float(s["px"]) for s in sizes if isinstance(s, dict) for _ in range(min(int(s.get("count", 1)), 200))]


def looks(sample: Sample) -> list[Finding]:
    facts = sample.page_facts or {}
    found: list[Finding] = []
    pairs = [p for p in facts.get("color_pairs") or [] if isinstance(p, dict) and p.get("contrast") is not None]
    if pairs:
        def needed(p: dict[str, Any]) -> float:
            return 3.0 if float(p.get("font_size_px") or 16) >= 24 else 4.5
        weights = [max(1, len(str(p.get("text") or ""))) for p in pairs]
        bad = sum(w for p, w in zip(pairs, weights, strict=True) if float(p["contrast"]) < needed(p))
        share = bad / sum(weights)
        if share > 0.05:
            worst = min(pairs, key=lambda p: float(p["contrast"]))
            found.append(Finding("aesthetics", "text-contrast", round(min(10.0, 2 + 12 * share), 2),
                                 f"{share:.0%} of the text is below WCAG contrast (worst {float(worst['contrast']):.1f}:1 "
                                 f"for {str(worst.get('text') or '')[:30]!r})"))
    sizes = _font_sizes(facts)
    if sizes:
        small = sum(s < 12 for s in sizes) / len(sizes)
        if small > 0.1:
            found.append(Finding("aesthetics", "small-text", round(min(3.0, 6 * small), 2),
                                 f"{small:.0%} of the text is under 12 px"))
        distinct = len({round(s) for s in sizes})
        if distinct < 3:
            found.append(Finding("aesthetics", "flat-type-scale", 3,
                                 f"only {distinct} font size(s): no visual hierarchy"))
        elif distinct > 10:
            found.append(Finding("aesthetics", "inconsistent-type", 2, f"{distinct} different font sizes"))
    if facts.get("styled") is False:
        found.append(Finding("aesthetics", "unstyled", 4, "browser default styles: no styling of its own"))
    if (shot := available(sample.screenshot)) is not None:
        stats = measure(shot)
        if stats.background_sat > 0.5 and stats.background_val > 0.6:
            found.append(Finding("aesthetics", "loud-background", 3,
                                 f"saturated background colour rgb{stats.background}"))
        if stats.loud_pairs:
            found.append(Finding("aesthetics", "clashing-colours", 2,
                                 f"{stats.loud_pairs} pair(s) of fully saturated, far-apart hues"))
        if stats.pure_share > 0.5 and stats.saturated_share > 0.05:
            found.append(Finding("aesthetics", "raw-colours", 1,
                                 f"{stats.pure_share:.0%} of the coloured area is raw primary/secondary colour"))
        if stats.ink_share > 0.85 and stats.distinct_colors > 30:
            found.append(Finding("aesthetics", "clutter", 2, "the viewport is crowded edge to edge"))
    return found


def _overlaps(boxes: list[dict[str, Any]]) -> int:
    """Pairs of boxes that overlap by more than a fifth of the smaller, where neither contains the other."""
    rects = [(float(b.get("x", 0)), float(b.get("y", 0)), float(b.get("w", 0)), float(b.get("h", 0)))
             for b in boxes[:150] if isinstance(b, dict) and float(b.get("w", 0)) > 4 and float(b.get("h", 0)) > 4]
    count = 0
    for i, (ax, ay, aw, ah) in enumerate(rects):
        for bx, by, bw, bh in rects[i + 1:]:
            ix = min(ax + aw, bx + bw) - max(ax, bx)
            iy = min(ay + ah, by + bh) - max(ay, by)
            if ix <= 0 or iy <= 0:
                continue
            inter = ix * iy
            if inter >= 0.95 * min(aw * ah, bw * bh):
                continue  # nested: a child inside its container
            if inter > 0.2 * min(aw * ah, bw * bh):
                count += 1
    return count


def structure(sample: Sample) -> list[Finding]:
    facts = sample.page_facts or {}
    found: list[Finding] = []
    overflowing = _count(facts.get("overflowing")) + _count(facts.get("text_overflow"))
    if overflowing:
        found.append(Finding("structure", "overflow", min(8, 3 + overflowing),
                             f"{overflowing} element(s) or text(s) overflow the viewport or their box"))
    overlaps = _count(facts.get("text_overlaps"))
    if overlaps:
        found.append(Finding("structure", "overlapping-text", min(6, 2 + overlaps // 2),
                             f"{overlaps} pair(s) of texts run into each other"))
    covered = _count((facts.get("hidden_text") or {}).get("covered"))
    if covered > 40:
        found.append(Finding("structure", "covered-text", min(6.0, round(2 + covered / 100, 2)),
                             f"{covered} characters of text are hidden behind other elements"))
    errors = [e for e in sample.console_errors if e]
    if errors:
        found.append(Finding("structure", "console-errors", min(6, 3 * len(errors)),
                             f"{len(errors)} console error(s): {str(errors[0])[:120]}"))
    broken = _count(facts.get("images_broken"))
    if broken:
        found.append(Finding("structure", "broken-images", min(8.0, 2 + 1.5 * broken), f"{broken} broken image(s)"))
    if sample.failed_requests:
        found.append(Finding("structure", "failed-requests", min(3, len(sample.failed_requests)),
                             f"{len(sample.failed_requests)} failed request(s), e.g. {str(sample.failed_requests[0])[:80]}"))
    overlaps = _overlaps(facts.get("boxes") or [])
    if overlaps:
        found.append(Finding("structure", "overlapping-boxes", min(4, 1 + overlaps),
                             f"{overlaps} pair(s) of elements overlap"))
    if (shot := available(sample.screenshot_full) or available(sample.screenshot)) is not None:
        stats = measure(shot)
        if stats.blank_band > 0.3:
            found.append(Finding("structure", "empty-region", 4, f"an empty band {stats.blank_band:.0%} of the page"))
        if stats.ink_share < 0.002:
            found.append(Finding("structure", "blank", 20, "the page renders blank"))
    return found


NO_FACTS = [Finding("alignment", "no-facts", 40, "nothing recorded about what the page shows (re-run "
                                                 "`curate exec`): nothing can be credited")]


def judge_page(sample: Sample) -> Verdict:
    known = "visible_text" in (sample.page_facts or {})
    return Verdict.from_findings((alignment(sample) if known else list(NO_FACTS)) + looks(sample) + structure(sample))
