"""scripts/present.py (`make present`): the copy rules for build/present/ and the JupyterLab
settings it starts with (the server itself is not started here)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
present = load_script("present")


@pytest.fixture()
def folders(tmp_path):
    source, target = tmp_path / "notebooks", tmp_path / "build" / "present"
    source.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (source / name).write_text(f'{{"cells": [], "name": "{name}", "version": 1}}\n')
    (source / "notes.txt").write_text("not a notebook\n")
    return source, target


def text(path):
    return Path(path).read_text()


def test_first_refresh_copies_every_notebook_and_nothing_else(folders):
    source, target = folders
    assert present.refresh(source, target) == {"01_a.ipynb": "copied", "02_b.ipynb": "copied"}
    for name in ("01_a.ipynb", "02_b.ipynb"):
        assert text(target / name) == text(source / name)
    assert not (target / "notes.txt").exists()
    assert set(json.loads(text(target / ".copied.json"))) == {"01_a.ipynb", "02_b.ipynb"}


def test_the_instructors_runs_and_edits_are_kept_while_the_original_is_the_same(folders):
    source, target = folders
    present.refresh(source, target)
    (target / "01_a.ipynb").write_text('{"cells": ["run in class"]}\n')
    os.utime(source / "01_a.ipynb")  # a checkout may touch a file without changing it
    assert present.refresh(source, target) == {"01_a.ipynb": "kept", "02_b.ipynb": "kept"}
    assert text(target / "01_a.ipynb") == '{"cells": ["run in class"]}\n'
    assert text(source / "01_a.ipynb") != text(target / "01_a.ipynb")


def test_a_changed_original_replaces_the_copy_and_an_edited_copy_is_moved_aside(folders):
    source, target = folders
    present.refresh(source, target)
    (target / "01_a.ipynb").write_text('{"cells": ["run in class"]}\n')
    (source / "01_a.ipynb").write_text('{"cells": ["fixed upstream"]}\n')
    (source / "02_b.ipynb").write_text('{"cells": ["also fixed"]}\n')
    done = present.refresh(source, target)
    assert done["02_b.ipynb"] == "updated"  # the copy was untouched: nothing to keep
    assert re.fullmatch(
        r"updated, edited copy kept as replaced/01_a-\d{8}-\d{6}\.ipynb", done["01_a.ipynb"]
    )
    for name in ("01_a.ipynb", "02_b.ipynb"):
        assert text(target / name) == text(source / name)
    (kept,) = (target / "replaced").iterdir()
    assert text(kept) == '{"cells": ["run in class"]}\n'
    assert present.refresh(source, target) == {"01_a.ipynb": "kept", "02_b.ipynb": "kept"}


def test_a_deleted_copy_is_copied_again(folders):
    source, target = folders
    present.refresh(source, target)
    (target / "02_b.ipynb").unlink()
    assert present.refresh(source, target)["02_b.ipynb"] == "copied"
    assert text(target / "02_b.ipynb") == text(source / "02_b.ipynb")


def test_without_a_record_modification_times_decide(folders):
    source, target = folders
    present.refresh(source, target)
    (target / ".copied.json").unlink()
    (target / "01_a.ipynb").write_text('{"cells": ["old copy"]}\n')
    (target / "02_b.ipynb").write_text('{"cells": ["newer copy"]}\n')
    os.utime(target / "01_a.ipynb", (1_000_000, 1_000_000))  # older than its original
    done = present.refresh(source, target)
    assert done["01_a.ipynb"].startswith("updated, edited copy kept as replaced/")
    assert done["02_b.ipynb"] == "kept"
    assert text(target / "01_a.ipynb") == text(source / "01_a.ipynb")
    assert text(target / "02_b.ipynb") == '{"cells": ["newer copy"]}\n'


def test_a_folder_without_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holds no"):
        present.refresh(tmp_path, tmp_path / "out")


def test_lab_starts_in_the_copies_without_the_news_question(tmp_path):
    settings = present.write_settings(tmp_path / "settings")
    overrides = json.loads(settings.read_text())
    command = present.lab_command(tmp_path / "present", settings.parent)
    assert command[1] == "lab"
    assert f"--ServerApp.root_dir={tmp_path / 'present'}" in command
    assert f"--LabApp.app_settings_dir={settings.parent}" in command
    assert "--LabApp.news_url=None" in command
    # the overridden settings exist in the installed JupyterLab, with these values allowed
    schema_path = (
        Path(sys.prefix)
        / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension"
        / "notification.json"
    )
    schema = json.loads(schema_path.read_text())["properties"]
    (plugin,) = overrides
    assert plugin == "@jupyterlab/apputils-extension:notification"
    assert {"const": overrides[plugin]["fetchNews"], "title": "Never"} in schema["fetchNews"][
        "oneOf"
    ]
    assert schema["checkForUpdates"]["type"] == "boolean"
    assert overrides[plugin]["checkForUpdates"] is False


def test_makefile_has_a_present_target():
    assert re.search(r"^present: .*\n\t.*scripts/present\.py", text(ROOT / "Makefile"), re.M)
