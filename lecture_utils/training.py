"""One plain training loop for every notebook (introduced in 01_autoencoder).

``fit`` runs ``epochs`` passes over a DataLoader with Adam (or your optimizer), calling
``loss_fn(model, batch)`` for each batch. ``loss_fn`` returns either a scalar loss or a dict
with a ``"loss"`` entry plus any other scalar terms to record (for example the ELBO's
reconstruction and KL terms). The history holds each term's per-example average per epoch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from lecture_utils._validate import check_positive_int
from lecture_utils.data import make_loaders

LossOutput = torch.Tensor | dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], LossOutput]


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


def evaluate_loss(model: nn.Module, loss_fn: LossFn, loader: DataLoader) -> dict[str, float]:
    """Average each term of ``loss_fn`` over ``loader`` (weighted by batch size), no gradients."""
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for batch in loader:
            n = len(batch[0])
            for key, value in _as_terms(loss_fn(model, tuple(batch))).items():
                sums[key] = sums.get(key, 0.0) + float(value) * n
            count += n
    return {k: v / count for k, v in sums.items()}


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
    on_epoch_start: Callable[[int], None] | None = None,
    quiet: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` and return its history.

    Args:
        loss_fn: ``loss_fn(model, batch) -> loss`` or ``{"loss": loss, **other_terms}``.
        lr: learning rate of the default Adam optimizer (ignored when ``optimizer`` is given).
        scheduler: stepped once per epoch.
        val_loader: evaluated after each epoch; its terms go into the history as ``val_<term>``.
        keep_best: at the end, restore the weights of the epoch with the lowest ``val_loss``
            (early stopping without stopping).
        on_epoch_start: called with the epoch index (for example to set a KL weight).
        quiet: no progress bar.

    Returns:
        ``{"loss": [...], <term>: [...], "val_loss": [...], ...}``, one value per epoch.
    """
    check_positive_int("epochs", epochs)
    if keep_best and val_loader is None:
        raise ValueError("keep_best needs a val_loader to choose the best epoch")
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {}
    best = (math.inf, None)
    for epoch in tqdm(range(epochs), desc="epochs", disable=quiet, leave=False):
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        model.train()
        sums: dict[str, float] = {}
        count = 0
        for batch in train_loader:
            terms = _as_terms(loss_fn(model, tuple(batch)))
            optimizer.zero_grad()
            terms["loss"].backward()
            optimizer.step()
            n = len(batch[0])
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
            count += n
        for key, value in sums.items():
            history.setdefault(key, []).append(value / count)
        if scheduler is not None:
            scheduler.step()
        if val_loader is not None:
            for key, value in evaluate_loss(model, loss_fn, val_loader).items():
                history.setdefault(f"val_{key}", []).append(value)
            if keep_best and history["val_loss"][-1] < best[0]:
                best = (history["val_loss"][-1], copy.deepcopy(model.state_dict()))
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
) -> tuple[nn.Module, dict[str, list[float]]]:
    """Build a model whose initial weights come from ``seed``, then :func:`fit` it quietly on
    ``images`` in batches shuffled by the same ``seed`` -> ``(model, history)``.

    Torch's global random state is left as it was, so two calls with the same seed (say, one
    per loss in notebook 02) start from the same weights and see the same batches.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build()
    loader, _ = make_loaders(images, batch_size=batch_size, seed=seed)
    return model, fit(model, loss_fn, loader, epochs, lr=lr, quiet=True)
