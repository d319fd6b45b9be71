"""Direct tests of every check in lecture_utils._validate: what passes, what it returns, and
that each failure names the argument, what it got and what it expects."""

import math

import numpy as np
import pytest
import torch

from lecture_utils._validate import (
    DATA_HINT,
    MODEL_HINT,
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_int_sequence,
    check_nonneg_int,
    check_number,
    check_positive_int,
    check_same_shape,
    check_tensor,
)

# ----------------------------------------------------------------------------- check_tensor


def test_check_tensor_returns_the_same_tensor():
    x = torch.rand(2, 3)
    assert check_tensor("x", x, ndim=2, shape=(None, 3), low=0.0, high=1.0) is x


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "match"),
    [
        ([1.0, 2.0], {}, TypeError, r"x must be a torch.Tensor, got list; .*torch.as_tensor\(x"),
        (
            torch.arange(3),
            {},
            TypeError,
            r"x must be a floating-point tensor, got dtype torch.int64",
        ),
        (
            torch.zeros(2, 3),
            {"ndim": 4},
            ValueError,
            r"x must have 4 dimensions, got shape \(2, 3\)",
        ),
        (torch.zeros(2), {"ndim": (2, 4)}, ValueError, "x must have 2 or 4 dimensions"),
        (torch.zeros(2, 3), {"shape": (None, 4)}, ValueError, r"x must have shape \(\*, 4\)"),
        (torch.zeros(2, 3), {"shape": (2,)}, ValueError, r"x must have shape \(2\), got \(2, 3\)"),
        (
            torch.full((3,), -0.5),
            {"low": 0.0},
            ValueError,
            "x must be >= 0.0, got a minimum of -0.5",
        ),
        (
            torch.full((3,), 1.5),
            {"high": 1.0},
            ValueError,
            "x must be <= 1.0, got a maximum of 1.5",
        ),
    ],
)
def test_check_tensor_rejects(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_tensor("x", value, **kwargs)


def test_check_tensor_integer_tensors_when_allowed():
    labels = torch.tensor([0, 3])
    assert check_tensor("labels", labels, floating=False, low=0) is labels
    with pytest.raises(ValueError, match="labels must be <= 2"):
        check_tensor("labels", labels, floating=False, high=2)


def test_check_tensor_empty_tensors_pass_range_checks():
    x = torch.zeros(0, 3)
    assert check_tensor("x", x, low=0.0, high=1.0) is x


def test_check_tensor_nan_counts_and_hints():
    x = torch.tensor([0.0, math.nan, math.inf, -math.inf])
    with pytest.raises(ValueError, match=r"x contains 3 NaN or infinite value\(s\)") as plain:
        check_tensor("x", x)
    assert "learning rate" not in str(plain.value)
    with pytest.raises(ValueError, match=r"check the data .*torch.isfinite\(images\)") as data:
        check_tensor("images", x, hint=DATA_HINT)
    assert "learning rate" not in str(data.value)
    with pytest.raises(ValueError, match="learning rate"):
        check_tensor("mu", x, hint=MODEL_HINT)
    with pytest.raises(ValueError, match="; my own advice"):
        check_tensor("x", x, hint="my own advice")
    # finite=False lets NaN and infinities through (for log-weights)
    assert check_tensor("log_w", x, finite=False) is x


def test_check_tensor_works_on_tensors_that_need_grad():
    x = torch.rand(3, requires_grad=True)
    assert check_tensor("x", x * 2, low=0.0) is not None


# ----------------------------------------------------------------------------- shapes


def test_check_same_shape():
    check_same_shape("a", torch.zeros(2, 3), "b", torch.ones(2, 3))
    with pytest.raises(
        ValueError, match=r"a and b must have the same shape, got \(2, 3\) and \(3,\)"
    ):
        check_same_shape("a", torch.zeros(2, 3), "b", torch.ones(3))  # would broadcast


# ----------------------------------------------------------------------------- integers


@pytest.mark.parametrize("value", [0, 5, -3, np.int64(4), np.int32(-1)])
def test_check_int_accepts_python_and_numpy_ints(value):
    got = check_int("n", value)
    assert type(got) is int and got == int(value)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (True, "n must be an int, got bool True"),
        (2.0, "n must be an int, got float 2.0"),
        ("3", "n must be an int, got str '3'"),
        (torch.tensor(3), "n must be an int, got Tensor"),
        (None, "n must be an int, got NoneType None"),
    ],
)
def test_check_int_rejects_non_ints(value, match):
    with pytest.raises(TypeError, match=match):
        check_int("n", value)


