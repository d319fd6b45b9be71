"""Checks for the exercises of 05_mle_and_elbo.

References: ``torch.distributions.kl_divergence`` for the KL between Gaussians, the exact
log-densities of :class:`lecture_utils.toy.LinearGaussian` (prior, likelihood, the Gaussian q and
the exact posterior ``MultivariateNormal.log_prob``) for the lines of the lecture's derivation,
and its exact log p(x) and closed-form ELBO (no sampling) for the Monte Carlo ELBO and for the
gap log p(x) - ELBO. Typical mistakes are recognised by their closed-form values and named in
the hint.

Exercises: 5.1 ``mc_elbo``, 5.2 ``lecture_chain`` (the lecture slide's derivation, line by
line), 5.3 ``kl_diag_gaussians`` (the 1-D Gaussian KL, summed over dimensions), 5.4 ``elbo_gap``
(the same KL with a full covariance: the gap of the ELBO).
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


_LOGVAR_NAN = (
    "A NaN usually comes from the log (or log-determinant, or square root) of a negative "
    "number: a logvar is the log of a variance and is often negative. The variance is "
    "exp(logvar), and the log-determinant of diag(exp(logvar)) is logvar.sum(-1)."
)


def _expect_finite(name: str, got: object, cause: str) -> None:
    """Fail with ``cause`` (the likely reason) when a tensor result holds NaN or inf values."""
    if isinstance(got, torch.Tensor) and got.is_floating_point() and not torch.isfinite(got).all():
        raise ExerciseError(f"{name}: the result contains NaN or inf values. {cause}")


@torch.no_grad()
def check_kl_diag_gaussians(kl_diag_gaussians: Callable) -> None:
    """Exercise 5.3: KL(N(mu_q, diag e^logvar_q) || N(mu_p, diag e^logvar_p)) -> (B,)."""
    name = "Exercise 5.3"
    g = gen(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 3, generator=g, dtype=f64) for _ in range(4))
    q, p = _diag(mu_q, lv_q), _diag(mu_p, lv_p)
    per_dim = kl_divergence(q, p)  # (B, K)
    expected = per_dim.sum(1)
    got = run_student(name, kl_diag_gaussians, mu_q, lv_q, mu_p, lv_p)
    _expect_finite(name, got, _LOGVAR_NAN)
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
    """A model with a full-covariance posterior, 3 points, and a diagonal q that is off.

    The sum of q's logvars (-3.4) is far from -K = -2 on purpose: at -K, leaving out log q and
    leaving out only its log 2 pi constant would give the same ELBO (within 0.2 nats), and the
    check could not tell the two mistakes apart."""
    model = LinearGaussian.random(4, 2, sigma=0.8, generator=gen(7))  # posterior correlation 0.67
    x, _ = model.sample(3, gen(2))
    post_mean, _ = model.posterior(x)
    q_mean = post_mean + torch.tensor([0.4, -0.3], dtype=f64)
    q_logvar = torch.tensor([[-2.4, -1.0]], dtype=f64).expand(3, 2).clone()
    return model, x, q_mean, q_logvar


def _gaussian_cross_terms(model, x, m, sample_var, log_q_var):
    """E over z ~ N(m, diag sample_var) of log p(x, z) - log N(z; m_q, diag e^log_q_var), where
    m_q = m (used by the closed forms of the typical mistakes)."""
    e_log_lik = model.expected_log_likelihood(x, m, sample_var.log())
    e_log_prior = -0.5 * (LOG_2PI + m**2 + sample_var).sum(1)
    e_log_q = -0.5 * (LOG_2PI + log_q_var + sample_var / log_q_var.exp()).sum(1)
    return e_log_lik + e_log_prior - e_log_q


def _log_mean_weight(model, x, q_mean, q_logvar, n, generator):
    """log (1/n) sum_s p(x, z_s) / q(z_s|x) with z_s ~ q: line (c), the log of the average -> (B,)."""
    eps = torch.randn(n, *q_mean.shape, generator=generator, dtype=f64)
    z = q_mean + (0.5 * q_logvar).exp() * eps
    log_q = -0.5 * (LOG_2PI + q_logvar + eps**2).sum(-1)
    return torch.logsumexp(model.log_joint(x, z) - log_q, dim=0) - torch.log(torch.tensor(float(n)))


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
        "Your log q(z|x) misses the constant of the Gaussian density: each of the K dimensions "
        "has -1/2 log(2 pi) in it, as in -1/2 (log(2 pi) + logvar + eps^2).": expected
        - 0.5 * LOG_2PI * q_mean.shape[1],
        "Sample z from q(z|x), not from the prior: z = mu + exp(logvar / 2) * eps.": e_prior,
        "The standard deviation of q is exp(logvar / 2), not exp(logvar).": _gaussian_cross_terms(
            model, x, q_mean, (2 * q_logvar).exp(), q_logvar
        ),
        "Wrong sign: return the mean of log p(x, z) - log q(z|x).": -expected,
        "You took the log of the average of p(x, z) / q(z|x) (line (c), about log p(x)); the "
        "ELBO is the average of the logs, log p(x, z) - log q(z|x), with no logsumexp.": (
            _log_mean_weight(model, x, q_mean, q_logvar, n, gen(3))
        ),
    }
    hint = matching_hint(
        got,
        variants,
        "Draw eps ~ N(0, I) of shape (S, B, K) with the generator, "
        "set z = mu + exp(logvar / 2) * eps, and average log_joint(x, z) - "
        "log q(z|x) over the S samples.",
        atol=0.2,
    )
    expect_close(name, got, expected, rtol=0, atol=0.2, hint=hint)  # about 8 standard errors
    again = run_student(name, mc_elbo, model.log_joint, x, q_mean, q_logvar, n, gen(3))
    if not torch.equal(torch.as_tensor(again), got):
        raise ExerciseError(
            f"{name}: two calls with the same generator gave different results; "
            "draw eps with torch.randn(..., generator=generator)."
        )
    passed(name, f"within 0.2 nats of the closed-form ELBO with {n:,} samples")


CHAIN_KEYS = ("bayes", "reconstruction", "kl_prior", "kl_posterior")


def _chain_case():
    """Log-densities at codes z ~ q(z|x) for the 3 points of the check case: four (S, B) tensors."""
    model, x, q_mean, q_logvar = _linear_gaussian_case()
    eps = torch.randn(6, *q_mean.shape, generator=gen(11), dtype=f64)  # (S, B, K)
    z = q_mean + (0.5 * q_logvar).exp() * eps
    post_mean, post_cov = model.posterior(x)
    return {
        "log_lik": model.log_likelihood(x, z),
        "log_prior": model.log_prior(z),
        "log_q": Independent(_diag(q_mean, q_logvar), 1).log_prob(z),
        "log_post": MultivariateNormal(post_mean, post_cov).log_prob(z),
    }


@torch.no_grad()
def check_lecture_chain(lecture_chain: Callable) -> None:
    """Exercise 5.2: the lecture's derivation, each line as the quantity inside E_z[...].

    ``lecture_chain(log_lik, log_prior, log_q, log_post)`` gets log p(x|z), log p(z),
    log q(z|x) and the exact log p(z|x) at codes z ~ q(z|x), each ``(S, B)``, and returns a dict
    with the ``(S, B)`` integrands of the slide's lines: ``"bayes"`` (log of
    p(x|z) p(z) / p(z|x)), and the three terms of the 'logarithms' line: ``"reconstruction"``,
    ``"kl_prior"`` (inside KL(q || p(z))) and ``"kl_posterior"`` (inside KL(q || p(z|x))).
    The references are the model's exact log-densities, so every line is compared sample by
    sample; the 'Bayes' rule' line must also be constant in z and equal the exact log p(x).
    """
    name = "Exercise 5.2"
    case = _chain_case()
    lik, prior, log_q, post = case["log_lik"], case["log_prior"], case["log_q"], case["log_post"]
    got = run_student(name, lecture_chain, lik, prior, log_q, post)
    if not isinstance(got, dict) or set(got) != set(CHAIN_KEYS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise ExerciseError(
            f"{name}: return a dict with exactly the keys {list(CHAIN_KEYS)}, got {keys}."
        )
    shape = tuple(lik.shape)
    shape_hint = "Each line is one value per code and data point: shape (S, B), like log_lik."
    expected = {
        "bayes": lik + prior - post,
        "reconstruction": lik,
        "kl_prior": log_q - prior,
        "kl_posterior": log_q - post,
    }
    variants = {
        "bayes": {
            "The numerator of Bayes' rule is the joint p(x|z) p(z): add log_prior.": lik - post,
            "Upside down: Bayes' rule rearranged gives p(x) = p(x|z) p(z) / p(z|x), "
            "so log_lik + log_prior - log_post.": post - lik - prior,
            "Dividing by p(z|x) means subtracting log_post, not adding it.": lik + prior + post,
            "That is log p(x, z) (the product rule); Bayes' rule still divides it by "
            "p(z|x) to give p(x).": lik + prior,
        },
        "reconstruction": {
            "The first term is log p(x|z) alone: log p(z) belongs to the KL to the prior.": lik
            + prior,
            "That is the whole 'Bayes' rule' line; after 'logarithms' split it, the first "
            "term is only log p(x|z).": lik + prior - post,
        },
        "kl_prior": {
            "Sign: KL(q || p(z)) averages log q(z|x) - log p(z) over q. The minus sign of "
            "the slide stands in front of the KL, not inside it.": prior - log_q,
            "That compares q with the posterior p(z|x): the middle term compares q with the "
            "prior p(z).": log_q - post,
            "The 'multiply by constant' step brought in q(z|x)/q(z|x): the term is "
            "log q(z|x) - log p(z); without log q it is not a KL.": -prior,
        },
        "kl_posterior": {
            "Direction: the last term is KL(q || p(z|x)), the average of log q(z|x) - "
            "log p(z|x) over q; you wrote it the other way round.": post - log_q,
            "That compares q with the prior p(z): the last term compares q with the "
            "posterior p(z|x).": log_q - prior,
            "The 'multiply by constant' step brought in q(z|x)/q(z|x): the term is "
            "log q(z|x) - log p(z|x); without log q it is not a KL.": -post,
        },
    }
    defaults = {
        "bayes": "The 'Bayes' rule' line: log of p(x|z) p(z) / p(z|x). Its value is log p(x) "
        "at every z.",
        "reconstruction": "The first term of the 'logarithms' line: log p(x|z).",
        "kl_prior": "The middle term: log q(z|x) - log p(z), the inside of KL(q || p(z)).",
        "kl_posterior": "The last term: log q(z|x) - log p(z|x), the inside of KL(q || p(z|x)).",
    }
    for key in CHAIN_KEYS:
        value = got[key]
        _expect_finite(
            f"{name} ({key!r})",
            value,
            "Use the four log-densities as given; take no exp or log of them.",
        )
        expect_shape(f"{name} ({key!r})", value, shape, shape_hint)
        hint = matching_hint(value, variants[key], defaults[key])
        expect_close(f"{name} ({key!r})", value, expected[key], rtol=1e-6, atol=1e-8, hint=hint)
    passed(
        name,
        f"each line matches the exact log-densities at {shape[0] * shape[1]} codes; "
        "the 'Bayes' rule' line equals log p(x) at every one of them",
    )


@torch.no_grad()
def check_elbo_gap(elbo_gap: Callable) -> None:
    """Exercise 5.4: KL(q || p(z|x)) must equal log p(x) - ELBO (exact, no sampling)."""
    name = "Exercise 5.4"
    model, x, q_mean, q_logvar = _linear_gaussian_case()
    post_mean, post_cov = model.posterior(x)
    expected = model.log_marginal(x) - model.elbo(x, q_mean, q_logvar)
    got = run_student(name, elbo_gap, q_mean, q_logvar, post_mean, post_cov)
    _expect_finite(
        name,
        got,
        _LOGVAR_NAN + " Here Sigma_q = diag(exp(q_logvar)), so log det Sigma_q = q_logvar.sum(1).",
    )
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
