"""lecture_utils.model_cache: notebook 07's recipes and load_or_train (the cache behaviour
itself is tested for every user in test_cache.py)."""

import pytest
import torch

from lecture_utils import model_cache
from lecture_utils.model_cache import (
    COURSE_RECIPES,
    AutoencoderRecipe,
    load_or_train,
    train_recipe,
)
from lecture_utils.models import Autoencoder
from lecture_utils.vae_training import NOTEBOOK_RECIPE_2D, VAERecipe

TINY_AE = AutoencoderRecipe("tiny-ae", 2, hidden_dims=(8,), epochs=1, batch_size=1000)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_notebook_07_reuses_notebook_06s_2d_vae():
    assert COURSE_RECIPES["vae2"] is NOTEBOOK_RECIPE_2D
    assert isinstance(COURSE_RECIPES["ae2"], AutoencoderRecipe)
    vae8 = COURSE_RECIPES["vae8"]
    assert isinstance(vae8, VAERecipe) and vae8.latent_dim == 8
    assert vae8.binarize == "dynamic" and vae8.likelihood == "bernoulli", "a true ELBO"
    assert set(COURSE_RECIPES) == {"ae2", "vae2", "vae8"}
    with pytest.raises(TypeError):
        COURSE_RECIPES["ae2"] = TINY_AE  # read-only: pass a recipe to load_or_train instead


@pytest.mark.parametrize(
    "fields, error, match",
    [
        ({"name": ""}, ValueError, "name must be a non-empty string"),
        ({"name": "a/b"}, ValueError, "name must be"),
        ({"latent_dim": 0}, ValueError, "latent_dim must be >= 1"),
        ({"latent_dim": 2.0}, TypeError, "latent_dim must be an int"),
        ({"hidden_dims": 64}, TypeError, "hidden_dims must be a list or tuple"),
        ({"hidden_dims": (64, -1)}, ValueError, r"hidden_dims\[1\] must be >= 1"),
        ({"epochs": True}, TypeError, "epochs must be an int"),
        ({"lr": -1}, ValueError, "lr must be > 0"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"lr": "0.1"}, TypeError, "lr must be a number"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_autoencoder_recipe_validates_each_field(fields, error, match):
    args = {"name": "x", "latent_dim": 2, **fields}
    with pytest.raises(error, match=match):
        AutoencoderRecipe(**args)


def test_autoencoder_recipe_builds_its_model():
    assert AutoencoderRecipe("x", 2, hidden_dims=[8]).hidden_dims == (8,)
    model = TINY_AE.make_model()
    assert isinstance(model, Autoencoder) and model.latent_dim == 2


@pytest.mark.slow
def test_training_is_reproducible_across_thread_counts_under_the_cache(tmp_path):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first = load_or_train(TINY_AE, directory=tmp_path / "a", log=None)
        torch.set_num_threads(1)
        assert same_weights(first, train_recipe(TINY_AE)[0]), "the cache trains on one thread"
    finally:
        torch.set_num_threads(threads)


def test_unknown_names_and_bad_recipes(tmp_path):
    with pytest.raises(KeyError, match="ae2, vae2, vae8"):
        load_or_train("vae99", directory=tmp_path)
    with pytest.raises(TypeError, match="AutoencoderRecipe"):
        load_or_train(object(), directory=tmp_path)
    with pytest.raises(TypeError, match="AutoencoderRecipe or a VAERecipe"):
        train_recipe({"latent_dim": 2})


def test_course_names_use_the_environment_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(model_cache, "COURSE_RECIPES", {**COURSE_RECIPES, "ae2": TINY_AE})
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path))
    messages = []
    load_or_train("ae2", log=messages.append)
    assert [p.name.startswith("tiny-ae-") for p in tmp_path.iterdir()] == [True]
    assert messages[0].startswith("tiny-ae: no cached weights")
