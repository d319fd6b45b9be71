"""Training a VAE on the embedded MNIST digits, as notebook 06 does (introduced in 06_vae).

Everything that decides the result is one frozen :class:`VAERecipe`: the network, the
optimiser's learning-rate schedule, the KL warm-up, how digits are binarised, the validation
slice used for early stopping, and the seed. :func:`train_vae` turns a recipe into a trained
model and its history with :func:`lecture_utils.training.fit`; :func:`train_vae_cached` does the
same but keeps the weights in the course's model cache (:mod:`lecture_utils.cache`), so that a
second run of notebook 06 loads them instead of training again. Notebook 07 loads notebook 06's
2-D VAE from the same cache (:mod:`lecture_utils.model_cache`). Notebook 08 loads notebook 06's
models the same way and trains its own small runs (:data:`SMALL_RECIPE`, :data:`BETA_SWEEP`,
:data:`COLLAPSE_RUNS`), for which a recipe can train on a subset (``train_size``) and with free
bits (``free_bits``).

The choices, each explained in notebook 06:

- **dynamic binarisation**: every time a training digit is used, its grey levels are turned
  into a fresh black-and-white image (pixel = 1 with probability = grey level), so 8,000
  digits give many different binary images; validation and test digits keep their one fixed
  binarisation, so that their log-likelihoods are comparable;
- **KL warm-up** (:func:`kl_weight`, applied by the :class:`KLWarmup` callback): the KL term's
  weight rises linearly over the first epochs, so that the encoder learns to use its codes
  before the KL term pulls them towards the prior;
- **a learning-rate schedule** (:func:`learning_rate`, applied by a ``LambdaLR`` scheduler): a
  short linear warm-up to the peak rate, then a cosine decay;
- **early stopping without stopping**: after each epoch the negative ELBO on a validation
  slice of the *training* digits is measured, and the weights of the best epoch are kept.

Two more are there to be tried, and are off in the course's recipes because they did not help
on the validation slice (notebook 06 has the table): averaging the weights
(:class:`WeightAverage`) and random shifts of the training digits (:func:`random_shift`).

The loop is written to spend its time in the matrix products: Adam's update is fused into one
pass over the weights, the digits are checked once (:class:`BinarizedBatches`) rather than in
every step (:func:`elbo_terms`), and the binarisation compares uniform draws with the grey
levels. ``scripts/bench_vae.py`` measures how close that comes to the machine's rate.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from lecture_utils import cache
from lecture_utils._validate import (
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_int_sequence,
    check_nonneg_int,
    check_number,
    check_positive_int,
    check_tensor,
)
from lecture_utils.data import load_mnist
from lecture_utils.models import VAE, ConditionalVAE
from lecture_utils.training import Callback, EpochTimer, History, Progress, ProgressTo, fit

#: bumped whenever the training code changes what a recipe produces (so that a model cached by
#: older code is trained again); part of :meth:`VAERecipe.cache_key`
TRAINING_VERSION = 2
SCHEDULES = ("constant", "cosine")
BINARIZATIONS = ("dynamic", "fixed", "grey")
LIKELIHOODS = ("bernoulli", "gaussian")
#: the activations ``models.mlp`` knows
ACTIVATIONS = ("relu", "tanh", "elu", "identity")


@dataclass(frozen=True)
class VAERecipe:
    """Everything that decides a trained VAE (notebook 06).

    Args:
        name: names the model in the cache's file names and messages (letters, digits,
            ``.``, ``_``, ``-``); the course's recipes start with their notebook, ``nb06-``.
        latent_dim, hidden_dims, activation, likelihood, sigma: the :class:`VAE`'s arguments.
        epochs: passes over the training digits.
        batch_size: digits per gradient step.
        lr: the peak learning rate of Adam.
        schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over ``lr_warmup_epochs``,
            then a cosine decay to ``lr * final_lr_fraction``); set once per epoch.
        kl_warmup_epochs: the epochs whose KL weight is below ``beta`` (see :func:`kl_weight`;
            0: no warm-up).
        beta: the KL weight after the warm-up (1 gives the ELBO; notebook 06's look ahead).
        free_bits: nats per latent dimension that the KL term does not charge for (Kingma et
            al., 2016; notebook 08): each dimension's batch-mean KL enters the training loss
            as ``max(free_bits, KL_k)``, so a dimension gains nothing by carrying less than
            that. 0 (the default): the plain KL. The recorded ``kl`` and ``neg_elbo`` are
            always the true ones.
        binarize: ``"dynamic"`` (fresh binary images every epoch), ``"fixed"`` (the package's
            one binarised copy) or ``"grey"`` (grey levels, for a Gaussian decoder).
        val_size: training digits held out to pick the best epoch (0: keep the last epoch).
        train_size: train on only the first this many of the remaining (shuffled) training
            digits, for notebook 08's small runs (0, the default: all of them).
        init_output_bias: start the decoder's output bias at the logit of each pixel's mean,
            so that the first decoded images are the average digit rather than grey noise.
        weight_average: the decay of an exponential moving average of the weights, updated
            after every step; validation, early stopping and the returned model use the
            average (0: no averaging; see :class:`WeightAverage`).
        shift: move each training digit by a random whole number of pixels, up to ``shift``
            in each direction, every time it is used (0: no shifts; see :func:`random_shift`).
        seed: seeds the initial weights, the split, the shuffling, the binarisation, the z draws.
        conditional: train a :class:`~lecture_utils.models.ConditionalVAE` (notebook 09): the
            batches carry each digit's label, which both networks are told (Bernoulli pixels
            only). False (the default): the plain VAE.
    """

    name: str = "vae"
    latent_dim: int = 20
    hidden_dims: tuple[int, ...] = (512, 256)
    activation: str = "relu"
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    epochs: int = 45
    batch_size: int = 128
    lr: float = 3e-3
    schedule: str = "cosine"
    lr_warmup_epochs: int = 2
    final_lr_fraction: float = 0.05
    kl_warmup_epochs: int = 10
    beta: float = 1.0
    free_bits: float = 0.0
    binarize: str = "dynamic"
    val_size: int = 500
    train_size: int = 0
    init_output_bias: bool = True
    weight_average: float = 0.0
    shift: int = 0
    seed: int = 0
    conditional: bool = False

    def __post_init__(self) -> None:
        check_name(self.name)
        check_positive_int("latent_dim", self.latent_dim)
        object.__setattr__(self, "hidden_dims", check_int_sequence("hidden_dims", self.hidden_dims))
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("likelihood", self.likelihood, LIKELIHOODS)
        check_number("sigma", self.sigma, low=0.0, low_open=True)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_nonneg_int("lr_warmup_epochs", self.lr_warmup_epochs)
        check_number("final_lr_fraction", self.final_lr_fraction, low=0.0, low_open=True, high=1.0)
        check_nonneg_int("kl_warmup_epochs", self.kl_warmup_epochs)
        check_number("beta", self.beta, low=0.0)
        check_number("free_bits", self.free_bits, low=0.0)
        check_choice("binarize", self.binarize, BINARIZATIONS)
        check_nonneg_int("val_size", self.val_size)
        check_nonneg_int("train_size", self.train_size)
        check_bool("init_output_bias", self.init_output_bias)
        check_number("weight_average", self.weight_average, low=0.0, high=1.0, high_open=True)
        check_int("shift", self.shift, low=0, high=4)
        check_int("seed", self.seed, low=0, high=2**32 - 2)
        check_bool("conditional", self.conditional)
        if self.conditional and self.likelihood != "bernoulli":
            raise ValueError(
                "a conditional recipe trains a ConditionalVAE, whose pixels are Bernoulli: use "
                f"likelihood='bernoulli' (got {self.likelihood!r}) or conditional=False"
            )
        if self.likelihood == "bernoulli" and self.binarize == "grey":
            raise ValueError(
                "a Bernoulli decoder needs binary pixels: use binarize='dynamic' or 'fixed' "
                "(or likelihood='gaussian' for grey digits)"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def cache_key(self) -> dict:
        """The fields that decide the weights, and the version of the training code, for
        :func:`lecture_utils.cache.cached`.

        The fields added for notebooks 08 and 09 (``free_bits``, ``train_size``,
        ``conditional``) enter the key only when they differ from their defaults."""
        fields = self.to_dict()
        for name, default in _LATER_FIELDS.items():
            if fields[name] == default:
                del fields[name]
        return {"recipe": type(self).__name__, "training": TRAINING_VERSION, **fields}

    def make_model(self) -> VAE | ConditionalVAE:
        if self.conditional:
            return ConditionalVAE(self.latent_dim, 10, self.hidden_dims, activation=self.activation)
        return VAE(
            self.latent_dim,
            self.hidden_dims,
            likelihood=self.likelihood,
            activation=self.activation,
            sigma=self.sigma,
        )


#: fields added after the first cached recipes, with their defaults (see ``cache_key``)
_LATER_FIELDS = {"free_bits": 0.0, "train_size": 0, "conditional": False}


def check_name(name: object) -> str:
    """A model name for the cache's file names: letters, digits, ``.``, ``_`` and ``-``."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ValueError(
            f"name must be a non-empty string of letters, digits, '.', '_' or '-' (it names a "
            f"file), got {name!r}"
        )
    return name


