"""The models of notebook 07, trained once and then loaded (introduced in 07_latent_explorer).

Notebook 07 explores three small models: notebook 06's 2-D VAE (:data:`NOTEBOOK_RECIPE_2D`, the
very same file in the cache, trained here only if notebook 06 has not run yet), a 2-D
autoencoder to compare it with, and an 8-D VAE for the sliders, trained like notebook 06's 2-D
VAE. :func:`load_or_train` loads each from the course's model cache or trains it
(:mod:`lecture_utils.cache`: where the files live, what their names and keys hold, and the one
message per model).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
from torch import nn

from lecture_utils import cache
from lecture_utils._validate import check_int, check_int_sequence, check_number, check_positive_int
from lecture_utils.data import load_mnist
from lecture_utils.losses import l2_loss
from lecture_utils.models import Autoencoder
from lecture_utils.training import Callback, History, ProgressTo, fit_from_seed
from lecture_utils.vae_training import (
    NOTEBOOK_RECIPE_2D,
    VAERecipe,
    check_name,
    train_vae,
)


@dataclasses.dataclass(frozen=True)
class AutoencoderRecipe:
    """Everything that decides a trained autoencoder of notebook 07: an MLP autoencoder
    (notebook 01's) trained with the L2 loss on the 8,000 embedded grey training digits by
    :func:`lecture_utils.training.fit_from_seed`.

    ``name`` names the cache file (``nb07-`` for the notebook's models).
    """

    name: str
    latent_dim: int
    hidden_dims: tuple[int, ...] = (256,)
    epochs: int = 10
    lr: float = 2e-3
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        check_name(self.name)
        check_positive_int("latent_dim", self.latent_dim)
        object.__setattr__(self, "hidden_dims", check_int_sequence("hidden_dims", self.hidden_dims))
        check_positive_int("epochs", self.epochs)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_positive_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0, high=2**32 - 1)

    def cache_key(self) -> dict:
        """The fields that decide the weights, for :func:`lecture_utils.cache.cached`."""
        return {"recipe": type(self).__name__, **dataclasses.asdict(self)}

    def make_model(self) -> Autoencoder:
        """The untrained model (weights from torch's global generator)."""
        return Autoencoder(self.latent_dim, self.hidden_dims)


Recipe = AutoencoderRecipe | VAERecipe

#: The models of notebook 07: a 2-D autoencoder and notebook 06's 2-D VAE to compare, an 8-D VAE
#: (notebook 06's 2-D recipe with K = 8) for the sliders.
COURSE_RECIPES: Mapping[str, Recipe] = MappingProxyType(
    {
        "ae2": AutoencoderRecipe("nb07-ae2", 2, epochs=8),
        "vae2": NOTEBOOK_RECIPE_2D,
        "vae8": dataclasses.replace(NOTEBOOK_RECIPE_2D, name="nb07-vae8", latent_dim=8),
    }
)


def train_recipe(
    recipe: Recipe, progress: ProgressTo = "auto", callbacks: Sequence[Callback] = ()
) -> tuple[nn.Module, History]:
    """Train ``recipe``'s model (no cache) -> ``(model in eval mode, history)``; the thread
    count is the caller's, the global random state is left alone. ``progress``: see
    :class:`lecture_utils.training.Progress` (``"auto"``: shown in a notebook only);
    ``callbacks`` go to the training loop too (e.g. the presenter app's progress display)."""
    if isinstance(recipe, VAERecipe):
        return train_vae(recipe, progress=progress, callbacks=callbacks)
    if not isinstance(recipe, AutoencoderRecipe):
        raise TypeError(
            f"recipe must be an AutoencoderRecipe or a VAERecipe, got {type(recipe).__name__}"
        )
    images, _ = load_mnist("train")

    def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return l2_loss(m(batch[0]), batch[0])

    model, history = fit_from_seed(
        recipe.make_model,
        images,
        loss_fn,
        recipe.epochs,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        seed=recipe.seed,
        progress=progress,
        label=recipe.name,
        callbacks=callbacks,
    )
    return model.eval(), history


def load_or_train(
    model: str | Recipe,
    *,
    directory: str | os.PathLike | None = None,
    log: cache.Log = print,
    progress: ProgressTo = "auto",
    callbacks: Sequence[Callback] = (),
) -> nn.Module:
    """The trained model ``model``: a key of :data:`COURSE_RECIPES` (``"ae2"``, ``"vae2"``,
    ``"vae8"``) or a recipe. Loaded from the model cache when it is there and sound; otherwise
    trained on one thread and saved, with one line to ``log`` saying which (``None``: silent).
    While it trains, ``progress`` shows the epochs (:class:`lecture_utils.training.Progress`;
    ``"auto"``: in a notebook only); a loaded model shows none.
    ``callbacks`` (:class:`lecture_utils.training.Callback`) see every epoch when it trains.
    """
    if isinstance(model, str):
        if model not in COURSE_RECIPES:
            raise KeyError(
                f"no course model named {model!r}; choose one of {', '.join(COURSE_RECIPES)} "
                "or pass a recipe"
            )
        recipe = COURSE_RECIPES[model]
    else:
        recipe = model
    if not isinstance(recipe, (AutoencoderRecipe, VAERecipe)):
        raise TypeError(
            f"model must be a name or an AutoencoderRecipe/VAERecipe, got {type(recipe).__name__}"
        )
    # a VAERecipe lands in the same file as train_vae_cached(recipe): one training, two notebooks
    trained, _ = cache.cached(
        recipe.name,
        recipe.cache_key(),
        recipe.make_model,
        lambda: train_recipe(recipe, progress=progress, callbacks=callbacks),
        directory=directory,
        log=log,
    )
    return trained
