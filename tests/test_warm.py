"""scripts/warm.py (`make warm`): it covers every cached model the notebooks load, trains the
missing ones, and after it every one of them is a cache hit.

The notebooks' models are found in the notebooks themselves: for each code cell that calls a
cached trainer (`train_vae_cached`, `load_or_train`, `cache.cached`, and notebook 09's
`train_cvae_cached`, `judge_classifier`, `notebook03_autoencoder` and `train_m2_cached`), the
cell's statements up to that call are run with the trainer replaced by a recorder, after the
notebook's imports. The last two train on data the notebook computes (digits, M1's features),
which the scan follows without computing it: `load_mnist` calls (also those of cells that
train nothing) and `m1_features` return stand-ins that say where they come from, and a model is
recorded by its recipe and the description of its data (as warm's entries describe theirs).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import io
import re
from pathlib import Path
from unittest import mock

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from script_loader import load_script

from lecture_utils import cache
from lecture_utils.conditional import CVAE_RECIPE, JUDGE_NAME, judge_cache_key
from lecture_utils.data import load_mnist
from lecture_utils.model_cache import COURSE_RECIPES, AutoencoderRecipe, load_or_train
from lecture_utils.semi_supervised import (
    M2Recipe,
    m1_features,
    notebook03_autoencoder,
    train_m2_cached,
)
from lecture_utils.vae_training import VAERecipe, train_vae_cached

ROOT = Path(__file__).resolve().parents[1]
warm = load_script("warm")

TRAINERS = (
    "train_vae_cached",
    "load_or_train",
    "cached",
    "train_cvae_cached",
    "judge_classifier",
    "notebook03_autoencoder",
    "train_m2_cached",
)
#: calls that make the data a trainer reads: followed even in cells that train nothing
DATA = ("load_mnist",)
NOTEBOOKS = sorted(
    p
    for p in ROOT.rglob("*.ipynb")
    if not {".venv", "build", ".ipynb_checkpoints"} & set(p.relative_to(ROOT).parts)
)


def file_name(name, key):
    return cache.cache_path(name, key, "").name


def calls_a_trainer(node: ast.AST, names: tuple[str, ...] = TRAINERS) -> bool:
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            f = call.func
            if (isinstance(f, ast.Name) and f.id in names) or (
                isinstance(f, ast.Attribute) and f.attr in names
            ):
                return True
    return False


def up_to_training(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of ``body`` up to its last one that trains, and inside a loop or block
    that trains, its statements up to the training call (what follows uses the model)."""
    hits = [k for k, s in enumerate(body) if calls_a_trainer(s)]
    kept = body[: hits[-1] + 1] if hits else []
    if kept and isinstance(kept[-1], ast.For | ast.While | ast.With | ast.If):
        last = kept[-1]
        last.body = up_to_training(last.body) or [ast.Pass()]
        if hasattr(last, "orelse"):
            last.orelse = up_to_training(last.orelse)
    return kept


class _StandIns(dict):
    """The scan's namespace: a name that only a skipped cell defines (a progress bar, a
    display) reads as a stand-in object instead of stopping the scan."""

    def __missing__(self, name):
        if hasattr(builtins, name):
            raise KeyError(name)
        return mock.MagicMock(name=name)


