import math

import pytest
import torch

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb02 import check_gaussian_nll, check_l2_gradient, check_per_example_l2


def _stub(*args):
    raise NotImplementedError()


# --- Exercise 2.1: per-example L2 ---------------------------------------------------------------


def l2_right(x_hat, x):
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1)


L2_WRONG = {
    "mean over pixels": (
        lambda xh, x: ((xh - x) ** 2).flatten(1).mean(dim=1),
        "16 times too small",
    ),
    "scalar": (lambda xh, x: ((xh - x) ** 2).sum(), r"one number for the whole batch"),
    "batch mean": (lambda xh, x: ((xh - x) ** 2).mean(), r"expected shape \(5,\), got \(\)"),
    "unreduced": (lambda xh, x: (xh - x) ** 2, "did not reduce over all the pixels"),
    "last dim only": (lambda xh, x: ((xh - x) ** 2).sum(dim=-1), "did not reduce over all"),
    "keepdim": (lambda xh, x: ((xh - x) ** 2).flatten(1).sum(dim=1, keepdim=True), "no keepdim"),
    "norm": (lambda xh, x: (xh - x).flatten(1).norm(dim=1), "drop the square root"),
    "l1": (lambda xh, x: (xh - x).abs().flatten(1).sum(dim=1), "L1 loss"),
    "no square": (lambda xh, x: (xh - x).flatten(1).sum(dim=1), "without squaring"),
    "half": (lambda xh, x: 0.5 * l2_right(xh, x), "no factor 1/2"),
    "only 4-D": (
        lambda xh, x: ((xh - x) ** 2).sum(dim=(1, 2, 3)),
        r"failed on inputs of shape \(3, 7\).*flatten each example",
    ),
    "nan": (lambda xh, x: l2_right(xh, x) * float("nan"), "NaN"),
    "detached": (lambda xh, x: l2_right(xh, x).detach(), "no gradient"),
    "list": (lambda xh, x: l2_right(xh, x).tolist(), "expected a torch.Tensor"),
    "stub": (_stub, "not solved yet"),
}


def test_per_example_l2_accepts_the_sum_of_squares(capsys):
    check_per_example_l2(l2_right)
    assert "✓ Exercise 2.1 passed" in capsys.readouterr().out


def test_per_example_l2_accepts_the_sign_flipped_difference():
    check_per_example_l2(lambda x_hat, x: ((x - x_hat) ** 2).reshape(len(x), -1).sum(1))


@pytest.mark.parametrize("wrong,message", L2_WRONG.values(), ids=L2_WRONG.keys())
def test_per_example_l2_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_per_example_l2(wrong)


def test_per_example_l2_failures_are_exercise_errors():
    for key in ("mean over pixels", "scalar", "unreduced", "norm", "nan"):
        with pytest.raises(ExerciseError):
            check_per_example_l2(L2_WRONG[key][0])


# --- Exercise 2.2: the gradient of the batch L2 loss --------------------------------------------


def grad_right(w, b, z, x):
    r = z @ w.T + b - x  # (B, D)
    return 2.0 / len(z) * r.T @ z  # (D, K)


GRAD_WRONG = {
    "no factor 2": (lambda w, b, z, x: grad_right(w, b, z, x) / 2, "keep the factor 2"),
    "wrong sign": (lambda w, b, z, x: -grad_right(w, b, z, x), "wrong sign"),
    "sum, not mean": (lambda w, b, z, x: grad_right(w, b, z, x) * len(z), "B = 6 times too large"),
    "mean over pixels too": (
        lambda w, b, z, x: grad_right(w, b, z, x) / w.shape[0],
        "D = 5 times too small",
    ),
    "no bias": (lambda w, b, z, x: 2.0 / len(z) * (z @ w.T - x).T @ z, "left out the bias"),
    "transposed": (lambda w, b, z, x: grad_right(w, b, z, x).T, r"got \(3, 5\).*transpose"),
    "per example": (
        lambda w, b, z, x: 2.0 * (z @ w.T + b - x)[:, :, None] * z[:, None, :],
        r"expected shape \(5, 3\), got \(6, 5, 3\)",
    ),
    "nan": (lambda w, b, z, x: grad_right(w, b, z, x) * float("nan"), "NaN"),
    "wrong values": (lambda w, b, z, x: grad_right(w, b, z, x) + 0.1, r"values differ.*\(2/B\)"),
    "stub": (_stub, "not solved yet"),
}


def test_l2_gradient_accepts_the_hand_derivation(capsys):
    check_l2_gradient(grad_right)
    assert "✓ Exercise 2.2 passed" in capsys.readouterr().out


def test_l2_gradient_accepts_an_einsum_form():
    check_l2_gradient(
        lambda w, b, z, x: torch.einsum("bd,bk->dk", 2 * (z @ w.T + b - x), z) / len(z)
    )


@pytest.mark.parametrize("wrong,message", GRAD_WRONG.values(), ids=GRAD_WRONG.keys())
def test_l2_gradient_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_l2_gradient(wrong)


# --- Exercise 2.3: the Gaussian negative log-likelihood -----------------------------------------


def nll_right(x_hat, x, sigma):
    d = x[0].numel()
    sq = ((x - x_hat) ** 2).flatten(1).sum(dim=1)
    return sq / (2 * sigma**2) + 0.5 * d * math.log(2 * math.pi * sigma**2)


def _sq(x_hat, x):
    return ((x - x_hat) ** 2).flatten(1).sum(dim=1)


NLL_WRONG = {
    "log-likelihood": (lambda xh, x, s: -nll_right(xh, x, s), "opposite sign"),
    "no constant": (lambda xh, x, s: _sq(xh, x) / (2 * s**2), "left out the normalising constant"),
    "constant once": (
        lambda xh, x, s: _sq(xh, x) / (2 * s**2) + 0.5 * math.log(2 * math.pi * s**2),
        "once per image",
    ),
    "sigma, not variance": (
        lambda xh, x, s: _sq(xh, x) / (2 * s) + 4.5 * math.log(2 * math.pi * s**2),
        "2 sigma instead of 2 sigma",
    ),
    "log sigma": (
        lambda xh, x, s: _sq(xh, x) / (2 * s**2) + 4.5 * math.log(2 * math.pi * s),
        r"log\(2 pi sigma\) instead",
    ),
    "no half": (
        lambda xh, x, s: _sq(xh, x) / s**2 + 4.5 * math.log(2 * math.pi * s**2),
        "factor 1/2",
    ),
    "mean over pixels": (lambda xh, x, s: nll_right(xh, x, s) / 9, "9 times too small"),
    "scalar": (lambda xh, x, s: nll_right(xh, x, s).sum(), "one number for the whole batch"),
    "nan": (lambda xh, x, s: nll_right(xh, x, s) * float("nan"), "NaN"),
    "wrong values": (lambda xh, x, s: nll_right(xh, x, s) + 1.0, r"\(D/2\) log.*sigma = 0.3"),
    "stub": (_stub, "not solved yet"),
}


def test_gaussian_nll_accepts_the_formula(capsys):
    check_gaussian_nll(nll_right)
    assert "✓ Exercise 2.3 passed" in capsys.readouterr().out


def test_gaussian_nll_accepts_torch_distributions():
    check_gaussian_nll(
        lambda xh, x, s: -torch.distributions.Normal(xh, s).log_prob(x).sum(dim=(1, 2, 3))
    )


@pytest.mark.parametrize("wrong,message", NLL_WRONG.values(), ids=NLL_WRONG.keys())
def test_gaussian_nll_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_gaussian_nll(wrong)
