"""Build the course site into build/site/, a static site that opens from the file system.

    python scripts/build_site.py                      # -> build/site/index.html
    python scripts/build_site.py --repository https://github.com/OWNER/vae-course --branch main

The site is made by Sphinx with myst-nb (execution off: every page shows the outputs stored in the
notebooks, which nbval checks) and sphinx-book-theme; ``site/conf.py`` is its configuration. This
script first writes the Sphinx sources into build/site-src/:

- ``index.md``: the README's introduction and course outline, each notebook linked;
- ``notebooks/NN_topic.ipynb``: a copy of each notebook for reading. Each exercise shows its stub
  (as in the student edition, from ``scripts/editions.py``) with the solution folded below it; a
  widget's live view is dropped, so its stored static figure shows;
- ``glossary.md``: the course-wide English-Korean glossary, from every notebook's glossary cell
  (``lecture_utils.glossary.TERMS``), each term linked to the notebook that introduces it;
- ``api.md``: the ``lecture_utils`` reference, generated from the docstrings (every module);
- ``_extra/``: the notebooks as stored and their student editions, for the download links.

MathJax and the Korean font come from the npm registry through ``scripts/build_slides.py``
(pinned, sha512-checked, cached in build/npm-cache/); nothing is loaded from a CDN at view time.
Each notebook page gets a launch row (download, Colab, Binder: ``course_repository`` and
``course_branch`` in ``site/conf.py``, or ``--repository``/``--branch``) and the notebook's run
time from the README's "Budget and run times" table (the figures ``make report`` printed; the
site never executes a notebook).
"""

from __future__ import annotations

import argparse
import copy
import html
import importlib
import os
import pkgutil
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import nbformat

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from build_slides import CACHE, AssetError, install_assets  # noqa: E402
from editions import BEGIN, END, SOLUTION_TAG, make_student_notebook, write_student_edition  # noqa: E402
from glossary import KEY, glossary_cell  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# what the site takes from the npm assets of the slides (relative to their assets/ folder)
MATHJAX_FILE = "mathjax/es5/tex-svg-full.js"  # SVG output: no web fonts to load
KOREAN_FONT_FILE = "fontsource-noto-sans-kr/files/noto-sans-kr-korean-400-normal.woff2"
SOLUTION_PROMPT = "Show the solution"


class SiteError(RuntimeError):
    """The site cannot be built; the message says why and what to do."""


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """The course notebooks, in order: ``notebooks/NN_topic.ipynb``, found by glob."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


# ---------------------------------------------------------------------------------------------
# run times and launch links


def run_times(readme: str) -> dict[str, float]:
    """Wall seconds per notebook number (``"00"`` -> 4.2) from the README's run-time table.

    The table has a header row ``| notebook | 00 | 01 | ... | all |`` and a row ``| wall s | ...``
    (what ``make report`` printed); returns ``{}`` when the README has no such table.
    """
    header: list[str] | None = None
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            header = None if not line.startswith("|") else header
            continue
        if cells[0] == "notebook" and all(re.fullmatch(r"\d\d|all", c) for c in cells[1:]):
            header = cells[1:]
        elif header and cells[0] == "wall s":
            times = {}
            for number, value in zip(header, cells[1:]):
                if re.fullmatch(r"\d\d", number) and re.fullmatch(r"\d+(\.\d+)?", value):
                    times[number] = float(value)
            return times
    return {}


def launch_links(stem: str, repository: str, branch: str) -> dict[str, str]:
    """Colab and Binder URLs of ``notebooks/<stem>.ipynb`` in ``repository`` at ``branch``.

    GitHub repositories get both; other hosts get Binder only (Colab opens GitHub notebooks);
    an empty ``repository`` gets none.
    """
    if not repository:
        return {}
    parts = urlsplit(repository.rstrip("/").removesuffix(".git"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SiteError(
            f"course_repository must be an http(s) URL such as "
            f"https://github.com/OWNER/vae-course, got {repository!r}"
        )
    path = f"notebooks/{stem}.ipynb"
    slug = parts.path.strip("/")
    labpath = "?labpath=" + quote(path, safe="")
    if parts.netloc == "github.com" and slug.count("/") == 1:
        return {
            "colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/{path}",
            "binder": f"https://mybinder.org/v2/gh/{slug}/{branch}{labpath}",
        }
    if parts.netloc == "gitlab.com":
        return {"binder": f"https://mybinder.org/v2/gl/{quote(slug, safe='')}/{branch}{labpath}"}
    url = quote(f"{parts.scheme}://{parts.netloc}{parts.path}", safe="")
    return {"binder": f"https://mybinder.org/v2/git/{url}/{branch}{labpath}"}


def launch_row(stem: str, repository: str, branch: str, seconds: float | None) -> str:
    """The HTML row under a notebook page's title: downloads, Colab, Binder, run time."""
    links = [
        f'<a class="course-download" href="{stem}.ipynb" download>Download the notebook</a>',
        f'<a class="course-download" href="../student/{stem}.ipynb" download>'
        "the student edition</a>",
    ]
    names = {"colab": "Open in Colab", "binder": "Open on Binder"}
    for key, url in launch_links(stem, repository, branch).items():
        links.append(f'<a class="course-{key}" href="{html.escape(url)}">{names[key]}</a>')
    if seconds is None:
        runtime = "Run time: not in the README's table yet (<code>make report</code>)."
    else:
        runtime = (
            f"Runs in about {seconds:g} s on 2 CPU cores (<code>make report</code>, "
            "an empty model cache)."
        )
    return (
        '<div class="course-launch">'
        f'<p class="course-launch-links">{" · ".join(links)}</p>'
        f'<p class="course-runtime">{runtime}</p></div>'
    )


