"""Scoring a VAE in nats: the importance-sampled log-likelihood (introduced in 06_vae).

The ELBO is a lower bound on log p_theta(x). Drawing S codes z_s ~ q_phi(z|x) (the argument
``k`` of the functions below) and averaging the importance weights
w_s = p_theta(x, z_s) / q_phi(z_s|x) gives a tighter one,

    log p(x) >= log (1/S) sum_s w_s   (in expectation; equality as S -> infinity),

which the VAE literature reports as the test log-likelihood (Burda et al., 2016). The average is
taken in log space with ``torch.logsumexp``: the weights themselves (about e^-100, 4e-44, for
an MNIST digit) lie below float32's smallest normal number (1.2e-38), and a little smaller they
round to zero. (K, in shape comments, is the latent size.)

Any model works that has ``latent_dim``, ``encode(x) -> (mu, logvar)`` of a diagonal Gaussian
q_phi(z|x), and ``log_likelihood(x, z) -> (B,)`` for log p_theta(x|z), with the prior
p(z) = N(0, I): :class:`lecture_utils.models.VAE` does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lecture_utils._validate import check_positive_int, check_tensor
from lecture_utils.losses import LOG_2PI

#: codes decoded at once by default (``batch_size * k``), about 50 MB for 784 pixels
DEFAULT_CODES_PER_CHUNK = 16_384


def _check_model(model: nn.Module) -> None:
    for attr in ("encode", "log_likelihood", "latent_dim"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model must have encode(x) -> (mu, logvar), log_likelihood(x, z) and "
                f"latent_dim (like lecture_utils.models.VAE); "
                f"{type(model).__name__} has no {attr!r}"
            )


def _standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(dim=-1)


def _diagonal_normal_log_density(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(dim=-1)


@torch.no_grad()
def log_weights(
    model: nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Log importance weights log p(x, z_s) - log q(z_s|x), ``k`` draws z_s ~ q(z|x) -> ``(k, B)``.

    Their mean over the ``k`` draws is an estimate of the ELBO; their log-mean-exp is the
    importance-sampled estimate of log p(x) (see :func:`log_likelihood`). No chunking: the
    decoder sees ``k * B`` codes at once.
    """
    _check_model(model)
    check_positive_int("k", k)
    check_tensor("x", x)
    was_training = model.training
    model.eval()
    try:
        mu, logvar = model.encode(x)  # (B, K) each
        eps = torch.randn((k, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, K)
        x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * len(x), *x.shape[1:])
        log_px_z = model.log_likelihood(x_rep, z.reshape(k * len(x), -1)).reshape(k, len(x))
        return (
            log_px_z + _standard_normal_log_density(z) - _diagonal_normal_log_density(z, mu, logvar)
        )
    finally:
        model.train(was_training)


@torch.no_grad()
def log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled estimate of log p_theta(x) in nats -> ``(B,)``.

        log p(x) ~ logsumexp_s [log p(x, z_s) - log q(z_s|x)] - log k,   z_s ~ q_phi(z|x),

    with s = 1..k. ``k = 1`` is a one-sample estimate of the ELBO; the estimate rises with ``k``
    towards log p(x) (its expectation never exceeds it). The test negative log-likelihood (NLL)
    of a model is ``-log_likelihood(model, x_test, k=1000).mean()``.

    Args:
        model: a :class:`~lecture_utils.models.VAE` or any model with the same methods.
        x: images ``(B, 1, 28, 28)`` or ``(B, 784)`` (binary for a Bernoulli model).
        k: number of importance samples per image.
        batch_size: images per chunk (default: about 16,384 / k, at least 1); it sets memory
            and speed, and which random draws each image gets, not what is estimated.
        generator: a ``torch.Generator`` for the draws of z.
    """
    check_positive_int("k", k)
    check_tensor("x", x)
    if len(x) == 0:
        raise ValueError("x holds no images")
    if batch_size is None:
        batch_size = max(1, DEFAULT_CODES_PER_CHUNK // k)
    check_positive_int("batch_size", batch_size)
    out = [
        torch.logsumexp(log_weights(model, chunk, k, generator), dim=0) - math.log(k)
        for chunk in x.split(batch_size)
    ]
    return torch.cat(out)


def bits_per_dim(nll_nats: float | torch.Tensor, dims: int = 784) -> float | torch.Tensor:
    """Convert a negative log-likelihood in nats per image to bits per dimension (per pixel
    for MNIST): nll / (D ln 2)."""
    check_positive_int("dims", dims)
    if isinstance(nll_nats, torch.Tensor):
        check_tensor("nll_nats", nll_nats)
    elif (
        isinstance(nll_nats, bool)
        or not isinstance(nll_nats, (int, float))
        or not math.isfinite(nll_nats)
    ):
        raise ValueError(f"nll_nats must be a finite number or tensor, got {nll_nats!r}")
    return nll_nats / (dims * math.log(2.0))
