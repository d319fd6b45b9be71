"""Monte Carlo estimators and scoring a VAE in nats (introduced in 04, used again in 06).

Summaries of S importance weights w_s = exp(log_w_s), introduced in notebook 04 (where they
show why sampling z from the prior fails), with ``log_w`` of shape ``(S, ...)`` (S samples
along ``dim``, by default the first):

- :func:`log_mean_exp`: log (1/S) sum_s w_s, computed stably with ``torch.logsumexp``;
- :func:`effective_sample_size`: Kish's (sum w)^2 / sum w^2, between 1 and S;
- :func:`best_weight_share`: max_s w_s / sum_s w_s, the share of the average carried by one
  sample;
- :func:`log_weights`: the log weights log p(x, z_s) - log q(z_s|x) of a VAE-like model
  (used in notebook 04, explained in notebook 06); :func:`proposal_log_weights` for any
  diagonal Gaussian proposal (notebook 08);
- :func:`iwae_bound`: the importance-weighted bound L_S from S weights per group, and
  :func:`mean_and_se`, a mean over test digits with its standard error (notebook 08).

Scoring a VAE (notebook 06): the ELBO is a lower bound on log p_theta(x). Drawing S codes
z_s ~ q_phi(z|x) (the argument ``n_samples`` of the functions below) and averaging the
importance weights w_s = p_theta(x, z_s) / q_phi(z_s|x) gives a tighter one,

    log p(x) >= log (1/S) sum_s w_s   (in expectation; equality as S -> infinity),

which the VAE literature reports as the test log-likelihood (Burda et al., 2016):
:func:`log_likelihood`, and :func:`bits_per_dim` to convert it. The average is taken in log
space: the weights themselves (about e^-100, 4e-44, for an MNIST digit) lie below float32's
smallest normal number (1.2e-38), and a little smaller they round to zero. (K, in shape
comments, is the latent size.)

Any model works that has ``latent_dim``, ``encode(x) -> (mu, logvar)`` of a diagonal Gaussian
q_phi(z|x), and ``log_likelihood(x, z) -> (B,)`` for log p_theta(x|z), with the prior
p(z) = N(0, I): :class:`lecture_utils.models.VAE` does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lecture_utils._validate import check_int, check_number, check_positive_int, check_tensor
from lecture_utils.losses import log_normal, log_standard_normal

#: codes decoded at once by default (``batch_size * n_samples``), about 50 MB for 784 pixels
DEFAULT_CODES_PER_CHUNK = 16_384


def _check_model(model: nn.Module) -> None:
    for attr in ("encode", "log_likelihood", "latent_dim"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model must have encode(x) -> (mu, logvar), log_likelihood(x, z) and "
                f"latent_dim (like lecture_utils.models.VAE); "
                f"{type(model).__name__} has no {attr!r}"
            )


def _check_log_w(log_w: torch.Tensor, dim: int) -> torch.Tensor:
    """``log_w`` with at least one sample along ``dim``; -inf (a weight of 0) is allowed."""
    check_tensor("log_w", log_w, finite=False)
    if log_w.ndim == 0:
        raise ValueError("log_w must have a sample dimension (S, ...), got a scalar")
    check_int("dim", dim, low=-log_w.ndim, high=log_w.ndim - 1)
    if log_w.shape[dim] == 0:
        raise ValueError(
            f"log_w holds no samples along dim={dim} (shape {tuple(log_w.shape)}): "
            "an average needs at least one"
        )
    return log_w


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log( (1/S) sum_s exp(log_w_s) ), computed stably with logsumexp (notebook 04).

    ``log_w`` is ``(S, ...)`` with the S samples along ``dim`` (default 0); the result drops
    that dimension, e.g. ``(S, B) -> (B,)``.
    """
    _check_log_w(log_w, dim)
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


