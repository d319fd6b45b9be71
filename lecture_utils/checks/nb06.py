"""Checks for the exercises of notebook 06 (the variational autoencoder).

- :func:`check_sample_z`: the reparameterized sample z = mu + sigma * eps (Exercise 6.1);
- :func:`check_negative_elbo`: the batch's mean negative ELBO for a Bernoulli decoder (6.2);
- :func:`check_importance_log_weights`: the log importance weights
  log p(x|z) + log p(z) - log q(z|x) (6.3).

References are independent of the solutions: ``torch.distributions`` (Bernoulli, Normal and
their KL), float64 arithmetic on shifted exponentials, and autograd for the gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)

LOGITS_HINT = (
    "The decoder gives logits (any real number), not probabilities: use "
    "F.binary_cross_entropy_with_logits(logits, x, reduction='none'), which applies the sigmoid "
    "inside, stably (or torch.distributions.Bernoulli(logits=logits).log_prob(x))."
)


def _call(name: str, fn: Callable[..., torch.Tensor], axes: str, *args: torch.Tensor) -> object:
    """Run the student's function; explain the two errors torch raises for typical mistakes:
    probabilities expected but logits given, and shapes that do not broadcast (a sum over the
    wrong axis). ``axes`` says which axes the sums run over."""
    try:
        return run_student(name, fn, *args)
    except RuntimeError as err:
        text = str(err)
        if "between 0 and 1" in text:
            raise ExerciseError(
                f"{name}: F.binary_cross_entropy raised 'all elements of input should be "
                f"between 0 and 1'. {LOGITS_HINT}"
            ) from None
        if "must match the size" in text or "broadcast" in text:
            raise ExerciseError(
                f"{name}: two of your terms have shapes that do not fit together ({text}). "
                f"Most likely a sum ran over the wrong axis: {axes}"
            ) from None
        raise


def _nan_logits(name: str, got: object) -> None:
    """A NaN in a Bernoulli log-likelihood nearly always comes from log() of a logit."""
    if isinstance(got, torch.Tensor) and got.is_floating_point() and torch.isnan(got).any():
        raise ExerciseError(
            f"{name}: the result contains NaN. Likely cause: log() of a logit, which is "
            f"negative for half the pixels (log of a negative number is NaN). {LOGITS_HINT}"
        )


# --------------------------------------------------------------------------- Exercise 6.1
def check_sample_z(
    sample_z: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> None:
    """Exercise 6.1: ``sample_z(mu, logvar, eps) -> z`` with z = mu + exp(logvar / 2) * eps.

    Checked on fixed inputs against ``Normal(mu, std)``'s quantiles (a draw of N(mu, sigma^2)
    at the standard normal's value eps), then for the gradients dz/dmu = 1 and
    dz/dlogvar = sigma * eps / 2 through autograd.
    """
    name = "Exercise 6.1"
    g = gen(61)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g)
    eps = torch.randn(4, 3, generator=g)
    # the draw of N(mu, sigma^2) at the same quantile as eps under N(0, 1), in float64
    u = Normal(0.0, 1.0).cdf(eps.double())
    expected = Normal(mu.double(), torch.sqrt(torch.exp(logvar.double()))).icdf(u).float()
    mu_, logvar_ = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    z = run_student(name, sample_z, mu_, logvar_, eps)
    if isinstance(z, torch.Tensor) and z.is_floating_point() and torch.isnan(z).any():
        raise ExerciseError(
            f"{name}: the result contains NaN. Likely cause: sqrt() or log() of logvar, which is "
            "negative whenever sigma < 1 (logvar is a log, any real number). The standard "
            "deviation is sigma = exp(0.5 * logvar)."
        )
    z = expect_shape(
        name,
        z,
        (4, 3),
        "z has the shape of mu: one code per image and latent dimension.",
    )
    zd = z.detach()
    variants = {
        "You scaled eps by the variance exp(logvar); the standard deviation is "
        "sigma = exp(logvar / 2) = exp(0.5 * logvar).": mu + torch.exp(logvar) * eps,
        "logvar is the log of the variance, not the standard deviation: "
        "use sigma = exp(0.5 * logvar).": mu + logvar * eps,
        "Wrong sign: sigma = exp(+0.5 * logvar).": mu + torch.exp(-0.5 * logvar) * eps,
        "z = mu + sigma * eps: eps is the one scaled by sigma.": mu * torch.exp(0.5 * logvar) + eps,
        "The mean mu is missing: z = mu + sigma * eps.": torch.exp(0.5 * logvar) * eps,
    }
    hint = matching_hint(
        zd,
        variants,
        "Expected z = mu + exp(0.5 * logvar) * eps, elementwise, using the eps given.",
        atol=1e-5,
    )
    expect_close(name, zd, expected, rtol=1e-4, atol=1e-4, hint=hint)
    if not z.requires_grad:
        raise ExerciseError(
            f"{name}: the values are right but no gradient reaches mu and logvar "
            "(did you use torch.no_grad(), .detach(), .item() or torch.normal?). "
            "Build z from mu and logvar with tensor arithmetic."
        )
    z.sum().backward()
    grad_mu, grad_logvar = mu_.grad, logvar_.grad
    if grad_mu is None or grad_logvar is None:
        raise ExerciseError(
            f"{name}: gradients do not reach both mu and logvar; compute z from both."
        )
    expect_close(
        f"{name} (dz/dmu)", grad_mu, torch.ones_like(mu), hint="dz/dmu should be 1 everywhere."
    )
    expect_close(
        f"{name} (dz/dlogvar)",
        grad_logvar,
        0.5 * torch.exp(0.5 * logvar) * eps,
        hint="dz/dlogvar should be sigma * eps / 2.",
    )
    passed(name, "z ~ N(mu, sigma^2) and gradients flow to mu and logvar")


# --------------------------------------------------------------------------- Exercise 6.2
def check_negative_elbo(negative_elbo: Callable[..., torch.Tensor]) -> None:
    """Exercise 6.2: ``negative_elbo(logits, x, mu, logvar) -> scalar``, the batch mean of
    -log p(x|z) (Bernoulli, summed over pixels) + KL(N(mu, sigma^2) || N(0, I)) (summed over z)."""
    name = "Exercise 6.2"
    g = gen(62)
    b, d, k = 6, 20, 3
    logits = 3.0 * torch.randn(b, d, generator=g)
    x = torch.bernoulli(torch.full((b, d), 0.4), generator=g)
    mu = torch.randn(b, k, generator=g)
    logvar = 0.5 * torch.randn(b, k, generator=g)
    recon = -Bernoulli(logits=logits).log_prob(x).sum(1)  # (B,)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)  # (B,)
    expected = (recon + kl).mean()
    got = _call(
        name,
        negative_elbo,
        "sum the reconstruction over pixels (dim 1 of logits) and the KL over latent "
        "dimensions (dim 1 of mu), then average over the batch.",
        logits,
        x,
        mu,
        logvar,
    )
    _nan_logits(name, got)
    if isinstance(got, torch.Tensor) and got.shape == (b,):
        raise ExerciseError(
            f"{name}: expected one number for the batch (shape ()), got shape "
            f"{tuple(got.shape)}: average the per-image values with .mean()."
        )
    got = expect_shape(name, got, (), "Return a scalar: the mean over the batch.")
    variants = {
        "You summed over the batch; take the mean over images (sum over pixels and latent "
        "dimensions inside each image).": (recon + kl).sum(),
        "The KL term is missing: add KL(q(z|x) || p(z)) = "
        "0.5 * sum(mu^2 + exp(logvar) - 1 - logvar).": recon.mean(),
        "The KL term has the wrong sign: the negative ELBO is reconstruction loss PLUS the KL.": (
            recon - kl
        ).mean(),
        "The reconstruction term is missing: -log p(x|z), summed over pixels.": kl.mean(),
        "You averaged over pixels / latent dimensions; sum over them (a log-probability of the "
        "whole image), average only over the batch.": (recon / d + kl / k).mean(),
        "You averaged the reconstruction over pixels; sum it over them "
        "(binary_cross_entropy_with_logits(..., reduction='none').sum(1)).": (
            recon / d + kl
        ).mean(),
        "The reconstruction term has the wrong sign: the loss is -log p(x|z), which is >= 0 "
        "for Bernoulli pixels.": (-recon + kl).mean(),
    }
    hint = matching_hint(
        got,
        variants,
        "-ELBO = mean over images of [BCE summed over pixels + KL summed over z].",
        atol=1e-5,
    )
    expect_close(name, got, expected, rtol=1e-4, atol=1e-4, hint=hint)
    passed(name, f"-ELBO = {float(expected):.4f} nats per image on the test batch")


# --------------------------------------------------------------------------- Exercise 6.3
def check_importance_log_weights(importance_log_weights: Callable[..., torch.Tensor]) -> None:
    """Exercise 6.3: ``importance_log_weights(x, logits, z, mu, logvar) -> (S, B)``, the log
    importance weights log p(x|z_s) + log p(z_s) - log q(z_s|x) of S codes for each of B images.

    Shapes: ``x`` ``(B, D)`` binary pixels, ``logits`` ``(S, B, D)`` the decoder's logits for the
    codes ``z`` ``(S, B, K)``, ``mu`` and ``logvar`` ``(B, K)`` the encoder's q(z|x). The
    reference uses ``torch.distributions`` (Bernoulli, Normal) in float64. The test case has
    K = 3, S = 5 and B = 4, so that summing over the wrong axis changes the shape.
    """
    name = "Exercise 6.3"
    g = gen(63)
    s, b, d, k = 5, 4, 7, 3
    x = torch.bernoulli(torch.full((b, d), 0.4), generator=g)
    mu = torch.randn(b, k, generator=g)
    logvar = 0.6 * torch.randn(b, k, generator=g) - 0.5
    eps = torch.randn(s, b, k, generator=g)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = 2.0 * torch.randn(s, b, d, generator=g)
    xd, zd, mud, lvd, ld = x.double(), z.double(), mu.double(), logvar.double(), logits.double()
    log_px_z = Bernoulli(logits=ld).log_prob(xd.expand(s, b, d)).sum(-1)  # (S, B)
    log_pz = Normal(0.0, 1.0).log_prob(zd).sum(-1)  # (S, B)
    log_qz = Normal(mud, torch.exp(0.5 * lvd)).log_prob(zd).sum(-1)  # (S, B)
    expected = (log_px_z + log_pz - log_qz).float()
    const = 0.5 * k * math.log(2 * math.pi)  # the log 2 pi part of a K-dim Gaussian density
    got = _call(
        name,
        importance_log_weights,
        "log p(x|z) sums over the pixels (dim -1 of logits), log p(z) and log q(z|x) over the "
        "latent dimensions (dim -1 of z); the result keeps dims (S, B).",
        x,
        logits,
        z,
        mu,
        logvar,
    )
    _nan_logits(name, got)
    if isinstance(got, torch.Tensor):
        shape = tuple(got.shape)
        wrong_axis = {
            (s, b, d): "you did not sum log p(x|z) over the pixels (dim -1 of logits)",
            (s, b, k): "you did not sum log p(z) and log q(z|x) over the latent dimensions "
            "(dim -1 of z)",
            (b,): "you summed over the samples (dim 0); keep one weight per sample and image",
            (s,): "you summed over the images (dim 1); keep one weight per sample and image",
        }
        if shape in wrong_axis:
            raise ExerciseError(
                f"{name}: expected shape {(s, b)}, got {shape}: {wrong_axis[shape]}. Each "
                "log-density is a sum over its own last dimension (pixels D or latent K)."
            )
    got = expect_shape(name, got, (s, b), "One log weight per sample and image: shape (S, B).")
    variants = {
        "The sign of log q(z|x) is wrong: the weight is p(x|z) p(z) / q(z|x), so its log "
        "SUBTRACTS log q(z|x).": log_px_z + log_pz + log_qz,
        "log p(z) is missing: the weight's numerator is the joint p(x, z) = p(x|z) p(z); add "
        "the standard normal's log-density of z.": log_px_z - log_qz,
        "log q(z|x) is missing: divide by the proposal, i.e. subtract log q(z|x).": log_px_z
        + log_pz,
        "log p(x|z) is missing: add the decoder's Bernoulli log-likelihood, summed over "
        "pixels.": log_pz - log_qz,
        "log p(z) lacks its constant -K/2 log(2 pi) while log q(z|x) has it: give both "
        "Gaussian log-densities their constants (or neither; they cancel).": log_px_z
        + log_pz
        + const
        - log_qz,
        "log q(z|x) lacks its constant -K/2 log(2 pi) while log p(z) has it: give both "
        "Gaussian log-densities their constants (or neither; they cancel).": log_px_z
        + log_pz
        - log_qz
        - const,
        "log q(z|x) needs -1/2 sum(logvar), the log of 1/sigma: the density of N(mu, sigma^2) "
        "is exp(-(z - mu)^2 / (2 sigma^2)) / sqrt(2 pi sigma^2).": log_px_z
        + log_pz
        - log_qz
        - 0.5 * lvd.sum(-1),
        "log q(z|x) divides (z - mu)^2 by the standard deviation; divide by the variance "
        "exp(logvar).": log_px_z
        + log_pz
        - (-0.5 * ((zd - mud) ** 2 / torch.exp(0.5 * lvd) + lvd + math.log(2 * math.pi))).sum(-1),
        "The Bernoulli log-likelihood has the wrong sign: log p(x|z) is MINUS the binary "
        "cross-entropy (it is <= 0).": -log_px_z + log_pz - log_qz,
        "You used sigmoid(logits) where the log-probability belongs: log p(x|z) = "
        "x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)), summed over pixels.": (
            torch.where(xd.bool(), torch.sigmoid(ld), 1 - torch.sigmoid(ld)).sum(-1)
            + log_pz
            - log_qz
        ),
    }
    hint = matching_hint(
        got,
        variants,
        "Expected log p(x|z) + log p(z) - log q(z|x): Bernoulli(logits) summed over pixels, "
        "N(0, I) and N(mu, exp(logvar)) summed over the K latent dimensions.",
        atol=1e-3,
    )
    expect_close(name, got, expected, rtol=1e-4, atol=1e-3, hint=hint)
    passed(name, f"{s} x {b} log weights, each log p(x|z) + log p(z) - log q(z|x)")
