"""The M2 model and its objective (introduced in 09_conditional_and_semi_supervised): the
labelled ELBO L(x, y), the unlabelled bound U(x) and the training loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils._validate import (
    DATA_HINT,
    check_choice,
    check_int_sequence,
    check_number,
    check_tensor,
)
from lecture_utils.classify import _check_labels
from lecture_utils.models import ConditionalVAE, mlp, one_hot_labels

LIKELIHOODS = ("bernoulli", "gaussian")


class M2(nn.Module):
    """Kingma et al.'s M2: p(y) = 1/C, p(z) = N(0, I), p(x|y, z); q(y|x), q(z|x, y) (notebook 09).

    ``.cvae`` is a :class:`models.ConditionalVAE` (p(x|y, z) and q(z|x, y)); ``.classifier``
    maps ``(B, input_dim)`` to logits ``(B, n_classes)`` of q(y|x). With
    ``likelihood="gaussian"`` (M2 on M1's features, ``input_shape=(K,)``) the decoder's output
    is the mean of a Gaussian with one learned standard deviation per dimension
    (``log_sigma``); with ``"bernoulli"`` (pixels) it is the logits of binary pixels.

    The ELBO of one label ``L(x, y) = E_q(z|x,y)[log p(x|y, z)] - KL(q(z|x,y) || p(z)) + log p(y)``
    is estimated with one z. :meth:`unlabelled_elbo` computes it for every label at once: the
    label enters the first layer of each network as a one-hot vector, so that layer's product
    with x is computed once and each label adds its own column of weights.
    """

    def __init__(
        self,
        latent_dim: int,
        n_classes: int = 10,
        hidden_dims: Sequence[int] = (500,),
        classifier_dims: Sequence[int] = (500,),
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "elu",
        likelihood: str = "bernoulli",
    ) -> None:
        super().__init__()
        self.cvae = ConditionalVAE(latent_dim, n_classes, hidden_dims, input_shape, activation)
        check_int_sequence("classifier_dims", classifier_dims)
        self.classifier = mlp([self.cvae.input_dim, *classifier_dims, n_classes], activation)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        if likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.zeros(self.cvae.input_dim))
        self.latent_dim, self.n_classes = self.cvae.latent_dim, self.cvae.n_classes
        self.input_dim, self.input_shape = self.cvae.input_dim, self.cvae.input_shape

    def _flat_x(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cvae._flat(x)
        if self.likelihood == "bernoulli":
            check_tensor("x", x, low=0.0, high=1.0, hint=DATA_HINT)
        return x

    def classifier_logits(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x)'s logits: images ``(B, *input_shape)`` or ``(B, input_dim)`` -> ``(B, C)``."""
        return self.classifier(self._flat_x(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's logits ``(B, C)`` (so ``classify.accuracy(m2, x, y)`` works)."""
        return self.classifier_logits(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable label under q(y|x): ``(B, ...)`` -> int64 ``(B,)``."""
        return self.classifier_logits(x).argmax(dim=1)

    # the arithmetic, without input checks (the training loop calls it thousands of times)
    def _log_px(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|y, z) summed over dimensions: decoder outputs ``(..., D)``, ``x`` broadcast."""
        x = x.expand_as(out)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
        var_term = 2.0 * self.log_sigma + math.log(2 * math.pi)
        return -0.5 * (((x - out) * torch.exp(-self.log_sigma)) ** 2 + var_term).sum(-1)

    def _elbo(self, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor) -> torch.Tensor:
        """One-sample L(x, y) for ``x`` ``(B, D)``: with labels ``y`` ``(B,)`` -> ``(B,)``; with
        ``y=None`` for every label -> ``(C, B)``, using ``eps`` ``(B, K)`` or ``(C, B, K)``."""
        enc, dec, d, k = self.cvae.encoder, self.cvae.decoder, self.input_dim, self.latent_dim
        w_enc, w_dec = enc[0].weight, dec[0].weight  # (H, D + C), (H', K + C)
        per_label_enc, per_label_dec = w_enc[:, d:].T, w_dec[:, k:].T  # (C, H), (C, H')
        if y is None:
            per_label_enc, per_label_dec = per_label_enc.unsqueeze(1), per_label_dec.unsqueeze(1)
        else:
            per_label_enc, per_label_dec = per_label_enc[y], per_label_dec[y]
        h = F.linear(x, w_enc[:, :d], enc[0].bias) + per_label_enc  # (B, H) or (C, B, H)
        mu, logvar = enc[1:](h).chunk(2, dim=-1)  # (..., K) each
        z = mu + torch.exp(0.5 * logvar) * eps
        out = dec[1:](F.linear(z, w_dec[:, :k], dec[0].bias) + per_label_dec)  # (..., D)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        return self._log_px(out, x) - kl - math.log(self.n_classes)

    def _draw(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=self.cvae.decoder[0].weight.dtype)

    def _unlabelled(
        self, x: torch.Tensor, logits: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        table = self._elbo(
            x, None, self._draw((self.n_classes, len(x), self.latent_dim), generator)
        )
        log_q = torch.log_softmax(logits, dim=1)  # (B, C)
        q = log_q.exp()
        return (q * (table.T - log_q)).sum(dim=1)  # sum_y q (L - log q) = E_q[L] + H(q)

    # the public objective
    def labelled_elbo(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """L(x, y) = ConditionalVAE's ELBO + log p(y), a lower bound on log p(x, y) -> ``(B,)``
        in nats; one z ~ q(z|x, y) per digit (drawn like ``cvae.elbo``: ``(B, K)`` normals)."""
        x = self._flat_x(x)
        rows = one_hot_labels(y, self.n_classes, x.dtype)
        if len(rows) != len(x):
            raise ValueError(f"y must hold {len(x)} labels (one per digit), got {len(rows)}")
        if y.ndim != 1:
            raise ValueError("labelled_elbo needs class indices y (B,) int64, one label per digit")
        return self._elbo(x, y, self._draw((len(x), self.latent_dim), generator))

    def label_elbos(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """L(x, y) for every label: ``(B, ...)`` -> ``(B, C)`` in nats, one z per pair, the normals
        drawn at once, shape ``(C, B, K)``, label first. Its argmax over y is the generative
        model's own guess of the label (notebook 09 compares it with q(y|x))."""
        x = self._flat_x(x)
        return self._elbo(
            x, None, self._draw((self.n_classes, len(x), self.latent_dim), generator)
        ).T

    def unlabelled_elbo(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), a lower bound on log p(x) -> ``(B,)`` in nats.

        L(x, y) is estimated with one z for every pair: the normals are drawn at once, shape
        ``(C, B, K)``, label first (``eps[y]`` is the draw for label y)."""
        x = self._flat_x(x)
        return self._unlabelled(x, self.classifier(x), generator)

    def loss(
        self,
        x_labelled: torch.Tensor,
        y: torch.Tensor,
        x_unlabelled: torch.Tensor,
        alpha: float,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """The training objective, per digit: ``-mean L(x_l, y) - mean U(x_u) + alpha * mean
        cross-entropy of q(y|x_l)`` -> ``{"loss", "neg_labelled", "neg_unlabelled",
        "cross_entropy"}`` (scalars; the last three detached). ``x_labelled`` ``(B_l, ...)``
        with labels ``y`` ``(B_l,)``, ``x_unlabelled`` ``(B_u, ...)``."""
        x_l, x_u = self._flat_x(x_labelled), self._flat_x(x_unlabelled)
        y = _check_labels(y, len(x_l))
        alpha = check_number("alpha", alpha, low=0.0)
        return self._loss(x_l, y, x_u, alpha, generator)

    def _loss(self, x_l, y, x_u, alpha, generator, unlabelled=True) -> dict[str, torch.Tensor]:
        labelled = self._elbo(x_l, y, self._draw((len(x_l), self.latent_dim), generator)).mean()
        if not unlabelled:  # the control: q(y|x) learns from the labelled digits alone
            ce = F.cross_entropy(self.classifier(x_l), y)
            return {"loss": -labelled + alpha * ce, "neg_labelled": -labelled.detach(),
                    "cross_entropy": ce.detach()}  # fmt: skip
        logits = self.classifier(torch.cat([x_l, x_u]))
        ce = F.cross_entropy(logits[: len(x_l)], y)
        unlabelled = self._unlabelled(x_u, logits[len(x_l) :], generator).mean()
        return {
            "loss": -labelled - unlabelled + alpha * ce,
            "neg_labelled": -labelled.detach(),
            "neg_unlabelled": -unlabelled.detach(),
            "cross_entropy": ce.detach(),
        }
