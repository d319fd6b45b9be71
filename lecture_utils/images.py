"""Statistics of digit images, one number per image.

- :func:`image_slant`: how much a digit leans (introduced in 01_autoencoder, to sort digits;
  07_latent_explorer finds the latent direction along which it grows);
- :func:`grey_fraction`: the share of pixels that are neither ink nor paper, a measure of blur
  (introduced in 02_l2_loss).

Images are ``(N, 1, H, W)`` (or ``(N, H, W)``, or ``(N, D)`` for :func:`grey_fraction`) with
paper near 0 and ink near 1.
"""

from __future__ import annotations

import torch

from lecture_utils._validate import check_number, check_tensor


def image_slant(images: torch.Tensor) -> torch.Tensor:
    """How much each digit leans to the right: ``(N, 1, H, W)`` or ``(N, H, W)`` -> ``(N,)``.

    With the ink as weights, the slant is the shear ``-cov(col, row) / var(row)``: how many
    columns the ink moves right per row upwards (rows count downwards, hence the sign).
    0 is upright, 0.3 leans right by about 17 degrees, negative values lean left.
    """
    check_tensor("images", images, ndim=(3, 4), low=0.0)
    x = images.reshape(len(images), images.shape[-2], images.shape[-1]).double()
    mass = x.sum(dim=(1, 2))
    if bool((mass <= 0).any()):
        raise ValueError("an image has no ink (all zeros): its slant is undefined")
    rows = torch.arange(x.shape[1], dtype=x.dtype).reshape(1, -1, 1)
    cols = torch.arange(x.shape[2], dtype=x.dtype).reshape(1, 1, -1)
    r_mean = (x * rows).sum(dim=(1, 2)) / mass
    c_mean = (x * cols).sum(dim=(1, 2)) / mass
    dr = rows - r_mean.reshape(-1, 1, 1)
    dc = cols - c_mean.reshape(-1, 1, 1)
    cov = (x * dr * dc).sum(dim=(1, 2)) / mass
    var = (x * dr * dr).sum(dim=(1, 2)) / mass
    return (-cov / var).float()


def grey_fraction(images: torch.Tensor, low: float = 0.1, high: float = 0.9) -> torch.Tensor:
    """Share of each image's pixels strictly between ``low`` and ``high`` -> ``(N,)``.

    ``images`` is ``(N, C, H, W)``, ``(N, H, W)`` or ``(N, D)``. Digits are mostly ink (near 1)
    or paper (near 0); a blurred reconstruction has more pixels in between.
    """
    check_tensor("images", images, ndim=(2, 3, 4))
    low = check_number("low", low, low=0.0)
    high = check_number("high", high, high=1.0)
    if not low < high:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low:g}, high={high:g}")
    flat = images.detach().reshape(len(images), -1)
    return ((flat > low) & (flat < high)).float().mean(dim=1)
