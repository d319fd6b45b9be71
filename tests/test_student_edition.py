"""The student edition (scripts/make_student_edition.py, scripts/editions.py).

Every notebook in notebooks/ is checked: no solution code is left, the result is valid nbformat,
putting the solutions back gives the instructor edition, and (for notebooks with exercises) a
fresh kernel running the student notebook stops with the friendly "not solved yet" message in
the check cell of the first exercise, not earlier. A small synthetic notebook covers the same
ground, plus malformed exercise cells.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import runpy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # the build-time tools live outside the package

from editions import (  # noqa: E402
    BEGIN,
    END,
    EditionError,
    make_student_notebook,
    restore_notebook,
    restore_solution,
    strip_solution,
)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
#: the lessons (00, the welcome, has no exercise)
LESSONS = [
    p
    for p in NOTEBOOKS
    if any(
        "solution" in c.get("metadata", {}).get("tags", [])
        for c in json.loads(p.read_text())["cells"]
    )
]


def code(source, *tags):
    return new_code_cell(source, metadata={"tags": list(tags)} if tags else {})


def synthetic_notebook():
    """A tiny instructor notebook 09_synthetic with two exercises (one a method in a class)."""
    return new_notebook(
        cells=[
            new_markdown_cell("# 09 · Synthetic\nA notebook for testing the student edition."),
            code(
                "import torch\n\nfrom lecture_utils.checks.core import expect_close, passed, run_student"
            ),
            new_markdown_cell("### Exercise 9.1: the squared norm of each row\nSum of squares."),
            code(
                "def squared_norm(x):\n"
                '    """Squared norm of each row: x (B, D) -> (B,)."""\n'
                f"    {BEGIN}\n"
                "    total = (x ** 2).sum(dim=1)\n"
                "    return total\n"
                f"    {END}",
                "solution",
            ),
            code(
                "x = torch.arange(6.0).reshape(2, 3)\n"
                'expect_close("Exercise 9.1", run_student("Exercise 9.1", squared_norm, x),\n'
                "             torch.tensor([5.0, 50.0]))\n"
                'passed("Exercise 9.1")'
            ),
            new_markdown_cell(
                "The answer of the instructor, shown in class only.",
                metadata={"tags": ["remove-in-student"]},
            ),
            new_markdown_cell('### Exercise 9.2: a "scaler" with a \\ in its title\nScale x.'),
            code(
                "class Scaler:\n"
                "    def __init__(self, factor):\n"
                "        self.factor = factor\n"
                "\n"
                "    def __call__(self, x):\n"
                '        """x (B,) -> (B,)"""\n'
                "        if x.ndim != 1:\n"
                '            raise ValueError("x must be 1-D")\n'
                f"        {BEGIN}\n"
                "        return self.factor * x\n"
                f"        {END}\n"
                "\n"
                "double = Scaler(2.0)\n",
                "solution",
            ),
            code(
                'expect_close("Exercise 9.2", run_student("Exercise 9.2", double, torch.ones(3)),\n'
                "             torch.full((3,), 2.0))\n"
                'passed("Exercise 9.2")'
            ),
            new_markdown_cell("## Summary\nDone."),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def first_check_cell(nb):
    """Index of the first code cell after the first solution cell, or None."""
    solutions = [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    if not solutions:
        return None
    return next(
        i for i in range(solutions[0] + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"
    )


def run_until_error(nb, cwd, last):
    """Execute cells 0..last in a fresh kernel; return (index, ename, evalue) of the first
    error, or None. Cells tagged raises-exception may raise, as under nbval."""
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells[: last + 1]):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as err:
                return index, err.ename, err.evalue
    return None


def assert_no_solution_left(instructor, edition):
    student = edition.notebook
    text = json.dumps(student)
    assert BEGIN not in text and END not in text, "a solution marker survived"
    kept = [c for i, c in enumerate(instructor.cells) if i not in edition.dropped]
    assert len(kept) == len(student.cells)
    for index, regions in edition.regions.items():
        instructor_lines = kept[index].source.splitlines()
        region_lines = {line.rstrip("\n") for r in regions for line in r.lines}
        others = {line for line in instructor_lines if line not in region_lines}
        secret = {line for line in region_lines if line.strip() and line not in others}
        leaked = secret & set(student.cells[index].source.splitlines())
        assert not leaked, f"cell {index}: solution lines left in the student edition: {leaked}"
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


# --- the synthetic notebook -------------------------------------------------------------------


def test_synthetic_student_edition():
    instructor = synthetic_notebook()
    edition = make_student_notebook(instructor, "09_synthetic.ipynb")
    student = edition.notebook
    nbformat.validate(student)
    assert edition.n_exercises == 2 and edition.dropped == [5]
    assert_no_solution_left(instructor, edition)
    stub = student.cells[3].source.splitlines()
    assert stub == [
        "def squared_norm(x):",
        '    """Squared norm of each row: x (B, D) -> (B,)."""',
        '    raise NotImplementedError("Exercise 9.1: the squared norm of each row")',
    ]
    method = student.cells[6].source
    assert (
        '        raise NotImplementedError("Exercise 9.2: a \\"scaler\\" with a \\\\ in its title")\n'
        in method
    )
    namespace = {}
    exec(method, namespace)  # the rest of the cell stays valid; the stub raises when called
    with pytest.raises(
        NotImplementedError, match=r'^Exercise 9.2: a "scaler" with a \\ in its title$'
    ):
        namespace["double"](_OneDimensional())
    restored = restore_notebook(edition)
    expected = [c.source for i, c in enumerate(instructor.cells) if i not in edition.dropped]
    assert [c.source for c in restored.cells] == expected


class _OneDimensional:
    """Passes the stub's input check (x.ndim == 1), so the call reaches the stub."""

    ndim = 1


