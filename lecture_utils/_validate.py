"""Input checks shared by the public helpers: each raises a message that names the argument,
what it got and what it expects."""
from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(
    name: str,
    x: object,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    floating: bool = True,
    finite: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> torch.Tensor:
    """Check ``x`` and return it; raise TypeError/ValueError with a clear message otherwise.

    ``shape`` entries that are ``None`` match any size; ``low``/``high`` bound the values
    (inclusive).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}; "
                        f"convert it with torch.as_tensor({name}, dtype=torch.float32)")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
                        f"use {name}.float()")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                             f"got shape {tuple(x.shape)}")
    if shape is not None:
        ok = x.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, x.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    x_ = x.detach()
    if x.is_floating_point() and finite and x.numel() and not torch.isfinite(x_).all():
        bad = int((~torch.isfinite(x_)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); "
                         "check the step that produced it (a too-large learning rate is common)")
    if low is not None and x.numel() and float(x_.min()) < low:
        raise ValueError(f"{name} must be >= {low}, got a minimum of {float(x_.min()):.4g}")
    if high is not None and x.numel() and float(x_.max()) > high:
        raise ValueError(f"{name} must be <= {high}, got a maximum of {float(x_.max()):.4g}")
    return x


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise ValueError when two tensors differ in shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value  # type: ignore[return-value]
