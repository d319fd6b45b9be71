"""lecture_utils.evaluate against exact answers.

The reference model is a small linear-Gaussian latent-variable model written here,
x = W z + b + sigma * noise with z ~ N(0, I), whose marginal log p(x) is
log N(x; b, W W^T + sigma^2 I)
is exact (torch.distributions.MultivariateNormal). Its columns of W are orthogonal, so the true
posterior is a diagonal Gaussian: with it as the encoder every importance weight equals p(x);
with a deliberately wrong encoder the estimate must climb from the ELBO to log p(x).
"""

import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal, Normal

from lecture_utils.evaluate import (
    best_weight_share,
    bits_per_dim,
    effective_sample_size,
    log_likelihood,
    log_mean_exp,
    log_weights,
)
from lecture_utils.models import VAE


class LinearGaussian(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(W z + b, sigma^2 I); q(z|x) = the exact posterior, optionally
    with its mean shifted by ``shift`` and its log-variance raised by ``widen``."""

    def __init__(self, d=5, latent_dim=2, sigma=0.5, shift=0.0, widen=0.0, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(d, latent_dim, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor(
            [2.0, 1.0][:latent_dim] + [0.5] * (latent_dim - 2), dtype=torch.float64
        )
        self.b = torch.randn(d, generator=g, dtype=torch.float64)
        self.sigma, self.shift, self.widen, self.latent_dim = sigma, shift, widen, latent_dim

    def encode(self, x):
        precision = 1.0 + (self.W**2).sum(0) / self.sigma**2  # W^T W is diagonal
        mu = (x - self.b) @ self.W / self.sigma**2 / precision
        logvar = (-precision.log()).expand_as(mu)
        return mu + self.shift, logvar + self.widen

    def log_likelihood(self, x, z):
        return Normal(z @ self.W.T + self.b, self.sigma).log_prob(x).sum(-1)

    def exact_log_px(self, x):
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(len(self.b), dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def sample_x(self, n, seed=1):
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=g, dtype=torch.float64)
        return (
            z @ self.W.T
            + self.b
            + self.sigma * torch.randn(n, len(self.b), generator=g, dtype=torch.float64)
        )


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_exact_posterior_gives_exact_log_px_with_one_sample():
    model = LinearGaussian()
    x = model.sample_x(50)
    torch.testing.assert_close(
        log_likelihood(model, x, n_samples=1, generator=gen()), model.exact_log_px(x)
    )
    w = log_weights(model, x, 7, generator=gen())
    assert w.shape == (7, 50)
    torch.testing.assert_close(w, model.exact_log_px(x).expand(7, 50))  # zero-variance weights


def test_log_weights_match_torch_distributions():
    model = LinearGaussian(shift=0.3, widen=0.5)
    x = model.sample_x(6)
    w = log_weights(model, x, 4, generator=gen(3))
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn(
        (4, *mu.shape), generator=gen(3), dtype=torch.float64
    )
    ref = (
        Normal(z @ model.W.T + model.b, model.sigma).log_prob(x).sum(-1)
        + Normal(0.0, 1.0).log_prob(z).sum(-1)
        - Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    )
    torch.testing.assert_close(w, ref)


def test_estimate_rises_with_n_samples_and_converges_to_exact_log_px():
    model = LinearGaussian(shift=0.4, widen=0.6)
    x = model.sample_x(100)
    exact = model.exact_log_px(x).mean().item()
    means = [log_likelihood(model, x, k, generator=gen(k)).mean().item() for k in (1, 2, 4, 8, 16)]
    assert means[0] < exact - 1.0, "the wrong encoder should leave a visible gap at n_samples = 1"
    assert all(a < b < exact for a, b in zip(means, means[1:])), (means, exact)
    big = log_likelihood(model, x, 2000, generator=gen()).mean().item()
    assert big == pytest.approx(exact, abs=0.02)


def test_one_sample_average_is_the_elbo_of_the_linear_gaussian_model():
    model = LinearGaussian(shift=0.4, widen=0.6)
    x = model.sample_x(2000)
    # ELBO = log p(x) - KL(q || true posterior), both Gaussians with diagonal covariance
    mu_q, logvar_q = model.encode(x)
    mu_p, logvar_p = mu_q - model.shift, logvar_q - model.widen
    kl = torch.distributions.kl_divergence(
        Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp())
    ).sum(-1)
    elbo = (model.exact_log_px(x) - kl).mean().item()
    estimate = log_likelihood(model, x, n_samples=1, generator=gen()).mean().item()
    assert estimate == pytest.approx(elbo, abs=0.05)


def test_at_least_the_elbo_on_average_for_a_vae():
    torch.manual_seed(0)
    model = VAE(4, (32,))
    x = torch.bernoulli(torch.full((64, 1, 28, 28), 0.3), generator=gen(1))
    elbo = torch.stack([model.elbo(x, generator=gen(s)) for s in range(8)]).mean()
    iw = log_likelihood(model, x, n_samples=50, batch_size=16, generator=gen()).mean()
    assert iw > elbo
    assert torch.isfinite(iw)


def test_numerically_stable_where_a_naive_mean_underflows():
    torch.manual_seed(0)
    model = VAE(2, (16,))
    x = torch.bernoulli(torch.full((8, 784), 0.5), generator=gen(2))
    w = log_weights(model, x, 10, generator=gen())
    assert w.max() < -300  # exp(w) underflows in float32
    assert torch.all(w.exp().mean(0) == 0)  # the naive estimate gives log 0 = -inf
    est = log_likelihood(model, x, 10, generator=gen())
    assert torch.isfinite(est).all() and torch.all(est >= w.max(0).values - math.log(10) - 1e-3)


def test_batch_size_changes_the_draws_not_the_estimate():
    torch.manual_seed(0)
    model = VAE(3, (16,)).train()
    x = torch.bernoulli(torch.full((10, 784), 0.2), generator=gen(2))
    reps = 40  # independent estimates per image and chunking
    a = torch.stack(
        [log_likelihood(model, x, 20, batch_size=3, generator=gen(r)) for r in range(reps)]
    )  # (reps, 10)
    b = torch.stack(
        [log_likelihood(model, x, 20, batch_size=1000, generator=gen(100 + r)) for r in range(reps)]
    )
    assert a.shape == b.shape == (reps, 10)
    se = (a.var(0) / reps + b.var(0) / reps).sqrt()  # (10,) standard error of the difference
    assert se.max() < 0.25, "the bound below must be tight enough to see a batching bias"
    assert ((a.mean(0) - b.mean(0)).abs() < 4 * se).all(), (a.mean(0) - b.mean(0), se)
    assert model.training, "evaluation must leave the model's mode as it found it"


def test_bits_per_dim():
    assert bits_per_dim(784 * math.log(2)) == pytest.approx(1.0)
    torch.testing.assert_close(
        bits_per_dim(torch.tensor([0.0, 10 * math.log(2)]), dims=10), torch.tensor([0.0, 1.0])
    )
    with pytest.raises(ValueError, match="finite"):
        bits_per_dim(float("nan"))
    with pytest.raises(TypeError, match="nll_nats must be a number"):
        bits_per_dim("95.4")


def test_weight_summaries():
    log_w = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1000.0, -1000.0, -1000.0, -math.inf]]).T  # (S, B)
    torch.testing.assert_close(effective_sample_size(log_w), torch.tensor([4.0, 1.0]))
    torch.testing.assert_close(best_weight_share(log_w), torch.tensor([0.25, 1.0]))
    torch.testing.assert_close(log_mean_exp(log_w), torch.tensor([0.0, 1000.0 - math.log(4)]))
    torch.testing.assert_close(log_mean_exp(log_w.T, dim=1), log_mean_exp(log_w))
    torch.testing.assert_close(log_mean_exp(log_w.T, dim=-1), log_mean_exp(log_w))
    w = torch.rand(50, generator=gen(15), dtype=torch.float64)
    torch.testing.assert_close(effective_sample_size(w.log()), w.sum() ** 2 / (w**2).sum())
    torch.testing.assert_close(best_weight_share(w.log()), w.max() / w.sum())
    torch.testing.assert_close(log_mean_exp(w.log()), w.mean().log())


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: log_mean_exp(torch.empty(0, 3)), ValueError, r"no samples along dim=0 \(shape"),
        (lambda: log_mean_exp(torch.zeros(3), dim=1), ValueError, "dim must be <= 0"),
        (lambda: log_mean_exp(torch.tensor(1.0)), ValueError, "log_w must have a sample dim"),
        (lambda: log_mean_exp([0.0, 1.0]), TypeError, "log_w must be a torch.Tensor"),
        (lambda: effective_sample_size(torch.empty(0)), ValueError, "no samples"),
        (lambda: effective_sample_size(torch.tensor([0.0, math.nan])), ValueError, "NaN"),
        (lambda: effective_sample_size(torch.tensor([0.0, math.inf])), ValueError, r"\+inf"),
        (
            lambda: effective_sample_size(torch.tensor([[0.0, -math.inf], [1.0, -math.inf]])),
            ValueError,
            "-inf for every sample along dim=0",
        ),
        (
            lambda: best_weight_share(torch.full((4,), -math.inf)),
            ValueError,
            "all its weights are zero",
        ),
    ],
    ids=["empty", "dim", "scalar", "list", "ess empty", "nan", "+inf", "all -inf", "share -inf"],
)
def test_weight_summaries_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_input_errors_are_clear():
    model = LinearGaussian()
    x = model.sample_x(3)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        log_likelihood(model, x, 0)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        log_likelihood(model, x, 2.5)
    with pytest.raises(ValueError, match="NaN"):
        log_likelihood(model, torch.full((2, 5), float("nan"), dtype=torch.float64), 2)
    with pytest.raises(TypeError, match="has no 'encode'"):
        log_likelihood(nn.Linear(5, 2), x, 2)
    with pytest.raises(ValueError, match="no images"):
        log_likelihood(model, x[:0], 2)


class MeanFieldEncoder(nn.Module):
    """Notebook 05's linear-Gaussian model (lecture_utils.toy) with a diagonal q(z|x): the exact
    posterior's mean and the diagonal of its covariance. The posterior is correlated, so q is not
    exact and the ELBO stays strictly below log p(x)."""

    def __init__(self, toy):
        super().__init__()
        self.toy = toy
        self.latent_dim = toy.latent_dim

    def encode(self, x):
        mean, cov = self.toy.posterior(x)
        return mean, torch.diagonal(cov, dim1=-2, dim2=-1).log().expand_as(mean)

    def log_likelihood(self, x, z):
        return self.toy.log_likelihood(x, z)


def test_on_notebook_05s_linear_gaussian_model_the_estimate_climbs_from_its_elbo_to_log_px():
    from lecture_utils.toy import LinearGaussian as ToyLinearGaussian

    toy = ToyLinearGaussian.random(6, 3, sigma=0.4, generator=gen(5)).double()
    model = MeanFieldEncoder(toy)
    x, _ = toy.sample(300, gen(6))
    with torch.no_grad():
        exact = toy.log_marginal(x).mean().item()
        mu, logvar = model.encode(x)
        elbo = toy.elbo(x, mu, logvar).mean().item()
    assert elbo < exact - 0.05, "the mean-field q must leave a gap"
    # the average log weight is a Monte Carlo ELBO (here of 300 x 400 draws)
    assert log_weights(model, x, 400, generator=gen(7)).mean().item() == pytest.approx(
        elbo, abs=0.05
    )
    means = [log_likelihood(model, x, k, generator=gen(k)).mean().item() for k in (1, 4, 16, 64)]
    assert all(a < b for a, b in zip(means, means[1:])), means
    big = log_likelihood(model, x, 4000, generator=gen(8)).mean().item()
    assert big == pytest.approx(exact, abs=0.01)
