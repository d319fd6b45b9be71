"""The course site (scripts/build_site.py, site/conf.py, `make site`).

Without building: the run times come from the README's table, the launch links from one
repository URL, a notebook page shows each exercise's stub with the solution folded and a widget's
static figure, the front page links every notebook, the API page covers every public module.

Built once from a clean clone of the repository (slow): every notebook has a page with its launch
row, run time and previous/next links; every internal link and anchor resolves; no page loads
anything from the network; every figure of every notebook is on its page as a non-empty PNG; the
glossary lists every term of every notebook's glossary, linked to the notebook that introduces it.

In headless Chromium (Debian's chromium through playwright, every non-file request blocked):
every page loads with no console error and no failed or blocked request, every image decodes,
the maths of notebook 05 is typeset, search finds "ELBO" on notebook 05's page, a folded solution
opens, the glossary's Korean is drawn in the shipped font; screenshots of three pages go to
build/screenshots/site-*.png. Without chromium, playwright, git or the npm assets the tests that
need them skip, unless VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then they fail.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from browser_support import find_chromium, unavailable
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = "https://github.com/example-org/vae-course"
BRANCH = "teaching"
SCREENSHOTS = ROOT / "build" / "screenshots"


site = load_script("build_site")
slides = load_script("build_slides")
glossary_tool = load_script("glossary")


# ---------------------------------------------------------------------------------------------
# without building


README_TABLE = """
| notebook | 00 | 01 | 07 | all |
|---|---|---|---|---|
| wall s | 4.2 | 22 | 15.9 | 42.1 |
| CPU s | 2.8 | 19.0 | 14.1 | |
"""


def test_run_times_are_read_from_the_readme_table():
    assert site.run_times(README_TABLE) == {"00": 4.2, "01": 22.0, "07": 15.9}
    assert site.run_times("no table here\n| a | b |\n") == {}
    # the README as committed: a time for every notebook its table lists
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    header = re.search(r"^\| notebook \| 00 \|.*$", readme, re.M).group(0)
    numbers = [c.strip() for c in header.split("|") if re.fullmatch(r"\d\d", c.strip())]
    times = site.run_times(readme)
    assert sorted(times) == numbers and all(t > 0 for t in times.values())


def test_launch_links_come_from_one_repository_url():
    links = site.launch_links("05_mle_and_elbo", REPOSITORY + ".git", BRANCH)
    assert links == {
        "colab": "https://colab.research.google.com/github/example-org/vae-course/blob/teaching/"
        "notebooks/05_mle_and_elbo.ipynb",
        "binder": "https://mybinder.org/v2/gh/example-org/vae-course/teaching"
        "?labpath=notebooks%2F05_mle_and_elbo.ipynb",
    }
    gitlab = site.launch_links("01_x", "https://gitlab.com/group/sub/course", "main")
    assert gitlab == {
        "binder": "https://mybinder.org/v2/gl/group%2Fsub%2Fcourse/main?labpath=notebooks%2F01_x.ipynb"
    }
    other = site.launch_links("01_x", "https://git.example.org/course", "main")
    assert (
        set(other) == {"binder"}
        and "v2/git/https%3A%2F%2Fgit.example.org%2Fcourse" in other["binder"]
    )
    assert site.launch_links("01_x", "", "main") == {}
    with pytest.raises(site.SiteError, match="course_repository must be an http"):
        site.launch_links("01_x", "github.com/example-org/vae-course", "main")


def test_launch_row_offers_downloads_launches_and_the_run_time():
    row = site.launch_row("01_x", REPOSITORY, "main", 22.0)
    assert 'href="01_x.ipynb" download' in row and 'href="../student/01_x.ipynb" download' in row
    assert "Open in Colab" in row and "Open on Binder" in row and "about 22 s" in row
    bare = site.launch_row("01_x", "", "main", None)
    assert "Colab" not in bare and "Binder" not in bare and "not in the README" in bare


def _exercise_notebook():
    png = "iVBORw0KGgo="
    widget = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    return new_notebook(
        cells=[
            new_markdown_cell("# 09 · A test\n\nIntro."),
            new_markdown_cell("### Exercise 9.1: double it"),
            new_code_cell(
                "def double(x):\n    '''x -> 2 x'''\n    # BEGIN SOLUTION\n    return 2 * x\n"
                "    # END SOLUTION",
                metadata={"tags": ["solution"]},
            ),
            new_code_cell(
                "LatentSliders(model)",
                outputs=[
                    new_output(
                        "execute_result",
                        data={
                            site.WIDGET_VIEW: widget,
                            "image/png": png,
                            "text/plain": "LatentSliders(...)",
                        },
                        execution_count=1,
                    )
                ],
            ),
            new_code_cell(
                "slider",
                outputs=[
                    new_output(
                        "execute_result",
                        data={site.WIDGET_VIEW: widget, "text/plain": "IntSlider(value=3)"},
                        execution_count=2,
                    )
                ],
            ),
        ],
        metadata={"widgets": {"state": {}}},
    )


def test_a_page_shows_the_stub_folds_the_solution_and_keeps_static_figures():
    nb = _exercise_notebook()
    before = copy.deepcopy(nb)
    page = site.site_notebook(nb, "09_test.ipynb")
    assert nb == before, "the notebook itself must not change"
    nbformat.validate(page)
    assert len({c.id for c in page.cells}) == len(page.cells), "cell ids must stay unique"
    stub, solution = page.cells[2], page.cells[3]
    assert 'raise NotImplementedError("Exercise 9.1: double it")' in stub.source
    assert "return 2 * x" not in stub.source and "course-stub" in stub.metadata["tags"]
    assert "return 2 * x" in solution.source and "SOLUTION" not in solution.source
    assert "hide-input" in solution.metadata["tags"]
    assert solution.metadata["mystnb"]["code_prompt_show"] == site.SOLUTION_PROMPT
    figure = page.cells[4].outputs[0].data
    assert set(figure) == {"image/png"}, "the widget's static figure, without the live view"
    note = page.cells[5].outputs[0].data
    assert set(note) == {"text/html"} and "IntSlider(value=3)" in note["text/html"]
    assert "widgets" not in page.metadata


def test_a_malformed_exercise_is_refused_as_in_the_student_edition():
    nb = _exercise_notebook()
    nb.cells[2].source = nb.cells[2].source.replace("    # END SOLUTION", "")
    with pytest.raises(ValueError, match="never closed"):
        site.site_notebook(nb, "09_test.ipynb")


def test_the_front_page_links_every_notebook_even_one_missing_from_the_readme(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    extra = tmp_path / "99_extra.ipynb"
    nb = new_notebook(cells=[new_markdown_cell("# 99 · Extra: more")])
    nb.metadata["lecture"] = {"title": "99 · Extra: more", "covers": "one more topic"}
    nbformat.write(nb, extra)
    page = site.front_page(readme, [*NOTEBOOKS, extra])
    for path in [*NOTEBOOKS, extra]:
        assert f"(notebooks/{path.stem}.ipynb)" in page, path.stem
    assert "| [`99_extra`](notebooks/99_extra.ipynb) | one more topic |" in page
    intro = readme.split("\n## ")[0].split("\n", 2)[2].strip()
    assert intro in page, "the README's introduction"
    with pytest.raises(site.SiteError, match="Course outline"):
        site.front_page("# Title\n\ntext\n## Other\n", NOTEBOOKS)


def test_a_term_is_introduced_by_the_first_lesson_that_lists_it():
    assert site.introduced_in(["00_welcome", "02_b", "05_c"]) == "02_b"
    assert site.introduced_in(["00_welcome"]) == "00_welcome"
    where = site.glossary_terms(NOTEBOOKS)
    for path in NOTEBOOKS:
        for term in glossary_tool.glossary_cell(nbformat.read(path, as_version=4)).metadata[
            "glossary"
        ]:
            assert path.stem in where[term]


def test_the_api_page_documents_every_public_module():
    package = ROOT / "lecture_utils"
    files = [
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
        for p in package.rglob("*.py")
        if not any(part.startswith("_") for part in p.relative_to(package).parent.parts)
        and (p.name == "__init__.py" or not p.name.startswith("_"))
    ]
    modules = site.public_modules()
    assert set(files) | {"lecture_utils"} == set(modules)
    page = site.api_page(modules)
    for name in modules:
        assert f".. automodule:: {name}\n" in page


def test_the_api_page_documents_each_helper_once():
    """A subpackage's section is its docstring only: its members are documented where they
    are defined (its modules), not a second time through its re-exports."""
    page = site.api_page(["lecture_utils.widgets", "lecture_utils.widgets.digits"])
    package, module = page.split("## `lecture_utils.widgets.digits`")
    assert ":members:" not in package
    assert ":members:" in module


# ---------------------------------------------------------------------------------------------
# the site, built once from a clean clone


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """``build/site`` of a fresh ``git clone`` of this repository (its committed state)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        unavailable("git or the repository's .git is missing: cannot clone")
    clone = tmp_path_factory.mktemp("site") / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    out = clone / "build" / "site"
    result = subprocess.run(
        [
            sys.executable,
            str(clone / "scripts" / "build_site.py"),
            "--out",
            str(out),
            "--repository",
            REPOSITORY,
            "--branch",
            BRANCH,
            "--npm-cache",
            str(ROOT / "build" / "npm-cache"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=clone,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if result.returncode != 0 and "MathJax or the font could not be installed" in result.stderr:
        unavailable(f"npm assets unavailable: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "built in" in result.stdout
    return out


class _Page(HTMLParser):
    """ids, links (a/link href, img/script src) and the glossary's rows of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.rows: list[list[str]] = []
        self.row_links: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
            if self.rows and self._cell is not None:
                self.row_links[-1].append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.links.append(a["src"])
            if tag == "img":
                self.images.append(a["src"])
        if tag == "tr":
            self.rows.append([])
            self.row_links.append([])
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _pages(out: Path) -> list[Path]:
    """The site's pages (the themes leave template macros in _static/: not pages)."""
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts)


@pytest.mark.slow
def test_every_notebook_has_a_page_with_launch_row_run_time_and_neighbours(built):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    times = site.run_times(readme)
    stems = [p.stem for p in NOTEBOOKS]
    for i, stem in enumerate(stems):
        page_file = built / "notebooks" / f"{stem}.html"
        assert page_file.is_file(), f"no page for {stem}"
        text = page_file.read_text(encoding="utf-8")
        for url in site.launch_links(stem, REPOSITORY, BRANCH).values():
            assert f'href="{url.replace("&", "&amp;")}"' in text, f"{stem}: {url}"
        assert (built / "notebooks" / f"{stem}.ipynb").read_bytes() == (
            ROOT / "notebooks" / f"{stem}.ipynb"
        ).read_bytes(), f"{stem}: the download is not the notebook as stored"
        student = nbformat.read(built / "student" / f"{stem}.ipynb", as_version=4)
        assert not any(c.get("outputs") for c in student.cells), f"{stem}: student edition"
        if stem[:2] in times:
            assert f"Runs in about {times[stem[:2]]:g} s" in text, f"{stem}: run time"
        prev = re.search(r'<a class="left-prev"\s+href="([^"]+)"', text)
        nxt = re.search(r'<a class="right-next"\s+href="([^"]+)"', text)
        assert prev and prev.group(1) == (f"{stems[i - 1]}.html" if i else "../index.html")
        if i + 1 < len(stems):
            assert nxt and nxt.group(1) == f"{stems[i + 1]}.html", f"{stem}: next"


@pytest.mark.slow
def test_every_internal_link_and_anchor_resolves_and_nothing_is_remote(built):
    parsed = {path: _parse(path) for path in _pages(built)}
    broken = []
    for path, page in parsed.items():
        remote, _ = slides.deck_references(path.read_text(encoding="utf-8"))
        assert not remote, f"{path.name} loads {sorted(remote)} from the network"
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                continue  # an outgoing link (Colab, Binder, the repository), not loaded
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(built)} -> {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(built)} -> {link} (no such anchor)")
    assert not broken, f"{len(broken)} broken links: {broken[:20]}"


def _figures(nb) -> int:
    """Image outputs the page shows: every output with an image, after the widget filter."""
    return sum(
        any(k.startswith("image/") for k in o.get("data", {}))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_figure_is_on_its_page_and_not_empty(built, path):
    nb = nbformat.read(path, as_version=4)
    page = _parse(built / "notebooks" / f"{path.stem}.html")
    figures = [s for s in page.images if "/_images/" in f"/{s}"]
    assert len(figures) == _figures(nb), (
        f"{path.stem}: {len(figures)} figures on the page, {_figures(nb)} in the notebook"
    )
    for src in figures:
        data = (built / "notebooks" / src).resolve().read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, src
    folded = (built / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
    solutions = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert folded.count(f">{site.SOLUTION_PROMPT}</p>") == solutions, "folded solutions"


@pytest.mark.slow
def test_the_glossary_lists_every_term_of_every_notebook(built):
    from lecture_utils.glossary import TERMS

    page = _parse(built / "glossary.html")
    rows = {cells[0]: (cells, links) for cells, links in zip(page.rows, page.row_links) if cells}
    where = {}
    for path in NOTEBOOKS:
        cell = glossary_tool.glossary_cell(nbformat.read(path, as_version=4), path.name)
        for term in cell.metadata["glossary"]:
            where.setdefault(term, []).append(path.stem)
    missing = sorted(set(where) - set(rows))
    assert not missing, f"the glossary page lacks {missing}"
    for term, stems in where.items():
        cells, links = rows[term]
        assert cells[1] == TERMS[term][0] and cells[2] == TERMS[term][1], term
        lessons = [s for s in stems if not s.startswith("00_")] or stems
        assert links[0] == f"notebooks/{lessons[0]}.html#glossary", f"{term}: {links}"
        assert sorted(links) == sorted(f"notebooks/{s}.html#glossary" for s in stems), term


# ---------------------------------------------------------------------------------------------
# in headless chromium


@pytest.fixture(scope="module")
def browser(built):
    find_chromium("the site's browser tests")
    from playwright.sync_api import sync_playwright

    measure = load_script("measure_slides")
    with sync_playwright() as p:
        chromium = measure.open_browser(p)
        try:
            yield chromium, measure
        finally:
            chromium.close()


class _Watched:
    """A fresh offline page (only file: and data: requests) that records what went wrong."""

    def __init__(self, browser, viewport=None):
        chromium, measure = browser
        self.blocked: list[str] = []
        self.problems: list[str] = []
        self.page = measure.new_offline_page(chromium, self.blocked)
        if viewport:
            self.page.set_viewport_size(viewport)
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "requestfailed",
            lambda r: self.problems.append(f"failed request: {r.url} ({r.failure})"),
        )

    def open(self, path: Path, query: str = "") -> None:
        self.page.goto(path.as_uri() + query)
        self.page.wait_for_load_state("load")
        self.page.evaluate(
            "() => (window.MathJax && MathJax.startup ? MathJax.startup.promise"
            " : Promise.resolve()).then(() => document.fonts.ready)"
        )


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_loads_offline_without_errors(built, browser):
    watched = _Watched(browser)
    report = {}
    for path in _pages(built):
        watched.problems.clear()
        watched.blocked.clear()
        watched.open(path)
        bad_images = watched.page.evaluate(
            "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.getAttribute('src'))"
        )
        problems = watched.problems + [f"blocked: {u}" for u in watched.blocked]
        problems += [f"image not decoded: {s}" for s in bad_images]
        if problems:
            report[str(path.relative_to(built))] = problems
    assert not report, report


@pytest.mark.slow
@pytest.mark.browser
def test_the_maths_of_notebook_05_is_typeset(built, browser):
    watched = _Watched(browser)
    watched.open(built / "notebooks" / "05_mle_and_elbo.html")
    state = watched.page.evaluate(
        """() => {
          const spans = [...document.querySelectorAll('article .math')];
          return {
            math: spans.length,
            typeset: spans.filter(s => s.querySelector('mjx-container svg')).length,
            errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
            raw: spans.filter(s => /\\\\\\(|\\\\\\[|\\$\\$/.test(s.textContent)).length,
          };
        }"""
    )
    assert state["math"] > 50, state
    assert state["typeset"] == state["math"] and state["errors"] == 0 and state["raw"] == 0, state
    assert not watched.problems and not watched.blocked


@pytest.mark.slow
@pytest.mark.browser
def test_search_finds_elbo_on_notebook_05s_page(built, browser):
    watched = _Watched(browser)
    watched.open(built / "search.html", "?q=ELBO")
    watched.page.wait_for_function(
        "() => document.querySelector('#search-results h2') &&"
        " /Search Results/.test(document.querySelector('#search-results h2').textContent)",
        timeout=30_000,
    )
    hits = watched.page.evaluate(
        "() => [...document.querySelectorAll('#search-results ul.search li a')]"
        ".map(a => a.getAttribute('href'))"
    )
    assert any(h.split("#")[0].endswith("notebooks/05_mle_and_elbo.html") for h in hits), hits
    watched.open(built / "search.html", "?q=qwzxv")  # a word on no page: no hit
    watched.page.wait_for_function(
        "() => /did not match/.test(document.querySelector('#search-results').textContent)",
        timeout=30_000,
    )
    assert not watched.problems and not watched.blocked


@pytest.mark.slow
@pytest.mark.browser
def test_a_folded_solution_opens_and_the_korean_font_is_shipped(built, browser):
    watched = _Watched(browser)
    watched.open(built / "notebooks" / "01_autoencoder.html")
    details = watched.page.locator("details.hide.above-input").first
    code = details.locator(".cell_input")
    assert not code.is_visible(), "the solution must start folded"
    details.locator("summary").click()
    assert code.is_visible() and "return" in code.inner_text()
    watched.open(built / "glossary.html")
    assert watched.page.evaluate(
        "() => [...document.fonts].some(f => f.family.replace(/\"/g, '') === 'Noto Sans KR'"
        " && f.status === 'loaded')"
    ), "the glossary's Korean is not drawn in the shipped Noto Sans KR"
    assert not watched.problems and not watched.blocked


@pytest.mark.slow
@pytest.mark.browser
def test_screenshots_of_three_pages(built, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [
        ("site-index.png", built / "index.html", None),
        ("site-05-elbo.png", built / "notebooks" / "05_mle_and_elbo.html", None),
        ("site-glossary-phone.png", built / "glossary.html", {"width": 390, "height": 844}),
    ]
    for name, path, viewport in shots:
        watched = _Watched(browser, viewport)
        watched.open(path)
        watched.page.screenshot(path=str(SCREENSHOTS / name))
        assert (SCREENSHOTS / name).stat().st_size > 10_000, name
        assert not watched.problems and not watched.blocked, watched.problems
