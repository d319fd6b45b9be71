"""Figures used across the notebooks (introduced in 00_welcome and 01_autoencoder).

Every helper returns the ``matplotlib.figure.Figure`` it draws on; in a notebook end the
cell with ``plt.show()``. Sizes stay modest; digits use the ``gray`` colour map and labels
the colour-blind-safe ``viridis``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from lecture_utils._validate import check_tensor

COURSE_RC = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (6.0, 3.0),
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "image.cmap": "gray",
}


def use_course_style() -> None:
    """Set modest figure sizes and dpi for the notebooks (call once in the setup cell)."""
    plt.rcParams.update(COURSE_RC)


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
    """Tile ``(N, 1, H, W)`` images into one ``(rows*(H+pad)-pad, nrow*(W+pad)-pad)`` array."""
    x = _as_images(images)
    n, h, w = x.shape
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
    """Show a batch of digits as one grid."""
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
    """Originals (top row) above their reconstructions (bottom row)."""
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
    """Scatter 2-D codes ``(N, 2)`` coloured by their digit label ``(N,)``."""
    check_tensor("z", z, shape=(None, 2))
    if labels.shape != (len(z),):
        raise ValueError(f"labels must have shape ({len(z)},), got {tuple(labels.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.5))
    pts = ax.scatter(
        z[:, 0].detach(), z[:, 1].detach(), c=labels, cmap="viridis", s=4, vmin=-0.5, vmax=9.5
    )
    ax.figure.colorbar(pts, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    return ax.figure


def plot_history(
    history: dict[str, list[float]],
    keys: Sequence[str] | None = None,
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
    ax: plt.Axes | None = None,
) -> Figure:
    """Curves of ``history[key]`` against the epoch, for each key (default: all)."""
    keys = list(history) if keys is None else list(keys)
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it has {list(history)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.0))
    for key in keys:
        ax.plot(range(1, len(history[key]) + 1), history[key], label=key)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax.figure


def show_image_rows(
    rows: dict[str, torch.Tensor], n: int = 10, title: str | None = None, width: float = 8.0
) -> Figure:
    """One labelled row of digits per entry of ``rows`` (notebooks 01 and 02).

    ``rows`` maps a label (shown at the left) to images ``(N, 1, H, W)`` or ``(N, H*W)``; the
    first ``n`` images of each row are shown, so rows line up column by column (for example
    originals above the reconstructions of several models).
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty dict {label: images}")
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
