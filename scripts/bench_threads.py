"""Benchmark the course's thread policy: torch threads, an idle machine and one busy core.

    python scripts/bench_threads.py                        # --steps: training steps per second
    python scripts/bench_threads.py --notebook             # notebooks/06_vae.ipynb, wall time
    python scripts/bench_threads.py --notebook notebooks/00_welcome.ipynb
    python scripts/bench_threads.py --steps --notebook     # both parts
    python scripts/bench_threads.py --quick                # tiny run, to check that it works

The course runs torch on one thread (``lecture_utils.seed.DEFAULT_THREADS``, pinned by
``seed_everything``): two OpenMP threads spin-wait for each other, so on a 2-core laptop with
one core busy (a browser, a video call) or on a shared Binder/Colab core, training on two
threads becomes several times slower, while one thread loses only a little on an idle machine.
This script measures both sides of that trade-off.

``--steps`` (the default part): training steps per second of notebook 06's VAE
(``NOTEBOOK_RECIPE.make_model()``: 784-256-256-20, ELU, Bernoulli decoder; random binary
batches of 128; Adam) on 1 thread, 2 threads, and 2 threads with ``OMP_WAIT_POLICY=PASSIVE``,
each idle and with one core kept busy by a separate process running a plain Python loop. Every
measurement runs in its own fresh process (``OMP_WAIT_POLICY`` only takes effect when set before
torch is imported): a few warm-up steps, then several repeats of a fixed number of steps; the
table gives the median and the range over the repeats, the process's CPU time per wall second
(about 2 when two threads spin), the busy loop's share of a core while it ran, and the busy
median over the idle one.

``--notebook [PATH]``: runs a notebook (default ``notebooks/06_vae.ipynb``) top to bottom with
nbclient in a fresh kernel and an empty model cache (a new temporary ``VAE_COURSE_CACHE`` for
each run), once idle and once with one core busy, and prints both wall times and their ratio.
The course's target: at most twice as long with one core busy.

Figures only mean something on an otherwise idle machine: the load average is printed at the
start and at the end. The busy loop is always stopped, also on Ctrl-C, SIGTERM or an error, and
it stops by itself if this script is killed. Progress (the busy loop's process id) goes to
stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = ROOT / "notebooks" / "06_vae.ipynb"
NOTEBOOK_TARGET = 2.0  # wall time with one core busy / idle, at most
IDLE_LOAD = 0.5  # a 1-minute load average above this: warn that the machine is not idle

#: (label, torch threads, OMP_WAIT_POLICY or None for the OpenMP default)
SETTINGS = (
    ("1 thread", 1, None),
    ("2 threads", 2, None),
    ("2 threads, PASSIVE", 2, "PASSIVE"),
)
LOADS = ("idle", "one core busy")

# A plain Python busy loop that also stops once its parent (this script) is gone, so that not
# even a SIGKILL of the benchmark leaves it running. argv[1] is the parent's process id.
BUSY_LOOP = (
    "import os, sys\n"
    "parent = int(sys.argv[1])\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(100_000):\n"
    "        pass\n"
)


def log(message: str) -> None:
    """Progress to stderr (stdout holds the figures)."""
    print(message, file=sys.stderr, flush=True)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {os.cpu_count()} CPUs"


# ----------------------------------------------------------------------------- busy core
@dataclass
class BusyLoop:
    """The busy loop's process; ``core_share`` (CPU seconds / wall seconds) is set when it
    stops, or stays ``None`` when no loop ran (the idle case)."""

    pid: int | None = None
    core_share: float | None = None


@contextmanager
def busy_core(busy: bool = True) -> Iterator[BusyLoop]:
    """Keep one core busy with a plain Python loop in a separate process during the block.

    With ``busy=False`` nothing is started (so idle and loaded runs share one code path).
    The process is killed and reaped when the block ends, however it ends.
    """
    info = BusyLoop()
    if not busy:
        yield info
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", BUSY_LOOP, str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    start = time.perf_counter()
    try:  # from here on, whatever interrupts (a signal too) ends in the kill below
        info.pid = proc.pid
        log(f"busy loop started (pid {proc.pid})")
        yield info
    finally:
        proc.kill()  # first: nothing below may keep the loop alive
        try:  # an unreaped (zombie) process still reports its CPU time
            cpu = psutil.Process(proc.pid).cpu_times()
            info.core_share = (cpu.user + cpu.system) / (time.perf_counter() - start)
        except psutil.Error:
            pass
        proc.wait()
        log(f"busy loop stopped (pid {proc.pid})")


# ----------------------------------------------------------------------------- steps/s
def worker(threads: int, warmup: int, steps: int, repeats: int) -> None:
    """Run in a fresh process: time notebook 06's training step, print one JSON line."""
    import torch

    from lecture_utils.seed import seed_everything
    from lecture_utils.vae_training import NOTEBOOK_RECIPE

    generator = seed_everything(0, threads=threads)
    model = NOTEBOOK_RECIPE.make_model()  # notebook 06's VAE, Bernoulli decoder
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    pool = (torch.rand(8, 128, 1, 28, 28, generator=generator) < 0.5).float()

    def step(i: int) -> None:
        loss = -model.elbo(pool[i % len(pool)], generator=generator).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for i in range(warmup):
        step(i)
    results = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(steps):
            step(i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results.append({"steps_per_s": steps / wall, "cpu_per_wall": cpu / wall})
    print(json.dumps({"threads": torch.get_num_threads(), "repeats": results}))


def run_worker(
    threads: int, wait_policy: str | None, warmup: int, steps: int, repeats: int
) -> list[dict[str, float]]:
    """One setting in a fresh Python process -> one dict per repeat."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("OMP_WAIT_POLICY", None)
    if wait_policy is not None:
        env["OMP_WAIT_POLICY"] = wait_policy
    args = ["--worker", str(threads), str(warmup), str(steps), str(repeats)]
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise SystemExit(f"the worker for {threads} thread(s) failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["threads"] != threads:
        raise SystemExit(f"the worker ran on {result['threads']} threads, not {threads}")
    return result["repeats"]


def shape() -> str:
    """Notebook 06's VAE's layer widths, e.g. ``784-256-256-20``."""
    from lecture_utils.vae_training import NOTEBOOK_RECIPE

    return "-".join(str(n) for n in (784, *NOTEBOOK_RECIPE.hidden_dims, NOTEBOOK_RECIPE.latent_dim))


def bench_steps(warmup: int, steps: int, repeats: int) -> None:
    """Print the steps-per-second table: each setting idle, then with one core busy."""
    print(
        f"training steps/s of notebook 06's VAE {shape()} (ELU, Bernoulli), batch 128, "
        f"Adam; a fresh process per row: {plural(warmup, 'warm-up step')}, then "
        f"{plural(repeats, 'repeat')} of {plural(steps, 'step')}"
    )
    header = (
        f"{'setting':20s} {'load':14s} {'steps/s':>8s} {'range':>15s} "
        f"{'CPU/wall':>8s} {'busy core':>9s} {'vs idle':>7s}"
    )
    print(header)
    medians: dict[tuple[str, str], float] = {}
    for label, threads, wait_policy in SETTINGS:
        for load in LOADS:
            with busy_core(load != "idle") as busy:
                reps = run_worker(threads, wait_policy, warmup, steps, repeats)
            rates = [r["steps_per_s"] for r in reps]
            median = medians[label, load] = statistics.median(rates)
            cpu = statistics.median(r["cpu_per_wall"] for r in reps)
            spread = f"{min(rates):.1f}-{max(rates):.1f}"
            share = "-" if busy.core_share is None else f"{100 * busy.core_share:.0f} %"
            ratio = "-" if load == "idle" else f"{median / medians[label, 'idle']:.2f}"
            print(
                f"{label:20s} {load:14s} {median:8.1f} {spread:>15s} "
                f"{cpu:8.2f} {share:>9s} {ratio:>7s}",
                flush=True,
            )
    for load in LOADS:
        best = max(SETTINGS, key=lambda s: medians[s[0], load])[0]
        print(f"fastest {load}: {best} ({medians[best, load]:.1f} steps/s)")


# ----------------------------------------------------------------------------- notebook
def run_notebook(path: Path, timeout: int) -> float:
    """Execute ``path`` top to bottom in a fresh kernel with an empty temporary model cache
    -> wall seconds, from the kernel's start to the last cell's end."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="bench-threads-cache-") as cache:
        env = dict(os.environ, VAE_COURSE_CACHE=cache)
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        client.execute(env=env)
        return time.perf_counter() - start


def bench_notebook(path: Path, timeout: int) -> None:
    """Print the notebook's wall time idle and with one core busy, and their ratio."""
    print(
        f"notebook {path.name}: top to bottom in a fresh kernel, "
        "a new empty model cache for each run"
    )
    print(f"{'load':14s} {'wall s':>8s} {'busy core':>9s}")
    seconds = {}
    for load in LOADS:
        with busy_core(load != "idle") as busy:
            seconds[load] = run_notebook(path, timeout)
        share = "-" if busy.core_share is None else f"{100 * busy.core_share:.0f} %"
        print(f"{load:14s} {seconds[load]:8.1f} {share:>9s}", flush=True)
    ratio = seconds["one core busy"] / seconds["idle"]
    verdict = "met" if ratio <= NOTEBOOK_TARGET else "NOT met"
    print(f"busy / idle: {ratio:.2f} (course target: at most {NOTEBOOK_TARGET:g}; {verdict})")


# ----------------------------------------------------------------------------- main
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"wants a positive whole number, got {text!r}")
    return value


