"""Train and cache every model the notebooks and the app load, before class (``make warm``).

    python scripts/warm.py              # the course's models, into the model cache
    VAE_COURSE_CACHE=/tmp/models python scripts/warm.py

Notebook 06 trains its models in cells that take 20-40 s on a laptop (minutes when the cores
are shared), and notebooks 07 (and its app), 08 and 09 train more on a cold cache. After
``make warm`` each of those cells loads its model in well under a second. Prints one line per model
(``already cached`` or how long it trained and where it was saved), a bar on stderr while a
model trains, and the total seconds. A model already in the cache is not trained again.

The models are :func:`course_recipes`: notebook 06's 20-D and 2-D VAEs and its two
Gaussian-decoder VAEs, notebook 07's :data:`~lecture_utils.model_cache.COURSE_RECIPES`
(whose ``vae2`` is notebook 06's 2-D VAE, cached once), notebook 08's runs, and notebook 09's
conditional VAE and its judge (notebook 03's classifier, :data:`JUDGE`), notebook 03's
autoencoder as notebook 09 rebuilds it (:data:`NB03_AUTOENCODER`), and notebook 09's short M1+M2
run and its control without U(x) (:data:`NB09_M1M2`, :data:`NB09_M1M2_CONTROL`), trained on the
features of notebook 06's 20-D VAE. ``tests/test_warm.py`` checks that this list covers every
cached model the notebooks' code loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import TextIO

from lecture_utils import cache
from lecture_utils.conditional import (
    CVAE_RECIPE,
    JUDGE_NAME,
    judge_cache_key,
    judge_classifier,
)
from lecture_utils.data import load_mnist
from lecture_utils.model_cache import COURSE_RECIPES, Recipe, load_or_train
from lecture_utils.seed import torch_threads
from lecture_utils.semi_supervised import (
    NOTEBOOK_M1M2_RECIPE,
    M2Recipe,
    m1_features,
    notebook03_autoencoder,
    train_m2_cached,
)
from lecture_utils.training import ProgressTo
from lecture_utils.vae_training import (
    BETA_SWEEP,
    COLLAPSE_RUNS,
    NOTEBOOK_GAUSSIAN_RECIPES,
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
    VAERecipe,
    train_vae_cached,
)


class Judge:
    """Notebook 09's judge (:func:`lecture_utils.conditional.judge_classifier`) as an entry of
    the warm list: not a recipe, but with a recipe's ``name`` and ``cache_key()``, and its own
    ``load_or_train`` (as the entries below), which :func:`warm` calls for entries that are not
    recipes."""

    name = JUDGE_NAME

    def cache_key(self) -> dict:
        return judge_cache_key()

    def load_or_train(self, directory, log: cache.Log, progress: ProgressTo) -> None:
        judge_classifier(directory, log=log)

    def __repr__(self) -> str:
        return "Judge()"


#: What the data-dependent entries below train on, in their ``cache_key()``: the cache's own key
#: holds a hash of the data, which for M1+M2 is known only once notebook 06's VAE is trained.
GREY_TRAIN = "load_mnist('train'): images"
GREY_TEST = "load_mnist('test'): images"
TRAIN_LABELS = "load_mnist('train'): labels"
TEST_LABELS = "load_mnist('test'): labels"


class Notebook03Autoencoder:
    """Notebook 03's autoencoder as notebook 09 rebuilds it,
    ``semi_supervised.notebook03_autoencoder(grey_train, seed)``, with ``grey_train`` the grey
    training digits ``load_mnist("train")[0]`` ``(8000, 1, 28, 28)``. ``cache_key()`` names the
    data instead of hashing it (the cache file's key is the seed and the images' hash)."""

    name = "nb03-autoencoder"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __repr__(self) -> str:
        return f"Notebook03Autoencoder(seed={self.seed})"

    def cache_key(self) -> dict:
        return {"notebook03_autoencoder": {"images": GREY_TRAIN, "seed": self.seed}}

    def load_or_train(self, directory, log: cache.Log, progress: ProgressTo) -> None:
        grey_train, _ = load_mnist("train")
        notebook03_autoencoder(grey_train, self.seed, cache_dir=directory, log=log)


class M1M2:
    """Notebook 09's M1+M2 run: ``semi_supervised.train_m2_cached(recipe, features, y_train)``
    on M1's features ``m1_features(vae, grey_train, grey_test)`` ``((8000, K), (2000, K))`` of
    the cached VAE ``vae`` (by default notebook 06's 20-D one), with the training labels
    ``(8000,)``; with ``eval_on_test``, also ``eval_sets={"test": (test features, y_test)}``
    (the test accuracy per epoch in the history, part of the cache key). ``cache_key()`` names
    the data instead of hashing it. The VAE is loaded from the cache (trained first, silently, if
    it is not there: the warm list puts it earlier)."""

    def __init__(
        self, recipe: M2Recipe, vae: VAERecipe = NOTEBOOK_RECIPE, eval_on_test: bool = False
    ) -> None:
        self.recipe, self.vae, self.eval_on_test = recipe, vae, eval_on_test

    def __repr__(self) -> str:
        return (
            f"M1M2({self.recipe.name!r}, vae={self.vae.name!r}, eval_on_test={self.eval_on_test})"
        )

    @property
    def name(self) -> str:
        return self.recipe.name

    def cache_key(self) -> dict:
        features = {"m1_features": cache.cache_path(self.vae.name, self.vae.cache_key(), "").name}
        eval_sets = {"test": ([features, GREY_TEST], TEST_LABELS)} if self.eval_on_test else {}
        return {
            "train_m2_cached": self.recipe.cache_key(),
            "features": [features, GREY_TRAIN],
            "labels": TRAIN_LABELS,
            "eval_sets": eval_sets,
        }

    def load_or_train(self, directory, log: cache.Log, progress: ProgressTo) -> None:
        with torch_threads():  # the notebook's one thread: the features, hence their hash, match
            vae, _ = train_vae_cached(self.vae, directory, progress=progress, log=None)
            grey_train, y_train = load_mnist("train")
            grey_test, y_test = load_mnist("test")
            features, test_features = m1_features(vae, grey_train, grey_test)
        eval_sets = {"test": (test_features, y_test)} if self.eval_on_test else None
        train_m2_cached(
            self.recipe,
            features,
            y_train,
            eval_sets=eval_sets,
            cache_dir=directory,
            progress=progress,
            log=log,
        )


JUDGE = Judge()
NB03_AUTOENCODER = Notebook03Autoencoder()
NB09_M1M2 = M1M2(NOTEBOOK_M1M2_RECIPE, eval_on_test=True)
#: the control of notebook 09's M1+M2 run: the same steps without U(x) (the notebook builds
#: this recipe in the cell that trains it)
NB09_M1M2_CONTROL = M1M2(
    dataclasses.replace(NOTEBOOK_M1M2_RECIPE, name="nb09-m1m2-control", unlabelled=False)
)
Entry = Recipe | Judge | Notebook03Autoencoder | M1M2


def course_recipes() -> list[Entry]:
    """Every recipe whose model a notebook or the app loads from the cache, each once (two
    recipes that share a cache file count once), in the order the notebooks load them."""
    found: dict[str, Entry] = {}
    for recipe in (
        NOTEBOOK_RECIPE,
        NOTEBOOK_RECIPE_2D,
        *NOTEBOOK_GAUSSIAN_RECIPES,
        *COURSE_RECIPES.values(),
        *BETA_SWEEP.values(),
        *COLLAPSE_RUNS.values(),
        CVAE_RECIPE,
        JUDGE,
        NB03_AUTOENCODER,
        NB09_M1M2,
        NB09_M1M2_CONTROL,
    ):
        found.setdefault(cache.cache_path(recipe.name, recipe.cache_key(), "").name, recipe)
    return list(found.values())


def warm(
    recipes: list[Entry],
    directory: str | os.PathLike | None = None,
    out: TextIO = sys.stdout,
    progress: TextIO | None = sys.stderr,
) -> dict[str, str]:
    """Load or train each of ``recipes`` into the cache folder ``directory`` (default: the
    course's, :func:`lecture_utils.cache.cache_dir`) -> ``{name: "cached" or "trained"}``.

    Writes one line per model and the total seconds to ``out``; ``progress`` gets a bar while a
    model trains (``None``: no bar).
    """
    if not recipes:
        raise ValueError("recipes is empty: pass the recipes to warm, e.g. course_recipes()")
    start = time.perf_counter()
    status: dict[str, str] = {}
    width = len(str(len(recipes)))
    for i, recipe in enumerate(recipes, 1):
        messages: list[str] = []
        if isinstance(recipe, Recipe):
            load_or_train(recipe, directory=directory, log=messages.append, progress=progress)
        else:
            recipe.load_or_train(directory, log=messages.append, progress=progress)
        (message,) = messages
        loaded = message.startswith(f"{recipe.name}: loaded from ")
        status[recipe.name] = "cached" if loaded else "trained"
        if loaded:
            where = message.removeprefix(f"{recipe.name}: loaded from ")
            message = f"{recipe.name}: already cached ({where}), not trained again"
        print(f"[{i:>{width}}/{len(recipes)}] {message}", file=out, flush=True)
    trained = sum(s == "trained" for s in status.values())
    print(
        f"{len(recipes)} models ready ({trained} trained, {len(recipes) - trained} already "
        f"cached) in {time.perf_counter() - start:.1f} s",
        file=out,
        flush=True,
    )
    return status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache-dir",
        help=f"the model cache folder (default: ${cache.CACHE_ENV} or ~/.cache/vae-course/models)",
    )
    parser.add_argument("--no-bar", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args()
    print(f"model cache: {cache.shown(cache.cache_dir(args.cache_dir))}", flush=True)
    warm(course_recipes(), args.cache_dir, progress=None if args.no_bar else sys.stderr)


if __name__ == "__main__":
    main()
