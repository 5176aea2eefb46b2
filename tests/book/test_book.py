"""The book: table of contents, bibliography, the jupyter-book build (warnings are errors) and a
real browser (Debian's chromium driven by Playwright) opening every chapter page."""

import json
import re
from pathlib import Path

import pytest
import yaml

from robustbook.chapters import CHAPTERS, implemented
from robustbook.dashboard import PAGE
from tests.conftest import BOOK_CHAPTERS

pytestmark = pytest.mark.xdist_group("book")
CHROMIUM = "/usr/bin/chromium"


def _toc_files(node) -> list[str]:
    files = [node["file"]] if isinstance(node, dict) and "file" in node else []
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        files += _toc_files(child)
    return files


def test_toc_lists_exactly_the_written_chapters(root):
    files = _toc_files(yaml.safe_load((root / "_toc.yml").read_text()))
    listed = sorted(f for f in files if f.startswith("book/chapters/"))
    assert listed == sorted(f"book/chapters/{c.stem}" for c in implemented())
    generated = {PAGE.with_suffix("").as_posix()}  # written at build time (robustbook.dashboard)
    for f in files:
        if not f.startswith("book/chapters/") and f not in generated:
            assert (root / f"{f}.md").is_file(), f"_toc.yml lists {f} but no {f}.md exists"
    assert generated <= set(files), "the reproduction dashboard is not in _toc.yml"
    for c in implemented():
        assert (root / "notebooks" / f"{c.stem}.ipynb").is_file()


def test_installation_page_says_what_every_written_chapter_needs_at_paper_scale(root):
    """Each written chapter has its own section on the installation page naming its data_dir,
    never the placeholder it had before the chapter existed."""
    page = (root / "book" / "install.md").read_text()
    sections = dict(re.findall(r"^### (\d\d) · [^\n]*\n(.*?)(?=^##|\Z)", page, flags=re.M | re.S))
    for c in implemented():
        text = sections.get(f"{c.number:02d}", "")
        assert "data_dir" in text and "in preparation" not in text, f"install.md: section {c.number:02d}"


def test_bibliography_has_every_paper(root):
    bib = (root / "book" / "references.bib").read_text()
    for c in CHAPTERS.values():
        assert f"{{{c.bibkey}," in bib and c.arxiv in bib, c.slug


def _figure_count(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in out.get("data", {}) for c in cells for out in c.get("outputs", []))


@pytest.mark.book
def test_book_builds_with_every_chapter(built_book):
    assert (built_book / "index.html").is_file()
    for c in implemented():
        assert (built_book / "book" / "chapters" / f"{c.stem}.html").is_file()


@pytest.mark.book
def test_chapter_pages_render_figures_and_claims_in_a_real_browser(built_book, in_ci):
    if not Path(CHROMIUM).exists():
        if in_ci:
            pytest.fail(f"{CHROMIUM} missing in CI: .ci/run should have installed chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        for c in implemented():
            record = json.loads((BOOK_CHAPTERS / f"{c.stem}.results.json").read_text())
            page.goto((built_book / "book" / "chapters" / f"{c.stem}.html").as_uri())
            assert c.title.split("?")[0] in page.title()
            widths = page.eval_on_selector_all("article img", "imgs => imgs.map(i => i.naturalWidth)")
            assert len(widths) == _figure_count(BOOK_CHAPTERS / f"{c.stem}.ipynb") >= 1, widths
            assert all(w > 100 for w in widths), f"a figure did not load: {widths}"
            table = page.locator("table", has=page.locator("th", has_text="verdict"))
            assert table.count() == 1
            rows = table.locator("tbody tr")
            assert rows.count() == len(record["claims"])
            for i, claim in enumerate(record["claims"]):
                assert claim["id"] in rows.nth(i).inner_text()
            _check_launch_and_repository_links(page, c)
            shot = BOOK_CHAPTERS / f".{c.stem}.png"
            page.screenshot(path=str(shot), full_page=False)
        browser.close()


def _check_launch_and_repository_links(page, info) -> None:
    """The repository button and the Binder / Colab / JupyterHub launch buttons all point where
    _config.yml's one repository setting says."""
    config = yaml.safe_load((Path(__file__).parents[2] / "_config.yml").read_text())
    repo, launch = config["repository"]["url"], config["launch_buttons"]
    org_repo = repo.removeprefix("https://github.com/")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert repo in hrefs, f"no repository button to {repo}"
    binder = [h for h in hrefs if h.startswith(launch["binderhub_url"])]
    colab = [h for h in hrefs if h.startswith(launch["colab_url"])]
    assert binder and all(f"/v2/gh/{org_repo}/{config['repository']['branch']}" in h for h in binder), binder
    assert colab and all(f"/github/{org_repo}/blob/" in h for h in colab), colab
    assert all(info.stem in h for h in binder + colab), "launch buttons must open this chapter"


def test_failed_run_leaves_no_complete_looking_result(tmp_path, root):
    """A run that fails in a cell (a GPU that is not there) reports chapter and cell and leaves
    only the partial notebook; missing paper data is refused before any kernel starts."""
    from robustbook.runner import execute_chapter

    outcome = execute_chapter("sam-label-noise", {"preset": "smoke", "device": "cuda:99"}, tmp_path, root=root)
    assert not outcome.ok and outcome.results is None
    assert "01_sam-label-noise failed in cell" in outcome.error and "cuda" in outcome.error
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["01_sam-label-noise.failed.ipynb"], names
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        execute_chapter("sam-label-noise", {"preset": "paper", "data_dir": str(tmp_path)}, tmp_path, root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # nothing new: no kernel ran
