"""The checks of notebook 04 accept a correct answer and explain typical wrong ones."""

import math

import pytest
import torch

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb04 import (
    check_log_marginal_mc,
    check_posterior_from_joint,
    check_posterior_on_grid,
)


def prior_draws(latent_dim, n, b, generator):
    return torch.randn(n, b, latent_dim, generator=generator, dtype=torch.float64)


def good_mc(log_likelihood, x, latent_dim, n_samples, generator):
    log_w = log_likelihood(x, prior_draws(latent_dim, n_samples, len(x), generator))
    return torch.logsumexp(log_w, 0) - math.log(n_samples)


def sum_not_mean(log_likelihood, x, latent_dim, n_samples, generator):
    return torch.logsumexp(
        log_likelihood(x, prior_draws(latent_dim, n_samples, len(x), generator)), 0
    )


def mean_of_logs(log_likelihood, x, latent_dim, n_samples, generator):
    return log_likelihood(x, prior_draws(latent_dim, n_samples, len(x), generator)).mean(0)


def naive_exp(log_likelihood, x, latent_dim, n_samples, generator):
    return (
        log_likelihood(x, prior_draws(latent_dim, n_samples, len(x), generator)).exp().mean(0).log()
    )


def no_generator(log_likelihood, x, latent_dim, n_samples, generator):
    return good_mc(log_likelihood, x, latent_dim, n_samples, None)


def wrong_dim(log_likelihood, x, latent_dim, n_samples, generator):
    log_w = log_likelihood(x, prior_draws(latent_dim, n_samples, len(x), generator))
    return torch.logsumexp(log_w, 0, keepdim=True) - math.log(n_samples)


def wide_prior(log_likelihood, x, latent_dim, n_samples, generator):
    z = 2.0 * prior_draws(latent_dim, n_samples, len(x), generator)
    return torch.logsumexp(log_likelihood(x, z), 0) - math.log(n_samples)


def test_log_marginal_mc_accepts_the_answer(capsys):
    check_log_marginal_mc(good_mc)
    assert "✓ Exercise 4.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn,message",
    [
        (sum_not_mean, "subtract log S to take their mean"),
        (mean_of_logs, "Jensen"),
        (naive_exp, "Never exponentiate"),
        (no_generator, "same generator"),
        (wrong_dim, r"expected shape \(4,\), got \(1, 4\)"),
        (wide_prior, "from the prior N\\(0, I\\)"),
    ],
)
def test_log_marginal_mc_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_log_marginal_mc(fn)


def test_unsolved_stub_gets_the_friendly_message():
    def stub(*args):
        raise NotImplementedError

    with pytest.raises(ExerciseError, match="Exercise 4.1: not solved yet"):
        check_posterior_from_joint(stub)
    with pytest.raises(ExerciseError, match="Exercise 4.2: not solved yet"):
        check_log_marginal_mc(stub)
    with pytest.raises(ExerciseError, match="Exercise 4.3: not solved yet"):
        check_posterior_on_grid(stub)


def good_posterior(log_prior, log_likelihood, dz):
    log_joint = log_likelihood + log_prior
    return (log_joint - torch.logsumexp(log_joint, 1, keepdim=True) - math.log(dz)).exp()


def no_prior(log_prior, log_likelihood, dz):
    return good_posterior(torch.zeros_like(log_prior), log_likelihood, dz)


def sums_to_one(log_prior, log_likelihood, dz):
    return torch.softmax(log_likelihood + log_prior, 1)


def unnormalised(log_prior, log_likelihood, dz):
    return (log_likelihood + log_prior).exp()


def naive_bayes(log_prior, log_likelihood, dz):
    joint = (log_likelihood + log_prior).exp()
    return joint / (joint.sum(1, keepdim=True) * dz)


def transposed(log_prior, log_likelihood, dz):
    return good_posterior(log_prior, log_likelihood, dz).T


def test_posterior_on_grid_accepts_the_answer(capsys):
    check_posterior_on_grid(good_posterior)
    check_posterior_on_grid(lambda lp, ll, dz: good_posterior(lp, ll, dz).float())
    assert capsys.readouterr().out.count("✓ Exercise 4.3 passed") == 2


@pytest.mark.parametrize(
    "fn,message",
    [
        (no_prior, "You left out the prior"),
        (sums_to_one, "divide by dz as well"),
        (unnormalised, "without dividing by p\\(x\\)"),
        (naive_bayes, "normalise in log space"),
        (transposed, r"expected shape \(3, 1201\), got \(1201, 3\)"),
    ],
)
def test_posterior_on_grid_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_posterior_on_grid(fn)


def test_log_marginal_tolerance_holds_for_other_seeds():
    """The correct answer passes whatever its random draws (the tolerance is not luck)."""
    for seed in range(5):

        def shifted_seed(log_likelihood, x, latent_dim, n_samples, generator, seed=seed):
            generator = torch.Generator().manual_seed(1000 + seed)
            return good_mc(log_likelihood, x, latent_dim, n_samples, generator)

        check_log_marginal_mc(shifted_seed)


def good_conditional(joint):
    return joint / joint.sum(dim=0)


def wrong_axis(joint):  # p(x | z): the rows sum to 1
    return joint / joint.sum(dim=1, keepdim=True)


def joint_only(joint):  # forgot to divide by the marginal
    return joint


def divide_by_total(joint):  # "normalised", but over the whole table
    return joint / joint.sum()


def times_marginal(joint):
    return joint * joint.sum(dim=0)


def broadcast_wrong_marginal(joint):  # p(z) without keepdim: fails on (3, 4), silent on (3, 3)
    return joint / joint.sum(dim=1)


def broadcast_on_square_only(joint):  # reaches the square table: the silent case
    if joint.shape[0] != joint.shape[1]:
        return good_conditional(joint)
    return joint / joint.sum(dim=1)


def transposed_conditional(joint):
    return good_conditional(joint).T


def bayes_from_the_parts(joint):  # p(x|z) p(z) / p(x): Bayes' rule, the same answer
    p_z = joint.sum(1, keepdim=True)
    return (joint / p_z) * p_z / joint.sum(0)


def test_posterior_from_joint_accepts_right_answers(capsys):
    check_posterior_from_joint(good_conditional)
    check_posterior_from_joint(bayes_from_the_parts)
    check_posterior_from_joint(lambda joint: good_conditional(joint.float()))
    assert capsys.readouterr().out.count("✓ Exercise 4.1 passed") == 3


@pytest.mark.parametrize(
    "fn,message",
    [
        (wrong_axis, "normalised over the wrong axis"),
        (joint_only, "You returned the joint"),
        (divide_by_total, "You returned the joint"),
        (times_marginal, "multiplied by the marginal"),
        (broadcast_wrong_marginal, r"raised RuntimeError .* shape \(3, 4\)"),
        (broadcast_on_square_only, "Column j was divided by p\\(z = j\\)"),
        (transposed_conditional, r"expected shape \(3, 4\), got \(4, 3\)"),
    ],
)
def test_posterior_from_joint_explains_mistakes(fn, message):
    with pytest.raises(ExerciseError, match=message):
        check_posterior_from_joint(fn)


def test_posterior_from_joint_reference_is_a_conditional():
    """The by-hand reference: columns sum to 1 and times p(x) give the joint back."""
    from lecture_utils.checks.nb04 import _conditional_by_hand, _joint_table

    joint = _joint_table(3, 4, 0)
    cond = _conditional_by_hand(joint).double()
    torch.testing.assert_close(cond.sum(0), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(cond * joint.sum(0), joint)
    assert not torch.allclose(cond.sum(1), torch.ones(3, dtype=torch.float64))
