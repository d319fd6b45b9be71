"""What the explorers share (introduced in 07_latent_explorer): their sizes (notebook or
projector), sized sliders and images, argument checks, and :class:`_Explorer`, which
displays a live widget beside a static PNG of its ``figure()``.
"""

from __future__ import annotations

import base64

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from lecture_utils._validate import check_int, check_number
from lecture_utils.plotting import figure_png

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


def _check_slider_range(limit: object, step: object) -> tuple[float, float]:
    """The sliders' half-range ``limit`` and ``step``: positive numbers, the step within the
    range."""
    limit = check_number("limit", limit, low=0.0, low_open=True)
    step = check_number("step", step, low=0.0, low_open=True)
    if step > 2 * limit:
        raise ValueError(
            f"step must be <= 2 * limit = {2 * limit:g} (the sliders' range), got {step:g}"
        )
    return limit, step


def _code_sliders(
    size: str, values: list[float], labels: list[str], limit: float, step: float
) -> list[widgets.FloatSlider]:
    """One slider per latent coordinate, from ``-limit`` to ``limit``, starting at ``values``
    and named by ``labels`` (the 8-D sliders of notebook 07, the style of notebook 09)."""
    return [
        _slider(
            size,
            widgets.FloatSlider,
            value=float(value),
            min=-limit,
            max=limit,
            step=step,
            description=label,
            readout_format=".2f",
            continuous_update=True,
        )
        for value, label in zip(values, labels)
    ]


def _square_image(scale: int) -> widgets.Image:
    """The explorers' digit: a 28x28 image shown ``scale`` times larger, square and aligned to
    the top of its row (the column of sliders beside it is taller)."""
    side = f"{28 * scale}px"
    return widgets.Image(
        format="png",
        width=28 * scale,
        height=28 * scale,
        layout=widgets.Layout(width=side, height=side, align_self="flex-start", flex="0 0 auto"),
    )


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
