"""Checks for the exercises of 07_latent_explorer.

- ``check_slerp``: spherical interpolation, against a rotation in the plane of the two codes
  (built by Gram-Schmidt, with the angle from atan2), not against the slerp formula: on a
  quarter circle, then on codes of different norms at 30 and 150 degrees, where sin Ω = 0.5
  (at right angles sin Ω = 1 hides a missing division by sin Ω);
- ``check_slant_direction``: the latent direction that changes a digit's slant, on synthetic
  codes whose true direction is known, and against the normal equations solved directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lecture_utils.checks.core import ExerciseError, expect_close, expect_shape, passed, run_student

SLERP = "Exercise 7.1 (slerp)"
SLANT = "Exercise 7.2 (slant direction)"


def rotation_reference(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The spherical path without the slerp formula: ``(K,)``, ``(K,)``, ``(T,)`` -> ``(T, K)``.

    Rotates the unit vector of z0 towards that of z1 at constant speed in their plane (basis by
    Gram-Schmidt, angle from atan2), expresses each point in the (z0, z1) pair by least squares
    and scales each part by its end's norm, as slerp does. In float64; the test of
    ``latent.slerp`` uses it too.
    """
    z0, z1 = z0.double(), z1.double()
    r0, r1 = z0.norm(), z1.norm()
    u0, u1 = z0 / r0, z1 / r1
    e2 = u1 - (u1 @ u0) * u0
    e2 = e2 / e2.norm()
    omega = math.atan2(float(u1 @ e2), float(u1 @ u0))
    basis = torch.stack([u0, u1], dim=1)
    rows = []
    for s in t.double().tolist():
        target = math.cos(s * omega) * u0 + math.sin(s * omega) * e2  # a unit vector on the arc
        a, b = torch.linalg.lstsq(basis, target[:, None]).solution[:, 0]
        rows.append(a * r0 * u0 + b * r1 * u1)
    return torch.stack(rows)


