"""lecture_utils.cache and its two users (notebook 06's train_vae_cached, notebook 07's
load_or_train): train when missing, load when present, retrain a damaged or foreign file with a
message, survive an unwritable folder, leave no temporary file. Tiny recipes keep it fast."""

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from lecture_utils import cache
from lecture_utils.data import EMBEDDED_SHA256
from lecture_utils.model_cache import COURSE_RECIPES, AutoencoderRecipe, load_or_train
from lecture_utils.vae_training import (
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
    REFERENCE_RECIPE,
    VAERecipe,
    train_vae_cached,
)

TINY_VAE = VAERecipe(
    name="tiny-vae",
    latent_dim=2,
    hidden_dims=(8,),
    epochs=1,
    batch_size=1000,
    lr_warmup_epochs=0,
    kl_warmup_epochs=0,
    val_size=0,
)
TINY_AE = AutoencoderRecipe("tiny-ae", 2, hidden_dims=(8,), epochs=1, batch_size=1000)


def nb06(directory, log):
    return train_vae_cached(TINY_VAE, directory, log=log)[0], TINY_VAE


def nb07_autoencoder(directory, log):
    return load_or_train(TINY_AE, directory=directory, log=log), TINY_AE


def nb07_vae(directory, log):
    return load_or_train(TINY_VAE, directory=directory, log=log), TINY_VAE


USERS = [nb06, nb07_autoencoder, nb07_vae]


def path_of(recipe, directory):
    return cache.cache_path(recipe.name, recipe.cache_key(), directory)


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def leftovers(directory):
    return [p.name for p in Path(directory).rglob("*") if not p.name.endswith(".pt")]


@pytest.mark.parametrize("user", USERS)
def test_missing_file_trains_and_saves_then_loads(user, tmp_path):
    messages = []
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first, recipe = user(tmp_path, messages.append)
        assert torch.get_num_threads() == 2, "the caller's thread count must come back"
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(torch.rand(3), expected_next), "training changed the global random state"
    path = path_of(recipe, tmp_path)
    assert path.is_file() and path.name.startswith(f"{recipe.name}-")
    assert path.stat().st_mode & 0o044 == 0o044, "others may read a shared cache"
    assert len(messages) == 1
    assert messages[0].startswith(f"{recipe.name}: no cached weights; trained in ")
    assert messages[0].endswith(f"saved to {path}")
    second, _ = user(tmp_path, messages.append)
    assert messages[1] == f"{recipe.name}: loaded from {path}"
    assert same_weights(first, second) and not first.training and not second.training
    assert leftovers(tmp_path) == [], "a temporary file was left behind"


def damage(kind, path, good):
    """Replace the good cache file at ``path`` by a damaged one."""
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif kind == "garbage":
        path.write_bytes(b"this is not a torch file")
    elif kind == "foreign":  # a valid model file of another recipe, at this recipe's path
        other = cache.full_key({"recipe": "SomethingElse", "latent_dim": 2})
        torch.save({"key": other, "state_dict": good.state_dict(), "extra": {}}, path)
    elif kind == "nan":
        blob = torch.load(path, weights_only=True)
        next(iter(blob["state_dict"].values())).fill_(float("nan"))
        torch.save(blob, path)
    elif kind == "wrong shapes":
        blob = torch.load(path, weights_only=True)
        name = next(iter(blob["state_dict"]))
        blob["state_dict"][name] = torch.zeros(3, 3)
        torch.save(blob, path)


REASONS = {
    "truncated": "unreadable",
    "garbage": "unreadable",
    "foreign": "another recipe's weights",
    "nan": "NaN or infinite weights",
    "wrong shapes": "do not fit the model",
}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("kind", list(REASONS))
def test_a_damaged_file_is_retrained_with_a_message(user, kind, tmp_path):
    good, recipe = user(tmp_path, None)
    path = path_of(recipe, tmp_path)
    damage(kind, path, good)
    messages = []
    model, _ = user(tmp_path, messages.append)
    assert len(messages) == 1
    assert messages[0].startswith(f"{recipe.name}: cached file {path} is unusable (")
    assert REASONS[kind] in messages[0] and "trained in" in messages[0]
    assert same_weights(model, good)
    repaired, _ = user(tmp_path, messages.append)
    assert messages[-1] == f"{recipe.name}: loaded from {path}" and same_weights(repaired, good)


@pytest.mark.parametrize("user", USERS)
def test_an_unwritable_folder_still_gives_a_trained_model(user, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    messages = []
    model, recipe = user(blocker / "models", messages.append)
    reference, _ = user(tmp_path / "ok", None)
    assert same_weights(model, reference), "the model is trained even though it cannot be saved"
    assert len(messages) == 1 and "trained in" in messages[0]
    assert "not saved" in messages[0] and "$VAE_COURSE_CACHE" in messages[0]


def test_a_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def half_a_file(obj, f):
        Path(f).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.torch, "save", half_a_file)
    messages = []
    model, _ = nb07_autoencoder(tmp_path, messages.append)
    assert model is not None and "not saved" in messages[0] and "No space left" in messages[0]
    assert list(tmp_path.iterdir()) == [], "neither the model nor a temporary file"


