import pytest
import torch

from lecture_utils.checks import ExerciseError, expect_close, expect_shape, passed, run_student
from lecture_utils.checks.core import gen, matching_hint


def test_expect_close_accepts_right_and_explains_wrong():
    ref = torch.tensor([1.0, 2.0, 3.0])
    expect_close("kl", ref.clone(), ref)
    with pytest.raises(ExerciseError, match="expected 3, got -3"):
        expect_close("kl", -ref, ref)
    with pytest.raises(ExerciseError, match=r"sum of yours / sum expected = 3"):
        expect_close("kl", ref * 3, ref)
    with pytest.raises(ExerciseError, match=r"expected shape \(3,\), got \(1, 3\)"):
        expect_close("kl", ref[None], ref)
    with pytest.raises(ExerciseError, match="NaN"):
        expect_shape("kl", torch.tensor([float("nan")]), (1,))
    with pytest.raises(ExerciseError, match="torch.Tensor"):
        expect_shape("kl", [1.0], (1,))


def test_run_student_turns_stub_into_friendly_error(capsys):
    def stub():
        raise NotImplementedError

    with pytest.raises(ExerciseError, match="not solved yet"):
        run_student("Exercise 1.1", stub)
    assert run_student("x", lambda a: a + 1, 1) == 2
    passed("Exercise 1.1", "3 cases")
    assert "✓ Exercise 1.1 passed: 3 cases" in capsys.readouterr().out


def test_gen_gives_a_fresh_seeded_stream_and_leaves_the_global_one_alone():
    state = torch.random.get_rng_state()
    a, b = torch.rand(3, generator=gen(4)), torch.rand(3, generator=gen(4))
    assert torch.equal(a, b) and not torch.equal(a, torch.rand(3, generator=gen(5)))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_matching_hint_names_the_first_mistake_reproduced():
    right = torch.tensor([1.0, 2.0])
    variants = {"doubled": 2 * right, "negated": -right, "also doubled": 2 * right}
    assert matching_hint(2 * right + 1e-6, variants, "default") == "doubled"
    assert matching_hint(-right, variants, "default") == "negated"
    assert matching_hint(right, variants, "default") == "default"
    assert matching_hint(2 * right[:1], variants, "default") == "default"  # shape must match
    assert matching_hint([2.0, 4.0], variants, "default") == "default"  # not a tensor
    assert matching_hint(2 * right + 0.05, variants, "default") == "default"
    assert matching_hint(2 * right + 0.05, variants, "default", atol=0.1, rtol=0) == "doubled"
    grad = (2 * right).requires_grad_(True)
    assert matching_hint(grad, variants, "default") == "doubled"