def check_slerp(slerp: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``slerp(z0, z1, t)``: ``(K,)``, ``(K,)``, ``(T,)`` -> ``(T, K)``."""
    # 1. a quarter circle in the plane: the answer is cos/sin of t * 90 degrees
    t = torch.tensor([0.0, 1 / 3, 0.5, 1.0])
    got = run_student(SLERP, slerp, torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0]), t)
    got = expect_shape(SLERP, got, (4, 2), "Return one row per value of t: shape (T, K).")
    if torch.allclose(got[0], torch.tensor([0.0, 2.0]), atol=1e-4):
        raise ExerciseError(
            f"{SLERP}: at t = 0 the path must start at z0 = (2, 0), got "
            f"{got[0].tolist()}. Did you swap the weights sin((1-t)Ω)/sin Ω (for "
            "z0) and sin(tΩ)/sin Ω (for z1)?"
        )
    for k, end, name in ((0, (2.0, 0.0), "start at z0"), (-1, (0.0, 2.0), "end at z1")):
        if not torch.allclose(got[k], torch.tensor(end), atol=1e-4):
            raise ExerciseError(
                f"{SLERP}: the path must {name} = {end} (t = {float(t[k]):g}), got "
                f"{[round(v, 4) for v in got[k].tolist()]}. Weight z0 and z1 "
                "themselves (not their unit vectors), so that the norms are kept."
            )
    norms = got.norm(dim=1)
    if abs(float(norms[2]) - math.sqrt(2.0)) < 1e-3:
        raise ExerciseError(
            f"{SLERP}: at t = 0.5 between (2, 0) and (0, 2) your point has norm "
            f"{float(norms[2]):.4f} = √2: that is the straight line (lerp). The "
            "spherical path keeps the norm 2."
        )
    angles = torch.tensor([0.0, 30.0, 45.0, 90.0]) * math.pi / 180
    expected = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    expect_close(
        SLERP,
        got,
        expected,
        rtol=1e-4,
        atol=1e-4,
        hint="From (2, 0) to (0, 2) the path is the quarter circle of radius 2, at a "
        "constant angular speed. Take Ω from the unit vectors: cos Ω = z0·z1 / "
        "(|z0| |z1|), Ω = arccos(...) in radians.",
    )
    # 2. and 3. codes of different norms at angles far from 90 degrees, where sin Ω != 1
    for z0, z1, what in _slerp_cases():
        t = torch.linspace(0.0, 1.0, 6)
        got = run_student(SLERP, slerp, z0.clone(), z1.clone(), t)
        got = expect_shape(SLERP, got, (6, len(z0)), "Return one row per value of t: shape (T, K).")
        ref = rotation_reference(z0, z1, t).float()
        sin_omega = math.sin(_angle(z0, z1))
        if torch.allclose(got, sin_omega * ref, rtol=1e-4, atol=1e-4):
            raise ExerciseError(
                f"{SLERP}: on {what} (sin Ω = {sin_omega:.3f}) your path is sin Ω times the "
                "right one: divide both weights by sin Ω, sin((1-t)Ω)/sin Ω and "
                "sin(tΩ)/sin Ω. (The quarter circle passed because there sin Ω = 1.)"
            )
        expect_close(
            SLERP,
            got,
            ref,
            rtol=1e-4,
            atol=1e-4,
            hint=f"This case is {what}. Take Ω from the unit vectors (cos Ω = z0·z1 / "
            "(|z0| |z1|)) and weight z0 and z1 themselves by sin((1-t)Ω)/sin Ω and "
            "sin(tΩ)/sin Ω.",
        )
    passed(SLERP, "on the quarter circle and on codes of different norms at 30 and 150 degrees")


def _angle(z0: torch.Tensor, z1: torch.Tensor) -> float:
    """The angle between two codes in radians (float64, atan2: accurate near 0 and 180 degrees)."""
    z0, z1 = z0.double(), z1.double()
    cos = float(z0 @ z1)
    sin = float((z0.norm() ** 2 * z1.norm() ** 2 - (z0 @ z1) ** 2).clamp(min=0).sqrt())
    return math.atan2(sin, cos)


def _slerp_cases() -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """Two pairs of codes ``(K,)`` of different norms, at 30 degrees (2-D) and 150 degrees (8-D).

    Far from 90 degrees, so that sin Ω is far from 1 (0.5 at both angles): leaving out the
    division by sin Ω halves the path. The 8-D pair is built in the plane of two random
    directions (Gram-Schmidt), so its angle is exactly 150 degrees.
    """
    a30 = math.radians(30.0)
    flat = (
        torch.tensor([0.5, 0.0]),
        1.5 * torch.tensor([math.cos(a30), math.sin(a30)]),
        "2-D codes of norms 0.5 and 1.5 at 30 degrees",
    )
    g = torch.Generator().manual_seed(7)
    u, v = torch.randn(2, 8, generator=g, dtype=torch.float64)
    u = u / u.norm()
    v = v - (v @ u) * u
    v = v / v.norm()
    a150 = math.radians(150.0)
    wide = (
        (2.0 * u).float(),
        (0.5 * (math.cos(a150) * u + math.sin(a150) * v)).float(),
        "8-D codes of norms 2 and 0.5 at 150 degrees",
    )
    return [flat, wide]


def _slant_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Correlated, off-centre codes ``(400, 5)`` whose slant grows along a known unit vector."""
    g = torch.Generator().manual_seed(3)
    w = torch.tensor([0.6, 0.0, -0.8, 0.0, 0.0])
    mix = torch.eye(5) + 0.6 * torch.randn(5, 5, generator=g)
    z = torch.randn(400, 5, generator=g) @ mix + torch.tensor([1.5, -1.0, 0.5, 2.0, 0.0])
    slant = 0.6 * z @ w + 0.4 + 0.002 * torch.randn(400, generator=g)
    return z, slant, w


def check_slant_direction(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """``fn(z, slant)``: codes ``(N, K)`` and slants ``(N,)`` -> unit direction ``(K,)``."""
    z, slant, w = _slant_data()
    got = run_student(SLANT, fn, z.clone(), slant.clone())
    got = expect_shape(
        SLANT,
        got,
        (5,),
        "Return one direction: a vector with one entry per latent dimension, shape (K,).",
    )
    norm = float(got.norm())
    if abs(norm - 1.0) > 1e-3:
        raise ExerciseError(
            f"{SLANT}: the direction must be a unit vector, got norm {norm:.4g}. "
            "Divide it by its norm."
        )
    # the normal equations, solved directly: Cov(z) w = Cov(z, slant)
    zc, sc = (z - z.mean(0)).double(), (slant - slant.mean()).double()
    ref = torch.linalg.solve(zc.T @ zc, zc.T @ sc)
    ref = (ref / ref.norm()).float()
    cos = float(got @ ref)
    if cos < -0.999:
        raise ExerciseError(
            f"{SLANT}: your direction points the wrong way (cosine {cos:.3f} with "
            "the expected one): the slant must grow along it. Flip the sign."
        )
    uncentred = torch.linalg.lstsq(z.double(), slant.double()[:, None]).solution[:, 0]
    if float(got @ (uncentred / uncentred.norm()).float()) > 0.9999 and cos < 0.999:
        raise ExerciseError(
            f"{SLANT}: your direction fits slant ≈ w·z with no intercept. The "
            "codes and slants are not centred: subtract their means first (or "
            "fit an intercept)."
        )
    per_dim = zc.T @ sc
    if float(got @ (per_dim / per_dim.norm()).float()) > 0.9999 and cos < 0.999:
        raise ExerciseError(
            f"{SLANT}: your direction is the covariance of each dimension with the "
            "slant. The dimensions of z are correlated, so solve the least-squares "
            "problem (for example torch.linalg.lstsq) instead."
        )
    expect_close(
        SLANT,
        got,
        w,
        atol=5e-3,
        rtol=0,
        hint=f"Cosine with the true direction: {float(got @ w):.4f}. Fit slant ≈ w·z + b "
        "by least squares on centred data, then normalise w.",
    )
    passed(SLANT, f"cosine with the true direction {float(got @ w):.4f}")
