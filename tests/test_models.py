import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal

from lecture_utils.losses import gaussian_kl
from lecture_utils.models import VAE, Autoencoder, mlp


def test_autoencoder_shapes_and_range():
    ae = Autoencoder(latent_dim=8, hidden_dims=(64, 32))
    x = torch.rand(5, 1, 28, 28)
    assert ae.encode(x).shape == (5, 8)
    out = ae(x)
    out = out.detach()
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert ae(x.reshape(5, 784)).shape == x.shape


def test_linear_autoencoder_is_linear():
    ae = Autoencoder(3, hidden_dims=(), activation="identity", output="linear")
    a, b = torch.randn(2, 784), torch.randn(2, 784)
    torch.testing.assert_close(
        ae.encode(a + b) - ae.encoder[0].bias, ae.encode(a) + ae.encode(b) - 2 * ae.encoder[0].bias
    )


def test_other_input_shapes():
    ae = Autoencoder(2, (16,), input_shape=(1, 8, 8))
    assert ae(torch.rand(3, 1, 8, 8)).shape == (3, 1, 8, 8)


def test_autoencoder_bad_input():
    ae = Autoencoder(4)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        ae(torch.rand(2, 1, 20, 20))
    with pytest.raises(ValueError, match="NaN"):
        ae(torch.full((2, 784), float("nan")))
    with pytest.raises(TypeError, match="Tensor"):
        ae([[0.0] * 784])
    with pytest.raises(ValueError, match="z must have shape"):
        ae.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="latent_dim"):
        Autoencoder(0)
    with pytest.raises(ValueError, match="activation"):
        mlp([2, 3], "gelu")


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_elbo_matches_independent_computation(likelihood):
    torch.manual_seed(1)
    vae = VAE(latent_dim=3, hidden_dims=(32,), likelihood=likelihood, sigma=0.2)
    x = torch.bernoulli(torch.rand(4, 1, 28, 28))
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, 3)
    elbo = vae.elbo(x, torch.Generator().manual_seed(5))
    # recompute with torch.distributions from the same noise
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(5))
    z = mu + (0.5 * logvar).exp() * eps
    out = vae.decoder(z).reshape(4, 1, 28, 28)
    if likelihood == "bernoulli":
        log_px = torch.distributions.Bernoulli(logits=out).log_prob(x).sum((1, 2, 3))
    else:
        log_px = Normal(torch.sigmoid(out), 0.2).log_prob(x).sum((1, 2, 3))
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    kl_mc_free = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(elbo, log_px - kl_mc_free)
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_mc_free)


def test_vae_forward_sample_and_gradients():
    vae = VAE(2, (16,))
    x = torch.bernoulli(torch.rand(3, 784))
    x_mean, mu, logvar = vae(x)
    assert x_mean.shape == (3, 1, 28, 28) and mu.shape == (3, 2)
    (-vae.elbo(x).mean()).backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())
    assert vae.sample(5, torch.Generator().manual_seed(0)).shape == (5, 1, 28, 28)


def test_vae_learned_sigma_is_a_parameter():
    vae = VAE(2, (8,), likelihood="gaussian", learn_sigma=True)
    assert any(p is vae.log_sigma for p in vae.parameters())
    fixed = VAE(2, (8,), likelihood="gaussian")
    assert all(p is not fixed.log_sigma for p in fixed.parameters())
    with pytest.raises(ValueError, match="likelihood"):
        VAE(2, likelihood="poisson")
    with pytest.raises(ValueError, match="sigma"):
        VAE(2, likelihood="gaussian", sigma=0.0)


def test_vae_runs_in_double_precision_when_converted():
    vae = VAE(2, (8,), input_shape=(1, 4, 4)).double()
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    assert vae.elbo(x.round()).dtype == torch.float64
    assert vae.sample(2).dtype == torch.float64
    with pytest.raises(TypeError, match=r"use x.to\(torch.float64\)"):
        vae.encode(x.float())


def test_reparameterize_keeps_shape_and_uses_the_generator():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    a = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    b = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    assert a.shape == (5, 3)
    torch.testing.assert_close(a, b)
    eps = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, mu + (0.5 * logvar).exp() * eps)
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        VAE.reparameterize(mu, logvar[:, :1])


def test_constructor_arguments_are_validated():
    with pytest.raises(TypeError, match=r"hidden_dims must be a list or tuple.*\(64,\)"):
        Autoencoder(2, hidden_dims=64)
    with pytest.raises(ValueError, match=r"hidden_dims\[1\] must be >= 1, got 0"):
        VAE(2, hidden_dims=(8, 0))
    with pytest.raises(TypeError, match="sigma must be a number"):
        VAE(2, likelihood="gaussian", sigma="0.1")
    with pytest.raises(TypeError, match="learn_sigma must be True or False"):
        VAE(2, learn_sigma=1)
    with pytest.raises(ValueError, match="activation"):
        VAE(2, activation="gelu")
    # lists, tuples and NumPy ints are all fine
    assert Autoencoder(2, [8], input_shape=[1, 4, 4]).input_shape == (1, 4, 4)
    assert VAE(np.int64(3), (np.int64(8),)).latent_dim == 3


def test_nan_input_blames_the_data_not_the_learning_rate():
    ae = Autoencoder(2, (8,), input_shape=(1, 4, 4))
    x = torch.rand(2, 1, 4, 4)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="check the data") as info:
        ae(x)
    assert "learning rate" not in str(info.value)
