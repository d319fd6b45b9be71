"""lecture_utils.latent against independent references: rotations built by Gram-Schmidt
(checks.nb07.rotation_reference, shared with the check of Exercise 7.1),
the normal CDF from math.erf, explicitly sheared images, known linear directions."""

import math

import pytest
import torch

from lecture_utils.checks.nb07 import rotation_reference
from lecture_utils.images import image_slant
from lecture_utils.latent import (
    encode_dataset,
    latent_grid,
    lerp,
    slant_direction,
    slerp,
)
from lecture_utils.models import VAE, Autoencoder


def test_lerp_is_the_straight_line():
    z0, z1 = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([3.0, 0.0, -0.5])
    t = torch.tensor([0.0, 0.25, 1.0])
    path = lerp(z0, z1, t)
    assert path.shape == (3, 3)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[1], z0 + 0.25 * (z1 - z0))
    torch.testing.assert_close(path[2], z1)


def test_lerp_and_slerp_take_batches_of_pairs():
    z0, z1 = torch.randn(4, 5), torch.randn(4, 5)
    t = torch.linspace(0, 1, 6)
    for fn in (lerp, slerp):
        path = fn(z0, z1, t)
        assert path.shape == (6, 4, 5)
        for b in range(4):
            torch.testing.assert_close(path[:, b], fn(z0[b], z1[b], t))


def test_the_rotation_reference_walks_the_quarter_circle():
    t = torch.tensor([0.0, 1 / 3, 0.5, 1.0])
    angles = t.double() * math.pi / 2
    expected = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    got = rotation_reference(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0]), t)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected)


def test_slerp_follows_the_rotation_reference():
    g = torch.Generator().manual_seed(1)
    t = torch.linspace(0, 1, 7)
    for _ in range(5):
        z0, z1 = torch.randn(6, generator=g), 2.5 * torch.randn(6, generator=g)
        torch.testing.assert_close(
            slerp(z0, z1, t).double(), rotation_reference(z0, z1, t), rtol=1e-5, atol=1e-5
        )


def test_slerp_keeps_the_norm_and_constant_angular_speed():
    z0 = torch.tensor([3.0, 0.0, 0.0, 0.0])
    z1 = torch.tensor([1.0, 2.0, 2.0, 0.0])  # the same norm, 3
    t = torch.linspace(0, 1, 11)
    path = slerp(z0, z1, t)
    torch.testing.assert_close(path.norm(dim=1), torch.full((11,), 3.0))
    angles = torch.arccos((path[:-1] * path[1:]).sum(1) / 9.0)
    torch.testing.assert_close(angles, torch.full((10,), math.acos(1 / 3) / 10), atol=1e-4, rtol=0)
    assert lerp(z0, z1, t).norm(dim=1)[5] < 2.9  # the straight line cuts inside the sphere


def test_slerp_edge_cases():
    t = torch.linspace(0, 1, 3)
    z = torch.tensor([1.0, 2.0])
    torch.testing.assert_close(slerp(z, 3 * z, t), lerp(z, 3 * z, t))  # parallel: a line
    with pytest.raises(ValueError, match="opposite directions"):
        slerp(z, -z, t)
    with pytest.raises(ValueError, match="non-zero codes"):
        slerp(torch.zeros(2), z, t)
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        slerp(z, 2 * z, t, eps=0)
    with pytest.raises(TypeError, match="eps must be a number"):
        slerp(z, 2 * z, t, eps="1e-6")


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_path_inputs_are_checked(fn):
    with pytest.raises(ValueError, match="same shape"):
        fn(torch.ones(3), torch.ones(4), torch.linspace(0, 1, 3))
    with pytest.raises(
        ValueError, match=r"z0 and z1 must have the same shape, got \(4, 5\) and \(3, 5\)"
    ):
        fn(torch.ones(4, 5), torch.ones(3, 5), torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match=r"same shape, got \(5,\) and \(1, 5\)"):
        fn(torch.ones(5), torch.ones(1, 5), torch.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="z0 must have 1 or 2 dimensions"):
        fn(torch.ones(2, 2, 2), torch.ones(2, 2, 2), torch.linspace(0, 1, 3))
    with pytest.raises(TypeError, match="t must be a torch.Tensor"):
        fn(torch.ones(3), torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="t must have 1 dimensions"):
        fn(torch.ones(3), torch.ones(3), torch.ones(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([1.0, math.nan]), torch.ones(2), torch.linspace(0, 1, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        fn([1.0, 2.0], torch.ones(2), torch.linspace(0, 1, 3))


def test_latent_grid_has_equal_prior_mass_per_cell():
    n = 5
    grid = latent_grid(n, 0.1, 0.9)
    assert grid.shape == (n * n, 2)
    cdf = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))  # noqa: E731
    probs = [cdf(v) for v in grid[:n, 0].tolist()]
    assert probs == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9], abs=1e-6)
    # row by row: z1 grows along a row, z2 shrinks from the top row to the bottom one
    assert torch.all(grid[:n, 0].diff() > 0) and torch.all(grid[:n, 1] == grid[0, 1])
    assert torch.all(grid[::n, 1].diff() < 0) and torch.all(grid[::n, 0] == grid[0, 0])
    torch.testing.assert_close(grid[::n, 1], grid[:n, 0].flip(0))


@pytest.mark.parametrize("kwargs", [{"low": 0.0}, {"high": 1.0}, {"low": 0.6, "high": 0.4}])
def test_latent_grid_rejects_bad_probabilities(kwargs):
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        latent_grid(4, **kwargs)


