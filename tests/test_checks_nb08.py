"""The checks of notebook 08 pass right answers and stop typical wrong ones with a hint."""

import math

import pytest
import torch

from lecture_utils.checks.core import ExerciseError
from lecture_utils.checks.nb08 import check_active_units, check_iwae_bound, check_mi_decomposition
from lecture_utils.diagnose import active_units
from lecture_utils.evaluate import iwae_bound


# ----------------------------------------------------------------------------- 8.1
def iwae_right(log_w, s):
    t, b = log_w.shape
    return (torch.logsumexp(log_w.reshape(t // s, s, b), dim=1) - math.log(s)).mean(0)


def iwae_naive_exp(log_w, s):
    t, b = log_w.shape
    return log_w.exp().reshape(t // s, s, b).mean(1).log().mean(0)


def iwae_interleaved(log_w, s):
    t, b = log_w.shape
    groups = log_w.reshape(s, t // s, b)  # every (T/S)-th weight
    return (torch.logsumexp(groups, dim=0) - math.log(s)).mean(0)


def iwae_no_log_s(log_w, s):
    t, b = log_w.shape
    return torch.logsumexp(log_w.reshape(t // s, s, b), dim=1).mean(0)


def not_solved(*args):
    raise NotImplementedError


@pytest.mark.parametrize("right", [iwae_right, iwae_bound])
def test_iwae_check_passes_right_answers(right, capsys):
    check_iwae_bound(right)
    assert "✓ Exercise 8.1 (IWAE bound) passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda log_w, s: log_w.mean(0), "plain mean of the log weights, the ELBO"),
        (
            lambda log_w, s: torch.logsumexp(log_w, 0) - math.log(len(log_w)),
            "one estimate from all T",
        ),
        (iwae_no_log_s, "Subtract log S"),
        (iwae_interleaved, "consecutive groups"),
        (iwae_naive_exp, "torch.logsumexp"),
        (lambda log_w, s: iwae_right(log_w, s)[None], r"expected shape \(3,\)"),
        (not_solved, "not solved yet"),
    ],
    ids=["elbo", "one-group", "no-log-s", "interleaved", "naive-exp", "shape", "unsolved"],
)
def test_iwae_check_names_typical_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_iwae_bound(wrong)


# ----------------------------------------------------------------------------- 8.2 (MI)
def mi_right(q, log_p, area, cond_entropy):
    log_q = q.clamp_min(1e-300).log()
    return -(q * log_q).sum() * area - cond_entropy, (q * (log_q - log_p)).sum() * area


def mi_masked(q, log_p, area, cond_entropy):
    keep = q > 0
    qk, lq, lp = q[keep], q[keep].log(), log_p[keep]
    return float(-(qk * lq).sum() * area - cond_entropy), float((qk * (lq - lp)).sum() * area)


@pytest.mark.parametrize("right", [mi_right, mi_masked], ids=["clamped", "masked-floats"])
def test_mi_check_passes_right_answers(right, capsys):
    check_mi_decomposition(right)
    assert "✓ Exercise 8.2 (mutual information) passed" in capsys.readouterr().out


def no_area(q, log_p, area, cond_entropy):
    i, kl = mi_right(q, log_p, area, cond_entropy)
    return (i + cond_entropy) / area - cond_entropy, kl / area


@pytest.mark.parametrize(
    "wrong,message",
    [
        (
            lambda q, lp, a, c: (-(q * q.log()).sum() * a - c, (q * (q.log() - lp)).sum() * a),
            "0 \\* log 0 is NaN",
        ),
        (
            lambda q, lp, a, c: (mi_right(q, lp, a, c)[0] + c, mi_right(q, lp, a, c)[1]),
            "entropy H\\(q\\(z\\)\\) itself",
        ),
        (no_area, "cell's area"),
        (
            lambda q, lp, a, c: (mi_right(q, lp, a, c)[0], -mi_right(q, lp, a, c)[1]),
            "signs are swapped",
        ),
        (
            lambda q, lp, a, c: (
                mi_right(q, lp, a, c)[0],
                (lp.exp() * (lp - q.clamp_min(1e-300).log())).sum() * a,
            ),
            "weighted by q",
        ),
        (lambda q, lp, a, c: mi_right(q, lp, a, c)[0], "return two numbers"),
        (not_solved, "not solved yet"),
    ],
    ids=["nan", "entropy-only", "no-area", "sign", "reverse-kl", "one-value", "unsolved"],
)
def test_mi_check_names_typical_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_mi_decomposition(wrong)


# ----------------------------------------------------------------------------- 8.3 (active)
def test_active_check_passes_right_answers(capsys):
    check_active_units(lambda mu, t: mu.var(0) > t)
    check_active_units(active_units)
    assert capsys.readouterr().out.count("✓ Exercise 8.3 (active units) passed") == 2


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda mu, t: mu.std(0) > t, "not the standard deviation"),
        (lambda mu, t: (mu**2).mean(0) > t, "Centre before squaring"),
        (lambda mu, t: mu.var(1) > t, "one per digit: take the variance across digits"),
        (lambda mu, t: int((mu.var(0) > t).sum()), "not a count"),
        (lambda mu, t: mu.var(0), "bool mask"),
        (lambda mu, t: mu.var(0) < t, r"expected \[True, False"),
        (not_solved, "not solved yet"),
    ],
    ids=["std", "uncentred", "wrong-dim", "count", "variances", "inverted", "unsolved"],
)
def test_active_check_names_typical_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_active_units(wrong)
