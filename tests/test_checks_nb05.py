"""The checks of notebook 05 accept correct answers and explain typical wrong ones."""

import math

import pytest
import torch

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb05 import (
    check_elbo_gap,
    check_kl_diag_gaussians,
    check_log_posterior,
    check_mc_elbo,
)

LOG_2PI = math.log(2 * math.pi)


# --- Exercise 5.4 -------------------------------------------------------------------------------


def kl_terms(mu_q, lv_q, mu_p, lv_p):
    return 0.5 * (lv_p - lv_q + (lv_q.exp() + (mu_q - mu_p) ** 2) / lv_p.exp() - 1)


def good_kl(mu_q, lv_q, mu_p, lv_p):
    return kl_terms(mu_q, lv_q, mu_p, lv_p).sum(-1)


WRONG_KL = {
    "Wrong sign": lambda *a: -good_kl(*a),
    "You computed KL\\(p \\|\\| q\\)": lambda mq, lq, mp, lp: good_kl(mp, lp, mq, lq),
    "do not average them": lambda *a: kl_terms(*a).mean(-1),
    "'- 1' term": lambda *a: (kl_terms(*a) + 0.5).sum(-1),
    "factor 1/2": lambda *a: 2 * good_kl(*a),
    "the standard deviation is exp\\(logvar / 2\\)": lambda mq, lq, mp, lp: (
        good_kl(mq, lq / 2, mp, lp / 2) + 0.25 * (lp - lq).sum(-1)
    ),
    r"expected shape \(5,\), got \(5, 3\)": kl_terms,
}


def test_kl_accepts_the_answer(capsys):
    check_kl_diag_gaussians(good_kl)
    check_kl_diag_gaussians(lambda *a: good_kl(*a).float())
    assert capsys.readouterr().out.count("✓ Exercise 5.4 passed") == 2


@pytest.mark.parametrize("message", WRONG_KL)
def test_kl_explains_mistakes(message):
    with pytest.raises(ExerciseError, match=message):
        check_kl_diag_gaussians(WRONG_KL[message])


def test_kl_unexplained_mistake_gets_the_formula():
    with pytest.raises(ExerciseError, match=r"Per dimension: 1/2 \[logvar_p"):
        check_kl_diag_gaussians(lambda mq, lq, mp, lp: good_kl(mq, lq, mp, lp) + mq[:, 0] ** 2)


# --- Exercise 5.1 -------------------------------------------------------------------------------


def log_diag_normal(z, mu, var):
    return -0.5 * (LOG_2PI + var.log() + (z - mu) ** 2 / var).sum(-1)


def make_mc(
    std=lambda lv: (0.5 * lv).exp(), prior=False, with_log_q=True, sign=1.0, generator_ok=True
):
    def mc_elbo(log_joint, x, q_mean, q_logvar, n_samples, generator):
        eps = torch.randn(
            n_samples,
            *q_mean.shape,
            generator=generator if generator_ok else None,
            dtype=q_mean.dtype,
        )
        z = eps if prior else q_mean + std(q_logvar) * eps
        terms = log_joint(x, z)
        if with_log_q:
            terms = terms - log_diag_normal(z, q_mean, q_logvar.exp())
        return sign * terms.mean(0)

    return mc_elbo


def test_mc_elbo_accepts_the_answer(capsys):
    check_mc_elbo(make_mc())
    assert "✓ Exercise 5.1 passed" in capsys.readouterr().out


def test_mc_elbo_tolerance_is_not_luck():
    for seed in range(6):
        good = make_mc()
        check_mc_elbo(
            lambda *a, seed=seed, good=good: good(
                *a[:-1], torch.Generator().manual_seed(100 + seed)
            )
        )


@pytest.mark.parametrize(
    "fn,message",
    [
        (make_mc(with_log_q=False), "left out '- log q"),
        (make_mc(prior=True), "not from the prior"),
        (make_mc(std=lambda lv: lv.exp()), r"not exp\(logvar\)"),
        (make_mc(sign=-1.0), "Wrong sign"),
        (make_mc(generator_ok=False), "same generator"),
        (lambda *a: make_mc()(*a)[None], r"expected shape \(3,\), got \(1, 3\)"),
    ],
)
def test_mc_elbo_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_mc_elbo(fn)


