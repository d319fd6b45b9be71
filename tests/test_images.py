"""lecture_utils.images: per-image statistics, checked on images whose answer is known."""

import pytest
import torch

from lecture_utils.images import grey_fraction, image_slant


def diagonal(step: int, size: int = 16) -> torch.Tensor:
    """A one-pixel line that moves ``step`` columns right per row upwards -> ``(1, size, size)``."""
    image = torch.zeros(1, size, size)
    for row in range(4, 12):
        image[0, row, 8 + step * (8 - row)] = 1.0
    return image


@pytest.mark.parametrize("step", [-1, 0, 1])
def test_image_slant_is_the_columns_moved_per_row_upwards(step):
    torch.testing.assert_close(image_slant(diagonal(step)[None]), torch.tensor([float(step)]))


def test_image_slant_of_a_batch_ignores_position_and_brightness_and_checks_input():
    right = diagonal(1)
    moved = torch.roll(right, shifts=(2, -3), dims=(1, 2)) * 0.4  # same shape, elsewhere, fainter
    batch = torch.stack([right, moved, right.flip(-1)])  # (3, 1, 16, 16)
    torch.testing.assert_close(image_slant(batch), torch.tensor([1.0, 1.0, -1.0]))
    torch.testing.assert_close(image_slant(batch[:, 0]), image_slant(batch))  # (N, H, W) too
    with pytest.raises(ValueError, match="no ink"):
        image_slant(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="images must be >= 0"):
        image_slant(-torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match="images must have 3 or 4 dimensions"):
        image_slant(torch.ones(4, 64))


def test_grey_fraction_counts_pixels_between_ink_and_paper():
    images = torch.tensor([[0.0, 1.0, 0.5, 0.05], [0.2, 0.3, 0.95, 1.0]])
    torch.testing.assert_close(grey_fraction(images), torch.tensor([0.25, 0.5]))
    torch.testing.assert_close(grey_fraction(images.reshape(2, 1, 2, 2)), torch.tensor([0.25, 0.5]))
    torch.testing.assert_close(grey_fraction(images, low=0.0, high=1.0), torch.tensor([0.5, 0.75]))
    with pytest.raises(ValueError, match="low < high"):
        grey_fraction(images, low=0.9, high=0.1)
    with pytest.raises(ValueError, match="high must be <= 1, got 2"):
        grey_fraction(images, high=2)
    with pytest.raises(TypeError, match="low must be a number, got str"):
        grey_fraction(images, low="0.1")
