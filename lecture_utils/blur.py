"""Why the L2 loss blurs, and what L1 and cross-entropy do instead (notebook 02_l2_loss).

- :func:`shifted_strokes` builds the ambiguous targets: the same vertical stroke at a few
  horizontal positions, ``(N, 1, H, W)``.
- :func:`expected_loss` weighs :func:`lecture_utils.losses.reconstruction_loss` (L1, L2 or
  binary cross-entropy) over several possible targets;
- :func:`minimise_expected_loss` finds, by gradient descent, the one image that minimises the
  expected loss over several equally plausible targets; :func:`weighted_median` is the closed
  form for L1 (the weighted mean, for L2 and cross-entropy, needs no helper).

The notebook measures blur with :func:`lecture_utils.images.grey_fraction` and trains its
autoencoders with :func:`lecture_utils.training.fit_from_seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lecture_utils._validate import check_choice, check_number, check_positive_int, check_tensor
from lecture_utils.losses import RECONSTRUCTION_LOSSES, reconstruction_loss

_EPS = 1e-6  # keeps cross-entropy away from log(0) while searching in [0, 1]


def shifted_strokes(
    columns: Sequence[int], size: int = 28, width: int = 2, rows: tuple[int, int] = (5, 23)
) -> torch.Tensor:
    """One image per entry of ``columns``: a vertical stroke of ``width`` pixels whose left
    edge is at that column, from row ``rows[0]`` up to (not including) ``rows[1]``.

    Returns float32 ``(len(columns), 1, size, size)`` with ink 1 and paper 0.
    """
    check_positive_int("size", size)
    check_positive_int("width", width)
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence) or not columns:
        raise ValueError(f"columns must be a non-empty sequence of ints, got {columns!r}")
    top, bottom = rows
    if not (isinstance(top, int) and isinstance(bottom, int) and 0 <= top < bottom <= size):
        raise ValueError(f"rows must be two ints with 0 <= top < bottom <= {size}, got {rows!r}")
    images = torch.zeros(len(columns), 1, size, size)
    for i, col in enumerate(columns):
        if isinstance(col, bool) or not isinstance(col, int) or not 0 <= col <= size - width:
            raise ValueError(
                f"each column must be an int in [0, {size - width}] so that a stroke "
                f"of width {width} fits, got {col!r}"
            )
        images[i, 0, top:bottom, col : col + width] = 1.0
    return images


def _check_weights(
    weights: torch.Tensor | Sequence[float] | None, n: int, dtype: torch.dtype
) -> torch.Tensor:
    if weights is None:
        return torch.full((n,), 1.0 / n, dtype=dtype)
    w = torch.as_tensor(weights, dtype=dtype)
    check_tensor("weights", w, shape=(n,), low=0.0)
    if abs(float(w.sum()) - 1.0) > 1e-6:
        raise ValueError(
            f"weights must sum to 1 (they are probabilities), got {float(w.sum()):.6g}"
        )
    return w


def expected_loss(
    x_hat: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor | Sequence[float] | None = None,
    kind: str = "l2",
) -> torch.Tensor:
    """``sum_k weights[k] * loss(x_hat, targets[k])``: the loss of one prediction ``x_hat``
    (``(C, H, W)`` or ``(1, C, H, W)``) when the target is ``targets[k]`` (``(N, C, H, W)``)
    with probability ``weights[k]`` (default: equally likely). Returns a scalar."""
    check_tensor("targets", targets, ndim=(2, 4))
    check_tensor("x_hat", x_hat, ndim=(targets.ndim - 1, targets.ndim))
    single = x_hat if x_hat.ndim == targets.ndim else x_hat.unsqueeze(0)
    if single.shape[0] != 1 or single.shape[1:] != targets.shape[1:]:
        raise ValueError(
            f"x_hat must be one image shaped like targets[0] {tuple(targets.shape[1:])}, "
            f"got {tuple(x_hat.shape)}"
        )
    w = _check_weights(weights, len(targets), targets.dtype)
    return (w * reconstruction_loss(single.expand_as(targets), targets, kind)).sum()


def minimise_expected_loss(
    targets: torch.Tensor,
    weights: torch.Tensor | Sequence[float] | None = None,
    kind: str = "l2",
    steps: int = 400,
    lr: float = 0.05,
) -> torch.Tensor:
    """The single image in [0, 1] that minimises :func:`expected_loss`, found by gradient
    descent (Adam with a learning rate that decays linearly to 0, each step clipped back into
    [0, 1]), starting from 0.5 everywhere.

    ``targets``: ``(N, C, H, W)`` or ``(N, D)``; returns one image shaped like ``targets[0]``.
    """
    check_tensor("targets", targets, ndim=(2, 4), low=0.0, high=1.0)
    check_choice("kind", kind, RECONSTRUCTION_LOSSES)
    check_positive_int("steps", steps)
    check_number("lr", lr, low=0.0, low_open=True)
    w = _check_weights(weights, len(targets), targets.dtype)
    x_hat = torch.full_like(targets[0], 0.5).requires_grad_(True)
    optimizer = torch.optim.Adam([x_hat], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 - t / steps)
    for _ in range(steps):
        optimizer.zero_grad()
        expected_loss(x_hat.clamp(_EPS, 1.0 - _EPS), targets, w, kind).backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            x_hat.clamp_(0.0, 1.0)
    return x_hat.detach()


def weighted_median(
    targets: torch.Tensor, weights: torch.Tensor | Sequence[float] | None = None
) -> torch.Tensor:
    """Per-pixel (lower) weighted median of ``targets`` ``(N, ...)`` -> ``(...)``: the value
    at which the cumulative weight of the sorted values first reaches 1/2. It minimises the
    expected L1 loss; it is unique when no cumulative weight equals 1/2 exactly."""
    check_tensor("targets", targets)
    if targets.ndim < 1 or len(targets) == 0:
        raise ValueError(f"targets must have at least one entry, got shape {tuple(targets.shape)}")
    w = _check_weights(weights, len(targets), targets.dtype)
    values, order = targets.sort(dim=0)
    cumulative = w[order].cumsum(dim=0)  # (N, ...)
    first = (cumulative < 0.5 - 1e-9).sum(dim=0, keepdim=True)  # (1, ...)
    return values.gather(0, first).squeeze(0)
