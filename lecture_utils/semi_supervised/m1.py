"""M1's features (introduced in 09_conditional_and_semi_supervised): the encoder means of
a VAE trained without labels, standardised for M2, and notebook 03's autoencoder rebuilt
exactly, to compare with.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from lecture_utils import cache
from lecture_utils._validate import DATA_HINT, check_int, check_positive_int, check_tensor
from lecture_utils.data import make_loaders
from lecture_utils.losses import l2_loss
from lecture_utils.models import VAE, Autoencoder
from lecture_utils.semi_supervised._hash import _data_hash
from lecture_utils.training import History, fit


def _autoencoder_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    (x,) = batch
    return l2_loss(model(x), x, reduction="per_example").mean()


def _train_notebook03_autoencoder(images: torch.Tensor, seed: int) -> tuple[Autoencoder, History]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Autoencoder(latent_dim=32, hidden_dims=(128,))
        loader, _ = make_loaders(images, labels=None, batch_size=128, seed=seed)
        history = fit(model, _autoencoder_loss, loader, epochs=5, lr=2e-3, quiet=True)
    return model.eval(), history


def notebook03_autoencoder(
    images: torch.Tensor,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    log: cache.Log = print,
) -> Autoencoder:
    """Notebook 03's pretrained autoencoder (its cell 12), rebuilt exactly (notebook 09).

    784-128-32 (ReLU, sigmoid output), L2 loss per digit, 5 epochs of Adam at 2e-3, batches of
    128 shuffled by ``seed``, initial weights from ``seed``, on ``images`` (notebook 03 passes
    its 8,000 grey training digits ``(8000, 1, 28, 28)``) -> the model in eval mode. Cached in
    the course's model cache (:func:`lecture_utils.cache.cached`, name ``nb03-autoencoder``,
    keyed by ``seed`` and a hash of ``images``); training takes about 3 s. The history (the
    L2 loss per epoch, 03's printed line) is kept beside the weights.
    """
    check_tensor("images", images, ndim=(2, 4), low=0.0, high=1.0, hint=DATA_HINT)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    key = {"model": "notebook 03 autoencoder", "version": 1, "seed": seed}
    key["images"] = _data_hash(images)
    model, _ = cache.cached(
        "nb03-autoencoder",
        key,
        lambda: Autoencoder(latent_dim=32, hidden_dims=(128,)),
        lambda: _train_notebook03_autoencoder(images, seed),
        directory=cache_dir,
        log=log,
    )
    return model


@torch.no_grad()
def encoder_means(vae: VAE, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """M1's features: the means of q(z|x) of a trained ``vae`` for ``images`` ``(N, 1, 28, 28)``
    or ``(N, 784)`` -> ``(N, latent_dim)`` (notebook 09). Computed in eval mode, in chunks; the
    model's train/eval mode is restored."""
    if not isinstance(vae, VAE):
        raise TypeError(f"vae must be a models.VAE, got {type(vae).__name__}")
    check_tensor("images", images, ndim=(2, 4), hint=DATA_HINT)
    check_positive_int("batch_size", batch_size)
    was_training = vae.training
    vae.eval()
    try:
        chunks = [
            vae.encode(images[i : i + batch_size])[0] for i in range(0, len(images), batch_size)
        ]
    finally:
        vae.train(was_training)
    return torch.cat(chunks) if chunks else torch.zeros(0, vae.latent_dim)


def m1_features(
    vae: VAE, images: torch.Tensor, test_images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """M1's features as M2 reads them (M1+M2, notebook 09): the encoder means of ``images``
    ``(N, 1, 28, 28)`` and ``test_images`` ``(M, 1, 28, 28)``, each dimension standardised with
    the mean and standard deviation of the training digits' means -> ``((N, K), (M, K))``.
    (The VAE's unused dimensions, whose means barely move, become unit-variance noise that a
    Gaussian p(x|y, z) with a learned variance explains away.)"""
    train, test = encoder_means(vae, images), encoder_means(vae, test_images)
    mean, sd = train.mean(0), train.std(0).clamp_min(1e-6)
    return (train - mean) / sd, (test - mean) / sd