def test_the_key_holds_the_format_and_torch_version_and_every_field(tmp_path):
    path = path_of(TINY_AE, tmp_path)
    nb07_autoencoder(tmp_path, None)
    stored = torch.load(path, weights_only=True)["key"]
    assert stored["format"] == cache.FORMAT_VERSION and stored["torch"] == torch.__version__
    assert stored["data"] == EMBEDDED_SHA256
    assert stored["hidden_dims"] == [8] and stored["recipe"] == "AutoencoderRecipe"
    changes = {"latent_dim": 3, "hidden_dims": (9,), "epochs": 2, "lr": 1e-3, "batch_size": 99}
    paths = {path_of(dataclasses.replace(TINY_AE, **{k: v}), tmp_path) for k, v in changes.items()}
    assert len(paths) == len(changes) and path not in paths
    renamed = dataclasses.replace(TINY_AE, name="other")
    assert path_of(renamed, tmp_path).name.startswith("other-")


def test_file_names_are_unique_across_the_notebooks(tmp_path):
    nb06 = {r.name: path_of(r, tmp_path) for r in (NOTEBOOK_RECIPE, NOTEBOOK_RECIPE_2D)}
    nb07 = {name: path_of(r, tmp_path) for name, r in COURSE_RECIPES.items()}
    assert all(p.name.startswith("nb06-") for p in nb06.values())
    assert nb07["ae2"].name.startswith("nb07-ae2-") and nb07["vae8"].name.startswith("nb07-vae8-")
    assert nb07["vae2"] == nb06["nb06-vae2"], "notebook 07 loads notebook 06's 2-D VAE"
    everything = [*nb06.values(), nb07["ae2"], nb07["vae8"], path_of(REFERENCE_RECIPE, tmp_path)]
    assert len({p.name for p in everything}) == len(everything)
    assert len({p.name.rsplit("-", 1)[0] for p in everything}) == len(everything)


def test_cache_dir_and_the_home_folder_in_messages(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "here"))
    assert cache.cache_dir() == tmp_path / "here"
    assert cache.cache_dir(tmp_path / "there") == tmp_path / "there"
    monkeypatch.delenv("VAE_COURSE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    default = cache.cache_dir()
    assert default == tmp_path / ".cache" / "vae-course" / "models"
    messages = []
    nb07_autoencoder(None, messages.append)
    shown = f"~{os.sep}.cache{os.sep}vae-course{os.sep}models{os.sep}"
    assert shown in messages[0] and str(tmp_path) not in messages[0]
    assert path_of(TINY_AE, None).is_file()


def test_training_runs_on_the_course_thread_count(tmp_path):
    seen = []

    def train():
        seen.append(torch.get_num_threads())
        return torch.nn.Linear(2, 2), {}

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cache.cached("lin", {"n": 1}, lambda: torch.nn.Linear(2, 2), train, directory=tmp_path)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert seen == [1]


def test_bad_key_is_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match="key must be a dict"):
        cache.cache_path("x", [1, 2], tmp_path)


@pytest.mark.parametrize("field", sorted(cache.RESERVED_FIELDS))
def test_a_key_may_not_use_the_caches_own_fields(tmp_path, field):
    """The cache adds these itself; a caller's field of the same name would be overwritten and
    the model keyed without it (two different training sets sharing one file)."""
    a, b = ({"recipe": "R", field: value} for value in ("one", "two"))
    for key in (a, b):
        with pytest.raises(ValueError, match=f"'{field}'.*another name"):
            cache.cache_path("x", key, tmp_path)
    built = []
    with pytest.raises(ValueError, match="the cache's own"):
        cache.cached("x", a, lambda: built.append(1), lambda: built.append(2), directory=tmp_path)
    assert built == [] and list(tmp_path.iterdir()) == []


def test_messages_write_the_cache_variable_not_the_machine_path(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "c"))
    inside = tmp_path / "c" / "nb07-ae2-0123.pt"
    assert cache.shown(inside) == os.path.join("$VAE_COURSE_CACHE", "nb07-ae2-0123.pt")
    elsewhere = tmp_path / "other" / "x.pt"  # outside both the variable's folder and the home
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.shown(elsewhere) == str(elsewhere)
    messages = []
    nb07_autoencoder(None, messages.append)
    assert "$VAE_COURSE_CACHE" in messages[0] and str(tmp_path) not in messages[0]