# ---------------------------------------------------------------------------------------------
# the notebooks as pages


def _title(nb: nbformat.NotebookNode, stem: str) -> str:
    title = nb.metadata.get("lecture", {}).get("title", "")
    if not title:
        heading = re.search(r"^#\s+(.+)$", nb.cells[0].source if nb.cells else "", re.M)
        title = heading.group(1) if heading else stem
    return title.strip()


def short_title(nb: nbformat.NotebookNode, stem: str) -> str:
    """``01 · The autoencoder`` from ``01 · The autoencoder: features from images ...``."""
    return _title(nb, stem).split(":")[0].strip()


def _static_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """A widget's output without its live view: the stored static figure, or a short note."""
    data = output.get("data", {})
    if WIDGET_VIEW not in data:
        return output
    output = copy.deepcopy(output)
    del output.data[WIDGET_VIEW]
    if any(k.startswith("image/") for k in output.data):
        output.data.pop("text/plain", None)  # the figure says it; the repr would repeat it
        return output
    text = html.escape(data.get("text/plain", "a widget"))
    output.data = {
        "text/html": f'<p class="course-widget-note">A live widget in Jupyter: <code>{text}</code>'
        " (run the notebook to use it).</p>"
    }
    return output


def site_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The notebook as the site shows it (``nb`` is not changed).

    Each ``solution`` cell becomes two: the student edition's stub (signature, docstring,
    ``raise NotImplementedError``), then the solved cell, without its solution markers, folded
    behind "Show the solution".
    Widget outputs keep their static figure only. Raises ``EditionError`` for malformed
    exercises, like the student edition.
    """
    student = make_student_notebook(nb, name)  # checks every exercise; its stubs are shown
    kept = [i for i in range(len(nb.cells)) if i not in set(student.dropped)]
    page = copy.deepcopy(nb)
    page.metadata.pop("widgets", None)
    cells = []
    for index, cell in enumerate(page.cells):
        cell.metadata.pop("lecture", None)  # slide decisions: not for the page
        cell.metadata.pop("slideshow", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(_static_output, cell.outputs) if o is not None]
            tags = cell.metadata.get("tags", [])
            if SOLUTION_TAG in tags:
                stub = copy.deepcopy(cell)
                stub.source = student.notebook.cells[kept.index(index)].source
                stub.outputs, stub.metadata["tags"] = [], ["course-stub"]
                stub.id = f"{cell.id}-stub"[-64:]
                cells.append(stub)
                lines = cell.source.splitlines(keepends=True)  # the markers are for tools
                cell.source = "".join(x for x in lines if x.strip() not in (BEGIN, END))
                cell.metadata["tags"] = [*tags, "hide-input"]
                cell.metadata["mystnb"] = {
                    "code_prompt_show": SOLUTION_PROMPT,
                    "code_prompt_hide": "Hide the solution",
                }
        cells.append(cell)
    page.cells = cells
    return page


# ---------------------------------------------------------------------------------------------
# generated pages


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def front_page(readme: str, notebooks: list[Path]) -> str:
    """index.md: the README's introduction and outline, each notebook name linked to its page,
    notebooks missing from the outline appended with their title; then the tables of contents."""
    intro = re.search(r"\A#\s+(.+?)\n(.*?)^## ", readme, re.S | re.M)
    outline = re.search(r"^## Course outline\n(.*?)(?=^## )", readme, re.S | re.M)
    if not intro or not outline:
        raise SiteError("README.md lacks its title, introduction or '## Course outline' section")
    title, body = intro.group(1).strip(), intro.group(2).strip()
    stems = {p.stem: p for p in notebooks}
    listed: set[str] = set()

    def link(match: re.Match) -> str:
        stem = match.group(1)
        if stem not in stems:
            return match.group(0)
        listed.add(stem)
        return f"[`{stem}`](notebooks/{stem}.ipynb)"

    outline_text = re.sub(r"`(\d\d_[A-Za-z0-9_]+)`", link, outline.group(1).strip())
    extra = []
    for stem, path in stems.items():
        if stem not in listed:
            nb = nbformat.read(path, as_version=4)
            covers = nb.metadata.get("lecture", {}).get("covers", "") or _title(nb, stem)
            extra.append(f"| [`{stem}`](notebooks/{stem}.ipynb) | {_md_cell(covers)} |")
    if extra:  # rows go right after the table's last row
        lines = outline_text.splitlines()
        last = max(i for i, line in enumerate(lines) if line.startswith("|"))
        outline_text = "\n".join(lines[: last + 1] + extra + lines[last + 1 :])
    return f"""# {title}

