"""Notebook 07's :class:`InterpolationExplorer` (introduced in 07_latent_explorer): the
path between two digits' codes, decoded by several models side by side.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.latent import PATHS
from lecture_utils.plotting import (
    _check_latent_model,
    _encode,
    _path_images,
    image_grid,
    plot_interpolation,
    png_bytes,
)
from lecture_utils.widgets.base import SIZES, _check_index, _Explorer, _sized_box, _slider


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
