"""The rendered book in a real headless browser (Chromium through Playwright).

Run after the book is built: ``GENROB_BOOK_HTML=<its html folder> pytest tests/browser``
(``make test`` does so on the smoke book). Every page of ``_toc.yml`` must load
without a JavaScript error, show every figure, typeset every formula with the
MathJax shipped in the build, and link only to pages and anchors that exist.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GENROB_CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic only meets refused connections here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return [f"{name}.html" for name in files]


PAGES = _toc_pages()


@pytest.fixture(scope="session")
def site() -> str:
    """The built book, served over HTTP on a free local port (as a reader's browser would load it)."""
    root = os.environ.get("GENROB_BOOK_HTML")
    if not root or not (Path(root) / "index.html").exists():
        pytest.fail("GENROB_BOOK_HTML must name a built book's html folder (make test builds one)")
    handler = functools.partial(_QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per font file otherwise
        pass


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set GENROB_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: Per table of a page's main column: its width, the column's, whether a wider one scrolls inside its output
#: with the shadows that say so, and how many of its cells read NaN.
TABLES_SCRIPT = """() => {
  const main = document.querySelector('main') || document.body;
  const column = (main.querySelector('article') || main).clientWidth;
  return Array.from(main.querySelectorAll('table')).map(table => {
    const box = table.closest('div.cell_output');
    const style = box ? getComputedStyle(box) : null;
    return {width: table.getBoundingClientRect().width, column: column,
            scrolls: !!style && ['auto', 'scroll'].includes(style.overflowX) && box.clientWidth <= column + 1,
            cue: !!style && style.backgroundImage.includes('gradient'),
            nan: Array.from(table.querySelectorAll('td, th')).filter(c => ['NaN', 'nan'].includes(c.innerText.trim())).length,
            head: (table.innerText || '').slice(0, 40)};
  });
}"""


#: Per image of a cell's output: its width as drawn and as shown, and the caption of the figure around it.
FIGURES_SCRIPT = """() => Array.from(document.querySelectorAll('main div.cell_output img')).map(img => {
  const figure = img.closest('figure');
  const caption = figure ? figure.querySelector('figcaption') : null;
  return {src: img.src.split('/').pop(), natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
          caption: caption ? caption.innerText.trim() : ''};
})"""


#: The answer's figure (genrob.chapter.ANSWER_FIGURE): its width as drawn and as shown, and its caption.
ANSWER_FIGURE_SCRIPT = """() => Array.from(document.querySelectorAll('main img'))
  .filter(img => img.src.endsWith('/answer-claims.png')).map(img => {
    const caption = img.closest('figure') ? img.closest('figure').querySelector('figcaption') : null;
    return {natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
            caption: caption ? caption.innerText.trim() : ''};
  })"""


@pytest.fixture(scope="session")
def rendered(site, browser) -> dict[str, dict]:
    """Each page of the table of contents, loaded once: its errors, failed requests, figures, formulas, links."""
    pages = {}
    for path in PAGES:
        page = browser.new_page(viewport={"width": 1280, "height": 900})  # a laptop's window
        errors, failed = [], []
        page.on("console", lambda m, e=errors: e.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda err, e=errors: e.append(f"page error: {err}"))
        page.on("requestfailed", lambda r, f=failed: f.append(r.url))
        page.on("response", lambda r, f=failed: f.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        response = page.goto(f"{site}/{path}", wait_until="networkidle")
        if page.evaluate("() => document.querySelectorAll('.math').length") > 0:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise")
        pages[path] = {
            "status": response.status if response else None,
            "errors": errors,
            "failed": failed,
            "images": page.evaluate("() => Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])"),
            "formulas": page.evaluate("() => document.querySelectorAll('.math').length"),
            "typeset": page.evaluate("() => document.querySelectorAll('.math mjx-container, mjx-container.MathJax').length"),
            "links": page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"),
            "ids": page.evaluate("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)"),
            "text": page.evaluate("() => (document.querySelector('main') || document.body).innerText"),
            "tables": page.evaluate(TABLES_SCRIPT),
            "figures": page.evaluate(FIGURES_SCRIPT),
            "answer_figures": page.evaluate(ANSWER_FIGURE_SCRIPT),
            "findings": page.evaluate(
                "() => Array.from(document.querySelectorAll('main div.cell.tag_findings div.cell_output'))"
                ".map(o => o.innerText).join('\\n')"),
            "outputs": page.evaluate(
                "() => Array.from(document.querySelectorAll('main div.cell:not(.tag_findings) div.cell_output'))"
                ".map(o => o.innerText).join('\\n')"),
        }
        page.close()
    return pages


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_without_errors(rendered, path):
    page = rendered[path]
    assert page["status"] == 200
    assert page["errors"] == [] and page["failed"] == []


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_has_loaded(rendered, path):
    assert [src for src, loaded in rendered[path]["images"] if not loaded] == []


@pytest.mark.parametrize("path", PAGES)
def test_every_formula_is_typeset_offline(rendered, path):
    page = rendered[path]
    assert page["typeset"] >= page["formulas"]
    assert not any("cdn" in url or "jsdelivr" in url for url in page["failed"])


def test_the_chapters_have_formulas_and_figures(rendered):
    """The checks above are not vacuous: the book has formulas and figures to check."""
    assert sum(p["formulas"] for p in rendered.values()) > 10
    assert sum(len(p["images"]) for p in rendered.values()) > 5


def test_no_internal_link_is_broken(site, rendered):
    ids = {f"{site}/{path}": set(page["ids"]) for path, page in rendered.items()}
    broken = []
    for path, page in rendered.items():
        for link in page["links"]:
            if not link.startswith(site):
                continue  # an external link, not ours to check offline
            target, _, anchor = link.partition("#")
            if target not in ids:
                ids[target] = _ids_of(target)
            if ids[target] is None or (anchor and urllib.parse.unquote(anchor) not in ids[target]):
                broken.append(f"{path} -> {link}")
    assert broken == []


def _ids_of(url: str) -> set[str] | None:
    """The element ids of a page outside the table of contents (index, search), or None if it is missing."""
    import re
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            html = response.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    return set(re.findall(r'\sid="([^"]+)"', html))


def test_the_front_page_leads_to_the_book(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/index.html", wait_until="networkidle")
    assert page.url.endswith(PAGES[0])
    page.close()


def test_the_introduction_states_the_answer_with_its_evidence(rendered):
    """The answer comes first and reads as one: a few generated paragraphs that group the findings (the rulings
    on the paper's numbers, its claims by the kind of comparison over the curve), then the claims as a table;
    the sentences pair by pair are the adaptive chapter's."""
    intro = rendered[PAGES[0]]["text"]
    # Sphinx turns the heading's apostrophe into a typographic one: match the words before it.
    assert "The answer, as this book" in intro
    answer = intro.split("The answer, as this book", 1)[1].split("How to read it", 1)[0]
    assert "adaptive evaluation" in answer and "profile" in answer
    assert "robustness numbers at l∞ eps 0.3 that our models answer" in answer
    assert "comparative claims, each judged in both norms at every eps" in answer
    assert "Generative against discriminative models on grey-level images" in answer
    assert " of the same " not in answer  # no sentence pair by pair
    tables = [t for t in rendered[PAGES[0]]["tables"] if "claim" in t["head"]]
    assert len(tables) == 1  # the claims over the curve, norm by norm


@pytest.mark.parametrize("path", PAGES)
def test_no_table_overflows_its_column_without_a_scroll_cue_and_none_shows_nan(rendered, path):
    tables = rendered[path]["tables"]
    assert [t["head"] for t in tables if t["width"] > t["column"] + 1 and not (t["scrolls"] and t["cue"])] == []
    assert [t["head"] for t in tables if t["nan"]] == []


def test_the_table_checks_are_not_vacuous(rendered):
    """Some chapter tables are wider than the column at 1280 px: the scroll cue above is exercised."""
    tables = [t for page in rendered.values() for t in page["tables"]]
    assert len(tables) > 10 and any(t["width"] > t["column"] + 1 for t in tables)


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_has_a_caption_and_is_shown_at_the_size_it_was_drawn(rendered, path):
    """A figure shrunk to fit the column shrinks its text below the 9 pt it was drawn with."""
    figures = rendered[path]["figures"]
    assert [f["src"] for f in figures if not f["caption"]] == []
    assert [f["src"] for f in figures if f["shown"] < 0.97 * f["natural"]] == []


@pytest.mark.parametrize("path", PAGES)
def test_every_number_a_conclusion_cites_is_in_the_pages_results(rendered, path):
    """The generated findings (cells tagged ``findings``) cite shares, intervals, p-values and margins: each
    such number must appear in the page's other outputs, the tables the sentences are written from."""
    cited = set(re.findall(r"\d+\.\d+", rendered[path]["findings"]))
    assert sorted(n for n in cited if n not in rendered[path]["outputs"]) == []


def test_the_figure_and_findings_checks_are_not_vacuous(rendered):
    assert sum(len(page["figures"]) for page in rendered.values()) > 30
    pages_with_findings = [p for p, page in rendered.items() if re.search(r"\d\.\d", page["findings"])]
    assert len(pages_with_findings) >= 6  # five family chapters, the adaptive chapter and the summary


def test_the_introduction_shows_the_answer_as_a_picture_at_its_drawn_size(rendered):
    """The claims' forest plot on the first page, at a laptop's 1 280 px: loaded, not shrunk below the size it
    was drawn at (its labels stay readable), and captioned."""
    (figure,) = rendered[PAGES[0]]["answer_figures"]
    assert figure["natural"] > 500
    assert figure["shown"] >= 0.95 * figure["natural"]
    assert "claim" in figure["caption"] and "interval" in figure["caption"]
