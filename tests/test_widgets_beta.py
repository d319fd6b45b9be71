"""Notebook 08's BetaExplorer (lecture_utils.widgets): the beta slider swaps the chosen run's
chart, reconstructions and samples in place, and what it shows is what the diagnostics compute
(recomputed here by hand). Small untrained VAEs keep it fast; no kernel is needed. (A file of its
own, so that it does not touch notebook 07's widget tests.)"""

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lecture_utils.diagnose import kl_per_dimension, rate_distortion  # noqa: E402
from lecture_utils.models import VAE  # noqa: E402
from lecture_utils.plotting import image_grid, png_bytes  # noqa: E402
from lecture_utils.widgets import BetaExplorer  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def sweep():
    torch.manual_seed(0)
    return {beta: VAE(3, (16,)).eval() for beta in (0.5, 1.0, 4.0)}


@pytest.fixture()
def binary():
    g = torch.Generator().manual_seed(1)
    return torch.bernoulli(torch.rand(10, 1, 28, 28, generator=g), generator=g)


def test_the_slider_swaps_every_picture_in_place(sweep, binary):
    view = BetaExplorer(sweep, binary, n_images=4, n_samples=3)
    assert view.beta == 1.0, "starts at the run closest to beta = 1"
    images = (view.chart, view.recon, view.samples)
    before = [w.value for w in images]
    view.slider.value = 4.0
    assert (view.chart, view.recon, view.samples) == images, "updated in place"
    assert all(w.value != b for w, b in zip(images, before))
    model = sweep[4.0]
    with torch.no_grad():
        shown = binary[:4]
        recon = torch.cat([shown, model.decode(model.encode(shown)[0])])
        samples = model.decode(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))
    assert view.recon.value == png_bytes(image_grid(recon, nrow=4), 2)
    assert view.samples.value == png_bytes(image_grid(samples, nrow=3), 2)
    rate, dist = rate_distortion(model, binary, 1, torch.Generator().manual_seed(0))
    assert view.stats[4.0]["rate"] == pytest.approx(float(rate.mean()))
    assert view.stats[4.0]["distortion"] == pytest.approx(float(dist.mean()))
    with torch.no_grad():
        mu, logvar = model.encode(binary)
    torch.testing.assert_close(view.stats[4.0]["kl_dims"], kl_per_dimension(mu, logvar))
    s = view.stats[4.0]
    assert view.readout.value == (
        f"rate {s['rate']:.1f} nats, distortion {s['distortion']:.1f} nats, "
        f"-ELBO {s['rate'] + s['distortion']:.1f} nats"
    )
    view.slider.value = 1.0
    assert [w.value for w in images] == before, "coming back shows the same pictures"


def test_display_sends_widget_static_picture_and_text(sweep, binary):
    view = BetaExplorer(sweep, binary, beta=0.5)
    bundle, metadata = view._repr_mimebundle_()
    assert set(metadata["image/png"]) == {"width", "height"}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.box.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    s = view.stats[0.5]
    assert bundle["text/plain"] == (
        f"BetaExplorer(3 runs, β = 0.5: rate {s['rate']:.1f} nats, "
        f"distortion {s['distortion']:.1f} nats)"
    )


@pytest.mark.parametrize(
    "change,error,message",
    [
        (lambda m, x: ({}, x, {}), ValueError, "non-empty dict"),
        (lambda m, x: ({**m, 2.0: VAE(4, (8,))}, x, {}), ValueError, "one latent size"),
        (lambda m, x: (m, x, {"beta": 2.0}), ValueError, "beta must be one of"),
        (lambda m, x: (m, x, {"n_images": 11}), ValueError, "n_images must be <= 10"),
        (lambda m, x: (m, x[:, :, :27], {}), ValueError, "images"),
        (lambda m, x: ({-1.0: m[1.0]}, x, {}), ValueError, "beta"),
        (lambda m, x: ({1.0: torch.nn.Linear(2, 2)}, x, {}), TypeError, "Autoencoder or VAE"),
    ],
    ids=["empty", "sizes", "beta", "n_images", "shape", "negative-beta", "not-a-vae"],
)
def test_bad_arguments_are_named(sweep, binary, change, error, message):
    models, images, kwargs = change(sweep, binary)
    with pytest.raises(error, match=message):
        BetaExplorer(models, images, **kwargs)
