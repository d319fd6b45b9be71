"""Diagnosing a trained VAE: where its nats go and why (introduced in 08_diagnosing_vaes).

- :func:`kl_per_dimension`, :func:`unit_activity`, :func:`active_units`: how much each latent
  dimension carries (its share of the KL term) and whether its posterior mean varies across
  digits (Burda et al., 2016: a dimension is *active* when Var_x mu_k(x) > 0.01);
- :func:`rate_distortion`: each digit's rate KL(q(z|x) || p(z)) and distortion
  -E_q log p(x|z), the two terms of the negative ELBO (Alemi et al., 2018);
- :func:`elbo_of_q` and :func:`fit_local_q`: the ELBO of any diagonal Gaussian q per digit,
  and each digit's own q optimised by Adam, starting from the encoder's: the rise is the
  amortisation gap (Cremer, Li and Duvenaud, 2018);
- :func:`aggregate_log_density` and :func:`aggregate_posterior_grid`: the aggregate posterior
  q(z) = (1/N) sum_n q(z|x_n), and for a 2-D latent the split of the mean KL term into the
  mutual information I(x; z) and KL(q(z) || p(z)) on a grid (Hoffman and Johnson, 2016).

The importance-sampling estimators themselves (``log_weights``, ``proposal_log_weights``,
``iwae_bound``, ``log_mean_exp``) live in :mod:`lecture_utils.evaluate`. Shapes: images ``x``
``(B, ...)``; the encoder's parameters ``mu`` and ``logvar`` ``(N, K)``; per-digit results
``(N,)`` in nats.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lecture_utils._validate import (
    check_number,
    check_positive_int,
    check_same_shape,
    check_tensor,
)
from lecture_utils.losses import LOG_2PI, gaussian_kl

#: Burda et al.'s threshold on Var_x mu_k(x) for an active unit
ACTIVE_THRESHOLD = 0.01


def _check_q(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    check_tensor("mu", mu, ndim=2)
    check_tensor("logvar", logvar, ndim=2)
    check_same_shape("mu", mu, "logvar", logvar)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The mean over digits of each dimension's KL(q(z_k|x) || N(0, 1)) -> ``(K,)`` nats.

    ``mu`` and ``logvar`` are ``(N, K)``; the K values add up to the mean of the closed-form
    KL term, ``gaussian_kl(mu, logvar).mean()``.
    """
    _check_q(mu, logvar)
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def unit_activity(mu: torch.Tensor) -> torch.Tensor:
    """Var_x mu_k(x), the variance of each posterior-mean coordinate across digits -> ``(K,)``;
    ``mu`` is ``(N, K)`` with N >= 2."""
    check_tensor("mu", mu, ndim=2)
    if len(mu) < 2:
        raise ValueError(f"mu needs at least 2 digits (rows) for a variance, got {len(mu)}")
    return mu.var(0)


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> torch.Tensor:
    """Which latent dimensions are active: Var_x mu_k(x) > ``threshold`` -> bool ``(K,)``.

    An inactive dimension gives every digit the same posterior mean; it may still cost KL
    (through sigma_k), so look at :func:`kl_per_dimension` too.
    """
    threshold = check_number("threshold", threshold, low=0.0)
    return unit_activity(mu) > threshold


def _check_log_likelihood_model(model: object) -> None:
    if not hasattr(model, "log_likelihood"):
        raise TypeError(
            f"model must have log_likelihood(x, z) -> (B,), like lecture_utils.models.VAE; "
            f"{type(model).__name__} has none"
        )


