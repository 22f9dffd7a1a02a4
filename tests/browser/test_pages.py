"""Every page of the built HTML book, in a real browser (Debian's chromium through Playwright).

Each page listed in ``_toc.yml`` is served from the built book (``$SPRINGBLOCK_BOOK_HTML``, default
``_build/html``) by a local ``http.server`` and opened in a fresh browser context (a first visit) at a
desktop width (1280 px) and a phone width (390 px). The page is loaded once per width; the checks
below then read that one load:

* no console errors, no uncaught exceptions, no failed or >= 400 requests, nothing fetched from
  anywhere but the local server (the book must work offline);
* every article image has loaded and is not blank;
* MathJax typeset every equation: no raw TeX left in the text, no MathJax error, at least one
  ``mjx-container`` per ``.math`` node;
* no unrendered glue, traceback or stderr output;
* nothing sticks out of the text column (except cells tagged full-width, which may span the margin,
  and inside boxes that scroll sideways: wide tables and
  code), and the page never scrolls sideways.

Plus: the Fig. 1 heat map shows hover labels and the chain explorer's slider changes the figure.

Set ``SPRINGBLOCK_SCREENSHOTS=<folder>`` to keep a full-page PNG per page and width.
Run: ``.venv/bin/python -m pytest -m browser tests/browser/test_pages.py``
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from browser_support import ROOT, chromium_missing

HTML = Path(os.environ.get("SPRINGBLOCK_BOOK_HTML", ROOT / "_build" / "html")).resolve()
WIDTHS = (1280, 390)
HEIGHT = 900
LOAD_TIMEOUT_MS = 60_000
MATHJAX_TIMEOUT_MS = 30_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _why_skip() -> str | None:
    if not (HTML / "index.html").is_file() and not any(HTML.glob("*.html")):
        return f"no built book at {HTML} (run: jupyter-book build book/, or set SPRINGBLOCK_BOOK_HTML)"
    return chromium_missing()


SKIP = _why_skip()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def toc_pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The root and every ``file:`` entry of the table of contents, in order, without extension."""
    import yaml

    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in data.items() if k != "root"})
    out = []
    for f in files:
        f = re.sub(r"\.(md|ipynb|rst)$", "", str(f))
        if f not in out:
            out.append(f)
    return out


PAGES = toc_pages()
CASES = [(p, w) for p in PAGES for w in WIDTHS]
CASE_IDS = [f"{p}@{w}" for p, w in CASES]


# --------------------------------------------------------------------------------------------- server

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def book_url():
    """The built book served on 127.0.0.1 (a free port), for the whole session."""
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# ------------------------------------------------------------------------------------- page loading

@dataclass
class Report:
    """What one load of one page at one width showed."""
    page: str
    width: int
    load_error: str | None = None
    console_errors: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    bad_responses: list = field(default_factory=list)
    external_requests: list = field(default_factory=list)
    mathjax: str = ""
    data: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page}.html at {self.width} px"


