"""Training M2 by a recipe, and keeping it in the course's model cache (introduced in
09_conditional_and_semi_supervised): the labelled/validation/unlabelled split, the
mixed batches, accuracy against training time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch

from lecture_utils import cache
from lecture_utils._validate import DATA_HINT, check_tensor
from lecture_utils.classify import _check_labels, accuracy, balanced_subset
from lecture_utils.data import load_mnist
from lecture_utils.semi_supervised._hash import _data_hash
from lecture_utils.semi_supervised.model import M2
from lecture_utils.semi_supervised.recipe import M2Recipe, check_m2_recipe
from lecture_utils.training import Callback, EpochTimer, History, Progress, ProgressTo, fit


def split_m2(recipe: M2Recipe, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Indices into the training digits: ``labelled`` (``per_class`` of each class, drawn as
    notebook 03 draws them), ``val`` (``val_size`` of the others, a seeded random pick) and
    ``unlabelled`` (all the rest, labelled digits included: their images are unlabelled data
    too); int64 ``(k,)`` each."""
    labelled = balanced_subset(labels, recipe.per_class, torch.Generator().manual_seed(recipe.seed))
    others = torch.ones(len(labels), dtype=torch.bool)
    others[labelled] = False
    rest = torch.nonzero(others).flatten()
    rest = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(recipe.seed))]
    if recipe.val_size >= len(rest):
        raise ValueError(f"val_size must be < {len(rest)}, got {recipe.val_size}")
    val = rest[: recipe.val_size]
    unlabelled = torch.ones(len(labels), dtype=torch.bool)
    unlabelled[val] = False
    return {"labelled": labelled, "val": val, "unlabelled": torch.nonzero(unlabelled).flatten()}


class M2Batches:
    """Steps ``(x_unlabelled, x_labelled, y)``: one pass over the unlabelled digits in shuffled
    batches of ``batch_size``, each with ``labelled_batch`` labelled digits drawn afresh (all
    of them when there are fewer); with ``dynamic`` every image is binarised afresh."""

    def __init__(
        self, unlabelled, labelled, labels, batch_size, labelled_batch, dynamic, generator
    ):
        self.unlabelled = unlabelled.reshape(len(unlabelled), -1)
        self.labelled = labelled.reshape(len(labelled), -1)
        self.labels = labels
        self.batch_size, self.labelled_batch = batch_size, labelled_batch
        self.dynamic, self.generator = dynamic, generator

    def __len__(self) -> int:
        return -(-len(self.unlabelled) // self.batch_size)

    def _binary(self, x: torch.Tensor) -> torch.Tensor:
        if not self.dynamic:
            return x
        return torch.rand(x.shape, generator=self.generator).lt_(x).to(x.dtype)

    def __iter__(self):
        order = torch.randperm(len(self.unlabelled), generator=self.generator)
        n = len(self.labelled)
        for idx in order.split(self.batch_size):
            if n <= self.labelled_batch:
                pick = torch.arange(n)
            else:
                pick = torch.randperm(n, generator=self.generator)[: self.labelled_batch]
            yield (
                self._binary(self.unlabelled[idx]),
                self._binary(self.labelled[pick]),
                self.labels[pick],
            )


class AccuracyCheckpoints(Callback):
    """After every epoch, q(y|x)'s accuracy on each of ``eval_sets`` ``{name: (x, y)}`` goes
    into the history as ``<name>_accuracy`` (beside ``seconds`` from :class:`EpochTimer`): how
    accuracy grows with training time."""

    def __init__(self, model: M2, eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]]):
        self.model, self.eval_sets = model, dict(eval_sets)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        for name, (x, y) in self.eval_sets.items():
            history.setdefault(f"{name}_accuracy", []).append(accuracy(self.model, x, y))
        self.model.train()


