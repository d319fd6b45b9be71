"""Write the student edition of the notebooks to build/student/.

    python scripts/make_student_edition.py                 # every notebook in notebooks/
    python scripts/make_student_edition.py notebooks/05_mle_and_elbo.ipynb --out /tmp/student

Each solution (the lines between `# BEGIN SOLUTION` and `# END SOLUTION` in a cell tagged
`solution`) becomes `raise NotImplementedError("Exercise N.K: title")`; cells tagged
`remove-in-student` are dropped; outputs are cleared. A malformed exercise cell stops the build
with a message naming the notebook and the cell, and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from editions import EditionError, write_student_edition  # scripts/editions.py, next to this file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "student",
        help="output folder (default: build/student)",
    )
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    try:
        written = write_student_edition(paths, args.out)
    except EditionError as err:
        sys.exit(f"student edition not written: {err}")
    if not args.notebooks:  # drop notebooks renamed or removed since the last build
        for stale in set(args.out.glob("*.ipynb")) - {target for target, _ in written}:
            stale.unlink()
    for target, exercises in written:
        print(f"{target}  ({exercises} exercise{'s' * (exercises != 1)})")


if __name__ == "__main__":
    main()
