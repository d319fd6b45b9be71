"""The VAE's training loss, one batch at a time (introduced in 06_vae): the one-sample
ELBO terms without input checks, the KL weight, notebook 08's free bits, and the
importance-weighted bound that ``scripts/bench_vae.py --set iwae_samples=k`` measures.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lecture_utils._validate import check_number
from lecture_utils.models import VAE, ConditionalVAE


def elbo_terms(
    model: VAE | ConditionalVAE,
    x: torch.Tensor,
    per_dimension: bool = False,
    y: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.elbo_terms(x)`` for a training batch ``x`` ``(B, D)``: one-sample
    ``(reconstruction, kl)``, each ``(B,)`` in nats, the same arithmetic and the same random
    draws (from torch's global generator), without the model's input checks
    (``per_dimension``: the KL per latent dimension, ``(B, K)``). For a
    :class:`~lecture_utils.models.ConditionalVAE` (notebook 09) ``y`` holds the batch's
    one-hot labels ``(B, n_classes)``, given to both networks: ``model.elbo_terms(x, y)``.

    The checks of :meth:`VAE.elbo_terms` (finite values, pixels in [0, 1], shapes) scan every
    pixel several times per call; the training loop's digits were checked once by
    :class:`BinarizedBatches`, so skipping them makes each step about a sixth cheaper.
    """
    if y is None:
        mu, logvar = model.encoder(x).chunk(2, dim=1)  # (B, D) -> (B, K) each
    else:
        mu, logvar = model.encoder(torch.cat([x, y], dim=1)).chunk(2, dim=1)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, K)
    out = model.decoder(z if y is None else torch.cat([z, y], dim=1))  # (B, D)
    if isinstance(model, ConditionalVAE) or model.likelihood == "bernoulli":
        recon = -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    else:
        logvar_x = 2.0 * model.log_sigma
        sq = (x - torch.sigmoid(out)) ** 2 * torch.exp(-logvar_x)
        recon = -0.5 * (sq + logvar_x + math.log(2 * math.pi)).sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, K)
    return recon, (kl if per_dimension else kl.sum(1))


def iwae_loss(
    model: VAE, x: torch.Tensor, n_samples: int, kl_weight: float = 1.0
) -> dict[str, torch.Tensor]:
    """The negative importance-weighted bound (Burda et al., 2016) of a training batch ``x``
    ``(B, D)`` of binary pixels, with S = ``n_samples`` codes per digit, as the training loss,
    and the ELBO's terms to record (per-example means in nats, like :func:`vae_loss`).

    log w_s = log p(x|z_s) + kl_weight * (log p(z_s) - log q(z_s|x)) with z_s ~ q(z|x), and
    the loss is -mean over the batch of log (1/S) sum_s w_s: the same arithmetic as
    ``evaluate.log_mean_exp(evaluate.proposal_log_weights(...))`` (checked in the tests),
    without the input checks, and with the draws from torch's global generator. S = 1 gives a
    one-sample ELBO (with a sampled rather than a closed-form KL). The recorded ``recon`` is
    the mean of -log p(x|z_s) over the S codes, ``kl`` the closed-form KL, ``neg_elbo`` their
    sum."""
    mu, logvar = model.encoder(x).chunk(2, dim=1)  # (B, K) each
    eps = torch.randn((n_samples, *mu.shape), dtype=mu.dtype)  # (S, B, K)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decoder(z.reshape(-1, mu.shape[1])).reshape(n_samples, *x.shape)  # (S, B, D)
    log_px_z = -F.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits), reduction="none"
    ).sum(2)  # (S, B)
    log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(2)
    log_qz = -0.5 * (eps.pow(2) + logvar + math.log(2 * math.pi)).sum(2)
    log_w = log_px_z + kl_weight * (log_pz - log_qz)  # (S, B)
    bound = torch.logsumexp(log_w, dim=0) - math.log(n_samples)  # (B,)
    recon = -log_px_z.mean()
    kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(1).mean()
    return {
        "loss": -bound.mean(),
        "neg_elbo": (recon + kl).detach(),
        "recon": recon.detach(),
        "kl": kl.detach(),
    }


def vae_loss(
    model: VAE | ConditionalVAE,
    batch: tuple[torch.Tensor, ...],
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
    iwae_samples: int = 1,
) -> dict[str, torch.Tensor]:
    """The training loss ``mean(-(recon - kl_weight * KL))`` and the terms to record:
    ``neg_elbo`` (the true negative ELBO), ``recon`` (-E_q log p(x|z)) and ``kl``, per-example
    means in nats over the batch ``x`` ``(B, D)`` or ``(B, 1, 28, 28)`` (see
    :func:`elbo_terms`; a batch ``(x, y)`` carries a conditional VAE's one-hot labels). In
    eval mode (validation) the weight is 1 and there are no free bits, so that the best epoch
    is the best ELBO.

    ``free_bits`` > 0 (training only; notebook 08): the KL in the loss is the sum over latent
    dimensions k of ``max(free_bits, mean over the batch of KL_k)`` (Kingma et al., 2016).

    ``iwae_samples`` > 1 (training only): the loss is :func:`iwae_loss`'s importance-weighted
    bound with that many codes per digit; validation stays the ELBO."""
    if free_bits:
        check_number("free_bits", free_bits, low=0.0)
    x, y = batch[0], (batch[1] if len(batch) > 1 else None)
    w = kl_weight if model.training else 1.0
    if iwae_samples > 1 and model.training:
        return iwae_loss(model, x.reshape(len(x), -1), iwae_samples, w)
    if free_bits and model.training:
        recon, kl_dims = elbo_terms(model, x.reshape(len(x), -1), True, y)
        recon, kl = recon.mean(), kl_dims.sum(1).mean()
        loss = w * kl_dims.mean(0).clamp_min(free_bits).sum() - recon
    else:
        recon, kl = elbo_terms(model, x.reshape(len(x), -1), y=y)
        recon, kl = recon.mean(), kl.mean()
        loss = w * kl - recon
    return {
        "loss": loss,
        "neg_elbo": (kl - recon).detach(),
        "recon": -recon.detach(),
        "kl": kl.detach(),
    }
