"""Training a VAE by a recipe, and keeping it in the course's model cache (introduced in
06_vae): :func:`train_vae` and :func:`train_vae_cached`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from lecture_utils import cache
from lecture_utils.models import VAE
from lecture_utils.training import Callback, EpochTimer, History, Progress, ProgressTo, fit
from lecture_utils.vae_training.batches import make_vae_loaders
from lecture_utils.vae_training.loss import vae_loss
from lecture_utils.vae_training.recipes import VAERecipe, check_recipe
from lecture_utils.vae_training.schedules import KLWarmup, WeightAverage, learning_rate


def make_optimizer(model: torch.nn.Module, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam over ``model``'s parameters with a base rate of 1 (the scheduler sets the rate),
    ``fused``: one pass over all the weights per step instead of a dozen small operations per
    weight tensor (the same update; about a tenth of each step's time saved on a CPU). With
    ``weight_decay`` > 0, AdamW: each step also multiplies every weight by ``1 - rate *
    weight_decay`` (decoupled from the gradient's moments)."""
    if weight_decay:
        return torch.optim.AdamW(model.parameters(), lr=1.0, weight_decay=weight_decay, fused=True)
    return torch.optim.Adam(model.parameters(), lr=1.0, fused=True)


def init_output_bias(model: VAE, images: torch.Tensor) -> None:
    """Set the decoder's last bias to logit(mean pixel value), clamped to [-7, 7] (in place);
    ``images`` ``(N, 1, 28, 28)`` or ``(N, 784)``."""
    last = model.decoder[-1]
    mean = images.reshape(len(images), -1).mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        last.bias.copy_(torch.logit(mean).clamp(-7.0, 7.0))


def train_vae(
    recipe: VAERecipe, progress: ProgressTo = "auto", callbacks: Sequence[Callback] = ()
) -> tuple[VAE, History]:
    """Train a VAE by ``recipe`` -> ``(model, history)``; the model is returned in eval mode.

    ``progress`` goes to :class:`~lecture_utils.training.Progress`, labelled with the recipe's
    name: ``"auto"`` shows the epochs and the running loss in a notebook while the model
    trains (and nothing elsewhere), a stream such as ``sys.stderr`` gets a bar, ``None``
    nothing. ``callbacks`` go to :func:`~lecture_utils.training.fit` after the recipe's own
    (``scripts/bench_vae.py`` passes a :class:`~lecture_utils.training.TimeBudget`).

    The global random state is left as it was (training draws from its own seeded streams), so
    the cells after training give the same output whether the model was trained or loaded.
    Torch's thread count is the caller's (:func:`train_vae_cached` trains on the course's one).
    ``callbacks`` are called after the recipe's own (e.g. a progress display).

    ``history`` has one value per epoch for ``loss``, ``neg_elbo``, ``recon``, ``kl`` (training
    batches), their ``val_`` versions when there is a validation slice, ``lr``, ``kl_weight``,
    ``steps`` (gradient steps so far), ``seconds`` (wall clock so far) and ``cpu_seconds``
    (processor time of this process so far, all threads), plus ``best_epoch`` (one value,
    1-based: the epoch whose weights were kept).
    """
    check_recipe(recipe)
    extra_callbacks = list(callbacks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        model = recipe.make_model()
        train, val = make_vae_loaders(recipe, generator)
        if recipe.init_output_bias:
            init_output_bias(model, train.images)
        # base rate 1, so that LambdaLR's rate (base x factor) is learning_rate(...) exactly
        optimizer = make_optimizer(model, recipe.weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: learning_rate(e, recipe))
        warmup = KLWarmup(recipe.kl_warmup_epochs, recipe.beta)
        callbacks: list[Callback] = [warmup]
        if recipe.weight_average:
            callbacks.append(WeightAverage(model, optimizer, recipe.weight_average))
        history = fit(
            model,
            lambda m, b: vae_loss(m, b, warmup.weight, recipe.free_bits, recipe.iwae_samples),
            train,
            recipe.epochs,
            optimizer=optimizer,
            scheduler=schedule,
            val_loader=val,
            keep_best=val is not None,
            callbacks=[
                *callbacks,
                EpochTimer(len(train)),
                Progress(recipe.epochs, label=recipe.name, to=progress),
                *extra_callbacks,
            ],
            quiet=True,
        )
    epochs = len(history["loss"])  # fewer than recipe.epochs if a callback stopped training
    if val is not None:
        best = min(range(epochs), key=history["val_loss"].__getitem__)
    else:
        best = epochs - 1
    history["best_epoch"] = [best + 1]
    return model.eval(), history


def train_vae_cached(
    recipe: VAERecipe,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressTo = "auto",
    log: cache.Log = print,
) -> tuple[VAE, History]:
    """Like :func:`train_vae`, but load the model and its history from the course's model
    cache when they are there (:func:`lecture_utils.cache.cached`: file
    ``<cache dir>/<recipe.name>-<hash>.pt``), and train on one thread and save them otherwise.

    ``log`` receives one line: loaded from where, or why it was trained and where it was saved
    (``None``: silent). Delete the file (or the folder) to retrain. While a model trains,
    ``progress`` shows how far it has got (see :func:`train_vae`); a loaded model shows none.
    """
    check_recipe(recipe)
    return cache.cached(
        recipe.name,
        recipe.cache_key(),
        recipe.make_model,
        lambda: train_vae(recipe, progress=progress),
        directory=cache_dir,
        log=log,
    )
