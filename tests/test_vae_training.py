"""lecture_utils.vae_training: recipes, schedules, loaders, a tiny training run (the model cache
is tested for every user in test_cache.py)."""

import dataclasses
import math

import pytest
import torch

from lecture_utils import evaluate
from lecture_utils import vae_training as vt
from lecture_utils.data import load_mnist
from lecture_utils.models import VAE
from lecture_utils.vae_training import (
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
    REFERENCE_RECIPE,
    TRAINING_VERSION,
    BinarizedBatches,
    KLWarmup,
    VAERecipe,
    WeightAverage,
    elbo_terms,
    kl_weight,
    learning_rate,
    make_optimizer,
    make_vae_loaders,
    random_shift,
    split_indices,
    train_vae,
    vae_loss,
)

TINY = VAERecipe(
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
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        kl_weight(-1, 3)
    for bad in (-1, -2):
        with pytest.raises(ValueError, match="warmup_epochs must be >= 0"):
            kl_weight(0, warmup_epochs=bad)
    with pytest.raises(TypeError, match="epoch must be an int"):
        kl_weight(True, 3)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        kl_weight(0, 3, beta=-1.0)


def test_kl_warmup_callback_holds_and_records_the_weight():
    warmup, history = KLWarmup(3, beta=2.0), {}
    seen = []
    for epoch in range(5):
        warmup.on_epoch_start(epoch)
        seen.append(warmup.weight)
        warmup.on_epoch_end(epoch, history)
    assert seen == [kl_weight(e, 3, 2.0) for e in range(5)] == [0.5, 1.0, 1.5, 2.0, 2.0]
    assert history == {"kl_weight": seen}
    with pytest.raises(ValueError, match="warmup_epochs"):
        KLWarmup(-1)


def test_learning_rate_schedules():
    r = VAERecipe(epochs=12, lr=1e-2, lr_warmup_epochs=2, final_lr_fraction=0.1)
    lrs = [learning_rate(e, r) for e in range(12)]
    assert lrs[:3] == pytest.approx([1e-2 / 3, 2e-2 / 3, 1e-2])
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])), "cosine decay after the warm-up"
    assert lrs[-1] == pytest.approx(1e-3)
    mid = 2 + (12 - 2 - 1) / 2
    assert learning_rate(int(mid), r) > 1e-3
    constant = dataclasses.replace(r, schedule="constant")
    assert {learning_rate(e, constant) for e in range(12)} == {1e-2}
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        learning_rate(-1, r)
    with pytest.raises(TypeError, match="recipe must be a VAERecipe"):
        learning_rate(0, {"lr": 1e-3})


@pytest.mark.parametrize(
    "fields, error, match",
    [
        ({"name": "a b"}, ValueError, "name must be a non-empty string"),
        ({"latent_dim": 0}, ValueError, "latent_dim must be >= 1"),
        ({"hidden_dims": 512}, TypeError, "hidden_dims must be a list or tuple"),
        ({"hidden_dims": (512, 0)}, ValueError, r"hidden_dims\[1\] must be >= 1"),
        ({"hidden_dims": (512.0,)}, TypeError, r"hidden_dims\[0\] must be an int"),
        ({"activation": "gelu"}, ValueError, "activation must be one of 'relu'"),
        ({"likelihood": "poisson"}, ValueError, "likelihood must be one of"),
        ({"likelihood": "gaussian", "sigma": -1}, ValueError, "sigma must be > 0"),
        ({"sigma": 0}, ValueError, "sigma must be > 0"),
        ({"sigma": float("nan")}, ValueError, "sigma must be a finite number"),
        ({"sigma": "0.1"}, TypeError, "sigma must be a number"),
        ({"epochs": True}, TypeError, "epochs must be an int"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"lr": 0}, ValueError, "lr must be > 0"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"schedule": "onecycle"}, ValueError, "schedule must be one of"),
        ({"lr_warmup_epochs": -1}, ValueError, "lr_warmup_epochs must be >= 0"),
        ({"final_lr_fraction": 0}, ValueError, "final_lr_fraction must be > 0"),
        ({"final_lr_fraction": 1.5}, ValueError, "final_lr_fraction must be <= 1"),
        ({"kl_warmup_epochs": 1.0}, TypeError, "kl_warmup_epochs must be an int"),
        ({"beta": -0.5}, ValueError, "beta must be >= 0"),
        ({"binarize": "otsu"}, ValueError, "binarize must be one of"),
        ({"binarize": "grey"}, ValueError, "Bernoulli decoder needs binary"),
        ({"val_size": -1}, ValueError, "val_size must be >= 0"),
        ({"val_size": True}, TypeError, "val_size must be an int"),
        ({"init_output_bias": 1}, TypeError, "init_output_bias must be True or False"),
        ({"weight_average": 1.0}, ValueError, "weight_average must be < 1"),
        ({"weight_average": -0.1}, ValueError, "weight_average must be >= 0"),
        ({"shift": 5}, ValueError, "shift must be <= 4"),
        ({"shift": 1.0}, TypeError, "shift must be an int"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"iwae_samples": 0}, ValueError, "iwae_samples must be >= 1"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0"),
        ({"weight_decay": float("nan")}, ValueError, "weight_decay"),
        ({"iwae_samples": 2.0}, TypeError, "iwae_samples must be an int"),
        ({"iwae_samples": 2, "free_bits": 0.5}, ValueError, "iwae_samples > 1 trains a plain"),
        ({"iwae_samples": 2, "conditional": True}, ValueError, "iwae_samples > 1 trains a plain"),
        (
            {"iwae_samples": 2, "likelihood": "gaussian", "binarize": "grey"},
            ValueError,
            "iwae_samples > 1 trains a plain",
        ),
    ],
)
def test_recipe_validates_each_field(fields, error, match):
    with pytest.raises(error, match=match):
        VAERecipe(**fields)