#: notebook 06's 20-D VAE (the benchmark's default). 30 epochs (a KL warm-up of 7) take less
#: time on one thread than the 26 that the slower loop before fused Adam fitted in the notebook's
#: minute; at that length a peak learning rate of 5e-3 beats 3e-3, 7e-3 and 1e-2 on the
#: validation slice, ELU beats ReLU, and a cosine decay to 1 % of the peak beats one to 5 %
#: (the variations: ``scripts/bench_vae.py --set lr=3e-3 --no-test`` and so on; README)
NOTEBOOK_RECIPE = VAERecipe(
    name="nb06-vae20",
    activation="elu",
    epochs=30,
    kl_warmup_epochs=7,
    lr=5e-3,
    final_lr_fraction=0.01,
)
#: notebook 06's 2-D VAE, the one to look at; notebook 07 explores the same model
NOTEBOOK_RECIPE_2D = VAERecipe(
    name="nb06-vae2", latent_dim=2, hidden_dims=(256,), epochs=10, kl_warmup_epochs=0, val_size=0
)
#: notebook 06's two Gaussian-decoder VAEs (sigma 0.05 and 1), two epochs each on grey digits;
#: the notebook's cell builds the same recipes inline (``tests/test_warm.py`` checks they agree)
NOTEBOOK_GAUSSIAN_RECIPES = tuple(
    VAERecipe(
        name=f"nb06-gauss{s}",
        likelihood="gaussian",
        sigma=s,
        binarize="grey",
        hidden_dims=(256,),
        epochs=2,
        kl_warmup_epochs=0,
        val_size=0,
    )
    for s in (0.05, 1.0)
)
#: the well-known tutorial VAE (pytorch/examples vae): 784-400-20, ReLU, Adam 1e-3, batch 128,
#: summed BCE + closed-form KL, the fixed binarised digits, no schedule, no warm-up, last epoch;
#: 47 of its epochs cost about the processor time of NOTEBOOK_RECIPE's 30 (``scripts/bench_vae.py``
#: trains it for as long as the recipe took, in the same run, rather than by this count)
REFERENCE_RECIPE = VAERecipe(
    name="reference",
    hidden_dims=(400,),
    epochs=47,
    lr=1e-3,
    schedule="constant",
    lr_warmup_epochs=0,
    kl_warmup_epochs=0,
    binarize="fixed",
    val_size=0,
    init_output_bias=False,
)