def cached_models_loaded_by(path: Path) -> set[str]:
    """The cache file names (``<name>-<hash>.pt``) of every model the notebook's code loads;
    for a model trained on data the notebook computes, the name is that of its recipe and a
    description of the data, the key of warm's entry for it."""
    found: set[str] = set()
    made: dict[int, tuple[object, object]] = {}  # id(stand-in) -> (stand-in, where it comes from)

    def traced(what, name="value"):
        value = mock.MagicMock(name=name)
        made[id(value)] = (value, what)
        return value

    def where(value):
        if id(value) not in made:
            raise ValueError(f"cannot tell where {value!r} comes from (not traced by this test)")
        return made[id(value)][1]

    def stand_in_load_mnist(split="train", source="embedded", root=None, binarize=False):
        args = repr(split) + ("" if source == "embedded" else f", source={source!r}")
        images = f"load_mnist({args}{', binarize=True' if binarize else ''}): images"
        return traced(images, "images"), traced(f"load_mnist({args}): labels", "labels")

    def stand_in_m1_features(vae, images, test_images):
        of = {"m1_features": where(vae)}
        return traced([of, where(images)], "features"), traced([of, where(test_images)], "features")

    def record_recipe(recipe, *args, **kwargs):
        recipe = COURSE_RECIPES[recipe] if isinstance(recipe, str) else recipe
        found.add(file_name(recipe.name, recipe.cache_key()))
        return traced(file_name(recipe.name, recipe.cache_key()), "model")

    def record_vae(recipe, *args, **kwargs):
        return record_recipe(recipe), mock.MagicMock(name="history")

    def record_autoencoder(images, seed=0, *args, **kwargs):
        key = {"notebook03_autoencoder": {"images": where(images), "seed": seed}}
        found.add(file_name("nb03-autoencoder", key))
        return mock.MagicMock(name="autoencoder")

    def record_m2(recipe, images=None, labels=None, eval_sets=None, *args, **kwargs):
        key = {
            "train_m2_cached": recipe.cache_key(),
            "features": where(images),
            "labels": where(labels),
            "eval_sets": {name: [where(x), where(y)] for name, (x, y) in (eval_sets or {}).items()},
        }
        found.add(file_name(recipe.name, key))
        return mock.MagicMock(name="model"), mock.MagicMock(name="history")

    def record_cached(name, key, *args, **kwargs):
        found.add(file_name(name, key))
        return mock.MagicMock(name="model"), mock.MagicMock(name="history")

    def record_cvae(recipe=CVAE_RECIPE, *args, **kwargs):
        return record_vae(recipe)

    def record_judge(*args, **kwargs):
        found.add(file_name(JUDGE_NAME, judge_cache_key()))
        return mock.MagicMock(name="judge"), 0.9

    stub = type("cache", (), {"cached": staticmethod(record_cached)})
    trees = [
        ast.parse(TransformerManager().transform_cell(cell.source))
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code"
    ]
    namespace: dict = _StandIns()
    imports = [s for t in trees for s in t.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(imports, []), f"{path.name}: imports", "exec"), namespace)
    namespace.update(
        train_vae_cached=record_vae,
        load_or_train=record_recipe,
        cached=record_cached,
        cache=stub,
        train_cvae_cached=record_cvae,
        judge_classifier=record_judge,
        notebook03_autoencoder=record_autoencoder,
        train_m2_cached=record_m2,
        load_mnist=stand_in_load_mnist,
        m1_features=stand_in_m1_features,
    )
    for i, tree in enumerate(trees):
        if calls_a_trainer(tree):
            body = up_to_training(tree.body)
        else:  # only the statements that load data
            body = [s for s in tree.body if calls_a_trainer(s, DATA)]
        body = [s for s in body if not isinstance(s, ast.Import | ast.ImportFrom)]
        if not body:
            continue
        try:
            exec(
                compile(
                    ast.fix_missing_locations(ast.Module(body, [])),
                    f"{path.name}, code cell {i}",
                    "exec",
                ),
                namespace,
            )
        except Exception as err:  # noqa: BLE001 - say which cell could not be followed
            raise AssertionError(
                f"{path.name}, code cell {i}: could not follow the statements up to its cached "
                f"training call ({type(err).__name__}: {err}); make the recipe visible there "
                "or extend this test"
            ) from err
    return found


def test_the_notebooks_are_scanned():
    names = [p.name for p in NOTEBOOKS]
    assert "06_vae.ipynb" in names and "07_latent_explorer.ipynb" in names


def test_warm_covers_exactly_the_cached_models_the_notebooks_load():
    loaded = {p.name: cached_models_loaded_by(p) for p in NOTEBOOKS}
    # notebook 06 loads four (20-D, 2-D, two Gaussian), notebook 07 three (one is 06's 2-D),
    # notebook 09 six (CVAE, judge, 06's 20-D VAE, 03's autoencoder, M1+M2 and its control)
    assert len(loaded["06_vae.ipynb"]) == 4 and len(loaded["07_latent_explorer.ipynb"]) == 3
    assert len(loaded["09_conditional_and_semi_supervised.ipynb"]) == 6
    wanted = set().union(*loaded.values())
    covered = [file_name(r.name, r.cache_key()) for r in warm.course_recipes()]
    assert len(covered) == len(set(covered)), "warm lists one cache file twice"
    missing = {f for f in wanted if f not in covered}
    assert not missing, f"make warm does not train {sorted(missing)}"
    extra = set(covered) - wanted
    assert not extra, f"make warm trains models no notebook loads: {sorted(extra)}"


