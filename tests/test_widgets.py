"""lecture_utils.widgets: each explorer redraws its image in place when a control moves, shows
what the model decodes (recomputed here by hand), and has a static figure and a stable text
form. Small untrained models keep it fast; no kernel is needed (ipywidgets then uses a dummy
comm). The static figures themselves are tested in test_plotting_extra.py."""

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from latent_views import expected_png, pixels  # noqa: E402
from script_loader import load_script  # noqa: E402

from lecture_utils.widgets import (  # noqa: E402
    InterpolationExplorer,
    LatentSliders,
    ManifoldExplorer,
    pixel_size,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_sliders_redraw_the_decoded_code(models):
    model = models["vae4"]
    view = LatentSliders(model, dims=[0, 2], scale=2, name="VAE")
    assert [s.description for s in view.sliders] == ["z1", "z3"]
    image_widget = view.image
    before = view.image.value
    view.sliders[1].value = 1.5
    assert view.image is image_widget, "the image must be updated in place"
    assert view.image.value != before
    z = torch.tensor([0.0, 0.0, 1.5, 0.0])
    torch.testing.assert_close(view.z, z)
    np.testing.assert_array_equal(
        pixels(view.image.value), expected_png(model.decode(z[None])[0], 2)
    )
    assert view.readout.value == "z = (0.00, 0.00, 1.50, 0.00)"


def test_sliders_start_from_a_code_and_check_their_arguments(models):
    z = torch.tensor([0.5, -1.0])
    view = LatentSliders(models["ae"], z=z)
    assert [s.value for s in view.sliders] == [0.5, -1.0]
    z[0] = 9.0
    assert view.z[0] == 0.5, "the view must copy the starting code"
    assert len(LatentSliders(models["vae4"]).sliders) == 4
    with pytest.raises(ValueError, match=r"indices in \[0, 2\)"):
        LatentSliders(models["ae"], dims=[2])
    with pytest.raises(ValueError, match=r"shape \(2\)"):
        LatentSliders(models["ae"], z=torch.zeros(3))
    with pytest.raises(TypeError, match="Autoencoder or VAE"):
        LatentSliders(torch.nn.Linear(2, 2))


def test_display_sends_widget_and_static_picture(models):
    view = LatentSliders(models["vae"], name="VAE")
    bundle, metadata = view._repr_mimebundle_()
    assert bundle["text/plain"] == "LatentSliders(VAE, 2-D, sliders for z1,2)"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.box.model_id
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG")
    # stored at twice the pixel density, displayed at the figure's own size
    size = metadata["image/png"]
    assert pixel_size(png) == (2 * size["height"], 2 * size["width"])


def test_interpolation_redraws_each_model(models, digits):
    images, _ = digits
    view = InterpolationExplorer({"AE": models["ae"], "VAE": models["vae"]}, images, 0, 5, steps=4)
    strip = view.strips["AE"]
    before = {k: w.value for k, w in view.strips.items()}
    view.second.value = 7
    assert view.strips["AE"] is strip
    assert all(view.strips[k].value != before[k] for k in before)
    # the VAE row: the two digits' posterior means, the straight line, decoded, digits at the ends
    vae = models["vae"]
    mu = vae.encode(images[[0, 7]])[0]
    t = torch.linspace(0, 1, 4)[:, None]
    path = vae.decode((1 - t) * mu[0] + t * mu[1])
    row = torch.cat([images[[0]], path, images[[7]]])
    got = pixels(view.strips["VAE"].value)
    assert got.shape == (2 * 28, 2 * (6 * 30 - 2))
    np.testing.assert_array_equal(got[:, 2 * 30 : 2 * 58], expected_png(row[1], 2))
    view.path.value = "spherical"
    assert view.strips["VAE"].value != before["VAE"]
    assert repr(view) == "InterpolationExplorer(AE, VAE: digits #0 -> #7, spherical path, 4 steps)"


def test_manifold_explorer_chooses_digits_and_probes(models, digits):
    images, labels = digits
    model = models["vae"]
    view = ManifoldExplorer(model, images, labels, n=4, name="VAE")
    assert pixels(view.grid.value).shape == (4 * 28, 4 * 28)
    scatter, chosen, probe = view.scatter.value, view.chosen.value, view.probe.value
    view.index.value = 3
    assert (
        view.scatter.value != scatter and view.chosen.value != chosen and view.probe.value == probe
    )
    mu = model.encode(images[3:4])[0]
    np.testing.assert_array_equal(
        pixels(view.chosen.value)[:, 4 * 30 :], expected_png(model.decode(mu)[0], 4)
    )
    assert "label 3" in view.caption.value
    # the red ring is centred on the digit's code, where matplotlib would draw it
    rgb = pixels(view.scatter.value).astype(int)
    red = np.argwhere((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60))
    x, y = view._to_pixels(mu.detach().double().numpy())[0]
    np.testing.assert_allclose(red.mean(0), [rgb.shape[0] - y, x], atol=1.0)
    view.z1.value, view.z2.value = 1.0, -0.5
    np.testing.assert_array_equal(
        pixels(view.probe.value), expected_png(model.decode(torch.tensor([[1.0, -0.5]]))[0], 4)
    )
    fig = view.figure()
    assert len(fig.axes) == 3  # grid, scatter, colour bar
    assert repr(view) == "ManifoldExplorer(VAE, 12 digits, 4x4 grid, digit #3)"


def ring_centre(view):
    """(column, row) of the red ring's centre in the scatter picture, read from its pixels."""
    rgb = pixels(view.scatter.value).astype(int)
    red = np.argwhere((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60))
    row, col = red.mean(0)
    return round(col), round(row)


def test_manifold_click_maps_pixels_to_the_plane(models, digits):
    images, labels = digits
    model = models["vae"]
    view = ManifoldExplorer(model, images, labels, n=4)
    mu = model.encode(images)[0].detach()
    height = pixels(view.scatter.value).shape[0]
    # the pixel where a code is drawn maps back to that code
    for z in mu[:4]:
        x, y = view._to_pixels(z.double().numpy()[None])[0]
        torch.testing.assert_close(view.pixel_to_latent(x, height - y), z, rtol=0, atol=1e-5)
    # one pixel to the right is one pixel's worth of z1 further, z2 unchanged
    x, y = view._to_pixels(mu[0].double().numpy()[None])[0]
    step = view.pixel_to_latent(x + 1, height - y) - view.pixel_to_latent(x, height - y)
    assert step[0] > 0 and abs(step[1]) < 1e-6
    # the picture's corners, the colour bar and points off the picture are outside the axes
    for x, y in [(0, 0), (287, 239), (0, 239), (275, 120), (-5, 10), (10_000, 10_000)]:
        assert view.pixel_to_latent(x, y) is None and view.nearest_digit(x, y) is None


def test_manifold_click_on_a_point_chooses_that_digit(models, digits):
    images, labels = digits
    model = models["vae"]
    view = ManifoldExplorer(model, images, labels, n=4)
    mu = model.encode(images)[0].detach()
    drawn = view._to_pixels(mu.double().numpy())
    gaps = np.hypot(*(drawn[:, None] - drawn[None]).transpose(2, 0, 1)) + np.eye(len(mu)) * 1e9
    isolated = [i for i in range(len(mu)) if gaps[i].min() > 3.0]
    assert len(isolated) >= 6
    for i in isolated:
        view.index.value = i  # ring the digit, read where it is drawn
        x, y = ring_centre(view)
        view.index.value = (i + 1) % len(mu)
        assert view.nearest_digit(x, y) == i
        chosen, scatter = view.chosen.value, view.scatter.value
        view.on_click({"type": "click", "dataX": x, "dataY": y, "offsetX": -1, "offsetY": -1})
        assert view.index.value == i, "the slider follows the click"
        assert view.chosen.value != chosen and view.scatter.value != scatter
        np.testing.assert_array_equal(
            pixels(view.chosen.value)[:, 4 * 30 :], expected_png(model.decode(mu[i : i + 1])[0], 4)
        )
        np.testing.assert_array_equal(
            pixels(view.chosen.value)[:, : 4 * 28], expected_png(images[i], 4)
        )
        assert f"digit #{i}:" in view.caption.value
    # without dataX/dataY the offset is used; the event widget passes clicks to the handler
    i, j = isolated[:2]
    view.index.value = i
    x, y = ring_centre(view)
    view.index.value = j
    view.on_click({"type": "click", "offsetX": x, "offsetY": y})
    assert view.index.value == i
    assert view.clicks.source is view.scatter and view.clicks.watched_events == ["click"]
    view.index.value = j
    view.clicks._handle_mouse_msg(
        None, {"event": "click", "type": "click", "dataX": x, "dataY": y}, None
    )
    assert view.index.value == i


def test_manifold_click_outside_the_axes_changes_nothing(models, digits):
    images, labels = digits
    view = ManifoldExplorer(models["vae"], images, labels, n=4, index=5)
    before = (view.scatter.value, view.chosen.value, view.probe.value, view.caption.value)
    for event in [
        {"type": "click", "dataX": 0, "dataY": 0},
        {"type": "click", "dataX": 275, "dataY": 120},  # the colour bar
        {"type": "click", "offsetX": 400, "offsetY": -3},
        {"type": "click"},  # no position
        {"type": "mousemove", "dataX": 150, "dataY": 120},
    ]:
        view.on_click(event)
        assert view.index.value == 5
        assert (
            view.scatter.value,
            view.chosen.value,
            view.probe.value,
            view.caption.value,
        ) == before


def test_manifold_needs_a_2d_model_and_labels(models, digits):
    images, labels = digits
    with pytest.raises(ValueError, match="2-D latent space"):
        ManifoldExplorer(models["vae4"], images, labels)
    with pytest.raises(ValueError, match=r"labels must have shape \(12\)"):
        ManifoldExplorer(models["ae"], images, labels[:3])
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        ManifoldExplorer(models["ae"], images, labels.tolist())


def test_manifold_extent_spreads_the_grid_and_the_probe(models, digits):
    images, labels = digits
    view = ManifoldExplorer(models["ae"], images, labels, n=3, extent=(-1.5, 4.5))
    assert (view.z1.min, view.z1.max, view.z2.min, view.z2.max) == (-1.5, 4.5, -1.5, 4.5)
    assert view.z1.step == pytest.approx(6.0 / 120)
    ticks = [t.get_text() for t in view.figure().axes[0].get_xticklabels()]
    assert ticks == ["-1.5", "1.5", "4.5"]


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"limit": -3}, ValueError, "limit must be > 0, got -3"),
        ({"limit": 0}, ValueError, "limit must be > 0, got 0"),
        ({"limit": "3"}, TypeError, "limit must be a number, got str '3'"),
        ({"limit": float("nan")}, ValueError, "limit must be a finite number"),
        ({"dims": [0, 0]}, ValueError, r"dims must not repeat an index .* got \[0, 0\]"),
        ({"dims": [2]}, ValueError, r"dims must be indices in \[0, 2\), got \[2\]"),
        ({"dims": []}, ValueError, r"dims must be indices in \[0, 2\), got \[\]"),
        ({"dims": [-1]}, ValueError, r"dims\[0\] must be >= 0, got -1"),
        ({"dims": [0.0]}, TypeError, r"dims\[0\] must be an int, got float"),
        ({"dims": 1}, TypeError, "dims must be a list or tuple of ints, got int 1"),
        ({"step": 0}, ValueError, "step must be > 0, got 0"),
        ({"step": -0.1}, ValueError, "step must be > 0"),
        (
            {"step": 7.0},
            ValueError,
            r"step must be <= 2 \* limit = 6 \(the sliders' range\), got 7",
        ),
        ({"step": "0.1"}, TypeError, "step must be a number"),
        ({"scale": 0}, ValueError, "scale must be >= 1, got 0"),
        ({"scale": 2.5}, TypeError, "scale must be an int, got float"),
        ({"name": 3}, TypeError, "name must be a str"),
        ({"z": torch.zeros(3)}, ValueError, r"z must have shape \(2\), got \(3,\)"),
        ({"z": [0.0, 0.0]}, TypeError, "z must be a torch.Tensor"),
    ],
)
def test_sliders_reject_bad_arguments(models, kwargs, error, message):
    with pytest.raises(error, match=message):
        LatentSliders(models["ae"], **kwargs)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"extent": (3, -3)}, ValueError, r"extent must be \(lo, hi\) with lo < hi, got \(3, -3\)"),
        ({"extent": (1.0, 1.0)}, ValueError, "extent must be .* with lo < hi"),
        ({"extent": 3.0}, TypeError, "extent must be a pair"),
        ({"extent": (0.0, "3")}, TypeError, r"extent\[1\] must be a number"),
        ({"extent": (0.0, float("inf"))}, ValueError, r"extent\[1\] must be a finite number"),
        ({"index": 10_000}, ValueError, r"index must be a digit index in \[0, 12\), got 10000"),
        ({"index": -1}, ValueError, r"index must be a digit index in \[0, 12\), got -1"),
        ({"index": 1.0}, TypeError, "index must be an int, got float"),
        ({"n": 1}, ValueError, "n must be >= 2"),
        ({"n": "15"}, TypeError, "n must be an int, got str"),
        ({"scale": 0}, ValueError, "scale must be >= 1"),
        ({"name": None}, TypeError, "name must be a str"),
    ],
)
def test_manifold_rejects_bad_arguments(models, digits, kwargs, error, message):
    images, labels = digits
    with pytest.raises(error, match=message):
        ManifoldExplorer(models["vae"], images, labels, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,error,message",
    [
        ((0, 12), {}, ValueError, r"end must be a digit index in \[0, 12\), got 12"),
        ((-1, 3), {}, ValueError, r"start must be a digit index in \[0, 12\), got -1"),
        ((1.5, 3), {}, TypeError, "start must be an int, got float"),
        ((0, 1), {"steps": 0}, ValueError, "steps must be >= 1"),
        ((0, 1), {"path": "curvy"}, ValueError, "path must be one of 'linear', 'spherical'"),
        ((0, 1), {"scale": "2"}, TypeError, "scale must be an int"),
    ],
)
def test_interpolation_rejects_bad_arguments(models, digits, args, kwargs, error, message):
    images, _ = digits
    with pytest.raises(error, match=message):
        InterpolationExplorer({"AE": models["ae"]}, images, *args, **kwargs)
    with pytest.raises(ValueError, match="at least one model"):
        InterpolationExplorer([models["ae"]], images)


