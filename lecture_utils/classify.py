"""Classifiers with few labels: label budgets, training, and the encoder-reuse comparison
(introduced in 03_encoder_reuse).

The question of notebook 03: does an encoder trained *without* labels (an autoencoder's) help a
classifier that has only a few labels? :func:`compare_label_budgets` answers it with numbers:
for each label budget and seed it draws the same equal-per-class subset for four methods,

- ``"scratch"``: the encoder's architecture, randomly initialised, trained with a linear head;
- ``"linear probe"``: the pretrained encoder frozen, only a new linear head trained;
- ``"fine-tune"``: the pretrained encoder and a new head, all trained;
- ``"pixels"``: logistic regression on the raw pixels (a baseline without any encoder),

trains each for the same fixed number of steps with the same optimizer, and measures the test
accuracy. :func:`fit_logistic_regression` trains a linear head on fixed features (or pixels)
to convergence, to tell a method's limit from a short training budget. Images are
``(N, 1, 28, 28)`` (or ``(N, 784)``) floats, labels int64 ``(N,)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from lecture_utils._validate import (
    DATA_HINT,
    check_choice,
    check_generator,
    check_nonneg_int,
    check_number,
    check_positive_int,
    check_tensor,
)
from lecture_utils.models import Autoencoder, EncoderClassifier
from lecture_utils.training import fit

METHODS = ("scratch", "linear probe", "fine-tune", "pixels")


def _check_labels(labels: object, n: int | None = None) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64:
        raise TypeError(
            "labels must be an int64 torch.Tensor, got "
            f"{getattr(labels, 'dtype', type(labels).__name__)}; use labels.long()"
        )
    if labels.ndim != 1 or (n is not None and len(labels) != n):
        want = "(N,)" if n is None else f"({n},)"
        raise ValueError(f"labels must have shape {want}, got {tuple(labels.shape)}")
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"labels must be class indices >= 0, got a minimum of {int(labels.min())}")
    return labels


def _check_data(
    images: object, labels: object, name: str = "images"
) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(name, images, ndim=(2, 4), hint=DATA_HINT)
    if not len(images):  # type: ignore[arg-type]
        raise ValueError(f"{name} is empty (0 images); pass at least one")
    return images, _check_labels(labels, len(images))  # type: ignore[arg-type]


def _check_model(model: object, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be an nn.Module, got {type(model).__name__}")
    return model


def _check_pair(
    name: str, pair: object, autoencoder: Autoencoder
) -> tuple[torch.Tensor, torch.Tensor]:
    """``pair`` must be an ``(images, labels)`` tuple of images the autoencoder reads."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(
            f"{name} must be a pair (images, labels), got {type(pair).__name__}"
            + (f" of length {len(pair)}" if isinstance(pair, (tuple, list)) else "")
        )
    images, labels = _check_data(pair[0], pair[1], f"{name}[0]")
    if images[0].numel() != autoencoder.input_dim:
        raise ValueError(
            f"{name}[0] holds images of shape {tuple(images.shape[1:])}, but the autoencoder "
            f"reads images of shape {autoencoder.input_shape}"
        )
    return images, labels


