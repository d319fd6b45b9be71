"""Notebook 08's diagnostics, each against an independent reference: torch.distributions, exact
integrals of notebook 05's linear-Gaussian model (where log p(x), the posterior and the best
diagonal q are known in closed form), brute-force loops."""

import pytest
import torch
from torch.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    MixtureSameFamily,
    Normal,
    kl_divergence,
)

from lecture_utils.diagnose import (
    active_units,
    aggregate_log_density,
    aggregate_posterior_grid,
    elbo_of_q,
    expected_log_likelihood,
    fit_local_q,
    kl_per_dimension,
    rate_distortion,
    unit_activity,
)
from lecture_utils.evaluate import (
    iwae_bound,
    log_mean_exp,
    log_weights,
    mean_and_se,
    proposal_log_weights,
)
from lecture_utils.losses import gaussian_kl
from lecture_utils.models import VAE
from lecture_utils.toy import LinearGaussian
from lecture_utils.vae_training import NOTEBOOK_RECIPE, VAERecipe, vae_loss


def g(seed):
    return torch.Generator().manual_seed(seed)


def q_params(n=50, k=3, seed=0):
    gen = g(seed)
    return torch.randn(n, k, generator=gen), 0.5 * torch.randn(n, k, generator=gen) - 1.0


def orthogonal_model(d=6, k=2, sigma=0.7, seed=1):
    """A linear-Gaussian model whose W has orthogonal columns: its posterior is diagonal."""
    w, _ = torch.linalg.qr(torch.randn(d, k, generator=g(seed), dtype=torch.float64))
    w = w * torch.tensor([2.0, 1.2], dtype=torch.float64)[:k]
    b = torch.randn(d, generator=g(seed + 1), dtype=torch.float64)
    return LinearGaussian(w, b, sigma)


def exact_diag_posterior(model, x):
    mean, cov = model.posterior(x)
    return mean, cov.diagonal().log().expand_as(mean).clone()


def correlated_model(seed=5):
    """Two nearly parallel columns of W: a strongly correlated posterior."""
    v, u = torch.randn(2, 5, generator=g(seed), dtype=torch.float64)
    w = torch.stack([v, v + 0.3 * u], dim=1)
    return LinearGaussian(w, torch.zeros(5, dtype=torch.float64), 1.0)


def best_diagonal_q(model, x):
    """The diagonal q that maximises the ELBO: the posterior mean and variances 1 / Lambda_kk,
    Lambda the posterior precision (notebook 05)."""
    mean, cov = model.posterior(x)
    precision = torch.linalg.inv(cov)
    return mean, (-precision.diagonal().log()).expand_as(mean).clone()


# ----------------------------------------------------------------------- per-dimension views
def test_kl_per_dimension_matches_torch_distributions_and_adds_up():
    mu, logvar = q_params()
    q = Normal(mu, (0.5 * logvar).exp())
    expected = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(0)
    torch.testing.assert_close(kl_per_dimension(mu, logvar), expected)
    torch.testing.assert_close(kl_per_dimension(mu, logvar).sum(), gaussian_kl(mu, logvar).mean())


def test_unit_activity_is_the_variance_across_digits_and_active_units_thresholds_it():
    mu = torch.stack([torch.linspace(-1, 1, 101), torch.full((101,), 3.0)], dim=1)
    expected = torch.tensor([float(torch.linspace(-1, 1, 101).double().var()), 0.0])
    torch.testing.assert_close(unit_activity(mu), expected.float())
    assert active_units(mu).tolist() == [True, False]
    assert active_units(mu, threshold=1.0).tolist() == [False, False]


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: unit_activity(torch.zeros(1, 3)), ValueError, "at least 2 digits"),
        (lambda: unit_activity(torch.zeros(5)), ValueError, "mu"),
        (lambda: active_units(torch.zeros(4, 2), threshold=-1.0), ValueError, "threshold"),
        (lambda: kl_per_dimension(torch.zeros(4, 2), torch.zeros(4, 3)), ValueError, "logvar"),
        (lambda: kl_per_dimension([[0.0]], torch.zeros(1, 1)), TypeError, "mu"),
    ],
)
def test_per_dimension_helpers_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------------- IWAE bound
def test_iwae_bound_is_the_mean_at_s1_and_log_mean_exp_at_s_equal_t():
    log_w = torch.randn(12, 4, generator=g(2)) * 3 - 100
    torch.testing.assert_close(iwae_bound(log_w, 1), log_w.mean(0))
    torch.testing.assert_close(iwae_bound(log_w, 12), log_mean_exp(log_w))
    loop = torch.stack([log_mean_exp(log_w[i : i + 4]) for i in range(0, 12, 4)]).mean(0)
    torch.testing.assert_close(iwae_bound(log_w, 4), loop)


