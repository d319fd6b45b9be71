"""Checks for the exercises of 09_conditional_and_semi_supervised.

- ``check_cvae_elbo`` (Exercise 9.1): the conditional VAE's one-sample ELBO from given noise
  ``eps``, on a small :class:`~lecture_utils.models.ConditionalVAE` in float64 with weights drawn
  from the check's own generator, against a reference built from the model's two networks and
  ``torch.distributions`` (``Normal``, ``Bernoulli``, ``kl_divergence``), not from the model's
  methods. The typical mistakes are recognised by their values: the loss instead of the ELBO,
  ``+ KL``, no KL, ``z = mu`` (no noise), ``exp(logvar)`` as the standard deviation, the KL
  averaged over the latent dimensions, the decoder told another label than the encoder.
- ``check_unlabelled_elbo`` (Exercise 9.2): M2's unlabelled bound
  U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)) from the per-label bounds ``(B, C)`` and the
  classifier's logits ``(B, C)``, against a plain loop over the labels in float64; one row has a
  classifier so sure that q(y|x) = 0 exactly for some labels (q log q must be 0 there), and when
  q(y|x) is the posterior (logits = L) the answer must be log sum_y exp L(x, y), the bound's top.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from lecture_utils.checks.core import (
    ExerciseError,
    expect_close,
    expect_shape,
    gen,
    matching_hint,
    passed,
    run_student,
)
from lecture_utils.models import ConditionalVAE

CVAE = "Exercise 9.1 (the CVAE's ELBO)"
UNLABELLED = "Exercise 9.2 (M2's unlabelled ELBO)"
f64 = torch.float64


# ----------------------------------------------------------------------------- 9.1
def _small_cvae() -> ConditionalVAE:
    """A float64 CVAE on 4x4 images with 4 labels and a 3-D code; its weights come from the
    check's own generator (torch's global random state is neither used nor changed)."""
    with torch.random.fork_rng(devices=[]):  # the constructor's default init draws globally
        model = ConditionalVAE(3, n_classes=4, hidden_dims=(16,), input_shape=(1, 4, 4)).double()
    g = gen(91)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p.shape[1] if p.ndim == 2 else 1
            p.copy_(torch.randn(p.shape, generator=g, dtype=f64) * 1.5 / math.sqrt(fan_in))
    return model.eval()


def _cvae_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Binary images ``(5, 1, 4, 4)``, labels ``(5,)`` and noise ``(5, 3)``."""
    g = gen(92)
    x = torch.bernoulli(torch.full((5, 1, 4, 4), 0.4, dtype=f64), generator=g)
    y = torch.tensor([0, 3, 1, 2, 3])
    eps = torch.randn(5, 3, generator=g, dtype=f64)
    return x, y, eps


