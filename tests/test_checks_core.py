import pytest
import torch

from lecture_utils.checks import ExerciseError, expect_close, expect_shape, passed, run_student


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
