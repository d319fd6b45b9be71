"""Checks for the exercises of 01_autoencoder.

References are independent of any solution: the least-squares projection onto a subspace
(``torch.linalg.lstsq``) and ``torch.nn.functional.mse_loss`` with its autograd gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)


def check_pca_reconstruct(pca_reconstruct: Callable) -> None:
    """Exercise 1.2: ``pca_reconstruct(x, mean, components) -> x_hat``, all ``(N, D)``.

    The reference is the best reconstruction ``mean + sum_k c_k v_k`` found by least squares,
    which needs no formula for the projection.
    """
    name = "Exercise 1.2"
    n, d, k = 7, 6, 3
    x = torch.rand(n, d, generator=gen(0), dtype=torch.float64) * 2 + 1.0
    components = torch.linalg.qr(torch.randn(d, k, generator=gen(1), dtype=torch.float64))[0].T
    mean = x.mean(dim=0)
    got = run_student(name, pca_reconstruct, x, mean, components)
    coef = torch.linalg.lstsq(components.T, (x - mean).T).solution  # (K, N)
    expected = (components.T @ coef).T + mean
    shape_hint = (
        f"Return reconstructions of shape (N, D) = ({n}, {d}), not the codes (N, K) = "
        f"({n}, {k}): encode with (x - mean) @ components.T, then decode with "
        "z @ components + mean."
    )
    expect_shape(name, got, (n, d), shape_hint)
    variants = {
        "You forgot to subtract the mean before projecting: the principal subspace passes "
        "through the mean, not through 0.": (x @ components.T) @ components + mean,
        "You forgot to add the mean back after projecting.": ((x - mean) @ components.T)
        @ components,
        "You projected x itself and never used the mean: centre first, then add the mean back.": (
            x @ components.T
        )
        @ components,
        "You returned x unchanged: project onto the K components.": x,
    }
    hint = matching_hint(
        got,
        variants,
        "x_hat = ((x - mean) @ components.T) @ components + mean; "
        "components has orthonormal rows, shape (K, D).",
    )
    expect_close(name, got, expected, rtol=1e-6, atol=1e-8, hint=hint)
    passed(name, f"matches the least-squares projection onto a {k}-D subspace of R^{d}")


def _tiny_autoencoder() -> nn.Module:
    torch.manual_seed(0)  # only the weights of this throw-away model
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(16, 3),
        nn.ReLU(),
        nn.Linear(3, 16),
        nn.Sigmoid(),
        nn.Unflatten(1, (1, 4, 4)),
    )


def check_autoencoder_loss(autoencoder_loss: Callable) -> None:
    """Exercise 1.1: ``autoencoder_loss(model, batch) -> scalar``, the mean squared error between
    ``model(x)`` and ``x`` itself, for ``batch = (x, labels)``; the labels must not be used.

    The reference is ``F.mse_loss(model(x), x)`` and its gradient by autograd.
    """
    name = "Exercise 1.1"
    model = _tiny_autoencoder()
    x = torch.rand(5, 1, 4, 4, generator=gen(2))
    labels = torch.tensor([3, 1, 4, 1, 5])
    got = run_student(name, autoencoder_loss, model, (x, labels))
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(f"{name}: expected a scalar torch.Tensor, got {type(got).__name__}.")
    with torch.no_grad():
        x_hat = model(x)
        expected = F.mse_loss(x_hat, x)
    if got.shape != ():
        hint = (
            "Return one number for the whole batch: average over the batch and the pixels "
            "(.mean()), not one value per example or per pixel."
        )
        raise ExerciseError(
            f"{name}: expected a scalar (shape ()), got shape {tuple(got.shape)}. {hint}"
        )
    again = run_student(name, autoencoder_loss, model, (x, labels.flip(0) + 1))
    if not torch.allclose(torch.as_tensor(again).detach(), got.detach()):
        raise ExerciseError(
            f"{name}: the loss changed when only the labels changed. An "
            "autoencoder never looks at labels: its target is x = batch[0] itself."
        )
    variants = {
        f"Your loss is {x.numel()} times too large: you summed; take the mean over batch and "
        "pixels.": F.mse_loss(x_hat, x, reduction="sum"),
        f"Your loss is {x[0].numel()} times too large: you summed over the pixels and averaged "
        "over the batch; average over both.": ((x_hat - x) ** 2).flatten(1).sum(1).mean(),
        "You returned the root mean squared error; drop the square root.": F.mse_loss(
            x_hat, x
        ).sqrt(),
    }
    hint = matching_hint(
        got,
        variants,
        "The target of an autoencoder is its input: "
        "((model(x) - x) ** 2).mean() with x = batch[0].",
    )
    expect_close(name, got, expected, rtol=1e-5, atol=1e-7, hint=hint)
    if not got.requires_grad:
        raise ExerciseError(
            f"{name}: the loss carries no gradient (requires_grad is False); do "
            "not call .detach(), .item() or torch.no_grad() inside the loss."
        )
    model.zero_grad()
    got.backward()
    grads = [
        p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()
    ]
    model.zero_grad()
    F.mse_loss(model(x), x).backward()
    for got_g, p in zip(grads, model.parameters()):
        expect_close(
            f"{name} (gradient)",
            got_g,
            p.grad,
            rtol=1e-4,
            atol=1e-7,
            hint="The loss value is right but its gradient is not: compute it from "
            "model(x) inside the function, with gradients on.",
        )
    passed(name, "mean squared error of x against itself, labels ignored, gradients flow")
