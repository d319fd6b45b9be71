"""The lecture plan (scripts/lecture_plan.py): packed correctly and kept up to date."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell, new_notebook
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
lecture_plan = load_script("lecture_plan")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _notebook(path: Path, minutes: list[float]) -> Path:
    cells = []
    for i, m in enumerate(minutes):
        cell = new_markdown_cell(f"# Section {i}")
        cell.metadata["slideshow"] = {"slide_type": "slide"}
        notes = {"say": "s", "ask": "a", "remember": "r", "minutes": m}
        cell.metadata["lecture"] = {"show": "all", "notes": notes}
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["lecture"] = {"title": path.stem, "covers": "c"}
    nbformat.write(nb, path)
    return path


def test_notebooks_are_packed_in_order_and_long_ones_split_between_sections(tmp_path):
    paths = [
        _notebook(tmp_path / "00_a.ipynb", [10, 20]),  # 30
        _notebook(tmp_path / "01_b.ipynb", [30, 10]),  # 40: fits beside a (70)
        _notebook(tmp_path / "02_c.ipynb", [40, 30, 20]),  # 90: new lecture, split after 70
        _notebook(tmp_path / "03_d.ipynb", [5]),
    ]
    lectures = lecture_plan.plan(paths, length=75)
    sums = [sum(m for *_, m in lecture) for lecture in lectures]
    assert sums == [70, 70, 25]
    assert [s for _, _, s, _ in lectures[2]] == ["Section 2", "Section 0"]
    order = [(stem, s) for lecture in lectures for stem, _, s, _ in lecture]
    assert order == sorted(order, key=lambda x: (x[0], int(x[1].split()[-1])))


def test_the_written_plan_is_the_one_the_notebooks_give():
    expected = lecture_plan.render(lecture_plan.plan(NOTEBOOKS))
    written = lecture_plan.PLAN.read_text(encoding="utf-8")
    assert written == expected, "run `python scripts/lecture_plan.py --write`"
    for lecture in lecture_plan.plan(NOTEBOOKS):
        assert sum(m for *_, m in lecture) <= lecture_plan.LECTURE_MINUTES
