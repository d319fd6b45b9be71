"""The reveal.js decks (scripts/build_slides.py) open offline and typeset their maths.

Every notebook's deck is checked to load nothing but the local reveal.js and MathJax copies.
Notebook 00's deck is opened in headless Chromium (Debian's /usr/bin/chromium, driven by
playwright) with every non-file request blocked: its first slide must show, and the maths must
be typeset (MathJax output present, no raw $...$ or TeX left). Without chromium, playwright or
the npm assets these tests skip, unless VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then they fail.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WELCOME = ROOT / "notebooks" / "00_welcome.ipynb"
REQUIRE_BROWSER = os.environ.get("VAE_COURSE_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_spec = importlib.util.spec_from_file_location("build_slides", ROOT / "scripts" / "build_slides.py")
slides = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slides)


def unavailable(reason: str) -> None:
    """Skip, or fail when CI demands that the browser tests run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (VAE_COURSE_REQUIRE_BROWSER=1, so this is an error)")
    pytest.skip(reason)


def slide_types(path):
    nb = nbformat.read(path, as_version=4)
    return [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells]


class _TopSections(HTMLParser):
    """Counts the top-level <section> elements (the horizontal slides)."""

    def __init__(self):
        super().__init__()
        self.depth, self.count = 0, 0

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.count += self.depth == 0
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_deck_loads_only_local_assets(path, tmp_path):
    deck = slides.build_deck(path, tmp_path)
    page = deck.read_text(encoding="utf-8")
    remote, local = slides.deck_references(page)
    assert not remote, f"{deck.name} loads {remote} from the network"
    assert local <= slides.DECK_FILES, (
        f"{deck.name} loads unexpected files {local - slides.DECK_FILES}"
    )
    assert slides.DECK_FILES <= local, f"{deck.name} misses {slides.DECK_FILES - local}"
    types = slide_types(path)
    visible = [t for t in types if t not in ("skip", "notes")]
    assert visible, f"{path.name}: every cell is skipped; the deck would be empty"
    expected = 1 + visible[1:].count("slide")  # the first visible cell always opens a slide
    sections = _TopSections()
    sections.feed(page)
    assert sections.count == expected, f"{deck.name}: {sections.count} slides, expected {expected}"
    assert sections.depth == 0


def test_reference_scanner_sees_every_kind_of_remote_load():
    page = (
        '<script src="https://cdn.example/a.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/b.css">'
        '<style>@import "https://fonts.example/c.css"; .x {background: url(http://d.example/d.png)}</style>'
        "<div style=\"background: url('https://e.example/e.png')\"></div>"
        '<img src="data:image/png;base64,AAAA"><a href="https://example.org/">a link loads nothing</a>'
        '<script src="assets/reveal.js/dist/reveal.js"></script>'
    )
    remote, local = slides.deck_references(page)
    assert remote == {
        "https://cdn.example/a.js",
        "//cdn.example/b.css",
        "https://fonts.example/c.css",
        "http://d.example/d.png",
        "https://e.example/e.png",
    }
    assert local == {"assets/reveal.js/dist/reveal.js"}


def test_links_between_notebooks_become_links_between_decks(tmp_path):
    source = tmp_path / "09_links.ipynb"
    nbformat.write(
        new_notebook(
            cells=[
                new_markdown_cell(
                    "# 09 · Links\nNext: [01 · The autoencoder](01_autoencoder.ipynb), "
                    "[a section](05_mle_and_elbo.ipynb#The-ELBO), [the web](https://example.org/x.ipynb)"
                )
            ]
        ),
        source,
    )
    page = slides.build_deck(source, tmp_path / "out").read_text(encoding="utf-8")
    assert 'href="01_autoencoder.slides.html"' in page
    assert 'href="05_mle_and_elbo.slides.html#The-ELBO"' in page
    assert 'href="https://example.org/x.ipynb"' in page


def test_a_tampered_tarball_is_refused_and_deleted(tmp_path):
    version = slides.ASSETS["reveal.js"][0]
    fake = tmp_path / f"reveal.js-{version}.tgz"
    fake.write_bytes(b"not the published tarball")
    with pytest.raises(slides.AssetError, match="sha512 differs"):
        slides.fetch_tarball("reveal.js", cache=tmp_path)
    assert not fake.exists()


@pytest.fixture(scope="module")
def welcome_deck(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    try:
        (deck,) = slides.build_slides([WELCOME], out)
    except slides.AssetError as err:
        unavailable(f"slide assets unavailable: {err}")
    assert (out / "index.html").is_file()
    return deck


@pytest.mark.slow
@pytest.mark.browser
def test_welcome_deck_in_headless_chromium(welcome_deck, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("chromium not found on PATH (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    title = nbformat.read(WELCOME, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
    requests, errors = [], []

    def only_files(route):
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", only_files)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(welcome_deck.as_uri())
            page.wait_for_function(
                "() => window.Reveal && Reveal.isReady() && window.MathJax"
                " && MathJax.startup && MathJax.startup.promise",
                timeout=60_000,
            )
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
            page.screenshot(path=str(tmp_path / "first_slide.png"))

            # the first slide shows: it is the current one, and its title is on screen
            assert page.evaluate("() => Reveal.getIndices()")["h"] == 0
            heading = page.locator(".reveal .slides > section.present h1").first
            assert heading.is_visible() and heading.inner_text().strip() == title
            box = heading.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 800, box

            # the maths is typeset everywhere, without errors and with no raw TeX left
            maths = page.evaluate("""() => {
                const slides = document.querySelector('.reveal .slides');
                const text = slides.cloneNode(true);
                text.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
                return {typeset: slides.querySelectorAll('mjx-container').length,
                        errors: slides.querySelectorAll('mjx-merror').length,
                        text: text.textContent};
            }""")
            assert maths["typeset"] > 0, "no MathJax output in the deck"
            assert maths["errors"] == 0, "MathJax reported TeX errors"
            raw = re.findall(
                r"\$[^$\n]{1,80}\$|\\(?:mathcal|theta|begin|frac|mid)\b", maths["text"]
            )
            assert not raw, f"raw TeX left in the slides: {raw[:5]}"

            # on the first slide with maths, the formulas are drawn (visible, non-empty)
            target = page.evaluate(
                "() => Reveal.getIndices(Reveal.getSlides().find("
                "s => s.querySelector('mjx-container')))"
            )
            page.evaluate("() => Reveal.configure({transition: 'none'})")
            page.evaluate(f"() => Reveal.slide({target['h']}, {target.get('v') or 0})")
            formula = page.locator(".reveal section.present mjx-container svg").first
            formula.wait_for(state="visible", timeout=10_000)
            drawn = formula.bounding_box()
            page.screenshot(path=str(tmp_path / "maths_slide.png"))
            assert drawn and drawn["width"] > 5 and drawn["height"] > 5, drawn
            assert 0 <= drawn["x"] < 1280 and 0 <= drawn["y"] < 800, f"formula off screen: {drawn}"
        finally:
            browser.close()
    remote = [url for url in requests if not url.startswith("file:")]
    assert not remote, f"the deck tried to load {remote}"
    assert any(url.endswith("tex-svg-full.js") for url in requests)
    assert not errors, f"errors in the browser console: {errors}"