def gaussian_recipe(sigma: float) -> VAERecipe:
    """Notebook 06's Gaussian-decoder VAE with standard deviation ``sigma`` (06 trains it for
    sigma = 0.05 and 1.0; notebook 08 loads the same files): grey digits, one hidden layer of
    256, 2 epochs, no warm-up, no validation slice."""
    return VAERecipe(
        name=f"nb06-gauss{sigma}",
        likelihood="gaussian",
        sigma=sigma,
        binarize="grey",
        hidden_dims=(256,),
        epochs=2,
        kl_warmup_epochs=0,
        val_size=0,
    )


#: notebook 08's small runs: K = 16, one hidden layer of 128 (ELU), 4 epochs on 2,000 training
#: digits, batches of 64, peak learning rate 5e-3, no warm-up, beta = 1 (under a second each)
SMALL_RECIPE = VAERecipe(
    name="nb08-beta1",
    latent_dim=16,
    hidden_dims=(128,),
    activation="elu",
    epochs=4,
    batch_size=64,
    lr=5e-3,
    kl_warmup_epochs=0,
    val_size=0,
    train_size=2000,
)
#: notebook 08's beta sweep: SMALL_RECIPE with the KL weight beta
BETA_SWEEP = {
    beta: replace(SMALL_RECIPE, name=f"nb08-beta{beta:g}", beta=beta)
    for beta in (0.5, 1.0, 2.0, 4.0, 8.0)
}
#: notebook 08's posterior-collapse runs besides the sweep: KL warm-up, free bits at beta = 8,
#: a wider network (one hidden layer of 384 on both sides)
COLLAPSE_RUNS = {
    "warm-up": replace(SMALL_RECIPE, name="nb08-warmup", kl_warmup_epochs=3),
    "free bits": replace(SMALL_RECIPE, name="nb08-freebits", beta=8.0, free_bits=0.25),
    "wider": replace(SMALL_RECIPE, name="nb08-wide", hidden_dims=(384,)),
}


