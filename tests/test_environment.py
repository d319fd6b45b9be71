"""environment.yml must install what pyproject.toml declares, and CI must take torch's CPU build."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["test"])


def conda_pip_section() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip section"
    return pip[0]["pip"]


def test_environment_yml_matches_pyproject():
    reqs = {r for r in conda_pip_section() if not r.startswith("-")}
    assert reqs == declared(), (
        f"environment.yml and pyproject.toml drifted apart: only in environment.yml "
        f"{sorted(reqs - declared())}, only in pyproject.toml {sorted(declared() - reqs)}"
    )
    assert "-e ." in conda_pip_section(), "environment.yml must install the course package itself"


def test_constraints_pin_every_dependency_and_the_cpu_torch():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt line {line!r} is not an exact pin"
            pins[_name(name)] = version
    missing = {_name(r) for r in declared()} - set(pins)
    assert not missing, f"constraints.txt does not pin {sorted(missing)}"
    assert pins["torch"] == "2.13.0", "CI must install torch 2.13.0, the CPU wheel on this machine"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)
