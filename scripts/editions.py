"""The student edition of the notebooks (used by ``scripts/make_student_edition.py``).

The notebooks in the repository are the instructor edition: solved and executed. In the student
edition each code cell tagged ``solution`` keeps its function signature and docstring, but the
lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (markers included) become one line,

    raise NotImplementedError("Exercise N.K: title")

at the markers' indentation, the title taken from the ``### Exercise N.K: title`` markdown cell
before it. Cells tagged ``remove-in-student`` are dropped, and every output is cleared.
Malformed exercise cells raise :class:`EditionError` naming the notebook and the cell.

A build-time tool, not part of the ``lecture_utils`` package that the notebooks import: it needs
``nbformat`` and IPython, which only the test extra and Jupyter bring. ``restore_solution`` and
``restore_notebook`` (the inverse of the stripping) serve the round-trip tests.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
SOLUTION_TAG = "solution"
REMOVE_TAG = "remove-in-student"
EXERCISE_HEADING = re.compile(r"^###\s+Exercise\s+(\d+)\.(\d+)\s*:\s*(.+?)\s*$", re.M)
_ANY_MARKER = re.compile(r"#\s*(BEGIN|END)\s+SOLUTION", re.I)


class EditionError(ValueError):
    """A notebook cannot be turned into its student edition; the message says where and why."""


@dataclass(frozen=True)
class Region:
    """A solution region taken out of a cell.

    ``line`` is the index of the ``raise NotImplementedError`` line in the student cell's
    source (split with ``splitlines(keepends=True)``); ``lines`` are the instructor's lines it
    replaced, both markers included.
    """

    line: int
    lines: tuple[str, ...]


@dataclass
class StudentEdition:
    """A student notebook and what was taken out of it.

    ``regions`` maps a student cell index to the regions removed from that cell; ``dropped``
    lists the instructor cell indices tagged ``remove-in-student``.
    """

    notebook: nbformat.NotebookNode
    regions: dict[int, list[Region]]
    dropped: list[int]

    @property
    def n_exercises(self) -> int:
        return len(self.regions)


def _literal(text: str) -> str:
    """``text`` as a double-quoted Python string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_syntax(source: str, where: str) -> None:
    from IPython.core.inputtransformer2 import TransformerManager  # handles %magics

    try:
        ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as err:
        raise EditionError(
            f"{where}: without its solution the cell is not valid Python "
            f"(line {err.lineno}: {err.msg}); keep the markers inside one "
            "block so that the rest of the cell stays valid"
        ) from None


def strip_solution(source: str, pointer: str, where: str = "cell") -> tuple[str, list[Region]]:
    """Replace each marked region of ``source`` by ``raise NotImplementedError(pointer)``.

    Returns the student source and the regions removed. Raises :class:`EditionError` for a cell
    without markers, unbalanced or nested markers, a marker that is not alone on its line, a
    marker outside a function body, or a student source that is not valid Python.
    """
    out: list[str] = []
    regions: list[Region] = []
    current: list[str] | None = None
    indent = ""
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.strip()
        lead = line[: len(line) - len(line.lstrip())]
        if stripped == BEGIN:
            if current is not None:
                raise EditionError(
                    f"{where}: line {number}: '{BEGIN}' inside another solution "
                    f"region; close the first one with '{END}'"
                )
            if not lead:
                raise EditionError(
                    f"{where}: line {number}: '{BEGIN}' must be inside a function "
                    "body (indented), so that the stub raises when the function "
                    "is called, not when the cell runs"
                )
            current, indent = [line], lead
        elif stripped == END:
            if current is None:
                raise EditionError(f"{where}: line {number}: '{END}' without a '{BEGIN}' before it")
            if lead != indent:
                raise EditionError(
                    f"{where}: line {number}: '{END}' is indented differently "
                    f"from its '{BEGIN}'; indent both markers like the code "
                    "between them"
                )
            current.append(line)
            newline = "\n" if line.endswith("\n") else ""
            regions.append(Region(len(out), tuple(current)))
            out.append(f"{indent}raise NotImplementedError({_literal(pointer)}){newline}")
            current = None
        elif _ANY_MARKER.search(line):
            raise EditionError(
                f"{where}: line {number}: malformed marker {stripped!r}; write "
                f"'{BEGIN}' and '{END}' exactly, each alone on its line"
            )
        elif current is not None:
            current.append(line)
        else:
            out.append(line)
    if current is not None:
        raise EditionError(f"{where}: '{BEGIN}' is never closed; add '{END}' after the solution")
    if not regions:
        raise EditionError(
            f"{where}: the cell is tagged '{SOLUTION_TAG}' but has no "
            f"'{BEGIN}' / '{END}' lines around the solution"
        )
    student = "".join(out)
    _check_syntax(student, where)
    return student, regions


