"""The built book, read in a real browser: headless Chromium driven by Selenium.

The book is the smoke-built one of ``tests/test_notebooks.py`` (built once per session and
shared). Every page of ``_toc.yml`` (and the search page) is opened from ``file://`` in
Debian's ``chromium`` through its ``chromedriver`` (never a downloaded driver), in a window
of 1400 x 1000 px, and must show:

- **no console error** (the browser log at level SEVERE: a script that fails, a file that
  does not load);
- **every ``<img>`` decoded**: ``naturalWidth > 0``;
- **MathJax loaded and run**: ``MathJax.startup.promise`` resolved on every page (the book's
  chrome loads it everywhere), no TeX error box, and **no raw TeX delimiter** (``\\(``,
  ``\\)``, ``\\[``, ``\\]``, ``$$``) in the visible text outside code;
- **no request that leaves ``file://``**: the Performance API's resource and navigation
  entries and the DevTools network log (which also lists requests that failed);
- **no broken internal link** (a link to a file of the book that does not exist);
- **wide content scrolls**: a display equation or table wider than its box sits in a box
  that scrolls horizontally (``overflow-x: auto|scroll``), never clipped or spilling out;
- **figure text of at least 9 px on screen**. The rule: a figure's smallest text is ``pt``
  points, the smallest font size that the page's notebook and the ``lgm`` modules it imports
  ask matplotlib for, directly or through the ``lgm`` modules those import (``fontsize=8``,
  ``fontsize="small"``, ``fontsize=FONT`` with ``FONT = 8``, ``labelsize=8``, ``font.size``),
  else matplotlib's default 10 pt. In the PNG, saved at ``dpi`` pixels per inch (its pHYs
  chunk, which matplotlib writes; 100 when absent), that text is ``pt * dpi / 72`` px high; shown at
  ``displayed width / natural width`` of that, it is ``pt * dpi / 72 * displayed / natural``
  px, which must be at least 9 px. (Equivalently: a figure ``w`` inches wide shown ``D`` px
  wide has text of ``pt * D / (72 * w)`` px: in the 772 px text column at a 1400 px window,
  8 pt text needs ``w <= 9.5`` in, 10 pt text ``w <= 11.9`` in.);
- and **search works**: ``search.html?q=<a word from a page's title>`` lists that page.

``LGM_BOOK_SOURCE=<folder>`` checks the book built there instead (``make check-book``
checks the one ``make book`` built). A further test breaks a copy of the built book
(MathJax deleted, a figure blanked, a page removed) and asserts that the checker reports
each. Without chromium the tests skip with the reason, except on CI (``CI`` set), where
they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from test_notebooks import NOTEBOOKS, ROOT, built_book_once

ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
WINDOW = (1400, 1000)
MIN_TEXT_PX = 9.0
DEFAULT_FONT_PT = 10.0  # matplotlib's font.size
DEFAULT_DPI = 100.0
NAMED_SIZES = {"xx-small": 5.79, "x-small": 6.94, "small": 8.33, "medium": 10.0}
TEX_DELIMITERS = ("\\(", "\\)", "\\[", "\\]", "$$")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:", "devtools:")


def _unavailable(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason} (CI is set: the browser test must run; .ci/run installs them)")
    pytest.skip(reason)


# ----------------------------------------------------------------------------- the browser
class BrowserUnavailable(RuntimeError):
    """No chromium, chromedriver or selenium here."""


def start_browser():
    """Headless Chromium through Debian's chromedriver (Selenium Manager never downloads)."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        raise BrowserUnavailable("chromium and chromedriver are not installed (apt-get install "
                                 "chromium chromium-driver, or `make browser-deps` as root)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise BrowserUnavailable("selenium is not installed (it is in requirements.lock)"
                                 ) from None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-extensions",
                f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    drv.set_script_timeout(60)
    return drv


