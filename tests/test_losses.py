import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Laplace, Normal, kl_divergence

from lecture_utils.losses import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_likelihood,
    l2_loss,
    log_normal,
    log_standard_normal,
    reconstruction_loss,
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


def test_log_normal_matches_torch_distributions_and_broadcasts():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)  # (B, D)
    mean = torch.randn(5, 4, 3, generator=g, dtype=torch.float64)  # (S, B, D)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    ref = Independent(Normal(mean, (0.5 * logvar).exp()), 1).log_prob(x)
    torch.testing.assert_close(log_normal(x, mean, logvar), ref)
    assert log_normal(x, mean, logvar).shape == (5, 4)
    ref_number = Independent(Normal(mean, math.exp(0.5 * -1.5)), 1).log_prob(x)
    torch.testing.assert_close(log_normal(x, mean, -1.5), ref_number)
    z = torch.randn(6, 2, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        log_standard_normal(z), Independent(Normal(torch.zeros(3), 1.0), 1).log_prob(z).double()
    )
    torch.testing.assert_close(log_standard_normal(z), log_normal(z, torch.zeros_like(z), 0.0))
    # gradients flow to the mean and the log-variance (notebook 05 fits a model through them)
    logvar.requires_grad_(True)
    log_normal(x, mean, logvar).sum().backward()
    torch.testing.assert_close(logvar.grad, (0.5 * (((x - mean) ** 2) / logvar.exp() - 1)).sum(0))


def test_reconstruction_losses_are_negative_log_likelihoods_up_to_constants():
    x = torch.rand(3, 1, 5, 5)
    x_hat = torch.rand(3, 1, 5, 5) * 0.98 + 0.01
    d = 25
    laplace = -Laplace(x_hat, 1.0).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(reconstruction_loss(x_hat, x, "l1"), laplace - d * math.log(2.0))
    gauss = -Normal(x_hat, 1.0).log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(
        reconstruction_loss(x_hat, x, "l2") / 2, gauss - 0.5 * d * math.log(2 * math.pi)
    )
    binary = torch.bernoulli(x)
    bern = -Bernoulli(probs=x_hat).log_prob(binary).sum(dim=(1, 2, 3))
    torch.testing.assert_close(reconstruction_loss(x_hat, binary, "bce"), bern)
    assert reconstruction_loss(x.flatten(1), x.flatten(1), "l1").shape == (3,)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (
            lambda: gaussian_kl(
                torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(3, 2), torch.zeros(3, 2)
            ),
            ValueError,
            r"mu_p must have mu's shape \(4, 2\) or broadcast to it .* got \(3, 2\)",
        ),
        (
            lambda: gaussian_kl(
                torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(2), torch.zeros(4, 3)
            ),
            ValueError,
            r"logvar_p must have mu's shape \(4, 2\) .* got \(4, 3\)",
        ),
        (
            lambda: gaussian_kl(
                torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(1, 2, 1), torch.zeros(2)
            ),
            ValueError,
            r"mu_p must have mu's shape",
        ),
        (
            lambda: gaussian_log_likelihood(torch.rand(2, 784), torch.rand(2, 784), torch.zeros(3)),
            ValueError,
            r"or broadcast to x.s shape \(2, 784\), got shape \(3,\)",
        ),
        (
            lambda: gaussian_log_likelihood(
                torch.rand(2, 4), torch.rand(2, 4), torch.zeros(3, 2, 4)
            ),
            ValueError,
            r"broadcast to x's shape \(2, 4\), got shape \(3, 2, 4\)",
        ),
        (
            lambda: gaussian_log_likelihood(torch.rand(2, 4), torch.rand(2, 4), True),
            TypeError,
            "logvar must be a number, got bool",
        ),
        (
            lambda: gaussian_log_likelihood(torch.rand(2, 4), torch.rand(2, 4), "0.1"),
            TypeError,
            "logvar must be a number, got str",
        ),
        (
            lambda: log_normal(torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(3)),
            ValueError,
            r"x, mean and logvar must broadcast together, got shapes \(4, 3\), \(5, 3\) and \(3,\)",
        ),
        (lambda: log_normal(torch.zeros(()), torch.zeros(()), 0.0), ValueError, "all scalars"),
        (
            lambda: log_normal(torch.zeros(2, 3), torch.zeros(2, 3), None),
            TypeError,
            "logvar must be a number",
        ),
        (
            lambda: log_standard_normal(torch.tensor(1.0)),
            ValueError,
            "z must have a last dimension",
        ),
        (lambda: log_standard_normal([0.0, 1.0]), TypeError, "z must be a torch.Tensor"),
        (
            lambda: reconstruction_loss(torch.rand(4, 9), torch.rand(4, 9), "L2"),
            ValueError,
            "kind must be one of 'l1', 'l2', 'bce', got 'L2'",
        ),
        (
            lambda: reconstruction_loss(torch.rand(4, 9), torch.rand(4, 9), None),
            ValueError,
            "kind must be one of",
        ),
        (
            lambda: reconstruction_loss(torch.rand(4, 9), torch.rand(4, 8), "l1"),
            ValueError,
            "same shape",
        ),
        (
            lambda: reconstruction_loss(torch.rand(4, 9) + 1.0, torch.rand(4, 9), "bce"),
            ValueError,
            "x_hat must be <= 1.0",
        ),
        (
            lambda: reconstruction_loss(torch.full((4, 9), math.nan), torch.rand(4, 9), "l2"),
            ValueError,
            "NaN",
        ),
    ],
    ids=[
        "kl mu_p rows",
        "kl logvar_p cols",
        "kl mu_p ndim",
        "loglik logvar (3,)",
        "loglik logvar too big",
        "loglik logvar True",
        "loglik logvar str",
        "log_normal shapes",
        "log_normal scalars",
        "log_normal logvar None",
        "standard scalar",
        "standard list",
        "recon kind case",
        "recon kind None",
        "recon shapes",
        "recon bce range",
        "recon nan",
    ],
)
def test_companion_arguments_and_numbers_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gaussian_kl_and_log_likelihood_accept_what_broadcasts():
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    shared = gaussian_kl(mu, logvar, torch.zeros(2), torch.zeros(1, 2))  # one N(0, I) for the batch
    torch.testing.assert_close(shared, gaussian_kl(mu, logvar))
    x, mean = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    per_pixel = torch.randn(1, 1, 2, 2)
    ref = Independent(Normal(mean, (0.5 * per_pixel).exp()), 3).log_prob(x)
    torch.testing.assert_close(gaussian_log_likelihood(mean, x, per_pixel), ref)
    torch.testing.assert_close(
        gaussian_log_likelihood(mean, x, 1), gaussian_log_likelihood(mean, x, 1.0)
    )
