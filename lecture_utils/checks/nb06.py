"""Checks for the exercises of notebook 06 (the variational autoencoder).

- :func:`check_sample_z`: the reparameterized sample z = mu + sigma * eps (Exercise 6.1);
- :func:`check_negative_elbo`: the batch's mean negative ELBO for a Bernoulli decoder (6.2);
- :func:`check_log_mean_exp`: the importance-sampled estimate from log weights (6.3).

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
    z = expect_shape(
        name,
        run_student(name, sample_z, mu_, logvar_, eps),
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
    got = run_student(name, negative_elbo, logits, x, mu, logvar)
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
def check_log_mean_exp(log_mean_exp: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Exercise 6.3: ``log_mean_exp(log_w)`` for log weights ``(S, B)`` (S importance samples
    for each of B images) -> ``(B,)``: log (1/S) sum_s exp(log_w[s]), stable for weights around
    e^-1000."""
    name = "Exercise 6.3"
    g = gen(63)
    s, b = 50, 4
    spread = 3.0 * torch.randn(s, b, generator=g, dtype=torch.float64)
    # small values: float64 exponentials are exact enough to be the reference
    small = spread.float()
    expected_small = torch.log(torch.exp(spread).mean(0)).float()
    got = expect_shape(
        name,
        run_student(name, log_mean_exp, small.clone()),
        (b,),
        "Average over the S samples (dim 0): one estimate per image.",
    )
    variants = {
        "That is the mean of the log weights (an S-sample ELBO); take the log of the mean of "
        "the weights instead: logsumexp(log_w, 0) - log S.": small.mean(0),
        "The average needs the 1/S: subtract log S.": torch.logsumexp(small, 0),
        "The maximum alone is not the average; use logsumexp(log_w, 0) - log S.": small.max(
            0
        ).values,
    }
    hint = matching_hint(
        got, variants, "Expected log((1/S) * sum_s exp(log_w[s])) for each column.", atol=1e-5
    )
    expect_close(name, got, expected_small, rtol=1e-5, atol=1e-4, hint=hint)
    shift = -1000.0  # an MNIST digit's log p(x, z) is about -100 nats; here far lower
    big = (spread + shift).float()
    expected_big = (torch.log(torch.exp(spread).mean(0)) + shift).float()
    got_big = run_student(name, log_mean_exp, big.clone())
    if isinstance(got_big, torch.Tensor) and not torch.isfinite(got_big).all():
        raise ExerciseError(
            f"{name}: with log weights near -1000, exp underflows to 0 and the "
            "log gives -inf: subtract the maximum before exponentiating, or use "
            "torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0]) (that is, "
            "log S for S samples)."
        )
    expect_close(
        name,
        got_big,
        expected_big,
        rtol=1e-5,
        atol=1e-3,
        hint="Shift by the maximum: m + log(mean(exp(log_w - m))).",
    )
    passed(name, f"stable for log weights near {shift:.0f}; log S = {math.log(s):.3f} subtracted")