@pytest.fixture(scope="module")
def driver():
    """One browser for the module."""
    try:
        drv = start_browser()
    except BrowserUnavailable as err:
        _unavailable(str(err))
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The source folder of the smoke-built book (``_build/html`` inside), or of the book
    named by ``LGM_BOOK_SOURCE`` (``make check-book``: the book ``make book`` built)."""
    given = os.environ.get("LGM_BOOK_SOURCE")
    if given:
        if not (Path(given) / "_build" / "html" / "index.html").is_file():
            pytest.fail(f"LGM_BOOK_SOURCE={given}: no _build/html/index.html there "
                        "(run `make book` first)")
        return Path(given)
    src, why = built_book_once(tmp_path_factory)
    if src is None:
        pytest.skip(why)
    return src


# ----------------------------------------------------------------------------- the checker
PROBE = r"""
const done = arguments[arguments.length - 1];
const sleep = ms => new Promise(r => setTimeout(r, ms));
const mjWait = arguments[0];
const delimiters = arguments[1];
(async () => { try {
  const t0 = Date.now();
  while (document.readyState !== "complete" && Date.now() - t0 < 20000) await sleep(25);
  for (const img of document.images) {           // lazy images too: load them all
    if (img.loading === "lazy") img.loading = "eager";
  }
  await Promise.all([...document.images].map(img => img.complete ? null : new Promise(r => {
    img.addEventListener("load", r); img.addEventListener("error", r); setTimeout(r, 10000);
  })));
  const t1 = Date.now();
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  while (!ready() && Date.now() - t1 < mjWait) await sleep(25);
  let mathjax = "not loaded";
  if (ready()) {
    try { await MathJax.startup.promise; mathjax = "ok"; } catch (e) { mathjax = "failed: " + e; }
  }
  const article = document.querySelector(".bd-article") || document.body;
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .lgm-lightbox";
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || el.getClientRects().length === 0) continue;
    if (getComputedStyle(el).visibility === "hidden") continue;
    const t = n.textContent;
    for (const d of delimiters) {
      const i = t.indexOf(d);
      if (i >= 0) { raw.push(t.slice(Math.max(0, i - 30), i + 40).replace(/\s+/g, " ")); break; }
    }
  }
  const scrolls = el => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if (ox === "auto" || ox === "scroll") return true;
      if ((ox === "hidden" || ox === "clip") && e.scrollWidth > e.clientWidth + 1) return false;
      if (e === article) break;
    }
    return false;
  };
  const aRight = article.getBoundingClientRect().right;
  const wide = [];
  for (const el of article.querySelectorAll('mjx-container[display="true"], table')) {
    const r = el.getBoundingClientRect();
    const over = el.scrollWidth > el.clientWidth + 1 || r.right > aRight + 1;
    if (over && !scrolls(el)) {
      wide.push(el.tagName.toLowerCase() + ": " + Math.round(el.scrollWidth) + " px in " +
                Math.round(el.clientWidth) + " px, " +
                el.textContent.slice(0, 60).replace(/\s+/g, " "));
    }
  }
  const figure = img => !!img.closest(".cell_output, figure, .figure, .output");
  done({
    url: location.href,
    title: document.title,
    mathjax: mathjax,
    hasMath: !!document.querySelector(".math, mjx-container"),
    texErrors: [...document.querySelectorAll("mjx-merror")].map(
      e => e.getAttribute("data-mjx-error") || e.textContent),
    raw: raw,
    wide: wide,
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, natural: i.naturalWidth,
      shown: i.getBoundingClientRect().width, figure: figure(i)})),
    requests: performance.getEntriesByType("navigation").concat(
      performance.getEntriesByType("resource")).map(e => e.name),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
  });
} catch (e) { done({probeError: String(e && e.stack || e)}); } })();
"""

SEARCH_PROBE = r"""
const done = arguments[arguments.length - 1];
const sleep = ms => new Promise(r => setTimeout(r, ms));
(async () => {
  const t0 = Date.now();
  let items = [];
  while (Date.now() - t0 < 20000) {
    items = [...document.querySelectorAll("#search-results li a")].map(a => a.href);
    const summary = document.querySelector("#search-results .search-summary");
    if (items.length || (summary && !/searching/i.test(summary.textContent))) break;
    await sleep(50);
  }
  done(items);
})();
"""


@dataclass(frozen=True)
class Book:
    """A built book: its source folder (``_toc.yml``) and its HTML."""

    source: Path

    @property
    def html(self) -> Path:
        return self.source / "_build" / "html"

    def pages(self) -> list[str]:
        """Every page of ``_toc.yml``, as ``book/notebooks/fig3`` (no suffix)."""
        toc = yaml.safe_load((self.source / "_toc.yml").read_text())
        found = [toc["root"]]

        def walk(node: object) -> None:
            if isinstance(node, dict):
                if "file" in node:
                    found.append(node["file"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk({k: v for k, v in toc.items() if k != "root"})
        return [re.sub(r"\.(md|ipynb)$", "", p) for p in found]


def png_dpi(path: Path) -> float:
    """Horizontal pixels per inch from a PNG's pHYs chunk; matplotlib's 100 when absent."""
    try:
        data = path.read_bytes()
    except OSError:
        return DEFAULT_DPI
    i = data.find(b"pHYs")
    if data[:8] != b"\x89PNG\r\n\x1a\n" or i < 0 or len(data) < i + 13:
        return DEFAULT_DPI
    ppu_x, _, unit = struct.unpack(">IIB", data[i + 4:i + 13])
    return ppu_x * 0.0254 if unit == 1 else DEFAULT_DPI


def _font_sizes(text: str) -> list[float]:
    """Font sizes (pt) a Python source asks matplotlib for: ``fontsize=8``,
    ``fontsize="small"``, ``fontsize=NAME`` with ``NAME = 8`` set in the same source,
    ``labelsize=8`` (``tick_params``), ``font.size`` set in rcParams."""
    number = r"(\d+(?:\.\d+)?)"
    sizes = [float(x) for x in re.findall(rf"(?:fontsize|labelsize)\s*=\s*{number}", text)]
    sizes += [float(x) for x in re.findall(rf"font\.size['\"]\]?\s*[:=]\s*{number}", text)]
    sizes += [NAMED_SIZES[x] for x in re.findall(r"fontsize\s*=\s*['\"]([a-z-]+)['\"]", text)
              if x in NAMED_SIZES]
    for name in set(re.findall(r"fontsize\s*=\s*([A-Za-z_]\w*)", text)):
        sizes += [float(x) for x in re.findall(rf"^{name}\s*(?::[^=]+)?=\s*{number}", text,
                                               re.MULTILINE)]
    return sizes


LGM_IMPORT = re.compile(r"^\s*(?:from (lgm(?:\.\w+)*) import (?:\(([^)]*)\)|([\w, ]+))"
                        r"|import (lgm(?:\.\w+)*))", re.MULTILINE)


def _lgm_sources(text: str) -> list[Path]:
    """The files of the ``lgm`` modules a source imports, at any indentation:
    ``import lgm.a.b``, ``from lgm.a import b`` or ``from lgm.a import (b, c)`` (module
    ``lgm.a``, and ``lgm.a.b`` when ``b`` is a module)."""
    found = []
    for module, bracketed, names, imported in LGM_IMPORT.findall(text):
        listed = [n.split(" as ")[0].strip() for n in (bracketed or names).split(",")]
        for name in [module or imported] + [f"{module}.{n}" for n in listed if module and n]:
            base = ROOT.joinpath(*name.split("."))
            found += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return found


def smallest_font_pt(page: str) -> float:
    """The smallest font size of a page's figures: the smallest that its notebook and the
    ``lgm`` modules it imports, directly or through other ``lgm`` modules, ask for, else
    matplotlib's default (10 pt)."""
    src = NOTEBOOKS / f"{Path(page).name}.py"
    text = src.read_text() if src.is_file() else ""
    sizes = _font_sizes(text)
    seen: set[Path] = set()
    todo = _lgm_sources(text)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        module_text = path.read_text()
        sizes += _font_sizes(module_text)
        todo += _lgm_sources(module_text)
    return min([DEFAULT_FONT_PT, *sizes])


