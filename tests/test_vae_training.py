"""lecture_utils.vae_training: schedules, loaders, a tiny training run, the model cache."""

import dataclasses
import math

import pytest
import torch

from lecture_utils import vae_training as vt
from lecture_utils.data import load_mnist
from lecture_utils.models import VAE
from lecture_utils.vae_training import (
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
    REFERENCE_RECIPE,
    BinarizedBatches,
    Recipe,
    kl_weight,
    learning_rate,
    make_vae_loaders,
    train_vae,
    train_vae_cached,
    vae_loss,
)

TINY = Recipe(
    name="tiny",
    latent_dim=2,
    hidden_dims=(16,),
    epochs=3,
    batch_size=256,
    kl_warmup_epochs=1,
    val_size=300,
)


def test_kl_weight_warms_up_linearly_then_stays():
    assert [kl_weight(e, 3) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert kl_weight(0, 0) == 1.0 and kl_weight(7, 0, beta=4.0) == 4.0
    with pytest.raises(ValueError, match="epoch"):
        kl_weight(-1, 3)


def test_learning_rate_schedules():
    r = Recipe(epochs=12, lr=1e-2, lr_warmup_epochs=2, final_lr_fraction=0.1)
    lrs = [learning_rate(e, r) for e in range(12)]
    assert lrs[:3] == pytest.approx([1e-2 / 3, 2e-2 / 3, 1e-2])
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])), "cosine decay after the warm-up"
    assert lrs[-1] == pytest.approx(1e-3)
    mid = 2 + (12 - 2 - 1) / 2
    assert learning_rate(int(mid), r) > 1e-3
    constant = dataclasses.replace(r, schedule="constant")
    assert {learning_rate(e, constant) for e in range(12)} == {1e-2}


def test_recipes_validate_and_fingerprint():
    with pytest.raises(ValueError, match="Bernoulli decoder needs binary"):
        Recipe(binarize="grey")
    with pytest.raises(ValueError, match="schedule"):
        Recipe(schedule="onecycle")
    with pytest.raises(ValueError, match="val_size"):
        Recipe(val_size=-1)
    assert TINY.fingerprint() == dataclasses.replace(TINY).fingerprint()
    assert TINY.fingerprint() != dataclasses.replace(TINY, lr=1e-3).fingerprint()
    assert len({NOTEBOOK_RECIPE.name, NOTEBOOK_RECIPE_2D.name, REFERENCE_RECIPE.name}) == 3
    ref = REFERENCE_RECIPE
    assert (ref.hidden_dims, ref.latent_dim, ref.lr, ref.batch_size, ref.schedule) == (
        (400,),
        20,
        1e-3,
        128,
        "constant",
    )
    assert (ref.kl_warmup_epochs, ref.binarize, ref.val_size, ref.init_output_bias) == (
        0,
        "fixed",
        0,
        False,
    )
    assert NOTEBOOK_RECIPE.latent_dim == 20 and NOTEBOOK_RECIPE_2D.latent_dim == 2