def expected_log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E_q log p(x|z) for q = N(mu, diag exp(logvar)), the mean over ``n_samples``
    reparameterised draws -> ``(B,)`` nats; differentiable in ``mu`` and ``logvar``.

    ``model`` needs ``log_likelihood(x, z) -> (B,)``; ``x`` is ``(B, ...)``, ``mu`` and
    ``logvar`` ``(B, K)``.
    """
    _check_log_likelihood_model(model)
    _check_q(mu, logvar)
    check_tensor("x", x)
    s = check_positive_int("n_samples", n_samples)
    if len(x) != len(mu):
        raise ValueError(f"x and mu need one row per image, got {len(x)} and {len(mu)}")
    eps = torch.randn((s, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
    z = (mu + torch.exp(0.5 * logvar) * eps).reshape(s * len(mu), -1)  # (S*B, K)
    x_rep = x.unsqueeze(0).expand(s, *x.shape).reshape(s * len(x), *x.shape[1:])
    return model.log_likelihood(x_rep, z).reshape(s, len(x)).mean(0)


def elbo_of_q(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The ELBO of q = N(mu, diag exp(logvar)) for each image -> ``(B,)`` nats:
    :func:`expected_log_likelihood` minus the closed-form KL(q || N(0, I)). Differentiable in
    ``mu`` and ``logvar``; with the encoder's ``mu, logvar`` it is the model's own ELBO.
    """
    recon = expected_log_likelihood(model, x, mu, logvar, n_samples, generator)
    return recon - gaussian_kl(mu, logvar)