def _file_path(url: str) -> Path:
    return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))


def check_page(drv, book: Book, page: str, mathjax_wait_ms: int = 8000) -> list[str]:
    """Open one page and return its problems, one line each (empty: the page is fine)."""
    path = book.html / f"{page}.html"
    if not path.is_file():
        return [f"{page}: page missing (listed in _toc.yml, no {path.name} in the built book)"]
    drv.get_log("browser")
    drv.get_log("performance")
    drv.get(path.as_uri())
    r = drv.execute_async_script(PROBE, mathjax_wait_ms, list(TEX_DELIMITERS))
    if "probeError" in r:
        return [f"{page}: the browser check itself failed: {r['probeError'][:300]}"]
    problems = [f"{page}: console error: {e['message'][:300]}" for e in drv.get_log("browser")
                if e.get("level") == "SEVERE"]
    if r["mathjax"] != "ok":
        problems.append(f"{page}: MathJax {r['mathjax']}")
    problems += [f"{page}: TeX error: {e}" for e in r["texErrors"]]
    problems += [f"{page}: raw TeX left after MathJax: ...{t}..." for t in r["raw"]]
    problems += [f"{page}: wide content clipped, not scrollable: {w}" for w in r["wide"]]
    requests = set(r["requests"])
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            requests.add(msg["params"]["request"]["url"])
    problems += [f"{page}: request leaves file://: {u}" for u in sorted(requests)
                 if not u.startswith(LOCAL_SCHEMES)]
    for link in sorted({u.split("#")[0].split("?")[0] for u in r["links"]}):
        if link.startswith("file:") and not _file_path(link).exists():
            problems.append(f"{page}: broken link to {_file_path(link).name}")
    pt = smallest_font_pt(page)
    for img in r["images"]:
        name = _file_path(img["src"]).name if img["src"].startswith("file:") else img["src"][:60]
        if img["natural"] <= 0:
            problems.append(f"{page}: image not decoded (naturalWidth 0): {name}")
            continue
        if not img["figure"] or not img["src"].startswith("file:"):
            continue
        dpi = png_dpi(_file_path(img["src"]))
        text_px = pt * dpi / 72 * img["shown"] / img["natural"]
        if text_px < MIN_TEXT_PX:
            need = MIN_TEXT_PX / (pt * dpi / 72) * img["natural"]
            problems.append(
                f"{page}: figure text {text_px:.1f} px < {MIN_TEXT_PX:.0f} px: {name} shown "
                f"{img['shown']:.0f} of {img['natural']} px ({pt:g} pt at {dpi:.0f} dpi; "
                f"needs {need:.0f} px)")
    return problems


