"""Notebook 08's :class:`BetaExplorer` (introduced in 08_diagnosing_vaes): a beta slider
over the cached beta sweep.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import check_number, check_positive_int, check_tensor
from lecture_utils.plotting import _check_latent_model, figure_png, image_grid, png_bytes
from lecture_utils.widgets.base import _Explorer


class BetaExplorer(_Explorer):
    """A beta slider over notebook 08's cached beta sweep (introduced in 08_diagnosing_vaes):
    for the chosen run, its point on the rate-distortion plane (among all the runs), its KL per
    latent dimension, reconstructions of test digits and decoded prior draws.

    Everything a run shows is computed once, when the explorer is built (one encode and decode
    per run, and one small chart per run drawn by :func:`~lecture_utils.plotting.
    plot_rate_distortion` and :func:`~lecture_utils.plotting.plot_kl_bars`); moving the slider
    swaps the PNG bytes of three ``ipywidgets.Image`` in place.

    Args:
        models: ``{beta: VAE}``, the runs of the sweep (all with the same latent size).
        images: binary test digits ``(N, 1, 28, 28)``: rate and distortion are their means
            (one draw of z per digit, a fixed generator), and the first ``n_images`` are
            reconstructed.
        n_images: digits to reconstruct; n_samples: prior draws to decode (the same draws of
            z for every run, from ``seed``).
        beta: the run shown first (default: the one closest to 1).
        scale: on-screen pixels per image pixel.
    """

    def __init__(
        self,
        models: Mapping[float, nn.Module],
        images: torch.Tensor,
        n_images: int = 8,
        n_samples: int = 8,
        beta: float | None = None,
        seed: int = 0,
        scale: int = 2,
    ) -> None:
        from lecture_utils.diagnose import kl_per_dimension, rate_distortion
        from lecture_utils.plotting import plot_kl_bars, plot_rate_distortion

        if not isinstance(models, Mapping) or not models:
            raise ValueError("models must be a non-empty dict {beta: VAE}, e.g. the beta sweep")
        for b, m in models.items():
            check_number("beta", b, low=0.0)
            _check_latent_model(m)
            if not hasattr(m, "encode") or not hasattr(m, "log_likelihood"):
                raise TypeError(f"the model for beta={b:g} must be a VAE (encode, log_likelihood)")
        sizes = {m.latent_dim for m in models.values()}
        if len(sizes) != 1:
            raise ValueError(f"the runs must share one latent size, got sizes {sorted(sizes)}")
        self.images = check_tensor("images", images, shape=(None, 1, 28, 28), low=0.0, high=1.0)
        self.n_images = check_positive_int("n_images", n_images)
        self.n_samples = check_positive_int("n_samples", n_samples)
        if self.n_images > len(images):
            raise ValueError(
                f"n_images must be <= {len(images)} (the digits given), got {n_images}"
            )
        self.scale = check_positive_int("scale", scale)
        self.models = dict(sorted(models.items()))
        self.betas = list(self.models)
        if beta is None:
            beta = min(self.betas, key=lambda b: abs(b - 1.0))
        if beta not in self.models:
            raise ValueError(f"beta must be one of the runs' {self.betas}, got {beta!r}")
        z = torch.randn(self.n_samples, sizes.pop(), generator=torch.Generator().manual_seed(seed))
        self.stats: dict[float, dict] = {}
        with torch.no_grad():
            for b, m in self.models.items():
                rate, dist = rate_distortion(m, images, 1, torch.Generator().manual_seed(seed))
                mu, logvar = m.encode(images)
                shown = images[: self.n_images]
                self.stats[b] = {
                    "rate": float(rate.mean()),
                    "distortion": float(dist.mean()),
                    "kl_dims": kl_per_dimension(mu, logvar),
                    "recon": torch.cat([shown, m.decode(m.encode(shown)[0])]),
                    "samples": m.decode(z),
                }
        self.points = {f"β={b:g}": (s["rate"], s["distortion"]) for b, s in self.stats.items()}
        ymax = max(float(s["kl_dims"].max()) for s in self.stats.values()) * 1.1
        self._charts, self._recons, self._samples = {}, {}, {}
        for b, s in self.stats.items():
            fig = Figure(figsize=(7.0, 2.6), dpi=80)
            FigureCanvasAgg(fig)
            ax_rd, ax_kl = fig.subplots(1, 2)
            plot_rate_distortion(self.points, list(self.points), f"β={b:g}", ax=ax_rd)
            plot_kl_bars(s["kl_dims"], ax=ax_kl, ymax=ymax, title=f"β={b:g}: KL per dimension")
            fig.tight_layout()
            self._charts[b] = figure_png(fig)
            self._recons[b] = png_bytes(image_grid(s["recon"], nrow=self.n_images), self.scale)
            self._samples[b] = png_bytes(image_grid(s["samples"], nrow=self.n_samples), self.scale)
        self.slider = widgets.SelectionSlider(
            options=[(f"{b:g}", b) for b in self.betas],
            value=beta,
            description="β",
            continuous_update=True,
        )
        self.chart = widgets.Image(format="png")
        self.recon = widgets.Image(format="png")
        self.samples = widgets.Image(format="png")
        self.readout = widgets.HTML()
        self.slider.observe(lambda _change: self.render(), names="value")
        self.box = widgets.VBox(
            [
                widgets.HBox([self.slider, self.readout]),
                self.chart,
                widgets.HBox(
                    [
                        widgets.VBox([widgets.Label("test digits / reconstructions"), self.recon]),
                        widgets.VBox([widgets.Label("decoded z ~ N(0, I)"), self.samples]),
                    ]
                ),
            ]
        )
        self.box.add_class("beta-explorer")  # for the browser test and custom CSS
        self.render()

    @property
    def beta(self) -> float:
        return self.slider.value

    def render(self) -> None:
        """Show the chosen run: swap in its chart, reconstructions, samples and numbers."""
        b = self.beta
        s = self.stats[b]
        self.chart.value = self._charts[b]
        self.recon.value = self._recons[b]
        self.samples.value = self._samples[b]
        self.readout.value = (
            f"rate {s['rate']:.1f} nats, distortion {s['distortion']:.1f} nats, "
            f"-ELBO {s['rate'] + s['distortion']:.1f} nats"
        )

    def figure(self) -> Figure:
        from lecture_utils.plotting import plot_kl_bars, plot_rate_distortion

        b = self.beta
        s = self.stats[b]
        fig = plt.figure(figsize=(7.0, 4.2))
        grid = fig.add_gridspec(2, 2, height_ratios=(2.2, 1.0))
        plot_rate_distortion(
            self.points, list(self.points), f"β={b:g}", ax=fig.add_subplot(grid[0, 0])
        )
        plot_kl_bars(
            s["kl_dims"], ax=fig.add_subplot(grid[0, 1]), title=f"β={b:g}: KL per dimension"
        )
        ax = fig.add_subplot(grid[1, 0])
        ax.imshow(image_grid(s["recon"], nrow=self.n_images), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title("test digits / reconstructions", fontsize=8)
        ax = fig.add_subplot(grid[1, 1])
        ax.imshow(image_grid(s["samples"], nrow=self.n_samples), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title("decoded z ~ N(0, I)", fontsize=8)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        s = self.stats[self.beta]
        return (
            f"BetaExplorer({len(self.models)} runs, β = {self.beta:g}: rate {s['rate']:.1f} "
            f"nats, distortion {s['distortion']:.1f} nats)"
        )