{body}

## Course outline

{outline_text}

Each notebook page shows the outputs stored in the notebook (nothing is re-run to build this
site), the exercises with their solutions folded, and a row of links: download the notebook (or
its student edition, with each exercise a stub to fill in), or open it in Colab or on Binder.
The [glossary](glossary.md) lists every term of the course in English and Korean; the
[API reference](api.md) documents the `lecture_utils` helpers the notebooks import.

```{{toctree}}
:hidden:
:caption: Notebooks
:glob:

notebooks/*
```

```{{toctree}}
:hidden:
:caption: Reference

glossary
api
```
"""


def term_anchor(term: str) -> str:
    """A stable HTML id for a glossary term."""
    return "term-" + (re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-") or "x")


def glossary_terms(notebooks: list[Path]) -> dict[str, list[str]]:
    """term -> stems of the notebooks whose glossary lists it, in course order."""
    where: dict[str, list[str]] = {}
    for path in notebooks:
        cell = glossary_cell(nbformat.read(path, as_version=4), path.name)
        for term in cell.metadata[KEY]:
            where.setdefault(term, []).append(path.stem)
    return where


def introduced_in(stems: list[str]) -> str:
    """The notebook that introduces a term: the first lesson that lists it (00, the welcome,
    only previews terms), or 00 when no lesson does."""
    lessons = [s for s in stems if not s.startswith("00_")]
    return (lessons or stems)[0]


def glossary_page(notebooks: list[Path]) -> str:
    """glossary.md: every term of every notebook's glossary, alphabetically, English beside
    Korean, linked to the notebook that introduces it (and to the others that list it)."""
    from lecture_utils.glossary import TERMS

    titles = {p.stem: short_title(nbformat.read(p, as_version=4), p.stem) for p in notebooks}
    where = glossary_terms(notebooks)
    rows = []
    for term in sorted(where, key=lambda t: (t.casefold(), t)):
        korean, meaning = TERMS[term]
        first = introduced_in(where[term])
        also = [s for s in where[term] if s != first]
        also_html = ", ".join(
            f'<a href="notebooks/{s}.html#glossary">{html.escape(s[:2])}</a>' for s in also
        )
        rows.append(
            f'<tr id="{term_anchor(term)}"><td class="term">{html.escape(term)}</td>'
            f'<td lang="ko" data-label="한국어">{html.escape(korean)}</td>'
            f'<td data-label="meaning">{html.escape(meaning)}</td>'
            f'<td data-label="introduced in"><a href="notebooks/{first}.html#glossary">'
            f"{html.escape(titles[first])}</a></td>"
            f'<td data-label="also in">{also_html}</td></tr>'
        )
    table = (
        '<table class="course-glossary table">\n<thead><tr><th>English</th><th>한국어</th>'
        "<th>meaning</th><th>introduced in</th><th>also in</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )
    return f"""# Glossary · 용어집

Every term of the notebooks' glossaries ({len(rows)} terms from {len(notebooks)} notebooks), in
English and Korean with a one-line meaning, and the notebook that introduces it. One source makes
this page and every notebook's own glossary: `TERMS` in `lecture_utils/glossary.py`.

