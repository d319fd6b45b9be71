"""scripts/bench_vae.py: its arithmetic (FLOPs per step, standard errors) against hand counts,
and one tiny end-to-end run that prints every part of the comparison."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from script_loader import load_script

from lecture_utils.models import VAE

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_vae.py"
bench = load_script("bench_vae")


def test_linear_shapes_follow_the_forward_pass():
    model = VAE(20, (512, 256))
    assert bench.linear_shapes(model) == [
        (784, 512), (512, 256), (256, 40),  # encoder: 20 means and 20 log-variances
        (20, 256), (256, 512), (512, 784),  # decoder
    ]  # fmt: skip


def test_step_flops_counts_three_products_per_layer_but_two_for_the_first():
    # one layer 3 -> 2 on a batch of 5: forward 2*5*3*2 = 60, weight gradient 60, no input
    # gradient (its input is the data); a second layer 2 -> 4: 80 each, input gradient too
    assert bench.step_flops([(3, 2)], 5) == 120
    assert bench.step_flops([(3, 2), (2, 4)], 5) == 120 + 240
    # notebook 06's model, batch 128: 6 x weights x batch, less the first layer's input gradient
    shapes = bench.linear_shapes(VAE(20, (512, 256)))
    weights = sum(n * m for n, m in shapes)
    assert bench.step_flops(shapes, 128) == 6 * weights * 128 - 2 * 128 * 784 * 512


def test_step_flops_agree_with_torchs_own_count():
    """torch's FLOP counter, on a real forward and backward pass, counts the same products."""
    from torch.utils.flop_counter import FlopCounterMode

    model = VAE(4, (32, 16))
    x = torch.bernoulli(torch.full((8, 784), 0.3))
    with FlopCounterMode(display=False) as counter:
        (-model.elbo(x).mean()).backward()
    assert counter.get_total_flops() == bench.step_flops(bench.linear_shapes(model), 8)


def test_mean_se():
    mean, se = bench.mean_se(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(((4 + 1 + 0 + 9) / 3) / 4))


def test_matmul_rate_is_a_positive_rate():
    wall, cpu = bench.matmul_rate([(16, 8), (8, 4)], 4, seconds=0.05)
    assert 0 < wall < 1e5 and 0 < cpu < 1e5


@pytest.mark.slow
def test_benchmark_prints_the_recipe_the_reference_at_equal_time_and_the_difference():
    tiny = [
        sys.executable,
        str(SCRIPT),
        "--set",
        "epochs=1",
        "--set",
        "hidden_dims=[16]",
        "--set",
        "val_size=100",
        "--threads",
        "1",
    ]
    done = subprocess.run(
        [*tiny, "--k", "20", "--test-digits", "30", "--cpu-clock", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = done.stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["recipe"]["steps"] == 62 and result["test_digits"] == 30 and result["k"] == 20
    assert result["reference"]["steps"] % 63 == 0, "the reference trains whole epochs"
    assert 0 < result["fraction"] and result["val_neg_elbo"] > 0
    assert "validation (100 held-out" in out and "GFLOP/s" in out and "load average" in out
    for line in ("reference - recipe, NLL:", "  recipe ", "  reference "):
        assert line in out
    d, d_se = result["difference_nll"]
    assert math.isfinite(d) and d_se > 0
    quick = subprocess.run(
        [*tiny, "--no-test", "--profile", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "validation" in quick and "test:" not in quick and "reference:" not in quick
    assert "under torch.profiler" in quick and "aten::addmm" in quick
    iwae = subprocess.run(
        [*tiny, "--no-test", "--val-nll", "--k", "10", "--set", "iwae_samples=2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "validation NLL (S = 10, 100 digits):" in iwae and "not in these figures" in iwae
    assert json.loads(iwae.strip().splitlines()[-1])["val_nll"] > 0
    bad = subprocess.run([*tiny, "--set", "nonsense=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--set wants key=value" in bad.stderr
