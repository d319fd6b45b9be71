"""Notebook 07's :class:`ManifoldExplorer` (introduced in 07_latent_explorer): the decoded
2-D latent grid beside the scatter of encoded digits, a clickable scatter and a probe.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import torch
from ipyevents import Event
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.latent import latent_grid
from lecture_utils.plotting import (
    _check_latent_model,
    _decode,
    _draw_scatter,
    _encode,
    _encode_png,
    image_grid,
    manifold_image,
    plot_manifold,
    png_bytes,
)
from lecture_utils.widgets.base import (
    _SCATTER_DPI,
    SIZES,
    _check_index,
    _check_name,
    _Explorer,
    _fixed_image,
    _sized_box,
    _slider,
)


class ManifoldExplorer(_Explorer):
    """The decoded latent grid beside the scatter of encoded digits (2-D models only).

    Choose a digit by clicking its point on the scatter, or with the ``digit #`` slider (the
    keyboard's way; a click moves the slider too): it is ringed on the scatter, and its image
    and its decoding are shown. The ``z1``/``z2`` sliders move a probe (a cross) over the plane
    and show what the decoder makes of that point, including the empty regions.

    A click at pixel ``(x, y)`` of the scatter picture (``x`` to the right, ``y`` down, as the
    browser reports it) is mapped back to the plane with the data transform of the axes that
    drew the scatter (:meth:`pixel_to_latent`), and the digit drawn nearest to it is chosen
    (:meth:`nearest_digit`); clicks outside the axes are ignored.

    Args:
        model: a 2-D Autoencoder or VAE.
        images, labels: the digits ``(N, 1, 28, 28)`` and their labels ``(N,)``.
        n: the grid has ``n x n`` points (``n >= 2``).
        index: the digit chosen first, in ``[0, N)``.
        scale: on-screen pixels per image pixel.
        name: the model's name in the title and the text form.
        size: ``"notebook"`` or ``"projector"`` (:data:`SIZES`): the scatter is drawn at 80 or
            120 dpi (288x240 or 432x360 pixels), and the sliders are wider.
        extent: ``(lo, hi)`` with ``lo < hi`` spreads the grid evenly over ``[lo, hi]^2`` (the
            probe's range too); default: through the normal's inverse CDF, probe in [-3, 3].
    """

    def __init__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        n: int = 15,
        index: int = 0,
        scale: int = 4,
        name: str = "model",
        extent: tuple[float, float] | None = None,
        size: str = "notebook",
    ) -> None:
        self.model = _check_latent_model(model, latent_dim=2)
        self.images = check_tensor("images", images, shape=(None, 1, 28, 28))
        self.labels = check_tensor("labels", labels, shape=(len(images),), floating=False)
        latent_grid(n, extent=extent)  # checks n and extent before any widget is made
        _check_index("index", index, len(images))
        self.n, self.extent = n, extent
        self.scale, self.name = check_positive_int("scale", scale), _check_name(name)
        self.size = check_choice("size", size, SIZES)
        self.codes = _encode(model, images)
        narrow = {"size": size, "width": "360px"}  # the panel beside grid and scatter
        self.index = _slider(
            cls=widgets.IntSlider,
            value=index,
            min=0,
            max=len(images) - 1,
            description="digit #",
            **narrow,
        )
        lo, hi = (float(extent[0]), float(extent[1])) if extent is not None else (-3.0, 3.0)
        probe = {"min": lo, "max": hi, "step": (hi - lo) / 120, "value": 0.0}
        self.z1 = _slider(cls=widgets.FloatSlider, description="probe z1", **probe, **narrow)
        self.z2 = _slider(cls=widgets.FloatSlider, description="probe z2", **probe, **narrow)
        self.grid = _fixed_image(png_bytes(manifold_image(model, n, extent), 1))
        self.chosen = widgets.Image(format="png")
        self.probe = widgets.Image(format="png")
        self.caption = widgets.HTML()
        # The scatter is drawn once; each update stamps the ring and the cross onto a copy of
        # its pixels (a few ms, where redrawing 2,000 points with matplotlib takes ~50 ms).
        fig = Figure(figsize=(3.6, 3.0), dpi=_SCATTER_DPI[size])
        ax = fig.add_subplot()
        _draw_scatter(ax, self.codes, labels)
        fig.tight_layout()
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        self._background = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3)
        self._to_pixels = ax.transData.transform
        self._to_latent = ax.transData.inverted().transform
        self._axes_box = ax.bbox.extents
        self._height = self._background.shape[0]
        self._points = self._to_pixels(self.codes.double().numpy())  # (N, 2), display pixels
        # drawn at its own size, top-aligned: in the HBox beside the taller grid a stretched
        # picture would squash the plane (a click still maps right, but the ring is an ellipse)
        self.scatter = _fixed_image(_encode_png(self._background))
        # Clicks on the scatter arrive from the browser as DOM events (ipyevents); without a
        # browser (nbconvert, nbval) nothing is sent and the slider alone chooses.
        self.clicks = Event(source=self.scatter, watched_events=["click"])
        self.clicks.on_dom_event(self.on_click)
        for control in (self.index, self.z1, self.z2):
            control.observe(lambda _change: self.render(), names="value")
        panel = widgets.VBox(
            [
                self.index,
                widgets.HBox([self.chosen]),
                self.z1,
                self.z2,
                widgets.HBox([self.probe]),
                self.caption,
            ]
        )
        self.box = _sized_box(widgets.HBox([self.grid, self.scatter, panel]), size)
        self.render()

    def render(self) -> None:
        """Move the ring and the cross, and show the chosen digit, its decoding and the probe."""
        i = self.index.value
        z = self.codes[i]
        probe = torch.tensor([self.z1.value, self.z2.value])
        picture = self._background.copy()
        self._stamp(picture, z, ring=True)
        self._stamp(picture, probe, ring=False)
        self.scatter.value = _encode_png(picture)
        pair = torch.stack([self.images[i], _decode(self.model, z)[0]])
        self.chosen.value = png_bytes(image_grid(pair, nrow=2, pad=2), self.scale)
        self.probe.value = png_bytes(_decode(self.model, probe)[0], self.scale)
        self.caption.value = (
            f"digit #{i}: label {int(self.labels[i])}, z = ({z[0]:.2f}, {z[1]:.2f})"
            f" &nbsp; (left: image, right: decoding; click a point of the scatter to choose it)"
        )

    def pixel_to_latent(self, x: float, y: float) -> torch.Tensor | None:
        """The latent point ``(z1, z2)`` under pixel ``(x, y)`` of the scatter picture (``y``
        counted downwards from the top), or ``None`` when the pixel is outside the axes."""
        display = np.array([[float(x), self._height - float(y)]])  # display y grows upwards
        x0, y0, x1, y1 = self._axes_box
        if not (x0 <= display[0, 0] <= x1 and y0 <= display[0, 1] <= y1):
            return None
        return torch.from_numpy(self._to_latent(display)[0]).float()

    def nearest_digit(self, x: float, y: float) -> int | None:
        """Index of the digit drawn nearest to pixel ``(x, y)`` of the scatter picture (nearest
        as seen, in pixels; the first one on a tie), or ``None`` outside the axes."""
        if self.pixel_to_latent(x, y) is None:
            return None
        d2 = ((self._points - [float(x), self._height - float(y)]) ** 2).sum(axis=1)
        return int(np.argmin(d2))

    def on_click(self, event: Mapping) -> None:
        """Handle a click event from the browser: choose the digit nearest to it (by setting
        the slider, which redraws). Uses the picture's own pixel (``dataX``/``dataY``, which
        ipyevents corrects for a resized image), else ``offsetX``/``offsetY``."""
        if event.get("type", "click") != "click":
            return
        x, y = event.get("dataX", event.get("offsetX")), event.get("dataY", event.get("offsetY"))
        if x is None or y is None:
            return
        i = self.nearest_digit(x, y)
        if i is not None:
            self.index.value = i

    def _stamp(self, picture: np.ndarray, point: torch.Tensor, ring: bool, size: int = 6) -> None:
        """Draw a red ring or a black cross of radius ``size`` pixels around a latent point."""
        x, y = self._to_pixels(point.double().numpy()[None])[0]
        x0, y0, x1, y1 = self._axes_box
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return  # outside the plotted area: nothing to mark
        row, col = picture.shape[0] - y, x  # display y grows upwards, rows downwards
        rr, cc = np.mgrid[-size - 2 : size + 3, -size - 2 : size + 3]
        dr, dc = rr + (round(row) - row), cc + (round(col) - col)
        if ring:
            mask, colour = np.abs(np.hypot(dr, dc) - size) < 1.0, (220, 30, 30)
        else:
            mask = ((np.abs(dr - dc) < 1.0) | (np.abs(dr + dc) < 1.0)) & (np.abs(dr) <= size)
            colour = (0, 0, 0)
        rows, cols = rr[mask] + round(row), cc[mask] + round(col)
        keep = (rows >= 0) & (rows < picture.shape[0]) & (cols >= 0) & (cols < picture.shape[1])
        picture[rows[keep], cols[keep]] = colour

    def figure(self) -> Figure:
        fig = plot_manifold(
            self.model,
            self.n,
            self.images,
            self.labels,
            title=f"{self.name}: decoded grid",
            extent=self.extent,
        )
        z = self.codes[self.index.value]
        fig.axes[1].scatter(
            [z[0]], [z[1]], s=90, facecolors="none", edgecolors="red", linewidths=1.5
        )
        return fig

    def __repr__(self) -> str:
        return (
            f"ManifoldExplorer({self.name}, {len(self.images)} digits, {self.n}x{self.n} grid, "
            f"digit #{self.index.value})"
        )