def test_latent_grid_over_an_extent_is_even():
    even = latent_grid(3, extent=(-2.0, 4.0))
    assert even.shape == (9, 2)
    assert even[:3, 0].tolist() == [-2.0, 1.0, 4.0] and even[::3, 1].tolist() == [4.0, 1.0, -2.0]
    assert torch.all(even[:3, 1] == 4.0) and torch.all(even[::3, 0] == -2.0)
    torch.testing.assert_close(latent_grid(4), latent_grid(4, 0.05, 0.95))  # the defaults


@pytest.mark.parametrize(
    "args,kwargs,error,message",
    [
        ((1,), {}, ValueError, r"n must be >= 2 \(a grid needs two points per axis\), got 1"),
        ((0,), {"extent": (0, 1)}, ValueError, "n must be >= 2"),
        ((3.0,), {}, TypeError, "n must be an int, got float"),
        ((3,), {"extent": (1.0, 1.0)}, ValueError, "extent must be .* with lo < hi"),
        ((3,), {"extent": (3, -3)}, ValueError, r"with lo < hi, got \(3, -3\)"),
        ((3,), {"extent": (0.0, 1.0, 2.0)}, TypeError, "extent must be a pair"),
        ((3,), {"extent": "ab"}, TypeError, "extent must be a pair"),
        ((3,), {"extent": (0.0, float("nan"))}, ValueError, r"extent\[1\] must be a finite"),
        ((3,), {"extent": (None, 1.0)}, TypeError, r"extent\[0\] must be a number"),
        ((3, 0.1), {"extent": (-1, 1)}, ValueError, "either low/high .* or extent"),
        ((3,), {"low": "0.1"}, TypeError, "low must be a number"),
    ],
)
def test_latent_grid_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        latent_grid(*args, **kwargs)


def test_encode_dataset_batches_like_one_call():
    x = torch.rand(23, 1, 28, 28)
    ae, vae = Autoencoder(3, (16,)), VAE(2, (16,))
    vae.train()
    torch.testing.assert_close(encode_dataset(ae, x, batch_size=5), ae.encode(x))
    torch.testing.assert_close(encode_dataset(vae, x, batch_size=7), vae.encode(x)[0])
    assert vae.training, "encode_dataset must restore the training mode"
    with pytest.raises(TypeError, match="encode method"):
        encode_dataset(torch.nn.Linear(2, 2), x)


class _EncodesButIsNoModule:
    def encode(self, x):
        return x


@pytest.mark.parametrize(
    "model,images,kwargs,error,message",
    [
        (
            _EncodesButIsNoModule(),
            torch.rand(3, 784),
            {},
            TypeError,
            "nn.Module with an encode method",
        ),
        (None, torch.rand(3, 784), {}, TypeError, "got NoneType"),
        (
            "ae",
            torch.rand(0, 1, 28, 28),
            {},
            ValueError,
            r"images is empty \(shape \(0, 1, 28, 28\)\)",
        ),
        ("ae", torch.rand(3, 28, 28), {}, ValueError, "images must have 2 or 4 dimensions"),
        ("ae", torch.rand(3, 784).tolist(), {}, TypeError, "images must be a torch.Tensor"),
        ("ae", torch.randint(0, 2, (3, 784)), {}, TypeError, "floating-point"),
        ("ae", torch.rand(3, 784), {"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ("ae", torch.rand(3, 784), {"batch_size": 10.0}, TypeError, "batch_size must be an int"),
    ],
    ids=["no module", "None", "empty", "3-D", "list", "ints", "batch 0", "batch float"],
)
def test_encode_dataset_rejects_bad_inputs(model, images, kwargs, error, message):
    model = Autoencoder(2, (16,)) if model == "ae" else model
    with pytest.raises(error, match=message):
        encode_dataset(model, images, **kwargs)


def test_encode_dataset_restores_the_mode_even_after_an_error():
    ae = Autoencoder(2, (16,))
    ae.train()
    with pytest.raises(ValueError):
        encode_dataset(ae, torch.rand(3, 100))  # the model expects 784 pixels
    assert ae.training


def sheared_stroke(shear, size=28):
    """A vertical stroke of 3-pixel width whose column moves right by ``shear`` per row up."""
    img = torch.zeros(1, size, size)
    for r in range(4, 24):
        c = 14 + shear * (14 - r)
        for dc in (-1, 0, 1):
            lo = math.floor(c + dc)
            frac = c + dc - lo
            img[0, r, lo] += 1 - frac
            img[0, r, lo + 1] += frac
    return img


@pytest.mark.parametrize("shear", [0.0, 0.2, -0.35, 0.5])
def test_image_slant_recovers_a_known_shear(shear):
    torch.testing.assert_close(
        image_slant(sheared_stroke(shear)[None]), torch.tensor([shear]), atol=1e-4, rtol=0
    )


def test_image_slant_flips_with_the_mirror_image_and_checks_inputs():
    x = sheared_stroke(0.3)[None]
    torch.testing.assert_close(image_slant(x.flip(-1)), -image_slant(x), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="no ink"):
        image_slant(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=">= 0.0"):
        image_slant(-torch.ones(1, 28, 28))


def test_slant_direction_finds_a_known_direction():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0.0, 3.0, -4.0, 0.0]) / 5.0
    mix = torch.eye(4) + 0.5 * torch.randn(4, 4, generator=g)  # correlated codes
    z = torch.randn(500, 4, generator=g) @ mix + 2.0
    slant = 0.7 * z @ w + 0.3 + 0.001 * torch.randn(500, generator=g)
    found = slant_direction(z, slant)
    torch.testing.assert_close(found, w, atol=2e-3, rtol=0)
    torch.testing.assert_close(slant_direction(z, 5 * slant), found)  # only the direction counts
    with pytest.raises(ValueError, match="more codes than latent dimensions"):
        slant_direction(z[:4], slant[:4])
    with pytest.raises(ValueError, match=r"shape \(500\)"):
        slant_direction(z, slant[:10])