# ----------------------------------------------------------------------------- the pieces
def kl_weight(epoch: int, warmup_epochs: int, beta: float = 1.0) -> float:
    """The KL term's weight in epoch ``epoch`` (0-based): ``beta * min(1, (epoch + 1) / (n + 1))``
    with ``n = warmup_epochs``, so the weights are ``beta`` times ``1/(n+1), 2/(n+1), ..., 1``
    over the first ``n + 1`` epochs, and ``beta`` from the first epoch when ``n = 0``."""
    check_nonneg_int("epoch", epoch)
    check_nonneg_int("warmup_epochs", warmup_epochs)
    check_number("beta", beta, low=0.0)
    return beta * min(1.0, (epoch + 1) / (warmup_epochs + 1))


def learning_rate(epoch: int, recipe: VAERecipe) -> float:
    """The learning rate of epoch ``epoch`` (0-based) under ``recipe``'s schedule."""
    check_nonneg_int("epoch", epoch)
    check_recipe(recipe)
    if recipe.schedule == "constant":
        return recipe.lr
    if epoch < recipe.lr_warmup_epochs:
        return recipe.lr * (epoch + 1) / (recipe.lr_warmup_epochs + 1)
    span = max(1, recipe.epochs - recipe.lr_warmup_epochs - 1)
    progress = min(1.0, (epoch - recipe.lr_warmup_epochs) / span)
    low = recipe.lr * recipe.final_lr_fraction
    return low + 0.5 * (recipe.lr - low) * (1.0 + math.cos(math.pi * progress))


def check_recipe(recipe: object) -> VAERecipe:
    if not isinstance(recipe, VAERecipe):
        raise TypeError(
            f"recipe must be a VAERecipe, got {type(recipe).__name__}; "
            "make one with VAERecipe(...) or use NOTEBOOK_RECIPE"
        )
    return recipe


class KLWarmup(Callback):
    """A :class:`~lecture_utils.training.fit` callback that holds the KL weight of the current
    epoch, ``weight`` (see :func:`kl_weight`), for the loss to read; it records each epoch's
    weight in the history as ``kl_weight``."""

    def __init__(self, warmup_epochs: int, beta: float = 1.0) -> None:
        self.warmup_epochs = check_nonneg_int("warmup_epochs", warmup_epochs)
        self.beta = check_number("beta", beta, low=0.0)
        self.weight = kl_weight(0, warmup_epochs, beta)

    def on_epoch_start(self, epoch: int) -> None:
        self.weight = kl_weight(epoch, self.warmup_epochs, self.beta)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        history.setdefault("kl_weight", []).append(self.weight)