def test_benchmark_reports_median_and_p90(models, digits):
    bench = load_script("bench_widgets")
    images, labels = digits
    course = {"ae2": models["ae"], "vae2": models["vae"], "vae8": models["vae4"]}
    results = bench.measure(course, images, labels, moves=6)
    assert set(results) == {
        "sliders vae2",
        "sliders vae8",
        "interpolation: new digit",
        "interpolation: path",
        "manifold: probe",
        "manifold: click",
    }
    for r in results.values():
        assert 0 < r["median_ms"] <= r["p90_ms"]
    assert bench.slider_values(3) == [-2.5, -2.45, -2.4]
    stats = bench.time_moves(lambda i: None, 10)
    assert stats["moves"] == 10 and stats["median_ms"] >= 0


@pytest.mark.slow
def test_importing_the_notebook_07_modules_has_no_side_effects():
    import subprocess
    import sys

    code = (
        "import torch\n"
        "torch.manual_seed(5); seed = torch.initial_seed(); threads = torch.get_num_threads()\n"
        "import lecture_utils.latent, lecture_utils.widgets, lecture_utils.model_cache\n"
        "import lecture_utils.checks.nb07\n"
        "assert torch.initial_seed() == seed and torch.get_num_threads() == threads\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""


# --------------------------------------------------------------------------- projector size
@pytest.mark.parametrize("size,shape", [("notebook", (240, 288)), ("projector", (360, 432))])
def test_manifold_scatter_is_shown_at_its_own_size(models, digits, size, shape):
    """The scatter keeps its aspect ratio in the HBox beside the taller grid: its widget has
    the PNG's pixel size and is not stretched to the row's height."""
    from lecture_utils.widgets import PROJECTOR_CLASS, pixel_size

    images, labels = digits
    view = ManifoldExplorer(models["vae"], images, labels, n=4, size=size)
    assert pixels(view.scatter.value).shape[:2] == shape
    assert pixel_size(view.scatter.value) == shape
    for image in (view.scatter, view.grid):
        height, width = pixel_size(image.value)
        assert (image.width, image.height) == (str(width), str(height))
        assert (image.layout.width, image.layout.height) == (f"{width}px", f"{height}px")
        assert image.layout.align_self == "flex-start"
    assert (PROJECTOR_CLASS in view.box._dom_classes) == (size == "projector")


def test_projector_click_at_a_known_pixel_chooses_the_nearest_digit(models, digits):
    """At projector size (a larger, sharper scatter) a click on the pixel where a digit is
    drawn (read from the picture's ring) maps back to that digit's z and chooses it."""
    images, labels = digits
    model = models["vae"]
    view = ManifoldExplorer(model, images, labels, n=4, size="projector")
    mu = model.encode(images)[0].detach()
    drawn = view._to_pixels(mu.double().numpy())
    gaps = np.hypot(*(drawn[:, None] - drawn[None]).transpose(2, 0, 1)) + np.eye(len(mu)) * 1e9
    isolated = [i for i in range(len(mu)) if gaps[i].min() > 4.0]
    assert len(isolated) >= 6
    (x0, x1), (y0, y1) = view._to_latent([[0, 0], [1, 1]]).T  # one pixel in z units
    for i in isolated:
        view.index.value = i
        x, y = ring_centre(view)
        view.index.value = (i + 1) % len(mu)
        z = view.pixel_to_latent(x, y)
        assert abs(z[0] - mu[i, 0]) <= abs(x1 - x0) and abs(z[1] - mu[i, 1]) <= abs(y1 - y0)
        nearest_in_z = int(((mu - z) ** 2).sum(1).argmin())  # pixels are square: same digit
        view.on_click({"type": "click", "dataX": x, "dataY": y})
        assert view.index.value == i == nearest_in_z


def test_projector_size_widens_the_sliders_and_notebook_size_keeps_them(models, digits):
    images, labels = digits
    small = LatentSliders(models["vae4"])
    big = LatentSliders(models["vae4"], size="projector")
    assert small.sliders[0].layout.width is None and big.sliders[0].layout.width == "560px"
    manifold = ManifoldExplorer(models["vae"], images, labels, n=4, size="projector")
    assert manifold.index.layout.width == "360px"
    paths = InterpolationExplorer({"AE": models["ae"]}, images, size="projector")
    assert paths.first.layout.width == "560px"
    for make in (
        lambda: LatentSliders(models["ae"], size="huge"),
        lambda: ManifoldExplorer(models["vae"], images, labels, size="big"),
        lambda: InterpolationExplorer({"AE": models["ae"]}, images, size=2),
    ):
        with pytest.raises((ValueError, TypeError), match="size must be one of"):
            make()


def test_training_progress_counts_epochs_through_load_or_train(tmp_path):
    """The app's progress display: one bar step per trained epoch, the cache's line when the
    model is loaded, hidden when done."""
    from lecture_utils.model_cache import AutoencoderRecipe, load_or_train
    from lecture_utils.widgets import TrainingProgress

    recipe = AutoencoderRecipe("test-progress-ae", 2, hidden_dims=(8,), epochs=2)
    progress = TrainingProgress()
    progress.start("tiny", recipe.epochs)
    assert (progress.bar.value, progress.bar.max) == (0, 2)
    load_or_train(recipe, directory=tmp_path, log=progress.log, callbacks=[progress])
    assert progress.bar.value == 2
    assert progress.label.value.startswith("test-progress-ae: no cached weights; trained")
    progress.start("tiny", recipe.epochs)
    load_or_train(recipe, directory=tmp_path, log=progress.log, callbacks=[progress])
    assert progress.bar.value == 0 and "loaded from" in progress.label.value
    progress.on_epoch_end(0, {"loss": [0.25]})
    assert progress.label.value == "tiny: training, epoch 1 of 2 (loss 0.25)"
    progress.done()
    assert progress.box.layout.display == "none"
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        progress.start("tiny", 0)
