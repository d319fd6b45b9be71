"""The README's promise, tested in one place: every public helper rejects bad input with a
TypeError/ValueError whose message names the argument, what it got and what it expects.

One table, one parametrised test. Rows tagged ``review-`` are the probes of the maintainers'
review (section 5); rows tagged ``probe-`` are further probes of the kind a student makes:
wrong types, empty tensors, NaN, mismatched shapes, wrong dtypes, negative counts, bools for
ints, generators that are not generators. A row whose exception is ``None`` is a call that is
accepted on purpose (documented behaviour). Modules are imported inside each call, so a
renamed helper fails its own rows and nothing else. The models are tiny and untrained, so the
whole table runs in seconds.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

#: for rows where either exception type is a fair answer: what matters is that the message
#: names the argument
BAD = (TypeError, ValueError)


def m(name: str):
    """``lecture_utils.<name>``, imported when a row runs."""
    return importlib.import_module(f"lecture_utils.{name}")


def _x(n: int = 4, side: int = 8) -> torch.Tensor:
    """``n`` binary images ``(n, 1, side, side)``, always the same."""
    return torch.rand(n, 1, side, side, generator=torch.Generator().manual_seed(1)).round()


def vae() -> nn.Module:
    return m("models").VAE(2, (16,), input_shape=(1, 8, 8))


def vae28() -> nn.Module:
    """A tiny VAE on 28 x 28 images, for the widgets (which expect MNIST's shape)."""
    return m("models").VAE(2, (16,))


def ae() -> nn.Module:
    return m("models").Autoencoder(2, (16,), input_shape=(1, 8, 8))


def clf() -> nn.Module:
    return m("models").EncoderClassifier.from_autoencoder(ae(), n_classes=10)


def y(n: int = 4) -> torch.Tensor:
    return torch.arange(n) % 3


def nan_x() -> torch.Tensor:
    x = _x()
    x[0, 0, :2, :2] = float("nan")
    return x


def l2_batch_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return m("losses").l2_loss(model(batch[0]), batch[0])


def loader():
    return m("data").make_loaders(_x(), batch_size=2)[0]


def mu_lv(k_mu: int = 2, k_lv: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(4, k_mu), torch.zeros(4, k_lv)


def manifold_explorer(**kwargs):
    images = _x(6, 28)
    labels = kwargs.pop("labels", torch.arange(6) % 3)
    return m("widgets").ManifoldExplorer(vae28(), images, labels, n=3, **kwargs)


Row = tuple[str, Callable[[], object], type | tuple[type, ...] | None, str]

REVIEW: list[Row] = [
    # --- data
    (
        "review-load_mnist-validation",
        lambda: m("data").load_mnist("validation"),
        ValueError,
        "split must be one of 'train', 'test', got 'validation'",
    ),
    (
        "review-load_mnist-Train",
        lambda: m("data").load_mnist("Train"),
        ValueError,
        "split must be one of 'train', 'test', got 'Train'",
    ),
    (
        "review-load_mnist-binarize-1",
        lambda: m("data").load_mnist("test", binarize=1),
        TypeError,
        "binarize must be True or False, got int 1",
    ),
    (
        "review-make_loaders-batch_size-0",
        lambda: m("data").make_loaders(_x(), batch_size=0),
        ValueError,
        "batch_size must be >= 1, got 0",
    ),
    (
        "review-make_loaders-val_size-True",
        lambda: m("data").make_loaders(_x(), val_size=True),
        TypeError,
        "val_size must be an int, got bool",
    ),
    (
        "review-make_loaders-empty",
        lambda: m("data").make_loaders(_x()[:0]),
        ValueError,
        "images is empty",
    ),
    # --- models
    (
        "review-Autoencoder-latent_dim-float",
        lambda: m("models").Autoencoder(2.0),
        TypeError,
        "latent_dim must be an int, got float",
    ),
    (
        "review-Autoencoder-hidden_dims-int",
        lambda: m("models").Autoencoder(2, hidden_dims=64),
        TypeError,
        r"hidden_dims must be a list or tuple of ints, got int 64; .*\(64,\)",
    ),
    (
        "review-Autoencoder-hidden_dims-negative",
        lambda: m("models").Autoencoder(2, hidden_dims=(-5,)),
        ValueError,
        r"hidden_dims\[0\] must be >= 1, got -5",
    ),
    (
        "review-VAE-sigma-str",
        lambda: m("models").VAE(2, sigma="0.1"),
        TypeError,
        "sigma must be a number, got str '0.1'",
    ),
    (
        "review-VAE.encode-double",
        lambda: vae().encode(_x().double()),
        TypeError,
        r"x has dtype torch.float64 but the model's weights are torch.float32; use x.float\(\)",
    ),
    (
        "review-VAE.encode-long",
        lambda: vae().encode(_x().long()),
        TypeError,
        r"x must be a floating-point tensor, got dtype torch.int64; use x.float\(\)",
    ),
    (
        "review-VAE-3d-input",
        lambda: vae()(_x()[:, 0]),
        ValueError,
        r"x must have 2 or 4 dimensions, got shape \(4, 8, 8\)",
    ),
    (
        "review-VAE.reparameterize-mismatch",
        lambda: m("models").VAE.reparameterize(*mu_lv(2, 1)),
        ValueError,
        r"mu and logvar must have the same shape, got \(4, 2\) and \(4, 1\)",
    ),
    (
        "review-VAE.log_likelihood-batch",
        lambda: vae().log_likelihood(_x(), torch.zeros(3, 2)),
        ValueError,
        "x and z need the same batch size, got 4 and 3",
    ),
    # --- evaluate
    (
        "review-log_likelihood-n_samples-0",
        lambda: m("evaluate").log_likelihood(vae(), _x(), n_samples=0),
        ValueError,
        "n_samples must be >= 1",
    ),
    (
        "review-log_likelihood-n_samples-float",
        lambda: m("evaluate").log_likelihood(vae(), _x(), n_samples=2.5),
        TypeError,
        "n_samples must be an int, got float",
    ),
    (
        "review-log_likelihood-n_samples-bool",
        lambda: m("evaluate").log_likelihood(vae(), _x(), n_samples=True),
        TypeError,
        "n_samples must be an int, got bool",
    ),
    (
        "review-log_likelihood-x-above-1",
        lambda: m("evaluate").log_likelihood(vae(), 2 * _x(), 5),
        ValueError,
        "x must be <= 1.0, got a maximum of 2",
    ),
    (
        # the hint must not blame a learning rate for NaN input data
        "review-log_likelihood-x-nan",
        lambda: m("evaluate").log_likelihood(vae(), nan_x(), 5),
        ValueError,
        r"x contains 4 NaN or infinite value\(s\); (?!.*learning rate)",
    ),
    (
        # documented: grey x gives a number, not a probability, for a Bernoulli decoder (see
        # test_grey_images_for_a_bernoulli_likelihood_are_documented)
        "review-log_likelihood-grey-x-accepted",
        lambda: m("evaluate").log_likelihood(vae(), torch.rand(4, 1, 8, 8), 5),
        None,
        "",
    ),
    (
        "review-log_likelihood-batch_size-0",
        lambda: m("evaluate").log_likelihood(vae(), _x(), 5, batch_size=0),
        ValueError,
        "batch_size must be >= 1, got 0",
    ),
    # --- losses
    (
        "review-l2_loss-shapes",
        lambda: m("losses").l2_loss(torch.rand(4, 784), torch.rand(4, 1, 28, 28)),
        ValueError,
        "x_hat and x must have the same shape",
    ),
    (
        "review-gaussian_kl-mu_p-batch",
        lambda: m("losses").gaussian_kl(*mu_lv(), torch.zeros(3, 2), torch.zeros(3, 2)),
        ValueError,
        r"mu_p",
    ),
    (
        "review-gaussian_log_likelihood-logvar-shape",
        lambda: m("losses").gaussian_log_likelihood(
            torch.rand(4, 784), torch.rand(4, 784), logvar=torch.zeros(3)
        ),
        ValueError,
        r"\blogvar\b.*\(3,\)",
    ),
    (
        "review-gaussian_log_likelihood-logvar-bool",
        lambda: m("losses").gaussian_log_likelihood(
            torch.rand(4, 784), torch.rand(4, 784), logvar=True
        ),
        BAD,
        r"\blogvar\b.*bool",
    ),
    # --- latent, pca, training
    (
        "review-slerp-t-int",
        lambda: m("latent").slerp(torch.ones(2), torch.tensor([1.0, 2.0]), torch.arange(3)),
        TypeError,
        "t must be a floating-point tensor",
    ),
    ("review-latent_grid-0", lambda: m("latent").latent_grid(0), ValueError, "n must be >= 2"),
    (
        "review-fit_pca-0",
        lambda: m("pca").fit_pca(torch.rand(10, 6), 0),
        ValueError,
        "n_components must be >= 1",
    ),
    (
        "review-fit-epochs-0",
        lambda: m("training").fit(ae(), l2_batch_loss, loader(), epochs=0, quiet=True),
        ValueError,
        "epochs must be >= 1, got 0",
    ),
    (
        "review-fit-lr-negative",
        lambda: m("training").fit(ae(), l2_batch_loss, loader(), epochs=1, lr=-1, quiet=True),
        BAD,
        r"\blr\b.*-1",
    ),
    # --- vae_training, model_cache
    (
        "review-vae_training.VAERecipe-lr-nan",
        lambda: m("vae_training").VAERecipe(lr=math.nan),
        BAD,
        r"\blr\b.*nan",
    ),
    (
        "review-vae_training.VAERecipe-activation-gelu",
        lambda: m("vae_training").VAERecipe(activation="gelu"),
        BAD,
        r"activation.*gelu",
    ),
    (
        "review-vae_training.VAERecipe-sigma-negative",
        lambda: m("vae_training").VAERecipe(sigma=-1, likelihood="gaussian", binarize="grey"),
        BAD,
        r"\bsigma\b.*-1",
    ),
    (
        "review-model_cache.AutoencoderRecipe-lr-negative",
        lambda: m("model_cache").AutoencoderRecipe("nb07-ae", 2, lr=-1),
        BAD,
        r"\blr\b.*-1",
    ),
    (
        "review-kl_weight-warmup-minus-2",
        lambda: m("vae_training").kl_weight(0, warmup_epochs=-2),
        BAD,
        r"warmup_epochs.*-2",
    ),
    (
        "review-kl_weight-warmup-minus-1",
        lambda: m("vae_training").kl_weight(0, warmup_epochs=-1),
        BAD,
        r"warmup_epochs.*-1",
    ),
    (
        "review-learning_rate-epoch-negative",
        lambda: m("vae_training").learning_rate(-1, m("vae_training").VAERecipe()),
        BAD,
        r"\bepoch\b.*-1",
    ),
    # --- toy
    (
        "review-OneDimLatentModel-n_grid-1",
        lambda: m("toy").OneDimLatentModel(n_grid=1),
        BAD,
        r"n_grid.*\b1\b",
    ),
    (
        "review-effective_sample_size-all-minus-inf",
        lambda: m("evaluate").effective_sample_size(torch.full((5, 3), -math.inf)),
        BAD,
        r"log_w",
    ),
    (
        "review-log_mean_exp-empty",
        lambda: m("evaluate").log_mean_exp(torch.empty(0, 3)),
        BAD,
        r"log_w",
    ),
    # --- classify
    (
        "review-accuracy-empty",
        lambda: m("classify").accuracy(clf(), _x()[:0], y()[:0]),
        ValueError,
        "images is empty",
    ),
    (
        "review-EncoderClassifier-feature_dim-mismatch",
        lambda: m("models").EncoderClassifier(nn.Flatten(), feature_dim=5)(_x()),
        ValueError,
        r"features of shape \(4, 64\).*feature_dim=5",
    ),
    (
        "review-balanced_subset-int32-labels",
        lambda: m("classify").balanced_subset(y(12).int(), 1),
        TypeError,
        r"labels must be an int64 torch.Tensor, got torch.int32; use labels.long\(\)",
    ),
    # --- plotting, blur, seed
    (
        "review-image_grid-nrow-0",
        lambda: m("plotting").image_grid(_x(), nrow=0),
        BAD,
        r"nrow.*\b0\b",
    ),
    (
        "review-show_images-nrow-0",
        lambda: m("plotting").show_images(_x(), nrow=0),
        BAD,
        r"nrow.*\b0\b",
    ),
    (
        "review-image_grid-pad-negative",
        lambda: m("plotting").image_grid(_x(), pad=-1),
        BAD,
        r"pad.*-1",
    ),
    (
        "review-reconstruction_loss-kind-L2",
        lambda: m("blur").reconstruction_loss(_x(), _x(), kind="L2"),
        ValueError,
        "kind must be one of 'l1', 'l2', 'bce'",
    ),
    (
        "review-seed_everything-too-large",
        lambda: m("seed").seed_everything(2**40),
        ValueError,
        "seed must be <= 4294967295",
    ),
    (
        "review-dynamic_binarize-generator-0",
        lambda: m("data").dynamic_binarize(_x(), generator=0),
        TypeError,
        "generator must be a torch.Generator, got int 0",
    ),
    # --- widgets
    (
        "review-LatentSliders-limit-negative",
        lambda: m("widgets").LatentSliders(vae28(), limit=-3),
        BAD,
        r"limit.*-3",
    ),
    (
        "review-ManifoldExplorer-extent-reversed",
        lambda: manifold_explorer(extent=(3, -3)),
        BAD,
        r"extent",
    ),
    (
        "review-LatentSliders-dims-repeated",
        lambda: m("widgets").LatentSliders(vae28(), dims=[0, 0]),
        BAD,
        r"dims",
    ),
    (
        "review-LatentSliders-step-0",
        lambda: m("widgets").LatentSliders(vae28(), step=0),
        BAD,
        r"step.*\b0\b",
    ),
    (
        "review-ManifoldExplorer-index-too-large",
        lambda: manifold_explorer(index=10_000),
        BAD,
        r"index.*10000",
    ),
    (
        "review-InterpolationExplorer-no-models",
        lambda: m("widgets").InterpolationExplorer({}, _x(6, 28)),
        ValueError,
        "at least one model",
    ),
    (
        "review-InterpolationExplorer-start-negative",
        lambda: m("widgets").InterpolationExplorer({"vae": vae28()}, _x(6, 28), start=-1),
        ValueError,
        r"start must be a digit index in \[0, 6\), got -1",
    ),
    (
        # the review's "harmless acceptance": float labels only colour the scatter
        "review-ManifoldExplorer-float-labels-accepted",
        lambda: manifold_explorer(labels=(torch.arange(6) % 3).float()),
        None,
        "",
    ),
]

OWN: list[Row] = [
    # --- models: constructors
    (
        "probe-Autoencoder-latent_dim-bool",
        lambda: m("models").Autoencoder(True),
        TypeError,
        "latent_dim must be an int, got bool",
    ),
    (
        "probe-Autoencoder-hidden_dims-str",
        lambda: m("models").Autoencoder(2, hidden_dims="64"),
        TypeError,
        "hidden_dims must be a list or tuple of ints, got str",
    ),
    (
        "probe-Autoencoder-hidden_dims-float",
        lambda: m("models").Autoencoder(2, hidden_dims=(64.0,)),
        TypeError,
        r"hidden_dims\[0\] must be an int, got float",
    ),
    (
        "probe-Autoencoder-activation",
        lambda: m("models").Autoencoder(2, activation="gelu"),
        ValueError,
        "activation must be one of 'relu', 'tanh', 'elu', 'identity', got 'gelu'",
    ),
    (
        "probe-Autoencoder-output",
        lambda: m("models").Autoencoder(2, output="softmax"),
        ValueError,
        "output must be one of 'sigmoid', 'linear', got 'softmax'",
    ),
    (
        "probe-Autoencoder-input_shape-empty",
        lambda: m("models").Autoencoder(2, input_shape=()),
        ValueError,
        "input_shape must hold at least one size",
    ),
    (
        "probe-Autoencoder-input_shape-float",
        lambda: m("models").Autoencoder(2, input_shape=(1, 8, 8.0)),
        TypeError,
        r"input_shape\[2\] must be an int, got float",
    ),
    (
        "probe-mlp-one-size",
        lambda: m("models").mlp([784]),
        ValueError,
        "sizes needs at least an input and an output size",
    ),
    (
        "probe-mlp-int",
        lambda: m("models").mlp(784),
        TypeError,
        "sizes must be a list or tuple of ints, got int 784",
    ),
    (
        "probe-VAE-sigma-0",
        lambda: m("models").VAE(2, likelihood="gaussian", sigma=0),
        ValueError,
        "sigma must be > 0, got 0",
    ),
    (
        "probe-VAE-sigma-nan",
        lambda: m("models").VAE(2, likelihood="gaussian", sigma=math.nan),
        ValueError,
        "sigma must be a finite number, got nan",
    ),
    (
        "probe-VAE-learn_sigma-str",
        lambda: m("models").VAE(2, learn_sigma="yes"),
        TypeError,
        "learn_sigma must be True or False, got str 'yes'",
    ),
    (
        "probe-VAE-likelihood-capitalised",
        lambda: m("models").VAE(2, likelihood="Bernoulli"),
        ValueError,
        "likelihood must be one of 'bernoulli', 'gaussian', got 'Bernoulli'",
    ),
    # --- models: calls
    (
        "probe-Autoencoder-numpy-input",
        lambda: ae()(_x().numpy()),
        TypeError,
        "x must be a torch.Tensor, got ndarray",
    ),
    (
        "probe-Autoencoder-wrong-image-size",
        lambda: ae()(torch.rand(4, 1, 28, 28)),
        ValueError,
        r"x must have shape \(B, 1, 8, 8\) or \(B, 64\), got \(4, 1, 28, 28\)",
    ),
    (
        "probe-Autoencoder-nan-input-blames-the-data",
        lambda: ae().encode(nan_x()),
        ValueError,
        r"x contains 4 NaN or infinite value\(s\); check the data",
    ),
    (
        "probe-Autoencoder.decode-one-code",
        lambda: ae().decode(torch.zeros(2)),
        ValueError,
        r"z must have shape \(B, 2\), got \(2,\).*z.unsqueeze\(0\)",
    ),
    (
        "probe-Autoencoder.decode-double",
        lambda: ae().decode(torch.zeros(3, 2, dtype=torch.float64)),
        TypeError,
        r"z has dtype torch.float64 but the model's weights are torch.float32; use z.float\(\)",
    ),
    (
        "probe-VAE.log_likelihood-z-size",
        lambda: vae().log_likelihood(_x(), torch.zeros(4, 3)),
        ValueError,
        r"z must have shape \(\*, 2\), got \(4, 3\)",
    ),
    (
        "probe-VAE.log_likelihood-z-list",
        lambda: vae().log_likelihood(_x(), [[0.0, 0.0]] * 4),
        TypeError,
        "z must be a torch.Tensor, got list",
    ),
    (
        "probe-VAE.reparameterize-generator-int",
        lambda: m("models").VAE.reparameterize(*mu_lv(), generator=0),
        TypeError,
        "generator must be a torch.Generator, got int 0",
    ),
    (
        "probe-VAE.reparameterize-int-mu",
        lambda: m("models").VAE.reparameterize(torch.zeros(4, 2, dtype=torch.long), mu_lv()[1]),
        TypeError,
        "mu must be a floating-point tensor",
    ),
    (
        # NaN codes come from a model: here the learning-rate hint fits
        "probe-VAE.reparameterize-nan-mu-blames-training",
        lambda: m("models").VAE.reparameterize(torch.full((4, 2), math.nan), mu_lv()[1]),
        ValueError,
        r"mu contains 8 NaN or infinite value\(s\); .*learning rate",
    ),
    (
        "probe-VAE.forward-generator-str",
        lambda: vae()(_x(), "seed"),
        TypeError,
        "generator must be a torch.Generator, got str",
    ),
    (
        "probe-VAE.sample-0",
        lambda: vae().sample(0),
        ValueError,
        "n must be >= 1, got 0",
    ),
    (
        "probe-VAE.sample-generator-int",
        lambda: vae().sample(3, generator=1),
        TypeError,
        "generator must be a torch.Generator, got int 1",
    ),
    # --- EncoderClassifier
    (
        "probe-EncoderClassifier-freeze-int",
        lambda: m("models").EncoderClassifier(nn.Flatten(), 64, freeze_encoder=1),
        TypeError,
        "freeze_encoder must be True or False, got int 1",
    ),
    (
        "probe-EncoderClassifier-n_classes-0",
        lambda: m("models").EncoderClassifier(nn.Flatten(), 64, n_classes=0),
        ValueError,
        "n_classes must be >= 1, got 0",
    ),
    (
        "probe-EncoderClassifier.set_encoder_trainable-str",
        lambda: clf().set_encoder_trainable("no"),
        TypeError,
        "trainable must be True or False, got str 'no'",
    ),
    (
        "probe-EncoderClassifier-double-input",
        lambda: clf()(_x().double()),
        TypeError,
        r"x has dtype torch.float64 but the model's weights are torch.float32",
    ),
    (
        "probe-EncoderClassifier-one-image",
        lambda: clf()(torch.rand(64)),
        ValueError,
        r"x must be a batch \(B, \.\.\.\), got shape \(64,\); for one image use x.unsqueeze\(0\)",
    ),
    # --- classify
    (
        "probe-accuracy-model-not-a-module",
        lambda: m("classify").accuracy("model", _x(), y()),
        TypeError,
        "model must be an nn.Module, got str",
    ),
    (
        "probe-accuracy-labels-length",
        lambda: m("classify").accuracy(clf(), _x(), y(5)),
        ValueError,
        r"labels must have shape \(4,\), got \(5,\)",
    ),
    (
        "probe-accuracy-float-labels",
        lambda: m("classify").accuracy(clf(), _x(), y().float()),
        TypeError,
        "labels must be an int64 torch.Tensor, got torch.float32",
    ),
    (
        "probe-accuracy-label-beyond-logits",
        lambda: m("classify").accuracy(clf(), _x(), torch.tensor([0, 1, 2, 12])),
        ValueError,
        r"labels go up to 12, but the model gives logits of shape \(4, 10\)",
    ),
    (
        "probe-accuracy-batch_size-0",
        lambda: m("classify").accuracy(clf(), _x(), y(), batch_size=0),
        ValueError,
        "batch_size must be >= 1, got 0",
    ),
    (
        "probe-train_classifier-steps-float",
        lambda: m("classify").train_classifier(clf(), _x(), y(), steps=2.0),
        TypeError,
        "steps must be an int, got float",
    ),
    (
        "probe-train_classifier-lr-0",
        lambda: m("classify").train_classifier(clf(), _x(), y(), lr=0),
        ValueError,
        "lr must be > 0, got 0",
    ),
    (
        "probe-train_classifier-seed-negative",
        lambda: m("classify").train_classifier(clf(), _x(), y(), seed=-1),
        ValueError,
        "seed must be >= 0, got -1",
    ),
    (
        "probe-train_classifier-empty",
        lambda: m("classify").train_classifier(clf(), _x()[:0], y()[:0]),
        ValueError,
        "images is empty",
    ),
    (
        "probe-balanced_subset-per_class-bool",
        lambda: m("classify").balanced_subset(y(12), True),
        TypeError,
        "per_class must be an int, got bool",
    ),
    (
        "probe-balanced_subset-generator-int",
        lambda: m("classify").balanced_subset(y(12), 1, generator=0),
        TypeError,
        "generator must be a torch.Generator, got int 0",
    ),
    (
        "probe-fit_logistic_regression-n_classes-too-small",
        lambda: m("classify").fit_logistic_regression(torch.rand(4, 3), y(), n_classes=2),
        ValueError,
        "n_classes must exceed the largest label, got n_classes=2 and a label 2",
    ),
    (
        "probe-fit_logistic_regression-weight_decay-negative",
        lambda: m("classify").fit_logistic_regression(torch.rand(4, 3), y(), weight_decay=-1),
        ValueError,
        "weight_decay must be >= 0, got -1",
    ),
    (
        "probe-fit_logistic_regression-tolerance-str",
        lambda: m("classify").fit_logistic_regression(torch.rand(4, 3), y(), tolerance="1e-4"),
        TypeError,
        "tolerance must be a number, got str",
    ),
    (
        "probe-fit_logistic_regression-empty",
        lambda: m("classify").fit_logistic_regression(torch.rand(0, 3), y()[:0]),
        ValueError,
        "features is empty",
    ),
    (
        "probe-compare_label_budgets-test-not-a-pair",
        lambda: m("classify").compare_label_budgets(ae(), (_x(), y()), _x()),
        TypeError,
        r"test must be a pair \(images, labels\), got Tensor",
    ),
    (
        "probe-compare_label_budgets-methods-str",
        lambda: m("classify").compare_label_budgets(
            ae(), (_x(), y()), (_x(), y()), methods="pixels"
        ),
        TypeError,
        "methods must be a list or tuple, got str",
    ),
    (
        "probe-compare_label_budgets-budget-0",
        lambda: m("classify").compare_label_budgets(ae(), (_x(), y()), (_x(), y()), budgets=(0,)),
        ValueError,
        r"budgets\[0\] must be >= 1, got 0",
    ),
    (
        "probe-compare_label_budgets-no-seeds",
        lambda: m("classify").compare_label_budgets(ae(), (_x(), y()), (_x(), y()), seeds=()),
        ValueError,
        r"seeds must hold at least one entry, got \(\)",
    ),
    (
        "probe-make_classifier-n_classes-0",
        lambda: m("classify").make_classifier("pixels", ae(), n_classes=0),
        ValueError,
        "n_classes must be >= 1, got 0",
    ),
    (
        "probe-train_classifier-label-beyond-logits",
        lambda: m("classify").train_classifier(clf(), _x(), torch.tensor([0, 1, 2, 12]), steps=1),
        ValueError,
        "labels go up to 12, but the model gives 10 logits per image",
    ),
    (
        "probe-compare_label_budgets-image-size",
        lambda: m("classify").compare_label_budgets(
            ae(), (_x(), y()), (torch.rand(4, 1, 28, 28), y())
        ),
        ValueError,
        r"test\[0\] holds images of shape \(1, 28, 28\), but the autoencoder reads .*\(1, 8, 8\)",
    ),
    (
        "probe-reinitialised-not-a-module",
        lambda: m("classify").reinitialised("encoder"),
        TypeError,
        "module must be an nn.Module, got str",
    ),
    (
        "probe-EncoderClassifier-encoder-returns-a-tuple",
        lambda: m("models").EncoderClassifier(nn.LSTM(4, 4), 4)(torch.rand(2, 3, 4)),
        ValueError,
        "the encoder gave features of a tuple, not a tensor",
    ),
    (
        # an empty batch is not an error for a model: it gives empty codes
        "probe-VAE-empty-batch-accepted",
        lambda: vae()(_x()[:0]),
        None,
        "",
    ),
    # --- data
    (
        "probe-load_mnist-source",
        lambda: m("data").load_mnist("train", source="web"),
        ValueError,
        "source must be one of 'embedded', 'full', got 'web'",
    ),
    (
        "probe-load_mnist-root-with-embedded",
        lambda: m("data").load_mnist(root="/tmp"),
        ValueError,
        "root is only used with source='full', got root='/tmp'",
    ),
    (
        "probe-load_mnist-root-int",
        lambda: m("data").load_mnist(source="full", root=5),
        TypeError,
        "root must be a folder path",
    ),
    (
        "probe-make_loaders-list",
        lambda: m("data").make_loaders(_x().tolist()),
        TypeError,
        "images must be a torch.Tensor, got list",
    ),
    (
        "probe-make_loaders-nan-images",
        lambda: m("data").make_loaders(nan_x()),
        ValueError,
        r"images contains 4 NaN or infinite value\(s\); check the data",
    ),
    (
        "probe-make_loaders-int32-labels",
        lambda: m("data").make_loaders(_x(), labels=y().int()),
        TypeError,
        r"labels must be an int64 tensor, got torch.int32; use labels.long\(\)",
    ),
    (
        "probe-make_loaders-val_size-all",
        lambda: m("data").make_loaders(_x(), val_size=4),
        ValueError,
        "val_size must be < 4 .*got 4",
    ),
    (
        "probe-make_loaders-val_size-negative",
        lambda: m("data").make_loaders(_x(), val_size=-1),
        ValueError,
        "val_size must be >= 0, got -1",
    ),
    (
        "probe-make_loaders-batch_size-float",
        lambda: m("data").make_loaders(_x(), batch_size=2.5),
        TypeError,
        "batch_size must be an int, got float",
    ),
    (
        "probe-make_loaders-seed-negative",
        lambda: m("data").make_loaders(_x(), seed=-1),
        ValueError,
        "seed must be >= 0, got -1",
    ),
    (
        "probe-dynamic_binarize-above-1",
        lambda: m("data").dynamic_binarize(2 * _x()),
        ValueError,
        "x must be <= 1.0, got a maximum of 2",
    ),
    (
        "probe-dynamic_binarize-uint8",
        lambda: m("data").dynamic_binarize((255 * _x()).to(torch.uint8)),
        TypeError,
        r"x must be a floating-point tensor, got dtype torch.uint8; use x.float\(\)",
    ),
]

TABLE = REVIEW + OWN


def test_the_table_holds_every_review_probe_and_enough_new_ones():
    ids = [row[0] for row in TABLE]
    assert len(ids) == len(set(ids)), "row ids must be unique"
    assert len(REVIEW) == 58  # every call section 5 of the review names
    assert len(OWN) >= 25


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [pytest.param(call, error, fragment, id=name) for name, call, error, fragment in TABLE],
)
def test_bad_input_gets_a_clear_error(call, error, fragment):
    if error is None:  # accepted on purpose
        call()
        return
    with pytest.raises(error, match=fragment):
        call()


def test_grey_images_for_a_bernoulli_likelihood_are_documented():
    """The accepted row above: the docstrings say which images give a true probability."""
    doc = inspect.getdoc(m("evaluate").log_likelihood)
    assert "binary for a Bernoulli model" in doc
    assert "binary pixels give a true log-probability" in inspect.getdoc(
        m("losses").bernoulli_log_likelihood
    )
