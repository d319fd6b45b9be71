"""Input checks shared by the public helpers: each raises a message that names the argument,
what it got and what it expects."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

#: ``hint=`` for tensors a caller passes in (images, labels, codes): the data is to blame.
DATA_HINT = "check the data passed in (torch.isfinite({name}).all() finds the bad entries)"
#: ``hint=`` for tensors a model produced (codes, logits, features): training is to blame.
MODEL_HINT = (
    "they come from a model: if it was being trained, the training diverged "
    "(a too-large learning rate is common)"
)


def _describe(value: object, limit: int = 40) -> str:
    """``"int 3"``, ``"str '0.1'"``: a value's type and a short repr, for messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


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
    hint: str | None = None,
) -> torch.Tensor:
    """Check ``x`` and return it; raise TypeError/ValueError with a clear message otherwise.

    ``shape`` entries that are ``None`` match any size; ``low``/``high`` bound the values
    (inclusive). ``hint`` ends the message about NaN or infinite values: :data:`DATA_HINT` for
    inputs, :data:`MODEL_HINT` for a model's outputs (``{name}`` is replaced by ``name``);
    without it the message only says to check the step that produced ``x``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; use {name}.float()"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                f"got shape {tuple(x.shape)}"
            )
    if shape is not None:
        ok = x.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, x.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    x_ = x.detach()
    if x.is_floating_point() and finite and x.numel() and not torch.isfinite(x_).all():
        bad = int((~torch.isfinite(x_)).sum())
        advice = "check the step that produced it" if hint is None else hint.format(name=name)
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); {advice}")
    if low is not None and x.numel() and float(x_.min()) < low:
        raise ValueError(f"{name} must be >= {low}, got a minimum of {float(x_.min()):.4g}")
    if high is not None and x.numel() and float(x_.max()) > high:
        raise ValueError(f"{name} must be <= {high}, got a maximum of {float(x_.max()):.4g}")
    return x


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise ValueError when two tensors differ in shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        got = repr(value) if isinstance(value, str) else _describe(value)
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {got}")
    return value


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (a Python or NumPy int, not a bool) in
    ``[low, high]``, else raise TypeError (not an integer) or ValueError (out of range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise."""
    return check_int(name, value, low=1)


def check_nonneg_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 0, else raise."""
    return check_int(name, value, low=0)


def check_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number (a Python or NumPy int or
    float; not a bool, a string or a tensor) within the bounds; ``low_open``/``high_open``
    exclude the bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value:g}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {value:g}")
    return value


def check_int_sequence(name: str, value: object, *, low: int = 1) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ints >= ``low`` (a list or tuple, possibly empty)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        advice = f"; for a single size write ({value!r},)" if isinstance(value, int) else ""
        raise TypeError(f"{name} must be a list or tuple of ints, got {_describe(value)}{advice}")
    return tuple(check_int(f"{name}[{i}]", item, low=low) for i, item in enumerate(value))


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is True or False (not 0/1, not a string), else raise."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return value


def check_generator(name: str, value: object) -> torch.Generator:
    """Return ``value`` if it is a ``torch.Generator``, else raise with how to make one."""
    if not isinstance(value, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator, got {_describe(value)}; "
            f"make one with torch.Generator().manual_seed(0)"
        )
    return value
