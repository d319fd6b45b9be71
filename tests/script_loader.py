"""Load a script of ``scripts/`` as a module, for the tests of the course's tools (the scripts
are run by path, not installed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str, register: bool = False) -> ModuleType:
    """``scripts/<name>.py`` as a fresh module (``register``: also in ``sys.modules``, which
    dataclasses and pickling need)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
