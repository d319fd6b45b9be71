"""scripts/bench_semisupervised.py on a tiny setting: every method runs, prints its accuracy
against training seconds and the summary, and the JSON line agrees with what was printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_semisupervised.py"
bench = load_script("bench_semisupervised")

TINY = [
    "--budgets", "2", "--seeds", "0", "1", "--nb03-methods", "scratch", "pixels",
    "--set", "epochs=2", "--set", "latent_dim=2", "--set", "hidden_dims=[16]",
    "--set", "classifier_dims=[16]", "--set", "batch_size=1000",
    "--set-m1m2", "epochs=2", "--set-m1m2", "hidden_dims=[8]", "--set-m1m2", "classifier_dims=[8]",
    "--set-vae", "epochs=1", "--set-vae", "hidden_dims=[16]", "--set-vae", "name=test-vae",
    "--json",
]  # fmt: skip


@pytest.mark.slow
def test_tiny_run_prints_every_method(tmp_path):
    env = {**os.environ, "VAE_COURSE_CACHE": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *TINY], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for words in ("notebook 03's methods", "M1 features", "M2 (pixels)", "M1+M2", "summary"):
        assert words in text
    assert text.count("test_accuracy by epoch") == 4  # 2 methods x 2 seeds
    result = json.loads(text.strip().splitlines()[-1])
    table = result["table"]
    assert set(table) == {
        "nb03 scratch", "nb03 pixels", "M1 + linear probe", "M1 + converged",
        "M2 (pixels)", "M1+M2",
    }  # fmt: skip
    for by_budget in table.values():
        accs = by_budget["2"]
        assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
    assert result["nb03_best"]["2"] in ("scratch", "pixels")
    assert "reaches +5" in text or "misses +5" in text


def test_overrides_are_parsed_and_checked():
    from lecture_utils.semi_supervised import M2Recipe

    assert bench.parse_override("hidden_dims=[8, 4]", M2Recipe) == ("hidden_dims", (8, 4))
    assert bench.parse_override("alpha=2.5", M2Recipe) == ("alpha", 2.5)
    with pytest.raises(SystemExit, match="key one of"):
        bench.parse_override("nonsense=1", M2Recipe)


def test_spread():
    assert bench.spread([0.5, 0.7]) == "0.600 ± 0.141"
    assert bench.spread([0.5]) == "0.500 ± 0.000"
