"""lecture_utils.toy against independent references: torch.distributions, brute-force
quadrature, autograd and Monte Carlo."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from lecture_utils.toy import (
    LinearGaussian,
    OneDimLatentModel,
    ppca_ml,
)

f64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def model():
    return LinearGaussian.random(5, 2, sigma=0.7, generator=gen(1))


def diag_q(batch, k=2, seed=2):
    g = gen(seed)
    return torch.randn(batch, k, generator=g, dtype=f64), torch.randn(
        batch, k, generator=g, dtype=f64
    ) * 0.5


# --- LinearGaussian -----------------------------------------------------------------------------


@torch.no_grad()
def test_log_marginal_matches_multivariate_normal(model):
    x, _ = model.sample(20, gen(3))
    ref = MultivariateNormal(model.b, model.W @ model.W.T + model.sigma2 * torch.eye(5, dtype=f64))
    torch.testing.assert_close(model.log_marginal(x), ref.log_prob(x))


@torch.no_grad()
def test_posterior_is_bayes_rule(model):
    """log p(z|x) = log p(x, z) - log p(x) at random z, for the MVN built from posterior()."""
    x, _ = model.sample(4, gen(3))
    mean, cov = model.posterior(x)
    assert mean.shape == (4, 2) and cov.shape == (2, 2)
    z = torch.randn(7, 4, 2, generator=gen(4), dtype=f64)
    lhs = MultivariateNormal(mean, cov).log_prob(z)
    rhs = model.log_joint(x, z) - model.log_marginal(x)
    torch.testing.assert_close(lhs, rhs)


@torch.no_grad()
def test_log_marginal_by_brute_force_quadrature():
    model = LinearGaussian.random(3, 2, sigma=0.8, generator=gen(5))
    x, _ = model.sample(3, gen(6))
    grid = torch.linspace(-8, 8, 801, dtype=f64)
    z = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 1, 2)  # (G^2, 1, 2)
    dz = float(grid[1] - grid[0])
    brute = torch.logsumexp(model.log_joint(x, z), dim=0) + 2 * math.log(dz)
    torch.testing.assert_close(brute, model.log_marginal(x), rtol=0, atol=1e-6)


@torch.no_grad()
def test_elbo_identity_and_monte_carlo(model):
    """log p(x) - ELBO = KL(q || p(z|x)) (torch.distributions); the MC ELBO agrees with the
    closed form."""
    x, _ = model.sample(6, gen(3))
    m, lv = diag_q(6)
    post_mean, post_cov = model.posterior(x)
    q = MultivariateNormal(m, torch.diag_embed(lv.exp()))
    kl = kl_divergence(q, MultivariateNormal(post_mean, post_cov))
    torch.testing.assert_close(model.log_marginal(x) - model.elbo(x, m, lv), kl)
    full = model.elbo(x, m, q_cov=torch.diag_embed(lv.exp()))
    torch.testing.assert_close(full, model.elbo(x, m, lv))
    # one sample per row of a repeated batch: the mean, and its standard error
    n = 50_000
    draws = model.elbo_mc(x.repeat(n, 1), m.repeat(n, 1), lv.repeat(n, 1), 1, gen(7)).reshape(n, 6)
    se = draws.std(0) / math.sqrt(n)
    assert ((draws.mean(0) - model.elbo(x, m, lv)).abs() < 4 * se).all()
    # the ELBO is tight at the exact posterior (a full covariance)
    torch.testing.assert_close(model.elbo(x, post_mean, q_cov=post_cov), model.log_marginal(x))


@torch.no_grad()
def test_expected_log_likelihood_against_sampling(model):
    x, _ = model.sample(3, gen(3))
    m, lv = diag_q(3)
    z = m + (0.5 * lv).exp() * torch.randn(200_000, 3, 2, generator=gen(8), dtype=f64)
    ref = Normal(z @ model.W.T + model.b, model.sigma2.sqrt()).log_prob(x).sum(-1).mean(0)
    torch.testing.assert_close(model.expected_log_likelihood(x, m, lv), ref, rtol=0, atol=0.03)


def test_sample_has_the_marginal_covariance(model):
    x, z = model.sample(200_000, gen(9))
    assert x.shape == (200_000, 5) and z.shape == (200_000, 2) and not x.requires_grad
    torch.testing.assert_close(
        torch.cov(x.T.detach()), model.marginal_cov().detach(), rtol=0, atol=0.05
    )


def test_input_validation(model):
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 5\)"):
        model.log_marginal(torch.zeros(3, 4, dtype=f64))
    with pytest.raises(ValueError, match="exactly one of q_logvar"):
        model.elbo(torch.zeros(3, 5, dtype=f64), torch.zeros(3, 2, dtype=f64))
    with pytest.raises(ValueError, match="q_cov must have shape"):
        model.elbo(
            torch.zeros(3, 5, dtype=f64),
            torch.zeros(3, 2, dtype=f64),
            q_cov=torch.eye(3, dtype=f64),
        )
    with pytest.raises(ValueError, match="sigma must be > 0, got -1"):
        LinearGaussian(torch.ones(3, 1), torch.zeros(3), -1.0)
    with pytest.raises(TypeError, match="sigma must be a number, got str"):
        LinearGaussian(torch.ones(3, 1), torch.zeros(3), "0.5")
    with pytest.raises(ValueError, match=r"sigma must have shape \(\)"):
        LinearGaussian(torch.ones(3, 1), torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match="NaN"):
        model.log_marginal(torch.full((1, 5), float("nan"), dtype=f64))


# --- probabilistic PCA --------------------------------------------------------------------------


def test_ppca_ml_is_a_stationary_maximum():
    truth = LinearGaussian.random(6, 2, sigma=0.5, generator=gen(10))
    x, _ = truth.sample(500, gen(11))
    x = x.detach()
    fit = ppca_ml(x, 2)
    model = LinearGaussian(fit.W, fit.b, fit.sigma2.sqrt())
    ll = model.log_marginal(x).mean()
    ll.backward()
    for p in model.parameters():  # the gradient of the log-likelihood vanishes at the maximum
        assert p.grad.abs().max() < 1e-8
    with torch.no_grad():  # and every nearby model (and the truth) is worse
        for seed in range(5):
            g = gen(20 + seed)
            other = LinearGaussian(
                fit.W + 0.05 * torch.randn(6, 2, generator=g, dtype=f64),
                fit.b + 0.05 * torch.randn(6, generator=g, dtype=f64),
                fit.sigma2.sqrt() * 1.05,
            )
            assert other.log_marginal(x).mean() < ll
        assert truth.log_marginal(x).mean() < ll


def test_ppca_ml_covariance_formula():
    """W W^T + sigma^2 I equals the data covariance in the top-K eigen-directions."""
    x = torch.randn(300, 4, generator=gen(12), dtype=f64) * torch.tensor(
        [3.0, 2.0, 1.0, 0.5], dtype=f64
    )
    fit = ppca_ml(x, 2)
    S = torch.cov(x.T, correction=0)
    evals, evecs = torch.linalg.eigh(S)
    U = evecs[:, [3, 2]]
    C = fit.W @ fit.W.T + fit.sigma2 * torch.eye(4, dtype=f64)
    torch.testing.assert_close(C @ U, S @ U)
    torch.testing.assert_close(fit.sigma2, evals[:2].mean())
    with pytest.raises(ValueError, match="latent_dim < D"):
        ppca_ml(x, 4)


# --- the 1-D model ------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_dim_model_against_sampling_and_normalisation():
    toy = OneDimLatentModel()
    x = torch.tensor([[1.0, 0.0], [0.0, 0.6], [3.0, 1.0]], dtype=f64)
    # p(x) as the prior average of p(x|z), with many samples (brute force)
    z = torch.randn(400_000, 1, 1, generator=gen(13), dtype=f64)
    w = toy.log_likelihood(x, z).exp()  # (S, B)
    se = w.std(0) / w.mean(0) / math.sqrt(len(z))  # of log mean w (delta method)
    assert ((toy.log_marginal(x) - w.mean(0).log()).abs() < 4 * se).all()
    # the posterior integrates to 1 and matches p(x|z) p(z) / p(x) at a grid point
    post = toy.posterior(x)
    torch.testing.assert_close(post.sum(1) * toy.dz, torch.ones(3, dtype=f64), rtol=0, atol=1e-3)
    # p(x) integrates to 1 over the plane (a 2-D grid of x)
    coarse = OneDimLatentModel(sigma=0.5, n_grid=601)
    g1, g2 = torch.linspace(-4, 40, 221, dtype=f64), torch.linspace(-5, 5, 101, dtype=f64)
    grid = torch.stack(torch.meshgrid(g1, g2, indexing="ij"), -1).reshape(-1, 2)
    total = coarse.log_marginal(grid).exp().sum() * (g1[1] - g1[0]) * (g2[1] - g2[0])
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=f64), rtol=0, atol=2e-3)


def test_one_dim_sample_and_validation():
    toy = OneDimLatentModel(sigma=0.1)
    x, z = toy.sample(1000, gen(14))
    assert x.shape == (1000, 2) and z.shape == (1000, 1)
    assert ((x - toy.mean(z)) / 0.1).std() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="last dimension of size 1"):
        toy.mean(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        OneDimLatentModel(sigma=0.0)
    with pytest.raises(TypeError, match="sigma must be a number, got str"):
        OneDimLatentModel(sigma="0.3")
    with pytest.raises(ValueError, match="n_grid must be >= 2, got 1"):
        OneDimLatentModel(n_grid=1)
    with pytest.raises(TypeError, match="n_grid must be an int"):
        OneDimLatentModel(n_grid=100.0)
    with pytest.raises(ValueError, match=r"z_range\[1\] must be > -1"):
        OneDimLatentModel(z_range=(-1.0, -2.0))
    with pytest.raises(TypeError, match="z_range must be a pair"):
        OneDimLatentModel(z_range=7.0)
    assert len(OneDimLatentModel(n_grid=2).z_grid) == 2  # the smallest trapezoid rule
