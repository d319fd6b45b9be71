"""The glossary cells of notebooks 00-07 are generated from lecture_utils/glossary.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from lecture_utils.glossary import TERMS, glossary_markdown

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # the build-time tools live outside the package

from glossary import KEY, GlossaryError, glossary_cell, main  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIX = "run `python scripts/glossary.py --write`"


def terms_of(path: Path) -> list[str]:
    return list(glossary_cell(nbformat.read(path, as_version=4), path.name).metadata[KEY])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name[:2] for p in NOTEBOOKS])
def test_each_glossary_cell_is_what_the_source_generates(path):
    cell = glossary_cell(nbformat.read(path, as_version=4), path.name)
    terms = list(cell.metadata[KEY])
    assert terms, f"{path.name}: the glossary lists no terms"
    assert cell.source == glossary_markdown(terms), (
        f"{path.name}: the glossary cell differs from lecture_utils/glossary.py; {FIX}"
    )


def test_the_welcome_glossary_previews_terms_that_later_notebooks_teach():
    welcome, *lessons = NOTEBOOKS
    assert welcome.name.startswith("00_")
    later = {t for path in lessons for t in terms_of(path)}
    missing = [t for t in terms_of(welcome) if t not in later]
    assert not missing, (
        f"00_welcome lists {missing}, which no notebook 01-07 lists; declare them where they are "
        "taught (or drop them from 00)"
    )


def test_every_term_of_the_source_appears_in_some_notebook():
    used = {t for path in NOTEBOOKS for t in terms_of(path)}
    unused = sorted(set(TERMS) - used)
    assert not unused, f"glossary terms no notebook lists: {unused}"


def test_review_fixes_are_in_the_source():
    # the names a Korean student searches for (pedagogy review, section D)
    assert "변분 하한" in TERMS["evidence lower bound (ELBO), variational lower bound"][0]
    assert TERMS["reparameterization trick"][0].startswith("재매개변수화 트릭")
    assert TERMS["Jensen's inequality"][0].startswith("젠센")
    assert TERMS["score-function estimator (REINFORCE)"][0].startswith("스코어 함수")
    assert TERMS["nat (unit of information, natural log)"][0] == "nat (내트)"
    assert "위로 볼록" in TERMS["concave"][0]
    assert TERMS["linear probing (linear probe)"][0] == "선형 프로빙"
    assert "부호화기 / 복호화기" in TERMS["encoder / decoder"][0]
    assert "매니폴드" in TERMS["manifold"][0]
    for term in (
        "joint distribution",
        "product rule",
        "sum rule, marginalisation",
        "aggregate posterior",
        "amortised inference",
        "active units",
        "reverse / forward KL",
        "i.i.d. (independent and identically distributed)",
    ):
        assert term in TERMS, term
    for korean, meaning in TERMS.values():
        assert korean.strip() and meaning.strip() and "\n" not in korean + meaning


def test_glossary_markdown_rejects_bad_term_lists():
    table = glossary_markdown(["prior", "latent space"])
    assert table.splitlines()[-2:] == [
        f"| prior | {TERMS['prior'][0]} | {TERMS['prior'][1]} |",
        f"| latent space | {TERMS['latent space'][0]} | {TERMS['latent space'][1]} |",
    ]
    assert r"q(z\|x)" in glossary_markdown(["approximate posterior"])  # | escaped in a table
    with pytest.raises(ValueError, match=r"\['no such term'\] are not in"):
        glossary_markdown(["prior", "no such term"])
    with pytest.raises(ValueError, match=r"\['prior'\] more than once"):
        glossary_markdown(["prior", "prior"])
    with pytest.raises(TypeError, match="got str"):
        glossary_markdown("prior")


def test_script_checks_then_rewrites_only_the_glossary_cell(tmp_path, capsys):
    path = tmp_path / NOTEBOOKS[1].name
    shutil.copy(NOTEBOOKS[1], path)
    nb = nbformat.read(path, as_version=4)
    cell = glossary_cell(nb)
    cell.metadata[KEY] = [*cell.metadata[KEY], "widget"]  # a notebook declares one more term
    nbformat.write(nb, path)
    assert main([str(path)]) == 1
    assert "stale glossary" in capsys.readouterr().out
    assert main([str(path), "--write"]) == 0 and main([str(path)]) == 0
    new = nbformat.read(path, as_version=4)
    old = nbformat.read(NOTEBOOKS[1], as_version=4)
    changed = [i for i, (a, b) in enumerate(zip(old.cells, new.cells)) if a != b]
    assert changed == [old.cells.index(glossary_cell(old))]
    assert glossary_cell(new).source.endswith(
        f"| widget | {TERMS['widget'][0]} | {TERMS['widget'][1]} |"
    )


def test_a_notebook_without_one_glossary_cell_is_an_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Glossary")])
    with pytest.raises(GlossaryError, match="found 0"):
        glossary_cell(nb, "x.ipynb")
