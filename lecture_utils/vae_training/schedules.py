"""The KL warm-up and the learning-rate schedule of a :class:`VAERecipe`, and the
:func:`~lecture_utils.training.fit` callbacks that apply them per epoch (introduced in
06_vae): :func:`kl_weight` and :class:`KLWarmup`, :func:`learning_rate`, and the
optional weight averaging :class:`WeightAverage`.
"""

from __future__ import annotations

import math

import torch

from lecture_utils._validate import check_nonneg_int, check_number
from lecture_utils.training import Callback, History
from lecture_utils.vae_training.recipes import VAERecipe, check_recipe


def kl_weight(epoch: int, warmup_epochs: int, beta: float = 1.0) -> float:
    """The KL term's weight in epoch ``epoch`` (0-based): ``beta * min(1, (epoch + 1) / (n + 1))``
    with ``n = warmup_epochs``, so the weights are ``beta`` times ``1/(n+1), 2/(n+1), ..., 1``
    over the first ``n + 1`` epochs, and ``beta`` from the first epoch when ``n = 0``."""
    check_nonneg_int("epoch", epoch)
    check_nonneg_int("warmup_epochs", warmup_epochs)
    check_number("beta", beta, low=0.0)
    return beta * min(1.0, (epoch + 1) / (warmup_epochs + 1))


def learning_rate(epoch: int, recipe: VAERecipe) -> float:
    """The learning rate of epoch ``epoch`` (0-based) under ``recipe``'s schedule."""
    check_nonneg_int("epoch", epoch)
    check_recipe(recipe)
    if recipe.schedule == "constant":
        return recipe.lr
    if epoch < recipe.lr_warmup_epochs:
        return recipe.lr * (epoch + 1) / (recipe.lr_warmup_epochs + 1)
    span = max(1, recipe.epochs - recipe.lr_warmup_epochs - 1)
    progress = min(1.0, (epoch - recipe.lr_warmup_epochs) / span)
    low = recipe.lr * recipe.final_lr_fraction
    return low + 0.5 * (recipe.lr - low) * (1.0 + math.cos(math.pi * progress))


class KLWarmup(Callback):
    """A :class:`~lecture_utils.training.fit` callback that holds the KL weight of the current
    epoch, ``weight`` (see :func:`kl_weight`), for the loss to read; it records each epoch's
    weight in the history as ``kl_weight``."""

    def __init__(self, warmup_epochs: int, beta: float = 1.0) -> None:
        self.warmup_epochs = check_nonneg_int("warmup_epochs", warmup_epochs)
        self.beta = check_number("beta", beta, low=0.0)
        self.weight = kl_weight(0, warmup_epochs, beta)

    def on_epoch_start(self, epoch: int) -> None:
        self.weight = kl_weight(epoch, self.warmup_epochs, self.beta)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        history.setdefault("kl_weight", []).append(self.weight)


class WeightAverage(Callback):
    """Keep an exponential moving average of ``model``'s weights, updated after every step of
    ``optimizer``: ``average <- average + (1 - d) * (weights - average)`` with
    ``d = min(decay, (1 + t) / (10 + t))`` after step ``t`` (so that the first steps, far from
    any good weights, are soon forgotten).

    Averaging smooths out the last steps' noise: the averaged weights sit nearer the middle of
    the valley the optimiser bounces around in (Polyak averaging). After each epoch's steps the
    model holds the average (so validation, early stopping and the returned model use it);
    before the next epoch's steps the trained weights come back.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, decay: float):
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]
        self.live: list[torch.Tensor] | None = None
        self.steps = 0
        optimizer.register_step_post_hook(self._update)

    @torch.no_grad()
    def _update(self, optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for a, p in zip(self.average, self.params):
            a.lerp_(p, 1.0 - d)

    @torch.no_grad()
    def _swap_in(self, weights: list[torch.Tensor]) -> None:
        for p, w in zip(self.params, weights):
            p.copy_(w)

    def on_epoch_start(self, epoch: int) -> None:
        if self.live is not None:
            self._swap_in(self.live)
            self.live = None

    def on_train_pass_end(self, epoch: int) -> None:
        self.live = [p.detach().clone() for p in self.params]
        self._swap_in(self.average)
