"""Notebook 07's :class:`LatentSliders` (introduced in 07_latent_explorer): one slider per
latent dimension and the decoded image of the current z.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.plotting import (
    _check_dims,
    _check_latent_model,
    _decode,
    plot_traversal,
    png_bytes,
)
from lecture_utils.widgets.base import (
    SIZES,
    _check_name,
    _check_slider_range,
    _code_sliders,
    _Explorer,
    _sized_box,
    _square_image,
)


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
        limit, step = _check_slider_range(limit, step)
        self.limit, self.scale = limit, check_positive_int("scale", scale)
        self.name = _check_name(name)
        self.size = check_choice("size", size, SIZES)
        self.sliders = _code_sliders(
            size, [self.z[d] for d in self.dims], [f"z{d + 1}" for d in self.dims], limit, step
        )
        self.image = _square_image(scale)
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
