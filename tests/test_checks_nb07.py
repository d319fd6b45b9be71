"""The checks of notebook 07 pass right answers and stop typical wrong ones with a hint."""

import math

import pytest
import torch

from lecture_utils.checks.core import ExerciseError
from lecture_utils.checks.nb07 import check_slant_direction, check_slerp
from lecture_utils.latent import lerp, slant_direction, slerp


def _omega(z0, z1):
    return torch.arccos((z0 @ z1 / (z0.norm() * z1.norm())).clamp(-1, 1))


def slerp_swapped(z0, z1, t):
    om = _omega(z0, z1)
    t = t[:, None]
    return torch.sin(t * om) / torch.sin(om) * z0 + torch.sin((1 - t) * om) / torch.sin(om) * z1


def slerp_unit_vectors(z0, z1, t):
    """Interpolates the directions only: loses the norms."""
    return slerp(z0 / z0.norm(), z1 / z1.norm(), t)


def slerp_no_normalised_angle(z0, z1, t):
    om = torch.arccos((z0 @ z1).clamp(-1, 1))  # forgets to divide by the norms
    t = t[:, None]
    return torch.sin((1 - t) * om) / torch.sin(om) * z0 + torch.sin(t * om) / torch.sin(om) * z1


def slerp_degrees(z0, z1, t):
    om = _omega(z0, z1) * 180 / math.pi
    t = t[:, None]
    return torch.sin((1 - t) * om) / torch.sin(om) * z0 + torch.sin(t * om) / torch.sin(om) * z1


def slerp_no_sin_division(z0, z1, t):
    """The walkthrough's answer: both weights left without / sin(Ω)."""
    omega = _omega(z0, z1)
    t = t[:, None]
    return torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1


def slerp_abs_cos(z0, z1, t):
    """Takes the angle from |cos Ω|: right up to 90 degrees, wrong beyond."""
    om = torch.arccos((z0 @ z1 / (z0.norm() * z1.norm())).abs().clamp(-1, 1))
    t = t[:, None]
    return torch.sin((1 - t) * om) / torch.sin(om) * z0 + torch.sin(t * om) / torch.sin(om) * z1


def not_solved(*args):
    raise NotImplementedError("Exercise 7.1: spherical interpolation")


def test_slerp_check_passes_the_right_answer(capsys):
    check_slerp(slerp)
    assert "✓ Exercise 7.1 (slerp) passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lerp, "that is the straight line"),
        (slerp_swapped, "Did you swap the weights"),
        (lambda z0, z1, t: slerp(z0, z1, t).T, r"expected shape \(4, 2\), got \(2, 4\)"),
        (slerp_unit_vectors, r"must start at z0 = \(2.0, 0.0\) \(t = 0\), got \[1.0, 0.0\]"),
        (slerp_no_normalised_angle, r"norms 0.5 and 1.5 at 30 degrees.*cos Ω = z0·z1 / \(\|z0\|"),
        (slerp_no_sin_division, r"30 degrees \(sin Ω = 0.500\).*divide both weights by sin Ω"),
        (slerp_abs_cos, r"8-D codes of norms 2 and 0.5 at 150 degrees"),
        (slerp_degrees, "in radians"),
        (lambda z0, z1, t: slerp(z0, z1, t).double().numpy(), "expected a torch.Tensor"),
        (not_solved, "not solved yet"),
    ],
    ids=[
        "lerp",
        "swapped",
        "transposed",
        "unit vectors",
        "angle not normalised",
        "no division by sin",
        "abs cos",
        "degrees",
        "numpy",
        "stub",
    ],
)
def test_slerp_check_explains_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_slerp(wrong)


def lstsq_direction(z, slant):
    zc = z - z.mean(0)
    w = torch.linalg.lstsq(zc, (slant - slant.mean())[:, None]).solution[:, 0]
    return w / w.norm()


def test_slant_check_passes_right_answers(capsys):
    check_slant_direction(slant_direction)
    check_slant_direction(lstsq_direction)
    out = capsys.readouterr().out
    assert out.count("✓ Exercise 7.2 (slant direction) passed") == 2


def no_intercept(z, slant):
    w = torch.linalg.lstsq(z, slant[:, None]).solution[:, 0]
    return w / w.norm()


def covariance_only(z, slant):
    w = (z - z.mean(0)).T @ (slant - slant.mean())
    return w / w.norm()


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda z, s: -slant_direction(z, s), "points the wrong way"),
        (lambda z, s: 3 * slant_direction(z, s), "must be a unit vector, got norm 3"),
        (no_intercept, "no intercept"),
        (covariance_only, "dimensions of z are correlated"),
        (lambda z, s: slant_direction(z, s)[None], r"expected shape \(5,\), got \(1, 5\)"),
        (lambda z, s: torch.full((5,), 5**-0.5), "Cosine with the true direction"),
        (lambda z, s: slant_direction(z, s).long(), "floating-point"),
    ],
    ids=["sign", "not normalised", "no intercept", "covariance only", "shape", "constant", "dtype"],
)
def test_slant_check_explains_wrong_answers(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_slant_direction(wrong)


def test_slerp_cases_are_far_from_right_angles():
    from lecture_utils.checks.nb07 import _angle, _slerp_cases

    degrees = [math.degrees(_angle(z0, z1)) for z0, z1, _ in _slerp_cases()]
    assert degrees == pytest.approx([30.0, 150.0], abs=1e-4)
    for z0, z1, what in _slerp_cases():
        assert f"norms {z0.norm():g} and {z1.norm():g}" in what


def test_slerp_check_passes_the_walkthroughs_right_answer_only_with_the_division(capsys):
    """The right answer of the walkthrough passes; the same code without / sin Ω fails."""

    def right(z0, z1, t):
        omega = _omega(z0, z1)
        t = t[:, None]
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)

    check_slerp(right)
    assert "passed" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="sin Ω times the right one"):
        check_slerp(slerp_no_sin_division)
