"""Every page of the built book in a real browser (Debian's chromium via Playwright), opened from
disk with the network blocked, as a reader who downloaded the site would open it: no console error,
no failed or outside request, math typeset (no raw ``\\(`` or ``$$`` left), every image drawn,
internal links and citations resolving to pages and anchors that exist. Chapter pages also show
their claims table and a drawn figure for each static explorer; the dashboard has a row per
chapter linking to each claims table; search finds a chapter by its paper's title.

Screenshots of every page are written to book/_build/screenshots/ (ignored by git)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from robustbook.chapters import CHAPTERS, implemented
from robustbook.runner import figure_captions
from tests.book.test_book import CHROMIUM
from tests.conftest import BOOK_CHAPTERS, ROOT

pytestmark = [pytest.mark.xdist_group("book"), pytest.mark.book]
SHOTS = ROOT / "book" / "_build" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
RAW_MATH = ("\\(", "\\)", "$$", "\\[", "\\begin{")


def _toc_pages() -> list[str]:
    """Every page the table of contents lists (root first), as paths relative to the site."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("chapters", []) + toc.get("parts", []))
    return [f"{f}.html" for f in files]


def _paper_titles() -> dict[str, str]:
    """{bibkey: title} from book/references.bib (braces that protect capitals dropped)."""
    text = (ROOT / "book" / "references.bib").read_text()
    titles = {}
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        match = re.search(r"title\s*=\s*\{(.*)\},?\s*$", body, flags=re.M)
        if match:
            titles[key.strip()] = match.group(1).replace("{", "").replace("}", "")
    return titles


class Reader:
    """One offline browser tab that records console errors, page errors, failed requests and any
    request that tried to leave the disk."""

    def __init__(self, context, outside: list[str]):
        self.page = context.new_page()
        self.outside = outside  # filled by the context's route that blocks the network
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url} ({r.failure})"))

    def open(self, url: str) -> None:
        self.errors.clear()
        self.outside.clear()
        self.page.goto(url, wait_until="load")
        # MathJax typesets asynchronously: wait for it where the page loads it
        self.page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")


@pytest.fixture(scope="module")
def reader(built_book):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "1":
            pytest.fail(f"{CHROMIUM} missing in CI: .ci/run should have installed chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        def offline(route):  # the network is blocked: only files of the site may load
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        yield Reader(context, outside)
        browser.close()


def _check_links(html: Path, page_file: Path, hrefs: list[str]) -> list[str]:
    """Internal links that do not resolve: a missing file, or an anchor the target lacks."""
    broken, ids = [], {}
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme and parts.scheme != "file" or href.startswith(("mailto:", "javascript:")):
            continue
        target = Path(unquote(parts.path)) if parts.scheme == "file" else (
            (page_file.parent / unquote(parts.path)).resolve() if parts.path else page_file)
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {target})")
            continue
        if parts.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text(errors="replace")))
            if unquote(parts.fragment) not in ids[target]:
                broken.append(f"{href} (no anchor #{parts.fragment} in {target.name})")
    return broken


def _check_page(reader: Reader, html: Path, rel: str) -> dict:
    """The checks every page gets; returns facts the page-specific checks use."""
    page, file = reader.page, html / rel
    assert file.is_file(), f"{rel} was not built"
    reader.open(file.as_uri())
    assert not reader.errors, f"{rel}: {reader.errors}"
    assert not reader.outside, f"{rel} tried to reach the network: {reader.outside}"
    facts = page.evaluate("""() => {
        const article = document.querySelector('article') || document.body;
        const copy = article.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style, mjx-container, textarea').forEach(e => e.remove());
        const imgs = [...article.querySelectorAll('img')];
        return {
            text: copy.textContent,
            math: article.querySelectorAll('.math').length,
            typeset: article.querySelectorAll('mjx-container').length,
            images: imgs.map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight]),
            hrefs: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
            overflow: document.documentElement.scrollWidth - window.innerWidth,
        };
    }""")
    raw = [m for m in RAW_MATH if m in facts["text"]]
    assert not raw, f"{rel}: raw LaTeX left in the page text: {raw}"
    assert facts["typeset"] >= facts["math"], f"{rel}: {facts['math']} math elements, {facts['typeset']} typeset"
    empty = [src for src, complete, w, h in facts["images"] if not (complete and w > 0 and h > 0)]
    assert not empty, f"{rel}: images not drawn: {empty}"
    broken = _check_links(html, file, facts["hrefs"])
    assert not broken, f"{rel}: broken internal links: {broken}"
    assert facts["overflow"] <= 1, f"{rel}: the page scrolls sideways by {facts['overflow']} px"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (rel.replace("/", "_") + ".png")))
    return facts


def test_every_page_renders_offline(reader, built_book):
    pages = _toc_pages()
    expected = {"book/intro.html", "book/dashboard.html", "book/install.html", "book/references.html"}
    assert expected <= set(pages), pages
    assert {f"book/chapters/{c.stem}.html" for c in implemented()} <= set(pages)
    assert any(p.startswith("book/parts/") for p in pages)
    typeset = 0
    for rel in pages:
        typeset += _check_page(reader, built_book, rel)["typeset"]
    assert typeset > 0, "no page typeset any math: the packaged MathJax did not run"
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()


