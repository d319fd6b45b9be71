"""Checks for the exercises of 08_diagnosing_vaes.

- ``check_iwae_bound``: the importance-weighted bound L_S from T = k S log weights per digit,
  against a brute-force loop over the groups in float64 (no reshape), on log weights near -500
  (where exp underflows in float32), and with the typical mistakes named: the ELBO (a plain
  mean of log weights), one group of all T weights, a missing -log S, interleaved groups;
- ``check_active_units``: active units from posterior means, on codes built so that each
  typical mistake (the standard deviation instead of the variance, squares that are not
  centred, the variance across dimensions) gives a different answer;
- ``check_mi_decomposition``: I(x; z) and KL(q(z) || p(z)) from a density on a grid, against
  the closed forms of a population whose answer is known: codes mu_n ~ N(0, a^2 I) with
  q(z|x_n) = N(mu_n, s^2 I) mix to q(z) = N(0, (a^2 + s^2) I), so
  I(x; z) = K/2 log((a^2 + s^2) / s^2); the grid holds exact zeros (q log q must be 0 there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)

IWAE = "Exercise 8.1 (IWAE bound)"
ACTIVE = "Exercise 8.3 (active units)"
MI = "Exercise 8.2 (mutual information)"


# ----------------------------------------------------------------------------- 8.1
def _grouped_reference(log_w: torch.Tensor, s: int) -> torch.Tensor:
    """L_S by a plain loop over consecutive groups of S, in float64: ``(T, B)`` -> ``(B,)``."""
    log_w = log_w.double()
    estimates = []
    for start in range(0, log_w.shape[0], s):
        group = log_w[start : start + s]  # (S, B)
        top = group.max(0).values
        estimates.append(top + torch.log(torch.exp(group - top).sum(0)) - math.log(s))
    return torch.stack(estimates).mean(0)


def _iwae_inputs() -> torch.Tensor:
    """Log weights ``(12, 3)`` near -500, spread by a few nats, as a digit's would be."""
    base = torch.tensor([-480.0, -520.0, -505.0])
    return base + 3.0 * torch.randn(12, 3, generator=gen(81))


