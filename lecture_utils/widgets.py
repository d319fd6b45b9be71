"""Interactive views of a latent space (introduced in 07_latent_explorer).

Three explorers built on ipywidgets; each redraws in place (new PNG bytes in one
``ipywidgets.Image``), so a slider move costs one decode and one small PNG, a few milliseconds:

- :class:`LatentSliders`: one slider per latent dimension, the decoded image and the current z;
- :class:`InterpolationExplorer`: two test digits, the path between their codes (straight or
  spherical) decoded by several models side by side (the autoencoder's holes show);
- :class:`ManifoldExplorer`: the decoded 2-D latent grid, and the encoded test digits as a
  scatter coloured by label; choosing a digit (click a point of the scatter, or use the slider)
  shows the image and its decoding, and a probe shows what any point of the plane decodes to.

Each has ``figure()``, a static matplotlib figure of its current state, and a plain function
for the same picture (:func:`plot_traversal`, :func:`plot_interpolation`, :func:`plot_manifold`).
Displayed in a notebook, an explorer sends both the live widget and that static picture: a
running kernel shows the widget, a rendered page (GitHub, nbviewer) the picture, and its text
form is stable, so nbval compares it as it would any output.
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from ipyevents import Event
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.latent import encode_dataset, latent_grid, lerp, slerp
from lecture_utils.plotting import image_grid

PATHS = MappingProxyType({"linear": lerp, "spherical": slerp})


# --------------------------------------------------------------------------- helpers
def png_bytes(image: torch.Tensor | np.ndarray, scale: int = 4) -> bytes:
    """A grey image ``(H, W)`` (or ``(1, H, W)``) with values in [0, 1] as PNG bytes, each
    pixel blown up to ``scale x scale`` (nearest neighbour, so pixels stay sharp)."""
    check_positive_int("scale", scale)
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    arr = arr.reshape(arr.shape[-2:]) if arr.ndim == 3 and arr.shape[0] == 1 else arr
    if arr.ndim != 2:
        raise ValueError(f"image must have shape (H, W) or (1, H, W), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("image contains NaN or infinite values")
    pixels = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if scale > 1:
        pixels = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
    return _encode_png(pixels)


def _encode_png(pixels: np.ndarray) -> bytes:
    """uint8 ``(H, W)`` grey or ``(H, W, 3)`` RGB -> PNG bytes (fast, light compression)."""
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a matplotlib figure (at the figure's dpi)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _check_model(model: nn.Module, latent_dim: int | None = None) -> nn.Module:
    if not (hasattr(model, "decode") and hasattr(model, "latent_dim")):
        raise TypeError(
            f"model must be an Autoencoder or VAE (with decode and latent_dim), got "
            f"{type(model).__name__}"
        )
    if latent_dim is not None and model.latent_dim != latent_dim:
        raise ValueError(
            f"this view needs a model with a {latent_dim}-D latent space, got "
            f"latent_dim={model.latent_dim}"
        )
    return model.eval()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run small forward passes on one thread: on a busy machine two OpenMP threads wait for
    each other for tens of milliseconds, one thread never does. Restores the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def _decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    with _one_thread():
        return model.decode(z.reshape(-1, model.latent_dim))


def _encode(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with _one_thread():
        return encode_dataset(model, images)


class _Explorer:
    """Displays as the live widget ``box`` plus a static PNG of ``figure()``."""

    box: widgets.Widget

    def figure(self) -> Figure:
        raise NotImplementedError

    def _static_png(self) -> str:
        fig = self.figure()
        try:
            return base64.b64encode(figure_png(fig)).decode("ascii")
        finally:
            plt.close(fig)

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        bundle["image/png"] = self._static_png()
        return bundle


# --------------------------------------------------------------------------- sliders
def plot_traversal(
    model: nn.Module,
    z: torch.Tensor | None = None,
    dims: Sequence[int] | None = None,
    limit: float = 3.0,
    n: int = 9,
    title: str | None = None,
) -> Figure:
    """Static version of the sliders: one row per dimension in ``dims``, decoding ``z`` with
    that coordinate swept over ``n`` values in ``[-limit, limit]`` (the others kept)."""
    model = _check_model(model)
    dims = list(range(min(model.latent_dim, 4))) if dims is None else list(dims)
    z = (
        torch.zeros(model.latent_dim)
        if z is None
        else check_tensor("z", z, shape=(model.latent_dim,))
    )
    values = torch.linspace(-limit, limit, n)
    codes = z.repeat(len(dims), n, 1)
    for row, d in enumerate(dims):
        codes[row, :, d] = values
    grid = image_grid(_decode(model, codes), nrow=n)
    fig, ax = plt.subplots(figsize=(min(8.0, 0.55 * n + 1.0), 0.55 * len(dims) + 0.6))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(
        [14 + 29 * i for i in range(n)], [f"{v:.1f}" for v in values.tolist()], fontsize=7
    )
    ax.set_yticks([14 + 29 * r for r in range(len(dims))], [f"$z_{{{d + 1}}}$" for d in dims])
    ax.tick_params(length=0)
    ax.set_title(title or "each row sweeps one coordinate of z", fontsize=9)
    fig.tight_layout()
    return fig


class LatentSliders(_Explorer):
    """One slider per latent dimension in ``dims`` (default: the first four); the decoded
    image of the current z updates as a slider moves.

    Args:
        model: an Autoencoder or VAE.
        z: the starting code ``(K,)`` (default 0); dimensions without a slider keep its value.
        limit: sliders run over ``[-limit, limit]``.
        scale: on-screen pixels per image pixel.
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
    ) -> None:
        self.model = _check_model(model)
        k = model.latent_dim
        self.dims = list(range(min(k, 4))) if dims is None else list(dims)
        if not self.dims or any(not 0 <= d < k for d in self.dims):
            raise ValueError(f"dims must be indices in [0, {k}), got {self.dims}")
        self.z = torch.zeros(k) if z is None else check_tensor("z", z, shape=(k,)).detach().clone()
        self.limit, self.scale, self.name = limit, check_positive_int("scale", scale), name
        self.sliders = [
            widgets.FloatSlider(
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
        self.image = widgets.Image(format="png", width=28 * scale, height=28 * scale)
        self.readout = widgets.HTML()
        for d, slider in zip(self.dims, self.sliders):
            slider.observe(lambda change, d=d: self._set(d, change["new"]), names="value")
        self.box = widgets.HBox([widgets.VBox([*self.sliders, self.readout]), self.image])
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
def interpolation_images(
    model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, steps: int = 9, path: str = "linear"
) -> torch.Tensor:
    """Decodings ``(steps, 1, 28, 28)`` along the path from the code of ``x0`` to that of ``x1``
    (images ``(1, 28, 28)``; a VAE uses its posterior means)."""
    z = _encode(_check_model(model), torch.stack([x0, x1]))
    return _path_images(model, z[0], z[1], steps, path)


def _path_images(
    model: nn.Module, z0: torch.Tensor, z1: torch.Tensor, steps: int, path: str
) -> torch.Tensor:
    step_fn = PATHS[check_choice("path", path, tuple(PATHS))]
    return _decode(
        model, step_fn(z0, z1, torch.linspace(0.0, 1.0, check_positive_int("steps", steps)))
    )


def plot_interpolation(
    models: Mapping[str, nn.Module],
    x0: torch.Tensor,
    x1: torch.Tensor,
    steps: int = 9,
    path: str = "linear",
) -> Figure:
    """Static version of the interpolation view: one row per model, the two real digits at
    the ends."""
    if not models:
        raise ValueError("give at least one model, e.g. {'autoencoder': ae, 'VAE': vae}")
    fig, axes = plt.subplots(
        len(models),
        1,
        figsize=(min(8.0, 0.6 * (steps + 2) + 1.0), 0.75 * len(models) + 0.3),
        squeeze=False,
    )
    for ax, (name, model) in zip(axes[:, 0], models.items()):
        row = torch.cat([x0[None], interpolation_images(model, x0, x1, steps, path), x1[None]])
        ax.imshow(
            image_grid(row, nrow=len(row), pad=2),
            cmap="gray",
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([14], [name], fontsize=8)
        ax.tick_params(length=0)
    axes[0, 0].set_title(
        f"{path} path between two test digits (real digits at the ends)", fontsize=9
    )
    fig.tight_layout()
    return fig


class InterpolationExplorer(_Explorer):
    """Choose two test digits (by index) and a path; every model decodes the path.

    Args:
        models: ``{"name": model}``, shown one row each (e.g. autoencoder above VAE).
        images: the digits to choose from ``(N, 1, 28, 28)``.
        start, end: indices of the first two digits.
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
    ) -> None:
        if not models:
            raise ValueError("give at least one model, e.g. {'autoencoder': ae, 'VAE': vae}")
        self.models = {name: _check_model(m) for name, m in models.items()}
        self.images = check_tensor("images", images, shape=(None, 1, 28, 28))
        self.steps, self.scale = (
            check_positive_int("steps", steps),
            check_positive_int("scale", scale),
        )
        n = len(images)
        if not (0 <= start < n and 0 <= end < n):
            raise ValueError(f"start and end must be indices in [0, {n}), got {start} and {end}")
        self.first = widgets.IntSlider(value=start, min=0, max=n - 1, description="from #")
        self.second = widgets.IntSlider(value=end, min=0, max=n - 1, description="to #")
        self.path = widgets.ToggleButtons(
            options=list(PATHS), value=check_choice("path", path, tuple(PATHS)), description="path"
        )
        self.codes = {name: _encode(m, images) for name, m in self.models.items()}
        self.strips = {name: widgets.Image(format="png") for name in self.models}
        rows = [
            widgets.HBox([widgets.Label(name, layout=widgets.Layout(width="110px")), img])
            for name, img in self.strips.items()
        ]
        for control in (self.first, self.second, self.path):
            control.observe(lambda _change: self.render(), names="value")
        self.box = widgets.VBox([widgets.HBox([self.first, self.second]), self.path, *rows])
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
def manifold_points(n: int = 15, extent: tuple[float, float] | None = None) -> torch.Tensor:
    """``(n * n, 2)`` points laid out like :func:`latent_grid`: through the normal's inverse
    CDF, or evenly over ``[lo, hi]^2`` when ``extent=(lo, hi)`` is given (for a model with no
    prior, such as the autoencoder, whose codes can lie anywhere)."""
    if extent is None:
        return latent_grid(n)
    lo, hi = extent
    if not lo < hi:
        raise ValueError(f"extent must be (lo, hi) with lo < hi, got {extent}")
    q = torch.linspace(float(lo), float(hi), check_positive_int("n", n))
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def manifold_image(
    model: nn.Module, n: int = 15, extent: tuple[float, float] | None = None
) -> np.ndarray:
    """The decodings of :func:`manifold_points` tiled into one array (z_2 grows upwards)."""
    model = _check_model(model, latent_dim=2)
    return image_grid(_decode(model, manifold_points(n, extent)), nrow=n, pad=0)


def _draw_scatter(ax: plt.Axes, codes: torch.Tensor, labels: torch.Tensor) -> None:
    pts = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="viridis", s=3, vmin=-0.5, vmax=9.5)
    ax.figure.colorbar(pts, ax=ax, ticks=range(10), label="digit", fraction=0.05)
    ax.set(xlabel="$z_1$", ylabel="$z_2$")


def plot_manifold(
    model: nn.Module,
    n: int = 15,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    title: str = "decoded latent grid",
    extent: tuple[float, float] | None = None,
) -> Figure:
    """The decoded grid over the plane (placed through the normal's inverse CDF, or even over
    ``extent``), and, when ``images`` and ``labels`` are given, their codes as a scatter
    coloured by label, with the grid's area outlined."""
    grid = manifold_image(model, n, extent)
    ncols = 1 if images is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(3.2 * ncols + 0.6, 3.0), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    points = manifold_points(n, extent)
    ticks = [i for i in range(n) if i % max(1, n // 4) == 0]
    ax.set_xticks([14 + 28 * i for i in ticks], [f"{points[i, 0]:.1f}" for i in ticks], fontsize=7)
    ax.set_yticks(
        [14 + 28 * i for i in ticks], [f"{points[i * n, 1]:.1f}" for i in ticks], fontsize=7
    )
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    if images is not None:
        if labels is None:
            raise ValueError("give labels with images, to colour the scatter")
        _draw_scatter(axes[0, 1], _encode(model, images), labels)
        lo, hi = float(points[:, 0].min()), float(points[:, 0].max())
        axes[0, 1].add_patch(plt.Rectangle((lo, lo), hi - lo, hi - lo, fill=False, ls="--", lw=1))
        axes[0, 1].set_title("encoded digits (dashed: the grid's area)", fontsize=9)
    fig.tight_layout()
    return fig


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
    ) -> None:
        self.model = _check_model(model, latent_dim=2)
        self.images = check_tensor("images", images, shape=(None, 1, 28, 28))
        if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),):
            raise ValueError(f"labels must be a tensor of shape ({len(images)},)")
        self.labels, self.n, self.scale, self.name, self.extent = labels, n, scale, name, extent
        self.codes = _encode(model, images)
        self.index = widgets.IntSlider(
            value=index, min=0, max=len(images) - 1, description="digit #"
        )
        lo, hi = extent or (-3.0, 3.0)
        self.z1 = widgets.FloatSlider(
            value=0.0, min=lo, max=hi, step=(hi - lo) / 120, description="probe z1"
        )
        self.z2 = widgets.FloatSlider(
            value=0.0, min=lo, max=hi, step=(hi - lo) / 120, description="probe z2"
        )
        self.grid = widgets.Image(
            value=png_bytes(manifold_image(model, n, extent), 1), format="png"
        )
        self.scatter = widgets.Image(format="png")
        self.chosen = widgets.Image(format="png")
        self.probe = widgets.Image(format="png")
        self.caption = widgets.HTML()
        # The scatter is drawn once; each update stamps the ring and the cross onto a copy of
        # its pixels (a few ms, where redrawing 2,000 points with matplotlib takes ~50 ms).
        fig = Figure(figsize=(3.6, 3.0), dpi=80)
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
        self.box = widgets.HBox([self.grid, self.scatter, panel])
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