def _normalized_weights(log_w: torch.Tensor, dim: int) -> torch.Tensor:
    """w_s / sum_s w_s along ``dim``, shaped like ``log_w``."""
    _check_log_w(log_w, dim)
    if torch.isnan(log_w).any() or (log_w == math.inf).any():
        raise ValueError("log_w contains NaN or +inf; only -inf (a weight of zero) is allowed")
    if (log_w == -math.inf).all(dim=dim).any():
        raise ValueError(
            f"log_w is -inf for every sample along dim={dim} in at least one column: all its "
            "weights are zero, so their shares are undefined"
        )
    return torch.softmax(log_w, dim=dim)


def effective_sample_size(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Kish's effective sample size (sum w)^2 / sum w^2 of weights w = exp(log_w) (notebook 04).

    ``log_w`` is ``(S, ...)`` with the S samples along ``dim`` (default 0); the result drops
    that dimension, e.g. ``(S, B) -> (B,)``. Between 1 (one sample carries all the weight) and
    S (all weights equal).
    """
    return 1.0 / (_normalized_weights(log_w, dim) ** 2).sum(dim)


def best_weight_share(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The share max_s w_s / sum_s w_s of a Monte Carlo average carried by its best sample
    (notebook 04).

    ``log_w`` is ``(S, ...)`` with the S samples along ``dim`` (default 0); the result drops
    that dimension, e.g. ``(S, B) -> (B,)``. Between 1/S and 1.
    """
    return _normalized_weights(log_w, dim).amax(dim)


@torch.no_grad()
def log_weights(
    model: nn.Module, x: torch.Tensor, n_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Log importance weights log p(x, z_s) - log q(z_s|x) for ``n_samples`` draws
    z_s ~ q(z|x) -> ``(n_samples, B)`` (used in notebook 04, explained in notebook 06).

    Their mean over the draws is an estimate of the ELBO; their :func:`log_mean_exp` is the
    importance-sampled estimate of log p(x) (see :func:`log_likelihood`). No chunking: the
    decoder sees ``n_samples * B`` codes at once. The proposal is the encoder's q(z|x); for any
    other diagonal Gaussian use :func:`proposal_log_weights`.
    """
    _check_model(model)
    check_positive_int("n_samples", n_samples)
    check_tensor("x", x)
    was_training = model.training
    model.eval()
    try:
        mu, logvar = model.encode(x)  # (B, K) each
        return proposal_log_weights(model, x, mu, logvar, n_samples, generator)
    finally:
        model.train(was_training)


def proposal_log_weights(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n_samples: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Log importance weights log p(x, z_s) - log q(z_s) for ``n_samples`` draws z_s ~ q from
    a given diagonal Gaussian q = N(mu, diag exp(logvar)) per image -> ``(n_samples, B)``
    (notebook 08, where q is each digit's own optimised Gaussian).

    ``x`` is ``(B, ...)`` images, ``mu`` and ``logvar`` ``(B, K)``. ``model`` needs only
    ``log_likelihood(x, z) -> (B,)`` (a :class:`~lecture_utils.models.VAE`, or notebook 05's
    :class:`~lecture_utils.toy.LinearGaussian`). Gradients flow to ``mu`` and ``logvar`` (the
    draws are reparameterised), so the mean over the draws is a trainable ELBO estimate.
    """
    if not hasattr(model, "log_likelihood"):
        raise TypeError(
            f"model must have log_likelihood(x, z) -> (B,), like lecture_utils.models.VAE; "
            f"{type(model).__name__} has none"
        )
    s = check_positive_int("n_samples", n_samples)
    check_tensor("x", x)
    check_tensor("mu", mu, ndim=2)
    check_tensor("logvar", logvar, shape=tuple(mu.shape))
    if len(x) != len(mu):
        raise ValueError(
            f"x and mu need one row per image, got {len(x)} images and {len(mu)} rows of mu"
        )
    eps = torch.randn((s, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps  # (S, B, K)
    x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * len(x), *x.shape[1:])
    log_px_z = model.log_likelihood(x_rep, z.reshape(s * len(x), -1)).reshape(s, len(x))
    return log_px_z + log_standard_normal(z) - log_normal(z, mu, logvar)


def iwae_bound(log_w: torch.Tensor, n_samples: int) -> torch.Tensor:
    """The importance-weighted bound L_S (Burda et al., 2016) from ``T`` log weights per image
    -> ``(B,)`` (notebook 08).

    ``log_w`` is ``(T, B)`` with T a multiple of S = ``n_samples``. The T weights are cut into
    T / S groups of S; each group gives one estimate log (1/S) sum_s w_s, and the groups'
    estimates are averaged: an unbiased estimate of L_S = E[log (1/S) sum_s w_s], with less
    noise than one group alone. L_1 is the ELBO; L_S rises with S towards log p(x).
    """
    _check_log_w(log_w, 0)
    check_tensor("log_w", log_w, ndim=2, finite=False)
    s = check_positive_int("n_samples", n_samples)
    t = log_w.shape[0]
    if t % s:
        raise ValueError(
            f"log_w holds {t} weights per image, not a multiple of n_samples={s}; "
            f"pass T = k * {s} weights (for example the first {t - t % s})"
        )
    groups = log_w.reshape(t // s, s, -1)  # (T/S, S, B)
    return log_mean_exp(groups, dim=1).mean(0)


def mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    """The mean of per-item values ``(N,)`` and its standard error std / sqrt(N) (notebook 08):
    how far the mean over these N items may lie from the mean over all items like them."""
    check_tensor("values", values, ndim=1)
    if len(values) < 2:
        raise ValueError(f"values needs at least 2 items for a standard error, got {len(values)}")
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


@torch.no_grad()
def log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    n_samples: int,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled estimate of log p_theta(x) in nats -> ``(B,)`` (notebook 06).

        log p(x) ~ logsumexp_s [log p(x, z_s) - log q(z_s|x)] - log S,   z_s ~ q_phi(z|x),

    with s = 1..S, S = ``n_samples``. ``n_samples=1`` is a one-sample estimate of the ELBO; the
    estimate rises with S towards log p(x) (its expectation never exceeds it). The test negative
    log-likelihood (NLL) of a model is ``-log_likelihood(model, x_test, n_samples=1000).mean()``.

    Args:
        model: a :class:`~lecture_utils.models.VAE` or any model with the same methods.
        x: images ``(B, 1, 28, 28)`` or ``(B, 784)`` (binary for a Bernoulli model).
        n_samples: number of importance samples S per image.
        batch_size: images per chunk (default: about 16,384 / S, at least 1); it sets memory
            and speed, and which random draws each image gets, not what is estimated.
        generator: a ``torch.Generator`` for the draws of z.
    """
    check_positive_int("n_samples", n_samples)
    check_tensor("x", x)
    if len(x) == 0:
        raise ValueError("x holds no images")
    if batch_size is None:
        batch_size = max(1, DEFAULT_CODES_PER_CHUNK // n_samples)
    check_positive_int("batch_size", batch_size)
    return torch.cat(
        [
            log_mean_exp(log_weights(model, chunk, n_samples, generator))
            for chunk in x.split(batch_size)
        ]
    )


def bits_per_dim(nll_nats: float | torch.Tensor, dims: int = 784) -> float | torch.Tensor:
    """Convert a negative log-likelihood in nats per image to bits per dimension (per pixel
    for MNIST): nll / (D ln 2) (notebook 06). ``nll_nats`` is a number or a tensor of any
    shape; the result has the same type and shape."""
    check_positive_int("dims", dims)
    if isinstance(nll_nats, torch.Tensor):
        check_tensor("nll_nats", nll_nats)
    else:
        nll_nats = check_number("nll_nats", nll_nats)
    return nll_nats / (dims * math.log(2.0))
