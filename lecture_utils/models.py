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

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.losses import bernoulli_log_likelihood, gaussian_kl, gaussian_log_likelihood

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "identity": nn.Identity}


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between them
    (none after the last layer)."""
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {list(sizes)}")
    for s in sizes:
        check_positive_int("each size", s)
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
        self.input_shape = tuple(input_shape)
        self.input_dim = math.prod(self.input_shape)

    def _flat(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """``(B, *input_shape)`` or ``(B, input_dim)`` -> ``(B, input_dim)``."""
        check_tensor(name, x, ndim=(2, 1 + len(self.input_shape)))
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
        return x.reshape(len(x), -1)

    def _check_z(self, z: torch.Tensor, latent_dim: int) -> None:
        check_tensor("z", z, shape=(None, latent_dim))


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
        self.output = check_choice("output", output, ("sigmoid", "linear"))
        hidden = list(hidden_dims)
        self.encoder = mlp([self.input_dim, *hidden, latent_dim], activation)
        self.decoder = mlp([latent_dim, *hidden[::-1], self.input_dim], activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28, 28)`` -> ``(B, latent_dim)``."""
        return self.encoder(self._flat(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> ``(B, 1, 28, 28)``."""
        self._check_z(z, self.latent_dim)
        out = self.decoder(z)
        if self.output == "sigmoid":
            out = torch.sigmoid(out)
        return out.reshape(len(z), *self.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``x_hat`` with the shape of ``x``'s images."""
        return self.decode(self.encode(x))


class EncoderClassifier(nn.Module):
    """A classifier that reuses an encoder: ``logits = head(encoder(x))`` (notebook 03).

    The encoder is copied, so training the classifier never changes the model it came from.

    Args:
        encoder: a module mapping ``(B, ...)`` images to ``(B, feature_dim)`` features.
        feature_dim: size of those features.
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
        self.encoder = copy.deepcopy(encoder)
        self.head = nn.Linear(
            check_positive_int("feature_dim", feature_dim),
            check_positive_int("n_classes", n_classes),
        )
        self.set_encoder_trainable(not freeze_encoder)

    @classmethod
    def from_autoencoder(
        cls, autoencoder: Autoencoder, n_classes: int = 10, freeze_encoder: bool = False
    ) -> EncoderClassifier:
        """Start from a (pretrained) autoencoder's encoder; features are its codes z."""
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
        for p in self.encoder.parameters():
            p.requires_grad_(trainable)

    @property
    def encoder_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.encoder.parameters())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` -> ``(B, feature_dim)``."""
        check_tensor("x", x)
        return self.encoder(x)

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
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        hidden = list(hidden_dims)
        self.encoder = mlp([self.input_dim, *hidden, 2 * latent_dim], activation)
        self.decoder = mlp([latent_dim, *hidden[::-1], self.input_dim], activation)
        log_sigma = torch.tensor(math.log(sigma))
        if learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_phi(z|x): ``(B, 1, 28, 28)`` -> ``(mu, logvar)``, each ``(B, latent_dim)``."""
        mu, logvar = self.encoder(self._flat(x)).chunk(2, dim=1)
        return mu, logvar

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def decoder_output(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder output ``(B, 1, 28, 28)``: logits (Bernoulli) or pre-sigmoid mean."""
        self._check_z(z, self.latent_dim)
        return self.decoder(z).reshape(len(z), *self.input_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent_dim)`` -> mean image ``(B, 1, 28, 28)`` in (0, 1)."""
        return torch.sigmoid(self.decoder_output(z))

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p_theta(x|z) -> ``(B,)``; ``x`` and ``z`` have the same batch size."""
        if len(x) != len(z):
            raise ValueError(f"x and z need the same batch size, got {len(x)} and {len(z)}")
        out = self.decoder_output(z)
        x = self._flat(x).reshape(out.shape)
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(out, x)
        return gaussian_log_likelihood(torch.sigmoid(out), x, 2.0 * self.log_sigma)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> ``(x_mean, mu, logvar)``: the decoded mean of one sample z ~ q(z|x)."""
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
        """Decode ``n`` draws z ~ N(0, I) -> mean images ``(n, 1, 28, 28)``."""
        z = torch.randn(check_positive_int("n", n), self.latent_dim, generator=generator)
        return self.decode(z)
