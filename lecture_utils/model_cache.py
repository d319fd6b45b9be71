"""Train the course's small latent models once, then load them (introduced in 07_latent_explorer).

A :class:`Recipe` says how to build and train a model; its hash names the cache file, so a
changed recipe never loads stale weights. :func:`load_or_train` loads the ``state_dict`` from
``$VAE_COURSE_CACHE`` (default ``~/.cache/vae-course/models``) or trains the model with
``lecture_utils.training.fit`` and stores it. A missing, truncated or mismatched file is
retrained with a message saying why. Training runs on one thread, under its own seed and explicit
generators, and leaves the global random state and thread count alone: the weights are the
same bit for bit wherever they were trained, and a notebook prints the same numbers whether
its models came from the cache or were just trained. (One thread also keeps a busy laptop
responsive: two OpenMP threads that wait for each other can be many times slower.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import torch
from torch import nn

from lecture_utils._validate import check_choice, check_positive_int
from lecture_utils.data import load_mnist
from lecture_utils.losses import l2_loss
from lecture_utils.models import VAE, Autoencoder
from lecture_utils.training import fit_from_seed

CACHE_ENV = "VAE_COURSE_CACHE"
FORMAT = 1  # bump when the file layout or the training code changes meaning


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything that decides a trained model's weights.

    kind: ``"autoencoder"`` (L2 loss, as in notebook 01) or ``"vae"`` (Bernoulli likelihood,
    minus the ELBO, as in notebook 06), trained on the embedded grey training digits.
    """

    kind: str
    latent_dim: int
    hidden_dims: tuple[int, ...] = (256,)
    epochs: int = 10
    lr: float = 2e-3
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("autoencoder", "vae"))
        check_positive_int("latent_dim", self.latent_dim)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        object.__setattr__(self, "hidden_dims", tuple(self.hidden_dims))

    def key(self) -> str:
        """A 16-hex-digit hash of the recipe (and the cache format)."""
        text = json.dumps({"format": FORMAT, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def build(self) -> nn.Module:
        """The untrained model (weights from torch's global generator)."""
        if self.kind == "autoencoder":
            return Autoencoder(self.latent_dim, self.hidden_dims)
        return VAE(self.latent_dim, self.hidden_dims, likelihood="bernoulli")


#: The models of notebook 07: a 2-D autoencoder and a 2-D VAE to compare, an 8-D VAE for sliders.
COURSE_RECIPES: Mapping[str, Recipe] = MappingProxyType(
    {
        "ae2": Recipe("autoencoder", 2, epochs=8),
        "vae2": Recipe("vae", 2, epochs=8),
        "vae8": Recipe("vae", 8, epochs=5),
    }
)


def cache_dir() -> Path:
    """``$VAE_COURSE_CACHE`` if set, else ``~/.cache/vae-course/models``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "vae-course" / "models"


def cache_path(name: str, recipe: Recipe, directory: str | os.PathLike | None = None) -> Path:
    """Where ``recipe``'s weights live: ``<cache dir>/<name>-<hash>.pt``."""
    return Path(directory if directory is not None else cache_dir()) / f"{name}-{recipe.key()}.pt"


def train(recipe: Recipe) -> nn.Module:
    """Build and train ``recipe``'s model with ``fit`` on one thread; the global random state
    and torch's thread count are left as they were."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(recipe)
    finally:
        torch.set_num_threads(threads)


def _train(recipe: Recipe) -> nn.Module:
    images, _ = load_mnist("train")
    if recipe.kind == "autoencoder":

        def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return l2_loss(m(batch[0]), batch[0])
    else:
        noise = torch.Generator().manual_seed(recipe.seed + 1)

        def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return -m.elbo(batch[0], noise).mean()

    model, _ = fit_from_seed(
        recipe.build,
        images,
        loss_fn,
        recipe.epochs,
        lr=recipe.lr,
        batch_size=recipe.batch_size,
        seed=recipe.seed,
    )
    return model.eval()


def _load(path: Path, recipe: Recipe) -> nn.Module:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("key") != recipe.key():
        raise ValueError("it holds another recipe's weights")
    with torch.random.fork_rng():
        model = recipe.build()
    model.load_state_dict(blob["state_dict"])
    for value in model.state_dict().values():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError("it holds NaN or infinite weights")
    return model.eval()


def _save(path: Path, recipe: Recipe, model: nn.Module) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(fd)
    try:
        torch.save(
            {
                "key": recipe.key(),
                "recipe": dataclasses.asdict(recipe),
                "state_dict": model.state_dict(),
            },
            tmp,
        )
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _shown(path: Path) -> str:
    """``path`` for a message, with the home folder written ``~`` (no user name in outputs)."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def load_or_train(
    name: str,
    recipe: Recipe | None = None,
    directory: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = print,
) -> nn.Module:
    """The trained model ``name`` (a key of ``COURSE_RECIPES``, or any name with ``recipe``).

    Loads ``<cache dir>/<name>-<hash>.pt`` when it is there and sound; otherwise trains the
    model, says why, and stores it (an unwritable cache only costs the retraining next time).
    ``log`` receives one line per model (``None``: silent).
    """
    if recipe is None:
        if name not in COURSE_RECIPES:
            raise KeyError(
                f"no course recipe named {name!r}; choose one of "
                f"{', '.join(COURSE_RECIPES)} or pass recipe=Recipe(...)"
            )
        recipe = COURSE_RECIPES[name]
    say = log or (lambda _msg: None)
    path = cache_path(name, recipe, directory)
    if path.exists():
        try:
            model = _load(path, recipe)
        except Exception as err:  # noqa: BLE001 - any unreadable file means: train again
            say(
                f"{name}: cached weights {_shown(path)} are unusable ({type(err).__name__}: "
                f"{str(err)[:120]}); retraining"
            )
        else:
            say(f"{name}: loaded from {_shown(path)}")
            return model
    else:
        say(f"{name}: no cached weights at {_shown(path)}; training ({recipe.epochs} epochs)")
    start = time.perf_counter()
    model = train(recipe)
    try:
        _save(path, recipe, model)
        where = f"saved to {_shown(path)}"
    except OSError as err:
        where = f"not saved ({err.strerror or err}); set ${CACHE_ENV} to a writable folder"
    say(f"{name}: trained in {time.perf_counter() - start:.1f} s, {where}")
    return model
