"""The checks of notebook 05 accept correct answers and explain typical wrong ones."""

import math

import pytest
import torch

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb05 import (
    check_elbo_gap,
    check_kl_diag_gaussians,
    check_lecture_chain,
    check_mc_elbo,
)

LOG_2PI = math.log(2 * math.pi)


# --- Exercise 5.3 -------------------------------------------------------------------------------


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
    assert capsys.readouterr().out.count("✓ Exercise 5.3 passed") == 2


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
    std=lambda lv: (0.5 * lv).exp(),
    prior=False,
    with_log_q=True,
    sign=1.0,
    generator_ok=True,
    log_2pi=LOG_2PI,
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
            var = q_logvar.exp()
            terms = terms + 0.5 * (log_2pi + var.log() + (z - q_mean) ** 2 / var).sum(-1)
        return sign * terms.mean(0)

    return mc_elbo


def log_of_mean_elbo(log_joint, x, q_mean, q_logvar, n_samples, generator):
    """The walkthrough's mistake: line (c), logsumexp - log S, instead of the mean of the logs."""
    eps = torch.randn(n_samples, *q_mean.shape, generator=generator, dtype=q_mean.dtype)
    z = q_mean + (0.5 * q_logvar).exp() * eps
    terms = log_joint(x, z) - log_diag_normal(z, q_mean, q_logvar.exp())
    return torch.logsumexp(terms, dim=0) - math.log(n_samples)


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
        (make_mc(log_2pi=0.0), r"misses the constant of the Gaussian density"),
        (log_of_mean_elbo, r"log of the average"),
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


def good_chain(log_lik, log_prior, log_q, log_post):
    return {
        "bayes": log_lik + log_prior - log_post,
        "reconstruction": log_lik,
        "kl_prior": log_q - log_prior,
        "kl_posterior": log_q - log_post,
    }


def chain_with(**changes):
    """The right chain with some lines replaced by functions of the four log-densities."""

    def chain(log_lik, log_prior, log_q, log_post):
        lines = good_chain(log_lik, log_prior, log_q, log_post)
        for key, fn in changes.items():
            lines[key] = fn(log_lik, log_prior, log_q, log_post)
        return lines

    return chain


def test_lecture_chain_accepts_the_answer(capsys):
    check_lecture_chain(good_chain)
    check_lecture_chain(lambda *a: {k: v.float() for k, v in good_chain(*a).items()})
    assert capsys.readouterr().out.count("✓ Exercise 5.2 passed") == 2


def test_lecture_chain_bayes_line_is_log_px_everywhere():
    """The check's reference: the 'Bayes' rule' line is the exact log p(x) at every code."""
    from lecture_utils.checks.nb05 import _chain_case, _linear_gaussian_case

    model, x, _, _ = _linear_gaussian_case()
    case = _chain_case()
    bayes = case["log_lik"] + case["log_prior"] - case["log_post"]
    torch.testing.assert_close(bayes, model.log_marginal(x).expand_as(bayes))


