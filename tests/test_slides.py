"""The lecture decks (scripts/build_slides.py, scripts/lecture_schema.py) and the handout.

Without a browser: every cell of every notebook carries a slide decision that obeys the lecture
schema (a new cell without one fails here); the schema's rules refuse solutions, checks, asserts
and setup code on a slide; hidden cells pass their slide opening on; speaker notes become reveal
notes; every deck loads only the local reveal.js, MathJax and font copies.

In headless Chromium at 1280x720 (Debian's /usr/bin/chromium driven by playwright, every
non-file request blocked), on every slide of every deck: nothing overflows the canvas or is cut
at the right edge, body text is at least 3.5 % of the screen height, the median slide has fewer
than 80 words, no figure is enlarged past its stored pixels, no solution/check/assert line is
shown, every section slide has speaker notes (and reveal's speaker view shows them), the Korean
glossary is drawn in the shipped font, the maths of notebook 00 is typeset; `--handout` prints
one PDF page per slide. Without chromium, playwright or the npm assets the browser tests skip,
unless VAE_COURSE_REQUIRE_BROWSER=1 (as in CI): then they fail.
"""

from __future__ import annotations

import re
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from browser_support import find_chromium, unavailable
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WELCOME = ROOT / "notebooks" / "00_welcome.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


slides = load_script("build_slides")
schema = load_script("lecture_schema")
measure = load_script("measure_slides")


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_cell_has_a_slide_decision_that_obeys_the_schema(path):
    nb = nbformat.read(path, as_version=4)
    found = schema.problems(nb)
    assert not found, f"{path.name}:\n" + "\n".join(found)


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
    expected = len(schema.sections(nbformat.read(path, as_version=4)))
    sections = _TopSections()
    sections.feed(page)
    assert sections.count == expected, f"{deck.name}: {sections.count} slides, expected {expected}"
    assert sections.depth == 0
    assert "BEGIN SOLUTION" not in page and "lecture_utils.checks" not in page


def _cell(kind, source, show, slide_type="-", **extra):
    make = new_markdown_cell if kind == "markdown" else new_code_cell
    cell = make(source)
    cell.metadata["slideshow"] = {"slide_type": slide_type}
    cell.metadata["lecture"] = {"show": show, **extra}
    return cell


NOTES = {"say": "say this", "ask": "ask that", "remember": "one thing", "minutes": 3}


def _lecture(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["lecture"] = {"title": "T", "covers": "C"}
    return nb


def test_a_cell_without_a_decision_is_named():
    nb = _lecture(_cell("markdown", "# Title", "all", "slide", notes=NOTES))
    nb.cells.append(new_code_cell("x = 1"))
    found = schema.problems(nb)
    assert len(found) == 1 and "cell 1" in found[0] and "no slide decision" in found[0]


@pytest.mark.parametrize(
    "source, what",
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION", "solution"),
        ("checks.check_mc_elbo(f)", "check"),
        ("assert x > 0", "assert"),
        ("torch.testing.assert_close(a, b)", "assert"),
        ("import torch", "setup"),
        ("seed_everything(0)", "setup"),
        ("\n".join(f"x{i} = {i}" for i in range(13)), "13 code lines"),
        ("y = " + "1 + " * 30 + "1", "characters"),
    ],
)
def test_code_that_is_not_the_lesson_is_refused_on_a_slide(source, what):
    nb = _lecture(_cell("markdown", "# T", "all", "slide", notes=NOTES))
    nb.cells.append(_cell("code", source, "all"))
    found = schema.problems(nb)
    assert any(what in p for p in found), found
    nb.cells[-1].metadata["lecture"]["show"] = "output"
    if "SOLUTION" in source:  # a solution never shows, in any slide build
        assert any("slide type 'skip'" in p for p in schema.problems(nb))
        nb.cells[-1].metadata["slideshow"]["slide_type"] = "skip"
        nb.cells[-1].metadata["lecture"]["show"] = "none"
    assert schema.problems(nb) == []


@pytest.mark.parametrize(
    "lecture, fragment",
    [
        ({"show": "figure"}, "takes"),  # markdown cannot show a figure
        ({"show": "all", "colour": "red"}, "unknown lecture keys"),
        ({"show": "all", "text": "  "}, "must not be empty"),
        ({"show": "all", "notes": {"say": "x", "ask": "y", "remember": "z"}}, "notes need"),
        ({"show": "all", "notes": {**NOTES, "minutes": 0}}, "minutes must be a number > 0"),
        ({"show": "all", "notes": {**NOTES, "ask": ""}}, "empty notes"),
    ],
)
def test_malformed_decisions_are_named(lecture, fragment):
    cell = new_markdown_cell("# T")
    cell.metadata["slideshow"] = {"slide_type": "slide"}
    cell.metadata["lecture"] = lecture
    found = schema.problems(_lecture(cell))
    assert any(fragment in p for p in found), found


