"""The page facts the judges need, computed inside the page after it loads and its screenshots are taken
(JavaScript, run by `page.evaluate`). A Python string (raw: the regular expressions keep their
backslashes) so that it ships like any module.

What counts is what a reader can see. A text is visible only when it is shown (not `display: none`,
`visibility: hidden`, transparent or fully faded by an ancestor's opacity), has a size, lies on the page
(not pushed off it, nor clipped away by an ancestor's overflow), differs from its background (WCAG contrast
of at least `min_contrast`) and is not behind another element (the element found at its centre, with the
text scrolled to the middle of the viewport, is the text's own element, one of its ancestors or
descendants, or a see-through one). `visible_text` holds only such text (and the placeholders and labels
of visible controls); the colour pairs, font sizes and boxes are of visible elements only, and hidden text
is counted by reason. `elements` counts what the page shows: controls, navigation, tables, images that
loaded, charts, canvases, video, cards, carousels, 3D, animation. Caps keep giant pages cheap.
"""

FACTS_JS = r"""
(limits) => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const pageW = Math.max(vw, document.documentElement.scrollWidth);
  const pageH = document.documentElement.scrollHeight;
  const all = document.getElementsByTagName("*");
  const parse = (c) => {
    const m = (c || "").match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const l1 = lum(a), l2 = lum(b); return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05); };
  const mix = (top, under, a) => ({ r: a * top.r + (1 - a) * under.r, g: a * top.g + (1 - a) * under.g, b: a * top.b + (1 - a) * under.b, a: 1 });
  const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const background = (el) => {
    // The first opaque background up the tree (images and gradients count as unknown: skipped).
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const opacities = new Map();
  const opacity = (el) => {  // the element's own opacity times its ancestors'
    if (!el) return 1;
    if (!opacities.has(el)) opacities.set(el, Number(getComputedStyle(el).opacity) * opacity(el.parentElement));
    return opacities.get(el);
  };
  const shown = (el, r) => {
    if (r.width <= 0 || r.height <= 0) return false;
    const s = getComputedStyle(el);
    return s.visibility === "visible" && s.display !== "none" && Number(s.opacity) > 0;
  };
  const clippedAway = (el, r) => {
    // the element or an ancestor clips its overflow and leaves (almost) nothing of the text's box
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX === "visible" && s.overflowY === "visible" && s.clipPath === "none") continue;
      const c = e.getBoundingClientRect();
      const w = Math.min(r.right, c.right) - Math.max(r.left, c.left), h = Math.min(r.bottom, c.bottom) - Math.max(r.top, c.top);
      if (w < 2 || h < 2) return true;
    }
    return false;
  };
  const textRect = (nodes) => {
    // the box of the text itself (not of its element), and its line boxes
    let box = null;
    const lines = [];
    for (const n of nodes) {
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of Array.from(range.getClientRects()).slice(0, 8)) if (r.width > 0 && r.height > 0) lines.push(r);
      const r = range.getBoundingClientRect();
      if (r.width <= 0 && r.height <= 0) continue;
      box = box ? { left: Math.min(box.left, r.left), top: Math.min(box.top, r.top), right: Math.max(box.right, r.right), bottom: Math.max(box.bottom, r.bottom) }
                : { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    }
    if (!box) return { left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0, lines };
    return { ...box, width: box.right - box.left, height: box.bottom - box.top, lines };
  };
  const MEDIA = new Set(["img", "canvas", "video", "svg", "iframe", "picture", "object", "embed"]);
  const colorPairs = [], seen = new Set(), fontSizes = {}, overflowing = [], boxes = [], candidates = [];
  const hiddenChars = {}, elements = { button: 0, input: 0, link: 0, nav: 0, footer: 0, table: 0, image: 0, svg: 0,
    canvas: 0, chart: 0, webgl: 0, css3d: 0, video: 0, dialog: 0, h1: 0, animated: 0, carousel: 0, grid_cells: 0, card_groups: 0,
    top_links: 0 };
  let styled = false, textOverflow = 0;
  const body = document.body ? getComputedStyle(document.body) : null;
  if (body && (body.margin !== "8px" || (parse(body.backgroundColor) || { a: 0 }).a > 0 || !/times/i.test(body.fontFamily))) styled = true;
  const n = Math.min(all.length, limits.scan);
  for (let i = 0; i < n; i++) {
    const el = all[i];
    const tag = el.tagName.toLowerCase();
    if (tag === "dialog" || ["dialog", "alertdialog"].includes(el.getAttribute("role"))) elements.dialog++;
    const r = el.getBoundingClientRect();
    const own = Array.from(el.childNodes).filter((c) => c.nodeType === 3 && c.textContent.trim());
    if (!shown(el, r)) {
      if (own.length && !["script", "style", "noscript", "template", "title", "head"].includes(tag))
        hiddenChars.hidden = (hiddenChars.hidden || 0) + own.map((c) => c.textContent.trim().length).reduce((a, b) => a + b, 0);
      continue;
    }
    const s = getComputedStyle(el);
    if (!styled && (((parse(s.backgroundColor) || { a: 0 }).a > 0 && !["input", "button", "select", "textarea", "mark"].includes(tag))
        || s.borderRadius !== "0px" || s.boxShadow !== "none")) styled = true;
    if (boxes.length < limits.boxes && !["html", "head", "script", "style", "meta", "link"].includes(tag))
      boxes.push({ tag, x: Math.round(r.x + scrollX), y: Math.round(r.y + scrollY), w: Math.round(r.width), h: Math.round(r.height) });
    if ((r.width > vw + 1 || r.right > vw + 1) && overflowing.length < limits.overflowing && tag !== "html" && tag !== "body")
      overflowing.push({ tag, id: el.id || null, cls: (typeof el.className === "string" ? el.className : "").slice(0, 60) || null,
                         x: Math.round(r.x), w: Math.round(r.width) });
    const op = opacity(el);
    if (op >= 0.05) {
      const big = r.width >= 24 && r.height >= 24;
      if (tag === "button" || (tag === "input" && ["button", "submit", "reset"].includes(el.type)) || el.getAttribute("role") === "button") elements.button++;
      else if (["input", "textarea", "select"].includes(tag) && el.type !== "hidden") elements.input++;
      else if (tag === "a" && el.href) {
        elements.link++;
        // a link drawn as a button (padding and a fill or a border) is one to a reader
        if (parseFloat(s.paddingLeft) >= 6 && ((parse(s.backgroundColor) || { a: 0 }).a > 0.5 || s.borderTopWidth !== "0px")) elements.button++;
        if (r.top + scrollY < 200) elements.top_links++;
      }
      if (tag === "nav" || el.getAttribute("role") === "navigation") elements.nav++;
      if (tag === "footer" || el.getAttribute("role") === "contentinfo") elements.footer++;
      if (tag === "table" || ["table", "grid"].includes(el.getAttribute("role"))) elements.table++;
      if (tag === "img" && el.complete && el.naturalWidth > 0 && big) elements.image++;
      if (tag !== "img" && big && /url\(/.test(s.backgroundImage)) elements.image++;
      if (tag === "svg" && big) { elements.svg++; if (r.width >= 100 && r.height >= 80 && el.querySelectorAll("rect,path,circle,line,polyline,polygon").length >= 5) elements.chart++; }
      if (tag === "canvas" && big) {
        elements.canvas++;
        if (r.width >= 100 && r.height >= 80) elements.chart++;
        try { if (el.getContext("2d") === null) elements.webgl++; } catch (e) {}
      }
      if ((tag === "video" || tag === "iframe") && big) elements.video++;
      if (tag === "h1") elements.h1++;
      if (s.animationName && s.animationName !== "none") elements.animated++;
      if (s.transformStyle === "preserve-3d" || (s.perspective && s.perspective !== "none") || /matrix3d/.test(s.transform)) elements.css3d++;
      if (["auto", "scroll", "hidden"].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 50 && el.children.length >= 3) elements.carousel++;
      if (tag === "input" && el.type === "range") elements.carousel++;
      if ((s.display === "grid" || s.display === "flex") && el.children.length >= 3) {
        const kids = Array.from(el.children).map((k) => k.getBoundingClientRect()).filter((k) => k.width >= 24 && k.height >= 24);
        const same = kids.filter((k) => Math.abs(k.width - kids[0].width) <= 2 && Math.abs(k.height - kids[0].height) <= 2);
        if (s.display === "grid" && same.length >= 9) elements.grid_cells = Math.max(elements.grid_cells, same.length);
        const framed = Array.from(el.children).filter((k) => { const ks = getComputedStyle(k);
          return ks.boxShadow !== "none" || ks.borderTopWidth !== "0px" || ((parse(ks.backgroundColor) || { a: 0 }).a > 0.5 && ks.backgroundColor !== s.backgroundColor); });
        if (same.length >= 3 && framed.length >= 3 && kids[0].width >= 100 && kids[0].height >= 60) elements.card_groups++;
      }
    }
    let textNodes = own;
    let text = own.map((c) => c.textContent.trim()).join(" ");
    if (["input", "textarea"].includes(tag) && (el.placeholder || (["button", "submit"].includes(el.type) && el.value))) {
      text = el.placeholder || el.value; textNodes = null;
    }
    if (!text) continue;
    const tr = textNodes ? textRect(textNodes) : r;
    const size = parseFloat(s.fontSize);
    const fill = parse(s.webkitTextFillColor) || parse(s.color) || { r: 0, g: 0, b: 0, a: 1 };
    const gradient = /text/.test((s.backgroundClip || "") + (s.webkitBackgroundClip || ""));
    const bg = background(el);
    const alpha = fill.a * op;
    const fg = mix(fill, bg, alpha);
    const contrast = gradient ? 21 : ratio(fg, bg);
    const docX = tr.left + scrollX, docY = tr.top + scrollY;
    const why = s.visibility !== "visible" ? "hidden" : op < 0.05 || (alpha < 0.05 && !gradient) ? "transparent"
      : size < 1 || tr.width < 1 || tr.height < 1 ? "zero-size"
      : docX + tr.width <= 0 || docY + tr.height <= 0 || docX >= pageW || docY >= pageH ? "off-screen"
      : clippedAway(el, tr) ? "clipped" : contrast < limits.min_contrast ? "no-contrast" : null;
    if (why) { hiddenChars[why] = (hiddenChars[why] || 0) + text.length; continue; }
    candidates.push({ el, text, size, fg, bg, contrast, tr, cx: tr.left + tr.width / 2 + scrollX, cy: tr.top + tr.height / 2 + scrollY });
    // text that spills out of its block (or the viewport), unless it sits in a box made to scroll
    const block = ["inline", "contents"].includes(s.display) && el.parentElement ? el.parentElement : el;
    const bb = block.getBoundingClientRect();
    if (tr.right > bb.right + 4 || tr.left < bb.left - 4 || tr.right > vw + 4) {
      let scrolls = false;
      for (let e = el; e && e !== document.body; e = e.parentElement) {
        const os = getComputedStyle(e).overflowX;
        if (os === "auto" || os === "scroll") { scrolls = true; break; }
      }
      if (!scrolls) textOverflow++;
    }
  }
  // behind another element? look at each text's centre with the text in the middle of the viewport
  const bands = {};
  for (const c of candidates.slice(0, limits.texts)) {
    const k = Math.max(0, Math.round((c.cy - vh / 2) / (vh / 2)));
    (bands[k] = bands[k] || []).push(c);
  }
  const startX = scrollX, startY = scrollY;
  for (const k of Object.keys(bands).map(Number).sort((a, b) => a - b).slice(0, 40)) {
    window.scrollTo(0, k * vh / 2);
    for (const c of bands[k]) {
      const x = c.cx - scrollX, y = c.cy - scrollY;
      if (x < 0 || x >= vw || y < 0 || y >= vh) continue;
      const hit = document.elementFromPoint(x, y);
      if (!hit || hit === c.el || c.el.contains(hit) || hit.contains(c.el)) continue;
      const hs = getComputedStyle(hit);
      const solid = (parse(hs.backgroundColor) || { a: 0 }).a > 0.5 || hs.backgroundImage !== "none" || MEDIA.has(hit.tagName.toLowerCase());
      if (solid) c.covered = true;
    }
  }
  window.scrollTo(startX, startY);
  const visible = [];
  for (const c of candidates) {
    if (c.covered) { hiddenChars.covered = (hiddenChars.covered || 0) + c.text.length; continue; }
    visible.push(c.text);
    fontSizes[c.size] = (fontSizes[c.size] || 0) + 1;
    const key = hex(c.fg) + hex(c.bg) + c.size;
    if (colorPairs.length < limits.pairs && !seen.has(key)) {
      seen.add(key);
      colorPairs.push({ fg: hex(c.fg), bg: hex(c.bg), contrast: Math.round(c.contrast * 100) / 100, font_size_px: c.size,
                        text: c.text.slice(0, 80) });
    }
  }
  // texts running into each other (elements apart, neither inside the other)
  const shownTexts = candidates.filter((c) => !c.covered).slice(0, 600);
  let textOverlaps = 0;
  for (let i = 0; i < shownTexts.length; i++) {
    const a = shownTexts[i];
    for (let j = i + 1; j < shownTexts.length; j++) {
      const b = shownTexts[j];
      if (a.tr.right <= b.tr.left || b.tr.right <= a.tr.left || a.tr.bottom <= b.tr.top || b.tr.bottom <= a.tr.top) continue;
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const hit = (a.tr.lines || []).some((p) => (b.tr.lines || []).some((q) => {
        const w = Math.min(p.right, q.right) - Math.max(p.left, q.left), h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        return w > 0 && h > 0 && w * h > 0.3 * Math.min(p.width * p.height, q.width * q.height);
      }));
      if (hit) textOverlaps++;
    }
  }
  const images = Array.from(document.images);
  const visibleText = visible.join(" ").replace(/\s+/g, " ").slice(0, limits.text_chars);
  return {
    dom_size: all.length,
    title: document.title || "",
    text_length: visibleText.length,
    visible_text: visibleText,
    hidden_text: hiddenChars,
    largest_text_px: Math.max(0, ...candidates.filter((c) => !c.covered && c.cy < 1.5 * vh).map((c) => c.size)),
    color_pairs: colorPairs,
    font_sizes: Object.entries(fontSizes).map(([px, count]) => ({ px: Number(px), count })).sort((a, b) => a.px - b.px),
    overflowing,
    text_overflow: textOverflow,
    text_overlaps: textOverlaps,
    boxes,
    elements,
    styled,
    images_broken: images.filter((im) => im.complete && im.naturalWidth === 0).length,
    page_height: document.documentElement.scrollHeight,
    page_width: document.documentElement.scrollWidth,
  };
}
"""

FACT_LIMITS = {"scan": 20000, "pairs": 200, "boxes": 400, "overflowing": 50, "texts": 3000,
               "text_chars": 20000, "min_contrast": 1.25}
