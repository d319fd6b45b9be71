"""Losses and log-likelihoods (L2 in 01/02, likelihoods in 02/04, the KL in 05/06).

Conventions: images are ``(B, C, H, W)`` or ``(B, D)``; per-example results are ``(B,)``,
summed over pixels or latent dimensions, in nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lecture_utils._validate import check_choice, check_same_shape, check_tensor

LOG_2PI = math.log(2.0 * math.pi)


def _per_example_sum(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).sum(dim=1)


def l2_loss(x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared-error reconstruction loss ||x_hat - x||^2 (notebooks 01 and 02).

    reduction: ``"mean"`` over every pixel of the batch (a scalar), ``"sum"`` over everything
    (a scalar), or ``"per_example"`` (``(B,)``, summed over each image's pixels).
    """
    check_tensor("x_hat", x_hat, ndim=(2, 3, 4))
    check_tensor("x", x, ndim=(2, 3, 4))
    check_same_shape("x_hat", x_hat, "x", x)
    check_choice("reduction", reduction, ("mean", "sum", "per_example"))
    sq = (x_hat - x) ** 2
    if reduction == "mean":
        return sq.mean()
    if reduction == "sum":
        return sq.sum()
    return _per_example_sum(sq)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | z) for independent Bernoulli pixels with P(1) = sigmoid(logits) -> ``(B,)``.

    ``x`` must lie in [0, 1] (binary pixels give a true log-probability). Computed from the
    logits, which is stable where sigmoid would round to 0 or 1.
    """
    check_tensor("logits", logits, ndim=(2, 3, 4))
    check_tensor("x", x, ndim=(2, 3, 4), low=0.0, high=1.0)
    check_same_shape("logits", logits, "x", x)
    return -_per_example_sum(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))


def gaussian_log_likelihood(
    mean: torch.Tensor, x: torch.Tensor, logvar: torch.Tensor | float
) -> torch.Tensor:
    """log N(x; mean, exp(logvar) I), summed over pixels -> ``(B,)`` (notebooks 02 and 06).

    ``logvar`` is a float, a scalar tensor, or a tensor broadcastable to ``x``.
    """
    check_tensor("mean", mean, ndim=(2, 3, 4))
    check_tensor("x", x, ndim=(2, 3, 4))
    check_same_shape("mean", mean, "x", x)
    if not isinstance(logvar, torch.Tensor):
        if not isinstance(logvar, (int, float)) or not math.isfinite(logvar):
            raise ValueError(f"logvar must be a finite number or tensor, got {logvar!r}")
        logvar = torch.tensor(float(logvar), dtype=x.dtype)
    check_tensor("logvar", logvar)
    logvar = logvar.expand_as(x)
    return -0.5 * _per_example_sum(LOG_2PI + logvar + (x - mean) ** 2 / logvar.exp())


def gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL( N(mu, diag exp(logvar)) || N(mu_p, diag exp(logvar_p)) ) in closed form -> ``(B,)``.

    With ``mu_p``/``logvar_p`` omitted the second Gaussian is the prior N(0, I), the KL term of
    the VAE (notebooks 05 and 06): ``0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)``.
    Inputs are ``(B, K)``.
    """
    check_tensor("mu", mu, ndim=2)
    check_tensor("logvar", logvar, ndim=2)
    check_same_shape("mu", mu, "logvar", logvar)
    if (mu_p is None) != (logvar_p is None):
        raise ValueError("give both mu_p and logvar_p, or neither (for the prior N(0, I))")
    if mu_p is None:
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
    check_tensor("mu_p", mu_p)
    check_tensor("logvar_p", logvar_p)
    mu_p, logvar_p = mu_p.expand_as(mu), logvar_p.expand_as(mu)
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p) ** 2) / logvar_p.exp() - 1.0).sum(
        dim=1
    )