def notebook_path(text: str) -> Path:
    path = Path(text)
    for candidate in (path, ROOT / "notebooks" / path):
        if candidate.is_file():
            return candidate.resolve()
    raise argparse.ArgumentTypeError(f"no notebook at {text!r} (nor in {ROOT / 'notebooks'})")


def stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends the script like Ctrl-C does: through the ``finally`` blocks."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", action="store_true", help="training steps/s (the default part)")
    parser.add_argument(
        "--notebook",
        nargs="?",
        const=DEFAULT_NOTEBOOK,
        type=notebook_path,
        metavar="PATH",
        help=f"wall time of a notebook (default {DEFAULT_NOTEBOOK.relative_to(ROOT)})",
    )
    parser.add_argument("--warmup", type=positive_int, default=20, help="warm-up steps (20)")
    parser.add_argument("--n-steps", type=positive_int, default=200, help="steps per repeat (200)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="repeats per row (5)")
    parser.add_argument(
        "--timeout", type=positive_int, default=600, help="notebook cell timeout in seconds"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 warm-up step, 2 repeats of 3 steps: checks that everything runs",
    )
    parser.add_argument("--worker", nargs=4, type=positive_int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return
    if args.quick:
        args.warmup, args.n_steps, args.repeats = 1, 3, 2
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    import torch

    from lecture_utils.seed import DEFAULT_THREADS

    print(
        f"torch {torch.__version__}; the course runs torch on DEFAULT_THREADS = "
        f"{plural(DEFAULT_THREADS, 'thread')}"
    )
    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        if name in os.environ:
            print(f"note: {name}={os.environ[name]} is set in this shell")
    print(f"load average at start: {load_average()}", flush=True)
    if os.getloadavg()[0] > IDLE_LOAD:
        print(
            f"warning: load above {IDLE_LOAD:g}: the machine is not idle, "
            "so these figures are not an idle machine's"
        )
    if args.steps or args.notebook is None:
        bench_steps(args.warmup, args.n_steps, args.repeats)
    if args.notebook is not None:
        bench_notebook(args.notebook, args.timeout)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
