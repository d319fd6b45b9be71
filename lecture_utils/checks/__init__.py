"""Automatic checks for the exercises (one module per notebook: ``checks.nb01``, ...).

A check compares a student's answer with an *independent* reference (a closed form,
``torch.distributions``, autograd, a brute-force loop), never with the solution code. It prints
one pass line, or raises :class:`ExerciseError` (an ``AssertionError``) that says what was
expected, what came back, and a hint.

The shared building blocks live in :mod:`lecture_utils.checks.core`.
"""

from lecture_utils.checks.core import ExerciseError, expect_close, expect_shape, passed, run_student

__all__ = ["ExerciseError", "expect_close", "expect_shape", "passed", "run_student"]