class BinarizedBatches:
    """Shuffled mini-batches ``(x,)`` of images ``(B, D)`` (flattened); with ``dynamic=True``
    each batch is binarised afresh (pixel = 1 with probability = grey level), so no two epochs
    see the same images; with ``shift > 0`` each image is first moved by a random number of
    pixels (see :func:`random_shift`; the images must then be ``(N, 1, H, W)``). With
    ``labels`` (a tensor with one row per image, e.g. one-hot rows ``(N, 10)``; notebook 09's
    conditional VAE) the batches are ``(x, y)``, each image with its own label row.

    A small stand-in for a ``DataLoader`` (``len`` gives the batches per epoch). The images
    are checked once, here, not batch by batch: the training loop runs it thousands of times.
    A pixel is set where a uniform draw falls below its grey level: the same coin flips as
    ``torch.bernoulli`` (``data.dynamic_binarize``), at about a third of its cost.
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        dynamic: bool,
        generator: torch.Generator,
        shift: int = 0,
        labels: torch.Tensor | None = None,
    ) -> None:
        check_tensor("images", images, ndim=(2, 4), low=0.0, high=1.0)
        if labels is not None:
            check_tensor("labels", labels)
            if len(labels) != len(images):
                raise ValueError(
                    f"labels must hold one row per image ({len(images)}), got {len(labels)}"
                )
        self.labels = labels
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.dynamic = check_bool("dynamic", dynamic)
        self.generator = check_generator("generator", generator)
        self.shift = check_int("shift", shift, low=0, high=4)
        if self.shift and images.ndim != 4:
            raise ValueError(f"shift needs images of shape (N, 1, H, W), got {tuple(images.shape)}")
        self.image_shape = tuple(images.shape[1:])
        self.images = images if self.shift else images.reshape(len(images), -1)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.images), generator=self.generator)
        for idx in order.split(self.batch_size):
            x = self.images[idx]
            if self.shift:
                x = random_shift(x, self.shift, self.generator).reshape(len(idx), -1)
            if self.dynamic:  # pixel = 1 where a uniform draw falls below its grey level
                x = torch.rand(x.shape, generator=self.generator).lt_(x)
            yield (x,) if self.labels is None else (x, self.labels[idx])


def random_shift(x: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Move each image of ``x`` ``(B, C, H, W)`` by its own random whole number of pixels, from
    ``-shift`` to ``shift`` across and down (uniformly), filling the edge with zeros -> the
    same shape. A digit moved by a pixel is still the same digit: the decoder sees more
    different images than there are digits (data augmentation)."""
    b, c, h, w = x.shape
    if not shift:
        return x
    padded = torch.nn.functional.pad(x, (shift, shift, shift, shift))  # (B, C, H+2s, W+2s)
    dy, dx = torch.randint(0, 2 * shift + 1, (2, b, 1, 1), generator=generator)
    rows = torch.arange(h).view(1, h, 1) + dy  # (B, H, 1)
    cols = torch.arange(w).view(1, 1, w) + dx  # (B, 1, W)
    index = (rows * (w + 2 * shift) + cols).reshape(b, 1, h * w).expand(b, c, h * w)
    return padded.reshape(b, c, -1).gather(2, index).reshape(b, c, h, w)