def check_iwae_bound(fn: Callable[[torch.Tensor, int], Any]) -> None:
    """``fn(log_w, S)``: ``(T, B)`` log weights, T a multiple of S -> L_S estimates ``(B,)``."""
    log_w = _iwae_inputs()
    for s in (4, 1, 12):
        got = run_student(IWAE, fn, log_w.clone(), s)
        expected = _grouped_reference(log_w, s)
        got = expect_shape(
            IWAE,
            got,
            (3,),
            "Return one estimate per digit (column): shape (B,). If the result is -inf or "
            "NaN, exp(log_w) underflowed: log weights near -500 have weights of about "
            "e^-500, 0 in float32; average them in log space with torch.logsumexp.",
        )
        t, lw = log_w.shape[0], log_w.double()
        variants = {
            "That is the plain mean of the log weights, the ELBO (L_1): L_S averages the "
            "weights themselves within each group of S, in log space.": lw.mean(0),
            "That is one estimate from all T weights (L_T): cut them into T/S groups of S "
            "consecutive weights, take log (1/S) sum exp in each group, then average the "
            "groups' estimates.": torch.logsumexp(lw, 0) - math.log(t),
            "Subtract log S inside each group: log (1/S) sum_s w_s = logsumexp - log S.": (
                _grouped_reference(log_w, s) + math.log(s)
            ),
            "Your groups take every (T/S)-th weight; use consecutive groups (the first S "
            "weights, the next S, ...), e.g. log_w.reshape(T // S, S, B).": (
                _grouped_reference(log_w.reshape(s, t // s, 3).transpose(0, 1).reshape(t, 3), s)
            ),
        }
        hint = matching_hint(
            got,
            {k: v for k, v in variants.items() if not torch.allclose(v, expected, atol=1e-3)},
            "L_S = mean over the T/S consecutive groups of (logsumexp of the group's S log "
            "weights - log S).",
        )
        expect_close(IWAE, got, expected, rtol=0, atol=1e-3, hint=f"(S = {s}) {hint}")
    passed(IWAE, "L_S for S = 1, 4 and 12 from 12 log weights near -500 per digit")


# ----------------------------------------------------------------------------- 8.2
def _active_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means ``(400, 5)`` with known activity and the expected mask ``(5,)``."""
    g = gen(82)
    n = 400
    z = torch.randn(n, 5, generator=g)
    z = (z - z.mean(0)) / z.std(0)  # every column: mean 0, variance exactly 1
    mu = torch.stack(
        [
            1.2 * z[:, 0],  # active: variance 1.44
            2.0 + 0.001 * z[:, 1],  # inactive, far from 0: its mean square is about 4
            0.063 * z[:, 2],  # inactive: variance 0.004, but standard deviation 0.063
            0.7 * z[:, 3] - 1.0,  # active: variance 0.49
            1e-3 * z[:, 4],  # inactive
        ],
        dim=1,
    )
    return mu, torch.tensor([True, False, False, True, False])


def check_active_units(fn: Callable[[torch.Tensor, float], Any]) -> None:
    """``fn(mu, threshold)``: posterior means ``(N, K)`` -> bool mask ``(K,)`` of the
    dimensions with Var_x mu_k(x) > threshold."""
    mu, expected = _active_inputs()
    got = run_student(ACTIVE, fn, mu.clone(), 0.01)
    if isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.ndim == 0):
        raise ExerciseError(
            f"{ACTIVE}: return the mask of active dimensions, a bool tensor of shape (K,) = "
            f"(5,), not a count (got {got!r}); count them with mask.sum() afterwards."
        )
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(f"{ACTIVE}: expected a torch.Tensor, got {type(got).__name__}.")
    if tuple(got.shape) == (len(mu),):
        raise ExerciseError(
            f"{ACTIVE}: expected shape (5,), one entry per latent dimension, got "
            f"{tuple(got.shape)}, one per digit: take the variance across digits, dim=0."
        )
    if tuple(got.shape) != (5,):
        raise ExerciseError(f"{ACTIVE}: expected shape (5,), got {tuple(got.shape)}.")
    if got.dtype != torch.bool:
        raise ExerciseError(
            f"{ACTIVE}: expected a bool mask (variance > threshold), got dtype {got.dtype}; "
            "compare the variances with the threshold."
        )
    if torch.equal(got, expected):
        passed(ACTIVE, "2 of 5 dimensions active, the near-constant ones rejected")
        return
    if bool(got[2]) and not bool(got[1]):
        hint = (
            "Dimension 3 varies with standard deviation 0.063 but variance 0.004 < 0.01: "
            "compare the *variance* Var_x mu_k(x) with the threshold, not the standard deviation."
        )
    elif bool(got[1]):
        hint = (
            "Dimension 2 is almost constant at 2.0; it is not active. Centre before squaring: "
            "the variance is the mean of (mu_k - mean_k)^2, not of mu_k^2."
        )
    else:
        hint = "Active means Var over the digits (dim=0) of mu_k greater than the threshold."
    raise ExerciseError(f"{ACTIVE}: expected {expected.tolist()}, got {got.tolist()}. {hint}")


# ----------------------------------------------------------------------------- 8.3
def _mi_inputs(
    a2: float = 1.5, s2: float = 0.25, h: float = 0.05, half_width: float = 12.0
) -> tuple[torch.Tensor, torch.Tensor, float, float, float, float]:
    """A grid of q(z) = N(0, v I) with v = a2 + s2 (exact zeros where it is below 1e-30), log p
    on it, the cell area, the mean entropy of the components N(mu_n, s2 I), and the closed-form
    I(x; z) and KL(q(z) || p(z))."""
    v = a2 + s2
    axis = torch.arange(-half_width + h / 2, half_width, h, dtype=torch.float64)
    r2 = axis[None] ** 2 + axis[:, None] ** 2
    q = torch.exp(-0.5 * r2 / v) / (2 * math.pi * v)
    q = torch.where(q < 1e-30, torch.zeros_like(q), q)  # underflowed corners
    log_p = -0.5 * r2 - math.log(2 * math.pi)
    cond_entropy = 1.0 + math.log(2 * math.pi) + math.log(s2)  # K/2 (1 + log 2 pi s2), K = 2
    info = math.log(v / s2)  # K/2 log(v / s2)
    kl = v - 1.0 - math.log(v)  # K/2 (v - 1 - log v)
    return q, log_p, h * h, cond_entropy, info, kl


def _as_number(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, (int, float)):
        raise ExerciseError(
            f"{MI}: {name} must be a number (a float or a one-element tensor), got "
            f"{type(value).__name__}."
        )
    if not math.isfinite(value):
        raise ExerciseError(
            f"{MI}: {name} is {value}. The grid has cells where q = 0 exactly, and "
            "0 * log 0 is NaN in floating point; the term q log q is 0 there (clamp q before "
            "the log, e.g. q.clamp_min(1e-300).log(), or keep only the cells with q > 0)."
        )
    return float(value)


def check_mi_decomposition(fn: Callable[..., Any]) -> None:
    """``fn(q, log_p, cell_area, cond_entropy)`` -> ``(I(x; z), KL(q(z) || p(z)))``: ``q`` and
    ``log_p`` are ``(G, G)`` grids, ``cell_area`` and ``cond_entropy`` numbers."""
    q, log_p, area, cond_entropy, info, kl = _mi_inputs()
    got = run_student(MI, fn, q.clone(), log_p.clone(), area, cond_entropy)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseError(
            f"{MI}: return two numbers, (mutual_information, marginal_kl); got "
            f"{type(got).__name__}."
        )
    got_info, got_kl = _as_number("the mutual information", got[0]), _as_number("the KL", got[1])
    entropy_q = 1.0 + math.log(2 * math.pi) + math.log(1.75)
    tol = 1e-3
    if abs(got_info - entropy_q) < tol:
        raise ExerciseError(
            f"{MI}: your I(x; z) = {got_info:.4f} is the entropy H(q(z)) itself. Subtract the "
            "mean entropy of the digits' own posteriors, E_x H(q(z|x)) = cond_entropy."
        )
    if abs(got_info * area - info) < tol or abs(got_kl * area - kl) < tol:
        raise ExerciseError(
            f"{MI}: your values are 1/cell_area = {1 / area:.0f} times too large: a sum over "
            "the grid becomes an integral only when each term is multiplied by the cell's area."
        )
    if abs(got_kl + kl) < tol:
        raise ExerciseError(
            f"{MI}: your KL is {got_kl:.4f}, below 0: KL(q || p) = sum q (log q - log p) h^2; "
            "the signs are swapped."
        )
    expect_close(
        MI,
        torch.tensor([got_info, got_kl]),
        torch.tensor([info, kl], dtype=torch.float64),
        rtol=0,
        atol=tol,
        hint="I(x; z) = -sum q log q * cell_area - cond_entropy; KL(q(z) || p(z)) = "
        "sum q (log q - log p) * cell_area (weighted by q, the first argument of the KL). "
        f"This grid's answer: I = K/2 log((a^2 + s^2)/s^2) = {info:.4f}.",
    )
    passed(
        MI,
        f"I(x; z) = {got_info:.4f} and KL(q(z) || p(z)) = {got_kl:.4f} nats, as the closed "
        "forms give",
    )
