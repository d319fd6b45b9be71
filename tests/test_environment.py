"""The install files agree: pyproject.toml declares, environment.yml and constraints.txt follow it,
the Makefile, pre-commit and CI run the same checks, the README states the same Python."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(extras=("test", "dev")) -> set[str]:
    """The runtime dependencies and those of the given extras."""
    have = PROJECT["optional-dependencies"]
    assert set(extras) <= set(have), f"pyproject.toml lacks an extra of {extras}"
    return set(PROJECT["dependencies"]).union(*(have[e] for e in extras))


def conda_pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip section"
    return pip[0]["pip"]


def test_environment_yml_matches_pyproject():
    # what a learner needs, as `make` installs it: the runtime and the `test` extra (not `dev`)
    reqs = {r for r in conda_pip_section() if not r.startswith("-")}
    want = declared(extras=("test",))
    assert reqs == want, (
        f"environment.yml and pyproject.toml drifted apart: only in environment.yml "
        f"{sorted(reqs - want)}, only in pyproject.toml {sorted(want - reqs)}"
    )
    assert "-e ." in conda_pip_section(), "environment.yml must install the course package itself"


def test_python_version_is_stated_once():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(
        d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")
    )
    minimum = re.fullmatch(r">=(3\.\d+)", PROJECT["requires-python"]).group(1)
    assert conda_python == f"python={minimum}", "environment.yml's python differs from pyproject"
    assert f"Python {minimum}+" in (ROOT / "README.md").read_text(), "README states another Python"
    assert tuple(map(int, minimum.split("."))) >= (3, 11), "the tests import tomllib (3.11+)"


def test_constraints_pin_every_dependency_and_the_cpu_torch():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt line {line!r} is not an exact pin"
            # a local version such as +cpu exists only on some indexes and platforms
            assert "+" not in version, f"constraints.txt line {line!r}: drop the local version"
            pins[_name(name)] = version
    missing = {_name(r) for r in declared()} - set(pins)
    assert not missing, f"constraints.txt does not pin {sorted(missing)}"
    assert pins["torch"] == "2.13.0", "CI must install torch 2.13.0, the CPU wheel on this machine"


def test_ci_lints_then_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    lint, test = (re.search(rf"^make {t}$", ci, re.M) for t in ("lint", "test"))
    assert lint and test and lint.start() < test.start(), (
        ".ci/run must run make lint, then make test"
    )


def test_pre_commit_runs_make_lints_checks_offline():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"]), "remote hooks need a network"
    assert all(h["language"] == "system" for h in hooks)
    commands = {" ".join(h["args"][:2]).replace(" --force-exclude", "") for h in hooks}
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert commands == {"check", "format --check"}
    assert all(f"ruff {c} ." in lint for c in commands), "make lint and pre-commit differ"
