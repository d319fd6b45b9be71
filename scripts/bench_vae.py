"""Benchmark notebook 06's 20-D VAE against the tutorial VAE, at the same wall-clock time.

    python scripts/bench_vae.py            # the course's recipe, then the reference for as long
    python scripts/bench_vae.py --busy     # ... and the training loop with one core kept busy
    python scripts/bench_vae.py --set epochs=30 --set lr=3e-3 --no-test   # try a variation
    python scripts/bench_vae.py --reference --no-test   # REFERENCE_RECIPE alone, by its epochs
    python scripts/bench_vae.py --set iwae_samples=2 --set epochs=36 --no-test --val-nll
    python scripts/bench_vae.py --no-test --profile 4   # ... and where a step's time goes

One run of the default prints:

1. **the machine's arithmetic rate**: a plain loop of the float32 matrix products of one
   training step of the recipe's model (per linear layer: the forward product, the gradient of
   the input, except for the first layer, and the gradient of the weights) at its shapes, on the
   same number of torch threads as training, in GFLOP/s;
2. **the course's recipe** (``NOTEBOOK_RECIPE``, exactly as notebook 06 trains it): steps,
   wall and processor seconds, steps per second, and the loop's achieved rate (FLOPs per step
   from the layer sizes, times steps per second) as a fraction of the rate in 1.;
3. **the reference** (``REFERENCE_RECIPE``, the tutorial VAE 784-400-20), trained for the same
   wall-clock time as the recipe took (whole epochs, the one nearest that time; ``--cpu-clock``:
   the same processor time, fairer while other programs share the machine);
4. on all 2,000 binarised test digits, for both: the negative ELBO (mean of 10 one-sample
   estimates per digit) and the importance-sampled negative log-likelihood with S = 1000, each
   with its standard error over the digits, and the reference minus the recipe (the standard
   error of the difference comes from the per-digit differences: both models score the same
   digits).

``--busy`` adds the training loop's slowdown when one core is kept busy by another process (the
plain Python loop of ``scripts/bench_threads.py``: a browser or a video call on a student's
laptop): a few epochs of the recipe idle, then the same epochs with the busy loop running.

Wall-clock seconds depend on what else runs on the machine: every figure is printed with the
load average, and the comparison at equal time only means something on an idle machine. Steps,
validation and test scores do not depend on the load (training is seeded and deterministic).
Choose between recipes by the validation ELBO (500 training digits held out; ``--no-test``),
never by the test scores; ``--val-nll`` adds the NLL on those validation digits, the fair score
for a recipe trained on another bound (``--set iwae_samples=5``: the importance-weighted bound,
whose ELBO is lower by design). Nothing is cached.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from lecture_utils import seed_everything
from lecture_utils.data import load_mnist
from lecture_utils.evaluate import bits_per_dim, log_likelihood
from lecture_utils.seed import DEFAULT_THREADS
from lecture_utils.training import TimeBudget
from lecture_utils.vae_training import NOTEBOOK_RECIPE, REFERENCE_RECIPE, VAERecipe, train_vae
from lecture_utils.vae_training.batches import split_indices

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_threads import busy_core  # noqa: E402  (the busy loop, shared with bench_threads)

TEST_SEED = 2  # the draws of z when scoring
BUSY_EPOCHS = 4  # epochs of the recipe timed idle and with one core busy


def load() -> str:
    """The 1-minute load average and the number of CPUs, to print beside every timing."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def parse_override(text: str, recipe: VAERecipe) -> tuple[str, object]:
    """``"key=value"`` -> ``(key, value)`` with value parsed as JSON where it can be."""
    key, sep, raw = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(VAERecipe)}
    if not sep or key not in fields:
        raise SystemExit(f"--set wants key=value with key one of {', '.join(fields)}; got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(getattr(recipe, key), tuple):
        value = tuple(value) if isinstance(value, list) else (value,)
    return key, value


# ----------------------------------------------------------------------------- arithmetic
def linear_shapes(model: nn.Module) -> list[tuple[int, int]]:
    """``(inputs, outputs)`` of every ``nn.Linear`` in ``model``, in the order they run."""
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def step_flops(shapes: list[tuple[int, int]], batch_size: int) -> int:
    """Floating-point operations of the matrix products in one training step.

    A linear layer with ``n`` inputs and ``m`` outputs on a batch of ``B`` costs ``2 B n m``
    (a multiply and an add per weight and example) forward, as much again for the gradient of
    its weights and as much again for the gradient of its input, which the first layer skips
    (its input is the data). Biases, activations, the loss and the optimizer are left out: they
    are what the loop spends beyond the arithmetic limit.
    """
    total = 0
    for i, (n, m) in enumerate(shapes):
        total += 2 * batch_size * n * m * (2 if i == 0 else 3)
    return total


def matmul_rate(
    shapes: list[tuple[int, int]], batch_size: int, seconds: float = 3.0
) -> tuple[float, float]:
    """The machine's float32 rate, GFLOP/s, for the matrix products of one training step (those
    :func:`step_flops` counts), run back to back in a plain loop: the median of five timings,
    per wall-clock second and per processor second of this process (the two agree on an idle
    machine; on a shared one the second is the steadier)."""
    g = torch.Generator().manual_seed(0)
    layers = [
        (
            torch.randn(batch_size, n, generator=g),
            torch.randn(m, n, generator=g),
            torch.randn(m, generator=g),
            torch.randn(batch_size, m, generator=g),
        )
        for n, m in shapes
    ]

    def step() -> None:
        for i, (x, w, b, grad_out) in enumerate(layers):
            torch.nn.functional.linear(x, w, b)  # forward
            grad_out.t() @ x  # gradient of the weights
            if i:
                grad_out @ w  # gradient of the input

    for _ in range(10):
        step()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 5:
        step()
        n += 1
    wall, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    flops = step_flops(shapes, batch_size) * n / 1e9
    return flops / statistics.median(wall), flops / statistics.median(cpu)


# ----------------------------------------------------------------------------- scores
def mean_se(values: torch.Tensor) -> tuple[float, float]:
    """The mean of ``values`` ``(N,)`` and its standard error ``std / sqrt(N)``."""
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


def score(model: nn.Module, x: torch.Tensor, n_samples: int) -> dict[str, torch.Tensor]:
    """Per-digit ``neg_elbo`` (mean of 10 one-sample estimates) and ``nll`` (importance-sampled
    with ``n_samples``), each ``(N,)`` in nats, for the test digits ``x``."""
    g = torch.Generator().manual_seed(TEST_SEED)
    with torch.no_grad():
        neg_elbo = -torch.stack([model.elbo(x, generator=g) for _ in range(10)]).mean(0)
    return {"neg_elbo": neg_elbo, "nll": -log_likelihood(model, x, n_samples, generator=g)}


def test_digits(n: int) -> torch.Tensor:
    """The fixed binarised test digits, or a seeded random subset of ``n`` of them."""
    x, _ = load_mnist("test", binarize=True)
    if n < len(x):
        x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(1))[:n]]
    return x