NB09_IMPORTS = """\
import dataclasses
from lecture_utils.data import load_mnist
from lecture_utils.semi_supervised import (NOTEBOOK_M1M2_RECIPE, m1_features,
                                           notebook03_autoencoder, train_m2_cached)
from lecture_utils.vae_training import NOTEBOOK_RECIPE, train_vae_cached
x_test, y_test = load_mnist("test", binarize=True)
grey_train, y_train = load_mnist("train")
grey_test, _ = load_mnist("test")
print(grey_train.shape)
"""
NB09_M1M2_CELL = """\
vae, _ = train_vae_cached(NOTEBOOK_RECIPE)
autoencoder = notebook03_autoencoder(grey_train)
features, test_features = m1_features(vae, grey_train, grey_test)
m1m2, m1m2_history = train_m2_cached(NOTEBOOK_M1M2_RECIPE, features, y_train,
                                     eval_sets={"test": (test_features, y_test)})
control_recipe = dataclasses.replace(NOTEBOOK_M1M2_RECIPE, name="nb09-m1m2-control",
                                     unlabelled=False)
control, _ = train_m2_cached(control_recipe, features, y_train)
"""


def scan(tmp_path, *sources):
    path = tmp_path / "scanned.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return cached_models_loaded_by(path)


@pytest.mark.parametrize(
    "change",
    [
        None,
        ("notebook03_autoencoder(grey_train)", "notebook03_autoencoder(grey_test)"),
        ("notebook03_autoencoder(grey_train)", "notebook03_autoencoder(grey_train, 1)"),
        ("m1_features(vae, grey_train, grey_test)", "m1_features(vae, grey_train, x_test)"),
        ("train_vae_cached(NOTEBOOK_RECIPE)", "train_vae_cached(NOTEBOOK_RECIPE_2D)"),
        ("(test_features, y_test)})", "(test_features, y_test), 'train': (features, y_train)})"),
        (
            "features, y_train)\n",
            "features, y_train, eval_sets={'test': (test_features, y_test)})\n",
        ),
        ("unlabelled=False)", "unlabelled=False, epochs=7)"),
    ],
    ids=[
        "as-warm",
        "ae-data",
        "ae-seed",
        "m1-test-digits",
        "m1-vae",
        "m1m2-eval",
        "control-eval",
        "control-recipe",
    ],
)
def test_the_scan_follows_notebook_09s_data(tmp_path, change):
    """Notebook 09's cells as they are give warm's models; any change to a model's data, seed,
    recipe or evaluation sets gives a model warm does not cover."""
    cell = NB09_M1M2_CELL if change is None else NB09_M1M2_CELL.replace(*change)
    assert change is None or cell != NB09_M1M2_CELL
    imports = NB09_IMPORTS.replace(
        "import NOTEBOOK_RECIPE,", "import NOTEBOOK_RECIPE, NOTEBOOK_RECIPE_2D,"
    )
    found = scan(tmp_path, imports, cell)
    covered = {file_name(r.name, r.cache_key()) for r in warm.course_recipes()}
    assert len(found) == 4  # the VAE, the autoencoder, M1+M2 and its control
    if change is None:
        assert found <= covered
    else:
        assert found - covered, f"{change}: still covered"


def test_the_scan_stops_at_data_it_cannot_follow(tmp_path):
    cell = NB09_M1M2_CELL.replace("features, y_train)\n", "features[:100], y_train[:100])\n")
    with pytest.raises(AssertionError, match="code cell 1: could not follow .*cannot tell where"):
        scan(tmp_path, NB09_IMPORTS, cell)


def test_warm_refuses_an_empty_list():
    with pytest.raises(ValueError, match="recipes is empty"):
        warm.warm([], "/nonexistent")


def test_makefile_has_a_warm_target():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^warm: .*\n\t.*scripts/warm\.py", text, re.M)


TINY_VAE = VAERecipe(
    name="tiny-warm-vae",
    latent_dim=2,
    hidden_dims=(8,),
    epochs=2,
    batch_size=1000,
    lr_warmup_epochs=0,
    kl_warmup_epochs=0,
    val_size=0,
)
TINY_AE = AutoencoderRecipe("tiny-warm-ae", 2, hidden_dims=(8,), epochs=2, batch_size=1000)


