"""Execute notebooks in fresh kernels; report wall time and the kernel's peak memory.

    python scripts/run_notebooks.py                  # report on every notebook (nothing written)
    python scripts/run_notebooks.py --write 01_*.ipynb   # also store the outputs in place

``--write`` is how stored outputs are refreshed after editing a notebook: each runs top to
bottom in a new kernel, so what nbval later compares is what a student will see.

Wall times depend on the machine as much as on the notebooks: the report first prints the
machine's float32 matrix-product rate on one thread at the shapes of notebook 06's training step
(``bench_vae.matmul_rate``, about a second), so that two reports from different machines can be
told apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
TOTAL_BUDGET_S = 180.0


class PeakMemory(threading.Thread):
    """Poll a process tree's resident memory every 20 ms and keep the maximum; also keep the
    tree's processor time (user + system seconds, all threads), which grows far less than wall
    time when other programs compete for the cores."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.cpu = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
                self.cpu = max(self.cpu, sum(sum(p.cpu_times()[:2]) for p in procs))
            except psutil.Error:
                pass
            self.done.wait(0.02)


def run(path: Path, write: bool, timeout: int) -> tuple[float, float, int]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    with client.setup_kernel():
        monitor = PeakMemory(client.km.provisioner.process.pid)
        monitor.start()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        monitor.done.set()
    seconds = time.perf_counter() - start
    if write:
        for cell in nb.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
    return seconds, monitor.cpu, monitor.peak


def machine_rate() -> float:
    """GFLOP/s of the matrix products of one training step of notebook 06's VAE, one thread."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_vae import linear_shapes, matmul_rate

    from lecture_utils.seed import torch_threads
    from lecture_utils.vae_training import NOTEBOOK_RECIPE

    with torch_threads(1):
        shapes = linear_shapes(NOTEBOOK_RECIPE.make_model())
        return matmul_rate(shapes, NOTEBOOK_RECIPE.batch_size, seconds=1.0)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true", help="store the outputs in the notebooks")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    paths = [p if p.exists() else ROOT / "notebooks" / p for p in paths]
    total, over = 0.0, []
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
    print(f"this machine: {machine_rate():.1f} GFLOP/s of float32 matrix products on one thread")
    print(f"{'notebook':34s} {'wall s':>8s} {'CPU s':>7s} {'peak MiB':>9s}")
    for path in paths:
        seconds, cpu, peak = run(path, args.write, args.timeout)
        total += seconds
        flag = "  OVER BUDGET" if seconds > BUDGET_S else ""
        if flag:
            over.append(path.name)
        print(f"{path.name:34s} {seconds:8.1f} {cpu:7.1f} {peak / 2**20:9.0f}{flag}", flush=True)
    print(
        f"{'total':34s} {total:8.1f}   "
        f"(budget: {BUDGET_S:.0f} s each, {TOTAL_BUDGET_S:.0f} s in all)"
    )
    sys.exit(1 if over or total > TOTAL_BUDGET_S else 0)


if __name__ == "__main__":
    main()
