import math

import pytest
import torch
from torch.distributions import Bernoulli, Laplace, Normal

from lecture_utils.blur import (
    LOSSES,
    expected_loss,
    grey_fraction,
    minimise_expected_loss,
    reconstruction_loss,
    shifted_strokes,
    train_autoencoder,
    weighted_median,
)
from lecture_utils.models import Autoencoder


def test_shifted_strokes_draws_one_bar_per_column():
    s = shifted_strokes([3, 10], size=16, width=2, rows=(4, 12))
    assert s.shape == (2, 1, 16, 16) and s.dtype == torch.float32
    assert set(s.unique().tolist()) == {0.0, 1.0}
    assert s.sum(dim=(1, 2, 3)).tolist() == [16.0, 16.0]  # 8 rows x 2 columns
    assert s[0, 0, 4:12, 3:5].min() == 1 and s[1, 0, 4:12, 10:12].min() == 1
    assert s[0, 0, :, 10:12].sum() == 0  # no overlap here


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"columns": []}, "non-empty sequence"),
        ({"columns": "12"}, "non-empty sequence"),
        ({"columns": [27]}, r"in \[0, 26\]"),
        ({"columns": [2.5]}, "must be an int"),
        ({"columns": [3], "rows": (10, 5)}, "top < bottom"),
        ({"columns": [3], "width": 0}, "width must be >= 1"),
    ],
)
def test_shifted_strokes_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        shifted_strokes(**kwargs)


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


def test_reconstruction_loss_accepts_flat_images_and_rejects_bad_input():
    x = torch.rand(4, 9)
    assert reconstruction_loss(x, x, "l1").shape == (4,)
    with pytest.raises(ValueError, match="kind must be one of"):
        reconstruction_loss(x, x, "huber")
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_loss(x, x[:, :8], "l1")
    with pytest.raises(ValueError, match="x_hat must be <= 1.0"):
        reconstruction_loss(x + 1.0, x, "bce")
    with pytest.raises(ValueError, match="NaN"):
        reconstruction_loss(x * float("nan"), x, "l2")


def test_expected_loss_weights_the_targets():
    targets = torch.rand(3, 1, 4, 4)
    x_hat = torch.rand(1, 4, 4)
    w = torch.tensor([0.5, 0.3, 0.2])
    direct = sum(
        float(wk) * float(reconstruction_loss(x_hat[None], t[None], "l2"))
        for wk, t in zip(w, targets)
    )
    assert float(expected_loss(x_hat, targets, w, "l2")) == pytest.approx(direct, rel=1e-6)
    assert float(expected_loss(x_hat[None], targets)) == pytest.approx(
        float(reconstruction_loss(x_hat[None].expand_as(targets), targets).mean()), rel=1e-6
    )
    with pytest.raises(ValueError, match="sum to 1"):
        expected_loss(x_hat, targets, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="weights must have shape"):
        expected_loss(x_hat, targets, [0.5, 0.5])
    with pytest.raises(ValueError, match="one image shaped like"):
        expected_loss(targets[:2], targets)


@pytest.mark.parametrize("kind", ["l2", "bce"])
def test_mean_minimises_l2_and_cross_entropy(kind):
    targets = shifted_strokes([4, 7, 9], size=14, rows=(2, 12))
    w = torch.tensor([0.5, 0.3, 0.2])
    best = minimise_expected_loss(targets, w, kind)
    mean = (w[:, None, None, None] * targets).sum(dim=0)
    torch.testing.assert_close(best, mean, atol=2e-3, rtol=0)


def test_median_minimises_l1():
    targets = shifted_strokes([2, 6, 10], size=14, rows=(2, 12))
    w = [0.2, 0.6, 0.2]
    best = minimise_expected_loss(targets, w, "l1")
    torch.testing.assert_close(best, weighted_median(targets, w), atol=2e-3, rtol=0)
    torch.testing.assert_close(best, targets[1], atol=2e-3, rtol=0)  # the most likely stroke


def test_weighted_median_against_sorting_by_hand():
    values = torch.tensor([[3.0, 1.0], [1.0, 5.0], [2.0, 4.0]])  # (N=3, 2)
    torch.testing.assert_close(weighted_median(values), torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(weighted_median(values, [0.6, 0.2, 0.2]), torch.tensor([3.0, 1.0]))
    torch.testing.assert_close(weighted_median(values, [0.1, 0.1, 0.8]), torch.tensor([2.0, 4.0]))
    data = torch.randn(101, 7)
    torch.testing.assert_close(weighted_median(data), data.median(dim=0).values)


def test_grey_fraction_counts_pixels_between_ink_and_paper():
    images = torch.tensor([[0.0, 1.0, 0.5, 0.05], [0.2, 0.3, 0.95, 1.0]])
    torch.testing.assert_close(grey_fraction(images), torch.tensor([0.25, 0.5]))
    with pytest.raises(ValueError, match="low < high"):
        grey_fraction(images, low=0.9, high=0.1)


def test_train_autoencoder_is_deterministic_and_learns():
    x = shifted_strokes(list(range(0, 11, 2)), size=12, width=2, rows=(2, 10)).repeat(4, 1, 1, 1)
    state = torch.random.get_rng_state()
    model, history = train_autoencoder(
        x, "l2", latent_dim=2, hidden_dims=(16,), epochs=3, lr=1e-2, batch_size=8, seed=1
    )
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    again, _ = train_autoencoder(
        x, "l2", latent_dim=2, hidden_dims=(16,), epochs=3, lr=1e-2, batch_size=8, seed=1
    )
    assert isinstance(model, Autoencoder) and not model.training
    assert history["loss"][-1] < history["loss"][0]
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kind", LOSSES)
def test_train_autoencoder_starts_every_loss_from_the_same_weights(kind):
    x = torch.rand(16, 1, 4, 4)
    model, history = train_autoencoder(
        x, kind, latent_dim=2, hidden_dims=(8,), epochs=1, lr=1e-9, batch_size=16, seed=3
    )
    reference, _ = train_autoencoder(
        x, "l2", latent_dim=2, hidden_dims=(8,), epochs=1, lr=1e-9, batch_size=16, seed=3
    )
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)
    assert len(history["loss"]) == 1


def test_train_autoencoder_rejects_bad_input():
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        train_autoencoder(torch.rand(8, 16))
    with pytest.raises(ValueError, match="x must be <= 1.0"):
        train_autoencoder(torch.rand(8, 1, 4, 4) + 1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        train_autoencoder(torch.rand(8, 1, 4, 4), "l3")