def test_iwae_bound_rejects_a_group_size_that_does_not_divide():
    with pytest.raises(ValueError, match="not a multiple of n_samples=5"):
        iwae_bound(torch.zeros(12, 2), 5)
    with pytest.raises(ValueError, match="n_samples"):
        iwae_bound(torch.zeros(12, 2), 0)


def test_iwae_bound_with_the_exact_posterior_is_log_p_x_for_every_s():
    model = orthogonal_model()
    x, _ = model.sample(5, generator=g(3))
    mean, logvar = exact_diag_posterior(model, x)
    with torch.no_grad():
        log_w = proposal_log_weights(model, x, mean, logvar, 20, g(4))  # (20, 5)
    exact = model.log_marginal(x).detach()
    for s in (1, 5, 20):
        torch.testing.assert_close(iwae_bound(log_w, s), exact, rtol=0, atol=1e-8)


def test_iwae_bound_climbs_from_the_exact_elbo_towards_the_exact_log_p_x():
    """A correlated posterior and the best diagonal q: L_1 is the closed-form ELBO, L_S rises
    with S and stays below log p(x) (notebook 05's model, everything exact)."""
    model = correlated_model()
    x, _ = model.sample(4, generator=g(6))
    mean, logvar = best_diagonal_q(model, x)
    with torch.no_grad():
        log_w = proposal_log_weights(model, x, mean, logvar, 20_000, g(7))
        exact_elbo = model.elbo(x, mean, logvar)
        exact = model.log_marginal(x)
    gap = exact - exact_elbo
    assert (gap > 0.05).all()  # the diagonal q leaves a real gap
    l1, l10, l1000 = (iwae_bound(log_w, s) for s in (1, 10, 1000))
    torch.testing.assert_close(l1, exact_elbo, rtol=0, atol=0.02)
    assert (l1 < l10).all() and (l10 < l1000).all()
    assert (l1000 <= exact + 1e-3).all()
    assert ((exact - l1000) < 0.1 * gap).all()  # 1000 samples close most of the gap