def test_recipe_activations_are_the_models_ones():
    from lecture_utils import models

    assert set(vt.ACTIVATIONS) == set(models._ACTIVATIONS)


def test_course_recipes():
    assert VAERecipe(likelihood="gaussian", binarize="grey").binarize == "grey"
    assert VAERecipe(hidden_dims=[16]).hidden_dims == (16,)
    assert len({NOTEBOOK_RECIPE.name, NOTEBOOK_RECIPE_2D.name, REFERENCE_RECIPE.name}) == 3
    key = TINY.cache_key()
    assert key["recipe"] == "VAERecipe" and key["lr"] == TINY.lr
    assert key["training"] == TRAINING_VERSION, "code that trains differently trains again"
    assert dataclasses.replace(TINY, lr=1e-3).cache_key() != key
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
    # a field added later enters the key only when set, so cached course models stay valid
    assert "iwae_samples" not in key and "weight_decay" not in key
    assert dataclasses.replace(TINY, iwae_samples=2).cache_key() == {**key, "iwae_samples": 2}
    assert dataclasses.replace(TINY, weight_decay=0.1).cache_key() == {**key, "weight_decay": 0.1}


def test_dynamic_binarisation_draws_fresh_binary_images():
    grey = torch.full((1000, 1, 28, 28), 0.3)
    batches = BinarizedBatches(grey, 400, dynamic=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3
    first, second = (torch.cat([b[0] for b in batches]) for _ in range(2))
    assert first.shape == (1000, 784) and set(first.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    assert abs(first.mean().item() - 0.3) < 0.01
    fixed = BinarizedBatches(grey, 400, dynamic=False, generator=torch.Generator())
    assert torch.equal(torch.cat([b[0] for b in fixed]), grey.reshape(1000, 784))
    # each digit once per epoch, in a new order: a grey level per digit identifies it
    tagged = torch.linspace(0, 1, 1000).reshape(1000, 1, 1, 1).expand(1000, 1, 28, 28)
    shuffled = BinarizedBatches(tagged, 300, False, torch.Generator().manual_seed(1))
    seen = torch.cat([b[0][:, 0] for b in shuffled])
    assert torch.equal(seen.sort().values, tagged[:, 0, 0, 0]) and not torch.equal(
        seen, seen.sort().values
    )
    with pytest.raises(ValueError, match="images must be <= 1"):
        BinarizedBatches(grey + 1, 400, True, torch.Generator())
    with pytest.raises(TypeError, match="dynamic must be True or False"):
        BinarizedBatches(grey, 400, "yes", torch.Generator())
    with pytest.raises(ValueError, match=r"shift needs images of shape \(N, 1, H, W\)"):
        BinarizedBatches(grey.reshape(1000, 784), 400, True, torch.Generator(), shift=1)


def test_random_shift_moves_each_digit_by_at_most_shift_pixels():
    x = torch.zeros(400, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0  # one lit pixel in the middle of every image
    moved = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and torch.equal(moved.sum((1, 2, 3)), torch.ones(400))
    rows, cols = moved[:, 0].nonzero()[:, 1:].T  # where each image's pixel went
    assert set(zip((rows - 4).tolist(), (cols - 4).tolist())) == {
        (dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
    }, "every offset from -2 to 2 in both directions, and no other"
    corner = torch.zeros(50, 1, 5, 5)
    corner[:, 0, 0, 0] = 1.0
    kept = random_shift(corner, 1, torch.Generator().manual_seed(0)).sum((1, 2, 3))
    assert set(kept.tolist()) == {0.0, 1.0}, "a pixel moved past the edge is gone (zeros come in)"
    assert torch.equal(random_shift(x, 0, torch.Generator()), x)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_terms_are_the_models_without_the_checks(likelihood):
    torch.manual_seed(0)
    model = VAE(3, (8,), likelihood=likelihood, sigma=0.3)
    x = torch.rand(6, 784)
    if likelihood == "bernoulli":
        x = torch.bernoulli(x)
    torch.manual_seed(5)
    fast = elbo_terms(model, x)
    torch.manual_seed(5)
    reference = model.elbo_terms(x)  # the same draw of z from the global generator
    for a, b in zip(fast, reference):
        assert a.shape == (6,)
        torch.testing.assert_close(a, b)


def test_weight_average_is_an_exponential_moving_average_swapped_in_for_validation():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    average = WeightAverage(model, optimizer, decay=0.5)
    expected = [p.detach().clone() for p in model.parameters()]
    for t in range(1, 4):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        optimizer.step()
        d = min(0.5, (1 + t) / (10 + t))
        expected = [e + (1 - d) * (p.detach() - e) for e, p in zip(expected, model.parameters())]
    trained = [p.detach().clone() for p in model.parameters()]
    average.on_train_pass_end(0)  # validation sees the average ...
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e)
    average.on_epoch_start(1)  # ... and training continues from the trained weights
    for p, w in zip(model.parameters(), trained):
        assert torch.equal(p.detach(), w)
    with pytest.raises(ValueError, match="decay must be < 1"):
        WeightAverage(model, optimizer, 1.0)


def test_validation_slice_comes_from_the_fixed_binarised_training_digits():
    train, val = make_vae_loaders(TINY, torch.Generator().manual_seed(0))
    assert len(train.images) == 8000 - 300 and len(val.images) == 300
    fixed, _ = load_mnist("train", binarize=True)
    flat = fixed.reshape(len(fixed), -1)
    rows = {tuple(r.nonzero().flatten().tolist()) for r in flat}
    assert all(tuple(v.flatten().nonzero().flatten().tolist()) in rows for v in val.images[:50])
    grey, _ = load_mnist("train")
    assert not train.images.eq(train.images.round()).all(), "dynamic: train on grey levels"
    # no digit is in both parts: the indices are disjoint and cover all 8,000 digits, and the
    # loaders hold exactly the digits at those indices
    val_idx, train_idx = split_indices(TINY, 8000)
    assert set(val_idx.tolist()).isdisjoint(train_idx.tolist())
    assert sorted(val_idx.tolist() + train_idx.tolist()) == list(range(8000))
    assert torch.equal(train.images, grey[train_idx].reshape(-1, 784))
    assert torch.equal(val.images, fixed[val_idx].reshape(-1, 784))
    assert not torch.equal(val_idx.sort().values, torch.arange(300)), "a random pick, not a slice"
    with pytest.raises(ValueError, match="val_size must be < 8000"):
        split_indices(dataclasses.replace(TINY, val_size=8000), 8000)
    no_val = make_vae_loaders(dataclasses.replace(REFERENCE_RECIPE), torch.Generator())
    assert no_val[1] is None and no_val[0].images.eq(no_val[0].images.round()).all()


def test_vae_loss_weights_the_kl_only_in_training_mode():
    torch.manual_seed(0)
    model = VAE(3, (8,))
    x = torch.bernoulli(torch.full((5, 784), 0.4))
    torch.manual_seed(1)
    train_terms = vae_loss(model.train(), (x,), kl_weight=0.25)
    torch.manual_seed(1)
    eval_terms = vae_loss(model.eval(), (x,), kl_weight=0.25)
    torch.testing.assert_close(train_terms["loss"], train_terms["recon"] + 0.25 * train_terms["kl"])
    torch.testing.assert_close(eval_terms["loss"], eval_terms["neg_elbo"])
    torch.testing.assert_close(eval_terms["neg_elbo"], eval_terms["recon"] + eval_terms["kl"])


def test_iwae_loss_is_the_importance_weighted_bound_of_evaluate():
    torch.manual_seed(0)
    model = VAE(3, (8,), activation="elu").train()
    x = torch.bernoulli(torch.full((6, 784), 0.3))
    mu, logvar = model.encode(x)
    for s, w in [(1, 1.0), (5, 1.0), (5, 0.25)]:
        torch.manual_seed(1)
        terms = vae_loss(model, (x,), kl_weight=w, iwae_samples=s) if s > 1 else None
        torch.manual_seed(1)
        direct = vt.iwae_loss(model, x, s, kl_weight=w)
        torch.manual_seed(1)
        log_w = evaluate.proposal_log_weights(model, x, mu, logvar, s)  # (S, B), weight 1
        if w != 1.0:  # the KL weight scales log p(z) - log q(z|x) only
            torch.manual_seed(1)
            eps = torch.randn(s, *mu.shape)
            z = mu + torch.exp(0.5 * logvar) * eps
            log_px_z = model.log_likelihood(
                x.expand(s, *x.shape).reshape(-1, 784), z.reshape(-1, 3)
            )
            log_px_z = log_px_z.reshape(s, len(x))
            log_w = log_px_z + w * (log_w - log_px_z)
        expected = -evaluate.log_mean_exp(log_w).mean()
        torch.testing.assert_close(direct["loss"], expected)
        if terms is not None:
            torch.testing.assert_close(terms["loss"], expected)
    # the recorded terms are the ELBO's: closed-form KL, reconstruction averaged over the codes
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    closed = torch.distributions.kl_divergence(q, p).sum(1).mean()
    torch.testing.assert_close(direct["kl"], closed.detach())
    torch.testing.assert_close(direct["neg_elbo"], direct["recon"] + direct["kl"])
    # the bound tightens with S (in expectation): averaged over many draws, L_5 >= L_1
    torch.manual_seed(2)
    l1 = torch.stack([vt.iwae_loss(model, x, 1)["loss"] for _ in range(200)]).mean()
    l5 = torch.stack([vt.iwae_loss(model, x, 5)["loss"] for _ in range(200)]).mean()
    assert l5 < l1
    # validation (eval mode) stays the ELBO
    model.eval()
    torch.manual_seed(3)
    eval_terms = vae_loss(model, (x,), iwae_samples=5)
    torch.testing.assert_close(eval_terms["loss"], eval_terms["neg_elbo"])


@pytest.mark.slow
def test_train_vae_with_iwae_samples_trains_and_records_the_elbo():
    model, history = train_vae(dataclasses.replace(TINY, name="tiny-iwae", iwae_samples=3))
    assert history["steps"] == [31, 62, 93]
    assert history["neg_elbo"][-1] < history["neg_elbo"][0]
    assert all(math.isfinite(v) for v in history["val_neg_elbo"])


def test_weight_decay_shrinks_every_weight_by_rate_times_decay():
    """With zero gradients Adam's step is zero, so AdamW's step is the decay alone: each weight
    times 1 - lr * weight_decay (the closed form); without decay nothing moves."""
    torch.manual_seed(0)
    for decay in (0.0, 0.1):
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ELU(), torch.nn.Linear(4, 2))
        before = [p.detach().clone() for p in model.parameters()]
        optimizer = make_optimizer(model, decay)
        for group in optimizer.param_groups:
            group["lr"] = 0.01
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
        for old, p in zip(before, model.parameters()):
            torch.testing.assert_close(p.detach(), old * (1 - 0.01 * decay), rtol=0, atol=1e-7)


@pytest.mark.slow
def test_train_vae_with_weight_decay_trains_other_weights():
    model, history = train_vae(dataclasses.replace(TINY, name="tiny-wd", weight_decay=0.5))
    plain, _ = train_vae(dataclasses.replace(TINY, name="tiny-wd"))
    assert all(math.isfinite(v) for v in history["val_neg_elbo"])
    decayed = sum(p.detach().pow(2).sum() for p in model.parameters())
    assert decayed < sum(p.detach().pow(2).sum() for p in plain.parameters())  # smaller weights


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
def test_train_vae_is_the_same_as_setting_schedule_and_warm_up_by_hand():
    """The scheduler and the KL callback reproduce the plain loop that sets the learning rate
    and the KL weight at the start of each epoch, bit for bit."""
    recipe = dataclasses.replace(TINY, val_size=0, lr_warmup_epochs=1, kl_warmup_epochs=2)
    model, history = train_vae(recipe)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        generator = torch.Generator().manual_seed(recipe.seed + 1)
        plain = recipe.make_model()
        train, _ = make_vae_loaders(recipe, generator)
        vt.init_output_bias(plain, train.images)
        optimizer = make_optimizer(plain)
        plain.train()
        for epoch in range(recipe.epochs):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(epoch, recipe)
            w = kl_weight(epoch, recipe.kl_warmup_epochs)
            for batch in train:
                loss = vae_loss(plain, batch, w)["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    for a, b in zip(model.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)
    assert history["lr"] == [learning_rate(e, recipe) for e in range(recipe.epochs)]
    assert history["kl_weight"] == [1 / 3, 2 / 3, 1.0]
    assert history["best_epoch"] == [recipe.epochs]