{table}
"""


def public_modules() -> list[str]:
    """Every public module of ``lecture_utils`` (found by walking the package), package first."""
    import lecture_utils

    names = [
        m.name
        for m in pkgutil.walk_packages(lecture_utils.__path__, "lecture_utils.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]
    return ["lecture_utils", *sorted(names)]


def api_page(modules: list[str]) -> str:
    """api.md: one section per module, its docstring and members (Sphinx autodoc). A
    subpackage (``widgets``, ``vae_training``, ...) shows its docstring only: its members are
    re-exported from its modules, whose own sections document them once."""
    sections = []
    for name in modules:
        package = name != "lecture_utils" and hasattr(importlib.import_module(name), "__path__")
        members = "" if package else "   :members:\n"
        sections.append(
            f"## `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n{members}   :no-index:\n```\n"
        )
    return (
        "# API reference: `lecture_utils`\n\nThe helpers the notebooks import, from their "
        "docstrings: what each takes and returns (tensor shapes included) and the notebook that "
        "introduces it.\n\n" + "\n".join(sections)
    )


# ---------------------------------------------------------------------------------------------
# the build


def _write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (so Sphinx rebuilds only what changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def stage(src: Path, notebooks: list[Path], cache: Path = CACHE) -> Path:
    """Write the Sphinx sources of the site into ``src`` (see the module docstring)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    wanted = {"index.md", "glossary.md", "api.md"}
    _write(src / "index.md", front_page(readme, notebooks))
    _write(src / "glossary.md", glossary_page(notebooks))
    _write(src / "api.md", api_page(public_modules()))
    for path in notebooks:
        page = site_notebook(nbformat.read(path, as_version=4), path.name)
        _write(src / "notebooks" / path.name, nbformat.writes(page) + "\n")
        wanted.add(f"notebooks/{path.name}")
    for stale in [*src.glob("*.md"), *src.glob("notebooks/*.ipynb")]:  # renamed notebooks
        if stale.relative_to(src).as_posix() not in wanted:
            stale.unlink()
    # downloads: the notebooks as stored, and their student editions
    extra = src / "_extra"
    shutil.rmtree(extra, ignore_errors=True)
    (extra / "notebooks").mkdir(parents=True)
    for path in notebooks:
        shutil.copy2(path, extra / "notebooks" / path.name)
    write_student_edition(notebooks, extra / "student")
    # MathJax and the Korean font, from the slides' pinned npm tarballs
    assets = install_assets(src / "_npm", cache)  # all of the slides' assets, cached
    static = src / "_static"
    for name in (MATHJAX_FILE, KOREAN_FONT_FILE):
        target = static / Path(name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != (assets / name).read_bytes():
            shutil.copy2(assets / name, target)
    return src


def build_site(
    out: Path,
    notebooks: list[Path] | None = None,
    repository: str | None = None,
    branch: str | None = None,
    cache: Path = CACHE,
    quiet: bool = True,
) -> Path:
    """Stage the sources next to ``out`` (``<out>-src``) and run Sphinx into ``out``.

    Returns ``out/index.html``. Raises :class:`SiteError` when Sphinx reports a warning or an
    error (the build is strict: a broken link, a missing figure or a failing docstring stops it).
    """
    from sphinx.cmd.build import build_main

    notebooks = course_notebooks() if notebooks is None else notebooks
    if not notebooks:
        raise SiteError("no notebooks/NN_topic.ipynb found")
    src = out.parent / f"{out.name}-src"
    try:
        stage(src, notebooks, cache)
    except AssetError as err:
        raise SiteError(f"MathJax or the font could not be installed: {err}") from None
    args = ["-b", "html", "-c", str(CONF_DIR), "-d", str(out.parent / f"{out.name}-doctrees")]
    args += ["-W", "--keep-going", "-j", "1"]
    for key, value in (("course_repository", repository), ("course_branch", branch)):
        if value is not None:
            args += ["-D", f"{key}={value}"]
    if quiet:
        args.append("-q")
    status = build_main([*args, str(src), str(out)])
    if status != 0:
        raise SiteError(f"sphinx-build exited with status {status} (its messages are above)")
    index = out / "index.html"
    if not index.is_file():
        raise SiteError(f"{index} was not written")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument(
        "--repository", help="the course's repository URL for the Colab and Binder links"
    )
    parser.add_argument("--branch", help="the branch the launch links open (default: main)")
    parser.add_argument("--npm-cache", type=Path, default=CACHE, help="default: build/npm-cache")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args()
    start = time.perf_counter()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        index = build_site(
            args.out.resolve(),
            [p.resolve() for p in args.notebooks] or None,
            args.repository,
            args.branch,
            args.npm_cache,
            quiet=not args.verbose,
        )
    except SiteError as err:
        sys.exit(f"site not built: {err}")
    print(f"built in {time.perf_counter() - start:.1f} s (load average at the start {load})")
    print(f"open {index}")


if __name__ == "__main__":
    main()