def split_indices(recipe: VAERecipe, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(val_idx, train_idx)``: a seeded random pick of ``recipe.val_size`` of ``n`` training
    digits for validation, the rest (or the first ``recipe.train_size`` of the rest) for
    training (both ``(k,)`` int64, disjoint)."""
    if not recipe.val_size < n:
        raise ValueError(f"val_size must be < {n} (the training digits), got {recipe.val_size}")
    if recipe.train_size > n - recipe.val_size:
        raise ValueError(
            f"train_size must be <= {n - recipe.val_size} (the training digits left after "
            f"val_size={recipe.val_size}), got {recipe.train_size}; 0 uses them all"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(recipe.seed))
    train = perm[recipe.val_size :]
    return perm[: recipe.val_size], train[: recipe.train_size] if recipe.train_size else train


def make_vae_loaders(
    recipe: VAERecipe, generator: torch.Generator
) -> tuple[BinarizedBatches, BinarizedBatches | None]:
    """``(train_batches, val_batches)`` from the 8,000 embedded training digits.

    The validation slice (``recipe.val_size`` digits, see :func:`split_indices`, never test
    digits) uses the fixed binarised copy, like the test set; ``None`` when ``val_size == 0``.
    A ``conditional`` recipe's batches are ``(x, y)``: images and one-hot labels ``(B, 10)``.
    """
    grey, labels = load_mnist("train")
    fixed, _ = load_mnist("train", binarize=True)
    val_idx, train_idx = split_indices(recipe, len(grey))
    source = fixed if recipe.binarize == "fixed" else grey
    rows = F.one_hot(labels, 10).float() if recipe.conditional else None
    train = BinarizedBatches(
        source[train_idx],
        recipe.batch_size,
        recipe.binarize == "dynamic",
        generator,
        recipe.shift,
        None if rows is None else rows[train_idx],
    )
    if not recipe.val_size:
        return train, None
    val_source = grey if recipe.binarize == "grey" else fixed
    val_rows = None if rows is None else rows[val_idx]
    return train, BinarizedBatches(val_source[val_idx], 500, False, generator, labels=val_rows)


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


def vae_loss(
    model: VAE | ConditionalVAE,
    batch: tuple[torch.Tensor, ...],
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
) -> dict[str, torch.Tensor]:
    """The training loss ``mean(-(recon - kl_weight * KL))`` and the terms to record:
    ``neg_elbo`` (the true negative ELBO), ``recon`` (-E_q log p(x|z)) and ``kl``, per-example
    means in nats over the batch ``x`` ``(B, D)`` or ``(B, 1, 28, 28)`` (see
    :func:`elbo_terms`; a batch ``(x, y)`` carries a conditional VAE's one-hot labels). In
    eval mode (validation) the weight is 1 and there are no free bits, so that the best epoch
    is the best ELBO.

    ``free_bits`` > 0 (training only; notebook 08): the KL in the loss is the sum over latent
    dimensions k of ``max(free_bits, mean over the batch of KL_k)`` (Kingma et al., 2016)."""
    if free_bits:
        check_number("free_bits", free_bits, low=0.0)
    x, y = batch[0], (batch[1] if len(batch) > 1 else None)
    w = kl_weight if model.training else 1.0
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


class WeightAverage(Callback):
    """Keep an exponential moving average of ``model``'s weights, updated after every step of
    ``optimizer``: ``average <- average + (1 - d) * (weights - average)`` with
    ``d = min(decay, (1 + t) / (10 + t))`` after step ``t`` (so that the first steps, far from
    any good weights, are soon forgotten).

    Averaging smooths out the last steps' noise: the averaged weights sit nearer the middle of
    the valley the optimiser bounces around in (Polyak averaging). After each epoch's steps the
    model holds the average (so validation, early stopping and the returned model use it);
    before the next epoch's steps the trained weights come back.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, decay: float):
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]
        self.live: list[torch.Tensor] | None = None
        self.steps = 0
        optimizer.register_step_post_hook(self._update)

    @torch.no_grad()
    def _update(self, optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for a, p in zip(self.average, self.params):
            a.lerp_(p, 1.0 - d)

    @torch.no_grad()
    def _swap_in(self, weights: list[torch.Tensor]) -> None:
        for p, w in zip(self.params, weights):
            p.copy_(w)

    def on_epoch_start(self, epoch: int) -> None:
        if self.live is not None:
            self._swap_in(self.live)
            self.live = None

    def on_train_pass_end(self, epoch: int) -> None:
        self.live = [p.detach().clone() for p in self.params]
        self._swap_in(self.average)


def make_optimizer(model: torch.nn.Module) -> torch.optim.Adam:
    """Adam over ``model``'s parameters with a base rate of 1 (the scheduler sets the rate),
    ``fused``: one pass over all the weights per step instead of a dozen small operations per
    weight tensor (the same update; about a tenth of each step's time saved on a CPU)."""
    return torch.optim.Adam(model.parameters(), lr=1.0, fused=True)


def init_output_bias(model: VAE, images: torch.Tensor) -> None:
    """Set the decoder's last bias to logit(mean pixel value), clamped to [-7, 7] (in place);
    ``images`` ``(N, 1, 28, 28)`` or ``(N, 784)``."""
    last = model.decoder[-1]
    mean = images.reshape(len(images), -1).mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        last.bias.copy_(torch.logit(mean).clamp(-7.0, 7.0))


# ----------------------------------------------------------------------------- training
def train_vae(
    recipe: VAERecipe, progress: ProgressTo = "auto", callbacks: Sequence[Callback] = ()
) -> tuple[VAE, History]:
    """Train a VAE by ``recipe`` -> ``(model, history)``; the model is returned in eval mode.

    ``progress`` goes to :class:`~lecture_utils.training.Progress`, labelled with the recipe's
    name: ``"auto"`` shows the epochs and the running loss in a notebook while the model
    trains (and nothing elsewhere), a stream such as ``sys.stderr`` gets a bar, ``None``
    nothing. ``callbacks`` go to :func:`~lecture_utils.training.fit` after the recipe's own
    (``scripts/bench_vae.py`` passes a :class:`~lecture_utils.training.TimeBudget`).

    The global random state is left as it was (training draws from its own seeded streams), so
    the cells after training give the same output whether the model was trained or loaded.
    Torch's thread count is the caller's (:func:`train_vae_cached` trains on the course's one).
    ``callbacks`` are called after the recipe's own (e.g. a progress display).

    ``history`` has one value per epoch for ``loss``, ``neg_elbo``, ``recon``, ``kl`` (training
    batches), their ``val_`` versions when there is a validation slice, ``lr``, ``kl_weight``,
    ``steps`` (gradient steps so far), ``seconds`` (wall clock so far) and ``cpu_seconds``
    (processor time of this process so far, all threads), plus ``best_epoch`` (one value,
    1-based: the epoch whose weights were kept).
    """
    check_recipe(recipe)
    extra_callbacks = list(callbacks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        model = recipe.make_model()
        train, val = make_vae_loaders(recipe, generator)
        if recipe.init_output_bias:
            init_output_bias(model, train.images)
        # base rate 1, so that LambdaLR's rate (base x factor) is learning_rate(...) exactly
        optimizer = make_optimizer(model)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: learning_rate(e, recipe))
        warmup = KLWarmup(recipe.kl_warmup_epochs, recipe.beta)
        callbacks: list[Callback] = [warmup]
        if recipe.weight_average:
            callbacks.append(WeightAverage(model, optimizer, recipe.weight_average))
        history = fit(
            model,
            lambda m, b: vae_loss(m, b, warmup.weight, recipe.free_bits),
            train,
            recipe.epochs,
            optimizer=optimizer,
            scheduler=schedule,
            val_loader=val,
            keep_best=val is not None,
            callbacks=[
                *callbacks,
                EpochTimer(len(train)),
                Progress(recipe.epochs, label=recipe.name, to=progress),
                *extra_callbacks,
            ],
            quiet=True,
        )
    epochs = len(history["loss"])  # fewer than recipe.epochs if a callback stopped training
    if val is not None:
        best = min(range(epochs), key=history["val_loss"].__getitem__)
    else:
        best = epochs - 1
    history["best_epoch"] = [best + 1]
    return model.eval(), history


def train_vae_cached(
    recipe: VAERecipe,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressTo = "auto",
    log: cache.Log = print,
) -> tuple[VAE, History]:
    """Like :func:`train_vae`, but load the model and its history from the course's model
    cache when they are there (:func:`lecture_utils.cache.cached`: file
    ``<cache dir>/<recipe.name>-<hash>.pt``), and train on one thread and save them otherwise.

    ``log`` receives one line: loaded from where, or why it was trained and where it was saved
    (``None``: silent). Delete the file (or the folder) to retrain. While a model trains,
    ``progress`` shows how far it has got (see :func:`train_vae`); a loaded model shows none.
    """
    check_recipe(recipe)
    return cache.cached(
        recipe.name,
        recipe.cache_key(),
        recipe.make_model,
        lambda: train_vae(recipe, progress=progress),
        directory=cache_dir,
        log=log,
    )
