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


def test_exercise_error_renders_as_its_message_only():
    err = ExerciseError("Exercise 1.1: values differ.\nSecond line.")
    assert err._render_traceback_() == [
        "ExerciseError: Exercise 1.1: values differ.",
        "Second line.",
    ]
    assert ExerciseError()._render_traceback_() == ["ExerciseError: "]


def test_ipython_shows_a_failed_check_without_the_checks_source(capsys):
    shell = pytest.importorskip("IPython.core.interactiveshell").InteractiveShell()
    try:
        # A wrong answer to a check whose default hint holds the answer: the hint may only
        # reach the student when it is the message, never as a line of the check's source.
        result = shell.run_cell(
            "from lecture_utils.checks import expect_close\n"
            "import torch\n"
            "expect_close('Exercise 9.9', torch.zeros(2), torch.ones(2), hint='SECRET')\n"
        )
    finally:
        shell.clear_instance()
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert isinstance(result.error_in_exec, ExerciseError)
    assert "ExerciseError: Exercise 9.9: values differ." in text
    assert "raise ExerciseError(" not in text and "core.py" not in text
    assert text.count("SECRET") == 1  # once, in the message


def test_nan_message_names_the_likely_cause_not_the_shape_hint():
    logvar = torch.tensor([-1.0, 0.5])
    with pytest.raises(ExerciseError) as info:
        expect_shape("Exercise 5.3", torch.log(logvar), (2,), hint="One gap per example: (B,).")
    msg = str(info.value)
    assert "NaN values (1 of 2 entries)" in msg and "log() of 0 or of a negative" in msg
    assert "One gap per example" not in msg
    with pytest.raises(ExerciseError, match=r"contains inf values \(1 of 1 entries\)"):
        expect_close("Exercise 6.2", torch.tensor([float("inf")]), torch.ones(1), hint="scalar")
    # a hint that is itself about non-finite values replaces the generic causes
    with pytest.raises(ExerciseError) as info:
        expect_shape("Exercise 4.2", torch.tensor([float("nan")]), (1,), hint="exp() underflows")
    assert str(info.value).endswith("exp() underflows") and "Likely causes" not in str(info.value)
    with pytest.raises(ExerciseError, match="Likely causes") as info:  # "information" is no "inf"
        expect_shape("Exercise 9.9", torch.tensor([float("nan")]), (1,), hint="more information")
    assert "more information" not in str(info.value)
