"""The course's networks: ``Autoencoder`` (01), ``EncoderClassifier`` (03), ``VAE`` (06).

All are multilayer perceptrons on flattened images; sizes are constructor arguments and
the image shape defaults to MNIST's ``(1, 28, 28)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from lecture_utils._validate import (
    DATA_HINT,
    MODEL_HINT,
    check_bool,
    check_choice,
    check_generator,
    check_int_sequence,
    check_number,
    check_positive_int,
    check_same_shape,
    check_tensor,
)
from lecture_utils.losses import bernoulli_log_likelihood, gaussian_kl, gaussian_log_likelihood

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "identity": nn.Identity}


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between them
    (none after the last layer): ``(B, sizes[0]) -> (B, sizes[-1])``."""
    sizes = check_int_sequence("sizes", sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {list(sizes)}")
    act = _ACTIVATIONS[check_choice("activation", activation, tuple(_ACTIVATIONS))]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class _ImageModel(nn.Module):
    """Shared input checks for models that read images of ``input_shape``."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.input_shape = check_int_sequence("input_shape", input_shape)
        if not self.input_shape:
            raise ValueError("input_shape must hold at least one size, e.g. (1, 28, 28)")
        self.input_dim = math.prod(self.input_shape)

    def _check_dtype(self, name: str, x: torch.Tensor) -> None:
        """The model's weights and ``x`` must share a dtype (torch does not mix them)."""
        weight = next(self.parameters(), None)
        if weight is not None and x.dtype != weight.dtype:
            hint = (
                f"{name}.float()" if weight.dtype == torch.float32 else f"{name}.to({weight.dtype})"
            )
            raise TypeError(
                f"{name} has dtype {x.dtype} but the model's weights are {weight.dtype}; use {hint}"
            )

    def _flat(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """``(B, *input_shape)`` or ``(B, input_dim)`` -> ``(B, input_dim)``."""
        check_tensor(name, x, ndim=(2, 1 + len(self.input_shape)), hint=DATA_HINT)
        self._check_dtype(name, x)
        if (
            x.ndim == 2
            and x.shape[1] != self.input_dim
            or x.ndim > 2
            and tuple(x.shape[1:]) != self.input_shape
        ):
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.input_shape))}) "
                f"or (B, {self.input_dim}), got {tuple(x.shape)}"
            )
        return x.reshape(len(x), self.input_dim)  # explicit size: B = 0 works too

    def _check_z(self, z: torch.Tensor, latent_dim: int) -> None:
        check_tensor("z", z, ndim=(1, 2))
        if z.ndim == 1 and len(z) == latent_dim:
            raise ValueError(
                f"z must have shape (B, {latent_dim}), got {tuple(z.shape)}: a batch of codes; "
                "for one code use z.unsqueeze(0)"
            )
        check_tensor("z", z, shape=(None, latent_dim))
        self._check_dtype("z", z)