# Runs in the page once everything has settled; returns plain data for the checks.
COLLECT_JS = r"""
() => {
  const art = document.querySelector('.bd-article') || document.querySelector('main');
  if (!art) return {article: false};
  const describe = (el) => {
    const cls = (el.getAttribute && el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 4);
    let text = (el.textContent || '').replace(/\s+/g, ' ').trim();
    if (!text && el.tagName.toLowerCase() === 'img') text = el.getAttribute('alt') || el.getAttribute('src') || '';
    if (text.length > 70) text = text.slice(0, 67) + '...';
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls.length ? '.' + cls.join('.') : '')
           + (text ? ' "' + text + '"' : '');
  };

  // ---- images: loaded, and not a single flat colour
  const images = [...art.querySelectorAll('img')].map((img) => {
    const r = {desc: describe(img), src: (img.currentSrc || img.src || '').slice(0, 200), complete: img.complete,
               naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, uniform: null, error: null};
    if (img.naturalWidth > 0 && img.naturalHeight > 0) {
      try {
        const scale = Math.min(1, 1600 / img.naturalWidth, 1600 / img.naturalHeight);
        const w = Math.max(1, Math.round(img.naturalWidth * scale)), h = Math.max(1, Math.round(img.naturalHeight * scale));
        const c = document.createElement('canvas');
        c.width = w; c.height = h;
        const g = c.getContext('2d', {willReadFrequently: true});
        g.imageSmoothingEnabled = false;
        g.drawImage(img, 0, 0, w, h);
        const d = new Uint32Array(g.getImageData(0, 0, w, h).data.buffer);
        let uniform = true;
        for (let i = 1; i < d.length; i++) { if (d[i] !== d[0]) { uniform = false; break; } }
        r.uniform = uniform;
      } catch (e) { r.error = String(e); }
    }
    return r;
  });

  // ---- text: prose (code, math output and scripts removed) and everything
  const clone = art.cloneNode(true);
  clone.querySelectorAll('script, style, noscript, template').forEach((e) => e.remove());
  const allText = clone.textContent;
  clone.querySelectorAll('pre, code, kbd, samp, textarea, .highlight, mjx-container, mjx-assistive-mml')
       .forEach((e) => e.remove());
  const proseText = clone.textContent;

  // ---- math
  const mathNodes = art.querySelectorAll('.math').length;
  const mjx = art.querySelectorAll('mjx-container').length;
  // TeX errors: merror nodes (CHTML or SVG output), and the red text the 'noundefined' package puts in
  // place of an undefined macro (MathJax draws it as glyphs, so name the formula by its TeX source)
  const texOf = (el) => {
    const c = el.closest('mjx-container');
    try {
      const item = c && [...MathJax.startup.document.math].find((m) => m.typesetRoot === c);
      if (item) return item.math.slice(0, 120);
    } catch (e) { /* fall back to the element */ }
    return describe(el.closest('.math') || el);
  };
  const mathErrors = [...art.querySelectorAll(
      'mjx-merror, [data-mjx-error], [data-mml-node="merror"], mjx-container [data-mml-node="mtext"][fill="red"]')]
      .map((e) => (e.getAttribute('data-mjx-error') || (e.getAttribute('fill') === 'red' ? 'undefined macro' : 'error'))
                  + ' in ' + texOf(e));
  const unrenderedMath = [...art.querySelectorAll('.math')].filter((e) => !e.querySelector('mjx-container'))
      .slice(0, 10).map(describe);

  // ---- display equations cut by a box that does not scroll that way (a scroll box is fine sideways)
  const clippedMath = [];
  for (const el of art.querySelectorAll('mjx-container[display="true"]')) {
    const svg = el.querySelector('svg');
    if (!svg) continue;
    const r = svg.getBoundingClientRect();
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      const ar = a.getBoundingClientRect();
      const vertical = cs.overflowY !== 'visible' && (r.top < ar.top - 1 || r.bottom > ar.bottom + 1);
      const sideways = (cs.overflowX === 'hidden' || cs.overflowX === 'clip') && (r.left < ar.left - 1 || r.right > ar.right + 1);
      if (vertical || sideways) {
        clippedMath.push(describe(el) + (vertical ? ': cut at its top or bottom' : ': cut at a side') + ' by ' + describe(a));
        break;
      }
    }
    if (clippedMath.length >= 10) break;
  }

  // ---- outputs that should never be in the book
  const stderr = [...art.querySelectorAll('div.output.stderr, .output .stderr, .stderr, div.output.traceback')]
      .slice(0, 10).map(describe);

  // ---- horizontal overflow of the text column
  const artRect = art.getBoundingClientRect();
  const limit = artRect.right + 2;
  // cells tagged full-width are meant to span the margin too: they may reach the main area's edge
  const main = document.querySelector('.bd-main') || document.documentElement;
  const wideLimit = main.getBoundingClientRect().right + 2;
  const scrollCache = new Map();
  const scrollsX = (el) => {
    if (scrollCache.has(el)) return scrollCache.get(el);
    const cs = getComputedStyle(el);
    const v = (cs.overflowX === 'auto' || cs.overflowX === 'scroll') && el.scrollWidth > el.clientWidth;
    scrollCache.set(el, v);
    return v;
  };
  const inScroller = (el) => {
    for (let a = el.parentElement; a && a !== art; a = a.parentElement) if (scrollsX(a)) return true;
    return false;
  };
  const offenders = [];
  let reported = [];
  for (const el of art.querySelectorAll('*')) {
    if (reported.some((o) => o.contains(el))) continue;  // report the outermost element only
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right <= (el.closest('.tag_full-width') ? wideLimit : limit)) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') continue;
    if (inScroller(el)) continue;
    reported.push(el);
    offenders.push({desc: describe(el), right: Math.round(r.right), over: Math.round(r.right - artRect.right)});
    if (offenders.length >= 15) break;
  }
  return {
    article: true, articleRight: Math.round(artRect.right), articleLeft: Math.round(artRect.left),
    images, allText, proseText, mathNodes, mjx, mathErrors, unrenderedMath, clippedMath, stderr, offenders,
    plotly: art.querySelectorAll('.plotly-graph-div').length,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  };
}
"""

