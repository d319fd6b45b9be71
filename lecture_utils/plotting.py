"""Figures used across the notebooks (introduced in 00_welcome).

Every figure helper returns the ``matplotlib.figure.Figure`` it draws on; in a notebook end the
cell with ``plt.show()``. Sizes stay modest; digits use the ``gray`` colour map and labels
the colour-blind-safe ``viridis``.

- digits: ``use_course_style``, ``image_grid``, ``show_images`` (00), ``show_image_rows`` and
  ``plot_latent_scatter`` (01), ``show_reconstructions`` (03);
- PNG bytes, for the widgets: ``png_bytes``, ``figure_png`` (07);
- what a trained model's latent space decodes to (07): ``plot_traversal`` (each coordinate
  swept), ``interpolation_images`` / ``plot_interpolation`` (paths between two digits'
  codes), ``manifold_image`` / ``plot_manifold`` (the decoded 2-D grid). The explorers of
  :mod:`lecture_utils.widgets` show the same pictures live and use these as static figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image as PILImage
from torch import nn

from lecture_utils._validate import (
    check_choice,
    check_int,
    check_int_sequence,
    check_nonneg_int,
    check_number,
    check_positive_int,
    check_same_shape,
    check_tensor,
)
from lecture_utils.latent import PATHS, encode_dataset, latent_grid
from lecture_utils.seed import torch_threads

COURSE_RC = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (6.0, 3.0),
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "image.cmap": "gray",
}


def use_course_style() -> None:
    """Set modest figure sizes and dpi for the notebooks (call once in the setup cell;
    introduced in 00_welcome).

    In a notebook, figures are also stored at twice the pixel density ("retina"), with their
    display size unchanged: they stay sharp when the slides or the rendered pages scale them
    up for a projector.
    """
    plt.rcParams.update(COURSE_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: no inline figures to configure
        return
    if get_ipython() is not None:
        # light PNG compression: at twice the pixels the default level costs about twice the
        # time of the drawing itself; level 1 is as fast as plain PNGs and not larger
        set_matplotlib_formats("retina", pil_kwargs={"compress_level": 1})


def _as_images(images: torch.Tensor, name: str = "images") -> np.ndarray:
    check_tensor(name, images, ndim=(2, 3, 4))
    x = images.detach().cpu()
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must have one channel, got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.ndim == 2:
        side = int(round(x.shape[1] ** 0.5))
        if side * side != x.shape[1]:
            raise ValueError(f"{name} of shape {tuple(x.shape)} is not a batch of square images")
        x = x.reshape(len(x), side, side)
    return x.numpy()


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 1) -> np.ndarray:
    """Tile images into one array, ``nrow`` per row and ``pad`` white pixels between them.

    ``images`` ``(N, 1, H, W)``, ``(N, H, W)`` or flat square ``(N, H*W)`` -> an array
    ``(rows * (H + pad) - pad, ncol * (W + pad) - pad)`` with ``ncol = min(nrow, N)`` and
    ``rows = ceil(N / ncol)``; unused cells stay white (1.0). Used by :func:`show_images`
    (00_welcome) and the latent-space figures.
    """
    check_positive_int("nrow", nrow)
    check_nonneg_int("pad", pad)
    x = _as_images(images)
    n, h, w = x.shape
    if n == 0:
        raise ValueError(f"images is empty (shape {tuple(images.shape)}): give at least one image")
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.ones((rows * (h + pad) - pad, ncol * (w + pad) - pad), dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = x[i]
    return grid


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Show a batch of digits as one grid (introduced in 00_welcome).

    ``images``: ``(N, 1, H, W)``, ``(N, H, W)`` or flat square ``(N, H*W)``, values in [0, 1]
    (grey, black = 0), ``nrow`` per row. Draws on ``ax`` if given, else on a new figure.
    """
    grid = image_grid(images, nrow)
    if ax is None:
        h, w = grid.shape
        _, ax = plt.subplots(figsize=figsize or (min(8.0, 0.12 * w), min(8.0, 0.12 * h + 0.4)))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def show_reconstructions(
    originals: torch.Tensor, reconstructions: torch.Tensor, n: int = 10, title: str | None = None
) -> Figure:
    """Originals (top row) above their reconstructions (bottom row) (introduced in
    03_encoder_reuse).

    ``originals`` and ``reconstructions``: ``(N, 1, H, W)``, ``(N, H, W)`` or flat square
    ``(N, H*W)`` (the two may differ in layout, e.g. ``(N, 784)`` against ``(N, 1, 28, 28)``,
    but not in image size); the first ``n`` of each are shown, values in [0, 1].
    """
    check_positive_int("n", n)
    a, b = (
        _as_images(originals, "originals")[:n],
        _as_images(reconstructions, "reconstructions")[:n],
    )
    if a.shape != b.shape:
        raise ValueError(f"originals {a.shape} and reconstructions {b.shape} differ in shape")
    fig, axes = plt.subplots(2, 1, figsize=(min(8.0, 0.8 * len(a)), 1.9))
    show_images(torch.from_numpy(a), nrow=n, ax=axes[0])
    show_images(torch.from_numpy(b), nrow=n, ax=axes[1])
    axes[0].set_title("original", fontsize=9)
    axes[1].set_title("reconstruction", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_latent_scatter(
    z: torch.Tensor, labels: torch.Tensor, title: str = "latent codes", ax: plt.Axes | None = None
) -> Figure:
    """Scatter 2-D codes ``(N, 2)`` coloured by their digit label ``(N,)`` (introduced in
    01_autoencoder)."""
    check_tensor("z", z, shape=(None, 2))
    check_tensor("labels", labels, shape=(len(z),), floating=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.5))
    pts = ax.scatter(
        z[:, 0].detach(), z[:, 1].detach(), c=labels, cmap="viridis", s=4, vmin=-0.5, vmax=9.5
    )
    ax.figure.colorbar(pts, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    return ax.figure


def show_image_rows(
    rows: dict[str, torch.Tensor], n: int = 10, title: str | None = None, width: float = 8.0
) -> Figure:
    """One labelled row of digits per entry of ``rows`` (introduced in 01_autoencoder).

    ``rows`` maps a label (shown at the left) to images ``(N, 1, H, W)`` or ``(N, H*W)``; the
    first ``n`` images of each row are shown, so rows line up column by column (for example
    originals above the reconstructions of several models).
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty dict {label: images}")
    check_positive_int("n", n)
    arrays = {label: _as_images(images, f"rows[{label!r}]")[:n] for label, images in rows.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(
            f"every row needs the same number and size of images, got "
            f"{ {label: a.shape for label, a in arrays.items()} }"
        )
    count = next(iter(shapes))[0]
    fig, axes = plt.subplots(
        len(arrays),
        1,
        squeeze=False,
        figsize=(width, min(8.0, 0.3 + 0.95 * width / max(count, 1) * len(arrays))),
    )
    for ax, (label, images) in zip(axes[:, 0], arrays.items()):
        show_images(torch.from_numpy(images), nrow=count, ax=ax)
        ax.set_axis_on()
        ax.set(xticks=[], yticks=[])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- PNG bytes
def png_bytes(image: torch.Tensor | np.ndarray, scale: int = 4) -> bytes:
    """A grey image ``(H, W)`` (or ``(1, H, W)``) with values in [0, 1] as PNG bytes, each
    pixel blown up to ``scale x scale`` (nearest neighbour, so pixels stay sharp). Introduced in
    07_latent_explorer, where the widgets show their pictures as PNG bytes."""
    check_positive_int("scale", scale)
    if not isinstance(image, (torch.Tensor, np.ndarray)):
        raise TypeError(f"image must be a torch.Tensor or numpy array, got {type(image).__name__}")
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


def figure_png(fig: Figure, density: int = 1) -> bytes:
    """PNG bytes of a matplotlib figure at ``density`` times the figure's dpi (introduced in
    07_latent_explorer: the explorers' static pictures, stored at density 2 so that slides and
    rendered pages can enlarge them without blur)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    check_positive_int("density", density)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi * density, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# --------------------------------------------------------------------------- latent space
