import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import lecture_utils  # noqa: E402
from lecture_utils import plotting, seed_everything  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_version_comes_from_the_installed_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project.get("dynamic", [])
    assert lecture_utils.__version__ == project["version"], (
        "the installed vae-course is not this tree's version: rerun `make .venv/.installed`"
    )


def test_setuptools_configuration_finds_every_package_and_the_data():
    """A fast stand-in for tests/test_wheel.py: what setuptools would put in the wheel."""
    from setuptools.config.pyprojecttoml import read_configuration

    config = read_configuration(ROOT / "pyproject.toml", expand=True)["tool"]["setuptools"]
    on_disk = {
        ".".join(d.relative_to(ROOT).parts)
        for d in (ROOT / "lecture_utils").rglob("*")
        if d.is_dir() and d.name != "__pycache__" and any(d.iterdir())
    } | {"lecture_utils"}
    assert set(config["packages"]) == on_disk, "pyproject.toml's packages.find misses a folder"
    assert "lecture_utils.checks" in config["packages"]
    patterns = config["package-data"]["lecture_utils"]
    shipped = {p for pattern in patterns for p in (ROOT / "lecture_utils").glob(pattern)}
    assert shipped == set((ROOT / "lecture_utils" / "_data").glob("*.npz")) != set()


@pytest.mark.slow
def test_import_prints_nothing_seeds_nothing_downloads_nothing():
    code = (
        "import socket, torch\n"
        "def no_net(*a, **k): raise AssertionError('network used on import')\n"
        "socket.socket.connect = no_net\n"
        "torch.manual_seed(123); before = torch.initial_seed(); threads = torch.get_num_threads()\n"
        "import lecture_utils, lecture_utils.data, lecture_utils.models, lecture_utils.losses\n"
        "import lecture_utils.training, lecture_utils.plotting\n"
        "assert torch.initial_seed() == before and torch.get_num_threads() == threads\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""


def test_seed_everything_repeats_and_pins_threads():
    g = seed_everything(7, threads=1)
    a = torch.rand(3), torch.rand(2, generator=g)
    assert torch.get_num_threads() == 1
    g = seed_everything(7, threads=2)
    b = torch.rand(3), torch.rand(2, generator=g)
    assert torch.get_num_threads() == 2
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
    with pytest.raises(ValueError, match="threads"):
        seed_everything(0, threads=0)
    with pytest.raises(ValueError, match="seed must be <= 4294967295"):
        seed_everything(2**40)
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


def test_course_thread_policy_is_one_thread_and_torch_threads_restores():
    from lecture_utils.seed import DEFAULT_THREADS, torch_threads

    assert DEFAULT_THREADS == 1
    seed_everything(0, threads=2)
    with torch_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("restored even after an error")
    assert torch.get_num_threads() == 2


def test_plotting_helpers_draw():
    x = torch.rand(12, 1, 28, 28)
    grid = plotting.image_grid(x, nrow=5)
    assert grid.shape == (3 * 29 - 1, 5 * 29 - 1)
    assert grid[:28, :28].tolist() == x[0, 0].tolist()
    figs = [
        plotting.show_images(x, title="t"),
        plotting.show_reconstructions(x, x.flip(0)),
        plotting.plot_latent_scatter(torch.randn(12, 2), torch.arange(12) % 10),
    ]
    assert all(f.get_axes() for f in figs)
    with pytest.raises(ValueError, match="one channel"):
        plotting.show_images(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_latent_scatter(torch.randn(12, 3), torch.arange(12))