@pytest.mark.slow
def test_synthetic_notebooks_execute_as_promised(tmp_path):
    instructor = synthetic_notebook()
    assert run_until_error(instructor, tmp_path, len(instructor.cells) - 1) is None
    student = make_student_notebook(instructor, "09_synthetic.ipynb").notebook
    check = first_check_cell(student)
    assert check == 4
    index, ename, evalue = run_until_error(student, tmp_path, len(student.cells) - 1)
    assert (index, ename) == (check, "ExerciseError"), evalue
    assert "Exercise 9.1: not solved yet" in evalue


# --- malformed exercise cells ------------------------------------------------------------------

MALFORMED = {
    "no markers": ("def f(x):\n    return x\n", "no '# BEGIN SOLUTION' / '# END SOLUTION' lines"),
    "never closed": (f"def f(x):\n    {BEGIN}\n    return x\n", "is never closed"),
    "end without begin": (f"def f(x):\n    return x\n    {END}\n", "without a '# BEGIN SOLUTION'"),
    "nested": (
        f"def f(x):\n    {BEGIN}\n    {BEGIN}\n    return x\n    {END}\n    {END}\n",
        "inside another solution region",
    ),
    "misspelt": (
        "def f(x):\n    #BEGIN SOLUTION\n    return x\n    # END SOLUTION\n",
        "malformed marker '#BEGIN SOLUTION'",
    ),
    "not alone": (f"def f(x):\n    {BEGIN}\n    return x  # END SOLUTION\n", "malformed marker"),
    "top level": (f"{BEGIN}\ny = 1\n{END}\n", "must be inside a function body"),
    "uneven indent": (f"def f(x):\n    {BEGIN}\n    return x\n{END}\n", "indented differently"),
    "breaks syntax": (
        f"def f(x):\n    y = (x +\n    {BEGIN}\n         1)\n    {END}\n    return y\n",
        "not valid Python",
    ),
}


