"""The checks of notebook 09 pass right answers and stop typical wrong ones with a hint."""

import pytest
import torch

from lecture_utils.checks.core import ExerciseError
from lecture_utils.checks.nb09 import check_cvae_elbo, check_unlabelled_elbo
from lecture_utils.losses import gaussian_kl


# ----------------------------------------------------------------------------- 9.1
def cvae_elbo(model, x, y, eps, std=lambda lv: (0.5 * lv).exp(), kl_sign=-1.0, decoder_y=None):
    mu, logvar = model.encode(x, y)
    z = mu + std(logvar) * eps
    recon = model.log_likelihood(x, z, y if decoder_y is None else decoder_y(y))
    return recon + kl_sign * gaussian_kl(mu, logvar)


def right_by_hand(model, x, y, eps):
    """The same ELBO written out with the Bernoulli log-likelihood and the KL formula."""
    mu, logvar = model.encode(x, y)
    z = mu + torch.exp(0.5 * logvar) * eps
    p = model.decode(z, y).flatten(1)
    xf = x.flatten(1)
    recon = (xf * p.log() + (1 - xf) * (1 - p).log()).sum(1)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    return recon - kl


def not_solved(*args):
    raise NotImplementedError


@pytest.mark.parametrize("right", [cvae_elbo, right_by_hand, lambda *a: cvae_elbo(*a).float()])
def test_cvae_elbo_accepts_right_answers(right, capsys):
    check_cvae_elbo(right)
    assert "✓ Exercise 9.1 (the CVAE's ELBO) passed" in capsys.readouterr().out


def test_cvae_check_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    check_cvae_elbo(cvae_elbo)
    assert torch.equal(before, torch.random.get_rng_state())


def at_the_mean(model, x, y, eps):
    mu, logvar = model.encode(x, y)
    return model.log_likelihood(x, mu, y) - gaussian_kl(mu, logvar)


def kl_averaged(model, x, y, eps):
    mu, logvar = model.encode(x, y)
    z = mu + (0.5 * logvar).exp() * eps
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(1)
    return model.log_likelihood(x, z, y) - kl


def fresh_noise(model, x, y, eps):
    return cvae_elbo(model, x, y, torch.randn_like(eps))


def other_label(y):
    return (y + 1) % 4


@pytest.mark.parametrize(
    "fn,message",
    [
        (lambda *a: -cvae_elbo(*a), "that is the loss, -ELBO"),
        (lambda *a: cvae_elbo(*a, kl_sign=1.0), "subtracted, not added"),
        (lambda *a: cvae_elbo(*a, kl_sign=0.0), "KL term is missing"),
        (at_the_mean, "Your z is the mean mu"),
        (
            lambda *a: cvae_elbo(*a, std=lambda lv: lv.exp()),
            r"standard deviation is exp\(logvar / 2",
        ),
        (kl_averaged, "do not average them"),
        (lambda *a: cvae_elbo(*a, decoder_y=other_label), "same label y as the encoder"),
        (lambda *a: cvae_elbo(*a).mean(), r"expected shape \(5,\), got \(\)"),
        (lambda *a: cvae_elbo(*a) + 1.0, r"model.log_likelihood\(x, z, y\) minus the KL"),
        (fresh_noise, "differ|same eps"),
        (not_solved, "not solved yet"),
    ],
)
def test_cvae_elbo_rejects_typical_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_cvae_elbo(fn)


# ----------------------------------------------------------------------------- 9.2
def unlabelled(bounds, logits):
    log_q = torch.log_softmax(logits, 1)
    return (log_q.exp() * (bounds - log_q)).sum(1)


def unlabelled_with_distributions(bounds, logits):
    q = torch.distributions.Categorical(logits=logits)
    return (q.probs * bounds).sum(1) + q.entropy()


@pytest.mark.parametrize("right", [unlabelled, unlabelled_with_distributions])
def test_unlabelled_accepts_right_answers(right, capsys):
    check_unlabelled_elbo(right)
    assert "✓ Exercise 9.2 (M2's unlabelled ELBO) passed" in capsys.readouterr().out


def naive_q_log_q(bounds, logits):
    q = torch.softmax(logits, 1)
    return (q * bounds).sum(1) - (q * q.log()).sum(1)  # 0 * log 0 = NaN for a sure classifier


def weighted_only(bounds, logits):
    return (torch.softmax(logits, 1) * bounds).sum(1)


def minus_entropy(bounds, logits):
    log_q = torch.log_softmax(logits, 1)
    return (log_q.exp() * (bounds + log_q)).sum(1)


def at_argmax(bounds, logits):
    return bounds.gather(1, logits.argmax(1, keepdim=True)).squeeze(1)


def logits_in_entropy(bounds, logits):
    q = torch.softmax(logits, 1)
    return (q * (bounds - logits)).sum(1)


def softmax_over_batch(bounds, logits):
    log_q = torch.log_softmax(logits, 0)
    return (log_q.exp() * (bounds - log_q)).sum(1)


@pytest.mark.parametrize(
    "fn,message",
    [
        (weighted_only, "entropy H\\(q\\(y\\|x\\)\\) = -sum_y q log q is missing"),
        (minus_entropy, "entropy is added, not subtracted"),
        (lambda b, a: b.mean(1), "plain average of L"),
        (lambda b, a: b.sum(1), "sum of L\\(x, y\\) over the labels"),
        (at_argmax, "most likely label only"),
        (lambda b, a: torch.logsumexp(b, 1), "top of the bound"),
        (logits_in_entropy, "not the raw logits"),
        (softmax_over_batch, "softmax runs over the batch"),
        (naive_q_log_q, "NaN.*log_softmax"),
        (lambda b, a: unlabelled(b, a)[:, None], r"expected shape \(4,\), got \(4, 1\)"),
        (lambda b, a: unlabelled(b, a) - 0.5, r"U = \(q \* \(bounds - log_q\)\).sum\(1\)"),
        (not_solved, "not solved yet"),
    ],
)
def test_unlabelled_rejects_typical_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_unlabelled_elbo(fn)


def test_unlabelled_check_sees_a_bound_that_is_right_only_away_from_the_posterior():
    """A function right on the check's logits but not at q = posterior fails the second test."""

    def tricky(bounds, logits):
        if torch.equal(bounds, logits):
            return bounds.max(1).values  # not log-sum-exp
        return unlabelled(bounds, logits)

    with pytest.raises(ExerciseError, match="bound must be tight"):
        check_unlabelled_elbo(tricky)
