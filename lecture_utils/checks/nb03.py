"""Checks for the exercises of 03_encoder_reuse.

- Exercise 3.1 ``balanced_subset(labels, per_class, generator)``: checked by counting (every
  class exactly ``per_class`` times, no index twice), by reproducibility under a seeded
  generator, and by a brute-force frequency count (each member of a class must be picked
  with probability ``per_class / class size``).
- Exercise 3.2 ``freeze(module)``: checked by running a real linear probe (Adam on every
  parameter of an :class:`~lecture_utils.models.EncoderClassifier`) and comparing the
  encoder's weights before and after, parameter by parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lecture_utils.checks.core import ExerciseError, gen, passed, run_student
from lecture_utils.data import load_mnist
from lecture_utils.models import Autoencoder, EncoderClassifier


def _subset_once(
    name: str, fn: Callable, labels: torch.Tensor, per_class: int, seed: int
) -> torch.Tensor:
    """Call the answer on a copy of ``labels`` and check the basic form of what comes back."""
    n_classes = int(labels.max()) + 1
    got = run_student(name, fn, labels.clone(), per_class, gen(seed))
    want = n_classes * per_class
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(f"{name}: expected a tensor of indices, got {type(got).__name__}.")
    if got.dtype == torch.bool:
        raise ExerciseError(
            f"{name}: expected int64 indices, got a boolean mask; turn it into "
            "indices with torch.nonzero(mask).flatten()."
        )
    if got.dtype != torch.int64:
        raise ExerciseError(f"{name}: expected int64 indices, got dtype {got.dtype}.")
    if got.ndim != 1 or len(got) != want:
        hint = ""
        if got.numel() == per_class:
            hint = (
                f" It looks like {per_class} labels in total; the budget is {per_class} "
                f"labels *per class*, so {n_classes} x {per_class}."
            )
        raise ExerciseError(
            f"{name}: with {n_classes} classes and per_class={per_class} "
            f"expected shape ({want},), got {tuple(got.shape)}.{hint}"
        )
    if int(got.min()) < 0 or int(got.max()) >= len(labels):
        raise ExerciseError(
            f"{name}: indices must lie in [0, {len(labels)}), got values from "
            f"{int(got.min())} to {int(got.max())}."
        )
    if len(torch.unique(got)) != len(got):
        raise ExerciseError(
            f"{name}: {len(got) - len(torch.unique(got))} index(es) appear "
            "twice; draw without replacement (torch.randperm, not torch.randint)."
        )
    counts = torch.bincount(labels[got], minlength=n_classes)
    if not torch.all(counts == per_class):
        raise ExerciseError(
            f"{name}: expected per_class={per_class} examples of every class, got counts "
            f"{counts.tolist()} for classes 0..{n_classes - 1}. Pick within each "
            "class separately (labels == c); the first N digits are a random "
            "sample, not a balanced one."
        )
    return got


def check_balanced_subset(fn: Callable) -> None:
    """Exercise 3.1: ``fn(labels, per_class, generator)`` -> int64 indices, equal per class."""
    name = "Exercise 3.1"
    _, mnist_labels = load_mnist("train")
    for per_class in (1, 5, 100):
        _subset_once(name, fn, mnist_labels, per_class, seed=per_class)
    first = _subset_once(name, fn, mnist_labels, 5, seed=7)
    again = _subset_once(name, fn, mnist_labels, 5, seed=7)
    if not torch.equal(torch.sort(first).values, torch.sort(again).values):
        raise ExerciseError(
            f"{name}: two calls with generators seeded alike (seed 7) gave "
            "different subsets; draw every random number with the generator, "
            "e.g. torch.randperm(n, generator=generator)."
        )
    # brute force: each member of a class of 4 must be picked with probability 2 / 4
    labels = torch.arange(12) % 3  # classes interleaved, not sorted
    draws = 300
    hits = torch.zeros(12)
    for seed in range(draws):
        hits[_subset_once(name, fn, labels, 2, seed=seed)] += 1
    freq = hits / draws
    worst = int((freq - 0.5).abs().argmax())
    if abs(float(freq[worst]) - 0.5) > 0.15:
        raise ExerciseError(
            f"{name}: on labels {labels.tolist()} with per_class=2, every index "
            f"should be picked in about 50% of {draws} seeded draws; index {worst} "
            f"was picked in {float(freq[worst]):.0%}. Choose at random within each "
            "class, not the first examples."
        )
    passed(name, "equal counts per class, no repeats, random and reproducible")


def _probe_setup() -> tuple[EncoderClassifier, torch.Tensor, torch.Tensor]:
    g = gen(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(20240)  # an unusual seed: a re-initialisation would differ
        ae = Autoencoder(4, (16,), input_shape=(1, 8, 8))
        clf = EncoderClassifier.from_autoencoder(ae, n_classes=3, freeze_encoder=False)
    x = torch.rand(24, 1, 8, 8, generator=g)
    y = torch.arange(24) % 3
    return clf, x, y


def check_freeze(fn: Callable) -> None:
    """Exercise 3.2: ``fn(module)`` freezes every parameter; linear probing then leaves the
    encoder's weights exactly as they were while the head still learns."""
    name = "Exercise 3.2"
    clf, x, y = _probe_setup()
    before = {param: p.detach().clone() for param, p in clf.named_parameters()}
    returned = run_student(name, fn, clf.encoder)
    if not torch.is_grad_enabled():
        torch.set_grad_enabled(True)
        raise ExerciseError(
            f"{name}: your function switched gradients off for *all* of torch "
            "(torch.set_grad_enabled(False)), which would also stop the head from "
            "learning; switched back on. Freeze only the module's parameters."
        )
    if returned is not None and returned is not clf.encoder:
        raise ExerciseError(
            f"{name}: return the module you were given (or nothing), got a "
            f"{type(returned).__name__} that is a different object; freeze the "
            "module's own parameters in place instead of a copy."
        )
    for param, p in clf.encoder.named_parameters():
        if not torch.equal(p.detach(), before[f"encoder.{param}"]):
            raise ExerciseError(
                f"{name}: freezing changed the value of encoder.{param}; only "
                "switch off its gradient, keep the pretrained weights."
            )
    # a real linear probe: Adam over *all* parameters, as a careless training loop would do
    optimizer = torch.optim.Adam(clf.parameters(), lr=0.05)
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(clf(x), y).backward()
        optimizer.step()
    for param, p in clf.encoder.named_parameters():
        change = float((p.detach() - before[f"encoder.{param}"]).abs().max())
        if change > 0:
            trainable = [
                f"encoder.{n}" for n, q in clf.encoder.named_parameters() if q.requires_grad
            ]
            hint = (
                f"Still trainable (requires_grad=True): {', '.join(trainable)}. Set "
                "p.requires_grad_(False) for every p in module.parameters()"
            )
            if not clf.encoder.training:
                hint += (
                    "; module.eval() only switches layers like dropout to evaluation mode, "
                    "it does not stop the optimizer"
                )
            raise ExerciseError(
                f"{name}: the encoder's weights changed during linear probing "
                f"(encoder.{param} moved by up to {change:.3g}); expected no "
                f"change at all. {hint}."
            )
    head_change = max(
        float((p.detach() - before[f"head.{n}"]).abs().max())
        for n, p in clf.head.named_parameters()
    )
    if head_change == 0:
        raise ExerciseError(
            f"{name}: the linear head did not learn; freeze only the module "
            "you are given (the encoder), not the whole classifier."
        )
    if not clf.encoder_frozen:
        trainable = [f"encoder.{n}" for n, q in clf.encoder.named_parameters() if q.requires_grad]
        raise ExerciseError(
            f"{name}: the weights stayed put this time, but encoder parameters "
            f"{', '.join(trainable)} still have requires_grad=True; another "
            "optimizer would change them. Set requires_grad to False."
        )
    passed(name, "the encoder stayed fixed during linear probing, the head learned")
