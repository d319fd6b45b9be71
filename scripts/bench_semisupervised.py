"""Benchmark notebook 09's semi-supervised models against notebook 03's best method.

    python scripts/bench_semisupervised.py                  # budgets 10 and 100, seeds 0 1 2
    python scripts/bench_semisupervised.py --budgets 10 --seeds 0 --methods m2 --no-test \\
        --set alpha=20                                      # tune one variation on validation

For each label budget (labelled digits per class, drawn by ``classify.balanced_subset`` with
``torch.Generator().manual_seed(seed)`` exactly as notebook 03 draws them) and seed, it prints
the test accuracy on the 2,000 test digits of:

1. **notebook 03's methods**, recomputed here with 03's settings (its rebuilt autoencoder,
   150 steps, batches of 64, learning rate 3e-3): the best mean of the four is the target;
2. **M1**: notebook 06's 20-D VAE (``vae_training.NOTEBOOK_RECIPE``, from the cache) and its
   encoder means as features, with notebook 03's linear probe (and the converged one);
3. **M2** on pixels (:data:`BENCH_M2_RECIPE`, the issue's model): its classifier q(y|x);
4. **M1+M2**: M2 on the standardised M1 features, as in Kingma et al. (2014)
   (:data:`BENCH_M1M2_RECIPE`);
5. on request (``--methods m2-control``), M2's control: the same recipe without the unlabelled
   term, so that q(y|x) learns from the labelled digits alone;

with the spread over seeds (standard deviation), the training seconds of each run (wall clock,
one torch thread, printed with the load average: the CPU may be shared), and, for M2 and
M1+M2, the accuracy at every epoch against the training seconds so far (how accuracy grows with
training time). Recipes were chosen on the validation slice (``--no-test``: 500 training digits
outside the labelled subset, with their labels), never on the test digits. Nothing trained
here is cached except notebook 06's and notebook 03's pretrained models.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

import torch

from lecture_utils import seed_everything
from lecture_utils.classify import METHODS, compare_label_budgets
from lecture_utils.data import load_mnist
from lecture_utils.models import Autoencoder
from lecture_utils.semi_supervised import (
    BENCH_M1M2_RECIPE,
    BENCH_M2_RECIPE,
    M2Recipe,
    compare_features,
    encoder_means,
    m1_features,
    notebook03_autoencoder,
    train_m2,
)
from lecture_utils.vae_training import NOTEBOOK_RECIPE, VAERecipe, train_vae_cached

M2_METHODS = {
    "m2": "M2 (pixels)",
    "m2-control": "M2 without U (control)",
    "m1m2": "M1+M2",
}


def load() -> str:
    """The 1-minute load average and the number of CPUs, to print beside every timing."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def parse_override(text: str, cls: type) -> tuple[str, object]:
    """``"key=value"`` -> ``(key, value)``, value parsed as JSON where it can be (lists become
    tuples); ``key`` must be a field of the dataclass ``cls``."""
    key, sep, raw = text.partition("=")
    names = [f.name for f in dataclasses.fields(cls)]
    if not sep or key not in names:
        raise SystemExit(f"--set wants key=value with key one of {', '.join(names)}; got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, tuple(value) if isinstance(value, list) else value


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def m1_vae(vae_recipe: VAERecipe):
    """M1's VAE: notebook 06's 20-D model from the course's cache (trained if it is not there)."""
    return train_vae_cached(vae_recipe, progress=None)[0]


def run_m2(recipe: M2Recipe, data, labels, test, show_test: bool) -> dict:
    """Train one M2 run, print its accuracy-against-seconds line, return its figures."""
    sets = {"test": test} if show_test else {}
    _, history = train_m2(recipe, data, labels, eval_sets=sets, progress=None)
    key = "test_accuracy" if show_test else "val_accuracy"
    curve = [f"{s:.0f}s {a:.3f}" for s, a in zip(history["seconds"], history[key])]
    print(f"    seed {recipe.seed}: {key} by epoch (training seconds so far): {', '.join(curve)}")
    return {
        "accuracy": history[key][-1],
        "val_accuracy": history["val_accuracy"][-1],
        "seconds": history["seconds"][-1],
        "cpu_seconds": history["cpu_seconds"][-1],
        "curve": list(zip(history["seconds"], history[key])),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["nb03", "m1", "m2", "m1m2"],
        choices=["nb03", "m1", "m2", "m2-control", "m1m2"],
        help="m2-control: BENCH_M2_RECIPE without the unlabelled term (q(y|x) learns from the "
        "labelled digits alone, the same steps), to tell what the unlabelled digits add",
    )
    parser.add_argument(
        "--nb03-methods",
        nargs="+",
        default=list(METHODS),
        choices=list(METHODS),
        help="notebook 03's methods to recompute (without 'linear probe' and 'fine-tune' its "
        "autoencoder is not needed)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="change BENCH_M2_RECIPE"
    )
    parser.add_argument(
        "--set-m1m2",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change BENCH_M1M2_RECIPE",
    )
    parser.add_argument(
        "--set-vae", action="append", default=[], metavar="KEY=VALUE", help="change M1's VAE recipe"
    )
    parser.add_argument(
        "--no-test", action="store_true", help="validation accuracy only (for tuning)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    seed_everything(0)
    try:
        m2_recipe = dataclasses.replace(
            BENCH_M2_RECIPE, **dict(parse_override(s, M2Recipe) for s in args.set)
        )
        m1m2_recipe = dataclasses.replace(
            BENCH_M1M2_RECIPE, **dict(parse_override(s, M2Recipe) for s in args.set_m1m2)
        )
        vae_recipe = dataclasses.replace(
            NOTEBOOK_RECIPE, **dict(parse_override(s, VAERecipe) for s in args.set_vae)
        )
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--set: {err}") from None
    x, y = load_mnist("train")
    x_test, y_test = load_mnist("test")
    print(f"torch {torch.__version__} on {torch.get_num_threads()} thread(s); {load()}")
    print(f"budgets {args.budgets} labels per class, seeds {args.seeds}; ", end="")
    print("accuracy on the 500 validation digits" if args.no_test else "test accuracy (2,000)")
    results: dict = {"budgets": args.budgets, "seeds": args.seeds, "methods": {}}
    table: dict[str, dict[int, list[float]]] = {}
    seconds: dict[str, dict[int, list[float]]] = {}

    if "nb03" in args.methods and not args.no_test:
        start = time.perf_counter()
        if {"linear probe", "fine-tune"} & set(args.nb03_methods):
            autoencoder = notebook03_autoencoder(x)
        else:  # scratch and pixels do not read the pretrained weights
            autoencoder = Autoencoder(latent_dim=32, hidden_dims=(128,))
        nb03 = compare_label_budgets(
            autoencoder, (x, y), (x_test, y_test), budgets=args.budgets, seeds=args.seeds,
            methods=args.nb03_methods, steps=150, batch_size=64, lr=3e-3,
        )  # fmt: skip
        print(f"notebook 03's methods ({time.perf_counter() - start:.0f} s, {load()}):")
        print(nb03.format_table())
        for m in nb03.methods:
            table[f"nb03 {m}"] = {b: nb03.get(m, b).tolist() for b in args.budgets}
        best = {
            b: max(nb03.methods, key=lambda m: float(nb03.get(m, b).mean())) for b in args.budgets
        }
        results["nb03_best"] = best
    if "m1" in args.methods or "m1m2" in args.methods:
        start = time.perf_counter()
        vae = m1_vae(vae_recipe)
        features = m1_features(vae, x, x_test)
        raw = encoder_means(vae, x), encoder_means(vae, x_test)
        print(
            f"M1 features: {vae_recipe.name}'s encoder means ({time.perf_counter() - start:.0f} s)"
        )
    if "m1" in args.methods and not args.no_test:
        for probe in ("linear probe", "converged"):
            m1 = compare_features({"m1": raw}, y, y_test, args.budgets, args.seeds, probe)
            table[f"M1 + {probe}"] = {b: m1.get("m1", b).tolist() for b in args.budgets}
    for method, label in M2_METHODS.items():
        if method not in args.methods:
            continue
        base = {
            "m2": m2_recipe,
            "m2-control": dataclasses.replace(m2_recipe, unlabelled=False),
            "m1m2": m1m2_recipe,
        }[method]
        data, test = (
            (features[0], (features[1], y_test)) if method == "m1m2" else (x, (x_test, y_test))
        )
        fields = {k: v for k, v in base.to_dict().items() if k not in ("per_class", "seed")}
        print(f"{label} (per_class and seed set by each run): {fields}")
        table[label], seconds[label] = {}, {}
        for budget in args.budgets:
            print(f"  {budget} labels per class ({load()})")
            runs = [
                run_m2(
                    dataclasses.replace(base, per_class=budget, seed=s),
                    data,
                    y,
                    test,
                    not args.no_test,
                )
                for s in args.seeds
            ]
            table[label][budget] = [r["accuracy"] for r in runs]
            seconds[label][budget] = [(r["seconds"], r["cpu_seconds"]) for r in runs]
            results["methods"].setdefault(label, {})[budget] = runs

    print(f"\nsummary: {'validation' if args.no_test else 'test'} accuracy, mean ± std over seeds "
          f"{args.seeds}; training seconds per run, wall clock and this process's CPU time "
          f"(one thread; {load()})")  # fmt: skip
    print(
        f"  {'method':24s} {'labels/class':>12s} {'accuracy':>15s}  {'per seed':24s} "
        f"{'wall s':>8s} {'CPU s':>8s}"
    )
    for name, by_budget in table.items():
        for b, accs in by_budget.items():
            secs = seconds.get(name, {}).get(b)
            cost = ""
            if secs:
                wall, cpu = (statistics.mean(column) for column in zip(*secs))
                cost = f"{wall:8.0f} {cpu:8.0f}"
            per_seed = " ".join(f"{a:.3f}" for a in accs)
            print(f"  {name:24s} {b:>12d} {spread(accs):>15s}  {per_seed:24s} {cost}")
    if "nb03_best" in results:
        print("  the goal (issue 17): M2 at 10 labels per class, 5 points above notebook 03's best")
        for b, m in results["nb03_best"].items():
            target = statistics.mean(table[f"nb03 {m}"][b])
            print(f"  {b} labels per class: notebook 03's best is {m} ({target:.3f})")
            for label in M2_METHODS.values():
                if label in table:
                    gain = statistics.mean(table[label][b]) - target
                    verdict = "reaches" if gain >= 0.05 else "misses"
                    print(f"    {label}: {100 * gain:+.1f} points ({verdict} +5)")
    results["table"] = table
    if args.json:
        print(json.dumps({k: v for k, v in results.items() if k != "methods"}))
    return results


if __name__ == "__main__":
    main()