def test_proposal_log_weights_with_the_encoder_matches_log_weights():
    model = VAE(3, (16,))
    x = torch.bernoulli(torch.rand(6, 1, 28, 28, generator=g(8)), generator=g(9))
    with torch.no_grad():
        mu, logvar = model.encode(x)
    expected = log_weights(model, x, 7, g(10))
    torch.testing.assert_close(proposal_log_weights(model, x, mu, logvar, 7, g(10)), expected)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"mu": torch.zeros(5, 2), "logvar": torch.zeros(5, 2)}, ValueError, "one row per image"),
        ({"logvar": torch.zeros(4, 3)}, ValueError, "logvar"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"model": object()}, TypeError, "log_likelihood"),
    ],
)
def test_proposal_log_weights_rejects_bad_input(kwargs, error, match):
    args = {
        "model": VAE(2, (8,)),
        "x": torch.zeros(4, 784),
        "mu": torch.zeros(4, 2),
        "logvar": torch.zeros(4, 2),
        "n_samples": 3,
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        proposal_log_weights(**args)


def test_mean_and_se():
    values = torch.tensor([1.0, 2.0, 3.0, 6.0])
    mean, se = mean_and_se(values)
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(float(values.std()) / 2)
    with pytest.raises(ValueError, match="at least 2"):
        mean_and_se(torch.tensor([1.0]))


# ----------------------------------------------------------------------- ELBO of any q
def test_elbo_of_q_matches_the_closed_form_elbo_of_the_linear_gaussian_model():
    model = LinearGaussian.random(5, 2, sigma=0.6, generator=g(11))
    x, _ = model.sample(3, generator=g(12))
    mean, logvar = best_diagonal_q(model, x)
    with torch.no_grad():
        got = elbo_of_q(model, x, mean + 0.3, logvar - 0.5, 50_000, g(13))
        exact = model.elbo(x, mean + 0.3, logvar - 0.5)
        recon = expected_log_likelihood(model, x, mean, logvar, 50_000, g(14))
        exact_recon = model.expected_log_likelihood(x, mean, logvar)
    torch.testing.assert_close(got, exact, rtol=0, atol=0.05)
    torch.testing.assert_close(recon, exact_recon, rtol=0, atol=0.05)


def test_fit_local_q_finds_the_best_diagonal_q_and_leaves_the_model_alone():
    model = LinearGaussian.random(5, 2, sigma=0.6, generator=g(15))
    x, _ = model.sample(3, generator=g(16))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    start_mu, start_logvar = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2).double()
    mu, logvar = fit_local_q(model, x, start_mu, start_logvar, 400, 0.05, 16, g(17))
    best_mu, best_logvar = best_diagonal_q(model, x)
    torch.testing.assert_close(mu, best_mu.detach(), rtol=0, atol=0.05)
    torch.testing.assert_close(logvar, best_logvar.detach(), rtol=0, atol=0.1)
    with torch.no_grad():
        assert (model.elbo(x, mu, logvar) > model.elbo(x, best_mu, best_logvar) - 0.005).all()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert all(p.requires_grad for p in model.parameters())
    assert not mu.requires_grad and torch.equal(start_mu, torch.zeros(3, 2).double())


def test_fit_local_q_rejects_bad_input():
    model = VAE(2, (8,))
    with pytest.raises(ValueError, match="steps"):
        fit_local_q(model, torch.zeros(2, 784), torch.zeros(2, 2), torch.zeros(2, 2), steps=0)
    with pytest.raises(ValueError, match="lr"):
        fit_local_q(model, torch.zeros(2, 784), torch.zeros(2, 2), torch.zeros(2, 2), lr=0.0)
    with pytest.raises(TypeError, match="log_likelihood"):
        fit_local_q(object(), torch.zeros(2, 784), torch.zeros(2, 2), torch.zeros(2, 2))


# ----------------------------------------------------------------------- rate and distortion
def test_rate_distortion_against_torch_distributions():
    model = VAE(3, (16,)).eval()
    x = torch.bernoulli(torch.rand(10, 1, 28, 28, generator=g(18)), generator=g(19))
    rate, distortion = rate_distortion(model, x, n_samples=2, generator=g(20), batch_size=4)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        std = (0.5 * logvar).exp()
        q = Independent(Normal(mu, std), 1)
        prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
        torch.testing.assert_close(rate, kl_divergence(q, prior))
        # the same draws, chunk by chunk, decoded and scored by torch.distributions
        gen, parts = g(20), []
        for xc, mc, sc in zip(x.split(4), mu.split(4), std.split(4)):
            eps = torch.randn((2, *mc.shape), generator=gen)
            z = mc + sc * eps
            logits = model.decoder_output(z.reshape(-1, 3)).reshape(2, len(xc), -1)
            ll = Bernoulli(logits=logits).log_prob(xc.reshape(1, len(xc), -1)).sum(-1)
            parts.append(-ll.mean(0))
    torch.testing.assert_close(distortion, torch.cat(parts))


def test_rate_distortion_rejects_a_model_without_an_encoder():
    with pytest.raises(TypeError, match="encode"):
        rate_distortion(LinearGaussian.random(4, 2), torch.zeros(3, 4))


