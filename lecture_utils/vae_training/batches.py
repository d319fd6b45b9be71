"""A recipe's mini-batches of MNIST digits (introduced in 06_vae): the seeded validation
split, dynamic binarisation, random shifts, and the labels of notebook 09's conditional
VAE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lecture_utils._validate import (
    check_bool,
    check_generator,
    check_int,
    check_positive_int,
    check_tensor,
)
from lecture_utils.data import load_mnist
from lecture_utils.vae_training.recipes import VAERecipe


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
            x = self.images.index_select(0, idx)  # the rows of idx; faster than images[idx]
            if self.shift:
                x = random_shift(x, self.shift, self.generator).reshape(len(idx), -1)
            if self.dynamic:  # pixel = 1 where a uniform draw falls below its grey level
                x = torch.rand(x.shape, generator=self.generator).lt_(x)
            yield (x,) if self.labels is None else (x, self.labels.index_select(0, idx))


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