# --- Exercise 5.2 -------------------------------------------------------------------------------


def good_log_posterior(log_joint, x, z, log_px):
    return log_joint(x, z) - log_px


def likelihood_only(log_joint, x, z, log_px):
    """log p(x|z) - log p(x): the joint minus the standard normal log-prior of z."""
    return log_joint(x, z) + 0.5 * (LOG_2PI + z**2).sum(-1) - log_px


def test_log_posterior_accepts_the_answer(capsys):
    check_log_posterior(good_log_posterior)
    check_log_posterior(lambda lj, x, z, lp: (lj(x, z) - lp[None, :]).float())
    assert capsys.readouterr().out.count("✓ Exercise 5.2 passed") == 2


@pytest.mark.parametrize(
    "fn,message",
    [
        (lambda lj, x, z, lp: lj(x, z), "You returned log p\\(x, z\\)"),
        (lambda lj, x, z, lp: lj(x, z) + lp, "not adding it"),
        (lambda *a: -good_log_posterior(*a), "Wrong sign"),
        (lambda lj, x, z, lp: lj(x, z) - lp.mean(), "each point's own log p\\(x\\)"),
        (likelihood_only, "misses the prior"),
        (lambda *a: good_log_posterior(*a).exp(), "not the density"),
        (lambda *a: good_log_posterior(*a).mean(0), r"expected shape \(4, 3\), got \(3,\)"),
        (lambda *a: good_log_posterior(*a) + 0.01, r"Bayes' rule in logs"),
    ],
)
def test_log_posterior_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_log_posterior(fn)


# --- Exercise 5.3 -------------------------------------------------------------------------------


def kl_full(m, S, mu, C):
    """KL(N(m, S) || N(mu, C)), batched over m (B, K), S (B, K, K)."""
    C_inv = torch.linalg.inv(C)
    d = (mu - m)[..., None]
    return 0.5 * (
        torch.einsum("kl,blk->b", C_inv, S)
        + (d.transpose(-1, -2) @ C_inv @ d)[:, 0, 0]
        - m.shape[1]
        + torch.logdet(C)
        - torch.logdet(S)
    )


def good_gap(q_mean, q_logvar, post_mean, post_cov):
    return kl_full(q_mean, torch.diag_embed(q_logvar.exp()), post_mean, post_cov)


def diagonal_only(q_mean, q_logvar, post_mean, post_cov):
    return good_gap(q_mean, q_logvar, post_mean, torch.diag(post_cov.diagonal()))


def reversed_gap(q_mean, q_logvar, post_mean, post_cov):
    S = torch.diag_embed(q_logvar.exp())
    return torch.stack(
        [
            kl_full(post_mean[i : i + 1], post_cov[None], q_mean[i], S[i])[0]
            for i in range(len(q_mean))
        ]
    )


def test_elbo_gap_accepts_the_answer(capsys):
    check_elbo_gap(good_gap)
    assert "✓ Exercise 5.3 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn,message",
    [
        (reversed_gap, r"KL\(p\(z\|x\) \|\| q\)"),
        (diagonal_only, "full posterior covariance"),
        (lambda *a: -good_gap(*a), "Wrong sign"),
        (lambda *a: good_gap(*a) + 1.0, "'- K' term"),
        (lambda *a: good_gap(*a).sum(), r"expected shape \(3,\), got \(\)"),
        (lambda *a: good_gap(*a) * 1.01, "KL\\(N\\(m, Sigma_q\\) \\|\\| N\\(mu, C\\)\\)"),
    ],
)
def test_elbo_gap_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_elbo_gap(fn)


def test_stubs_get_the_friendly_message():
    def stub(*args):
        raise NotImplementedError

    for check, number in [
        (check_kl_diag_gaussians, "5.4"),
        (check_mc_elbo, "5.1"),
        (check_log_posterior, "5.2"),
        (check_elbo_gap, "5.3"),
    ]:
        with pytest.raises(ExerciseError, match=f"Exercise {number}: not solved yet"):
            check(stub)
