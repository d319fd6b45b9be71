"""Why the L2 loss blurs, and what L1 and cross-entropy do instead (notebook 02_l2_loss).

- :func:`shifted_strokes` builds the ambiguous targets: the same vertical stroke at a few
  horizontal positions, ``(N, 1, H, W)``.
- :func:`reconstruction_loss` is the per-example ``(B,)`` L1, L2 or binary cross-entropy, summed
  over the pixels (each one a negative log-likelihood up to a constant: Laplace, Gaussian,
  Bernoulli).
- :func:`minimise_expected_loss` finds, by gradient descent, the one image that minimises the
  expected loss over several equally plausible targets; :func:`weighted_median` is the closed
  form for L1 (the weighted mean, for L2 and cross-entropy, needs no helper).
- :func:`train_autoencoder` trains the course's ``Autoencoder`` with a chosen loss;
  :func:`grey_fraction` measures blur as the share of pixels that are neither ink nor paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lecture_utils._validate import check_choice, check_positive_int, check_same_shape, check_tensor
from lecture_utils.losses import l2_loss
from lecture_utils.models import Autoencoder
from lecture_utils.training import fit_from_seed

LOSSES = ("l1", "l2", "bce")
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


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Per-example reconstruction loss, summed over the pixels -> ``(B,)``.

    ``kind``: ``"l1"`` (sum of |x_hat - x|), ``"l2"`` (sum of (x_hat - x)^2) or ``"bce"``
    (binary cross-entropy ``-[x log x_hat + (1 - x) log(1 - x_hat)]``, which needs ``x_hat``
    and ``x`` in [0, 1]). Inputs are ``(B, C, H, W)`` or ``(B, D)``.
    """
    check_choice("kind", kind, LOSSES)
    if kind == "l2":
        return l2_loss(x_hat, x, "per_example")
    bounds = {"low": 0.0, "high": 1.0} if kind == "bce" else {}
    check_tensor("x_hat", x_hat, ndim=(2, 3, 4), **bounds)
    check_tensor("x", x, ndim=(2, 3, 4), **bounds)
    check_same_shape("x_hat", x_hat, "x", x)
    if kind == "l1":
        per_pixel = (x_hat - x).abs()
    else:
        per_pixel = F.binary_cross_entropy(x_hat, x, reduction="none")
    return per_pixel.reshape(len(x), -1).sum(dim=1)


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
    check_choice("kind", kind, LOSSES)
    check_positive_int("steps", steps)
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


def grey_fraction(images: torch.Tensor, low: float = 0.1, high: float = 0.9) -> torch.Tensor:
    """Share of each image's pixels strictly between ``low`` and ``high`` -> ``(B,)``.

    Digits are mostly ink (near 1) or paper (near 0); a blurred reconstruction has more
    pixels in between.
    """
    check_tensor("images", images, ndim=(2, 3, 4))
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    flat = images.detach().reshape(len(images), -1)
    return ((flat > low) & (flat < high)).float().mean(dim=1)


def train_autoencoder(
    x: torch.Tensor,
    kind: str = "l2",
    latent_dim: int = 16,
    hidden_dims: Sequence[int] = (256,),
    epochs: int = 5,
    lr: float = 2e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> tuple[Autoencoder, dict[str, list[float]]]:
    """Train ``Autoencoder(latent_dim, hidden_dims)`` (sigmoid output) on images ``x``
    ``(N, 1, H, W)`` with the batch mean of :func:`reconstruction_loss` of ``kind``.

    ``seed`` fixes the initial weights and the order of the batches, so models trained with
    different losses start from the same weights. Returns ``(model, history)``.
    """
    check_tensor("x", x, ndim=4, low=0.0, high=1.0)
    check_choice("kind", kind, LOSSES)

    def loss_fn(m: Autoencoder, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return reconstruction_loss(m(batch[0]), batch[0], kind).mean()

    return fit_from_seed(
        lambda: Autoencoder(latent_dim, hidden_dims, input_shape=tuple(x.shape[1:])),
        x,
        loss_fn,
        epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
    )