def train_m2(
    recipe: M2Recipe,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    progress: ProgressTo = "auto",
    callbacks: Sequence[Callback] = (),
) -> tuple[M2, History]:
    """Train M2 by ``recipe`` on the training digits -> ``(model in eval mode, history)``.

    ``images`` ``(N, 1, 28, 28)`` grey digits in [0, 1] (default: the 8,000 embedded training
    digits) or, with ``likelihood="gaussian"``, features ``(N, K)``; ``labels`` int64 ``(N,)``
    (all of them are needed to draw the labelled subset as notebook 03 does, but only the
    labelled subset's and the validation slice's are read). ``eval_sets`` ``{name: (x, y)}``
    are scored after every epoch besides ``"val"`` (e.g. the test digits in the benchmark; never
    tune on them). The history has, per epoch, ``loss``, ``neg_labelled``, ``neg_unlabelled``,
    ``cross_entropy``, ``lr``, ``steps``, ``seconds``, ``cpu_seconds`` and ``<name>_accuracy``.
    ``callbacks`` go to :func:`training.fit` (e.g. a ``TimeBudget``). Deterministic for a given
    recipe and thread count; the global random state is left as it was.
    """
    check_m2_recipe(recipe)
    if images is None and labels is None:
        if recipe.likelihood == "gaussian":
            raise ValueError("a Gaussian M2 reads features: pass images=(N, K) features and labels")
        images, labels = load_mnist("train")
    check_tensor("images", images, ndim=(2, 4), hint=DATA_HINT)
    labels = _check_labels(labels, len(images))
    if recipe.binarize == "dynamic":
        check_tensor("images", images, low=0.0, high=1.0)
    parts = split_m2(recipe, labels)
    input_shape = tuple(images.shape[1:])
    sets = {} if not recipe.val_size else {"val": (images[parts["val"]], labels[parts["val"]])}
    sets.update(eval_sets or {})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = recipe.make_model(input_shape)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        batches = M2Batches(
            images[parts["unlabelled"]],
            images[parts["labelled"]],
            labels[parts["labelled"]],
            recipe.batch_size,
            recipe.labelled_batch,
            recipe.binarize == "dynamic",
            generator,
        )
        if recipe.likelihood == "bernoulli":  # start from the average digit, as notebook 06
            mean = batches.unlabelled.mean(0).clamp(1e-3, 1 - 1e-3)
            with torch.no_grad():
                model.cvae.decoder[-1].bias.copy_(torch.logit(mean).clamp(-7.0, 7.0))
        optimizer = torch.optim.Adam(model.parameters(), lr=1.0)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, recipe.learning_rate)

        def loss_fn(m: M2, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
            x_u, x_l, y = batch
            return m._loss(x_l, y, x_u, recipe.alpha, generator, recipe.unlabelled)

        history = fit(
            model,
            loss_fn,
            batches,
            recipe.epochs,
            optimizer=optimizer,
            scheduler=schedule,
            callbacks=[
                EpochTimer(len(batches)),
                AccuracyCheckpoints(model, sets),
                Progress(recipe.epochs, label=recipe.name, to=progress),
                *callbacks,
            ],
            quiet=True,
        )
    return model.eval(), history


def train_m2_cached(
    recipe: M2Recipe,
    images: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    eval_sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressTo = "auto",
    log: cache.Log = print,
) -> tuple[M2, History]:
    """Like :func:`train_m2`, but load the model and its history
    from the course's model cache when they are there (file ``<cache dir>/<recipe.name>-<hash>.pt``,
    keyed by the recipe and a hash of ``images`` and ``labels``), and train on one thread and save
    them otherwise. ``log`` receives one line (``None``: silent)."""
    check_m2_recipe(recipe)
    if images is None and labels is None and recipe.likelihood == "bernoulli":
        images, labels = load_mnist("train")
    check_tensor("images", images, ndim=(2, 4), hint=DATA_HINT)
    labels = _check_labels(labels, len(images))
    key = {**recipe.cache_key(), "train_data": _data_hash(images, labels)}
    if eval_sets:  # they change the history, not the weights
        key["eval_sets"] = {name: _data_hash(*pair) for name, pair in eval_sets.items()}
    return cache.cached(
        recipe.name,
        key,
        lambda: recipe.make_model(tuple(images.shape[1:])),
        lambda: train_m2(recipe, images, labels, eval_sets, progress=progress),
        directory=cache_dir,
        log=log,
    )
