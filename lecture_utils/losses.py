"""Losses and log-densities (L2 in 01/02, likelihoods in 02/04, the KL in 05/06).

- :func:`l2_loss` (notebook 01); :func:`reconstruction_loss`, the per-example L1, L2 or binary
  cross-entropy (notebook 02);
- :func:`bernoulli_log_likelihood` and :func:`gaussian_log_likelihood`, log p(x|z) of a decoder
  (notebooks 02 and 06);
- :func:`log_normal` and :func:`log_standard_normal`, the diagonal Gaussian log-density of
  vectors, summed over the last dimension (introduced in notebook 04; the one home of that
  formula in the package);
- :func:`gaussian_kl`, the closed-form KL between diagonal Gaussians (notebooks 05 and 06).

Conventions: images are ``(B, C, H, W)`` or ``(B, D)``; per-example results are ``(B,)``,
summed over pixels or latent dimensions, in nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lecture_utils._validate import check_choice, check_number, check_same_shape, check_tensor

LOG_2PI = math.log(2.0 * math.pi)
#: the values that ``kind`` of :func:`reconstruction_loss` takes
RECONSTRUCTION_LOSSES = ("l1", "l2", "bce")


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


def _broadcasts_to(t: torch.Tensor, shape: torch.Size) -> bool:
    """Whether ``t`` broadcasts to exactly ``shape`` (no silent growth of the result)."""
    try:
        return torch.broadcast_shapes(t.shape, shape) == shape
    except RuntimeError:
        return False


def _logvar_tensor(logvar: torch.Tensor | float, dtype: torch.dtype) -> torch.Tensor:
    """A checked log-variance: a finite tensor, or a finite number made a scalar tensor."""
    if not isinstance(logvar, torch.Tensor):
        return torch.tensor(check_number("logvar", logvar), dtype=dtype)
    return check_tensor("logvar", logvar)


def log_normal(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor | float) -> torch.Tensor:
    """log N(x; mean, diag exp(logvar)), summed over the last dimension (introduced in 04).

    ``x``, ``mean`` and ``logvar`` broadcast against each other to ``(..., D)``; the result is
    ``(...)``, one log-density per vector. ``logvar`` may also be one number (the same variance
    in every dimension). For example ``x`` ``(B, D)`` and ``mean`` ``(S, B, D)`` give ``(S, B)``.
    """
    check_tensor("x", x)
    check_tensor("mean", mean)
    logvar = _logvar_tensor(logvar, mean.dtype)
    try:
        shape = torch.broadcast_shapes(x.shape, mean.shape, logvar.shape)
    except RuntimeError:
        raise ValueError(
            f"x, mean and logvar must broadcast together, got shapes {tuple(x.shape)}, "
            f"{tuple(mean.shape)} and {tuple(logvar.shape)}"
        ) from None
    if len(shape) == 0:
        raise ValueError("x, mean and logvar are all scalars: give vectors (..., D)")
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 / logvar.exp()).sum(dim=-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension: ``(..., K) -> (...)`` (notebook 04)."""
    check_tensor("z", z)
    if z.ndim == 0:
        raise ValueError("z must have a last dimension (..., K), got a scalar")
    return -0.5 * (LOG_2PI + z**2).sum(dim=-1)


def gaussian_log_likelihood(
    mean: torch.Tensor, x: torch.Tensor, logvar: torch.Tensor | float
) -> torch.Tensor:
    """log N(x; mean, exp(logvar) I), summed over pixels -> ``(B,)`` (notebooks 02 and 06).

    ``mean`` and ``x`` are ``(B, C, H, W)`` or ``(B, D)``; ``logvar`` is a number, a scalar
    tensor, or a tensor that broadcasts to ``x``'s shape (e.g. ``(1, C, H, W)`` per pixel).
    """
    check_tensor("mean", mean, ndim=(2, 3, 4))
    check_tensor("x", x, ndim=(2, 3, 4))
    check_same_shape("mean", mean, "x", x)
    logvar = _logvar_tensor(logvar, x.dtype)
    if not _broadcasts_to(logvar, x.shape):
        raise ValueError(
            f"logvar must be a number, a scalar tensor or broadcast to x's shape "
            f"{tuple(x.shape)}, got shape {tuple(logvar.shape)}"
        )
    flat = (len(x), -1)
    return log_normal(x.reshape(flat), mean.reshape(flat), logvar.expand_as(x).reshape(flat))


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
    for name, t in (("mu_p", mu_p), ("logvar_p", logvar_p)):
        if not _broadcasts_to(t, mu.shape):
            raise ValueError(
                f"{name} must have mu's shape {tuple(mu.shape)} or broadcast to it "
                f"(e.g. ({mu.shape[1]},) for one Gaussian shared by the batch), "
                f"got {tuple(t.shape)}"
            )
    mu_p, logvar_p = mu_p.expand_as(mu), logvar_p.expand_as(mu)
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mu - mu_p) ** 2) / logvar_p.exp() - 1.0).sum(
        dim=1
    )


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Per-example reconstruction loss, summed over the pixels -> ``(B,)`` (notebook 02).

    ``kind``: ``"l1"`` (sum of ``|x_hat - x|``), ``"l2"`` (sum of ``(x_hat - x)^2``) or ``"bce"``
    (binary cross-entropy ``-[x log x_hat + (1 - x) log(1 - x_hat)]``, which needs ``x_hat``
    and ``x`` in [0, 1]). Each is a negative log-likelihood up to a constant: Laplace, Gaussian,
    Bernoulli. Inputs are ``(B, C, H, W)`` or ``(B, D)``.
    """
    check_choice("kind", kind, RECONSTRUCTION_LOSSES)
    if kind == "l2":
        return l2_loss(x_hat, x, "per_example")
    bounds = {"low": 0.0, "high": 1.0} if kind == "bce" else {}
    check_tensor("x_hat", x_hat, ndim=(2, 3, 4), **bounds)
    check_tensor("x", x, ndim=(2, 3, 4), **bounds)
    check_same_shape("x_hat", x_hat, "x", x)
    if kind == "l1":
        return _per_example_sum((x_hat - x).abs())
    return _per_example_sum(F.binary_cross_entropy(x_hat, x, reduction="none"))
