"""Structure of the notebooks: order, freshness of stored outputs, house style.

nbval (run by the same `make test`) re-executes every notebook and compares outputs; these
checks catch what nbval cannot: outputs stored out of order, missing sections, heavy files.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
ALLOWED_TAGS = {
    "solution",
    "nbval-ignore-output",
    "nbval-skip",
    "raises-exception",
    "remove-in-student",
    "exercise",
}


def load(path):
    return json.loads(path.read_text())


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def test_names_give_the_order():
    assert NOTEBOOKS, "no notebooks found"
    prefixes = [p.name[:2] for p in NOTEBOOKS]
    for p in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name), f"{p.name}: use NN_topic.ipynb"
    assert len(set(prefixes)) == len(prefixes), "two notebooks share a number"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_are_fresh_top_to_bottom(path):
    counts = [c.get("execution_count") for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert None not in counts, (
        f"{path.name}: some code cells were never run; re-run it top to bottom"
    )
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: cells were not executed once each, in order, in a fresh kernel "
        "(run `python scripts/run_notebooks.py --write notebooks/<name>`)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_house_style(path):
    nb = load(path)
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith(
        f"# {path.name[:2]} · "
    ), f"{path.name}: the first cell must be the title '# {path.name[:2]} · Title'"
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("You will learn", "Summary", "Glossary"):
        assert heading in text, f"{path.name}: no '{heading}' section"
    for cell in nb["cells"]:
        unknown = tags(cell) - ALLOWED_TAGS
        assert not unknown, f"{path.name}: unknown cell tags {unknown}"
    assert path.stat().st_size < 1_500_000, (
        f"{path.name} is {path.stat().st_size:,} bytes; shrink figures"
    )


@pytest.mark.parametrize(
    "path", [p for p in NOTEBOOKS if p.name[:2] != "00"], ids=[n for n in IDS if n[:2] != "00"]
)
def test_lessons_have_checked_exercises(path):
    cells = load(path)["cells"]
    exercises = [
        c
        for c in cells
        if c["cell_type"] == "markdown"
        and re.search(r"^### Exercise \d+\.\d+: \S", "".join(c["source"]), re.M)
    ]
    solutions = [c for c in cells if "solution" in tags(c)]
    assert len(exercises) >= 2, f"{path.name}: needs at least two exercises"
    assert len(solutions) >= len(exercises), (
        f"{path.name}: tag each exercise's solution cell 'solution'"
    )
    ignored = [c for c in cells if tags(c) & {"nbval-ignore-output", "nbval-skip"}]
    assert len(ignored) <= 4, (
        f"{path.name}: {len(ignored)} cells escape nbval; make outputs deterministic"
    )
