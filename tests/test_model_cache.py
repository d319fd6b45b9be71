"""lecture_utils.model_cache: train when missing, load when present, retrain when corrupt,
always with a message, never touching the global random state. Tiny recipes keep it fast."""

import dataclasses
from pathlib import Path

import pytest
import torch

from lecture_utils import model_cache
from lecture_utils.model_cache import COURSE_RECIPES, Recipe, cache_dir, cache_path, load_or_train
from lecture_utils.models import VAE, Autoencoder

TINY_AE = Recipe("autoencoder", 2, hidden_dims=(8,), epochs=1, batch_size=1000)
TINY_VAE = Recipe("vae", 3, hidden_dims=(8,), epochs=1, batch_size=1000)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_recipe_key_names_every_field():
    assert (
        TINY_AE.key() == Recipe("autoencoder", 2, hidden_dims=[8], epochs=1, batch_size=1000).key()
    )
    changes = {
        "kind": "vae",
        "latent_dim": 3,
        "hidden_dims": (9,),
        "epochs": 2,
        "lr": 1e-3,
        "batch_size": 999,
        "seed": 1,
    }
    keys = {dataclasses.replace(TINY_AE, **{k: v}).key() for k, v in changes.items()}
    assert len(keys) == len(changes) and TINY_AE.key() not in keys
    assert len(TINY_AE.key()) == 16


def test_recipe_validates():
    with pytest.raises(ValueError, match="kind must be one of"):
        Recipe("gan", 2)
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        Recipe("vae", 0)
    assert isinstance(TINY_AE.build(), Autoencoder) and isinstance(TINY_VAE.build(), VAE)
    assert set(COURSE_RECIPES) == {"ae2", "vae2", "vae8"}
    with pytest.raises(TypeError):
        COURSE_RECIPES["ae2"] = TINY_AE  # read-only: change a recipe by passing recipe=


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("VAE_COURSE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "vae-course" / "models"
    assert cache_path("ae2", TINY_AE, tmp_path) == tmp_path / f"ae2-{TINY_AE.key()}.pt"


@pytest.mark.parametrize("recipe", [TINY_AE, TINY_VAE], ids=["autoencoder", "vae"])
def test_train_then_load_the_same_weights(recipe, tmp_path):
    messages = []
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = load_or_train("tiny", recipe, tmp_path, log=messages.append)
    assert torch.equal(torch.rand(3), expected_next), "training changed the global random state"
    path = cache_path("tiny", recipe, tmp_path)
    assert path.is_file()
    assert (
        "no cached weights" in messages[0]
        and "trained in" in messages[1]
        and str(path) in messages[1]
    )
    second = load_or_train("tiny", recipe, tmp_path, log=messages.append)
    assert messages[2] == f"tiny: loaded from {path}"
    assert same_weights(first, second) and not second.training
    assert not list(tmp_path.glob("*.part")), "a temporary file was left behind"


def test_training_is_reproducible_on_one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first = model_cache.train(TINY_AE)
        assert torch.get_num_threads() == 2, "train() must restore the thread count"
        torch.set_num_threads(1)
        assert same_weights(first, model_cache.train(TINY_AE))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other recipe", "nan"])
def test_a_damaged_file_is_retrained_with_a_message(damage, tmp_path):
    good = load_or_train("tiny", TINY_AE, tmp_path, log=None)
    path = cache_path("tiny", TINY_AE, tmp_path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"this is not a torch file")
    elif damage == "other recipe":
        torch.save({"key": TINY_VAE.key(), "state_dict": good.state_dict()}, path)
    else:
        state = {k: v.clone() for k, v in good.state_dict().items()}
        next(iter(state.values())).fill_(float("nan"))
        torch.save({"key": TINY_AE.key(), "state_dict": state}, path)
    messages = []
    model = load_or_train("tiny", TINY_AE, tmp_path, log=messages.append)
    assert (
        "are unusable" in messages[0] and "retraining" in messages[0] and str(path) in messages[0]
    )
    assert "trained in" in messages[1]
    assert same_weights(model, good)
    assert same_weights(load_or_train("tiny", TINY_AE, tmp_path, log=None), good)  # repaired


def test_an_unwritable_cache_still_gives_a_model(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    messages = []
    model = load_or_train("tiny", TINY_AE, blocker / "models", log=messages.append)
    assert isinstance(model, Autoencoder)
    assert "not saved" in messages[-1] and "VAE_COURSE_CACHE" in messages[-1]


def test_unknown_name_lists_the_course_models(tmp_path):
    with pytest.raises(KeyError, match="ae2, vae2, vae8"):
        load_or_train("vae99", directory=tmp_path)


def test_course_names_use_the_environment_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(model_cache, "COURSE_RECIPES", {**COURSE_RECIPES, "ae2": TINY_AE})
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path))
    load_or_train("ae2", log=None)
    assert Path(tmp_path / f"ae2-{TINY_AE.key()}.pt").is_file()
