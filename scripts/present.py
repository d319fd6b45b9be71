"""Present from a copy of the notebooks, so that the repository's notebooks stay untouched
(``make present``).

    python scripts/present.py            # refresh build/present/ and open JupyterLab there
    python scripts/present.py --no-lab   # refresh the copies only

Running a notebook in JupyterLab rewrites the file (outputs, kernel metadata), and a tracked
notebook rewritten that way makes the next ``git pull`` of course fixes conflict. So the
instructor runs and edits copies in ``build/present/`` (not tracked), and the tracked notebooks
stay as they are.

How the copies are refreshed (``refresh``), notebook by notebook:

- **no copy yet**: the notebook is copied;
- **the original has not changed** since it was copied: the copy is kept as it is, with
  whatever the instructor ran or edited in it;
- **the original has changed** (a ``git pull`` brought a fix): the copy is replaced by the new
  original. If the instructor had run or edited the copy, it is first moved to
  ``build/present/replaced/<name>-<time>.ipynb``, so nothing is lost.

``build/present/.copied.json`` remembers the SHA-256 of each original as copied. Without that
record (an older copy), a copy older than its original counts as changed, a newer one as kept.

JupyterLab starts in ``build/present/`` without the "official Jupyter news" question and
without update checks: the settings come from ``build/present-lab-settings/overrides.json``,
written here (``fetchNews`` "false", ``checkForUpdates`` false) and passed on the command line
(``--LabApp.app_settings_dir``), with ``--LabApp.news_url=None``; nothing in the home folder
is changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ".copied.json"
#: JupyterLab settings for presenting: no news question, no update check
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refresh(source: Path, target: Path) -> dict[str, str]:
    """Bring the copies in ``target`` up to date with the notebooks ``source/*.ipynb`` (the
    rules are in the module docstring) -> ``{notebook name: what happened}``, where what
    happened is ``"copied"``, ``"kept"``, ``"updated"`` (an untouched copy replaced) or
    ``"updated, edited copy kept as replaced/<file>"``."""
    source, target = Path(source), Path(target)
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"source must be a folder of notebooks; {source} holds no *.ipynb")
    target.mkdir(parents=True, exist_ok=True)
    record_path = target / RECORD
    record: dict[str, str] = json.loads(record_path.read_text()) if record_path.exists() else {}
    done: dict[str, str] = {}
    for original in notebooks:
        copy = target / original.name
        now = sha256(original)
        if not copy.exists():
            action = "copied"
        else:
            before = record.get(original.name)
            if before is None:  # no record: judge by modification times
                changed = original.stat().st_mtime > copy.stat().st_mtime
                edited = changed
            else:
                changed = before != now
                edited = sha256(copy) != before
            if not changed:
                done[original.name] = "kept"
                record[original.name] = before or now
                continue
            action = "updated"
            if edited:
                stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(copy.stat().st_mtime))
                kept = target / "replaced" / f"{original.stem}-{stamp}.ipynb"
                kept.parent.mkdir(exist_ok=True)
                os.replace(copy, kept)
                action = f"updated, edited copy kept as replaced/{kept.name}"
        shutil.copy2(original, copy)
        record[original.name] = now
        done[original.name] = action
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return done


def lab_command(target: Path, settings: Path, extra: list[str] = ()) -> list[str]:
    """The JupyterLab command line that opens ``target`` with the presenting settings in
    ``settings`` (a folder holding ``overrides.json``)."""
    return [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        f"--ServerApp.root_dir={target}",
        f"--LabApp.app_settings_dir={settings}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *extra,
    ]


def write_settings(settings: Path) -> Path:
    """Write ``overrides.json`` (:data:`LAB_OVERRIDES`) into the folder ``settings``."""
    settings.mkdir(parents=True, exist_ok=True)
    path = settings / "overrides.json"
    path.write_text(json.dumps(LAB_OVERRIDES, indent=2) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--target", type=Path, default=ROOT / "build" / "present")
    parser.add_argument("--no-lab", action="store_true", help="refresh the copies only")
    args, lab_args = parser.parse_known_args()
    for name, action in refresh(args.source, args.target).items():
        print(f"{name}: {action}")
    if args.no_lab:
        return
    settings = write_settings(args.target.parent / "present-lab-settings")
    if os.geteuid() == 0 and "--allow-root" not in lab_args:
        lab_args.append("--allow-root")  # Jupyter refuses root otherwise
    command = lab_command(args.target.resolve(), settings.parent.resolve(), lab_args)
    print(" ".join(command), flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
