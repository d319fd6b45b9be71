"""Latency of notebook 07's explorers and notebook 08's beta explorer: from a control's value
change to the new image being ready on the kernel side (the observer has decoded, encoded the
PNG and set ``Image.value``).

    python scripts/bench_widgets.py              # course models (trained once, then cached)
    python scripts/bench_widgets.py --moves 400 --json

Prints the median and the 90th percentile in milliseconds for the latent sliders (2-D and
8-D VAE), the interpolation view (autoencoder and VAE side by side, choosing a new digit or
path) and the manifold view (a probe slider, and a click on the scatter choosing the digit
under it) and notebook 08's beta explorer (the beta slider moved back and forth over the cached
sweep; the explorer's one-time build, which draws every run's chart, is printed apart) and
notebook 09's digit explorer (a style slider dragged, and the digit buttons pressed in turn, over
the cached conditional VAE); exits 1 when a slider, interpolation, beta-explorer or
digit-explorer median exceeds the target (20 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import torch

from lecture_utils import seed_everything
from lecture_utils.conditional import CVAE_RECIPE, train_cvae_cached
from lecture_utils.data import load_mnist
from lecture_utils.model_cache import load_or_train
from lecture_utils.vae_training import BETA_SWEEP, train_vae_cached
from lecture_utils.widgets import (
    BetaExplorer,
    DigitExplorer,
    InterpolationExplorer,
    LatentSliders,
    ManifoldExplorer,
)

TARGET_MS = 20.0


def time_moves(set_value: Callable[[int], None], moves: int) -> dict[str, float]:
    """Call ``set_value(i)`` for ``i = 0 .. moves - 1``; return median and p90 in ms."""
    times = []
    for i in range(moves):
        start = time.perf_counter()
        set_value(i)
        times.append(1e3 * (time.perf_counter() - start))
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
        "moves": moves,
    }


def slider_values(moves: int) -> list[float]:
    """A slider dragged back and forth over [-2.5, 2.5] in 0.05 steps."""
    grid = [round(-2.5 + 0.05 * k, 2) for k in range(101)]
    sweep = grid + grid[-2:0:-1]
    return [sweep[i % len(sweep)] for i in range(moves)]


def measure(
    models: dict[str, torch.nn.Module], images: torch.Tensor, labels: torch.Tensor, moves: int = 200
) -> dict[str, dict[str, float]]:
    """Latencies of every view; ``models`` needs ``ae2``, ``vae2`` and ``vae8``."""
    values = slider_values(moves)
    results = {}
    for name in ("vae2", "vae8"):
        view = LatentSliders(models[name], name=name)
        slider = view.sliders[0]
        results[f"sliders {name}"] = time_moves(
            lambda i, slider=slider: setattr(slider, "value", values[i]), moves
        )
    view = InterpolationExplorer({"autoencoder": models["ae2"], "VAE": models["vae2"]}, images)
    g = torch.Generator().manual_seed(0)
    picks = torch.randint(0, len(images), (moves,), generator=g).tolist()
    results["interpolation: new digit"] = time_moves(
        lambda i: setattr(view.second, "value", picks[i]), moves
    )
    paths = ["spherical", "linear"]
    results["interpolation: path"] = time_moves(
        lambda i: setattr(view.path, "value", paths[i % 2]), moves
    )
    manifold = ManifoldExplorer(models["vae2"], images, labels)
    probe = slider_values(max(20, moves // 4))
    results["manifold: probe"] = time_moves(
        lambda i: setattr(manifold.z1, "value", probe[i]), len(probe)
    )
    # a click where a random digit is drawn, as the browser reports it (y counted downwards)
    clicks = [
        {
            "type": "click",
            "dataX": round(float(manifold._points[j, 0])),
            "dataY": round(manifold._height - float(manifold._points[j, 1])),
        }
        for j in picks
    ]
    results["manifold: click"] = time_moves(lambda i: manifold.on_click(clicks[i]), moves)
    return results


def measure_beta(
    sweep: dict[float, torch.nn.Module], images: torch.Tensor, moves: int = 200
) -> dict[str, dict[str, float]]:
    """Latency of notebook 08's :class:`BetaExplorer` over ``sweep`` (``{beta: VAE}``): the
    beta slider stepped back and forth through the runs; and, apart, the explorer's build."""
    start = time.perf_counter()
    view = BetaExplorer(sweep, images)
    build_ms = 1e3 * (time.perf_counter() - start)
    order = list(view.betas) + list(view.betas[-2:0:-1])  # there and back again
    result = time_moves(lambda i: setattr(view.slider, "value", order[(i + 1) % len(order)]), moves)
    return {
        "beta explorer: slider": result,
        "beta explorer: build (once)": {"median_ms": build_ms, "p90_ms": build_ms, "moves": 1},
    }


def measure_digits(model: torch.nn.Module, moves: int = 200) -> dict[str, dict[str, float]]:
    """Latency of notebook 09's :class:`DigitExplorer` over a conditional VAE: its first style
    slider dragged back and forth, and the digit buttons pressed one after another."""
    view = DigitExplorer(model)
    slider, values = view.sliders[0], slider_values(moves)
    results = {
        "digits: style slider": time_moves(lambda i: setattr(slider, "value", values[i]), moves)
    }
    n = model.n_classes
    results["digits: digit button"] = time_moves(
        lambda i: setattr(view.digits, "value", (i + 1) % n), moves
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200, help="value changes per control")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    seed_everything(0)  # as in the notebook: torch on one thread
    models = {
        name: load_or_train(name, log=lambda msg: print(msg, file=sys.stderr))
        for name in ("ae2", "vae2", "vae8")
    }
    images, labels = load_mnist("test")
    results = measure(models, images, labels, args.moves)
    sweep = {
        beta: train_vae_cached(recipe, log=lambda msg: print(msg, file=sys.stderr))[0]
        for beta, recipe in BETA_SWEEP.items()
    }
    binary, _ = load_mnist("test", binarize=True)
    results.update(measure_beta(sweep, binary[:500], args.moves))
    cvae, _ = train_cvae_cached(
        CVAE_RECIPE, progress=None, log=lambda msg: print(msg, file=sys.stderr)
    )
    results.update(measure_digits(cvae, args.moves))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'view':28s} {'median ms':>10s} {'p90 ms':>8s} {'moves':>6s}")
        for name, r in results.items():
            print(f"{name:28s} {r['median_ms']:10.2f} {r['p90_ms']:8.2f} {r['moves']:6d}")
        print(
            f"target: median < {TARGET_MS:.0f} ms for the sliders, the interpolation, the "
            "beta explorer's slider and the digit explorer"
        )
    slow = [
        k
        for k, r in results.items()
        if not k.startswith("manifold") and "build" not in k and r["median_ms"] >= TARGET_MS
    ]
    if slow:
        print(f"over target: {', '.join(slow)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
