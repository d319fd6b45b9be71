"""Checks for the exercises of 05_mle_and_elbo.

References: ``torch.distributions.kl_divergence`` for the KL between Gaussians, the exact
posterior of :class:`lecture_utils.toy.LinearGaussian` (``MultivariateNormal.log_prob``) for
Bayes' rule, and its exact log p(x) and closed-form ELBO (no sampling) for the Monte Carlo ELBO
and for the gap log p(x) - ELBO. Typical mistakes are recognised by their
closed-form values and named in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)
from lecture_utils.losses import LOG_2PI
from lecture_utils.toy import LinearGaussian

f64 = torch.float64


def _diag(mu: torch.Tensor, logvar: torch.Tensor) -> Normal:
    return Normal(mu, (0.5 * logvar).exp())


@torch.no_grad()
def check_kl_diag_gaussians(kl_diag_gaussians: Callable) -> None:
    """Exercise 5.4: KL(N(mu_q, diag e^logvar_q) || N(mu_p, diag e^logvar_p)) -> (B,)."""
    name = "Exercise 5.4"
    g = gen(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 3, generator=g, dtype=f64) for _ in range(4))
    q, p = _diag(mu_q, lv_q), _diag(mu_p, lv_p)
    per_dim = kl_divergence(q, p)  # (B, K)
    expected = per_dim.sum(1)
    got = run_student(name, kl_diag_gaussians, mu_q, lv_q, mu_p, lv_p)
    expect_shape(
        name,
        got,
        (5,),
        "Sum the KL over the latent dimension (the last one): one number per example.",
    )
    std_as_var = 0.5 * (
        lv_p - lv_q + ((0.5 * lv_q).exp() + (mu_q - mu_p) ** 2) / (0.5 * lv_p).exp() - 1
    )
    variants = {
        "Wrong sign: the KL is E_q[log q - log p] and never negative.": -expected,
        "You computed KL(p || q): the first distribution, the one we average over, is q.": kl_divergence(
            p, q
        ).sum(1),
        "Sum over the latent dimensions; do not average them.": per_dim.mean(1),
        "The '- 1' term (one per latent dimension) is missing.": expected + 1.5,
        "The factor 1/2 in front is missing.": 2 * expected,
        "exp(logvar) is the variance; the standard deviation is exp(logvar / 2).": std_as_var.sum(
            1
        ),
    }
    hint = matching_hint(
        got,
        variants,
        "Per dimension: 1/2 [logvar_p - logvar_q + (e^logvar_q + "
        "(mu_q - mu_p)^2) / e^logvar_p - 1], summed over the dimensions.",
    )
    expect_close(name, got, expected, hint=hint)
    same = run_student(name, kl_diag_gaussians, mu_q, lv_q, mu_q.clone(), lv_q.clone())
    expect_close(
        name,
        same,
        torch.zeros(5, dtype=f64),
        atol=1e-10,
        hint="The KL of a distribution to itself must be 0.",
    )
    passed(name, "matches torch.distributions.kl_divergence on 5 random pairs; KL(q || q) = 0")


def _linear_gaussian_case():
    """A model with a full-covariance posterior, 3 points, and a diagonal q that is off."""
    model = LinearGaussian.random(4, 2, sigma=0.8, generator=gen(7))  # posterior correlation 0.67
    x, _ = model.sample(3, gen(2))
    post_mean, _ = model.posterior(x)
    q_mean = post_mean + torch.tensor([0.4, -0.3], dtype=f64)
    q_logvar = torch.tensor([[-1.6, -0.4]], dtype=f64).expand(3, 2).clone()
    return model, x, q_mean, q_logvar


def _gaussian_cross_terms(model, x, m, sample_var, log_q_var):
    """E over z ~ N(m, diag sample_var) of log p(x, z) - log N(z; m_q, diag e^log_q_var), where
    m_q = m (used by the closed forms of the typical mistakes)."""
    e_log_lik = model.expected_log_likelihood(x, m, sample_var.log())
    e_log_prior = -0.5 * (LOG_2PI + m**2 + sample_var).sum(1)
    e_log_q = -0.5 * (LOG_2PI + log_q_var + sample_var / log_q_var.exp()).sum(1)
    return e_log_lik + e_log_prior - e_log_q


@torch.no_grad()
def check_mc_elbo(mc_elbo: Callable) -> None:
    """Exercise 5.1: a Monte Carlo ELBO, against the closed-form ELBO of a linear-Gaussian model."""
    name = "Exercise 5.1"
    model, x, q_mean, q_logvar = _linear_gaussian_case()
    n = 20_000
    expected = model.elbo(x, q_mean, q_logvar)
    got = run_student(name, mc_elbo, model.log_joint, x, q_mean, q_logvar, n, gen(3))
    expect_shape(name, got, (3,), "Average over the samples only (dim 0 of the (S, B) terms).")
    entropy = 0.5 * (1 + LOG_2PI + q_logvar).sum(1)
    zeros = torch.zeros_like(q_mean)
    e_prior = (
        model.expected_log_likelihood(x, zeros, zeros)
        - 0.5 * (1 + LOG_2PI) * 2
        + 0.5 * (LOG_2PI + q_logvar + (1 + q_mean**2) / q_logvar.exp()).sum(1)
    )
    variants = {
        "You left out '- log q(z|x)': the ELBO averages log p(x, z) - log q(z|x).": expected
        - entropy,
        "Sample z from q(z|x), not from the prior: z = mu + exp(logvar / 2) * eps.": e_prior,
        "The standard deviation of q is exp(logvar / 2), not exp(logvar).": _gaussian_cross_terms(
            model, x, q_mean, (2 * q_logvar).exp(), q_logvar
        ),
        "Wrong sign: return the mean of log p(x, z) - log q(z|x).": -expected,
    }
    hint = matching_hint(
        got,
        variants,
        "Draw eps ~ N(0, I) of shape (S, B, K) with the generator, "
        "set z = mu + exp(logvar / 2) * eps, and average log_joint(x, z) - "
        "log q(z|x) over the S samples.",
        atol=0.2,
    )
    expect_close(name, got, expected, rtol=0, atol=0.2, hint=hint)  # about 5 standard errors
    again = run_student(name, mc_elbo, model.log_joint, x, q_mean, q_logvar, n, gen(3))
    if not torch.equal(torch.as_tensor(again), got):
        raise ExerciseError(
            f"{name}: two calls with the same generator gave different results; "
            "draw eps with torch.randn(..., generator=generator)."
        )
    passed(name, f"within 0.2 nats of the closed-form ELBO with {n:,} samples")


@torch.no_grad()
def check_log_posterior(log_posterior: Callable) -> None:
    """Exercise 5.2: log p(z|x) = log p(x, z) - log p(x), against the exact Gaussian posterior."""
    name = "Exercise 5.2"
    model, x, _, _ = _linear_gaussian_case()
    z = 2 * torch.randn(4, 3, 2, generator=gen(5), dtype=f64)  # (S, B, K)
    log_px = model.log_marginal(x)  # (B,)
    post_mean, post_cov = model.posterior(x)
    expected = MultivariateNormal(post_mean, post_cov).log_prob(z)  # (S, B)
    got = run_student(name, log_posterior, model.log_joint, x, z, log_px)
    expect_shape(
        name,
        got,
        (4, 3),
        "One value per code and data point: shape (S, B), like "
        "log_joint(x, z); log_px (B,) broadcasts over the samples.",
    )
    log_joint = model.log_joint(x, z)
    variants = {
        "You returned log p(x, z): Bayes' rule divides it by p(x), so subtract log_px.": log_joint,
        "Dividing by p(x) means subtracting log p(x), not adding it.": log_joint + log_px,
        "Wrong sign: log p(z|x) = log p(x, z) - log p(x), not the other way round.": -expected,
        "Subtract each point's own log p(x) (log_px[b] in column b), not their mean.": log_joint
        - log_px.mean(),
        "log p(x|z) alone misses the prior: the numerator of Bayes' rule is the joint "
        "log p(x|z) + log p(z), which log_joint(x, z) gives.": model.log_likelihood(x, z) - log_px,
        "Return the log-density, not the density: no exp.": expected.exp(),
    }
    hint = matching_hint(
        got, variants, "Bayes' rule in logs: log p(z|x) = log_joint(x, z) - log_px, shape (S, B)."
    )
    expect_close(name, got, expected, rtol=1e-6, atol=1e-8, hint=hint)
    passed(name, "log p(x, z) - log p(x) equals the exact log p(z|x) at 12 codes of 3 points")


@torch.no_grad()
def check_elbo_gap(elbo_gap: Callable) -> None:
    """Exercise 5.3: KL(q || p(z|x)) must equal log p(x) - ELBO (exact, no sampling)."""
    name = "Exercise 5.3"
    model, x, q_mean, q_logvar = _linear_gaussian_case()
    post_mean, post_cov = model.posterior(x)
    expected = model.log_marginal(x) - model.elbo(x, q_mean, q_logvar)
    got = run_student(name, elbo_gap, q_mean, q_logvar, post_mean, post_cov)
    expect_shape(name, got, (3,), "One gap per example: shape (B,).")
    q = Independent(_diag(q_mean, q_logvar), 1)
    post = MultivariateNormal(post_mean, post_cov)
    diag_post = Independent(Normal(post_mean, post_cov.diagonal().sqrt()), 1)
    variants = {
        "You computed KL(p(z|x) || q): the gap is KL(q || p(z|x)), the average is over q.": kl_divergence(
            post, MultivariateNormal(q_mean, torch.diag_embed(q_logvar.exp()))
        ),
        "Use the full posterior covariance (its inverse and log-determinant), not only its "
        "diagonal: the posterior's dimensions are correlated.": kl_divergence(q, diag_post),
        "Wrong sign: the gap log p(x) - ELBO is a KL, never negative.": -expected,
        "The '- K' term is missing (K = the latent size).": expected + 0.5 * q_mean.shape[1],
    }
    hint = matching_hint(
        got,
        variants,
        "KL(N(m, Sigma_q) || N(mu, C)) = 1/2 [tr(C^-1 Sigma_q) + "
        "(mu - m)^T C^-1 (mu - m) - K + log det C - log det Sigma_q], with "
        "Sigma_q = diag(exp(q_logvar)).",
    )
    expect_close(name, got, expected, rtol=1e-6, atol=1e-8, hint=hint)
    exact = run_student(
        name,
        elbo_gap,
        post_mean,
        post_cov.diagonal().log().expand(3, -1),
        post_mean,
        torch.diag(post_cov.diagonal()),
    )
    expect_close(
        name,
        exact,
        torch.zeros(3, dtype=f64),
        atol=1e-10,
        hint="When q equals the posterior, the gap must be 0.",
    )
    passed(name, "your KL(q || p(z|x)) equals log p(x) - ELBO for 3 points: the derivation holds")
