"""Regenerate (or check) the glossary cell of every notebook from lecture_utils/glossary.py.

    python scripts/glossary.py            # check: list the notebooks whose glossary is stale
    python scripts/glossary.py --write    # rewrite the stale glossary cells, nothing else

A notebook's glossary cell is the markdown cell whose metadata has a "glossary" key: the list of
terms (keys of lecture_utils.glossary.TERMS) it shows, in order. To add a term: add one line to
TERMS, add its key to that list in the notebook(s) (edit the cell's metadata in Jupyter, or with
nbformat), then run this script with --write. Only the glossary cells' sources change; outputs
and every other cell stay as they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from lecture_utils.glossary import glossary_markdown

ROOT = Path(__file__).resolve().parents[1]
KEY = "glossary"  # the cell-metadata key that marks a glossary cell and lists its terms


class GlossaryError(ValueError):
    """A notebook has no glossary cell, or more than one."""


def glossary_cell(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The one markdown cell of ``nb`` whose metadata lists glossary terms."""
    cells = [c for c in nb.cells if c.cell_type == "markdown" and KEY in c.metadata]
    if len(cells) != 1:
        raise GlossaryError(
            f"{name}: expected one markdown cell with metadata '{KEY}' (its list of terms), "
            f"found {len(cells)}"
        )
    return cells[0]


def stale(path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, str] | None:
    """(notebook, its glossary cell, the source it should have) if the cell is stale, else None."""
    nb = nbformat.read(path, as_version=4)
    cell = glossary_cell(nb, path.name)
    want = glossary_markdown(list(cell.metadata[KEY]))
    return None if cell.source == want else (nb, cell, want)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--write", action="store_true", help="rewrite stale glossary cells")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    found = 0
    for path in paths:
        result = stale(path)
        if result is None:
            continue
        found += 1
        nb, cell, want = result
        if args.write:
            cell.source = want
            nbformat.write(nb, path)
            print(f"rewrote the glossary of {path.name}")
        else:
            print(f"stale glossary: {path.name}")
    if found and not args.write:
        print("run: python scripts/glossary.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