def fit_local_q(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    steps: int = 100,
    lr: float = 0.05,
    n_samples: int = 4,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's own Gaussian q, optimised on its ELBO: Adam over ``mu`` and ``logvar``
    ``(B, K)`` (the start, e.g. the encoder's) for ``steps`` steps, each on a fresh
    ``n_samples``-draw ELBO estimate, with the learning rate decaying from ``lr`` to 0 on a
    cosine, so that the noisy steps settle -> the optimised ``(mu, logvar)``, detached
    (notebook 08).

    The model is not changed (its weights take no gradient) and is used in eval mode. Every
    image's ELBO depends on its own row only, so one Adam on the sum optimises all rows at once.
    """
    _check_log_likelihood_model(model)
    _check_q(mu, logvar)
    check_positive_int("steps", steps)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    params = list(model.parameters()) if isinstance(model, nn.Module) else []
    trainable = [p.requires_grad for p in params]
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: 0.5 * (1.0 + math.cos(math.pi * t / steps))
    )
    try:
        for p in params:
            p.requires_grad_(False)
        with torch.enable_grad():
            for _ in range(steps):
                optimizer.zero_grad()
                loss = -elbo_of_q(model, x, mu, logvar, n_samples, generator).sum()
                loss.backward()
                optimizer.step()
                schedule.step()
    finally:
        for p, flag in zip(params, trainable):
            p.requires_grad_(flag)
        if isinstance(model, nn.Module):
            model.train(was_training)
    return mu.detach(), logvar.detach()


@torch.no_grad()
def rate_distortion(
    model: nn.Module,
    x: torch.Tensor,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
    batch_size: int = 1000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's ``(rate, distortion)``, both ``(B,)`` nats (Alemi et al., 2018):
    rate = KL(q(z|x) || p(z)) in closed form, distortion = -E_q log p(x|z) over ``n_samples``
    draws. Their sum is the negative ELBO; ``model`` is a VAE (``encode`` and
    ``log_likelihood``), used in eval mode, in chunks of ``batch_size`` images.
    """
    for attr in ("encode", "log_likelihood"):
        if not hasattr(model, attr):
            raise TypeError(
                f"model must have encode(x) and log_likelihood(x, z), like "
                f"lecture_utils.models.VAE; {type(model).__name__} has no {attr!r}"
            )
    check_tensor("x", x)
    if len(x) == 0:
        raise ValueError("x holds no images")
    check_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    try:
        rates, distortions = [], []
        for chunk in x.split(batch_size):
            mu, logvar = model.encode(chunk)
            rates.append(gaussian_kl(mu, logvar))
            distortions.append(
                -expected_log_likelihood(model, chunk, mu, logvar, n_samples, generator)
            )
    finally:
        model.train(was_training)
    return torch.cat(rates), torch.cat(distortions)


# ----------------------------------------------------------------------- aggregate posterior
def aggregate_log_density(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """log q(z) of the aggregate posterior q(z) = (1/N) sum_n N(z; mu_n, diag exp(logvar_n))
    at points ``z`` ``(M, K)`` -> ``(M,)``; ``mu`` and ``logvar`` ``(N, K)`` are the N digits'
    posteriors. Exact (a log-sum-exp over the N components), ``chunk`` points at a time."""
    _check_q(mu, logvar)
    check_tensor("z", z, shape=(None, mu.shape[1]))
    check_positive_int("chunk", chunk)
    inv_var = (-logvar).exp()  # (N, K)
    const = -0.5 * (mu.shape[1] * LOG_2PI + logvar.sum(1))  # (N,)
    parts = []
    for part in z.split(chunk):
        sq = ((part[:, None, :] - mu[None]) ** 2 * inv_var[None]).sum(-1)  # (m, N)
        parts.append(torch.logsumexp(const[None] - 0.5 * sq, dim=1) - math.log(len(mu)))
    return torch.cat(parts)


def aggregate_posterior_grid(
    mu: torch.Tensor, logvar: torch.Tensor, h: float = 0.04, half_width: float = 6.0
) -> dict[str, torch.Tensor]:
    """The aggregate posterior of a 2-D latent on a grid, and the split of the KL term
    E_x KL(q(z|x) || p(z)) = I(x; z) + KL(q(z) || p(z)) (notebook 08; notebook 07 derives it).

    Cells of side ``h`` cover ``[-half_width, half_width]^2``; integrals use the midpoint rule.
    Each q(z|x_n) factorises over the two coordinates, so q on the grid is one matrix product.
    I(x; z) = H(q(z)) - E_x H(q(z|x)), the second entropy in closed form. In float64.

    Args:
        mu, logvar: the N digits' posteriors ``(N, 2)``.

    Returns:
        ``axis`` ``(G,)`` cell centres; ``q`` and ``log_p`` ``(G, G)`` with ``q[i, j]`` the
        density at ``(z1, z2) = (axis[j], axis[i])``; scalars ``mass`` (q's integral on the
        grid, about 1), ``mean_kl`` (closed form), ``mutual_information``, ``marginal_kl``.
    """
    _check_q(mu, logvar)
    if mu.shape[1] != 2:
        raise ValueError(
            f"aggregate_posterior_grid needs a 2-D latent (mu of shape (N, 2)), got "
            f"{tuple(mu.shape)}; use aggregate_log_density for any K"
        )
    h = check_number("h", h, low=0.0, low_open=True)
    half_width = check_number("half_width", half_width, low=h, low_open=True)
    mu, logvar = mu.detach().double(), logvar.detach().double()
    std = (0.5 * logvar).exp()
    axis = torch.arange(-half_width + h / 2, half_width, h, dtype=torch.float64)  # (G,)

    def marginal(k: int) -> torch.Tensor:  # (N, G): q(z_k = axis | x_n)
        return torch.exp(-0.5 * ((axis[None] - mu[:, k : k + 1]) / std[:, k : k + 1]) ** 2) / (
            std[:, k : k + 1] * math.sqrt(2 * math.pi)
        )

    q = marginal(1).T @ marginal(0) / len(mu)  # (G, G)
    log_p1 = -0.5 * (axis**2 + LOG_2PI)
    log_p = log_p1[:, None] + log_p1[None, :]
    log_q = q.clamp_min(1e-300).log()  # q log q -> 0 where q underflows to 0
    area = h * h
    cond_entropy = (0.5 * (1.0 + LOG_2PI + logvar)).sum(1).mean()
    return {
        "axis": axis,
        "q": q,
        "log_p": log_p,
        "mass": q.sum() * area,
        "mean_kl": gaussian_kl(mu, logvar).mean(),
        "mutual_information": -(q * log_q).sum() * area - cond_entropy,
        "marginal_kl": (q * (log_q - log_p)).sum() * area,
    }