def test_sections_need_notes_and_the_notebook_a_title():
    nb = _lecture(
        _cell("markdown", "# One", "all", "slide", notes=NOTES),
        _cell("markdown", "# Two", "all", "slide"),
    )
    assert any("section slide 2" in p and "no speaker notes" in p for p in schema.problems(nb))
    assert schema.problems(nb, draft=True) == []
    nb.metadata["lecture"] = {"title": "T"}
    assert any("'covers'" in p for p in schema.problems(nb))


def test_a_hidden_cell_passes_its_slide_opening_and_its_notes_on():
    nb = _lecture(
        _cell("markdown", "# One", "all", "slide", notes=NOTES),
        _cell("code", "print(1)", "none", "slide", notes={**NOTES, "say": "second"}),
        _cell("markdown", "After the hidden cell", "all", "-"),
        _cell("markdown", "hidden subslide", "none", "subslide"),
        _cell("markdown", "shown below", "all", "fragment"),
    )
    sections = schema.sections(nb)
    assert [s.first for s in sections] == ["# One", "After the hidden cell"]
    assert [kind for _, kind in sections[1].cells] == ["slide", "subslide"]
    assert sections[1].notes[0]["say"] == "second"
    lecture = schema.lecture_notebook(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in lecture.cells]
    assert kinds == ["slide", "notes", "slide", "notes", "subslide"]
    assert "**Say:** second" in lecture.cells[3].source
    assert "**Minutes:** 3" in lecture.cells[3].source


def test_text_figure_and_handout_choices():
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    code = _cell("code", "show(x)", "figure")
    code.outputs = [
        {"output_type": "stream", "name": "stdout", "text": "log line\n"},
        {"output_type": "display_data", "data": png, "metadata": {}},
    ]
    nb = _lecture(
        _cell("markdown", "# Long prose " * 50, "all", "slide", notes=NOTES, text="# Short"),
        code,
        _cell("code", "z = mu + sigma * eps", "all"),
    )
    lecture = schema.lecture_notebook(nb)
    assert lecture.cells[0].source == "# Short"
    figure = lecture.cells[2]
    assert [o["output_type"] for o in figure.outputs] == ["display_data"]
    assert set(figure.outputs[0]["data"]) == {"image/png"}
    assert figure.metadata["transient"]["remove_source"] is True
    assert not lecture.cells[3].metadata.get("transient")
    handout = schema.lecture_notebook(nb, handout=True)
    assert handout.cells[3].metadata["transient"]["remove_source"] is True
    assert nb.cells[0].source.startswith("# Long prose")  # the notebook itself is untouched


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
    text = (
        "# 09 · Links\nNext: [01 · The autoencoder](01_autoencoder.ipynb), "
        "[a section](05_mle_and_elbo.ipynb#The-ELBO), [the web](https://example.org/x.ipynb)"
    )
    # the slide text (`text`) is linked like the notebook's own prose
    cells = [
        _cell("markdown", text, "all", "slide", notes=NOTES),
        _cell("markdown", "prose", "all", "slide", notes=NOTES, text=text.replace("09", "10")),
    ]
    nbformat.write(_lecture(*cells), source)
    page = slides.build_deck(source, tmp_path / "out").read_text(encoding="utf-8")
    assert page.count('href="01_autoencoder.slides.html"') == 2
    assert page.count('href="05_mle_and_elbo.slides.html#The-ELBO"') == 2
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
    chromium = find_chromium("the slide tests")
    from playwright.sync_api import sync_playwright

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


# ---------------------------------------------------------------- every deck, as projected


def _chromium():
    find_chromium("the slide tests")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@pytest.fixture(scope="module")
def lecture_decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("lecture")
    try:
        decks = slides.build_slides(NOTEBOOKS, out)
    except slides.AssetError as err:
        unavailable(f"slide assets unavailable: {err}")
    return out, decks


@pytest.fixture(scope="module")
def browser_page():
    sync_playwright = _chromium()
    blocked, errors = [], []
    with sync_playwright() as p:
        browser = measure.open_browser(p)
        page = measure.new_offline_page(browser, blocked)
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            yield page, blocked, errors
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_slide_fits_a_1280x720_projector(path, lecture_decks, browser_page):
    out, _ = lecture_decks
    page, blocked, errors = browser_page
    rows = measure.measure_deck(page, out / f"{path.stem}.slides.html")
    total = measure.summary(rows)

    def where(test):
        return [f"{r['h']}.{r['v']} {r['title']!r}" for r in rows if test(r)][:8]

    nb = schema.lecture_notebook(nbformat.read(path, as_version=4))
    opening = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in nb.cells)
    assert total["slides"] == opening, f"{total['slides']} slides measured, {opening} built"
    assert total["overflowing"] == 0, (
        f"slides taller than 720 px or cut at the right: {where(lambda r: r['overflow'] > 0 or r['wide'] > 0)}"
    )
    assert total["min_font_pct"] is not None and total["min_font_pct"] >= 3.5, (
        f"body text {total['min_font_pct']:.2f} % of the screen height, under 3.5 %"
    )
    assert total["median_words"] < 80, f"median {total['median_words']} words per slide"
    assert total["max_upscale"] <= 1.01, f"a figure enlarged {total['max_upscale']:.2f}x: it blurs"
    assert total["solution_lines"] == 0, where(lambda r: r["solution"] > 0)
    assert total["sections_without_notes"] == 0, where(lambda r: r["v"] == 0 and not r["notes"])
    assert not blocked, f"requests that left the file system: {sorted(set(blocked))}"
    assert not errors, f"errors in the browser console: {errors}"


