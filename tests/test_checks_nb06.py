"""The checks of notebook 06 accept right answers and explain typical wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb06 import (
    check_importance_log_weights,
    check_negative_elbo,
    check_sample_z,
)


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
        (
            lambda mu, lv, eps: mu + torch.sqrt(lv) * eps,
            "NaN. Likely cause: sqrt\\(\\) or log\\(\\)",
        ),
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
        "sqrt of logvar",
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
            lambda lo, x, mu, lv: (
                F.binary_cross_entropy(lo, x, reduction="none").sum(1) + kl_term(mu, lv)
            ).mean(),
            "between 0 and 1.*binary_cross_entropy_with_logits",
        ),
        (
            lambda lo, x, mu, lv: (
                -(x * lo.log() + (1 - x) * (1 - lo).log()).sum(1) + kl_term(mu, lv)
            ).mean(),
            "NaN. Likely cause: log\\(\\) of a logit",
        ),
        (
            lambda lo, x, mu, lv: (
                F.binary_cross_entropy_with_logits(lo, x, reduction="none").sum(0) + kl_term(mu, lv)
            ).mean(),
            "wrong axis",
        ),
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
        "bce on logits",
        "log of logits",
        "wrong axis",
        "kl missing -1",
        "stub",
    ],
)
def test_negative_elbo_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_negative_elbo(wrong)


# --- Exercise 6.3 -------------------------------------------------------------------------------
LOG_2PI = math.log(2 * math.pi)


def log_px_z(x, logits):
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(
        -1
    )


def log_pz(z, const=True):
    return (-0.5 * (z**2 + (LOG_2PI if const else 0.0))).sum(-1)


def log_qz(z, mu, lv, const=True):
    return (-0.5 * ((z - mu) ** 2 / lv.exp() + lv + (LOG_2PI if const else 0.0))).sum(-1)


def right_weights(x, lo, z, mu, lv):
    return log_px_z(x, lo) + log_pz(z) - log_qz(z, mu, lv)


def test_importance_log_weights_accepts_right_answers(capsys):
    check_importance_log_weights(right_weights)
    # without the log 2 pi constants in both densities: they cancel, so this is right too
    check_importance_log_weights(
        lambda x, lo, z, mu, lv: log_px_z(x, lo) + log_pz(z, False) - log_qz(z, mu, lv, False)
    )
    normal = torch.distributions.Normal
    check_importance_log_weights(
        lambda x, lo, z, mu, lv: (
            torch.distributions.Bernoulli(logits=lo).log_prob(x.expand_as(lo)).sum(-1)
            + normal(0.0, 1.0).log_prob(z).sum(-1)
            - normal(mu, (0.5 * lv).exp()).log_prob(z).sum(-1)
        )
    )
    assert "✓ Exercise 6.3 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong,message",
    [
        (lambda x, lo, z, mu, lv: log_px_z(x, lo) + log_pz(z) + log_qz(z, mu, lv), "sign of log q"),
        (lambda x, lo, z, mu, lv: log_px_z(x, lo) - log_qz(z, mu, lv), "log p\\(z\\) is missing"),
        (lambda x, lo, z, mu, lv: log_px_z(x, lo) + log_pz(z), "log q\\(z\\|x\\) is missing"),
        (lambda x, lo, z, mu, lv: log_pz(z) - log_qz(z, mu, lv), "log p\\(x\\|z\\) is missing"),
        (
            lambda x, lo, z, mu, lv: log_px_z(x, lo) + log_pz(z, False) - log_qz(z, mu, lv),
            "log p\\(z\\) lacks its constant",
        ),
        (
            lambda x, lo, z, mu, lv: log_px_z(x, lo) + log_pz(z) - log_qz(z, mu, lv, False),
            "log q\\(z\\|x\\) lacks its constant",
        ),
        (
            lambda x, lo, z, mu, lv: (
                log_px_z(x, lo) + log_pz(z) + (0.5 * ((z - mu) ** 2 / lv.exp() + LOG_2PI)).sum(-1)
            ),
            "-1/2 sum\\(logvar\\)",
        ),
        (
            lambda x, lo, z, mu, lv: (
                log_px_z(x, lo)
                + log_pz(z)
                + (0.5 * ((z - mu) ** 2 / (0.5 * lv).exp() + lv + LOG_2PI)).sum(-1)
            ),
            "divide by the variance",
        ),
        (lambda x, lo, z, mu, lv: -log_px_z(x, lo) + log_pz(z) - log_qz(z, mu, lv), "wrong sign"),
        (
            lambda x, lo, z, mu, lv: (
                torch.where(x.bool(), lo.sigmoid(), 1 - lo.sigmoid()).sum(-1)
                + log_pz(z)
                - log_qz(z, mu, lv)
            ),
            "sigmoid\\(logits\\) where the log-probability belongs",
        ),
        (
            lambda x, lo, z, mu, lv: (
                (x * lo.log() + (1 - x) * (1 - lo).log()).sum(-1) + log_pz(z) - log_qz(z, mu, lv)
            ),
            "NaN. Likely cause: log\\(\\) of a logit",
        ),
        (
            lambda x, lo, z, mu, lv: (
                -F.binary_cross_entropy(lo, x.expand_as(lo), reduction="none").sum(-1)
                + log_pz(z)
                - log_qz(z, mu, lv)
            ),
            "between 0 and 1",
        ),
        # summed over the wrong axis: the samples (dim 0) for the Gaussian terms
        (
            lambda x, lo, z, mu, lv: (
                log_px_z(x, lo) + (-0.5 * z**2).sum(0) - (-0.5 * (z - mu) ** 2 / lv.exp()).sum(0)
            ),
            "wrong axis",
        ),
        # summed over the wrong axis everywhere: over the samples, one number per image
        (
            lambda x, lo, z, mu, lv: right_weights(x, lo, z, mu, lv).sum(0),
            "summed over the samples",
        ),
        (lambda x, lo, z, mu, lv: right_weights(x, lo, z, mu, lv).sum(1), "summed over the images"),
        (
            lambda x, lo, z, mu, lv: (
                log_px_z(x, lo).unsqueeze(-1) + (-0.5 * z**2) - (-0.5 * (z - mu) ** 2 / lv.exp())
            ),
            "not sum log p\\(z\\) and log q\\(z\\|x\\) over the latent dimensions",
        ),
        (lambda x, lo, z, mu, lv: right_weights(x, lo, z, mu, lv) + 0.1, "values differ"),
        (stub, "not solved yet"),
    ],
    ids=[
        "plus log q",
        "no log p(z)",
        "no log q",
        "no log p(x|z)",
        "log p(z) without constant",
        "log q without constant",
        "log q without logvar",
        "log q divided by std",
        "bce sign",
        "probabilities for log-probabilities",
        "log of logits",
        "bce on logits",
        "gaussians summed over samples",
        "summed over samples",
        "summed over images",
        "not summed over K",
        "off",
        "stub",
    ],
)
def test_importance_log_weights_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_importance_log_weights(wrong)