WAIT_IMAGES_JS = r"""
async (timeout) => {
  const art = document.querySelector('.bd-article') || document.querySelector('main') || document.body;
  const imgs = [...art.querySelectorAll('img')];
  await Promise.all(imgs.map((img) => {
    if (img.complete) return null;
    if (img.loading === 'lazy') img.scrollIntoView();   // lazy images load once seen
    return new Promise((resolve) => {
      img.addEventListener('load', resolve, {once: true});
      img.addEventListener('error', resolve, {once: true});
      setTimeout(resolve, timeout);
    });
  }));
  window.scrollTo(0, 0);
  if (document.fonts && document.fonts.ready) await document.fonts.ready;
}
"""

WAIT_MATHJAX_JS = r"""
async (timeout) => {
  const hasMath = !!document.querySelector('.math');
  const t0 = Date.now();
  // MathJax is loaded async: wait for the script to define its startup promise
  while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
    if (Date.now() - t0 > timeout) return hasMath ? 'MathJax never loaded' : 'no math';
    if (!hasMath && document.readyState === 'complete' && !document.querySelector('script[src*="mathjax"]'))
      return 'no math';
    await new Promise((r) => setTimeout(r, 50));
  }
  const timer = new Promise((r) => setTimeout(() => r('MathJax timed out'), Math.max(1, timeout - (Date.now() - t0))));
  try {
    return await Promise.race([window.MathJax.startup.promise.then(() => 'ok'), timer]);
  } catch (e) {
    return 'MathJax failed: ' + e;
  }
}
"""


def shot_dir() -> Path | None:
    d = os.environ.get("SPRINGBLOCK_SCREENSHOTS")
    if not d:
        return None
    p = Path(d)
    p.mkdir(parents=True, exist_ok=True)
    return p


def save_screenshot(page, name: str, width: int):
    """Full-page PNG for humans when $SPRINGBLOCK_SCREENSHOTS is set (never fails a test)."""
    d = shot_dir()
    if d is None:
        return
    try:
        page.screenshot(path=str(d / f"{name.replace('/', '_')}-{width}.png"), full_page=True, timeout=30_000)
    except Exception as e:  # a screenshot is a convenience
        print(f"screenshot of {name} at {width} px failed: {e}")


