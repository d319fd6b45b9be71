"""Training a VAE on the embedded MNIST digits, as notebook 06 does (introduced in 06_vae).

Everything that decides the result is one frozen :class:`Recipe`: the network, the optimiser's
learning-rate schedule, the KL warm-up, how digits are binarised, the validation slice used for
early stopping, and the seed. :func:`train_vae` turns a recipe into a trained model and its
history; :func:`train_vae_cached` does the same but stores the weights on disk, so that a
second run of notebook 06 loads them instead of training again. (Notebook 07 trains its own
small models, a few seconds each, with :mod:`lecture_utils.model_cache`, in the same cache
folder.)

The choices, each explained in notebook 06:

- **dynamic binarisation**: every time a training digit is used, its grey levels are turned
  into a fresh black-and-white image (pixel = 1 with probability = grey level), so 8,000
  digits give many different binary images; validation and test digits keep their one fixed
  binarisation, so that their log-likelihoods are comparable;
- **KL warm-up**: the loss is ``-(recon - w * KL)`` with ``w`` rising linearly over the first
  ``n + 1`` epochs (``1/(n+1), 2/(n+1), ..., 1`` for ``kl_warmup_epochs = n``), so that the
  encoder learns to use its codes before the KL term pulls them towards the prior;
- **a learning-rate schedule**: a short linear warm-up to the peak rate, then a cosine decay;
- **early stopping without stopping**: after each epoch the negative ELBO on a validation
  slice of the *training* digits is measured, and the weights of the best epoch are kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lecture_utils._validate import check_choice, check_positive_int, check_tensor
from lecture_utils.data import dynamic_binarize, load_mnist
from lecture_utils.models import VAE
from lecture_utils.training import fit

#: bump when the training code changes what a recipe produces (invalidates cached models)
TRAINING_CODE_VERSION = 1
SCHEDULES = ("constant", "cosine")
BINARIZATIONS = ("dynamic", "fixed", "grey")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a trained VAE (notebook 06).

    Args:
        name: a short label (used in the cache's file names).
        latent_dim, hidden_dims, activation, likelihood, sigma: the :class:`VAE`'s arguments.
        epochs: passes over the training digits.
        batch_size: digits per gradient step.
        lr: the peak learning rate of Adam.
        schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over ``lr_warmup_epochs``,
            then a cosine decay to ``lr * final_lr_fraction``); set once per epoch.
        kl_warmup_epochs: ``n``, the epochs whose KL weight is below 1: the weight rises
            linearly ``1/(n+1), 2/(n+1), ..., (n+1)/(n+1) = 1`` over the first ``n + 1``
            epochs (0: no warm-up).
        beta: the KL weight after the warm-up (1 gives the ELBO; notebook 06's look ahead).
        binarize: ``"dynamic"`` (fresh binary images every epoch), ``"fixed"`` (the package's
            one binarised copy) or ``"grey"`` (grey levels, for a Gaussian decoder).
        val_size: training digits held out to pick the best epoch (0: keep the last epoch).
        init_output_bias: start the decoder's output bias at the logit of each pixel's mean,
            so that the first decoded images are the average digit rather than grey noise.
        seed: seeds the initial weights, the split, the shuffling, the binarisation, the z draws.
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
    binarize: str = "dynamic"
    val_size: int = 500
    init_output_bias: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_dims", tuple(self.hidden_dims))
        check_positive_int("latent_dim", self.latent_dim)
        for n in self.hidden_dims:
            check_positive_int("each hidden size", n)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("binarize", self.binarize, BINARIZATIONS)
        check_choice("likelihood", self.likelihood, ("bernoulli", "gaussian"))
        if self.likelihood == "bernoulli" and self.binarize == "grey":
            raise ValueError(
                "a Bernoulli decoder needs binary pixels: use binarize='dynamic' or 'fixed'"
            )
        if not (self.lr > 0 and self.beta >= 0 and 0 < self.final_lr_fraction <= 1):
            raise ValueError("lr must be > 0, beta >= 0 and final_lr_fraction in (0, 1]")
        for name in ("lr_warmup_epochs", "kl_warmup_epochs", "val_size", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        """A hash of the recipe, the training code's version, torch's version and thread count:
        a cached model is reused only when all of them match."""
        key = {
            **self.to_dict(),
            "code": TRAINING_CODE_VERSION,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def make_model(self) -> VAE:
        return VAE(
            self.latent_dim,
            self.hidden_dims,
            likelihood=self.likelihood,
            activation=self.activation,
            sigma=self.sigma,
        )


#: notebook 06's 20-D VAE (the benchmark's default); ELU, because on the validation slice it beats
#: ReLU by 1.4 nats of ELBO at the same cost
#: (``scripts/bench_vae.py --set activation=relu --no-test``)
NOTEBOOK_RECIPE = Recipe(name="vae20", activation="elu")
#: notebook 06's 2-D VAE, the one to look at (notebook 07 trains its own with model_cache)
NOTEBOOK_RECIPE_2D = Recipe(
    name="vae2", latent_dim=2, hidden_dims=(256,), epochs=10, kl_warmup_epochs=0, val_size=0
)
#: the well-known tutorial VAE (pytorch/examples vae): 784-400-20, ReLU, Adam 1e-3, batch 128,
#: summed BCE + closed-form KL, the fixed binarised digits, no schedule, no warm-up, last epoch;
#: 65 of its epochs cost about the processor time of NOTEBOOK_RECIPE's 45 (equal training time)
REFERENCE_RECIPE = Recipe(
    name="reference",
    hidden_dims=(400,),
    epochs=65,
    lr=1e-3,
    schedule="constant",
    lr_warmup_epochs=0,
    kl_warmup_epochs=0,
    binarize="fixed",
    val_size=0,
    init_output_bias=False,
)


# ----------------------------------------------------------------------------- the pieces
def kl_weight(epoch: int, warmup_epochs: int, beta: float = 1.0) -> float:
    """The KL term's weight in epoch ``epoch`` (0-based): ``beta * min(1, (epoch + 1) / (n + 1))``
    with ``n = warmup_epochs``; so ``beta`` from the first epoch when ``n = 0``."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
    return beta * min(1.0, (epoch + 1) / (warmup_epochs + 1))


