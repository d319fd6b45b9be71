"""lecture_utils.plotting: image grids and rows, PNG bytes, and the latent-space figures of
notebook 07, each compared with what the model decodes, recomputed here by hand. Small untrained
models keep it fast."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from latent_views import expected_png, pixels  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lecture_utils import plotting  # noqa: E402
from lecture_utils.latent import latent_grid, slerp  # noqa: E402
from lecture_utils.plotting import show_image_rows  # noqa: E402


def test_show_image_rows_draws_one_labelled_row_each():
    a, b = torch.rand(12, 1, 28, 28), torch.rand(12, 784)
    fig = show_image_rows({"original": a, "L2": b}, n=5, title="t")
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["original", "L2"]
    shown = axes[0].images[0].get_array()
    assert shown.shape == (28, 5 * 29 - 1)  # five digits, one-pixel gaps
    np.testing.assert_allclose(shown[:, :28], a[0, 0].numpy())
    np.testing.assert_allclose(axes[1].images[0].get_array()[:, :28], b[0].reshape(28, 28).numpy())
    w, h = fig.get_size_inches()
    assert w <= 8.0 and h <= 8.0
    plt.close(fig)


@pytest.mark.parametrize(
    "rows,message",
    [
        ({}, "non-empty dict"),
        ({"a": torch.rand(3, 1, 28, 28), "b": torch.rand(2, 1, 28, 28)}, "same number and size"),
        ({"a": torch.rand(3, 3, 28, 28)}, "one channel"),
        ({"a": torch.full((2, 784), float("nan"))}, "NaN"),
    ],
)
def test_show_image_rows_rejects_bad_rows(rows, message):
    with pytest.raises(ValueError, match=message):
        show_image_rows(rows)


# --- image_grid -------------------------------------------------------------------------------


@pytest.mark.parametrize("nrow,pad", [(5, 1), (12, 0), (1, 3), (20, 2)])
def test_image_grid_size_and_placement(nrow, pad):
    x = torch.rand(12, 1, 7, 5)
    grid = plotting.image_grid(x, nrow=nrow, pad=pad)
    ncol = min(nrow, 12)
    rows = -(-12 // ncol)
    assert grid.shape == (rows * (7 + pad) - pad, ncol * (5 + pad) - pad)
    for i in (0, 5, 11):
        r, c = divmod(i, ncol)
        top, left = r * (7 + pad), c * (5 + pad)
        np.testing.assert_array_equal(grid[top : top + 7, left : left + 5], x[i, 0].numpy())
    if pad:
        assert (grid[7 : 7 + pad] == 1.0).all(), "the gaps between rows are white"


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"nrow": 0}, ValueError, "nrow must be >= 1, got 0"),
        ({"nrow": 2.5}, TypeError, "nrow must be an int, got float"),
        ({"pad": -1}, ValueError, "pad must be >= 0, got -1"),
        ({"pad": True}, TypeError, "pad must be an int, got bool"),
    ],
)
def test_image_grid_rejects_bad_layouts(kwargs, error, message):
    with pytest.raises(error, match=message):
        plotting.image_grid(torch.rand(4, 1, 28, 28), **kwargs)


def test_image_grid_and_friends_reject_empty_or_odd_inputs():
    with pytest.raises(ValueError, match="nrow must be >= 1, got 0"):
        plotting.show_images(torch.rand(4, 1, 28, 28), nrow=0)
    with pytest.raises(ValueError, match="images is empty"):
        plotting.image_grid(torch.rand(0, 1, 28, 28))
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        plotting.show_reconstructions(torch.rand(3, 784), torch.rand(3, 784), n=0)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        show_image_rows({"a": torch.rand(3, 784)}, n=0)
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        plotting.plot_latent_scatter(torch.randn(3, 2), [0, 1, 2])
    with pytest.raises(ValueError, match=r"labels must have shape \(3\)"):
        plotting.plot_latent_scatter(torch.randn(3, 2), torch.arange(4))


# --- PNG bytes --------------------------------------------------------------------------------


def test_png_bytes_roundtrip():
    img = torch.linspace(0, 1, 12).reshape(1, 3, 4)
    got = pixels(plotting.png_bytes(img, scale=3))
    assert got.shape == (9, 12) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected_png(img, 3))
    assert pixels(plotting.png_bytes(np.zeros((5, 5)), scale=1)).shape == (5, 5)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        plotting.png_bytes(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="NaN"):
        plotting.png_bytes(torch.full((3, 3), float("nan")))
    with pytest.raises(TypeError, match="image must be a torch.Tensor or numpy array"):
        plotting.png_bytes([[0.0, 1.0]])
    with pytest.raises(ValueError, match="scale must be >= 1"):
        plotting.png_bytes(img, scale=0)


def test_figure_png_is_the_figure_at_its_dpi():
    fig = Figure(figsize=(2.0, 1.0), dpi=40)
    fig.patch.set_facecolor((1.0, 0.0, 0.0))
    got = pixels(plotting.figure_png(fig))
    assert got.shape[:2] == (40, 80)
    assert (got[..., 0] == 255).all() and (got[..., 1] == 0).all()
    assert pixels(plotting.figure_png(fig, density=2)).shape[:2] == (80, 160)
    assert fig.dpi == 40  # the figure itself is unchanged
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        plotting.figure_png(fig.add_subplot())
    with pytest.raises(ValueError, match="density must be >= 1"):
        plotting.figure_png(fig, density=0)


# --- the latent-space figures of notebook 07 --------------------------------------------------


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_traversal_figure_sweeps_each_row(models):
    model = models["vae4"]
    z = torch.tensor([0.3, -0.2, 0.1, 0.5])
    fig = plotting.plot_traversal(model, z, dims=[1, 3], n=5, limit=2.0)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-2.0", "-1.0", "0.0", "1.0", "2.0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["$z_{2}$", "$z_{4}$"]
    grid = ax.images[0].get_array()
    assert grid.shape == (2 * 29 - 1, 5 * 29 - 1)
    # row 1, column 4: z with z_4 set to +2, decoded by hand
    code = z.clone()
    code[3] = 2.0
    with torch.no_grad():
        image = model.decode(code[None])[0, 0].numpy()
    np.testing.assert_allclose(grid[29 : 29 + 28, 4 * 29 : 4 * 29 + 28], image, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"dims": [0, 0]}, ValueError, "dims must not repeat an index"),
        ({"dims": [4]}, ValueError, r"dims must be indices in \[0, 4\)"),
        ({"limit": -1.0}, ValueError, "limit must be > 0"),
        ({"limit": "2"}, TypeError, "limit must be a number"),
        ({"n": 1}, ValueError, "n must be >= 2, got 1"),
        ({"z": torch.zeros(2)}, ValueError, r"z must have shape \(4\)"),
    ],
)
def test_traversal_rejects_bad_arguments(models, kwargs, error, message):
    with pytest.raises(error, match=message):
        plotting.plot_traversal(models["vae4"], **kwargs)
    with pytest.raises(TypeError, match="Autoencoder or VAE"):
        plotting.plot_traversal(torch.nn.Linear(2, 2))


def test_interpolation_images_and_figure(models, digits):
    images, _ = digits
    ae = models["ae"]
    out = plotting.interpolation_images(ae, images[0], images[1], steps=5, path="spherical")
    assert out.shape == (5, 1, 28, 28)
    with torch.no_grad():
        z = ae.encode(images[:2])
        torch.testing.assert_close(out[0], ae.decode(z[:1])[0])
        torch.testing.assert_close(out[-1], ae.decode(z[1:])[0], rtol=1e-4, atol=1e-5)
        middle = ae.decode(slerp(z[0], z[1], torch.tensor([0.5])))[0]
    torch.testing.assert_close(out[2], middle)
    fig = plotting.plot_interpolation(
        {"AE": ae, "VAE": models["vae"]}, images[0], images[1], 5, "spherical"
    )
    assert [a.get_yticklabels()[0].get_text() for a in fig.axes] == ["AE", "VAE"]
    row = fig.axes[0].images[0].get_array()  # x0, the 5 decodings, x1; 2-pixel gaps
    np.testing.assert_allclose(row[:, 30 * 3 : 30 * 3 + 28], middle[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(row[:, :28], images[0, 0].numpy())


@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda m, x: plotting.interpolation_images(m, x[0], x[1], path="curvy"),
            ValueError,
            "path must be one of",
        ),
        (
            lambda m, x: plotting.interpolation_images(m, x[0], x[1], steps=0),
            ValueError,
            "steps must be >= 1",
        ),
        (
            lambda m, x: plotting.interpolation_images(m, x[0], x[1, :, :20]),
            ValueError,
            "x0 and x1 must have the same shape",
        ),
        (
            lambda m, x: plotting.interpolation_images(m, x[0, 0], x[1, 0]),
            ValueError,
            r"x0 must have shape \(1, \*, \*\)",
        ),
        (
            lambda m, x: plotting.plot_interpolation({}, x[0], x[1]),
            ValueError,
            "at least one model",
        ),
        (
            lambda m, x: plotting.plot_interpolation({"AE": m}, x[0].tolist(), x[1]),
            TypeError,
            "x0 must be a torch.Tensor",
        ),
        (
            lambda m, x: plotting.plot_interpolation({"AE": m}, x[0], x[1], steps="9"),
            TypeError,
            "steps must be an int",
        ),
        (
            lambda m, x: plotting.plot_interpolation({"AE": "ae"}, x[0], x[1]),
            TypeError,
            "Autoencoder or VAE",
        ),
    ],
    ids=[
        "path",
        "steps",
        "pair shapes",
        "one image",
        "no model",
        "list",
        "steps type",
        "not a model",
    ],
)
def test_interpolation_rejects_bad_arguments(models, digits, call, error, message):
    with pytest.raises(error, match=message):
        call(models["ae"], digits[0])
    assert not plt.get_fignums(), "no figure is left open by a rejected call"


@pytest.mark.parametrize("extent", [None, (-2.0, 4.0)])
def test_manifold_image_tiles_the_decoded_grid(models, extent):
    model = models["vae"]
    got = plotting.manifold_image(model, 3, extent)
    assert got.shape == (3 * 28, 3 * 28)
    points = latent_grid(3, extent=extent)
    with torch.no_grad():
        decoded = model.decode(points)[:, 0].numpy()  # (9, 28, 28), row by row
    for i in range(9):
        r, c = divmod(i, 3)
        np.testing.assert_allclose(
            got[28 * r : 28 * r + 28, 28 * c : 28 * c + 28], decoded[i], atol=1e-6
        )
    with pytest.raises(ValueError, match="2-D latent space"):
        plotting.manifold_image(models["vae4"], 3)


def test_manifold_figure_labels_and_checks(models, digits):
    images, labels = digits
    fig = plotting.plot_manifold(models["ae"], 3, images, labels, extent=(-5.0, 5.0))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["-5.0", "0.0", "5.0"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["5.0", "0.0", "-5.0"]
    assert len(plotting.plot_manifold(models["vae"], 4).axes) == 1  # the grid alone
    plt.close("all")
    for kwargs, message in [
        ({"images": images}, "give labels with images"),
        ({"labels": labels}, "give labels with images"),
        ({"images": images, "labels": labels[:5]}, r"labels must have shape \(12\)"),
        ({"extent": (2.0, -2.0)}, "extent must be .* with lo < hi"),
        ({"n": 1}, "n must be >= 2"),
    ]:
        with pytest.raises(ValueError, match=message):
            plotting.plot_manifold(models["ae"], **{"n": 3, **kwargs})
    assert not plt.get_fignums(), "no figure is left open by a rejected call"