def restore_solution(student_source: str, regions: list[Region]) -> str:
    """Put the regions removed by :func:`strip_solution` back (the inverse of it)."""
    lines = student_source.splitlines(keepends=True)
    for region in sorted(regions, key=lambda r: r.line, reverse=True):
        if "raise NotImplementedError" not in lines[region.line]:
            raise EditionError(f"line {region.line + 1} is not a stub: {lines[region.line]!r}")
        lines[region.line : region.line + 1] = region.lines
    return "".join(lines)


def make_student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> StudentEdition:
    """Return the student edition of ``nb`` (which is not changed); ``name`` goes in errors.

    When ``name`` starts with the notebook number (``01_autoencoder.ipynb``), exercises must be
    numbered ``1.K``.
    """
    number = int(name[:2]) if name[:2].isdigit() else None
    student = copy.deepcopy(nb)
    student.metadata.pop("widgets", None)
    student.metadata.pop("lecture", None)
    cells, regions, dropped = [], {}, []
    pointer = None
    for index, cell in enumerate(student.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        cell.get("metadata", {}).pop("lecture", None)  # slide text and speaker notes (answers)
        where = f"{name}, cell {index}"
        if REMOVE_TAG in tags:
            dropped.append(index)
            continue
        if cell.cell_type == "markdown":
            if SOLUTION_TAG in tags:
                raise EditionError(
                    f"{where}: a markdown cell is tagged '{SOLUTION_TAG}'; tag text "
                    f"that students must not see '{REMOVE_TAG}'"
                )
            headings = EXERCISE_HEADING.findall(cell.source)
            if headings:
                n, k, title = headings[-1]
                if number is not None and int(n) != number:
                    raise EditionError(
                        f"{where}: 'Exercise {n}.{k}' in notebook {number:02d}; "
                        f"number it {number}.{k}"
                    )
                pointer = f"Exercise {int(n)}.{int(k)}: {title}"
        elif cell.cell_type == "code":
            if SOLUTION_TAG in tags:
                if pointer is None:
                    raise EditionError(
                        f"{where}: a '{SOLUTION_TAG}' cell with no "
                        "'### Exercise N.K: title' markdown cell before it"
                    )
                cell.source, found = strip_solution(cell.source, pointer, f"{where} ({pointer})")
                regions[len(cells)] = found
            elif _ANY_MARKER.search(cell.source):
                raise EditionError(
                    f"{where}: solution markers in a cell not tagged "
                    f"'{SOLUTION_TAG}'; tag it, or the solution would stay in "
                    "the student edition"
                )
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    student.cells = cells
    nbformat.validate(student)
    return StudentEdition(student, regions, dropped)


def restore_notebook(edition: StudentEdition) -> nbformat.NotebookNode:
    """The student notebook with every solution region put back (outputs stay cleared)."""
    nb = copy.deepcopy(edition.notebook)
    for index, found in edition.regions.items():
        nb.cells[index].source = restore_solution(nb.cells[index].source, found)
    return nb


def write_student_edition(notebooks: list[Path], out_dir: Path) -> list[tuple[Path, int]]:
    """Write the student edition of each notebook into ``out_dir``.

    Other files next to the notebooks (figures, data) are copied along, so relative links keep
    working. Returns ``(written path, number of exercises)`` pairs. Every notebook is checked
    before anything is written.
    """
    editions = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        editions.append((path, make_student_notebook(nb, path.name)))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, edition in editions:
        target = out_dir / path.name
        nbformat.write(edition.notebook, target)
        written.append((target, edition.n_exercises))
    for folder in sorted({p.parent for p in notebooks}):
        for item in folder.iterdir():
            if item.suffix == ".ipynb" or item.name.startswith((".", "__")):
                continue
            if item.is_dir():
                shutil.copytree(item, out_dir / item.name, dirs_exist_ok=True)
            else:
                shutil.copy2(item, out_dir / item.name)
    return written