# ----------------------------------------------------------------------------- runs
def train(recipe: VAERecipe, label: str, seconds: float | None = None, cpu: bool = False) -> dict:
    """Train ``recipe`` (for about ``seconds`` of wall time if given, of processor time with
    ``cpu``), print one line, and return the model, its history and the cost."""
    budget = [] if seconds is None else [TimeBudget(seconds, cpu=cpu)]
    if seconds is not None:  # as many epochs as the time allows
        recipe = dataclasses.replace(recipe, epochs=10_000)
    model, history = train_vae(recipe, progress=None, callbacks=budget)
    steps, wall, cpu_s = history["steps"][-1], history["seconds"][-1], history["cpu_seconds"][-1]
    epochs, best = len(history["loss"]), history["best_epoch"][0]
    print(
        f"{label}: {epochs} epochs, {steps:,} steps of {recipe.batch_size} in {wall:.1f} s "
        f"({cpu_s:.1f} s CPU): {steps / wall:.1f} steps/s; kept epoch {best} ({load()})"
    )
    if "val_neg_elbo" in history:
        print(
            f"  validation ({recipe.val_size} held-out training digits, fixed binarisation): "
            f"-ELBO {history['val_neg_elbo'][best - 1]:.2f} nats at the kept epoch; training "
            f"digits {history['neg_elbo'][best - 1]:.2f} (that epoch's mean over its steps)"
        )
    return {
        "recipe": recipe,
        "model": model,
        "history": history,
        "steps": steps,
        "wall": wall,
        "cpu": cpu_s,
    }