@pytest.mark.slow
@pytest.mark.browser
def test_speaker_view_shows_the_notes_offline(lecture_decks, browser_page):
    out, _ = lecture_decks
    page, blocked, _ = browser_page
    deck = out / "05_mle_and_elbo.slides.html"
    measure.open_deck(page, deck.as_uri())
    shots = ROOT / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => { Reveal.configure({transition: 'none'}); Reveal.slide(2, 0); }")
    page.screenshot(path=str(shots / "slide.png"))
    expected = page.evaluate(
        "() => Reveal.getCurrentSlide().querySelector('aside.notes').textContent.trim()"
    )
    with page.expect_popup(timeout=20_000) as popup_info:
        page.keyboard.press("s")
    speaker = popup_info.value
    speaker.set_viewport_size({"width": 1280, "height": 720})
    speaker.wait_for_function(
        "() => { const n = document.querySelector('.speaker-controls-notes .value');"
        " return n && n.textContent.trim().length > 0; }",
        timeout=30_000,
    )
    shown = speaker.evaluate(
        "() => document.querySelector('.speaker-controls-notes .value').textContent"
    )
    for part in ("Say:", "Ask the room:", "Remember:", "Minutes:"):
        assert part in shown, f"speaker view lacks {part!r}: {shown[:200]!r}"
    assert expected.split()[:5] == shown.split()[:5]
    speaker.wait_for_timeout(1000)
    speaker.screenshot(path=str(shots / "speaker_view.png"))
    speaker.close()
    assert not [u for u in blocked if not u.startswith("file:")]


@pytest.mark.slow
@pytest.mark.browser
def test_korean_glossary_is_drawn_in_the_shipped_font(lecture_decks, browser_page):
    out, _ = lecture_decks
    page, _, _ = browser_page
    measure.open_deck(page, (out / "05_mle_and_elbo.slides.html").as_uri())
    target = page.evaluate(
        "() => Reveal.getIndices(Reveal.getSlides().find(s => /[\\uac00-\\ud7a3]/.test(s.textContent)))"
    )
    page.evaluate(f"() => Reveal.slide({target['h']}, {target.get('v') or 0})")
    page.evaluate("() => document.fonts.ready")
    page.wait_for_function(
        "() => [...document.fonts].some(f => f.family.includes('Noto Sans KR') && f.status === 'loaded')",
        timeout=20_000,
    )
    # the Hangul is drawn by the shipped face: measured with it and with a font lacking Hangul,
    # the widths differ (a missing glyph would fall back to the same box either way)
    widths = page.evaluate("""() => {
        const c = document.createElement('canvas').getContext('2d');
        c.font = '26px "Noto Sans KR"'; const kr = c.measureText('잠재 변수 모델').width;
        c.font = '26px monospace'; const mono = c.measureText('잠재 변수 모델').width;
        return [kr, mono];
    }""")
    assert widths[0] > 0 and abs(widths[0] - widths[1]) > 1, widths


@pytest.mark.slow
@pytest.mark.browser
def test_index_names_lectures_with_their_minutes(lecture_decks):
    out, _ = lecture_decks
    page = (out / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        info = schema.lecture_info(nbformat.read(path, as_version=4))
        assert html_escape(info["title"]) in page and f"{info['minutes']:g} min" in page
        assert 0 < info["minutes"] <= 75, f"{path.name}: {info['minutes']} minutes"
        assert f">{path.stem}<" not in page  # titles, not file names


@pytest.mark.slow
@pytest.mark.browser
def test_handout_has_one_page_per_slide_and_no_code(tmp_path, browser_page):
    page, blocked, _ = browser_page
    path = ROOT / "notebooks" / "05_mle_and_elbo.ipynb"
    try:
        slides.install_assets(tmp_path)
    except slides.AssetError as err:
        unavailable(f"slide assets unavailable: {err}")
    sheet = slides.build_deck(path, tmp_path, handout=True)
    code = re.findall(r'class="[^"]*jp-InputArea-editor', sheet.read_text(encoding="utf-8"))
    assert not code, f"{len(code)} code inputs in the handout"
    (pdf,) = slides.print_handouts([sheet], tmp_path, page=page)
    assert not blocked, f"requests that left the file system: {sorted(set(blocked))}"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    nb = schema.lecture_notebook(nbformat.read(path, as_version=4))
    expected = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in nb.cells)
    assert abs(pages - expected) <= max(1, expected // 10), f"{pages} pages for {expected} slides"
