"""Building blocks for exercise checks (introduced in 01_autoencoder, used by every notebook)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch


class ExerciseError(AssertionError):
    """An exercise's answer is wrong; the message says what is off and gives a hint.

    In Jupyter a failed check shows only ``ExerciseError: <message>``: IPython asks an exception
    for :meth:`_render_traceback_` before it formats a traceback, and this one returns the
    message lines alone. A full traceback would run through the check's source, whose default
    hints can spell out the answer, and would bury the one useful line. (Plain Python and
    pytest still show the whole traceback.)
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error: its name and message, no source lines."""
        lines = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {lines[0]}", *lines[1:]]


def run_student(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the student's function; turn a missing solution into a friendly message."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise ExerciseError(
            f"{name}: not solved yet. Replace the `raise NotImplementedError` "
            "in the exercise cell above with your code, run it, then run this check "
            "again."
        ) from None


NAN_CAUSES = (
    "Likely causes: log() of 0 or of a negative number (for example a log-variance used "
    "where the variance belongs, log(logvar)); exp() of a large number overflowing to inf "
    "(exp(var) for exp(logvar)), or of a very negative one underflowing to 0 before a log or "
    "a division (0/0 is NaN; work in log space with torch.logsumexp). Print each intermediate "
    "value on a small input to find the step."
)
"""The generic explanation of a NaN/inf result (a check's shape or value hint is about
something else, so it is not shown for NaN unless it mentions NaN, inf or underflow)."""

_NAN_WORDS = re.compile(r"\b(nan|inf|infinite|underflows?|overflows?)\b", re.IGNORECASE)


def nan_message(name: str, got: torch.Tensor, hint: str = "") -> str:
    """The message for a result with NaN or inf entries: how many, and their likely cause.

    ``hint`` is appended only when it is about non-finite values (mentions NaN, inf, underflow
    or overflow); otherwise :data:`NAN_CAUSES` explains what usually produces them.
    """
    bad = int((~torch.isfinite(got)).sum())
    kinds = [
        word
        for word, mask in (("NaN", torch.isnan(got)), ("inf", torch.isinf(got)))
        if bool(mask.any())
    ]
    why = hint if _NAN_WORDS.search(hint) else NAN_CAUSES
    return (
        f"{name}: the result contains {' and '.join(kinds)} values ({bad} of {got.numel()} "
        f"entries). {why}"
    ).strip()


def expect_shape(name: str, got: Any, shape: Sequence[int], hint: str = "") -> torch.Tensor:
    """Fail unless ``got`` is a finite floating tensor of exactly ``shape``.

    ``hint`` is added to the messages about a wrong type or shape; a NaN/inf result gets
    :func:`nan_message` instead.
    """
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(
            f"{name}: expected a torch.Tensor, got {type(got).__name__}. {hint}".strip()
        )
    if tuple(got.shape) != tuple(shape):
        raise ExerciseError(
            f"{name}: expected shape {tuple(shape)}, got {tuple(got.shape)}. {hint}".strip()
        )
    if not got.is_floating_point():
        raise ExerciseError(f"{name}: expected a floating-point tensor, got {got.dtype}.")
    if not torch.isfinite(got).all():
        raise ExerciseError(nan_message(name, got, hint))
    return got


def expect_close(
    name: str,
    got: Any,
    expected: torch.Tensor,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    hint: str = "",
) -> None:
    """Fail unless ``got`` has ``expected``'s shape and values (within a relative error)."""
    got = expect_shape(name, got, expected.shape, hint)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.allclose(got, expected, rtol=rtol, atol=atol):
        err = (got - expected).abs()
        worst = int(err.argmax())
        rel = float(err.flatten()[worst] / (expected.abs().flatten()[worst] + 1e-12))
        ratio = ""
        if float(expected.abs().sum()) > 0 and float(got.abs().sum()) > 0:
            ratio = f" (sum of yours / sum expected = {float(got.sum() / expected.sum()):.4g})"
        raise ExerciseError(
            f"{name}: values differ. At flat index {worst} expected "
            f"{float(expected.flatten()[worst]):.6g}, got {float(got.flatten()[worst]):.6g} "
            f"(relative error {rel:.2g}){ratio}. {hint}".strip()
        )


def passed(name: str, detail: str = "") -> None:
    """Print the one pass line of a check."""
    print(f"✓ {name} passed" + (f": {detail}" if detail else ""))


def gen(seed: int) -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed``: each random input of a check has its
    own stream, so the checks never touch (or depend on) torch's global random state."""
    return torch.Generator().manual_seed(seed)


def matching_hint(
    got: Any,
    variants: dict[str, torch.Tensor],
    default: str,
    atol: float = 1e-4,
    rtol: float = 1e-4,
) -> str:
    """The hint of the first typical mistake whose result ``got`` reproduces, else ``default``.

    ``variants`` maps each hint to the value that mistake gives (same shape as the right
    answer); a value matches when ``torch.allclose(got, value, rtol, atol)``. The hint then goes
    to :func:`expect_close`, which only shows it when ``got`` is also wrong. This is the one way
    the checks recognise a typical mistake.
    """
    if isinstance(got, torch.Tensor):
        got = got.detach().double()
        for hint, value in variants.items():
            if got.shape == value.shape and torch.allclose(
                got, value.detach().double(), rtol=rtol, atol=atol
            ):
                return hint
    return default
