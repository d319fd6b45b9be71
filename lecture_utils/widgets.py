"""Interactive views of a latent space (introduced in 07_latent_explorer).

Three explorers built on ipywidgets; each redraws in place (new PNG bytes in one
``ipywidgets.Image``), so a slider move costs one decode and one small PNG, a few milliseconds:

- :class:`LatentSliders`: one slider per latent dimension, the decoded image and the current z;
- :class:`InterpolationExplorer`: two test digits, the path between their codes (straight or
  spherical) decoded by several models side by side (the autoencoder's holes show);
- :class:`ManifoldExplorer`: the decoded 2-D latent grid, and the encoded test digits as a
  scatter coloured by label; choosing a digit (click a point of the scatter, or use the slider)
  shows the image and its decoding, and a probe shows what any point of the plane decodes to.

Each has ``figure()``, a static matplotlib figure of its current state, drawn by the matching
function of :mod:`lecture_utils.plotting` (``plot_traversal``, ``plot_interpolation``,
``plot_manifold``). Displayed in a notebook, an explorer sends both the live widget and that
static picture: a running kernel shows the widget, a rendered page (GitHub, nbviewer) the
picture, and its text form is stable, so nbval compares it as it would any output.

Each explorer takes ``size``: ``"notebook"`` (the default, the size notebook 07 shows) or
``"projector"`` (wider sliders with room for their labels, a sharper and larger scatter, and the
CSS class ``vae-course-projector`` on the box, which the presenter app's page styles; see
``apps/``). :class:`TrainingProgress` shows which model trains and its epoch, for the app's cold
start.

Two more explorers close the file: notebook 08's :class:`BetaExplorer` (a beta slider over the
cached beta sweep) and notebook 09's :class:`DigitExplorer` (digit buttons and style sliders
over a conditional VAE: the digit you ask for, in the style you set).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from ipyevents import Event
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import (
    check_choice,
    check_int,
    check_number,
    check_positive_int,
    check_tensor,
)
from lecture_utils.latent import PATHS, latent_grid
from lecture_utils.plotting import (
    _check_dims,
    _check_latent_model,
    _decode,
    _draw_scatter,
    _encode,
    _encode_png,
    _path_images,
    figure_png,
    image_grid,
    manifold_image,
    plot_interpolation,
    plot_manifold,
    plot_traversal,
    png_bytes,
)
from lecture_utils.training import Callback, History

#: The explorers' sizes: notebook 07's page, or the presenter app at 1280x720.
SIZES = ("notebook", "projector")
#: CSS class of a projector-size explorer's box (the app's template makes its text bigger).
PROJECTOR_CLASS = "vae-course-projector"
_SLIDER_LAYOUT = {"notebook": {}, "projector": {"width": "560px"}}
_SLIDER_STYLE = {"notebook": {}, "projector": {"description_width": "90px"}}
_SCATTER_DPI = {"notebook": 80, "projector": 120}  # 288x240 and 432x360 pixels


def _slider(size: str, cls: type, width: str | None = None, **kwargs: object) -> widgets.Widget:
    """A slider of ``cls`` (``FloatSlider``, ``IntSlider``) sized for ``size``; ``width``
    replaces the projector size's width (the manifold's panel is narrower)."""
    layout = dict(_SLIDER_LAYOUT[size])
    if width is not None and size == "projector":
        layout["width"] = width
    return cls(layout=widgets.Layout(**layout), style=dict(_SLIDER_STYLE[size]), **kwargs)


def _sized_box(box: widgets.Box, size: str) -> widgets.Box:
    if size == "projector":
        box.add_class(PROJECTOR_CLASS)
    return box


def _fixed_image(png: bytes) -> widgets.Image:
    """An image widget shown at the PNG's own pixel size and aligned to the top of its row (a
    flex row stretches its children to the tallest one otherwise)."""
    height, width = pixel_size(png)
    return widgets.Image(
        value=png,
        format="png",
        width=width,
        height=height,
        layout=widgets.Layout(
            width=f"{width}px", height=f"{height}px", align_self="flex-start", flex="0 0 auto"
        ),
    )


def pixel_size(png: bytes | memoryview) -> tuple[int, int]:
    """``(height, width)`` of a PNG, read from its header."""
    png = bytes(png) if isinstance(png, (bytes, bytearray, memoryview)) else b""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("png must be the bytes of a PNG file")
    return int.from_bytes(png[20:24], "big"), int.from_bytes(png[16:20], "big")


def _check_index(name: str, value: object, n: int) -> int:
    check_int(name, value)
    if not 0 <= value < n:
        raise ValueError(f"{name} must be a digit index in [0, {n}), got {value}")
    return value


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (shown in the title), got {type(name).__name__}")
    return name


class _Explorer:
    """Displays as the live widget ``box`` plus a static PNG of ``figure()``."""

    box: widgets.Widget

    def figure(self) -> Figure:
        raise NotImplementedError

    def _static_png(self) -> tuple[str, dict]:
        """The static figure as base64 PNG at twice the pixel density, and its display size."""
        fig = self.figure()
        try:
            width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
            png = base64.b64encode(figure_png(fig, density=2)).decode("ascii")
            return png, {"width": width, "height": height}
        finally:
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs: object) -> tuple[dict, dict]:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        bundle["image/png"], size = self._static_png()
        return bundle, {"image/png": size}


# --------------------------------------------------------------------------- sliders
class LatentSliders(_Explorer):
    """One slider per latent dimension in ``dims`` (default: the first four); the decoded
    image of the current z updates as a slider moves.

    Args:
        model: an Autoencoder or VAE.
        dims: distinct latent coordinates in ``[0, K)`` that get a slider.
        z: the starting code ``(K,)`` (default 0); dimensions without a slider keep its value.
        limit: sliders run over ``[-limit, limit]`` (``limit > 0``).
        step: the sliders' step (``0 < step <= 2 * limit``).
        scale: on-screen pixels per image pixel.
        name: the model's name in the title and the text form.
        size: ``"notebook"`` or ``"projector"`` (:data:`SIZES`; wider sliders).
    """

    def __init__(
        self,
        model: nn.Module,
        dims: Sequence[int] | None = None,
        z: torch.Tensor | None = None,
        limit: float = 3.0,
        step: float = 0.05,
        scale: int = 5,
        name: str = "model",
        size: str = "notebook",
    ) -> None:
        self.model = _check_latent_model(model)
        k = model.latent_dim
        self.dims = _check_dims(dims, k)
        self.z = torch.zeros(k) if z is None else check_tensor("z", z, shape=(k,)).detach().clone()
        limit = check_number("limit", limit, low=0.0, low_open=True)
        step = check_number("step", step, low=0.0, low_open=True)
        if step > 2 * limit:
            raise ValueError(
                f"step must be <= 2 * limit = {2 * limit:g} (the sliders' range), got {step:g}"
            )
        self.limit, self.scale = limit, check_positive_int("scale", scale)
        self.name = _check_name(name)
        self.size = check_choice("size", size, SIZES)
        self.sliders = [
            _slider(
                size,
                widgets.FloatSlider,
                value=float(self.z[d]),
                min=-limit,
                max=limit,
                step=step,
                description=f"z{d + 1}",
                readout_format=".2f",
                continuous_update=True,
            )
            for d in self.dims
        ]
        side = f"{28 * scale}px"  # square, top-aligned: the column of sliders beside it is taller
        self.image = widgets.Image(
            format="png",
            width=28 * scale,
            height=28 * scale,
            layout=widgets.Layout(
                width=side, height=side, align_self="flex-start", flex="0 0 auto"
            ),
        )
        self.readout = widgets.HTML()
        for d, slider in zip(self.dims, self.sliders):
            slider.observe(lambda change, d=d: self._set(d, change["new"]), names="value")
        self.box = _sized_box(
            widgets.HBox([widgets.VBox([*self.sliders, self.readout]), self.image]), size
        )
        self.render()

    def _set(self, d: int, value: float) -> None:
        self.z[d] = value
        self.render()

    def render(self) -> None:
        """Decode the current z into the image and show z."""
        self.image.value = png_bytes(_decode(self.model, self.z)[0], self.scale)
        self.readout.value = "z = (" + ", ".join(f"{v:.2f}" for v in self.z.tolist()) + ")"

    def figure(self) -> Figure:
        return plot_traversal(
            self.model,
            self.z,
            self.dims,
            self.limit,
            title=f"{self.name}: each row sweeps one coordinate of z",
        )

    def __repr__(self) -> str:
        return (
            f"LatentSliders({self.name}, {self.model.latent_dim}-D, sliders for z"
            f"{','.join(str(d + 1) for d in self.dims)})"
        )


# --------------------------------------------------------------------------- interpolation
class InterpolationExplorer(_Explorer):
    """Choose two test digits (by index) and a path; every model decodes the path.

    Args:
        models: ``{"name": model}``, shown one row each (e.g. autoencoder above VAE).
        images: the digits to choose from ``(N, 1, 28, 28)``.
        start, end: indices of the first two digits, in ``[0, N)``.
        steps: decoded points between the two digits.
        path: ``"linear"`` or ``"spherical"`` (:data:`lecture_utils.latent.PATHS`).
        scale: on-screen pixels per image pixel.
        size: ``"notebook"`` or ``"projector"`` (:data:`SIZES`; wider sliders).
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        images: torch.Tensor,
        start: int = 0,
        end: int = 1,
        steps: int = 9,
        path: str = "linear",
        scale: int = 2,
        size: str = "notebook",
    ) -> None:
        if not isinstance(models, Mapping) or not models:
            raise ValueError("give at least one model, e.g. {'autoencoder': ae, 'VAE': vae}")
        self.models = {name: _check_latent_model(m) for name, m in models.items()}
        self.images = check_tensor("images", images, shape=(None, 1, 28, 28))
        self.steps, self.scale = (
            check_positive_int("steps", steps),
            check_positive_int("scale", scale),
        )
        self.size = check_choice("size", size, SIZES)
        n = len(images)
        _check_index("start", start, n)
        _check_index("end", end, n)
        self.first = _slider(
            size, widgets.IntSlider, value=start, min=0, max=n - 1, description="from #"
        )
        self.second = _slider(
            size, widgets.IntSlider, value=end, min=0, max=n - 1, description="to #"
        )
        self.path = widgets.ToggleButtons(
            options=list(PATHS), value=check_choice("path", path, tuple(PATHS)), description="path"
        )
        self.codes = {name: _encode(m, images) for name, m in self.models.items()}
        self.strips = {name: widgets.Image(format="png") for name in self.models}
        label_width = "110px" if size == "notebook" else "160px"
        rows = [
            widgets.HBox([widgets.Label(name, layout=widgets.Layout(width=label_width)), img])
            for name, img in self.strips.items()
        ]
        for control in (self.first, self.second, self.path):
            control.observe(lambda _change: self.render(), names="value")
        controls = [self.first, self.second]
        top = widgets.HBox(controls) if size == "notebook" else widgets.VBox(controls)
        self.box = _sized_box(widgets.VBox([top, self.path, *rows]), size)
        self.render()

    def render(self) -> None:
        """Decode the current path with every model into its strip."""
        i, j = self.first.value, self.second.value
        x0, x1 = self.images[i], self.images[j]
        for name, model in self.models.items():
            z = self.codes[name]
            row = torch.cat(
                [x0[None], _path_images(model, z[i], z[j], self.steps, self.path.value), x1[None]]
            )
            self.strips[name].value = png_bytes(image_grid(row, nrow=len(row), pad=2), self.scale)

    def figure(self) -> Figure:
        return plot_interpolation(
            self.models,
            self.images[self.first.value],
            self.images[self.second.value],
            self.steps,
            self.path.value,
        )

    def __repr__(self) -> str:
        return (
            f"InterpolationExplorer({', '.join(self.models)}: digits #{self.first.value} -> "
            f"#{self.second.value}, {self.path.value} path, {self.steps} steps)"
        )