def test_check_int_bounds():
    assert check_int("n", 3, low=3, high=3) == 3
    with pytest.raises(ValueError, match="n must be >= 4, got 3"):
        check_int("n", 3, low=4)
    with pytest.raises(ValueError, match="n must be <= 2, got 3"):
        check_int("n", 3, high=2)


def test_check_int_shortens_long_reprs():
    with pytest.raises(TypeError) as info:
        check_int("n", "x" * 500)
    assert len(str(info.value)) < 100 and "..." in str(info.value)


def test_check_positive_and_nonneg_int():
    assert check_positive_int("n", 1) == 1
    assert check_nonneg_int("n", 0) == 0
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        check_positive_int("n", 0)
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        check_nonneg_int("n", -1)
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        check_positive_int("n", True)
    with pytest.raises(TypeError, match="n must be an int, got float"):
        check_nonneg_int("n", 1.5)


def test_check_int_sequence():
    assert check_int_sequence("dims", [3, 4]) == (3, 4)
    assert check_int_sequence("dims", ()) == ()
    assert check_int_sequence("dims", range(1, 3)) == (1, 2)
    assert check_int_sequence("dims", torch.Size([1, 28, 28])) == (1, 28, 28)
    assert check_int_sequence("dims", (0,), low=0) == (0,)
    with pytest.raises(
        TypeError, match=r"dims must be a list or tuple of ints, got int 64; .*\(64,\)"
    ):
        check_int_sequence("dims", 64)
    with pytest.raises(TypeError, match="dims must be a list or tuple of ints, got str"):
        check_int_sequence("dims", "64")
    with pytest.raises(TypeError, match="dims must be a list or tuple of ints, got set"):
        check_int_sequence("dims", {64})
    with pytest.raises(ValueError, match=r"dims\[1\] must be >= 1, got -5"):
        check_int_sequence("dims", (3, -5))
    with pytest.raises(TypeError, match=r"dims\[0\] must be an int, got float"):
        check_int_sequence("dims", (3.0,))


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [0, 2, 0.5, np.float32(0.25), np.int64(3)])
def test_check_number_accepts_real_numbers(value):
    got = check_number("lr", value)
    assert type(got) is float and got == float(value)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("0.1", TypeError, "lr must be a number, got str '0.1'"),
        (True, TypeError, "lr must be a number, got bool"),
        (torch.tensor(0.1), TypeError, "lr must be a number, got Tensor"),
        (None, TypeError, "lr must be a number, got NoneType"),
        (math.nan, ValueError, "lr must be a finite number, got nan"),
        (math.inf, ValueError, "lr must be a finite number, got inf"),
    ],
)
def test_check_number_rejects(value, error, match):
    with pytest.raises(error, match=match):
        check_number("lr", value)


def test_check_number_open_and_closed_bounds():
    assert check_number("p", 0, low=0) == 0.0
    assert check_number("p", 1, high=1) == 1.0
    with pytest.raises(ValueError, match="p must be > 0, got 0"):
        check_number("p", 0, low=0, low_open=True)
    with pytest.raises(ValueError, match="p must be < 1, got 1"):
        check_number("p", 1, high=1, high_open=True)
    with pytest.raises(ValueError, match="p must be >= 0.5, got 0.25"):
        check_number("p", 0.25, low=0.5)
    with pytest.raises(ValueError, match="p must be <= 0.5, got 0.75"):
        check_number("p", 0.75, high=0.5)


# ----------------------------------------------------------------------------- the rest


def test_check_bool():
    assert check_bool("flag", True) is True and check_bool("flag", False) is False
    for value, shown in ((1, "int 1"), ("yes", "str 'yes'"), (None, "NoneType None")):
        with pytest.raises(TypeError, match=f"flag must be True or False, got {shown}"):
            check_bool("flag", value)


def test_check_choice():
    assert check_choice("kind", "l2", ("l1", "l2")) == "l2"
    with pytest.raises(ValueError, match="kind must be one of 'l1', 'l2', got 'L2'"):
        check_choice("kind", "L2", ("l1", "l2"))
    with pytest.raises(ValueError, match="kind must be one of 'l1', 'l2', got int 2"):
        check_choice("kind", 2, ("l1", "l2"))
    with pytest.raises(ValueError, match="kind must be one of 'l1', 'l2', got list"):
        check_choice("kind", ["l1"], ("l1", "l2"))


def test_check_generator():
    g = torch.Generator().manual_seed(0)
    assert check_generator("generator", g) is g
    for value, shown in ((0, "int 0"), (None, "NoneType"), (np.random.default_rng(0), "Generator")):
        with pytest.raises(TypeError, match=f"generator must be a torch.Generator, got {shown}"):
            check_generator("generator", value)
    with pytest.raises(TypeError, match=r"torch.Generator\(\).manual_seed\(0\)"):
        check_generator("generator", 0)
