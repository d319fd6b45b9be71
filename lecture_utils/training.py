"""One plain training loop for every notebook (introduced in 01_autoencoder).

``fit`` runs ``epochs`` passes over a DataLoader with Adam (or your optimizer), calling
``loss_fn(model, batch)`` for each batch. ``loss_fn`` returns either a scalar loss or a dict
with a ``"loss"`` entry plus any other scalar terms to record (for example the ELBO's
reconstruction and KL terms). The history holds each term's per-example average per epoch.

Everything that changes from epoch to epoch is an explicit hook: the learning rate through a
torch scheduler (``scheduler=``, stepped once per epoch), anything else through
:class:`Callback` objects (``callbacks=``), for example notebook 06's KL warm-up
(``vae_training.KLWarmup``) and :class:`EpochTimer`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from lecture_utils._validate import check_bool, check_number, check_positive_int
from lecture_utils.data import make_loaders

LossOutput = torch.Tensor | dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], LossOutput]
History = dict[str, list[float]]


class Callback:
    """A hook into :func:`fit`: override either method (both do nothing here).

    ``on_epoch_start(epoch)`` runs before epoch ``epoch`` (0-based) trains;
    ``on_epoch_end(epoch, history)`` runs after it and its validation, and may append
    entries to ``history`` (one value per epoch, like fit's own).
    """

    def on_epoch_start(self, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, history: History) -> None:
        """Called after epoch ``epoch`` and its validation."""


class EpochTimer(Callback):
    """Record the cost of training so far after every epoch: ``steps`` (gradient steps, with
    ``steps_per_epoch`` batches per epoch), ``seconds`` (wall clock) and ``cpu_seconds``
    (processor time of this process, all threads), counted from the start of the first epoch."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.start: tuple[float, float] | None = None

    def on_epoch_start(self, epoch: int) -> None:
        if self.start is None:
            self.start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch: int, history: History) -> None:
        assert self.start is not None, "on_epoch_start runs first"
        history.setdefault("steps", []).append((epoch + 1) * self.steps_per_epoch)
        history.setdefault("seconds", []).append(time.perf_counter() - self.start[0])
        history.setdefault("cpu_seconds", []).append(time.process_time() - self.start[1])


def _as_terms(out: LossOutput) -> dict[str, torch.Tensor]:
    terms = out if isinstance(out, dict) else {"loss": out}
    if "loss" not in terms:
        raise ValueError(f"loss_fn returned a dict without a 'loss' entry (keys: {list(terms)})")
    loss = terms["loss"]
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise ValueError(
            "loss_fn must return a scalar tensor (reduce over the batch with .mean() "
            f"or .sum()), got {getattr(loss, 'shape', type(loss))}"
        )
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {loss.item()}; lower the learning rate or check the model's inputs"
        )
    return terms


def _run_epoch(
    model: nn.Module,
    loss_fn: LossFn,
    loader: Iterable,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, float]:
    """One pass over ``loader``: each term of ``loss_fn`` averaged over the examples (batches
    weighted by their size); with an ``optimizer``, one gradient step per batch."""
    sums: dict[str, float] = {}
    count = 0
    for batch in loader:
        terms = _as_terms(loss_fn(model, tuple(batch)))
        if optimizer is not None:
            optimizer.zero_grad()
            terms["loss"].backward()
            optimizer.step()
        n = len(batch[0])
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
        count += n
    if count == 0:
        raise ValueError("the loader gave no batches; check that it holds at least one example")
    return {key: value / count for key, value in sums.items()}


def evaluate_loss(model: nn.Module, loss_fn: LossFn, loader: DataLoader) -> dict[str, float]:
    """Average each term of ``loss_fn`` over ``loader`` (weighted by batch size), no gradients;
    the model is left in eval mode."""
    model.eval()
    with torch.no_grad():
        return _run_epoch(model, loss_fn, loader)


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    train_loader: DataLoader,
    epochs: int,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    val_loader: DataLoader | None = None,
    keep_best: bool = False,
    callbacks: Sequence[Callback] = (),
    quiet: bool = False,
) -> History:
    """Train ``model`` and return its history.

    Args:
        loss_fn: ``loss_fn(model, batch) -> loss`` or ``{"loss": loss, **other_terms}``.
        lr: learning rate of the default Adam optimizer (ignored when ``optimizer`` is given).
        scheduler: a torch learning-rate scheduler of ``optimizer``, stepped after each epoch;
            the rate each epoch trained with goes into the history as ``lr``.
        val_loader: evaluated after each epoch; its terms go into the history as ``val_<term>``.
        keep_best: at the end, restore the weights of the epoch with the lowest ``val_loss``
            (early stopping without stopping).
        callbacks: :class:`Callback` objects, called at the start and end of every epoch in
            the order given.
        quiet: no progress bar.

    Returns:
        ``{"loss": [...], <term>: [...], "val_loss": [...], ...}``, one value per epoch.
    """
    check_positive_int("epochs", epochs)
    check_number("lr", lr, low=0.0, low_open=True)
    check_bool("keep_best", keep_best)
    if keep_best and val_loader is None:
        raise ValueError("keep_best needs a val_loader to choose the best epoch")
    if scheduler is not None and optimizer is None:
        raise ValueError("scheduler needs the optimizer it schedules: pass optimizer= as well")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks[{i}] must be a training.Callback, got {type(callback).__name__}"
            )
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: History = {}
    best = (math.inf, None)
    for epoch in tqdm(range(epochs), desc="epochs", disable=quiet, leave=False):
        for callback in callbacks:
            callback.on_epoch_start(epoch)
        model.train()
        for key, value in _run_epoch(model, loss_fn, train_loader, optimizer).items():
            history.setdefault(key, []).append(value)
        if scheduler is not None:
            history.setdefault("lr", []).append(scheduler.get_last_lr()[0])
            scheduler.step()
        if val_loader is not None:
            for key, value in evaluate_loss(model, loss_fn, val_loader).items():
                history.setdefault(f"val_{key}", []).append(value)
            if keep_best and history["val_loss"][-1] < best[0]:
                best = (history["val_loss"][-1], copy.deepcopy(model.state_dict()))
        for callback in callbacks:
            callback.on_epoch_end(epoch, history)
    if keep_best and best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history


def fit_from_seed(
    build: Callable[[], nn.Module],
    images: torch.Tensor,
    loss_fn: LossFn,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[nn.Module, History]:
    """Build a model whose initial weights come from ``seed``, then :func:`fit` it quietly on
    ``images`` (``(N, 1, 28, 28)`` or ``(N, D)``) in batches shuffled by the same ``seed``
    -> ``(model, history)``.

    Torch's global random state is left as it was, so two calls with the same seed (say, one
    per loss in notebook 02) start from the same weights and see the same batches.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    loader, _ = make_loaders(images, batch_size=batch_size, seed=seed)
    return model, fit(model, loss_fn, loader, epochs, lr=lr, quiet=True)
