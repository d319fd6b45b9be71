"""Checks for the exercises of 02_l2_loss.

References are independent of any solution: ``torch.nn.functional.mse_loss`` with
``reduction="none"``, the gradient of the batch loss by autograd, and the log-density of
``torch.distributions.Normal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.distributions import Normal

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)


def _shape_hint(got: object, batch: int, image_shape: tuple[int, ...], what: str) -> str:
    """Explain a wrong shape of a per-example result that should be ``(batch,)``."""
    shape = tuple(getattr(got, "shape", ()))
    if not isinstance(got, torch.Tensor):
        return f"Return a tensor of shape ({batch},), {what}."
    if shape == ():
        return (
            f"You returned one number for the whole batch; return one per example, shape "
            f"({batch},): reduce over every dimension except dim 0, the batch."
        )
    if shape[:1] == (batch,) and math.prod(shape[1:]) == 1:
        return f"Drop the extra dimensions (no keepdim=True): the shape must be ({batch},)."
    if shape[:1] == (batch,):
        return (
            f"You did not reduce over all the pixels of an image {image_shape}: use "
            f".flatten(1).sum(dim=1) or .sum(dim=tuple(range(1, x.ndim)))."
        )
    return f"The result must have one entry per example, shape ({batch},), {what}."


def check_per_example_l2(per_example_l2: Callable) -> None:
    """Exercise 2.1: ``per_example_l2(x_hat, x) -> (B,)``, the squared error of each example
    summed over its pixels, for images ``(B, C, H, W)`` or flat ``(B, D)``.

    The reference is ``F.mse_loss(x_hat, x, reduction="none")`` summed over each example.
    """
    name = "Exercise 2.1"
    cases = [torch.rand(5, 1, 4, 4, generator=gen(0)), torch.rand(3, 7, generator=gen(1))]
    for x in cases:
        x_hat = torch.rand(x.shape, generator=gen(2)).requires_grad_(True)
        try:
            got = run_student(name, per_example_l2, x_hat, x)
        except (IndexError, RuntimeError) as err:
            raise ExerciseError(
                f"{name}: your function failed on inputs of shape {tuple(x.shape)} "
                f"({type(err).__name__}: {err}). It must work for any number of "
                "dimensions: flatten each example first, "
                ".reshape(len(x), -1), then sum over dim 1."
            ) from err
        b, image_shape = len(x), tuple(x.shape[1:])
        expect_shape(
            name, got, (b,), _shape_hint(got, b, image_shape, "summed over that example's pixels")
        )
        with torch.no_grad():
            diff = x_hat - x
            expected = F.mse_loss(x_hat, x, reduction="none").flatten(1).sum(dim=1)
        d = x[0].numel()
        variants = {
            f"Your values are {d} times too small: you averaged over the {d} pixels of an image; "
            "sum over them instead.": expected / d,
            "You returned the length ||x_hat - x||, not its square: drop the square root.": expected.sqrt(),
            "You summed |x_hat - x| (the L1 loss); square the differences instead.": diff.abs()
            .flatten(1)
            .sum(dim=1),
            "You summed the differences without squaring them: positive and negative errors "
            "cancel. Square them first.": diff.flatten(1).sum(dim=1),
            "Your values are half the right ones: the L2 loss has no factor 1/2 here.": expected
            / 2,
        }
        hint = matching_hint(
            got,
            variants,
            "Square the differences (x_hat - x) ** 2, then sum "
            "over every dimension except the batch dimension 0.",
        )
        expect_close(
            name,
            got,
            expected,
            rtol=1e-5,
            atol=1e-6,
            hint=f"{hint} (Inputs of shape {tuple(x.shape)}.)",
        )
        if not got.requires_grad:
            raise ExerciseError(
                f"{name}: the result carries no gradient (requires_grad is False); "
                "do not call .detach(), .item(), .numpy() or torch.no_grad()."
            )
    passed(
        name,
        "one squared error per example, summed over the pixels, for (B, C, H, W) and (B, D) inputs",
    )


def _decoder_case(seed: int, b: int = 6, d: int = 5, k: int = 3):
    """A linear decoder x_hat = z @ W.T + b with random W (D, K), b (D,), codes z (B, K), data x."""
    w = torch.randn(d, k, generator=gen(seed), dtype=torch.float64)
    bias = torch.randn(d, generator=gen(seed + 1), dtype=torch.float64)
    z = torch.randn(b, k, generator=gen(seed + 2), dtype=torch.float64)
    x = torch.rand(b, d, generator=gen(seed + 3), dtype=torch.float64)
    return w, bias, z, x


def _autograd_weight_gradient(w, bias, z, x) -> torch.Tensor:
    """dL/dW of L = mean over the batch of ||z_n W^T + b - x_n||^2, by autograd."""
    w = w.detach().clone().requires_grad_(True)
    loss = ((z @ w.T + bias - x) ** 2).sum(dim=1).mean()
    (grad,) = torch.autograd.grad(loss, w)
    return grad


def check_l2_gradient(l2_weight_gradient: Callable) -> None:
    """Exercise 2.2: ``l2_weight_gradient(W, b, z, x) -> dL/dW`` of shape ``(D, K)`` for the
    loss ``L = (1/B) sum_n ||W z_n + b - x_n||^2`` of a linear decoder.

    The reference is autograd on that loss, computed here from scratch.
    """
    name = "Exercise 2.2"
    for seed, (b, d, k) in ((0, (6, 5, 3)), (10, (4, 8, 2))):
        w, bias, z, x = _decoder_case(seed, b, d, k)
        got = run_student(name, l2_weight_gradient, w.clone(), bias.clone(), z.clone(), x.clone())
        expected = _autograd_weight_gradient(w, bias, z, x)
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (k, d):
            raise ExerciseError(
                f"{name}: expected shape ({d}, {k}) like W, got ({k}, {d}). "
                "The gradient has the shape of W: transpose your result, "
                "(2 / B) * r.T @ z with the residuals r of shape (B, D)."
            )
        expect_shape(
            name, got, (d, k), f"The gradient dL/dW has the shape of W, (D, K) = ({d}, {k})."
        )
        variants = {
            "Your gradient is half the right one: d/du u^2 = 2u, keep the factor 2.": expected / 2,
            "Your gradient has the wrong sign: with r = x_hat - x the gradient is +(2/B) r^T z; "
            "did you use x - x_hat?": -expected,
            f"Your gradient is B = {b} times too large: the loss is a mean over the batch, "
            "so divide the sum over the examples by B.": expected * b,
            f"Your gradient is D = {d} times too small: the loss sums over the pixels and "
            "averages over the batch only.": expected / d,
            "You left out the bias b: the residual is x_hat - x = z W^T + b - x.": 2.0
            / b
            * (z @ w.T - x).T
            @ z,
        }
        hint = matching_hint(
            got,
            variants,
            "dL/dW = (2/B) * sum_n (x_hat_n - x_n) z_n^T "
            "= (2/B) * r.T @ z with r = z @ W.T + b - x of shape (B, D).",
        )
        expect_close(name, got, expected, rtol=1e-6, atol=1e-9, hint=hint)
    passed(name, "matches autograd for two linear decoders")


def check_gaussian_nll(gaussian_nll: Callable) -> None:
    """Exercise 2.3: ``gaussian_nll(x_hat, x, sigma) -> (B,)``, the negative log-density of
    ``x`` under ``N(x_hat, sigma^2 I)``, summed over the pixels, with ``sigma`` a float.

    The reference is ``-torch.distributions.Normal(x_hat, sigma).log_prob(x)`` summed.
    """
    name = "Exercise 2.3"
    x = torch.rand(4, 1, 3, 3, generator=gen(0), dtype=torch.float64)
    x_hat = torch.rand(4, 1, 3, 3, generator=gen(1), dtype=torch.float64)
    d = x[0].numel()
    for sigma in (0.3, 2.0):
        got = run_student(name, gaussian_nll, x_hat, x, sigma)
        expect_shape(
            name,
            got,
            (len(x),),
            _shape_hint(got, len(x), tuple(x.shape[1:]), "summed over that example's pixels"),
        )
        expected = -Normal(x_hat, sigma).log_prob(x).flatten(1).sum(dim=1)
        sq = ((x_hat - x) ** 2).flatten(1).sum(dim=1)
        const = 0.5 * math.log(2 * math.pi * sigma**2)
        variants = {
            "You returned the log-likelihood; the negative log-likelihood has the opposite sign.": -expected,
            f"You left out the normalising constant: add (1/2) log(2 pi sigma^2) for each of the "
            f"{d} pixels.": sq / (2 * sigma**2),
            f"You added the constant (1/2) log(2 pi sigma^2) once per image; it belongs to every "
            f"one of the {d} pixels.": sq / (2 * sigma**2) + const,
            "You divided the squared error by 2 sigma instead of 2 sigma^2 (sigma is the standard "
            "deviation, sigma^2 the variance).": sq / (2 * sigma) + d * const,
            "You used log(2 pi sigma) instead of log(2 pi sigma^2) in the constant.": sq
            / (2 * sigma**2)
            + d * 0.5 * math.log(2 * math.pi * sigma),
            "The squared error needs a factor 1/2: ||x - x_hat||^2 / (2 sigma^2).": sq / sigma**2
            + d * const,
            f"Your values are {d} times too small: sum over the pixels, do not average.": expected
            / d,
        }
        hint = matching_hint(
            got,
            variants,
            "-log N(x; x_hat, sigma^2 I) = ||x - x_hat||^2 / "
            "(2 sigma^2) + (D/2) log(2 pi sigma^2), D pixels per example.",
        )
        expect_close(
            name, got, expected, rtol=1e-6, atol=1e-8, hint=f"{hint} (Here sigma = {sigma}.)"
        )
    passed(name, "matches torch.distributions.Normal for sigma = 0.3 and 2")