def _figure_count(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for c in cells for out in c.get("outputs", []))


def test_chapter_pages_claims_figures_explorers_and_citations(reader, built_book):
    page = reader.page
    for c in implemented():
        rel = f"book/chapters/{c.stem}.html"
        facts = _check_page(reader, built_book, rel)
        record = json.loads((BOOK_CHAPTERS / f"{c.stem}.results.json").read_text())
        drawn = [w for _, _, w, _ in facts["images"] if w > 100]
        assert len(drawn) == _figure_count(BOOK_CHAPTERS / f"{c.stem}.ipynb") >= 1, facts["images"]
        table = page.locator("table", has=page.locator("th", has_text="verdict"))
        assert table.count() == 1, f"{rel}: no claims table"
        assert table.locator("tbody tr").count() == len(record["claims"])
        assert page.locator("#paper-vs-this-run").count() == 1, f"{rel}: the dashboard's anchor is missing"
        # each static explorer (a cell calling explorer(...)) shows a drawn figure, not an empty box
        explorers = page.locator("div.cell", has=page.locator("div.cell_input", has_text="explorer("))
        assert explorers.count() >= 1, f"{rel}: no explorer cell"
        for i in range(explorers.count()):
            widths = explorers.nth(i).locator("div.cell_output img").evaluate_all(
                "imgs => imgs.map(i => i.naturalWidth)")
            assert widths and all(w > 100 for w in widths), f"{rel}: explorer {i} drew {widths}"
        # figures carry the captions written in their plot functions' docstrings
        source = json.loads((ROOT / "notebooks" / f"{c.stem}.ipynb").read_text())["cells"]
        shown = [" ".join(t.split()) for t in page.locator("figure figcaption").all_inner_texts()]
        for figure in figure_captions(c.slug, source).values():
            start = " ".join(re.findall(r"\w+", figure["caption"])[:4])
            assert any(" ".join(re.findall(r"\w+", t)).find(start) >= 0 for t in shown), (
                f"{rel}: no caption starting {start!r} among {shown}")
        # this run's prose is generated: the section shows sentences ending in verdict tags, no code
        story = page.locator("section#what-this-run-shows")
        assert story.count() == 1, f"{rel}: no 'What this run shows' section"
        assert story.locator("div.cell_input").count() == 0 and "seeds]" in story.inner_text()
        # citations resolve to the bibliography (the anchors are checked by _check_page)
        cites = [h for h in facts["hrefs"] if "references.html#" in h]
        assert cites, f"{rel}: no citation links to the references page"
        # papermill's injected-parameters cell is collapsed, long logs scroll in their box
        injected = page.locator(".tag_injected-parameters")
        assert injected.count() == 1 and not injected.is_visible(), f"{rel}: injected parameters shown"
        heights = page.locator("div.cell_output div.output.stream").evaluate_all(
            "els => els.map(e => getComputedStyle(e).maxHeight)")
        assert all(h != "none" for h in heights), heights


def test_references_list_every_chapter_paper(reader, built_book):
    titles = _paper_titles()
    _check_page(reader, built_book, "book/references.html")
    words = lambda text: " ".join(re.findall(r"\w+", text.lower()))  # noqa: E731 - '--' renders as a dash
    text = words(reader.page.inner_text("article"))
    for c in implemented():
        assert words(titles[c.bibkey]) in text, c.bibkey


def test_dashboard_links_every_claims_table(reader, built_book):
    facts = _check_page(reader, built_book, "book/dashboard.html")
    page = reader.page
    rows = page.locator("section#verdicts table tbody tr")
    assert rows.count() == len(CHAPTERS)
    for c in sorted(CHAPTERS.values(), key=lambda c: c.number):
        row = rows.nth(c.number - 1)
        assert row.inner_text().startswith(f"{c.number:02d}"), row.inner_text()
        if c.module is None:
            assert "not written yet" in row.inner_text()
            continue
        results = BOOK_CHAPTERS / f"{c.stem}.results.json"
        if not results.is_file():
            assert "not run yet" in row.inner_text()
            continue
        counts = json.loads(results.read_text())["counts"]
        assert row.locator("a").get_attribute("href") == f"chapters/{c.stem}.html#paper-vs-this-run"
        if counts["findings"]:
            assert f"{counts['reproduced']}/{counts['findings']}" in row.inner_text()
    assert any("install.html" in h for h in facts["hrefs"])


def test_search_finds_each_chapter_by_its_paper_title(reader, built_book):
    titles, page = _paper_titles(), reader.page
    for c in implemented():
        query = re.sub(r"[^\w\s-]", " ", titles[c.bibkey])
        reader.open((built_book / "search.html").as_uri() + "?q=" + "+".join(query.split()))
        page.wait_for_function("() => document.querySelector('#search-results p.search-summary')"
                               " || document.querySelectorAll('#search-results li').length > 0",
                               timeout=20_000)
        hits = page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.getAttribute('href'))")
        assert any(f"chapters/{c.stem}.html" in h for h in hits), f"{titles[c.bibkey]!r}: {hits}"
        assert not reader.errors and not reader.outside, reader.errors + reader.outside
