"""Notebook 09's :class:`DigitExplorer` (introduced in 09_conditional_and_semi_supervised):
digit buttons and style sliders over a conditional VAE.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.plotting import image_grid, png_bytes
from lecture_utils.widgets.base import (
    SIZES,
    _check_index,
    _check_name,
    _check_slider_range,
    _code_sliders,
    _Explorer,
    _sized_box,
    _square_image,
)


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
        limit, step = _check_slider_range(limit, step)
        self.limit, self.scale = limit, check_positive_int("scale", scale)
        self.name = _check_name(name)
        self.size = check_choice("size", size, SIZES)
        self.digits = widgets.ToggleButtons(
            options=[(str(d), d) for d in range(c)],
            value=digit,
            description="digit y",
            style={"button_width": "34px" if size == "notebook" else "48px"},
        )
        self.sliders = _code_sliders(
            size, [self.z[d] for d in range(k)], [f"style z{d + 1}" for d in range(k)], limit, step
        )
        self.image = _square_image(scale)
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
