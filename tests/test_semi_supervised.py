"""lecture_utils.semi_supervised: the M2 objective against independent references (a loop over
the labels, exact marginal likelihoods by quadrature, ConditionalVAE's own ELBO), the M1
comparison, the recipe and training on a tiny setting, and input errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from lecture_utils.classify import BudgetComparison, balanced_subset
from lecture_utils.models import VAE, Autoencoder
from lecture_utils.semi_supervised import (
    M2,
    M2Recipe,
    compare_features,
    encoder_means,
    m1_features,
    notebook03_autoencoder,
    split_m2,
    train_m2,
    train_m2_cached,
)

C = 10


def tiny_m2(likelihood: str = "bernoulli", latent_dim: int = 2, dim: int = 5) -> M2:
    torch.manual_seed(0)
    model = M2(latent_dim, C, (7,), (6,), input_shape=(dim,), likelihood=likelihood)
    with torch.no_grad():  # larger weights: labels and z matter, q(y|x) is far from uniform
        for p in model.parameters():
            p.mul_(3.0)
    return model.double()


def binary_digits(n: int, dim: int = 5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, dim), 0.4, dtype=torch.float64), generator=g)


def brute_force_elbo(model: M2, x: torch.Tensor, y: int, eps: torch.Tensor) -> torch.Tensor:
    """L(x, y) for one label, from the ConditionalVAE's public methods and the closed-form KL
    written out: ``(B,)``."""
    labels = torch.full((len(x),), y, dtype=torch.int64)
    mu, logvar = model.cvae.encode(x, labels)
    z = mu + torch.exp(0.5 * logvar) * eps
    if model.likelihood == "bernoulli":
        log_px = model.cvae.log_likelihood(x, z, labels)
    else:
        mean = model.cvae.decoder_output(z, labels)
        dist = torch.distributions.Normal(mean, model.log_sigma.exp())
        log_px = dist.log_prob(x).sum(1)
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    kl = torch.distributions.kl_divergence(posterior, prior).sum(1)
    return log_px - kl + math.log(1.0 / C)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_unlabelled_elbo_matches_a_loop_over_the_ten_labels(likelihood):
    model = tiny_m2(likelihood)
    x = binary_digits(6) if likelihood == "bernoulli" else torch.randn(6, 5, dtype=torch.float64)
    got = model.unlabelled_elbo(x, torch.Generator().manual_seed(3))
    # the same normals, drawn as documented: (C, B, K) at once, label first
    eps = torch.randn((C, 6, 2), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    logits = model.classifier(x)
    want = torch.zeros(6, dtype=torch.float64)
    for i in range(len(x)):
        q = torch.exp(logits[i] - torch.logsumexp(logits[i], 0))  # q(y|x), from its definition
        for y in range(C):
            elbo_y = brute_force_elbo(model, x[i : i + 1], y, eps[y, i : i + 1])[0]
            want[i] += q[y] * elbo_y - q[y] * torch.log(q[y])  # E_q[L] + H(q), term by term
    torch.testing.assert_close(got, want)
    table = model.label_elbos(x, torch.Generator().manual_seed(3))  # (B, C), the same draws
    for y in range(C):
        torch.testing.assert_close(table[:, y], brute_force_elbo(model, x, y, eps[y]))
    # the check has teeth: typical wrong answers (no entropy; uniform weights; the best label
    # alone) differ from the right one on every digit
    q = torch.softmax(logits, 1)
    table = torch.stack([brute_force_elbo(model, x, y, eps[y]) for y in range(C)], 1)  # (B, C)
    for wrong in ((q * table).sum(1), table.mean(1) + math.log(C), table.max(1).values):
        assert ((got - wrong).abs() > 1e-2).all()


def test_labelled_elbo_is_the_conditional_vaes_elbo_plus_log_prior():
    model = tiny_m2()
    x, y = binary_digits(8), torch.arange(8) % C
    got = model.labelled_elbo(x, y, torch.Generator().manual_seed(5))
    want = model.cvae.elbo(x, y, torch.Generator().manual_seed(5)) - math.log(C)
    torch.testing.assert_close(got, want)


def exact_log_marginals(model: M2, x: torch.Tensor) -> torch.Tensor:
    """log p(x, y) for every label by quadrature over the 1-D z: ``(B, C)``."""
    z = torch.linspace(-9.0, 9.0, 3001, dtype=torch.float64)  # (G,)
    log_prior_z = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    out = torch.zeros(len(x), C, dtype=torch.float64)
    with torch.no_grad():
        for y in range(C):
            labels = torch.full((len(z),), y, dtype=torch.int64)
            logits = model.cvae.decoder_output(z[:, None], labels)  # (G, D)
            log_px = -F.binary_cross_entropy_with_logits(
                logits[None].expand(len(x), -1, -1),
                x[:, None].expand(-1, len(z), -1),
                reduction="none",
            ).sum(-1)  # (B, G)
            integrand = log_px + log_prior_z + math.log(z[1] - z[0])
            out[:, y] = torch.logsumexp(integrand, dim=1) + math.log(1.0 / C)
    return out


def test_the_bounds_lie_below_the_exact_log_likelihoods():
    model = tiny_m2(latent_dim=1, dim=3)
    x = torch.tensor([[0, 0, 0], [1, 0, 1], [1, 1, 1], [0, 1, 0]], dtype=torch.float64)
    log_pxy = exact_log_marginals(model, x)  # (4, C)
    log_px = torch.logsumexp(log_pxy, dim=1)
    # the grid integrates the model's p(x) = sum over all 8 binary images to 1
    every = torch.tensor([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)]).double()
    torch.testing.assert_close(torch.logsumexp(exact_log_marginals(model, every), (0, 1)).exp(),
                               torch.tensor(1.0, dtype=torch.float64))  # fmt: skip
    g = torch.Generator().manual_seed(0)
    many = x.repeat(4000, 1)  # (S * 4, 3): S = 4000 independent estimates per digit
    with torch.no_grad():
        u = model.unlabelled_elbo(many, g).reshape(4000, 4)  # (S, 4)
        labels = torch.full((len(many),), 3, dtype=torch.int64)
        lab = model.labelled_elbo(many, labels, g).reshape(4000, 4)
    u_mean, u_se = u.mean(0), u.std(0) / math.sqrt(len(u))
    assert (u_mean < log_px - 3 * u_se).all()  # E[U(x)] <= log p(x), with a real gap
    assert (log_px - u_mean < 5.0).all()  # and not absurdly loose
    lab_mean, lab_se = lab.mean(0), lab.std(0) / math.sqrt(len(lab))
    assert (lab_mean < log_pxy[:, 3] + 3 * lab_se).all()  # E[L(x, y)] <= log p(x, y)


def test_loss_combines_the_three_terms():
    model = tiny_m2()
    x_l, y, x_u = binary_digits(4, seed=2), torch.tensor([0, 3, 3, 9]), binary_digits(6, seed=3)
    terms = model.loss(x_l, y, x_u, alpha=2.5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        terms["loss"],
        terms["neg_labelled"] + terms["neg_unlabelled"] + 2.5 * terms["cross_entropy"],
    )
    torch.testing.assert_close(terms["cross_entropy"], F.cross_entropy(model(x_l), y))
    g = torch.Generator().manual_seed(1)  # the labelled draws come first, then the unlabelled
    torch.testing.assert_close(terms["neg_labelled"], -model.labelled_elbo(x_l, y, g).mean())
    torch.testing.assert_close(terms["neg_unlabelled"], -model.unlabelled_elbo(x_u, g).mean())
    terms["loss"].backward()
    assert model.classifier[0].weight.grad.abs().sum() > 0
    assert model.cvae.encoder[0].weight.grad.abs().sum() > 0


def test_predict_is_the_most_probable_label():
    model = tiny_m2()
    x = binary_digits(20)
    assert torch.equal(model.predict(x), model.classifier(x).argmax(1))
    assert model.predict(x).dtype == torch.int64


TWO = binary_digits(2)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda m: m.unlabelled_elbo(torch.ones(3, 4, dtype=torch.float64)), ValueError, "shape"),
        (lambda m: m.unlabelled_elbo(torch.full((3, 5), 2.0).double()), ValueError, "<= 1"),
        (lambda m: m.unlabelled_elbo(torch.ones(3, 5)), TypeError, "dtype"),
        (lambda m: m.labelled_elbo(binary_digits(3), torch.tensor([0, 1])), ValueError, "3 labels"),
        (lambda m: m.labelled_elbo(binary_digits(3), torch.tensor([0, 1, 10])), ValueError, "0 .."),
        (lambda m: m.labelled_elbo(binary_digits(3), torch.zeros(3)), TypeError, "int64"),
        (lambda m: m.loss(TWO, torch.arange(2), TWO, -1), ValueError, "alpha"),
        (lambda m: M2(2, likelihood="poisson"), ValueError, "likelihood"),
        (lambda m: M2(0), ValueError, "latent_dim"),
    ],
)  # fmt: skip
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call(tiny_m2())


def test_recipe_checks_and_cache_key():
    with pytest.raises(ValueError, match="per_class"):
        M2Recipe(per_class=0)
    with pytest.raises(ValueError, match="Gaussian"):
        M2Recipe(likelihood="gaussian")
    with pytest.raises(TypeError, match="alpha"):
        M2Recipe(alpha="1")
    a, b = M2Recipe(), M2Recipe(alpha=3.0)
    assert a.cache_key() != b.cache_key() and a.cache_key() == M2Recipe().cache_key()
    r = M2Recipe(epochs=10, lr=1e-3, final_lr_fraction=0.1, lr_warmup_epochs=1)
    rates = [r.learning_rate(e) for e in range(10)]
    assert rates[0] == pytest.approx(5e-4) and rates[1] == pytest.approx(1e-3)
    assert (
        rates[-1] == pytest.approx(1e-4)
        and rates == sorted(rates[:2]) + sorted(rates[1:], reverse=True)[1:]
    )


def test_split_draws_the_labelled_digits_as_notebook_03():
    labels = torch.arange(300) % C
    recipe = M2Recipe(per_class=4, val_size=50, seed=2)
    parts = split_m2(recipe, labels)
    assert torch.equal(
        parts["labelled"], balanced_subset(labels, 4, torch.Generator().manual_seed(2))
    )
    val, unlabelled = set(parts["val"].tolist()), set(parts["unlabelled"].tolist())
    assert len(val) == 50 and not val & set(parts["labelled"].tolist())
    assert not val & unlabelled and len(val | unlabelled) == 300


def tiny_data(n: int = 200):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % C
    images = torch.rand(n, 1, 4, 4, generator=g) * 0.3 + 0.6 * (labels[:, None, None, None] > 4)
    return images, labels


def test_train_m2_is_seeded_and_records_accuracy_against_time(tmp_path):
    images, labels = tiny_data()
    recipe = M2Recipe(
        name="test-m2", per_class=2, latent_dim=2, hidden_dims=(8,), classifier_dims=(8,),
        epochs=2, batch_size=50, labelled_batch=8, val_size=20, binarize="dynamic",
    )  # fmt: skip
    state = torch.random.get_rng_state()
    model, history = train_m2(recipe, images, labels, {"all": (images, labels)}, progress=None)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert len(history["val_accuracy"]) == len(history["seconds"]) == 2
    assert all(0 <= a <= 1 for a in history["all_accuracy"])
    assert history["steps"] == [4, 8]  # 180 unlabelled digits in batches of 50
    again, _ = train_m2(recipe, images, labels, progress=None)
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    sets = {"all": (images, labels)}
    cached, extra = train_m2_cached(recipe, images, labels, sets, cache_dir=tmp_path, log=None)
    loaded, extra2 = train_m2_cached(recipe, images, labels, sets, cache_dir=tmp_path, log=None)
    assert extra == extra2 and len(list(tmp_path.iterdir())) == 1
    assert extra["all_accuracy"] == history["all_accuracy"]
    for p, q, r in zip(cached.parameters(), loaded.parameters(), model.parameters()):
        assert torch.equal(p, q) and torch.equal(p, r)
    train_m2_cached(recipe, images, labels, cache_dir=tmp_path, log=None)  # other sets: a new file
    assert len(list(tmp_path.iterdir())) == 2
    other = images.flip(-1)  # the same labels, mirrored digits: other weights, so another file
    retrained, _ = train_m2_cached(recipe, other, labels, cache_dir=tmp_path, log=None)
    assert len(list(tmp_path.iterdir())) == 3
    assert not all(torch.equal(p, q) for p, q in zip(retrained.parameters(), model.parameters()))


def test_train_m2_rejects_bad_input():
    images, labels = tiny_data()
    with pytest.raises(TypeError, match="recipe"):
        train_m2("nb09", images, labels)
    with pytest.raises(ValueError, match="labels must have shape"):
        train_m2(M2Recipe(per_class=2, val_size=10), images, labels[:-1])
    with pytest.raises(ValueError, match="has only 20 examples"):
        train_m2(M2Recipe(per_class=50), images, labels)


def test_encoder_means_are_the_means_of_q():
    torch.manual_seed(0)
    vae = VAE(3, (16,))
    x = torch.rand(7, 1, 28, 28)
    torch.testing.assert_close(encoder_means(vae, x, batch_size=3), vae.encode(x)[0])
    with pytest.raises(TypeError, match="vae"):
        encoder_means(Autoencoder(3), x)


def test_m1_features_are_standardised_with_the_training_statistics():
    torch.manual_seed(0)
    vae = VAE(3, (16,))
    x, x_test = torch.rand(50, 1, 28, 28), torch.rand(20, 1, 28, 28)
    train, test = m1_features(vae, x, x_test)
    torch.testing.assert_close(train.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(train.std(0), torch.ones(3))
    raw, raw_test = vae.encode(x)[0], vae.encode(x_test)[0]
    torch.testing.assert_close(test, (raw_test - raw.mean(0)) / raw.std(0))
    assert not torch.allclose(test.mean(0), torch.zeros(3), atol=1e-3)  # not its own statistics


def test_compare_features_uses_notebook_03s_subsets_and_probe():
    g = torch.Generator().manual_seed(0)
    labels, test_labels = torch.arange(400) % C, torch.arange(100) % C
    centres = torch.randn(C, 4, generator=g) * 3
    good = (centres[labels] + torch.randn(400, 4, generator=g), centres[test_labels])
    noise = (torch.randn(400, 4, generator=g), torch.randn(100, 4, generator=g))
    result = compare_features({"good": good, "noise": noise}, labels, test_labels, (2, 5), (0, 1))
    assert isinstance(result, BudgetComparison)
    assert result.methods == ("good", "noise") and result.n_labels == (20, 50)
    assert (result.get("good", 5) >= 0.85).all() and (result.get("noise", 5) < 0.4).all()
    # one entry by hand: the same subset and the same seeded head as notebook 03's probe
    from lecture_utils.classify import accuracy, train_classifier

    idx = balanced_subset(labels, 2, torch.Generator().manual_seed(1))
    torch.manual_seed(1)
    head = torch.nn.Linear(4, C)
    train_classifier(head, good[0][idx], labels[idx], 150, 64, 3e-3, 1)
    assert result.get("good", 2)[1] == accuracy(head, good[1], test_labels)
    converged = compare_features({"good": good}, labels, test_labels, (5,), (0,), "converged")
    assert converged.get("good", 5)[0] > 0.9
    with pytest.raises(ValueError, match="rows"):
        compare_features({"bad": (good[0][:-1], good[1])}, labels, test_labels)
    with pytest.raises(ValueError, match="probe"):
        compare_features({"good": good}, labels, test_labels, probe="adam")


def test_notebook03_autoencoder_is_cached_and_seeded(tmp_path):
    images = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    messages: list[str] = []
    first = notebook03_autoencoder(images, cache_dir=tmp_path, log=messages.append)
    second = notebook03_autoencoder(images, cache_dir=tmp_path, log=messages.append)
    assert "trained" in messages[0] and "loaded" in messages[1]
    assert first.latent_dim == 32 and first.encoder[0].out_features == 128
    for p, q in zip(first.parameters(), second.parameters()):
        assert torch.equal(p, q)
    other = notebook03_autoencoder(images, seed=1, cache_dir=tmp_path, log=None)
    assert not torch.equal(other.encoder[0].weight, first.encoder[0].weight)
    with pytest.raises(ValueError, match="images"):
        notebook03_autoencoder(images * 3, cache_dir=tmp_path)


def test_recipe_replace_keeps_checks():
    with pytest.raises(ValueError, match="binarize"):
        dataclasses.replace(M2Recipe(), binarize="fixed")


@pytest.mark.slow
def test_notebook03_autoencoder_reproduces_notebook_03s_printed_losses(tmp_path):
    """The rebuild against notebook 03's own stored output (its cell 12 prints the L2 loss per
    epoch), read from the notebook file: the same model, not merely the same architecture."""
    import json
    from pathlib import Path

    from lecture_utils.cache import cached
    from lecture_utils.data import load_mnist
    from lecture_utils.semi_supervised import _train_notebook03_autoencoder

    path = Path(__file__).resolve().parents[1] / "notebooks" / "03_encoder_reuse.ipynb"
    cells = json.loads(path.read_text())["cells"]
    source = next(c for c in cells if "history = fit(autoencoder" in "".join(c["source"]))
    line = next(
        "".join(o["text"]) for o in source["outputs"] if "L2 loss" in "".join(o.get("text", ""))
    )
    printed = json.loads(line.split(":", 1)[1].strip().replace("'", '"'))  # ['69.83', ...]
    images, _ = load_mnist("train")
    _, history = cached(  # trained on the course's one thread, as the notebook is
        "t", {"k": 1}, lambda: Autoencoder(32, (128,)),
        lambda: _train_notebook03_autoencoder(images, 0), directory=tmp_path, log=None,
    )  # fmt: skip
    assert [f"{v:.2f}" for v in history["loss"]] == printed


def test_the_control_learns_from_the_labelled_digits_alone():
    images, labels = tiny_data()
    recipe = M2Recipe(
        name="test-m2", per_class=2, latent_dim=2, hidden_dims=(8,), classifier_dims=(8,),
        epochs=2, batch_size=50, labelled_batch=8, val_size=20, unlabelled=False,
    )  # fmt: skip
    assert "unlabelled" in recipe.cache_key() and "unlabelled" not in M2Recipe().cache_key()
    other = images.clone()  # the same labelled digits, every other digit changed
    mask = torch.ones(len(images), dtype=torch.bool)
    mask[split_m2(recipe, labels)["labelled"]] = False
    other[mask] = 1.0 - other[mask]
    for use_unlabelled in (False, True):
        r = dataclasses.replace(recipe, unlabelled=use_unlabelled)
        a, history = train_m2(r, images, labels, progress=None)
        b, _ = train_m2(r, other, labels, progress=None)
        same = all(
            torch.equal(p, q) for p, q in zip(a.classifier.parameters(), b.classifier.parameters())
        )
        assert same != use_unlabelled  # only U lets the unlabelled digits reach q(y|x)
        assert ("neg_unlabelled" in history) == use_unlabelled