class Autoencoder(_ImageModel):
    """x -> encoder -> z -> decoder -> x_hat (notebook 01).

    Args:
        latent_dim: size of the code z.
        hidden_dims: hidden layer sizes of the encoder; the decoder mirrors them.
            ``()`` with ``activation="identity"`` and ``output="linear"`` gives the linear
            autoencoder that notebook 01 compares with PCA.
        activation: ``"relu"``, ``"tanh"``, ``"elu"`` or ``"identity"``.
        output: ``"sigmoid"`` (pixels in (0, 1)) or ``"linear"``.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int] = (256,),
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "relu",
        output: str = "sigmoid",
    ) -> None:
        super().__init__(input_shape)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        hidden = list(check_int_sequence("hidden_dims", hidden_dims))
        check_choice("activation", activation, tuple(_ACTIVATIONS))
        self.output = check_choice("output", output, ("sigmoid", "linear"))
        self.encoder = mlp([self.input_dim, *hidden, latent_dim], activation)
        self.decoder = mlp([latent_dim, *hidden[::-1], self.input_dim], activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` or ``(B, input_dim)`` -> codes ``(B, latent_dim)``."""
        return self.encoder(self._flat(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent_dim)`` -> images ``(B, *input_shape)``."""
        self._check_z(z, self.latent_dim)
        out = self.decoder(z)
        if self.output == "sigmoid":
            out = torch.sigmoid(out)
        return out.reshape(len(z), *self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` or ``(B, input_dim)`` -> reconstruction ``(B, *input_shape)``."""
        return self.decode(self.encode(x))


class EncoderClassifier(nn.Module):
    """A classifier that reuses an encoder: ``logits = head(encoder(x))`` (notebook 03).

    The encoder is copied, so training the classifier never changes the model it came from.

    Args:
        encoder: a module mapping ``(B, ...)`` images to ``(B, feature_dim)`` features.
        feature_dim: size of those features (the number the encoder's last layer gives).
        n_classes: number of classes.
        freeze_encoder: train only the head (a *linear probe*).
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        n_classes: int = 10,
        freeze_encoder: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        self.feature_dim = check_positive_int("feature_dim", feature_dim)
        self.n_classes = check_positive_int("n_classes", n_classes)
        check_bool("freeze_encoder", freeze_encoder)
        self.encoder = copy.deepcopy(encoder)
        self.head = nn.Linear(self.feature_dim, self.n_classes)
        self.set_encoder_trainable(not freeze_encoder)

    @classmethod
    def from_autoencoder(
        cls, autoencoder: Autoencoder, n_classes: int = 10, freeze_encoder: bool = False
    ) -> EncoderClassifier:
        """Start from a (pretrained) autoencoder's encoder; features are its codes z
        ``(B, autoencoder.latent_dim)``."""
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(f"autoencoder must be an Autoencoder, got {type(autoencoder).__name__}")
        return cls(
            nn.Sequential(nn.Flatten(), autoencoder.encoder),
            autoencoder.latent_dim,
            n_classes,
            freeze_encoder,
        )

    def set_encoder_trainable(self, trainable: bool) -> None:
        """Freeze (``False``) or unfreeze (``True``) every encoder parameter."""
        check_bool("trainable", trainable)
        for p in self.encoder.parameters():
            p.requires_grad_(trainable)

    @property
    def encoder_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.encoder.parameters())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` -> ``(B, feature_dim)``."""
        check_tensor("x", x, hint=DATA_HINT)
        if x.ndim < 2:
            raise ValueError(
                f"x must be a batch (B, ...), got shape {tuple(x.shape)}; "
                "for one image use x.unsqueeze(0)"
            )
        weight = self.head.weight
        if x.dtype != weight.dtype:
            raise TypeError(
                f"x has dtype {x.dtype} but the model's weights are {weight.dtype}; "
                f"use x.to({weight.dtype})"
            )
        features = self.encoder(x)
        if (
            not isinstance(features, torch.Tensor)
            or features.ndim != 2
            or features.shape != (len(x), self.feature_dim)
        ):
            got = (
                f"shape {tuple(features.shape)}"
                if isinstance(features, torch.Tensor)
                else f"a {type(features).__name__}, not a tensor,"
            )
            raise ValueError(
                f"the encoder gave features of {got} for {len(x)} images, but "
                f"feature_dim={self.feature_dim} expects ({len(x)}, {self.feature_dim}); pass "
                "the encoder's output size as feature_dim (and flatten its output to 2-D)"
            )
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` -> logits ``(B, n_classes)``."""
        return self.head(self.features(x))


class VAE(_ImageModel):
    """Variational autoencoder with a Gaussian q_phi(z|x) and prior N(0, I) (notebook 06).

    Args:
        latent_dim: size of z.
        hidden_dims: hidden sizes of the encoder; the decoder mirrors them.
        likelihood: ``"bernoulli"`` (binary pixels; the decoder outputs logits) or
            ``"gaussian"`` (the decoder outputs a mean in (0, 1), with variance ``sigma**2``).
        sigma: the Gaussian decoder's standard deviation (ignored for Bernoulli).
        learn_sigma: learn one shared ``log sigma`` instead of fixing it.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int] = (400,),
        likelihood: str = "bernoulli",
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "relu",
        sigma: float = 0.1,
        learn_sigma: bool = False,
    ) -> None:
        super().__init__(input_shape)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.likelihood = check_choice("likelihood", likelihood, ("bernoulli", "gaussian"))
        hidden = list(check_int_sequence("hidden_dims", hidden_dims))
        check_choice("activation", activation, tuple(_ACTIVATIONS))
        sigma = check_number("sigma", sigma, low=0.0, low_open=True)
        check_bool("learn_sigma", learn_sigma)
        self.encoder = mlp([self.input_dim, *hidden, 2 * latent_dim], activation)
        self.decoder = mlp([latent_dim, *hidden[::-1], self.input_dim], activation)
        log_sigma = torch.tensor(math.log(sigma))
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_phi(z|x): ``(B, *input_shape)`` or ``(B, input_dim)`` -> ``(mu, logvar)``, each
        ``(B, latent_dim)``."""
        mu, logvar = self.encoder(self._flat(x)).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through.

        ``mu`` and ``logvar`` (log sigma^2) have the same shape, ``(B, latent_dim)`` from
        :meth:`encode`; ``z`` has that shape too. No broadcasting: a mismatch raises.
        """
        check_tensor("mu", mu, hint=MODEL_HINT)
        check_tensor("logvar", logvar, hint=MODEL_HINT)
        check_same_shape("mu", mu, "logvar", logvar)
        if generator is not None:
            check_generator("generator", generator)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent_dim)`` -> raw decoder output ``(B, *input_shape)``: logits
        (Bernoulli) or the pre-sigmoid mean (Gaussian)."""
        self._check_z(z, self.latent_dim)
        return self.decoder(z).reshape(len(z), *self.input_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent_dim)`` -> mean images ``(B, *input_shape)`` in (0, 1)."""
        return torch.sigmoid(self.decoder_output(z))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p_theta(x|z) -> ``(B,)`` for images ``x`` ``(B, *input_shape)`` (or
        ``(B, input_dim)``) and codes ``z`` ``(B, latent_dim)``."""
        x = self._flat(x)
        self._check_z(z, self.latent_dim)
        if len(x) != len(z):
            raise ValueError(f"x and z need the same batch size, got {len(x)} and {len(z)}")
        out = self.decoder_output(z)
        x = x.reshape(out.shape)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(out, x)
        return gaussian_log_likelihood(torch.sigmoid(out), x, 2.0 * self.log_sigma)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images ``(B, *input_shape)`` -> ``(x_mean, mu, logvar)``: the decoded mean
        ``(B, *input_shape)`` of one sample z ~ q(z|x), and q's ``(B, latent_dim)`` parameters."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar

    def elbo_terms(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample ``(reconstruction, kl)``, each ``(B,)`` in nats:
        E_q[log p(x|z)] estimated with one z, and KL(q(z|x) || p(z)) in closed form."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.log_likelihood(x, z), gaussian_kl(mu, logvar)

    def elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-example ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)) -> ``(B,)`` in nats."""
        recon, kl = self.elbo_terms(x, generator)
        return recon - kl

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws z ~ N(0, I) -> mean images ``(n, *input_shape)``."""
        if generator is not None:
            check_generator("generator", generator)
        dtype = self.log_sigma.dtype
        z = torch.randn(
            check_positive_int("n", n), self.latent_dim, generator=generator, dtype=dtype
        )
        return self.decode(z)


def one_hot_labels(y: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """Labels -> ``(B, n_classes)`` rows of ``dtype`` (notebook 09).

    ``y`` is either int64 class indices ``(B,)`` in ``0 .. n_classes - 1`` (made one-hot) or
    already a ``(B, n_classes)`` float tensor of label weights (one-hot rows, or q(y|x)'s
    probabilities), passed through unchanged.
    """
    check_tensor("y", y, ndim=(1, 2), floating=False)
    if y.ndim == 1:
        if y.dtype != torch.int64:
            raise TypeError(
                f"y as class indices must be int64, got {y.dtype}; use y.long() "
                f"(or pass (B, {n_classes}) float label weights)"
            )
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(
                f"y holds class indices from {int(y.min())} to {int(y.max())}; they must lie "
                f"in 0 .. {n_classes - 1}"
            )
        return torch.nn.functional.one_hot(y, n_classes).to(dtype)
    check_tensor("y", y, shape=(None, n_classes), low=0.0, high=1.0)
    if y.dtype != dtype:
        raise TypeError(
            f"y has dtype {y.dtype} but the model's weights are {dtype}; use y.to({dtype})"
        )
    return y


class ConditionalVAE(_ImageModel):
    """A VAE told the label: q_phi(z|x, y), p_theta(x|z, y), prior p(z) = N(0, I) (notebook 09).

    The label enters both networks as a one-hot vector concatenated to their input, so z is
    free to carry what the label does not say: the *style* of the digit (slant, thickness).
    Pixels are Bernoulli (the decoder outputs logits), as in notebook 06. Every method takes
    the labels ``y`` as int64 class indices ``(B,)`` or as ``(B, n_classes)`` float weights
    (see :func:`one_hot_labels`). The semi-supervised M2 model of notebook 09 reuses this class
    for its generative part.

    Args:
        latent_dim: size of z.
        n_classes: number of labels.
        hidden_dims: hidden sizes of the encoder; the decoder mirrors them.
        activation: ``"relu"``, ``"tanh"``, ``"elu"`` or ``"identity"``.
    """

    def __init__(
        self,
        latent_dim: int,
        n_classes: int = 10,
        hidden_dims: Sequence[int] = (512, 256),
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "elu",
    ) -> None:
        super().__init__(input_shape)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.n_classes = check_positive_int("n_classes", n_classes)
        hidden = list(check_int_sequence("hidden_dims", hidden_dims))
        check_choice("activation", activation, tuple(_ACTIVATIONS))
        self.encoder = mlp([self.input_dim + n_classes, *hidden, 2 * latent_dim], activation)
        self.decoder = mlp([latent_dim + n_classes, *hidden[::-1], self.input_dim], activation)

    def _labels(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        dtype = self.decoder[0].weight.dtype
        rows = one_hot_labels(y, self.n_classes, dtype)
        if len(rows) != batch:
            raise ValueError(f"y must hold {batch} labels (one per example), got {len(rows)}")
        return rows

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_phi(z|x, y): images ``(B, *input_shape)`` or ``(B, input_dim)`` and labels ->
        ``(mu, logvar)``, each ``(B, latent_dim)``."""
        x = self._flat(x)
        mu, logvar = self.encoder(torch.cat([x, self._labels(y, len(x))], dim=1)).chunk(2, dim=1)
        return mu, logvar

    def decoder_output(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent_dim)`` and labels -> logits ``(B, *input_shape)``."""
        self._check_z(z, self.latent_dim)
        out = self.decoder(torch.cat([z, self._labels(y, len(z))], dim=1))
        return out.reshape(len(z), *self.input_shape)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, latent_dim)`` and labels -> mean images ``(B, *input_shape)`` in (0, 1)."""
        return torch.sigmoid(self.decoder_output(z, y))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p_theta(x|z, y) -> ``(B,)`` for binary images ``x``, codes ``z`` and labels."""
        x = self._flat(x)
        if len(x) != len(z):
            raise ValueError(f"x and z need the same batch size, got {len(x)} and {len(z)}")
        out = self.decoder_output(z, y)
        return bernoulli_log_likelihood(out, x.reshape(out.shape))

    def elbo_terms(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample ``(reconstruction, kl)``, each ``(B,)`` in nats: E_q[log p(x|z, y)]
        estimated with one z ~ q(z|x, y), and KL(q(z|x, y) || p(z)) in closed form."""
        mu, logvar = self.encode(x, y)
        z = VAE.reparameterize(mu, logvar, generator)
        return self.log_likelihood(x, z, y), gaussian_kl(mu, logvar)

    def elbo(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Per-example conditional ELBO, a lower bound on log p(x|y) -> ``(B,)`` in nats."""
        recon, kl = self.elbo_terms(x, y, generator)
        return recon - kl

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw z ~ N(0, I) per label, decoded -> mean images ``(B, *input_shape)``:
        ``sample(torch.full((8,), 7))`` draws eight sevens."""
        if generator is not None:
            check_generator("generator", generator)
        rows = self._labels(y, len(y) if isinstance(y, torch.Tensor) and y.ndim else 0)
        z = torch.randn(len(rows), self.latent_dim, generator=generator, dtype=rows.dtype)
        return self.decode(z, rows)
