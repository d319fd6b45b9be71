"""The conditional VAE of notebook 09: draw the digit you ask for (introduced in
09_conditional_and_semi_supervised).

A :class:`~lecture_utils.models.ConditionalVAE` is told each digit's label: q(z|x, y) and
p(x|z, y), so the code z is left to carry the *style* (slant, thickness, width). It trains with
notebook 06's loop (:func:`lecture_utils.vae_training.train_vae`: dynamic binarisation, KL
warm-up, the cosine schedule, the validation slice) from one recipe, :data:`CVAE_RECIPE`, whose
batches carry the labels (``conditional=True``).

Does it draw the digit asked for? A classifier trained on real digits answers:
:func:`judge_classifier` is notebook 03's best classifier (its ``"scratch"`` encoder classifier
on all 8,000 labelled digits, 450 steps), :func:`conditional_samples` draws digits of every
class, :func:`sample_accuracy` counts how many the judge labels as the class that was asked
for. :func:`style_swap` keeps a real digit's style and redraws it as every digit 0-9.

Images are ``(N, 1, 28, 28)`` floats in [0, 1], labels int64 ``(N,)``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from lecture_utils import cache
from lecture_utils._validate import check_generator, check_positive_int, check_tensor
from lecture_utils.classify import accuracy, make_classifier, train_classifier
from lecture_utils.data import load_mnist
from lecture_utils.models import Autoencoder, ConditionalVAE
from lecture_utils.training import History, ProgressTo
from lecture_utils.vae_training import VAERecipe, check_recipe, train_vae, train_vae_cached

#: notebook 09's conditional VAE: a 2-D style z, one hidden layer of 256 (ELU) on each side,
#: 12 epochs with a KL warm-up of 3, notebook 06's peak learning rate and cosine decay; about
#: 4 s on one thread. Chosen among K = 2, 3, 4, 8 and hidden layers of 128-512 for the judge's
#: score on conditional samples (no test digit involved) and the validation slice's ELBO: K = 2
#: draws the asked-for digit in 98-99 % of the samples over seeds 0-2, K = 3 in about 97 %,
#: K = 4 in 93-95 %, K = 8 in about 70 % (seed 0; the validation ELBO improves with K all
#: the while: a bound on log p(x|y) does not measure whether the decoder obeys y)
CVAE_RECIPE = VAERecipe(
    name="nb09-cvae",
    latent_dim=2,
    hidden_dims=(256,),
    activation="elu",
    epochs=12,
    kl_warmup_epochs=3,
    lr=5e-3,
    final_lr_fraction=0.01,
    conditional=True,
)

#: notebook 03's best classifier, trained as its longer run: the ``"scratch"`` encoder classifier
#: (notebook 03's 784-128-32 encoder architecture, fresh weights, a linear head) on all 8,000
#: labelled grey training digits, 450 Adam steps of 64 digits at 3e-3, seed 0
JUDGE_SETTINGS = {
    "method": "scratch",
    "latent_dim": 32,
    "hidden_dims": [128],
    "steps": 450,
    "batch_size": 64,
    "lr": 3e-3,
    "seed": 0,
}


#: the judge's name in the model cache (its file: ``nb09-judge-<hash>.pt``)
JUDGE_NAME = "nb09-judge"


def judge_cache_key() -> dict:
    """The judge's key in the model cache (:func:`lecture_utils.cache.cached`): its settings."""
    return {"recipe": "judge", **JUDGE_SETTINGS}


def check_conditional_recipe(recipe: object) -> VAERecipe:
    check_recipe(recipe)
    if not recipe.conditional:
        raise ValueError(
            f"recipe {recipe.name!r} trains a plain VAE; a CVAE needs conditional=True "
            "(e.g. dataclasses.replace(CVAE_RECIPE, ...))"
        )
    return recipe


def check_cvae(model: object) -> ConditionalVAE:
    if not isinstance(model, ConditionalVAE):
        raise TypeError(
            f"model must be a ConditionalVAE (e.g. from train_cvae_cached()), got "
            f"{type(model).__name__}"
        )
    return model


def train_cvae(
    recipe: VAERecipe = CVAE_RECIPE, progress: ProgressTo = None
) -> tuple[ConditionalVAE, History]:
    """Train the conditional VAE of ``recipe`` (no cache) -> ``(model in eval mode, history)``
    with notebook 06's loop (:func:`lecture_utils.vae_training.train_vae`; the history holds the
    same entries). ``progress``: see :func:`~lecture_utils.vae_training.train_vae`."""
    return train_vae(check_conditional_recipe(recipe), progress=progress)


def train_cvae_cached(
    recipe: VAERecipe = CVAE_RECIPE,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressTo = "auto",
    log: cache.Log = print,
) -> tuple[ConditionalVAE, History]:
    """Like :func:`train_cvae`, but from the course's model cache when it is there
    (:func:`lecture_utils.cache.cached`, the same file as
    ``vae_training.train_vae_cached(recipe)``), trained on one thread and saved otherwise;
    ``log`` gets the cache's one line (``None``: silent)."""
    check_conditional_recipe(recipe)
    model, history = train_vae_cached(recipe, cache_dir=cache_dir, progress=progress, log=log)
    return model, history  # type: ignore[return-value]  (a conditional recipe makes a CVAE)