# --------------------------------------------------------------------------- 2-D manifold
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


# --------------------------------------------------------------------------- training progress
class TrainingProgress(Callback):
    """Which model trains and its epoch, as a label and a progress bar (the presenter app's
    cold start; the app is built from notebook 07's explorers, the models from
    :func:`lecture_utils.model_cache.load_or_train`).

    Use: ``progress.start(name, epochs)``, then pass ``log=progress.log`` and
    ``callbacks=[progress]`` to ``load_or_train``; the bar fills one step per epoch (a loaded
    model skips it), and ``log`` shows the cache's one line. ``done()`` hides the display.
    """

    def __init__(self) -> None:
        self.name, self.epochs = "", 0
        self.label = widgets.Label("Loading the models")
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.box = widgets.VBox([self.label, self.bar])
        self.box.add_class("vae-course-progress")

    def start(self, name: str, epochs: int) -> None:
        """A model called ``name`` is next, trained for ``epochs`` epochs if it is not cached."""
        self.name, self.epochs = _check_name(name), check_positive_int("epochs", epochs)
        self.bar.value, self.bar.max = 0, epochs
        self.label.value = f"{name}: loading or training ({epochs} epochs)"

    def log(self, message: str) -> None:
        """The cache's message for the current model (``load_or_train``'s ``log``)."""
        self.label.value = str(message)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        self.bar.value = epoch + 1
        loss = history.get("loss", [float("nan")])[-1]
        self.label.value = (
            f"{self.name}: training, epoch {epoch + 1} of {self.epochs} (loss {loss:.2f})"
        )

    def done(self) -> None:
        """Hide the display (the models are ready)."""
        self.box.layout.display = "none"