def new_context(browser, width: int, report: Report | None = None):
    """A fresh context (empty cache and storage: a first visit) that refuses to leave 127.0.0.1."""
    ctx = browser.new_context(viewport={"width": width, "height": HEIGHT}, device_scale_factor=1,
                              service_workers="block")

    def gate(route):
        url = route.request.url
        u = urlparse(url)
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL_HOSTS:
            if report is not None:
                report.external_requests.append(url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    ctx.route("**/*", gate)
    return ctx


def load(browser, base_url: str, name: str, width: int) -> Report:
    report = Report(name, width)
    ctx = new_context(browser, width, report)
    page = ctx.new_page()

    def on_console(msg):
        if msg.type == "error":
            loc = msg.location or {}
            report.console_errors.append(f"{msg.text} ({loc.get('url', '?')}:{loc.get('lineNumber', '?')})")

    def on_failed(req):
        if urlparse(req.url).hostname in LOCAL_HOSTS or not req.url.startswith("http"):
            report.failed_requests.append(f"{req.url}: {req.failure}")

    def on_response(resp):
        if resp.status >= 400:
            report.bad_responses.append(f"{resp.status} {resp.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    try:
        page.goto(f"{base_url}/{name}.html", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        report.mathjax = page.evaluate(WAIT_MATHJAX_JS, MATHJAX_TIMEOUT_MS)
        page.evaluate(WAIT_IMAGES_JS, 15_000)
        # plotly draws after its script ran; wait until every graph div has its SVG
        page.wait_for_function(
            "() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
            timeout=20_000)
        page.wait_for_load_state("networkidle", timeout=20_000)
        report.data = page.evaluate(COLLECT_JS)
        save_screenshot(page, name, width)
    except Exception as e:  # recorded: every check then fails with it
        report.load_error = f"{type(e).__name__}: {e}"
    finally:
        # freeze the event lists first: closing the context aborts whatever is still in flight
        frozen = {a: list(getattr(report, a)) for a in
                  ("console_errors", "page_errors", "failed_requests", "bad_responses", "external_requests")}
        ctx.close()
        for a, v in frozen.items():
            setattr(report, a, v)
    return report


@pytest.fixture(scope="session")
def reports():
    return {}


@pytest.fixture
def report(request, browser, book_url, reports) -> Report:
    case = request.param
    if case not in reports:
        reports[case] = load(browser, book_url, *case)
    r = reports[case]
    if r.load_error:
        pytest.fail(f"{r.where}: the page did not load and settle: {r.load_error}")
    if not r.data.get("article"):
        pytest.fail(f"{r.where}: no .bd-article / main element")
    return r


def _fmt(items, limit=12) -> str:
    items = list(items)
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return "\n    " + "\n    ".join(str(i) for i in items[:limit]) + more


per_case = pytest.mark.parametrize("report", CASES, ids=CASE_IDS, indirect=True)


# ------------------------------------------------------------------------------------------ checks

def test_toc_lists_pages_that_were_built():
    missing = [p for p in PAGES if not (HTML / f"{p}.html").is_file()]
    assert PAGES and not missing, f"pages in _toc.yml missing from {HTML}: {missing}"


@per_case
def test_no_errors_and_offline(report: Report):
    problems = []
    if report.console_errors:
        problems.append("console errors:" + _fmt(report.console_errors))
    if report.page_errors:
        problems.append("uncaught page errors:" + _fmt(report.page_errors))
    if report.failed_requests:
        problems.append("failed requests:" + _fmt(report.failed_requests))
    if report.bad_responses:
        problems.append("HTTP errors:" + _fmt(report.bad_responses))
    if report.external_requests:
        problems.append("requests leaving the machine (the book must work offline):" + _fmt(report.external_requests))
    assert not problems, f"{report.where}:\n  " + "\n  ".join(problems)


@per_case
def test_images_load_and_are_not_blank(report: Report):
    bad = []
    for img in report.data["images"]:
        if not img["complete"] or img["naturalWidth"] == 0:
            bad.append(f"not loaded: {img['desc']} (src {img['src']})")
        elif img["error"]:
            bad.append(f"could not be read back: {img['desc']}: {img['error']}")
        elif img["uniform"]:
            bad.append(f"blank (one flat colour, {img['naturalWidth']}x{img['naturalHeight']}): {img['desc']} "
                       f"(src {img['src']})")
    assert not bad, f"{report.where}: {len(bad)} of {len(report.data['images'])} images broken:" + _fmt(bad)


RAW_TEX = [
    ("'$$'", re.compile(r"\$\$")),
    (r"'\('", re.compile(r"\\\(")),
    (r"'\['", re.compile(r"\\\[")),
    (r"'\begin{'", re.compile(r"\\begin\{")),
    (r"'$...\command...$'", re.compile(r"\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$")),
]


def _snippets(text: str, rx: re.Pattern, limit=5):
    out, last = [], -1
    for m in rx.finditer(text):
        if m.start() < last:  # the closing half of a match already shown
            continue
        a, b = max(0, m.start() - 40), min(len(text), m.end() + 40)
        last = b
        out.append(repr(text[a:b].replace("\n", " ")))
        if len(out) >= limit:
            break
    return out


def _found(text: str, patterns, message: str) -> list[str]:
    """One problem line per (label, regex) in ``patterns`` that matches ``text``, with the matches."""
    return [message.format(label) + _fmt(hits) for label, rx in patterns if (hits := _snippets(text, rx))]


@per_case
def test_math_is_typeset(report: Report):
    d = report.data
    problems = []
    if d["mathNodes"] and report.mathjax != "ok":
        problems.append(f"MathJax did not finish: {report.mathjax}")
    problems += _found(d["proseText"], RAW_TEX, "raw TeX {} left in the text:")
    if d["mathErrors"]:
        problems.append("MathJax errors:" + _fmt(d["mathErrors"]))
    if d["unrenderedMath"]:
        problems.append(".math nodes without mjx-container:" + _fmt(d["unrenderedMath"]))
    if d["mjx"] < d["mathNodes"]:
        problems.append(f"{d['mjx']} mjx-container elements for {d['mathNodes']} .math nodes")
    assert not problems, f"{report.where}:\n  " + "\n  ".join(problems)


@per_case
def test_display_equations_are_whole(report: Report):
    """Every display equation is fully visible, or sits in a box that scrolls sideways: never cut."""
    clipped = report.data["clippedMath"]
    assert not clipped, f"{report.where}: display equations cut off:" + _fmt(clipped)


UNRENDERED = [
    ("glue role/directive left as text", re.compile(r"\{glue:")),
    ("<glue ...> placeholder", re.compile(r"<glue")),
    ("a Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a figure's text repr instead of the figure", re.compile(r"<Figure size \d+x\d+ with \d+ Axes>")),
]


@per_case
def test_no_unrendered_outputs(report: Report):
    d = report.data
    problems = []
    problems += _found(d["allText"], UNRENDERED, "{}:")
    if d["stderr"]:
        problems.append("stderr / traceback output blocks:" + _fmt(d["stderr"]))
    assert not problems, f"{report.where}:\n  " + "\n  ".join(problems)


@per_case
def test_nothing_wider_than_the_text_column(report: Report):
    d = report.data
    problems = []
    if d["offenders"]:
        problems.append(f"elements past the article's right edge ({d['articleRight']} px), outermost only:"
                        + _fmt(f"{o['desc']}: right edge {o['right']} px, {o['over']} px too wide"
                               for o in d["offenders"]))
    if d["scrollWidth"] > d["innerWidth"] + 1:
        problems.append(f"the page scrolls sideways: document scrollWidth {d['scrollWidth']} px > "
                        f"window width {d['innerWidth']} px")
    assert not problems, f"{report.where}:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------------------- interactive plotly

@contextlib.contextmanager
def _opened(browser, book_url, name, width=1280):
    """A page of the book in a fresh context, its plotly figures drawn; yields (page, page errors)."""
    if name not in PAGES:
        pytest.skip(f"{name} is not in the table of contents")
    ctx = new_context(browser, width)
    try:
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{book_url}/{name}.html", wait_until="load", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function(
            "() => { const d = document.querySelectorAll('.plotly-graph-div');"
            " return d.length > 0 && [...d].every(g => g.querySelector('.main-svg') && g._fullLayout); }",
            timeout=20_000)
        yield page, errors
    finally:
        ctx.close()


# Pixel position (in the viewport) of the middle point of the first hoverable visible trace.
TRACE_POINT_JS = r"""
(gd) => {
  const fl = gd._fullLayout, data = gd._fullData || [];
  const svg = gd.querySelector('.main-svg').getBoundingClientRect();
  for (const d of data) {
    if (d.visible !== true || d.hoverinfo === 'skip' || !d.x || !d.x.length) continue;
    const xa = fl[d.xaxis === 'x' ? 'xaxis' : 'xaxis' + d.xaxis.slice(1)];
    const ya = fl[d.yaxis === 'y' ? 'yaxis' : 'yaxis' + d.yaxis.slice(1)];
    const i = Math.floor(d.x.length / 2);
    const x = svg.left + xa._offset + xa.d2p(d.x[i]), y = svg.top + ya._offset + ya.d2p(d.y[i]);
    if (Number.isFinite(x) && Number.isFinite(y)) return {x, y, trace: d.index};
  }
  return null;
}
"""


def test_fig1_heat_map_shows_hover_labels(browser, book_url):
    name = "02_phase_diagram"
    with _opened(browser, book_url, name) as (page, errors):
        gd = page.locator(".bd-article .plotly-graph-div").first
        gd.scroll_into_view_if_needed()
        assert page.locator(".hoverlayer .hovertext").count() == 0, "a hover label shows before any hover"
        pt = page.evaluate(TRACE_POINT_JS, gd.element_handle())
        assert pt, f"{name}: no hoverable trace in the first plotly figure"
        page.mouse.move(pt["x"] - 30, pt["y"] - 30)
        page.mouse.move(pt["x"], pt["y"], steps=5)
        label = page.locator(".bd-article .plotly-graph-div").first.locator(".hoverlayer .hovertext").first
        try:
            label.wait_for(state="attached", timeout=5_000)
        except Exception:
            save_screenshot(page, f"{name}-hover-failed", 1280)
            raise AssertionError(f"{name}.html at 1280 px: hovering trace {pt['trace']} of the Fig. 1 heat map at "
                                 f"({pt['x']:.0f}, {pt['y']:.0f}) shows no .hovertext label") from None
        text = label.text_content() or ""
        assert "α" in text and "accuracy" in text, f"{name}: unexpected hover label text {text!r}"
        assert not errors, f"{name}: page errors while hovering: {errors}"


def test_chain_explorer_slider_changes_the_figure(browser, book_url):
    name = "03_spring_block"
    with _opened(browser, book_url, name) as (page, errors):
        gd = page.locator(".bd-article .plotly-graph-div:has(g.slider-container)").first
        assert gd.count() == 1, f"{name}.html: no plotly figure with a slider (g.slider-container)"
        gd.scroll_into_view_if_needed()
        assert gd.locator(".gtitle").count() == 1, f"{name}.html: the explorer figure has no title before sliding"
        before = gd.locator(".gtitle").first.text_content()
        state = "gd => [gd._fullLayout.sliders[0].active, gd._fullData.filter(d => d.visible === true).map(d => d.index)]"
        active0, visible0 = gd.evaluate(state)
        n = gd.evaluate("gd => gd._fullLayout.sliders[0].steps.length")
        assert n >= 2, f"{name}: the slider has {n} step(s)"
        rail = gd.locator("g.slider-container .slider-rail-touch-rect").first
        box = rail.bounding_box()
        assert box and box["width"] > 0, f"{name}: the slider's rail has no size"
        # click about three quarters of the way along the rail: a step other than the first
        page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
        try:  # the step moved and plotly redrew (the title changed, or went away)
            gd.evaluate("""(gd, [a0, t0]) => new Promise((resolve, reject) => {
                const t1 = Date.now();
                (function poll() {
                  const t = gd.querySelector('.gtitle');
                  if (gd._fullLayout.sliders[0].active !== a0 && (!t || t.textContent !== t0)) return resolve();
                  if (Date.now() - t1 > 5000) return reject(new Error('timeout'));
                  setTimeout(poll, 50);
                })();
            })""", [active0, before])
        except Exception:  # described below
            pass
        active, visible = gd.evaluate(state)
        titles = gd.locator(".gtitle")
        after = titles.first.text_content() if titles.count() else None
        layout_title = gd.evaluate("gd => JSON.stringify(gd.layout.title)")
        if not (active != active0 and visible != visible0 and after not in (None, before)):
            save_screenshot(page, f"{name}-slider-failed", 1280)
        where = f"{name}.html at 1280 px, explorer slider step {active0} -> {active}"
        assert active != active0, f"{where}: clicking the rail did not move the slider"
        assert visible != visible0, f"{where}: the visible traces did not change"
        assert after is not None, (f"{where}: the figure's title disappeared (was {before!r}; layout.title is now "
                                   f"{layout_title}; plotly.js >= 3 drops a plain-string 'title' in relayout/update "
                                   f"args, it needs {{'title.text': ...}})")
        assert after != before, f"{where}: the title stayed {before!r}"
        assert "curvature" in after, f"{where}: unexpected title {after!r}"
        assert not errors, f"{name}: page errors while sliding: {errors}"
