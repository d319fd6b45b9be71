"""The checks of notebook 06 accept right answers and explain typical wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb06 import check_log_mean_exp, check_negative_elbo, check_sample_z


def stub(*args):
    raise NotImplementedError


# --- Exercise 6.1 -------------------------------------------------------------------------------
def test_sample_z_accepts_the_reparameterization(capsys):
    check_sample_z(lambda mu, logvar, eps: mu + torch.exp(0.5 * logvar) * eps)
    check_sample_z(lambda mu, logvar, eps: mu + logvar.mul(0.5).exp() * eps)
    assert "✓ Exercise 6.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda mu, lv, eps: mu + torch.exp(lv) * eps, "variance exp\\(logvar\\)"),
        (lambda mu, lv, eps: mu + lv * eps, "log of the variance"),
        (lambda mu, lv, eps: mu + torch.exp(-0.5 * lv) * eps, "sign"),
        (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "mean mu is missing"),
        (lambda mu, lv, eps: mu * torch.exp(0.5 * lv) + eps, "eps is the one scaled"),
        (lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * torch.randn_like(mu), "values differ"),
        (lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach(), "no gradient"),
        (
            lambda mu, lv, eps: mu.detach() + torch.exp(0.5 * lv) * eps,
            "do not reach both mu and logvar",
        ),
        (lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps)[0], "expected shape \\(4, 3\\)"),
        (stub, "not solved yet"),
    ],
    ids=[
        "variance",
        "logvar as std",
        "sign",
        "no mean",
        "swapped",
        "own eps",
        "detached",
        "mu detached",
        "shape",
        "stub",
    ],
)
def test_sample_z_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_sample_z(wrong)


# --- Exercise 6.2 -------------------------------------------------------------------------------
def kl_term(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)


def bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


def test_negative_elbo_accepts_right_answers(capsys):
    check_negative_elbo(lambda lo, x, mu, lv: (bce(lo, x) + kl_term(mu, lv)).mean())
    check_negative_elbo(
        lambda lo, x, mu, lv: (
            (F.binary_cross_entropy(torch.sigmoid(lo), x, reduction="sum") + kl_term(mu, lv).sum())
            / len(x)
        )
    )
    assert "✓ Exercise 6.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda lo, x, mu, lv: (bce(lo, x) + kl_term(mu, lv)).sum(), "summed over the batch"),
        (lambda lo, x, mu, lv: bce(lo, x).mean(), "KL term is missing"),
        (lambda lo, x, mu, lv: (bce(lo, x) - kl_term(mu, lv)).mean(), "KL term has the wrong sign"),
        (lambda lo, x, mu, lv: kl_term(mu, lv).mean(), "reconstruction term is missing"),
        (
            lambda lo, x, mu, lv: (
                F.binary_cross_entropy_with_logits(lo, x, reduction="none").mean(1)
                + kl_term(mu, lv)
            ).mean(),
            "averaged the reconstruction over pixels",
        ),
        (
            lambda lo, x, mu, lv: (-bce(lo, x) + kl_term(mu, lv)).mean(),
            "reconstruction term has the wrong sign",
        ),
        (lambda lo, x, mu, lv: bce(lo, x) + kl_term(mu, lv), "shape \\(6,\\)"),
        (
            lambda lo, x, mu, lv: (bce(lo, x) + 0.5 * (mu**2 + lv.exp() - lv).sum(1)).mean(),
            "values differ",
        ),
        (stub, "not solved yet"),
    ],
    ids=[
        "sum",
        "no kl",
        "kl sign",
        "no recon",
        "pixel mean",
        "recon sign",
        "per image",
        "kl missing -1",
        "stub",
    ],
)
def test_negative_elbo_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_negative_elbo(wrong)


# --- Exercise 6.3 -------------------------------------------------------------------------------
def test_log_mean_exp_accepts_stable_answers(capsys):
    check_log_mean_exp(lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]))

    def shifted(lw):
        m = lw.max(0).values
        return m + torch.log(torch.exp(lw - m).mean(0))

    check_log_mean_exp(shifted)
    assert "✓ Exercise 6.3 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda lw: torch.log(torch.exp(lw).mean(0)), "underflows"),
        (lambda lw: lw.mean(0), "mean of the log weights"),
        (lambda lw: torch.logsumexp(lw, 0), "subtract log S"),
        (lambda lw: lw.max(0).values, "maximum alone"),
        (lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1]), "expected shape \\(4,\\)"),
        (lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1]), "values differ"),
        (stub, "not solved yet"),
    ],
    ids=["naive", "mean of logs", "no log S", "max", "wrong dim", "log B", "stub"],
)
def test_log_mean_exp_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_log_mean_exp(wrong)