# --------------------------------------------------------------------------- beta sweep (08)
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


# --------------------------------------------------------------------------- conditional VAE (09)
class DigitExplorer(_Explorer):
    """Ask a conditional VAE for a digit (introduced in 09_conditional_and_semi_supervised):
    buttons choose the label y (0-9), one slider per style dimension sets z, and the decoded
    image p(x|z, y)'s mean is redrawn in place (new PNG bytes in one ``ipywidgets.Image``, one
    decode per move, like notebook 07's :class:`LatentSliders`). Keep the sliders and press
    other buttons: the same style, another digit. Given a ``judge`` (a classifier of grey
    digits, e.g. :func:`lecture_utils.conditional.judge_classifier`'s), the readout also says
    which digit it reads in the image, and how sure it is: move a style far out and watch when
    the drawing stops being the digit asked for.

    Args:
        model: a :class:`~lecture_utils.models.ConditionalVAE`.
        digit: the label shown first, in ``[0, n_classes)``.
        z: the starting style ``(K,)`` (default 0, the prior's centre).
        limit: sliders run over ``[-limit, limit]`` (``limit > 0``).
        step: the sliders' step (``0 < step <= 2 * limit``).
        scale: on-screen pixels per image pixel.
        name: the model's name in the title and the text form.
        size: ``"notebook"`` or ``"projector"`` (:data:`SIZES`; wider sliders).
        judge: ``None``, or an ``nn.Module`` mapping images ``(B, 1, 28, 28)`` to logits
            ``(B, n_classes)``.

    ``.widget`` (the same as ``.box``) is the live widget to display; ``figure()`` draws the
    current style decoded as every digit.
    """

    def __init__(
        self,
        model: nn.Module,
        digit: int = 0,
        z: torch.Tensor | None = None,
        limit: float = 3.0,
        step: float = 0.05,
        scale: int = 5,
        name: str = "CVAE",
        size: str = "notebook",
        judge: nn.Module | None = None,
    ) -> None:
        from lecture_utils.models import ConditionalVAE

        if not isinstance(model, ConditionalVAE):
            raise TypeError(
                f"model must be a ConditionalVAE (notebook 09's CVAE), got {type(model).__name__}"
            )
        self.model = model.eval()
        if judge is not None and not isinstance(judge, nn.Module):
            raise TypeError(
                f"judge must be None or an nn.Module classifier (e.g. judge_classifier()[0]), "
                f"got {type(judge).__name__}"
            )
        self.judge = None if judge is None else judge.eval()
        k, c = model.latent_dim, model.n_classes
        _check_index("digit", digit, c)
        self.z = torch.zeros(k) if z is None else check_tensor("z", z, shape=(k,)).detach().clone()
        limit = check_number("limit", limit, low=0.0, low_open=True)
        step = check_number("step", step, low=0.0, low_open=True)
        if step > 2 * limit:
            raise ValueError(
                f"step must be <= 2 * limit = {2 * limit:g} (the sliders' range), got {step:g}"
            )
        self.limit, self.scale = limit, check_positive_int("scale", scale)
        self.name = _check_name(name)
        self.size = check_choice("size", size, SIZES)
        self.digits = widgets.ToggleButtons(
            options=[(str(d), d) for d in range(c)],
            value=digit,
            description="digit y",
            style={"button_width": "34px" if size == "notebook" else "48px"},
        )
        self.sliders = [
            _slider(
                size,
                widgets.FloatSlider,
                value=float(self.z[d]),
                min=-limit,
                max=limit,
                step=step,
                description=f"style z{d + 1}",
                readout_format=".2f",
                continuous_update=True,
            )
            for d in range(k)
        ]
        side = f"{28 * scale}px"
        self.image = widgets.Image(
            format="png",
            width=28 * scale,
            height=28 * scale,
            layout=widgets.Layout(
                width=side, height=side, align_self="flex-start", flex="0 0 auto"
            ),
        )
        self.readout = widgets.HTML()
        self.digits.observe(lambda _change: self.render(), names="value")
        for d, slider in enumerate(self.sliders):
            slider.observe(lambda change, d=d: self._set(d, change["new"]), names="value")
        self.box = _sized_box(
            widgets.VBox(
                [
                    self.digits,
                    widgets.HBox([widgets.VBox([*self.sliders, self.readout]), self.image]),
                ]
            ),
            size,
        )
        self.box.add_class("digit-explorer")  # for the browser test and custom CSS
        self.render()

    @property
    def widget(self) -> widgets.Widget:
        """The live widget (buttons, sliders, image) to display."""
        return self.box

    @property
    def digit(self) -> int:
        return self.digits.value

    def _set(self, d: int, value: float) -> None:
        self.z[d] = value
        self.render()

    def _decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Styles ``(M, K)`` and labels ``(M,)`` -> mean images ``(M, 1, 28, 28)``, on the
        course's one thread."""
        from lecture_utils.seed import torch_threads

        with torch_threads(), torch.no_grad():
            return self.model.decode(z, labels)

    def judged(self, image: torch.Tensor) -> tuple[int, float]:
        """The judge's reading of one image ``(1, 28, 28)`` -> ``(digit, probability)``."""
        from lecture_utils.seed import torch_threads

        with torch_threads(), torch.no_grad():
            p = torch.softmax(self.judge(image[None]), dim=1)[0]  # (n_classes,)
        return int(p.argmax()), float(p.max())

    def render(self) -> None:
        """Decode the current style with the chosen digit into the image; show both (and the
        judge's reading)."""
        image = self._decode(self.z[None], torch.tensor([self.digit]))[0]
        self.image.value = png_bytes(image, self.scale)
        text = f"y = {self.digit}, z = (" + ", ".join(f"{v:.2f}" for v in self.z.tolist()) + ")"
        if self.judge is not None:
            read, p = self.judged(image)
            text += f"<br>the classifier reads a {read} ({100 * p:.0f} % sure)"
        self.readout.value = text

    def figure(self) -> Figure:
        c = self.model.n_classes
        every = self._decode(self.z.expand(c, -1), torch.arange(c))  # (C, 1, 28, 28)
        fig, ax = plt.subplots(figsize=(7.0, 1.3))
        ax.imshow(image_grid(every, nrow=c, pad=2), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([14 + 30 * d for d in range(c)], [str(d) for d in range(c)])
        ax.set_yticks([])
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.get_xticklabels()[self.digit].set_color("red")
        style = ", ".join(f"{v:.2f}" for v in self.z.tolist())
        ax.set_title(f"{self.name}: the style z = ({style}) drawn as every digit y", fontsize=9)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        style = ", ".join(f"{v:.2f}" for v in self.z.tolist())
        return f"DigitExplorer({self.name}, digit {self.digit}, style z = ({style}))"