# ----------------------------------------------------------------------- aggregate posterior
def test_aggregate_log_density_matches_a_torch_mixture():
    mu, logvar = q_params(n=40, k=3, seed=21)
    z = torch.randn(30, 3, generator=g(22)) * 2
    mixture = MixtureSameFamily(
        Categorical(logits=torch.zeros(40)), Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    )
    torch.testing.assert_close(aggregate_log_density(z, mu, logvar, chunk=7), mixture.log_prob(z))


def test_aggregate_posterior_grid_on_the_linear_gaussian_model():
    """Digits x ~ p(x) with their exact posteriors: in the population the aggregate posterior is
    the prior, so KL(q(z) || p(z)) -> 0 and I(x; z) -> -1/2 log det Cov(z|x) (closed form)."""
    model = orthogonal_model(sigma=0.7)
    x, _ = model.sample(20_000, generator=g(23))
    with torch.no_grad():
        mean, logvar = exact_diag_posterior(model, x)
        _, cov = model.posterior(x)
    grid = aggregate_posterior_grid(mean, logvar, h=0.05, half_width=6.0)
    population_mi = -0.5 * float(torch.logdet(cov))
    assert float(grid["mass"]) == pytest.approx(1.0, abs=1e-5)
    assert float(grid["mutual_information"]) == pytest.approx(population_mi, abs=0.01)
    assert 0 <= float(grid["marginal_kl"]) < 0.002
    # the decomposition, E_x KL(q(z|x) || p(z)) = I(x; z) + KL(q(z) || p(z))
    total = grid["mutual_information"] + grid["marginal_kl"]
    assert float(total) == pytest.approx(float(grid["mean_kl"]), abs=1e-4)
    # the grid's density is the mixture's density at the cell centres
    axis = grid["axis"]
    picks = torch.tensor([[40, 100], [120, 130], [200, 60]])
    points = torch.stack([axis[picks[:, 1]], axis[picks[:, 0]]], dim=1)
    dens = aggregate_log_density(points, mean.double(), logvar.double()).exp()
    torch.testing.assert_close(grid["q"][picks[:, 0], picks[:, 1]], dens)


def test_aggregate_posterior_grid_needs_two_dimensions():
    with pytest.raises(ValueError, match="2-D latent"):
        aggregate_posterior_grid(torch.zeros(5, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="half_width"):
        aggregate_posterior_grid(torch.zeros(5, 2), torch.zeros(5, 2), h=0.5, half_width=0.1)


# ----------------------------------------------------------------------- free bits
def test_free_bits_stays_out_of_the_cache_key_when_zero():
    assert (
        "free_bits" not in NOTEBOOK_RECIPE.cache_key()
        and "train_size" not in NOTEBOOK_RECIPE.cache_key()
    )
    key = VAERecipe(name="fb", free_bits=0.5).cache_key()
    assert key["free_bits"] == 0.5
    with pytest.raises(ValueError, match="free_bits"):
        VAERecipe(name="fb", free_bits=-0.1)


def test_free_bits_charges_each_dimension_at_least_the_floor():
    model = VAE(4, (16,)).train()
    x = torch.bernoulli(torch.rand(8, 1, 28, 28, generator=g(24)), generator=g(25))
    torch.manual_seed(0)
    out = vae_loss(model, (x,), kl_weight=2.0, free_bits=0.3)
    torch.manual_seed(0)
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar)
    recon = model.log_likelihood(x, z)
    per_dim = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0)
    expected = -recon.mean() + 2.0 * torch.maximum(per_dim, torch.tensor(0.3)).sum()
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(out["kl"], per_dim.sum())  # the recorded KL is the true one
    model.eval()
    torch.manual_seed(0)
    plain = vae_loss(model, (x,), kl_weight=2.0, free_bits=0.3)
    torch.testing.assert_close(plain["loss"], plain["neg_elbo"])  # validation: the ELBO itself
