"""Checks for the exercises of 04_latent_variable_models.

References are exact: the marginal log N(x; b, W W^T + sigma^2 I) of a linear-Gaussian model
(Cholesky, in :class:`lecture_utils.toy.LinearGaussian`) and the closed-form Gaussian posterior
of a 1-D linear-Gaussian model (``torch.distributions.Normal``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Normal

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)
from lecture_utils.toy import LinearGaussian

SHIFT = 2000.0  # added to every log-likelihood: exp() of it underflows, logsumexp does not


@torch.no_grad()
def check_log_marginal_mc(log_marginal_mc: Callable) -> None:
    """Exercise 4.1: log p(x) from S prior samples, compared with the exact log p(x)."""
    name = "Exercise 4.1"
    model = LinearGaussian.random(3, 2, sigma=1.0, generator=gen(0))
    x, _ = model.sample(4, gen(1))
    n = 20_000
    exact = model.log_marginal(x)
    got = run_student(name, log_marginal_mc, model.log_likelihood, x, 2, n, gen(2))
    expect_shape(
        name,
        got,
        (4,),
        "Return one estimate per example: reduce over the sample "
        "dimension S only (dim=0 of the (S, B) log-likelihoods).",
    )
    zeros = torch.zeros(len(x), 2, dtype=x.dtype)
    mean_log = model.expected_log_likelihood(x, zeros, zeros)  # E_p(z)[log p(x|z)], exact
    variants = {
        f"Your values are log S = {math.log(n):.2f} too high: you summed the weights; "
        "subtract log S to take their mean.": exact + math.log(n),
        "Your values are log S too low: subtract log S once, not twice.": exact - math.log(n),
        "Your values are too low: averaging log p(x|z) gives E[log p(x|z)] "
        "<= log E[p(x|z)] (Jensen). Average the weights p(x|z) themselves, in log space: "
        "logsumexp over the samples minus log S.": mean_log,
    }
    hint = matching_hint(
        got,
        variants,
        "Draw z of shape (S, B, K) from the prior N(0, I) with torch.randn(..., "
        "generator=generator), evaluate log_likelihood(x, z) -> (S, B), then "
        "logsumexp over dim 0 minus log S.",
        atol=0.1,
        rtol=0.0,
    )
    expect_close(name, got, exact, rtol=0, atol=0.05, hint=hint)
    again = run_student(name, log_marginal_mc, model.log_likelihood, x, 2, n, gen(2))
    if not torch.equal(torch.as_tensor(again), got):
        raise ExerciseError(
            f"{name}: two calls with the same generator gave different results; "
            "draw every random number with generator=generator."
        )

    def shifted(x_, z_):
        return model.log_likelihood(x_, z_) - SHIFT

    low = run_student(name, log_marginal_mc, shifted, x, 2, n, gen(2))
    hint = (
        f"With every log p(x|z) near -{SHIFT:.0f}, exp() underflows to 0 and log(0) = -inf. "
        "Never exponentiate: use torch.logsumexp(log_w, dim=0) - math.log(S)."
    )
    expect_close(name, low, got - SHIFT, rtol=0, atol=1e-6, hint=hint)
    passed(
        name,
        f"within 0.05 nats of the exact log p(x) for {len(x)} points, stable at "
        f"log p(x|z) = -{SHIFT:.0f}",
    )


def _posterior_case(x: torch.Tensor, a: float, c: float, s: float, grid: torch.Tensor):
    """z ~ N(0, 1), x | z ~ N(a z + c, s^2): log p(z), log p(x|z), and the exact p(z|x) on grid."""
    log_prior = Normal(0.0, 1.0).log_prob(grid)  # (G,)
    log_lik = Normal(a * grid + c, s).log_prob(x[:, None])  # (B, G)
    precision = 1.0 + a**2 / s**2
    mean = (a / s**2) * (x - c) / precision
    exact = Normal(mean[:, None], precision**-0.5).log_prob(grid).exp()  # (B, G)
    return log_prior, log_lik, exact


@torch.no_grad()
def check_posterior_on_grid(posterior_on_grid: Callable) -> None:
    """Exercise 4.2: Bayes' rule on a grid of z, compared with a closed-form Gaussian posterior."""
    name = "Exercise 4.2"
    grid = torch.linspace(-6.0, 6.0, 1201, dtype=torch.float64)
    dz = float(grid[1] - grid[0])
    x = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    log_prior, log_lik, exact = _posterior_case(x, a=2.0, c=0.5, s=0.8, grid=grid)
    got = run_student(name, posterior_on_grid, log_prior, log_lik, dz)
    expect_shape(
        name,
        got,
        tuple(exact.shape),
        "Return the density p(z|x) at every grid point, shape (B, G) like log_likelihood.",
    )
    joint = log_lik + log_prior
    variants = {
        "You left out the prior: Bayes' numerator is p(x|z) p(z), so add log_prior to "
        "log_likelihood.": torch.softmax(log_lik, dim=1) / dz,
        "Each row sums to 1, but a density must integrate to 1: divide by dz as well "
        "(p(x) = sum over the grid of p(x|z) p(z) dz).": torch.softmax(joint, dim=1),
        "You returned p(x, z) without dividing by p(x) = sum of p(x|z) p(z) dz over the grid.": joint.exp(),
        "You divided by dz instead of multiplying: p(x) = sum of p(x|z) p(z) * dz.": torch.softmax(
            joint, dim=1
        )
        / dz**2,
    }
    hint = matching_hint(
        got,
        variants,
        "Compute log p(x|z) + log p(z), subtract log p(x) = "
        "logsumexp over the grid + log dz, then exponentiate.",
        atol=1e-8,
    )
    expect_close(name, got, exact, rtol=1e-4, atol=1e-6, hint=hint)
    got = run_student(name, posterior_on_grid, log_prior, log_lik - SHIFT, dz)
    expect_close(
        name,
        got,
        exact,
        rtol=1e-4,
        atol=1e-6,
        hint=f"With log p(x|z) near -{SHIFT:.0f} (as for an MNIST digit) exp() underflows "
        "and 0/0 gives NaN: normalise in log space with torch.logsumexp.",
    )
    passed(
        name,
        "matches the closed-form Gaussian posterior and integrates to 1, also at "
        f"log p(x|z) = -{SHIFT:.0f}",
    )