def test_dynamic_binarisation_draws_fresh_binary_images():
    grey = torch.full((1000, 1, 28, 28), 0.3)
    batches = BinarizedBatches(grey, 400, dynamic=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3
    first, second = (torch.cat([b[0] for b in batches]) for _ in range(2))
    assert first.shape == grey.shape and set(first.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    assert abs(first.mean().item() - 0.3) < 0.01
    fixed = BinarizedBatches(grey, 400, dynamic=False, generator=torch.Generator())
    assert torch.equal(torch.cat([b[0] for b in fixed]), grey)


def test_validation_slice_comes_from_the_fixed_binarised_training_digits():
    train, val = make_vae_loaders(TINY, torch.Generator().manual_seed(0))
    assert len(train.images) == 8000 - 300 and len(val.images) == 300
    fixed, _ = load_mnist("train", binarize=True)
    flat = fixed.reshape(len(fixed), -1)
    rows = {tuple(r.nonzero().flatten().tolist()) for r in flat}
    assert all(tuple(v.flatten().nonzero().flatten().tolist()) in rows for v in val.images[:50])
    grey, _ = load_mnist("train")
    assert not train.images.eq(train.images.round()).all(), "dynamic: train on grey levels"
    # no digit is in both parts: compare the grey training slice with the grey version of val
    val_grey_sums = set()
    perm = torch.randperm(8000, generator=torch.Generator().manual_seed(TINY.seed))
    val_grey_sums = {float(grey[i].sum()) for i in perm[:300]}
    assert train.images.sum((1, 2, 3)).tolist() != sorted(val_grey_sums)
    assert not (set(train.images.sum((1, 2, 3)).tolist()) >= val_grey_sums)
    no_val = make_vae_loaders(dataclasses.replace(REFERENCE_RECIPE), torch.Generator())
    assert no_val[1] is None and no_val[0].images.eq(no_val[0].images.round()).all()


def test_vae_loss_weights_the_kl_only_in_training_mode():
    torch.manual_seed(0)
    model = VAE(3, (8,))
    x = torch.bernoulli(torch.full((5, 784), 0.4))
    torch.manual_seed(1)
    train_terms = vae_loss(model.train(), (x,), kl_w=0.25)
    torch.manual_seed(1)
    eval_terms = vae_loss(model.eval(), (x,), kl_w=0.25)
    torch.testing.assert_close(train_terms["loss"], train_terms["recon"] + 0.25 * train_terms["kl"])
    torch.testing.assert_close(eval_terms["loss"], eval_terms["neg_elbo"])
    torch.testing.assert_close(eval_terms["neg_elbo"], eval_terms["recon"] + eval_terms["kl"])


@pytest.fixture(scope="module")
def tiny_run():
    return train_vae(TINY)


@pytest.mark.slow
def test_train_vae_history_and_best_epoch(tiny_run):
    model, history = tiny_run
    assert isinstance(model, VAE) and not model.training
    for key in (
        "loss",
        "neg_elbo",
        "recon",
        "kl",
        "val_loss",
        "val_neg_elbo",
        "lr",
        "kl_weight",
        "steps",
        "seconds",
        "cpu_seconds",
    ):
        assert len(history[key]) == TINY.epochs, key
    assert history["steps"] == [31, 62, 93]
    assert history["kl_weight"] == [0.5, 1.0, 1.0]
    assert history["neg_elbo"][-1] < history["neg_elbo"][0]
    best = history["best_epoch"][0]
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    assert all(math.isfinite(v) for v in history["seconds"])


@pytest.mark.slow
def test_train_vae_is_deterministic_and_leaves_global_rng_alone(tiny_run):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    model, _ = train_vae(dataclasses.replace(TINY, epochs=1))
    torch.testing.assert_close(torch.rand(3), expected_next)
    again, _ = train_vae(dataclasses.replace(TINY, epochs=1))
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_output_bias_starts_at_the_mean_digit():
    model = VAE(2, (8,))
    images = torch.rand(50, 1, 28, 28) * 0.8 + 0.1
    vt.init_output_bias(model, images)
    torch.testing.assert_close(torch.sigmoid(model.decoder[-1].bias), images.mean(0).flatten())


@pytest.mark.slow
def test_cache_saves_then_loads_the_same_model(tmp_path, monkeypatch, tiny_run):
    recipe = dataclasses.replace(TINY, epochs=1)
    model, history = train_vae_cached(recipe, tmp_path)
    path = vt.cache_path(recipe, tmp_path)
    assert path.is_file() and path.name.startswith("tiny-")

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model should have been loaded")

    monkeypatch.setattr(vt, "train_vae", no_training)
    loaded, loaded_history = train_vae_cached(recipe, tmp_path)
    assert loaded_history == history and not loaded.training
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path))
    assert vt.cache_path(recipe) == path
    train_vae_cached(recipe)  # found through the variable


def test_cache_retrains_a_corrupt_or_foreign_file(tmp_path):
    recipe = dataclasses.replace(TINY, epochs=1)
    path = vt.cache_path(recipe, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a torch file")
    model, _ = train_vae_cached(recipe, tmp_path)
    assert torch.load(path, weights_only=True)["fingerprint"] == recipe.fingerprint()
    other = dataclasses.replace(recipe, seed=5)
    assert vt.cache_path(other, tmp_path) != path


@pytest.mark.slow
def test_benchmark_script_reports_validation_and_test_scores():
    """scripts/bench_vae.py end to end on a tiny recipe: the JSON line carries the validation
    ELBO (how recipes are compared) and test scores that obey NLL <= -ELBO on average."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_vae.py"
    tiny = [
        sys.executable,
        str(script),
        "--set",
        "epochs=1",
        "--set",
        "hidden_dims=[16]",
        "--set",
        "val_size=100",
        "--threads",
        "1",
    ]
    out = subprocess.run(
        [*tiny, "--k", "20", "--test-digits", "30", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["steps"] == 62 and result["test_digits"] == 30 and result["k"] == 20
    assert 0 < result["test_nll"] <= result["test_neg_elbo"] + 0.5
    assert result["val_neg_elbo"] > 0 and "validation (100 held-out" in out
    quick = subprocess.run(
        [*tiny, "--no-test"], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "validation" in quick and "test (" not in quick
    bad = subprocess.run([*tiny, "--set", "nonsense=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--set wants key=value" in bad.stderr