def check_search(drv, book: Book, page: str) -> list[str]:
    """Search for a word of ``page``'s title; the results must list the page."""
    html = (book.html / f"{page}.html").read_text(errors="replace")
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    words = re.findall(r"[A-Za-z]{6,}", re.sub(r"<[^>]+>", " ", h1.group(1))) if h1 else []
    if not words:
        return [f"search: no word of 6+ letters in the title of {page}"]
    word = max(words, key=len).lower()
    drv.get(book.html.joinpath("search.html").as_uri() + f"?q={word}")
    hits = drv.execute_async_script(SEARCH_PROBE)
    errors = [e["message"][:300] for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
    problems = [f"search: console error: {e}" for e in errors]
    if not hits:
        problems.append(f"search: no result for {word!r} (a word of {page}'s title)")
    elif not any(_file_path(h).with_suffix("").as_posix().endswith(page) for h in hits):
        problems.append(f"search: {page} not among the {len(hits)} results for {word!r}")
    return problems


def check_book(drv, book: Book, pages: list[str] | None = None,
               mathjax_wait_ms: int = 8000) -> list[str]:
    """Problems of every page (default: all of ``_toc.yml``) and of search."""
    pages = book.pages() if pages is None else pages
    problems = [p for page in pages for p in check_page(drv, book, page, mathjax_wait_ms)]
    notebook_pages = [p for p in pages if p.startswith("book/notebooks/")]
    target = notebook_pages[0] if notebook_pages else pages[0]
    if (book.html / f"{target}.html").is_file():
        problems += check_search(drv, book, target)
    return problems


# ----------------------------------------------------------------------------- the tests
def _figure_text(problem: str) -> bool:
    return ": figure text " in problem


@pytest.fixture(scope="module")
def book_problems(driver, book) -> list[str]:
    """Every problem of the smoke-built book, found once for the tests below."""
    b = Book(book)
    t0 = time.perf_counter()
    problems = check_book(driver, b)
    print(f"browser check: {len(b.pages())} pages + search in {time.perf_counter() - t0:.1f} s")
    return problems


def test_every_page_loads_clean_in_a_browser(book_problems):
    """Console, images, MathJax, raw TeX, requests, links, wide content, search."""
    problems = [p for p in book_problems if not _figure_text(p)]
    assert not problems, "\n".join(problems)


def test_figure_text_is_at_least_9_px(book_problems):
    """Every figure of every page (``tests/test_figures_legible.py`` checks each
    figure function without a browser)."""
    problems = [p for p in book_problems if _figure_text(p)]
    assert not problems, "\n".join(problems)


def test_a_figure_can_be_enlarged(driver, book):
    """The lightbox of the page chrome opens on a click and closes on Escape (file://)."""
    b = Book(book)
    page = next((p for p in b.pages() if p.startswith("book/notebooks/")
                 and "cell_output" in (b.html / f"{p}.html").read_text()
                 and "<img" in (b.html / f"{p}.html").read_text()), None)
    if page is None:
        pytest.skip("no page with a figure")
    driver.get((b.html / f"{page}.html").as_uri())
    driver.execute_async_script(PROBE, 2000, list(TEX_DELIMITERS))
    opened = driver.execute_script(
        "const img = document.querySelector('.bd-article img.lgm-zoomable');"
        "if (!img) return 'no zoomable figure';"
        "img.scrollIntoView(); img.click();"
        "const box = document.querySelector('.lgm-lightbox img');"
        "return box ? box.getBoundingClientRect().width : 'no lightbox';")
    assert isinstance(opened, (int, float)) and opened > 0, opened
    closed = driver.execute_script(
        "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));"
        "return !document.querySelector('.lgm-lightbox');")
    assert closed


def test_the_checker_reports_a_broken_book(driver, book, tmp_path):
    """MathJax deleted, a figure blanked, a page removed: each is reported."""
    broken = Book(tmp_path / "book")
    shutil.copytree(Book(book).html, broken.html)
    shutil.copy(book / "_toc.yml", broken.source / "_toc.yml")
    html = broken.html
    (html / "_static" / "mathjax" / "tex-mml-chtml.js").unlink()
    with_figure = next(p for p in broken.pages() if p.startswith("book/notebooks/") and
                       re.search(r'<img[^>]+src="[^"]*_images/[^"]+\.png"',
                                 (html / f"{p}.html").read_text()))
    png = re.search(r'<img[^>]+src="([^"]*_images/[^"]+\.png)"',
                    (html / f"{with_figure}.html").read_text()).group(1)
    target = (html / with_figure).parent / png
    target.write_bytes(b"")  # a blank (empty) image file
    removed = next(p for p in broken.pages()
                   if p.startswith("book/notebooks/") and p != with_figure)
    (html / f"{removed}.html").unlink()
    linking = broken.pages()[0]  # the root page links to every chapter

    problems = check_book(driver, broken, [linking, with_figure, removed], 3000)
    report = "\n".join(problems)
    print("checker output on the broken book:\n" + report)
    assert f"{with_figure}: MathJax not loaded" in report
    assert f"{with_figure}: image not decoded (naturalWidth 0): {target.name}" in report
    assert f"{removed}: page missing" in report
    assert f"{linking}: broken link to {Path(removed).name}.html" in report
    assert "console error" in report and "tex-mml-chtml.js" in report