# The figures of notebook 07 and the helpers they share with lecture_utils.widgets.
def _check_latent_model(model: object, latent_dim: int | None = None) -> nn.Module:
    """``model`` in eval mode if it decodes codes (an Autoencoder or VAE), else raise."""
    if not (isinstance(model, nn.Module) and hasattr(model, "decode")):
        raise TypeError(
            f"model must be an Autoencoder or VAE (with decode and latent_dim), got "
            f"{type(model).__name__}"
        )
    if not hasattr(model, "latent_dim"):
        raise TypeError(f"model must have a latent_dim attribute, got {type(model).__name__}")
    if latent_dim is not None and model.latent_dim != latent_dim:
        raise ValueError(
            f"this view needs a model with a {latent_dim}-D latent space, got "
            f"latent_dim={model.latent_dim}"
        )
    return model.eval()


def _check_dims(dims: Sequence[int] | None, latent_dim: int) -> list[int]:
    """The latent coordinates to sweep: distinct indices in ``[0, latent_dim)`` (default: the
    first four)."""
    if dims is None:
        return list(range(min(latent_dim, 4)))
    dims = list(check_int_sequence("dims", dims, low=0))
    if not dims or any(d >= latent_dim for d in dims):
        raise ValueError(f"dims must be indices in [0, {latent_dim}), got {dims}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims must not repeat an index (one slider or row each), got {dims}")
    return dims