def profile_recipe(recipe: VAERecipe, epochs: int) -> None:
    """Train ``epochs`` epochs of ``recipe`` under ``torch.profiler`` and print the operators
    that take the most time of their own (matrix products: ``aten::mm``, ``aten::addmm``)."""
    from torch.profiler import ProfilerActivity, profile

    short = dataclasses.replace(recipe, epochs=epochs)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_vae(short, progress=None)
    print(f"where the time goes: {epochs} epochs of the recipe under torch.profiler ({load()})")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def report_val_nll(run: dict, n_samples: int) -> float:
    """Print and return the trained recipe's NLL (``n_samples`` importance samples) on its own
    validation digits (the fixed binarised copy; never test digits)."""
    recipe = run["recipe"]
    if not recipe.val_size:
        raise SystemExit("--val-nll needs a validation slice: val_size > 0")
    fixed, _ = load_mnist("train", binarize=True)
    val_idx, _ = split_indices(recipe, len(fixed))
    g = torch.Generator().manual_seed(TEST_SEED)
    nll = -log_likelihood(run["model"], fixed[val_idx], n_samples, generator=g)
    mean, se = mean_se(nll)
    print(f"  validation NLL (S = {n_samples}, {len(val_idx)} digits): {mean:.2f} ± {se:.2f} nats")
    return mean


def report_rate(run: dict, rate: tuple[float, float]) -> float:
    """Print the training loop's achieved rate as a fraction of the matrix-product ``rate``
    (wall, processor); return the wall-clock fraction."""
    flops = step_flops(linear_shapes(run["model"]), run["recipe"].batch_size) * run["steps"]
    achieved = flops / run["wall"] / 1e9, flops / run["cpu"] / 1e9
    print(
        f"  {flops / run['steps'] / 1e6:.0f} MFLOP per step x {run['steps'] / run['wall']:.1f} "
        f"steps/s = {achieved[0]:.1f} GFLOP/s: {100 * achieved[0] / rate[0]:.0f} % of the "
        f"matrix-product rate (per processor second: {achieved[1]:.1f} GFLOP/s, "
        f"{100 * achieved[1] / rate[1]:.0f} %); the whole loop, with binarisation, optimizer, "
        "validation and Python"
    )
    if run["recipe"].iwae_samples > 1:
        print(
            f"  (counted with one code per digit: the decoder's products for the other "
            f"{run['recipe'].iwae_samples - 1} codes are not in these figures)"
        )
    return achieved[0] / rate[0]


def report_scores(runs: dict[str, dict], x: torch.Tensor, n_samples: int) -> dict:
    """Score each run on ``x``, print the table and the difference; return the figures."""
    start = time.perf_counter()
    scores = {name: score(run["model"], x, n_samples) for name, run in runs.items()}
    print(
        f"test: {len(x):,} digits, fixed binarisation, S = {n_samples}; mean ± standard error "
        f"over the digits, nats (scored in {time.perf_counter() - start:.0f} s)"
    )
    print(
        f"  {'model':10s} {'steps':>6s} {'train s':>8s} {'-ELBO':>16s} {'NLL':>16s} "
        f"{'bits/dim':>8s}"
    )
    out = {}
    for name, s in scores.items():
        (e, e_se), (n, n_se) = mean_se(s["neg_elbo"]), mean_se(s["nll"])
        run = runs[name]
        print(
            f"  {name:10s} {run['steps']:6d} {run['wall']:8.1f} {e:9.2f} ± {e_se:4.2f} "
            f"{n:9.2f} ± {n_se:4.2f} {bits_per_dim(n):8.4f}"
        )
        out[name] = {"neg_elbo": [e, e_se], "nll": [n, n_se]}
    if {"recipe", "reference"} <= scores.keys():
        for key, label in (("nll", "NLL"), ("neg_elbo", "-ELBO")):
            d, d_se = mean_se(scores["reference"][key] - scores["recipe"][key])
            print(f"  reference - recipe, {label}: {d:.2f} ± {d_se:.2f} nats (paired, same digits)")
            out[f"difference_{key}"] = [d, d_se]
    return out


