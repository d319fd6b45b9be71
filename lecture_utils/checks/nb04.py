"""Checks for the exercises of 04_latent_variable_models.

References are exact: a conditional table computed entry by entry in plain Python floats, the
marginal log N(x; b, W W^T + sigma^2 I) of a linear-Gaussian model
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


def _conditional_by_hand(joint: torch.Tensor) -> torch.Tensor:
    """p(z | x) = p(z, x) / sum_z' p(z', x), entry by entry in Python floats: (Z, X) -> (Z, X)."""
    rows = joint.tolist()
    n_z, n_x = len(rows), len(rows[0])
    p_x = [sum(rows[i][j] for i in range(n_z)) for j in range(n_x)]
    return torch.tensor([[rows[i][j] / p_x[j] for j in range(n_x)] for i in range(n_z)])


def _joint_table(n_z: int, n_x: int, seed: int) -> torch.Tensor:
    """A random joint table p(z, x) of shape (n_z, n_x), float64, summing to 1, no zero entry."""
    table = torch.rand(n_z, n_x, generator=gen(seed), dtype=torch.float64) + 0.2
    return table / table.sum()


@torch.no_grad()
def check_posterior_from_joint(posterior_from_joint: Callable) -> None:
    """Exercise 4.1: p(z | x) from a joint table p(z, x), compared with a by-hand reference.

    Two tables: a (3, 4) one, where dividing by a marginal of the wrong shape raises a
    broadcasting error, and a square (3, 3) one, where the same mistake runs silently.
    """
    name = "Exercise 4.1"
    for n_z, n_x, seed in [(3, 4, 0), (3, 3, 1)]:
        joint = _joint_table(n_z, n_x, seed)
        exact = _conditional_by_hand(joint)
        try:
            got = run_student(name, posterior_from_joint, joint.clone())
        except RuntimeError as err:  # typically a broadcasting error
            raise ExerciseError(
                f"{name}: your function raised RuntimeError ({err}) for a joint table of shape "
                f"{tuple(joint.shape)}. p(x) = joint.sum(dim=0) has shape (X,) and lines up with "
                "the columns; a sum over dim=1 gives p(z), shape (Z,), which does not."
            ) from None
        expect_shape(
            name,
            got,
            (n_z, n_x),
            "Return a table of the same shape (Z, X) as joint: row i is z = i, column j is "
            "x = j, and entry (i, j) is p(z = i | x = j).",
        )
        p_x, p_z = joint.sum(0), joint.sum(1)
        variants = {
            "Your rows sum to 1: that is p(x | z) = p(z, x) / p(z), normalised over the wrong "
            "axis. For p(z | x) each column (one value of x) must sum to 1: divide by "
            "p(x) = joint.sum(dim=0).": joint / p_z[:, None],
            "You returned the joint p(z, x) itself: a conditional is joint / marginal, so "
            "divide each column by p(x) = joint.sum(dim=0).": joint,
            "You multiplied by the marginal p(x) instead of dividing by it: "
            "p(z | x) = p(z, x) / p(x).": joint * p_x,
        }
        if n_z == n_x:  # the wrong-axis marginal broadcasts silently only on a square table
            variants[
                "Column j was divided by p(z = j): joint.sum(dim=1) has shape (Z,), and "
                "broadcasting lines it up with the columns, not the rows. Divide by "
                "p(x) = joint.sum(dim=0), the marginal of the variable you condition on."
            ] = joint / p_z
        hint = matching_hint(
            got,
            variants,
            "Sum rule: p(x) = sum over z of p(z, x), i.e. joint.sum(dim=0), shape (X,). "
            "Then p(z | x) = p(z, x) / p(x): every column sums to 1.",
            atol=1e-9,
        )
        expect_close(name, got, exact, rtol=1e-6, atol=1e-9, hint=hint)
    passed(name, "every column of p(z | x) sums to 1 and matches joint / marginal, entry by entry")


@torch.no_grad()
def check_log_marginal_mc(log_marginal_mc: Callable) -> None:
    """Exercise 4.2: log p(x) from S prior samples, compared with the exact log p(x)."""
    name = "Exercise 4.2"
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
    """Exercise 4.3: Bayes' rule on a grid of z, compared with a closed-form Gaussian posterior."""
    name = "Exercise 4.3"
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