@torch.no_grad()
def _decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Decode codes ``(..., K)`` -> images ``(M, 1, 28, 28)``, on the course's one thread."""
    with torch_threads():
        return model.decode(z.reshape(-1, model.latent_dim))


def _encode(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """:func:`~lecture_utils.latent.encode_dataset` on the course's one thread."""
    with torch_threads():
        return encode_dataset(model, images)


def plot_traversal(
    model: nn.Module,
    z: torch.Tensor | None = None,
    dims: Sequence[int] | None = None,
    limit: float = 3.0,
    n: int = 9,
    title: str | None = None,
) -> Figure:
    """A latent traversal (introduced in 07_latent_explorer; the static picture of
    :class:`~lecture_utils.widgets.LatentSliders`): one row per dimension in ``dims`` (default:
    the first four), decoding ``z`` ``(K,)`` (default 0) with that coordinate swept over ``n``
    values in ``[-limit, limit]`` (the others kept)."""
    model = _check_latent_model(model)
    dims = _check_dims(dims, model.latent_dim)
    limit = check_number("limit", limit, low=0.0, low_open=True)
    check_int("n", n, low=2)
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


def _path_images(
    model: nn.Module, z0: torch.Tensor, z1: torch.Tensor, steps: int, path: str
) -> torch.Tensor:
    """Decodings ``(steps, 1, 28, 28)`` of the ``path`` from code ``z0`` to ``z1`` ``(K,)``."""
    step_fn = PATHS[check_choice("path", path, tuple(PATHS))]
    return _decode(
        model, step_fn(z0, z1, torch.linspace(0.0, 1.0, check_positive_int("steps", steps)))
    )


def _check_digit_pair(x0: object, x1: object) -> None:
    check_tensor("x0", x0, shape=(1, None, None))
    check_tensor("x1", x1, shape=(1, None, None))
    check_same_shape("x0", x0, "x1", x1)


def interpolation_images(
    model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, steps: int = 9, path: str = "linear"
) -> torch.Tensor:
    """Decodings ``(steps, 1, 28, 28)`` along the path (``"linear"`` or ``"spherical"``) from the
    code of image ``x0`` to that of ``x1`` (``(1, 28, 28)`` each; a VAE uses its posterior
    means). Introduced in 07_latent_explorer."""
    model = _check_latent_model(model)
    _check_digit_pair(x0, x1)
    z = _encode(model, torch.stack([x0, x1]))
    return _path_images(model, z[0], z[1], steps, path)


def plot_interpolation(
    models: Mapping[str, nn.Module],
    x0: torch.Tensor,
    x1: torch.Tensor,
    steps: int = 9,
    path: str = "linear",
) -> Figure:
    """Decoded paths between two digits ``x0``, ``x1`` ``(1, 28, 28)``: one row per model of
    ``{"name": model}``, the two real digits at the ends (introduced in 07_latent_explorer; the
    static picture of :class:`~lecture_utils.widgets.InterpolationExplorer`)."""
    if not isinstance(models, Mapping) or not models:
        raise ValueError("give at least one model, e.g. {'autoencoder': ae, 'VAE': vae}")
    for model in models.values():
        _check_latent_model(model)
    _check_digit_pair(x0, x1)
    check_positive_int("steps", steps)
    check_choice("path", path, tuple(PATHS))
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


def manifold_image(
    model: nn.Module, n: int = 15, extent: tuple[float, float] | None = None
) -> np.ndarray:
    """The decodings of :func:`~lecture_utils.latent.latent_grid` ``(n, extent=extent)`` tiled
    into one array ``(28 n, 28 n)``, z_2 growing upwards (2-D models; introduced in
    07_latent_explorer)."""
    model = _check_latent_model(model, latent_dim=2)
    return image_grid(_decode(model, latent_grid(n, extent=extent)), nrow=n, pad=0)


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
    """The decoded ``n x n`` grid over the plane of a 2-D model (placed through the normal's
    inverse CDF, or evenly over ``extent=(lo, hi)``), and, when ``images`` ``(N, 1, 28, 28)``
    and ``labels`` ``(N,)`` are given, their codes as a scatter coloured by label, with the
    grid's area outlined (introduced in 07_latent_explorer; the static picture of
    :class:`~lecture_utils.widgets.ManifoldExplorer`)."""
    if (images is None) != (labels is None):
        raise ValueError("give labels with images (and images with labels), to colour the scatter")
    if images is not None:
        check_tensor("images", images, shape=(None, 1, 28, 28))
        check_tensor("labels", labels, shape=(len(images),), floating=False)
    grid = manifold_image(model, n, extent)
    ncols = 1 if images is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(3.2 * ncols + 0.6, 3.0), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    points = latent_grid(n, extent=extent)
    ticks = [i for i in range(n) if i % max(1, n // 4) == 0]
    ax.set_xticks([14 + 28 * i for i in ticks], [f"{points[i, 0]:.1f}" for i in ticks], fontsize=7)
    ax.set_yticks(
        [14 + 28 * i for i in ticks], [f"{points[i * n, 1]:.1f}" for i in ticks], fontsize=7
    )
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    if images is not None:
        _draw_scatter(axes[0, 1], _encode(model, images), labels)
        lo, hi = float(points[:, 0].min()), float(points[:, 0].max())
        axes[0, 1].add_patch(plt.Rectangle((lo, lo), hi - lo, hi - lo, fill=False, ls="--", lw=1))
        axes[0, 1].set_title("encoded digits (dashed: the grid's area)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- diagnosing a VAE
# The two pictures of notebook 08's posterior-collapse section; its explorer
# (lecture_utils.widgets.BetaExplorer) draws the same ones for the chosen beta.
def plot_rate_distortion(
    points: Mapping[str, tuple[float, float]],
    sweep: Sequence[str] = (),
    highlight: str | None = None,
    ax: plt.Axes | None = None,
    title: str = "rate and distortion",
) -> Figure:
    """Runs as points on the rate-distortion plane (notebook 08): rate = KL(q(z|x) || p(z)) on
    the x-axis, distortion = -E_q log p(x|z) on the y-axis, both mean nats per digit.

    ``points`` maps a label to ``(rate, distortion)``; the labels in ``sweep`` are joined by a
    line in that order (a beta sweep); ``highlight`` is ringed. The dashed line is the
    negative ELBO (rate + distortion) of the best point: every point on it has the same ELBO,
    points below it a better one.
    """
    if not isinstance(points, Mapping) or not points:
        raise ValueError("points must be a non-empty dict {label: (rate, distortion)}")
    for label in [*sweep, *([highlight] if highlight is not None else [])]:
        if label not in points:
            raise ValueError(f"{label!r} is not one of the points' labels {list(points)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.0))
    rates = np.array([float(r) for r, _ in points.values()])
    dists = np.array([float(d) for _, d in points.values()])
    best = float((rates + dists).min())
    span = np.linspace(0.0, rates.max() * 1.1 + 1.0, 2)
    ax.plot(span, best - span, ls="--", lw=0.8, color="gray", label="equal -ELBO (best run)")
    if sweep:
        ax.plot([points[k][0] for k in sweep], [points[k][1] for k in sweep], "-", color="tab:blue")
    for label, (r, d) in points.items():
        ax.plot([r], [d], "o", color="tab:blue" if label in sweep else "tab:orange", ms=4)
        ax.annotate(label, (r, d), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if highlight is not None:
        r, d = points[highlight]
        ax.plot([r], [d], "o", ms=11, mfc="none", mec="red", mew=1.5)
    ax.set(
        xlabel="rate: KL(q(z|x) || p(z)), nats",
        ylabel="distortion: -E log p(x|z), nats",
        title=title,
        xlim=(0.0, rates.max() * 1.1 + 1.0),
        ylim=(dists.min() - 10.0, dists.max() + 10.0),
    )
    ax.legend(fontsize=7, loc="upper right")
    return ax.figure


def plot_kl_bars(
    kl_dims: torch.Tensor,
    ax: plt.Axes | None = None,
    title: str = "KL per latent dimension",
    ymax: float | None = None,
    floor: float = 0.1,
) -> Figure:
    """Each latent dimension's mean KL(q(z_k|x) || N(0, 1)) in nats as a bar (notebook 08),
    ``kl_dims`` ``(K,)``; the dotted line marks ``floor`` (below it a dimension carries almost
    nothing); ``ymax`` fixes the axis so that several plots compare."""
    check_tensor("kl_dims", kl_dims, ndim=1, low=0.0)
    floor = check_number("floor", floor, low=0.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 2.4))
    values = kl_dims.detach().cpu().numpy()
    ax.bar(np.arange(1, len(values) + 1), values, color="tab:blue")
    ax.axhline(floor, color="gray", lw=0.8, ls=":")
    top = ymax if ymax is not None else max(float(values.max()) * 1.1, floor * 2)
    ax.set(xlabel="latent dimension k", ylabel="nats per digit", title=title, ylim=(0.0, top))
    return ax.figure