def learning_rate(epoch: int, recipe: Recipe) -> float:
    """The learning rate of epoch ``epoch`` (0-based) under ``recipe``'s schedule."""
    if recipe.schedule == "constant":
        return recipe.lr
    if epoch < recipe.lr_warmup_epochs:
        return recipe.lr * (epoch + 1) / (recipe.lr_warmup_epochs + 1)
    span = max(1, recipe.epochs - recipe.lr_warmup_epochs - 1)
    progress = min(1.0, (epoch - recipe.lr_warmup_epochs) / span)
    low = recipe.lr * recipe.final_lr_fraction
    return low + 0.5 * (recipe.lr - low) * (1.0 + math.cos(math.pi * progress))


class BinarizedBatches:
    """Shuffled mini-batches ``(x,)`` of images; with ``dynamic=True`` each batch is binarised
    afresh (pixel = 1 with probability = grey level), so no two epochs see the same images.

    A small stand-in for a ``DataLoader`` (``len`` gives the batches per epoch).
    """

    def __init__(
        self, images: torch.Tensor, batch_size: int, dynamic: bool, generator: torch.Generator
    ) -> None:
        self.images = check_tensor("images", images, ndim=(2, 4), low=0.0, high=1.0)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.dynamic = dynamic
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.images), generator=self.generator)
        for idx in order.split(self.batch_size):
            x = self.images[idx]
            yield (dynamic_binarize(x, self.generator) if self.dynamic else x,)


def make_vae_loaders(
    recipe: Recipe, generator: torch.Generator
) -> tuple[BinarizedBatches, BinarizedBatches | None]:
    """``(train_batches, val_batches)`` from the 8,000 embedded training digits.

    The validation slice (``recipe.val_size`` digits, a seeded random pick, never test digits)
    uses the fixed binarised copy, like the test set; ``None`` when ``val_size == 0``.
    """
    grey, _ = load_mnist("train")
    fixed, _ = load_mnist("train", binarize=True)
    if not recipe.val_size < len(grey):
        raise ValueError(f"val_size must be < {len(grey)}, got {recipe.val_size}")
    perm = torch.randperm(len(grey), generator=torch.Generator().manual_seed(recipe.seed))
    val_idx, train_idx = perm[: recipe.val_size], perm[recipe.val_size :]
    source = fixed if recipe.binarize == "fixed" else grey
    train = BinarizedBatches(
        source[train_idx], recipe.batch_size, recipe.binarize == "dynamic", generator
    )
    if not recipe.val_size:
        return train, None
    val_source = grey if recipe.binarize == "grey" else fixed
    return train, BinarizedBatches(val_source[val_idx], 500, False, generator)


def vae_loss(
    model: VAE, batch: tuple[torch.Tensor, ...], kl_w: float = 1.0
) -> dict[str, torch.Tensor]:
    """The training loss ``mean(-(recon - kl_w * KL))`` and the terms to record: ``neg_elbo``
    (the true negative ELBO), ``recon`` (-E_q log p(x|z)) and ``kl``, per-example means in nats.
    In eval mode (validation) the weight is 1, so that the best epoch is the best ELBO."""
    recon, kl = model.elbo_terms(batch[0])
    w = kl_w if model.training else 1.0
    return {
        "loss": (-recon + w * kl).mean(),
        "neg_elbo": (kl - recon).mean().detach(),
        "recon": -recon.mean().detach(),
        "kl": kl.mean().detach(),
    }