# ----------------------------------------------------------------------------- the judge
def _train_judge() -> tuple[nn.Module, dict]:
    """Notebook 03's scratch classifier, exactly as ``compare_label_budgets`` builds and trains
    it for ``budgets=(None,)``, seed 0 (the encoder's weights are drawn afresh, so only its
    architecture matters)."""
    s = JUDGE_SETTINGS
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s["seed"])
        shape = Autoencoder(s["latent_dim"], s["hidden_dims"])
        torch.manual_seed(s["seed"])
        model = make_classifier(s["method"], shape)
        train_classifier(model, images, labels, s["steps"], s["batch_size"], s["lr"], s["seed"])
    model.eval()
    return model, {"test_accuracy": accuracy(model, test_images, test_labels)}


def _build_judge() -> nn.Module:
    s = JUDGE_SETTINGS
    return make_classifier(s["method"], Autoencoder(s["latent_dim"], s["hidden_dims"]))


def judge_classifier(
    cache_dir: str | os.PathLike | None = None, log: cache.Log = print
) -> tuple[nn.Module, float]:
    """Notebook 03's best classifier and its accuracy on the 2,000 test digits ->
    ``(model, test_accuracy)``; the model maps grey images ``(B, 1, 28, 28)`` to logits
    ``(B, 10)``. Trained once (:data:`JUDGE_SETTINGS`, about 2 s) and kept in the course's
    model cache as :data:`JUDGE_NAME`; ``log`` gets the cache's one line (``None``: silent)."""
    model, extra = cache.cached(
        JUDGE_NAME,
        judge_cache_key(),
        _build_judge,
        _train_judge,
        directory=cache_dir,
        log=log,
    )
    for p in model.parameters():
        p.requires_grad_(False)
    return model, float(extra["test_accuracy"])


# ----------------------------------------------------------------------------- samples
@torch.no_grad()
def conditional_samples(
    model: ConditionalVAE, per_class: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` draws z ~ N(0, I) for every label, decoded with that label ->
    ``(images (n_classes * per_class, 1, 28, 28), labels (n_classes * per_class,))``, grouped
    by class (``per_class`` zeros first). The images are the decoder's means, the
    probability of each pixel being on: a grey digit, like the ones a classifier of notebook
    03 reads (a binary draw from them would add salt-and-pepper noise the judge never saw)."""
    check_cvae(model)
    per_class = check_positive_int("per_class", per_class)
    check_generator("generator", generator)
    labels = torch.arange(model.n_classes).repeat_interleave(per_class)
    return model.sample(labels, generator), labels


@torch.no_grad()
def sample_accuracy(
    judge: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> tuple[float, torch.Tensor]:
    """The fraction of ``images`` ``(N, 1, 28, 28)`` that ``judge`` labels as their requested
    class ``labels`` (int64 ``(N,)``) -> ``(overall, per_class)``, ``per_class`` float64
    ``(n_classes,)`` (NaN for a class with no image)."""
    if not isinstance(judge, nn.Module):
        raise TypeError(
            f"judge must be an nn.Module classifier (e.g. judge_classifier()[0]), got "
            f"{type(judge).__name__}"
        )
    check_tensor("images", images, shape=(None, 1, 28, 28), low=0.0, high=1.0)
    check_tensor("labels", labels, shape=(len(images),), floating=False)
    if labels.dtype != torch.int64:
        raise TypeError(f"labels must be int64 class indices, got {labels.dtype}; use .long()")
    if not len(images):
        raise ValueError("images is empty; pass at least one sample")
    was_training = judge.training
    judge.eval()
    try:
        logits = judge(images)  # (N, n_classes)
    finally:
        judge.train(was_training)
    n_classes = logits.shape[1]
    if int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ValueError(
            f"labels must lie in 0 .. {n_classes - 1} (the judge's classes), got "
            f"{int(labels.min())} .. {int(labels.max())}"
        )
    right = (logits.argmax(1) == labels).double()
    count = torch.bincount(labels, minlength=n_classes).double()
    per_class = torch.bincount(labels, weights=right, minlength=n_classes) / count
    return float(right.mean()), per_class


@torch.no_grad()
def style_swap(model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each digit's style redrawn as every label: z = the mean of q(z|x, y) for images ``x``
    ``(B, 1, 28, 28)`` with their labels ``y`` (int64 ``(B,)``), decoded with each label
    0 .. n_classes - 1 -> mean images ``(B, n_classes, 1, 28, 28)``; column ``y[b]`` of row
    ``b`` is the digit's own reconstruction."""
    check_cvae(model)
    check_tensor("x", x, shape=(None, *model.input_shape), low=0.0, high=1.0)
    mu, _ = model.encode(x, y)  # (B, K): the style, no sampling
    b, c = len(x), model.n_classes
    z = mu.repeat_interleave(c, dim=0)  # (B * C, K): each style C times
    every = torch.arange(c).repeat(b)  # (B * C,): 0 .. C-1 for each style
    return model.decode(z, every).reshape(b, c, *model.input_shape)