def balanced_subset(
    labels: torch.Tensor, per_class: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Indices of ``per_class`` examples of every class, drawn at random without replacement.

    Classes are ``0 .. labels.max()``. The result is int64 ``(n_classes * per_class,)``, grouped
    by class (class 0 first). Raises ValueError when a class has fewer than ``per_class``
    examples.
    """
    _check_labels(labels)
    check_positive_int("per_class", per_class)
    if generator is not None:
        check_generator("generator", generator)
    if not len(labels):
        raise ValueError("labels is empty")
    picked = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise ValueError(
                f"class {c} has only {len(members)} examples, fewer than "
                f"per_class={per_class}; lower the budget"
            )
        picked.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(picked)


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """Fraction of ``images`` whose largest logit is at their label, in [0, 1].

    ``images`` ``(N, 1, 28, 28)`` or ``(N, 784)`` (N >= 1), ``labels`` int64 ``(N,)``; the model
    maps a batch to logits ``(B, n_classes)``. It runs in eval mode in chunks of
    ``batch_size``; its train/eval mode is restored afterwards.
    """
    _check_model(model)
    images, labels = _check_data(images, labels)
    check_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for start in range(0, len(images), batch_size):
            logits = model(images[start : start + batch_size])
            batch_labels = labels[start : start + batch_size]
            if not isinstance(logits, torch.Tensor) or logits.shape[:1] != batch_labels.shape:
                got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits)
                raise ValueError(
                    f"model must map {len(batch_labels)} images to logits "
                    f"({len(batch_labels)}, n_classes), got {got}"
                )
            if logits.ndim != 2 or int(batch_labels.max()) >= logits.shape[1]:
                raise ValueError(
                    f"labels go up to {int(labels.max())}, but the model gives logits of shape "
                    f"{tuple(logits.shape)}: it needs one logit per class, (B, n_classes) with "
                    f"n_classes > {int(labels.max())}"
                )
            correct += int((logits.argmax(dim=1) == batch_labels).sum())
    finally:
        model.train(was_training)
    return correct / len(images)


def cross_entropy_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``loss_fn`` for :func:`lecture_utils.training.fit`: mean cross-entropy of a batch
    ``(x, y)``, ``x`` images ``(B, ...)`` and ``y`` int64 labels ``(B,)`` -> a scalar."""
    x, y = batch
    logits = model(x)
    if logits.ndim == 2 and len(y) and int(y.max()) >= logits.shape[1]:
        raise ValueError(
            f"labels go up to {int(y.max())}, but the model gives {logits.shape[1]} "
            f"logits per image: it needs n_classes > {int(y.max())}"
        )
    return F.cross_entropy(logits, y)


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` for exactly ``steps`` Adam steps on cross-entropy; return fit's history.

    ``images`` ``(N, 1, 28, 28)`` or ``(N, 784)`` (N >= 1), ``labels`` int64 ``(N,)`` class
    indices; ``model`` maps a batch ``(B, ...)`` to logits ``(B, n_classes)``.
    Each step takes ``batch_size`` examples, sampled without replacement epoch after epoch
    (seeded by ``seed``); with ``batch_size >= len(images)`` every step is full-batch, which
    suits the tiny budgets. Frozen parameters (``requires_grad=False``) stay unchanged.
    A fixed step count, rather than a fixed number of epochs, gives each budget the same
    amount of optimisation.
    """
    _check_model(model)
    images, labels = _check_data(images, labels)
    check_positive_int("steps", steps)
    batch = min(check_positive_int("batch_size", batch_size), len(images))
    lr = check_number("lr", lr, low=0.0, low_open=True)
    seed = check_nonneg_int("seed", seed)
    sampler = RandomSampler(
        range(len(images)), num_samples=steps * batch, generator=torch.Generator().manual_seed(seed)
    )
    # batch_size=None: the dataset is indexed with a whole batch of indices at once (fast)
    loader = DataLoader(
        TensorDataset(images, labels),
        batch_size=None,
        sampler=BatchSampler(sampler, batch, drop_last=False),
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("model has no trainable parameter; unfreeze at least its head")
    return fit(
        model,
        cross_entropy_loss,
        loader,
        epochs=1,
        lr=lr,
        optimizer=torch.optim.Adam(trainable, lr=lr),
        quiet=True,
    )


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic_regression`: the head and how well it converged."""

    head: nn.Linear  # (N, K) features -> (N, C) logits
    loss: float  # objective at the solution: mean cross-entropy + weight-decay term
    grad_max: float  # largest |partial derivative| of the objective there
    iterations: int
    converged: bool  # grad_max <= tolerance


def fit_logistic_regression(
    features: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int | None = None,
    weight_decay: float = 1e-4,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
) -> LogisticFit:
    """Softmax regression on fixed ``(N, K)`` features, trained to convergence (notebook 03).

    Minimises ``mean cross-entropy of softmax(x W^T + b) + weight_decay / 2 * ||W||^2`` over
    all ``N`` examples at once with L-BFGS (strong Wolfe line search), starting from zero; the
    bias is not penalised. Unlike a fixed budget of Adam steps, the result does not depend on
    a step count: it is (up to ``tolerance`` on the gradient) the minimiser itself. Features
    are centred internally, which changes only the bias and speeds up L-BFGS. Deterministic;
    torch's global random state is left alone.
    """
    check_tensor("features", features, ndim=2, hint=DATA_HINT)
    if not len(features):
        raise ValueError("features is empty (0 rows); pass at least one example")
    labels = _check_labels(labels, len(features))
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    else:
        check_positive_int("n_classes", n_classes)
        if int(labels.max()) >= n_classes:
            raise ValueError(
                f"n_classes must exceed the largest label, got n_classes={n_classes} "
                f"and a label {int(labels.max())}"
            )
    weight_decay = check_number("weight_decay", weight_decay, low=0.0)
    tolerance = check_number("tolerance", tolerance, low=0.0, low_open=True)
    x = features.detach()
    mean = x.mean(dim=0)
    centred = x - mean
    w = torch.zeros(n_classes, x.shape[1], dtype=x.dtype, requires_grad=True)
    b = torch.zeros(n_classes, dtype=x.dtype, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1,
        max_iter=check_positive_int("max_iter", max_iter),
        tolerance_grad=tolerance / 10,
        tolerance_change=0.0,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(centred @ w.T + b, labels) + 0.5 * weight_decay * (w**2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(objective)
        loss = objective()
    grad_max = float(torch.cat([w.grad.flatten(), b.grad]).abs().max())
    with torch.random.fork_rng(devices=[]):  # nn.Linear's random init is overwritten
        head = nn.Linear(x.shape[1], n_classes).to(x.dtype)
    with torch.no_grad():
        head.weight.copy_(w)
        head.bias.copy_(b - w @ mean)  # undo the centring
    return LogisticFit(
        head, float(loss.detach()), grad_max, int(opt.state[w]["n_iter"]), grad_max <= tolerance
    )


def reinitialised(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with the same architecture and fresh random weights."""
    _check_model(module, "module")
    fresh = copy.deepcopy(module)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh


def make_classifier(method: str, autoencoder: Autoencoder, n_classes: int = 10) -> nn.Module:
    """The classifier of one of :data:`METHODS`, built from a pretrained ``autoencoder``.

    The three encoder methods share one architecture (encoder, then a linear head on the code
    z); ``"pixels"`` is a linear layer on the flattened image. New weights come from torch's
    global random state (seed it first).
    """
    check_choice("method", method, METHODS)
    if not isinstance(autoencoder, Autoencoder):
        raise TypeError(f"autoencoder must be an Autoencoder, got {type(autoencoder).__name__}")
    check_positive_int("n_classes", n_classes)
    if method == "pixels":
        return nn.Sequential(nn.Flatten(), nn.Linear(autoencoder.input_dim, n_classes))
    source = reinitialised(autoencoder) if method == "scratch" else autoencoder
    return EncoderClassifier.from_autoencoder(
        source, n_classes, freeze_encoder=method == "linear probe"
    )


@dataclass(frozen=True)
class BudgetComparison:
    """Test accuracies of :func:`compare_label_budgets`.

    ``accuracy[m, b, s]`` is method ``methods[m]`` at budget ``budgets[b]`` (labels per class;
    ``None`` = every label) with seed ``seeds[s]``. ``n_labels[b]`` counts the labels used.
    """

    methods: tuple[str, ...]
    budgets: tuple[int | None, ...]
    seeds: tuple[int, ...]
    n_labels: tuple[int, ...]
    accuracy: torch.Tensor
    n_classes: int = 10

    def labels_per_class(self) -> torch.Tensor:
        """``(B,)`` average labels per class (the x axis of the figure)."""
        return torch.tensor(self.n_labels, dtype=torch.float64) / self.n_classes

    def mean(self) -> torch.Tensor:
        """``(M, B)`` mean accuracy over seeds."""
        return self.accuracy.mean(dim=2)

    def std(self) -> torch.Tensor:
        """``(M, B)`` standard deviation over seeds (0 with a single seed)."""
        if self.accuracy.shape[2] < 2:
            return torch.zeros(self.accuracy.shape[:2], dtype=self.accuracy.dtype)
        return self.accuracy.std(dim=2)

    def get(self, method: str, budget: int | None) -> torch.Tensor:
        """``(S,)`` accuracies of one method at one budget, one per seed."""
        check_choice("method", method, self.methods)
        if budget not in self.budgets:
            raise ValueError(f"budget must be one of {self.budgets}, got {budget!r}")
        return self.accuracy[self.methods.index(method), self.budgets.index(budget)]

    def format_table(self) -> str:
        """A text table: one row per budget, ``mean ± std`` test accuracy per method."""
        width = max(13, *(len(m) for m in self.methods))
        lines = ["labels/class  labels  " + "  ".join(f"{m:>{width}}" for m in self.methods)]
        mean, std = self.mean(), self.std()
        for b, budget in enumerate(self.budgets):
            cells = [
                f"{float(mean[m, b]):.3f} ± {float(std[m, b]):.3f}".rjust(width)
                for m in range(len(self.methods))
            ]
            lines.append(
                f"{'all' if budget is None else budget:>12}  {self.n_labels[b]:>6}  "
                + "  ".join(cells)
            )
        return "\n".join(lines)


def compare_label_budgets(
    autoencoder: Autoencoder,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    budgets: Sequence[int | None] = (1, 5, 10, 50, 100, None),
    seeds: Sequence[int] = (0, 1, 2),
    methods: Sequence[str] = METHODS,
    steps: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
) -> BudgetComparison:
    """Test accuracy of each method, label budget and seed (notebook 03).

    For each budget (labels per class; ``None`` = all of ``train``) and seed, one
    equal-per-class subset is drawn with ``torch.Generator().manual_seed(seed)`` and shared by
    every method, so the methods are compared on the same labels; each classifier's new
    weights come from the same seed. Every method gets the same optimizer, learning rate,
    batch size and number of steps: nothing is tuned per method (the linear probe's head
    trains on codes computed once by its frozen encoder, which gives the same result as
    running the encoder at every step). The autoencoder is never changed. torch's global
    random state is restored afterwards.
    """
    if not isinstance(autoencoder, Autoencoder):
        raise TypeError(f"autoencoder must be an Autoencoder, got {type(autoencoder).__name__}")
    x, y = _check_pair("train", train, autoencoder)
    x_test, y_test = _check_pair("test", test, autoencoder)
    for name, values in (("budgets", budgets), ("seeds", seeds), ("methods", methods)):
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise TypeError(f"{name} must be a list or tuple, got {type(values).__name__}")
        if not values:
            raise ValueError(f"{name} must hold at least one entry, got {values!r}")
    for i, m in enumerate(methods):
        check_choice(f"methods[{i}]", m, METHODS)
    for i, budget in enumerate(budgets):
        if budget is not None:
            check_positive_int(f"budgets[{i}]", budget)
    for i, seed in enumerate(seeds):
        check_nonneg_int(f"seeds[{i}]", seed)
    check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    check_number("lr", lr, low=0.0, low_open=True)
    n_classes = int(y.max()) + 1
    # The linear probe's frozen encoder gives an image the same code at every step, so the
    # codes are computed once and the probe's head trains on them: the same batches, the same
    # numbers as training the whole probe, without running the encoder 'steps' times.
    codes = None
    if "linear probe" in methods:
        with torch.no_grad():
            codes = autoencoder.encode(x)  # (N, latent_dim)
    result = torch.zeros(len(methods), len(budgets), len(seeds), dtype=torch.float64)
    n_labels = []
    for b, budget in enumerate(budgets):
        for s, seed in enumerate(seeds):
            if budget is None:
                idx = torch.arange(len(y))
            else:
                idx = balanced_subset(y, budget, torch.Generator().manual_seed(seed))
            for m, method in enumerate(methods):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    model = make_classifier(method, autoencoder, n_classes)
                    if method == "linear probe":
                        train_classifier(
                            model.head, codes[idx], y[idx], steps, batch_size, lr, seed
                        )
                    else:
                        train_classifier(model, x[idx], y[idx], steps, batch_size, lr, seed)
                result[m, b, s] = accuracy(model, x_test, y_test)
        n_labels.append(len(idx))
    return BudgetComparison(
        tuple(methods), tuple(budgets), tuple(seeds), tuple(n_labels), result, n_classes
    )


def plot_budget_comparison(result: BudgetComparison, ax: plt.Axes | None = None) -> Figure:
    """Test accuracy against labels per class (log x): mean line, ±1 std band over seeds."""
    if not isinstance(result, BudgetComparison):
        raise TypeError(f"result must be a BudgetComparison, got {type(result).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.2))
    x = result.labels_per_class().numpy()
    mean, std = result.mean().numpy(), result.std().numpy()
    styles = {"scratch": "o-", "linear probe": "s-", "fine-tune": "^-", "pixels": "x--"}
    colors = plt.get_cmap("viridis")(torch.linspace(0.0, 0.85, len(result.methods)).numpy())
    for m, method in enumerate(result.methods):
        ax.plot(x, mean[m], styles[method], color=colors[m], label=method, ms=4)
        ax.fill_between(x, mean[m] - std[m], mean[m] + std[m], color=colors[m], alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_xticks(
        x, [str(b) if b is not None else f"all (~{v:.0f})" for b, v in zip(result.budgets, x)]
    )
    ax.minorticks_off()
    ax.set(
        xlabel="labels per class (log scale)",
        ylabel="test accuracy",
        title=f"mean ± std over {len(result.seeds)} seeds",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax.figure