@pytest.mark.parametrize(
    "fn,message",
    [
        # the 'Bayes' rule' line
        (chain_with(bayes=lambda li, pr, q, po: li - po), "numerator of Bayes' rule"),
        (chain_with(bayes=lambda li, pr, q, po: po - li - pr), "Upside down"),
        (chain_with(bayes=lambda li, pr, q, po: li + pr + po), "not adding it"),
        (chain_with(bayes=lambda li, pr, q, po: li + pr), r"That is log p\(x, z\)"),
        # the three terms of the 'logarithms' line
        (chain_with(reconstruction=lambda li, pr, q, po: li + pr), r"log p\(x\|z\) alone"),
        (chain_with(reconstruction=lambda li, pr, q, po: li + pr - po), "whole 'Bayes' rule'"),
        (chain_with(kl_prior=lambda li, pr, q, po: pr - q), "in front of the KL"),
        (chain_with(kl_prior=lambda li, pr, q, po: q - po), r"compares q with the prior p\(z\)\."),
        (chain_with(kl_prior=lambda li, pr, q, po: -pr), r"log q\(z\|x\) - log p\(z\);"),
        (chain_with(kl_posterior=lambda li, pr, q, po: po - q), "other way round"),
        (chain_with(kl_posterior=lambda li, pr, q, po: q - pr), r"posterior p\(z\|x\)\.$"),
        (chain_with(kl_posterior=lambda li, pr, q, po: -po), r"log q\(z\|x\) - log p\(z\|x\);"),
        # both KL terms swapped: the sum is still right, each term is not
        (
            chain_with(
                kl_prior=lambda li, pr, q, po: q - po, kl_posterior=lambda li, pr, q, po: q - pr
            ),
            "'kl_prior'.*compares q with the prior",
        ),
        # structure, shapes, values
        (lambda *a: list(good_chain(*a).values()), r"return a dict with exactly the keys"),
        (lambda *a: {k: v for k, v in good_chain(*a).items() if k != "bayes"}, "exactly the keys"),
        (chain_with(bayes=lambda li, pr, q, po: (li + pr - po).mean(0)), r"shape \(6, 3\)"),
        (chain_with(kl_prior=lambda li, pr, q, po: (q - pr).exp().log() * 1.01), "middle term"),
        (
            chain_with(bayes=lambda li, pr, q, po: (li + pr - po).exp().log() + 0.5),
            "value is log p",
        ),
        (
            chain_with(reconstruction=lambda li, pr, q, po: li.exp().log() - li.exp().log() / 0),
            "NaN",
        ),
    ],
)
def test_lecture_chain_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_lecture_chain(fn)


# --- Exercise 5.4 -------------------------------------------------------------------------------


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
    assert "✓ Exercise 5.4 passed" in capsys.readouterr().out


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
        (check_kl_diag_gaussians, "5.3"),
        (check_mc_elbo, "5.1"),
        (check_lecture_chain, "5.2"),
        (check_elbo_gap, "5.4"),
    ]:
        with pytest.raises(ExerciseError, match=f"Exercise {number}: not solved yet"):
            check(stub)


def logvar_as_variance_gap(q_mean, q_logvar, post_mean, post_cov):
    """The walkthrough's mistake: q_logvar used as the variance, so its log is taken (NaN)."""
    C_inv = torch.linalg.inv(post_cov)
    d = post_mean - q_mean
    trace = (C_inv.diagonal() * q_logvar).sum(1)
    mahalanobis = ((d @ C_inv) * d).sum(1)
    log_dets = torch.logdet(post_cov) - q_logvar.log().sum(1)
    return 0.5 * (trace + mahalanobis - q_mean.shape[1] + log_dets)


def test_nan_messages_name_the_likely_cause():
    with pytest.raises(ExerciseError, match=r"NaN.*log of a variance.*logvar.sum") as info:
        check_elbo_gap(logvar_as_variance_gap)
    assert "One gap per example" not in str(info.value)
    with pytest.raises(ExerciseError, match=r"NaN.*log of a variance") as info:
        check_kl_diag_gaussians(
            lambda mq, lq, mp, lp: good_kl(mq, lq.exp().log(), mp, lp) + lq.log().sum(-1)
        )
    assert "Sum the KL" not in str(info.value)


def test_mc_elbo_case_separates_the_two_log_q_mistakes():
    """Walkthrough B3: with sum(logvar) = -K the two mistakes gave the same number."""
    from lecture_utils.checks.nb05 import _linear_gaussian_case

    _, _, q_mean, q_logvar = _linear_gaussian_case()
    K = q_mean.shape[1]
    entropy = 0.5 * (1 + LOG_2PI + q_logvar).sum(1)
    assert ((entropy - 0.5 * K * LOG_2PI).abs() > 0.5).all()  # well beyond the 0.2-nat tolerance


@pytest.mark.parametrize("seed", range(3))
def test_mc_elbo_log_of_mean_is_named_with_other_draws(seed):
    """The 'log of the average' hint does not rely on the student drawing exactly like the check."""

    def fn(*args):
        return log_of_mean_elbo(*args[:-1], torch.Generator().manual_seed(100 + seed))

    with pytest.raises(ExerciseError, match="log of the average"):
        check_mc_elbo(fn)
