"""Train and cache every model the notebooks and the app load, before class (``make warm``).

    python scripts/warm.py              # the course's models, into the model cache
    VAE_COURSE_CACHE=/tmp/models python scripts/warm.py

Notebook 06 trains its models in cells that take 20-40 s on a laptop (minutes when the cores
are shared), and notebook 07 (and its app) trains three more on a cold cache. After ``make warm``
each of those cells loads its model in well under a second. Prints one line per model
(``already cached`` or how long it trained and where it was saved), a bar on stderr while a
model trains, and the total seconds. A model already in the cache is not trained again.

The models are :func:`course_recipes`: notebook 06's 20-D and 2-D VAEs and its two
Gaussian-decoder VAEs, notebook 07's :data:`~lecture_utils.model_cache.COURSE_RECIPES`
(whose ``vae2`` is notebook 06's 2-D VAE, cached once), notebook 08's runs, and notebook 09's
conditional VAE and its judge (notebook 03's classifier, :data:`JUDGE`). ``tests/test_warm.py``
checks that this list covers every cached model the notebooks' code loads.
"""

from __future__ import annotations

import argparse
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
from lecture_utils.model_cache import COURSE_RECIPES, Recipe, load_or_train
from lecture_utils.vae_training import (
    BETA_SWEEP,
    COLLAPSE_RUNS,
    NOTEBOOK_GAUSSIAN_RECIPES,
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
)


class Judge:
    """Notebook 09's judge (:func:`lecture_utils.conditional.judge_classifier`) as an entry of
    the warm list: not a recipe, but with a recipe's ``name`` and ``cache_key()``."""

    name = JUDGE_NAME

    def cache_key(self) -> dict:
        return judge_cache_key()

    def __repr__(self) -> str:
        return "Judge()"


JUDGE = Judge()
Entry = Recipe | Judge


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
        if isinstance(recipe, Judge):
            judge_classifier(directory, log=messages.append)
        else:
            load_or_train(recipe, directory=directory, log=messages.append, progress=progress)
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