def _cvae_parts(
    model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The reference pieces from the two networks and torch.distributions, each ``(B,)``."""
    onehot = torch.nn.functional.one_hot(y, model.n_classes).to(f64)
    flat = x.flatten(1)
    mu, logvar = model.encoder(torch.cat([flat, onehot], 1)).chunk(2, 1)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    per_dim_kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))  # (B, K)

    def recon(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = model.decoder(torch.cat([z, labels], 1))
        return Independent(Bernoulli(logits=logits), 1).log_prob(flat)

    other = torch.nn.functional.one_hot((y + 1) % model.n_classes, model.n_classes).to(f64)
    z = mu + (0.5 * logvar).exp() * eps
    return {
        "recon": recon(z, onehot),
        "kl": kl_divergence(q, prior),
        "kl_mean_dims": per_dim_kl.mean(1),
        "recon_at_mean": recon(mu, onehot),
        "recon_std_as_var": recon(mu + logvar.exp() * eps, onehot),
        "recon_other_label": recon(z, other),
    }


@torch.no_grad()
def check_cvae_elbo(fn: Callable[..., Any]) -> None:
    """``fn(model, x, y, eps)``: a :class:`ConditionalVAE`, binary images ``(B, 1, H, W)``, int64
    labels ``(B,)`` and standard-normal noise ``(B, K)`` -> the one-sample ELBO ``(B,)`` with
    z = mu + exp(logvar / 2) * eps, mu and logvar from q(z|x, y)."""
    model = _small_cvae()
    x, y, eps = _cvae_inputs()
    got = run_student(CVAE, fn, model, x.clone(), y.clone(), eps.clone())
    got = expect_shape(
        CVAE,
        got,
        (5,),
        "One ELBO per image: shape (B,). Sum the log-likelihood over the pixels and the KL over "
        "the latent dimensions, and do not average over the batch.",
    )
    parts = _cvae_parts(model, x, y, eps)
    expected = parts["recon"] - parts["kl"]
    variants = {
        "Wrong sign: that is the loss, -ELBO. Return the ELBO itself (the number training "
        "maximises): log p(x|z, y) - KL.": -expected,
        "The KL is subtracted, not added: ELBO = E_q[log p(x|z, y)] - KL(q(z|x, y) || p(z)).": (
            parts["recon"] + parts["kl"]
        ),
        "The KL term is missing: ELBO = log p(x|z, y) - KL(q(z|x, y) || p(z)).": parts["recon"],
        "Your z is the mean mu: use the noise, z = mu + exp(logvar / 2) * eps.": (
            parts["recon_at_mean"] - parts["kl"]
        ),
        "exp(logvar) is the variance; the standard deviation is exp(logvar / 2).": (
            parts["recon_std_as_var"] - parts["kl"]
        ),
        "Sum the KL over the latent dimensions; do not average them.": (
            parts["recon"] - parts["kl_mean_dims"]
        ),
        "The decoder must get the same label y as the encoder: log p(x|z, y), the digit you "
        "condition on.": parts["recon_other_label"] - parts["kl"],
    }
    hint = matching_hint(
        got,
        variants,
        "mu, logvar = model.encode(x, y); z = mu + exp(logvar / 2) * eps; then "
        "model.log_likelihood(x, z, y) minus the KL of N(mu, exp(logvar)) to N(0, I), "
        "1/2 sum (mu^2 + exp(logvar) - 1 - logvar).",
    )
    expect_close(CVAE, got, expected, rtol=1e-6, atol=1e-6, hint=hint)
    again = run_student(CVAE, fn, model, x.clone(), y.clone(), eps.clone())
    if not isinstance(again, torch.Tensor) or not torch.equal(again, got):
        raise ExerciseError(
            f"{CVAE}: two calls with the same eps gave different results; draw no new noise, "
            "use the eps you are given."
        )
    passed(
        CVAE,
        "matches torch.distributions (Bernoulli pixels, closed-form Gaussian KL) for 5 images "
        "with 4 labels",
    )


# ----------------------------------------------------------------------------- 9.2
def _unlabelled_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Per-label bounds ``(4, 5)`` near -100 and logits ``(4, 5)``; row 3 is a sure classifier:
    its logits are 800 apart, so q(y|x) is exactly 0 for four labels even in float64."""
    g = gen(93)
    bounds = -100.0 + 6.0 * torch.randn(4, 5, generator=g, dtype=f64)
    logits = 2.0 * torch.randn(4, 5, generator=g, dtype=f64)
    logits[3] = torch.tensor([0.0, -800.0, -800.0, 800.0, -800.0], dtype=f64)
    return bounds, logits


def _unlabelled_reference(bounds: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """sum_y q(y|x) (L(x, y) - log q(y|x)), by a plain loop over images and labels: ``(B,)``."""
    out = []
    for row_l, row_a in zip(bounds.tolist(), logits.tolist()):
        top = max(row_a)
        log_norm = top + math.log(sum(math.exp(a - top) for a in row_a))
        total = 0.0
        for value, a in zip(row_l, row_a):
            log_q = a - log_norm
            total += math.exp(log_q) * (value - log_q)  # exp(log_q) = 0 where q underflows
        out.append(total)
    return torch.tensor(out, dtype=f64)


@torch.no_grad()
def check_unlabelled_elbo(fn: Callable[[torch.Tensor, torch.Tensor], Any]) -> None:
    """``fn(bounds, logits)``: L(x, y) for every label ``(B, C)`` and q(y|x)'s logits ``(B, C)``
    -> U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), shape ``(B,)``."""
    bounds, logits = _unlabelled_inputs()
    got = run_student(UNLABELLED, fn, bounds.clone(), logits.clone())
    got = expect_shape(
        UNLABELLED,
        got,
        (4,),
        "One bound per image: shape (B,). Weight each label's L(x, y) by q(y|x) and sum over "
        "the labels (dim 1); add the entropy, also summed over the labels. If a row is NaN: "
        "for a sure classifier q(y|x) = 0 for some labels, and 0 * log 0 is NaN in floating "
        "point; take log q from torch.log_softmax(logits, 1) and q = log_q.exp().",
    )
    expected = _unlabelled_reference(bounds, logits)
    q = torch.softmax(logits, 1)
    log_q = torch.log_softmax(logits, 1)
    entropy = -(q * log_q).sum(1)
    weighted = (q * bounds).sum(1)
    log_q_batch = torch.log_softmax(logits, 0)  # q over the batch instead of the labels
    variants = {
        "The entropy H(q(y|x)) = -sum_y q log q is missing: without it the best q would put "
        "all its mass on the single label with the largest L(x, y).": weighted,
        "The entropy is added, not subtracted: U = sum_y q (L - log q) = sum_y q L + H(q), "
        "and H(q) = -sum_y q log q >= 0.": weighted - entropy,
        "That is the plain average of L(x, y) over the labels: weight each label by q(y|x), "
        "the classifier's softmax.": bounds.mean(1),
        "That is the sum of L(x, y) over the labels: weight each label by q(y|x), the "
        "classifier's softmax, which sums to 1.": bounds.sum(1),
        "That is L(x, y) at the classifier's most likely label only: U is an expectation "
        "over y ~ q(y|x), every label weighted by its probability.": bounds.gather(
            1, logits.argmax(1, keepdim=True)
        )[:, 0],
        "That is log sum_y exp L(x, y), the top of the bound, reached only when q(y|x) is the "
        "exact posterior; U uses the classifier's q(y|x).": torch.logsumexp(bounds, 1),
        "In the entropy use log q(y|x) = log_softmax(logits), not the raw logits.": weighted
        - (q * logits).sum(1),
        "Your softmax runs over the batch (dim 0): q(y|x) is a distribution over the labels "
        "of each image, softmax over dim 1.": (log_q_batch.exp() * (bounds - log_q_batch)).sum(1),
    }
    hint = matching_hint(
        got,
        variants,
        "log_q = torch.log_softmax(logits, 1); q = log_q.exp(); U = (q * (bounds - log_q)).sum(1).",
    )
    expect_close(UNLABELLED, got, expected, rtol=0, atol=1e-6, hint=hint)
    top = torch.logsumexp(bounds, 1)
    at_posterior = run_student(UNLABELLED, fn, bounds.clone(), bounds.clone())
    expect_close(
        UNLABELLED,
        at_posterior,
        top,
        rtol=0,
        atol=1e-6,
        hint="With logits = L(x, y), q(y|x) is the exact posterior over labels and the bound "
        "must be tight: U(x) = log sum_y exp L(x, y).",
    )
    passed(
        UNLABELLED,
        "matches a loop over the labels (q = 0 included), and equals log sum_y exp L(x, y) "
        "when q(y|x) is the posterior",
    )