@pytest.mark.parametrize("source,message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_solution_cells_are_reported(source, message):
    with pytest.raises(EditionError, match="01_x.ipynb, cell 3") as err:
        strip_solution(source, "Exercise 1.1: f", "01_x.ipynb, cell 3")
    assert message in str(err.value)


def test_magics_and_several_regions_are_fine():
    source = (
        f"%matplotlib inline\ndef f(x):\n    {BEGIN}\n    y = x\n    {END}\n    return y\n\n"
        f"def g(x):\n    {BEGIN}\n    return x\n    {END}"
    )
    student, regions = strip_solution(source, "Exercise 1.1: f and g")
    assert len(regions) == 2 and student.count("raise NotImplementedError") == 2
    assert not student.endswith("\n")
    assert restore_solution(student, regions) == source


@pytest.mark.parametrize(
    "cells,message",
    [
        (
            [code(f"def f():\n    {BEGIN}\n    pass\n    {END}", "solution")],
            "no '### Exercise N.K: title' markdown cell before it",
        ),
        (
            [
                new_markdown_cell("### Exercise 1.1: f"),
                code(f"def f():\n    {BEGIN}\n    pass\n    {END}"),
            ],
            "not tagged 'solution'",
        ),
        (
            [
                new_markdown_cell("### Exercise 2.1: f"),
                code(f"def f():\n    {BEGIN}\n    pass\n    {END}", "solution"),
            ],
            "number it 1.1",
        ),
        ([new_markdown_cell("the answer", metadata={"tags": ["solution"]})], "remove-in-student"),
    ],
    ids=["no heading", "untagged markers", "wrong number", "markdown solution"],
)
def test_malformed_notebooks_are_reported(cells, message):
    with pytest.raises(EditionError, match="01_x.ipynb, cell") as err:
        make_student_notebook(new_notebook(cells=cells), "01_x.ipynb")
    assert message in str(err.value)


def make_student_edition(*args):
    """Run scripts/make_student_edition.py in this process; return (exit code, stdout, stderr)."""
    script = str(ROOT / "scripts" / "make_student_edition.py")
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [script, *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
        if isinstance(exit_.code, str):
            err.write(exit_.code)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def test_command_writes_the_edition_or_nothing(tmp_path):
    good, bad = tmp_path / "09_synthetic.ipynb", tmp_path / "bad" / "01_bad.ipynb"
    nbformat.write(synthetic_notebook(), good)
    bad.parent.mkdir()
    nbformat.write(new_notebook(cells=[code("def f():\n    return 1", "solution")]), bad)
    status, out, err = make_student_edition(good, "--out", tmp_path / "out")
    assert status == 0, err
    assert "(2 exercises)" in out
    written = nbformat.read(tmp_path / "out" / good.name, as_version=4)
    nbformat.validate(written)
    assert "raise NotImplementedError" in written.cells[3].source
    status, out, err = make_student_edition(good, bad, "--out", tmp_path / "out2")
    assert status == 1
    assert err.startswith("student edition not written: 01_bad.ipynb, cell 0")
    assert not (tmp_path / "out2").exists()


@pytest.mark.slow
def test_command_runs_on_its_own_from_any_folder(tmp_path):
    """As `make student` runs it: a fresh interpreter finds editions.py next to the script."""
    nb = tmp_path / "09_synthetic.ipynb"
    nbformat.write(synthetic_notebook(), nb)
    script = ROOT / "scripts" / "make_student_edition.py"
    res = subprocess.run(
        [sys.executable, str(script), str(nb), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "(2 exercises)" in res.stdout and (tmp_path / "out" / nb.name).exists()


def test_the_runtime_package_does_not_import_the_build_tools():
    """lecture_utils needs only its declared dependencies: no nbformat, no editions module."""
    found = []
    for path in sorted((ROOT / "lecture_utils").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [
                (path.name, n) for n in names if n.split(".")[0] == "nbformat" or "editions" in n
            ]
    assert not found, found
    assert not (ROOT / "lecture_utils" / "editions.py").exists()


# --- every notebook of the course ------------------------------------------------------------


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """The student edition of every notebook, as the command writes it."""
    out = tmp_path_factory.mktemp("student")
    status, _, err = make_student_edition(*NOTEBOOKS, "--out", out)
    assert status == 0, err
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_edition_of_each_notebook(path, editions):
    written = nbformat.read(editions / path.name, as_version=4)
    nbformat.validate(written)
    instructor = nbformat.read(path, as_version=4)
    edition = make_student_notebook(instructor, path.name)
    assert written == edition.notebook
    assert_no_solution_left(instructor, edition)
    # no slide text or speaker notes (their "say" parts answer the questions) for students
    assert "lecture" not in written.metadata
    assert not [i for i, c in enumerate(written.cells) if "lecture" in c.metadata]
    assert any("lecture" in c.metadata for c in instructor.cells)
    restored = restore_notebook(edition)
    kept = [c for i, c in enumerate(instructor.cells) if i not in edition.dropped]
    assert [(c.cell_type, c.source) for c in restored.cells] == [
        (c.cell_type, c.source) for c in kept
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_student_notebook_stops_at_its_first_exercise(path, editions):
    student = nbformat.read(editions / path.name, as_version=4)
    check = first_check_cell(student)
    assert check is not None, f"{path.name}: a cell is tagged 'solution' but no check cell follows"
    error = run_until_error(student, editions, check)
    assert error is not None, (
        f"{path.name}: the check cell {check} of the first exercise ran "
        "without error on the unsolved stub"
    )
    index, ename, evalue = error
    assert index == check and ename == "ExerciseError" and "not solved yet" in evalue, (
        f"{path.name}: the first error should be the friendly 'not solved yet' in cell {check} "
        f"(the first exercise's check); got {ename}: {evalue} in cell {index}"
    )
