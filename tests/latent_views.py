"""Shared by test_widgets.py and test_plotting_extra.py (not a test module): the pixels of a
PNG, and the pixels a view should show, recomputed without lecture_utils. Their small models
and digits are the fixtures ``models`` and ``digits`` of conftest.py."""

import io

import numpy as np
from PIL import Image as PILImage


def pixels(png):
    return np.asarray(PILImage.open(io.BytesIO(png)))


def expected_png(image, scale):
    """The PNG a view should show for ``image`` (1, H, W), built without lecture_utils."""
    arr = np.round(image.detach().numpy()[0].clip(0, 1) * 255).astype(np.uint8)
    return arr.repeat(scale, 0).repeat(scale, 1)