def busy_slowdown(recipe: VAERecipe) -> float:
    """Train :data:`BUSY_EPOCHS` epochs of ``recipe`` idle, then with one core kept busy by
    another process; print both rates and return busy time / idle time."""
    short = dataclasses.replace(recipe, epochs=BUSY_EPOCHS)
    print(f"one core busy: {BUSY_EPOCHS} epochs of the recipe, idle and with the busy loop")
    rates = {}
    for busy in (False, True):
        with busy_core(busy) as loop:
            _, history = train_vae(short, progress=None)
        rates[busy] = history["steps"][-1] / history["seconds"][-1]
        share = (
            ""
            if loop.core_share is None
            else f", the busy loop took {loop.core_share:.0%} of a core"
        )
        print(f"  {'busy' if busy else 'idle'}: {rates[busy]:.1f} steps/s ({load()}{share})")
    slowdown = rates[False] / rates[True]
    print(f"  slowdown with one core busy: {slowdown:.2f}x (goal: at most 1.5x)")
    return slowdown


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference", action="store_true", help="train only REFERENCE_RECIPE, by its epochs"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one field of the recipe (repeatable)",
    )
    parser.add_argument("--k", type=int, default=1000, help="importance samples S (default 1000)")
    parser.add_argument(
        "--test-digits",
        type=int,
        default=2000,
        help="score a seeded random subset of the test digits",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"torch threads (default {DEFAULT_THREADS}, the course's thread policy)",
    )
    parser.add_argument(
        "--no-test",
        action="store_true",
        help="train the recipe only and stop: compare recipes by their validation ELBO alone",
    )
    parser.add_argument(
        "--val-nll",
        action="store_true",
        help="also: the recipe's NLL (S = --k) on its validation digits, to compare recipes that "
        "optimise other bounds than the ELBO (iwae_samples)",
    )
    parser.add_argument("--busy", action="store_true", help="also: the slowdown with one core busy")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="also: train this many epochs of the recipe under torch.profiler and print where "
        "the time goes (operators by their own time)",
    )
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="give the reference the recipe's processor time, not its wall time (a shared machine)",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # each figure as soon as it is measured
    recipe = REFERENCE_RECIPE if args.reference else NOTEBOOK_RECIPE
    try:
        recipe = dataclasses.replace(recipe, **dict(parse_override(s, recipe) for s in args.set))
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--set: {err}") from None
    seed_everything(0, threads=args.threads)
    print(f"torch {torch.__version__} on {args.threads} thread(s); {load()}")
    print(f"recipe: {recipe}")
    result: dict = {"threads": args.threads, "load": [os.getloadavg()[0]]}
    shapes = linear_shapes(recipe.make_model())
    rate = matmul_rate(shapes, recipe.batch_size)
    print(
        f"matrix products of one step at the model's shapes: {rate[0]:.1f} GFLOP/s "
        f"(per processor second: {rate[1]:.1f}; {load()})"
    )
    runs = {"recipe": train(recipe, "recipe")}
    result["fraction"] = report_rate(runs["recipe"], rate)
    if not (args.no_test or args.reference):
        spent = runs["recipe"]["cpu" if args.cpu_clock else "wall"]
        runs["reference"] = train(REFERENCE_RECIPE, "reference", spent, cpu=args.cpu_clock)
        report_rate(runs["reference"], matmul_rate(linear_shapes(runs["reference"]["model"]), 128))
    history = runs["recipe"]["history"]
    if "val_neg_elbo" in history:
        result["val_neg_elbo"] = history["val_neg_elbo"][history["best_epoch"][0] - 1]
    if args.val_nll:
        result["val_nll"] = report_val_nll(runs["recipe"], args.k)
    if not args.no_test:
        result.update(report_scores(runs, test_digits(args.test_digits), args.k))
    if args.busy:
        result["busy_slowdown"] = busy_slowdown(recipe)
    if args.profile:
        profile_recipe(recipe, args.profile)
    result["load"].append(os.getloadavg()[0])
    result.update(
        {
            name: {"steps": r["steps"], "seconds": round(r["wall"], 2), "cpu": round(r["cpu"], 2)}
            for name, r in runs.items()
        }
        | {"recipe_fields": recipe.to_dict(), "k": args.k, "test_digits": args.test_digits}
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
