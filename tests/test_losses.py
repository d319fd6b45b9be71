import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from lecture_utils.losses import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_likelihood,
    l2_loss,
)


def test_l2_reductions_and_gradient_against_autograd():
    x = torch.rand(4, 1, 28, 28)
    x_hat = torch.rand(4, 1, 28, 28, requires_grad=True)
    per = l2_loss(x_hat, x, "per_example")
    assert per.shape == (4,)
    torch.testing.assert_close(l2_loss(x_hat, x, "sum"), per.sum())
    torch.testing.assert_close(l2_loss(x_hat, x, "mean"), per.sum() / x.numel())
    l2_loss(x_hat, x, "sum").backward()
    torch.testing.assert_close(x_hat.grad, 2 * (x_hat - x).detach())  # d/dx_hat ||x_hat - x||^2


def test_bernoulli_matches_torch_distributions():
    logits = torch.randn(5, 1, 28, 28) * 4
    x = torch.bernoulli(torch.full_like(logits, 0.3))
    ref = Independent(Bernoulli(logits=logits), 3).log_prob(x)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), ref)


def test_bernoulli_is_stable_for_extreme_logits():
    logits = torch.tensor([[100.0, -100.0]])
    out = bernoulli_log_likelihood(logits, torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(out, torch.tensor([-200.0]))


def test_gaussian_matches_torch_distributions():
    mean, x = torch.rand(3, 784), torch.rand(3, 784)
    for logvar in (-2.0, torch.tensor(0.5), torch.randn(1, 784)):
        lv = torch.as_tensor(logvar).expand_as(x)
        ref = Independent(Normal(mean, (0.5 * lv).exp()), 1).log_prob(x)
        torch.testing.assert_close(gaussian_log_likelihood(mean, x, logvar), ref)


def test_gaussian_is_l2_plus_a_constant():
    mean, x = torch.rand(3, 784), torch.rand(3, 784)
    sigma2 = 0.3
    nll = -gaussian_log_likelihood(mean, x, math.log(sigma2))
    const = 0.5 * 784 * math.log(2 * math.pi * sigma2)
    torch.testing.assert_close(nll, l2_loss(mean, x, "per_example") / (2 * sigma2) + const)


def test_kl_against_torch_distributions():
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(torch.zeros(5), torch.ones(5)), 1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, p))
    mu_p, logvar_p = torch.randn(6, 5), torch.randn(6, 5)
    p2 = Independent(Normal(mu_p, (0.5 * logvar_p).exp()), 1)
    torch.testing.assert_close(gaussian_kl(mu, logvar, mu_p, logvar_p), kl_divergence(q, p2))


def test_kl_against_monte_carlo():
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[-0.5, 0.3]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    assert abs(float(mc) - float(gaussian_kl(mu, logvar))) < 0.01


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same shape"):
        l2_loss(torch.rand(2, 784), torch.rand(2, 10, 10))
    with pytest.raises(ValueError, match="reduction"):
        l2_loss(torch.rand(2, 4), torch.rand(2, 4), "avg")
    with pytest.raises(TypeError, match="floating"):
        l2_loss(torch.ones(2, 4, dtype=torch.int64), torch.rand(2, 4))
    with pytest.raises(ValueError, match="x must be <= 1"):
        bernoulli_log_likelihood(torch.zeros(2, 4), torch.full((2, 4), 2.0))
    with pytest.raises(ValueError, match="NaN"):
        gaussian_kl(torch.tensor([[float("nan")]]), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="logvar must be a finite"):
        gaussian_log_likelihood(torch.rand(2, 4), torch.rand(2, 4), float("inf"))
    with pytest.raises(ValueError, match="both"):
        gaussian_kl(torch.zeros(1, 2), torch.zeros(1, 2), mu_p=torch.zeros(1, 2))
