"""Walking around a latent space (introduced in 07_latent_explorer).

- ``lerp`` / ``slerp``: straight and spherical paths between two codes (``PATHS`` names them);
- ``latent_grid``: a grid over the 2-D latent plane placed through the normal's inverse CDF,
  so that every cell holds the same prior mass, or spread evenly over a given extent;
- ``encode_dataset``: codes of many images (the autoencoder's z, the VAE's posterior mean);
- ``slant_direction``: the latent direction along which a digit's slant
  (``images.image_slant``) grows fastest (a least-squares fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import torch
from torch import nn

from lecture_utils._validate import (
    check_int,
    check_number,
    check_positive_int,
    check_same_shape,
    check_tensor,
)


def _check_path(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    check_tensor("z0", z0, ndim=(1, 2))
    check_tensor("z1", z1, ndim=(1, 2))
    check_same_shape("z0", z0, "z1", z1)
    check_tensor("t", t, ndim=1)
    return t.to(z0.dtype).reshape(-1, *([1] * z0.ndim))


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The straight line ``(1 - t) z0 + t z1``.

    ``z0``, ``z1``: ``(K,)`` or ``(B, K)``; ``t``: ``(T,)`` -> ``(T, K)`` or ``(T, B, K)``.
    """
    t = _check_path(z0, z1, t)
    return (1.0 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for generative models).

    ``sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1`` with ``W`` the angle between z0
    and z1. For codes of equal norm the path stays on their sphere, where most of a
    high-dimensional Gaussian's mass lies; the straight line cuts through the inside.
    Nearly parallel codes fall back to ``lerp``; opposite codes have no unique great circle and
    raise ValueError. Shapes as in :func:`lerp`.
    """
    t = _check_path(z0, z1, t)
    check_number("eps", eps, low=0.0, low_open=True)
    n0, n1 = z0.norm(dim=-1, keepdim=True), z1.norm(dim=-1, keepdim=True)
    if bool((n0 < eps).any() or (n1 < eps).any()):
        raise ValueError(
            "slerp needs non-zero codes (the angle to a zero vector is undefined); "
            "use lerp for paths through the origin"
        )
    cos = ((z0 * z1).sum(dim=-1, keepdim=True) / (n0 * n1)).clamp(-1.0, 1.0)
    if bool((cos < -1.0 + eps).any()):
        raise ValueError(
            "z0 and z1 point in opposite directions: no unique great circle joins "
            "them; perturb one code or use lerp"
        )
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    parallel = sin < eps
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    a = torch.where(parallel, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    b = torch.where(parallel, t.expand_as(a), torch.sin(t * omega) / safe)
    return a * z0 + b * z1


#: the paths between two codes, by name (the interpolation views of notebook 07 offer both)
PATHS = MappingProxyType({"linear": lerp, "spherical": slerp})


def _check_extent(extent: object) -> tuple[float, float]:
    if isinstance(extent, (str, bytes)) or not isinstance(extent, Sequence) or len(extent) != 2:
        raise TypeError(f"extent must be a pair (lo, hi) of numbers, got {extent!r}")
    lo, hi = check_number("extent[0]", extent[0]), check_number("extent[1]", extent[1])
    if not lo < hi:
        raise ValueError(
            f"extent must be (lo, hi) with lo < hi, got {tuple(extent)}; for example (-3, 3)"
        )
    return lo, hi


def latent_grid(
    n: int,
    low: float | None = None,
    high: float | None = None,
    *,
    extent: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Points of an ``n x n`` grid on the plane, ``(n * n, 2)``, row by row.

    By default each axis is ``Phi^-1`` of ``n`` evenly spaced probabilities in ``[low, high]``
    (0.05 and 0.95 unless given; Phi the standard normal CDF), so that each cell covers the
    same mass of the prior N(0, I) (Kingma & Welling 2014, fig. 4). With ``extent=(lo, hi)``
    each axis is instead ``n`` evenly spaced values in ``[lo, hi]``, for a model with no prior,
    such as the autoencoder, whose codes can lie anywhere (``low``/``high`` then do not apply).
    Rows go from high z_2 (top) to low z_2 (bottom) and columns from low to high z_1, so the
    grid reads like a plot of the plane. ``n >= 2``.
    """
    check_int("n", n)
    if n < 2:
        raise ValueError(f"n must be >= 2 (a grid needs two points per axis), got {n}")
    if extent is not None:
        if low is not None or high is not None:
            raise ValueError(
                "give either low/high (a grid through the normal's inverse CDF) or extent "
                f"(an even grid), not both; got low={low}, high={high}, extent={extent}"
            )
        lo, hi = _check_extent(extent)
        q = torch.linspace(lo, hi, n)
    else:
        low = 0.05 if low is None else check_number("low", low)
        high = 0.95 if high is None else check_number("high", high)
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"need 0 < low < high < 1 (probabilities), got low={low}, high={high}")
        p = torch.linspace(low, high, n, dtype=torch.float64)
        q = torch.distributions.Normal(0.0, 1.0).icdf(p).float()
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


@torch.no_grad()
def encode_dataset(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Codes ``(N, K)`` of ``images`` ``(N, 1, 28, 28)`` (or flat ``(N, 784)``), ``batch_size`` at a
    time: ``encode(x)`` of an autoencoder, or the posterior mean ``mu`` of a VAE (its ``encode``
    returns ``(mu, logvar)``). The model's training mode is restored afterwards."""
    if not (isinstance(model, nn.Module) and callable(getattr(model, "encode", None))):
        raise TypeError(
            f"model must be an nn.Module with an encode method (Autoencoder or VAE), got "
            f"{type(model).__name__}"
        )
    check_tensor("images", images, ndim=(2, 4))
    if len(images) == 0:
        raise ValueError(f"images is empty (shape {tuple(images.shape)}): give at least one image")
    check_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    parts = []
    try:
        for start in range(0, len(images), batch_size):
            out = model.encode(images[start : start + batch_size])
            parts.append(out[0] if isinstance(out, tuple) else out)
    finally:
        model.train(was_training)
    return torch.cat(parts)


def slant_direction(z: torch.Tensor, slant: torch.Tensor) -> torch.Tensor:
    """The unit direction ``(K,)`` in latent space along which the slant grows fastest.

    Fits ``slant ~ w . z + b`` by least squares on the codes ``z`` ``(N, K)`` and returns
    ``w / ||w||``: moving a code along it makes the decoded digit lean further right.
    """
    check_tensor("z", z, ndim=2)
    check_tensor("slant", slant, shape=(len(z),))
    if len(z) <= z.shape[1]:
        raise ValueError(
            f"need more codes than latent dimensions to fit a direction, got "
            f"{len(z)} codes of size {z.shape[1]}"
        )
    zc = (z - z.mean(dim=0)).double()
    sc = (slant - slant.mean()).double().unsqueeze(1)
    w = torch.linalg.lstsq(zc, sc).solution.squeeze(1)
    norm = w.norm()
    if norm == 0:
        raise ValueError("the slant does not vary linearly with z: no direction found")
    return (w / norm).to(z.dtype)