def init_output_bias(model: VAE, images: torch.Tensor) -> None:
    """Set the decoder's last bias to logit(mean pixel value), clamped to [-7, 7] (in place)."""
    last = model.decoder[-1]
    mean = images.reshape(len(images), -1).mean(0).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        last.bias.copy_(torch.logit(mean).clamp(-7.0, 7.0))


# ----------------------------------------------------------------------------- training
def train_vae(recipe: Recipe, quiet: bool = True) -> tuple[VAE, dict[str, list[float]]]:
    """Train a VAE by ``recipe`` -> ``(model, history)``; the model is returned in eval mode.

    The global random state is left as it was (training draws from its own seeded streams), so
    the cells after training give the same output whether the model was trained or loaded.

    ``history`` has one value per epoch for ``loss``, ``neg_elbo``, ``recon``, ``kl`` (training
    batches), their ``val_`` versions when there is a validation slice, ``lr``, ``kl_weight``,
    ``steps`` (gradient steps so far), ``seconds`` (wall clock so far) and ``cpu_seconds``
    (processor time of this process so far, all threads), plus ``best_epoch`` (one value,
    1-based: the epoch whose weights were kept).
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        model = recipe.make_model()
        train, val = make_vae_loaders(recipe, generator)
        if recipe.init_output_bias:
            init_output_bias(model, train.images)
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        state = {"kl_w": 1.0}
        log: dict[str, list[float]] = {
            "lr": [],
            "kl_weight": [],
            "steps": [],
            "seconds": [],
            "cpu_seconds": [],
        }
        start = (time.perf_counter(), time.process_time())

        def clock(epoch: int) -> None:
            if epoch > 0:
                log["steps"].append(epoch * len(train))
                log["seconds"].append(time.perf_counter() - start[0])
                log["cpu_seconds"].append(time.process_time() - start[1])
            lr = learning_rate(epoch, recipe)
            for group in optimizer.param_groups:
                group["lr"] = lr
            state["kl_w"] = kl_weight(epoch, recipe.kl_warmup_epochs, recipe.beta)
            log["lr"].append(lr)
            log["kl_weight"].append(state["kl_w"])

        history = fit(
            model,
            lambda m, b: vae_loss(m, b, state["kl_w"]),
            train,
            recipe.epochs,
            optimizer=optimizer,
            val_loader=val,
            keep_best=val is not None,
            on_epoch_start=clock,
            quiet=quiet,
        )
        clock(recipe.epochs)
    log["lr"].pop()
    log["kl_weight"].pop()
    history.update(log)
    best = (
        min(range(recipe.epochs), key=history["val_loss"].__getitem__)
        if val is not None
        else recipe.epochs - 1
    )
    history["best_epoch"] = [best + 1]
    return model.eval(), history


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Where trained models are kept: ``path``, else ``$VAE_COURSE_CACHE``, else
    ``~/.cache/vae-course/models`` (the folder of notebook 07's models too; it is created when
    a model is saved)."""
    if path is not None:
        return Path(path)
    env = os.environ.get("VAE_COURSE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vae-course" / "models"


def cache_path(recipe: Recipe, cache: str | os.PathLike | None = None) -> Path:
    """The file that holds ``recipe``'s trained model (it may not exist yet)."""
    return cache_dir(cache) / f"{recipe.name}-{recipe.fingerprint()}.pt"


def _load_cached(path: Path, recipe: Recipe) -> tuple[VAE, dict[str, list[float]]] | None:
    """The cached model and history, or None when the file is missing, unreadable or stale."""
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("fingerprint") != recipe.fingerprint():
            return None
        model = recipe.make_model()
        model.load_state_dict(saved["state_dict"])
    except (
        OSError,
        RuntimeError,
        KeyError,
        AttributeError,
        ValueError,
        EOFError,
        pickle.UnpicklingError,
    ):
        return None
    return model.eval(), saved["history"]


def train_vae_cached(
    recipe: Recipe, cache_dir: str | os.PathLike | None = None, quiet: bool = True
) -> tuple[VAE, dict[str, list[float]]]:
    """Like :func:`train_vae`, but load the model and history from the cache when a file with
    the same recipe fingerprint is there, and save them after training otherwise.

    Notebook 06 trains and saves its models, and loads them when run again; notebook 07 trains
    its own small models (``lecture_utils.model_cache``). Delete the folder to retrain. A file
    that cannot be read is retrained and overwritten.
    """
    path = cache_path(recipe, cache_dir)
    loaded = _load_cached(path, recipe)
    if loaded is not None:
        return loaded
    model, history = train_vae(recipe, quiet=quiet)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.part")
    torch.save(
        {
            "fingerprint": recipe.fingerprint(),
            "recipe": recipe.to_dict(),
            "state_dict": model.state_dict(),
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)
    return model, history