@pytest.mark.slow
def test_after_warm_every_model_is_a_cache_hit(tmp_path):
    out, bar = io.StringIO(), io.StringIO()
    status = warm.warm([TINY_VAE, TINY_AE], tmp_path, out=out, progress=bar)
    assert status == {"tiny-warm-vae": "trained", "tiny-warm-ae": "trained"}
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] tiny-warm-vae: no cached weights; trained in ")
    assert lines[1].startswith("[2/2] tiny-warm-ae: no cached weights; trained in ")
    assert re.fullmatch(r"2 models ready \(2 trained, 0 already cached\) in \d+\.\d s", lines[2])
    assert "tiny-warm-vae" in bar.getvalue() and "2/2" in bar.getvalue()

    # what the notebooks do next: every model loads, none trains
    messages: list[str] = []
    train_vae_cached(TINY_VAE, tmp_path, log=messages.append)
    load_or_train(TINY_VAE, directory=tmp_path, log=messages.append)
    load_or_train(TINY_AE, directory=tmp_path, log=messages.append)
    assert [m.split(":")[0] for m in messages] == ["tiny-warm-vae", "tiny-warm-vae", "tiny-warm-ae"]
    assert all(": loaded from " in m for m in messages), messages

    # a second warm trains nothing and says so; a deleted file is trained again, alone
    out = io.StringIO()
    assert set(warm.warm([TINY_VAE, TINY_AE], tmp_path, out=out).values()) == {"cached"}
    assert out.getvalue().count(": already cached (") == 2
    cache.cache_path(TINY_AE.name, TINY_AE.cache_key(), tmp_path).unlink()
    status = warm.warm([TINY_VAE, TINY_AE], tmp_path, out=io.StringIO(), progress=None)
    assert status == {"tiny-warm-vae": "cached", "tiny-warm-ae": "trained"}


@pytest.mark.slow
def test_warm_trains_notebook_09s_judge_then_finds_it_cached(tmp_path):
    out = io.StringIO()
    assert warm.warm([warm.JUDGE], tmp_path, out=out, progress=None) == {JUDGE_NAME: "trained"}
    assert out.getvalue().startswith(f"[1/1] {JUDGE_NAME}: no cached weights; trained in ")
    assert warm.warm([warm.JUDGE], tmp_path, out=io.StringIO()) == {JUDGE_NAME: "cached"}
    assert {CVAE_RECIPE.name, JUDGE_NAME} <= {r.name for r in warm.course_recipes()}


TINY_M1M2 = M2Recipe(
    name="tiny-warm-m1m2",
    likelihood="gaussian",
    binarize="none",
    latent_dim=2,
    hidden_dims=(8,),
    classifier_dims=(8,),
    epochs=1,
    val_size=100,
)


@pytest.mark.slow
def test_warm_trains_notebook_09s_data_models_as_the_notebook_then_loads_them(tmp_path):
    entries = [
        TINY_VAE,
        warm.NB03_AUTOENCODER,
        warm.M1M2(TINY_M1M2, vae=TINY_VAE, eval_on_test=True),
        warm.M1M2(dataclasses.replace(TINY_M1M2, name="tiny-warm-control"), vae=TINY_VAE),
    ]
    out = io.StringIO()
    status = warm.warm(entries, tmp_path, out=out, progress=None)
    assert set(status.values()) == {"trained"} and len(status) == 4
    assert len(out.getvalue().splitlines()) == 5, out.getvalue()  # one line per model, the total

    # notebook 09's cells 3, 28 and 37, with the tiny VAE and recipes
    messages: list[str] = []
    grey_train, y_train = load_mnist("train")
    grey_test, _ = load_mnist("test")
    _, y_test = load_mnist("test", binarize=True)
    vae, _ = train_vae_cached(TINY_VAE, tmp_path, log=messages.append)
    notebook03_autoencoder(grey_train, cache_dir=tmp_path, log=messages.append)
    features, test_features = m1_features(vae, grey_train, grey_test)
    eval_sets = {"test": (test_features, y_test)}
    train_m2_cached(TINY_M1M2, features, y_train, eval_sets, tmp_path, log=messages.append)
    control = dataclasses.replace(TINY_M1M2, name="tiny-warm-control")
    train_m2_cached(control, features, y_train, cache_dir=tmp_path, log=messages.append)
    assert len(messages) == 4 and all(": loaded from " in m for m in messages), messages
    assert len(list(tmp_path.glob("*.pt"))) == 4
