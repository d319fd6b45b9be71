"""Benchmark notebook 06's 20-D VAE: train it exactly as the notebook does, then score it.

    python scripts/bench_vae.py                 # the notebook's recipe (NOTEBOOK_RECIPE)
    python scripts/bench_vae.py --reference     # the tutorial VAE 784-400-20 (REFERENCE_RECIPE)
    python scripts/bench_vae.py --set epochs=30 --set lr=3e-3   # try a variation
    python scripts/bench_vae.py --set lr=1e-3 --no-test         # choose by validation alone

Prints the training cost (gradient steps; the arithmetic, about 6 x parameters x training
digits seen; wall-clock and processor seconds; the load average), then, on all 2,000 binarised
test digits, the negative ELBO (mean of 10 one-sample estimates) and the importance-sampled
negative log-likelihood with k = 1000, in nats and in bits per pixel. Wall-clock seconds
depend on the machine and on what else runs on it; steps and the arithmetic do not, so
compare recipes by those (and by seconds on an idle machine).
Choose between recipes by the validation ELBO (500 training digits held out), never by the
test scores.
Nothing is cached.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import torch

from lecture_utils import seed_everything
from lecture_utils.data import load_mnist
from lecture_utils.evaluate import bits_per_dim, log_likelihood
from lecture_utils.seed import DEFAULT_THREADS
from lecture_utils.vae_training import NOTEBOOK_RECIPE, REFERENCE_RECIPE, VAERecipe, train_vae


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


def score(model: torch.nn.Module, x: torch.Tensor, k: int, seed: int) -> tuple[float, float]:
    """(negative ELBO, importance-sampled NLL with k samples), nats per digit, averaged over x."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        neg_elbo = -torch.stack([model.elbo(x, generator=g) for _ in range(10)]).mean().item()
    nll = -log_likelihood(model, x, k, generator=g).mean().item()
    return neg_elbo, nll


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="the tutorial reference recipe")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one field of the recipe (repeatable)",
    )
    parser.add_argument("--k", type=int, default=1000, help="importance samples (default 1000)")
    parser.add_argument(
        "--test-digits",
        type=int,
        default=2000,
        help="score a seeded random subset of the 2,000 test digits",
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
        help="stop after training: compare recipes by their validation ELBO alone",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()

    recipe = REFERENCE_RECIPE if args.reference else NOTEBOOK_RECIPE
    try:
        recipe = dataclasses.replace(recipe, **dict(parse_override(s, recipe) for s in args.set))
    except (TypeError, ValueError) as err:
        raise SystemExit(f"--set: {err}") from None
    seed_everything(0, threads=args.threads)
    print(f"recipe: {recipe}")
    load_before = os.getloadavg()[0]
    model, history = train_vae(recipe)
    load_after = os.getloadavg()[0]
    best = history["best_epoch"][0]
    params = sum(p.numel() for p in model.parameters())
    seen = recipe.epochs * (8000 - recipe.val_size)  # training digits through the model
    tflop = 6 * params * seen / 1e12  # forward + backward, about 3 x 2 flop
    print(
        f"training: {recipe.epochs} epochs, {history['steps'][-1]} steps of {recipe.batch_size}, "
        f"kept epoch {best}; {params / 1e6:.2f} M parameters x {seen:,} digits: about "
        f"{tflop:.1f} TFLOP; {history['seconds'][-1]:.1f} s wall, "
        f"{history['cpu_seconds'][-1]:.1f} s CPU on {args.threads} threads "
        f"(load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs)"
    )

    val_neg_elbo = history["val_neg_elbo"][best - 1] if "val_neg_elbo" in history else None
    if val_neg_elbo is not None:
        print(
            f"validation ({recipe.val_size} held-out training digits, fixed binarisation): "
            f"-ELBO {val_neg_elbo:.2f} nats at the kept epoch"
        )
    if args.no_test:
        return
    x, _ = load_mnist("test", binarize=True)
    if args.test_digits < len(x):
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))[
            : args.test_digits
        ]
        x = x[pick]
    start = time.perf_counter()
    neg_elbo, nll = score(model, x, args.k, seed=2)
    print(
        f"test ({len(x)} digits, fixed binarisation, "
        f"scored in {time.perf_counter() - start:.0f} s):"
    )
    print(f"  -ELBO          {neg_elbo:8.2f} nats   {bits_per_dim(neg_elbo):.4f} bits/dim")
    print(f"  NLL (k={args.k:<4d})  {nll:8.2f} nats   {bits_per_dim(nll):.4f} bits/dim")
    if args.json:
        print(
            json.dumps(
                {
                    "recipe": recipe.to_dict(),
                    "steps": history["steps"][-1],
                    "seconds": round(history["seconds"][-1], 2),
                    "cpu_seconds": round(history["cpu_seconds"][-1], 2),
                    "best_epoch": best,
                    "val_neg_elbo": val_neg_elbo,
                    "tflop": round(tflop, 2),
                    "test_neg_elbo": round(neg_elbo, 3),
                    "test_nll": round(nll, 3),
                    "k": args.k,
                    "test_digits": len(x),
                    "load": [load_before, load_after],
                }
            )
        )


if __name__ == "__main__":
    main()
