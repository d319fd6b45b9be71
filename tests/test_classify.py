import pytest
import torch
from torch import nn

from lecture_utils.classify import (
    METHODS,
    BudgetComparison,
    accuracy,
    balanced_subset,
    compare_label_budgets,
    fit_logistic_regression,
    make_classifier,
    plot_budget_comparison,
    reinitialised,
    train_classifier,
)
from lecture_utils.models import Autoencoder, EncoderClassifier


def toy_data(n_per_class=20, classes=3, seed=0):
    """Small images whose class is a bright block at a class-specific place (separable)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(n_per_class)  # grouped by class, like MNIST
    x = 0.1 * torch.rand(len(y), 1, 8, 8, generator=g)
    for c in range(classes):
        x[y == c, 0, 2 * c : 2 * c + 2, :] += 1.0
    return x, y


def small_autoencoder():
    return Autoencoder(4, (16,), input_shape=(1, 8, 8))


def test_balanced_subset_counts_each_class_once_per_slot():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2, 2, 0, 1])
    idx = balanced_subset(labels, 3, torch.Generator().manual_seed(0))
    assert idx.dtype == torch.int64 and idx.shape == (9,)
    assert len(set(idx.tolist())) == 9
    assert torch.bincount(labels[idx]).tolist() == [3, 3, 3]
    # reproducible with a seeded generator, different with another seed (for some seed)
    again = balanced_subset(labels, 3, torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)
    others = {
        tuple(balanced_subset(labels, 1, torch.Generator().manual_seed(s)).tolist())
        for s in range(20)
    }
    assert len(others) > 1


def test_balanced_subset_is_uniform_within_a_class():
    # brute force: each of the 4 members of a class is picked with probability 1/4
    labels = torch.arange(8) % 2
    hits = torch.zeros(8)
    for s in range(400):
        hits[balanced_subset(labels, 1, torch.Generator().manual_seed(s))] += 1
    assert torch.all((hits / 400 - 0.25).abs() < 0.08), hits


def test_balanced_subset_rejects_bad_input():
    labels = torch.tensor([0, 0, 1])
    with pytest.raises(ValueError, match="class 1 has only 1"):
        balanced_subset(labels, 2)
    with pytest.raises(TypeError, match="int64"):
        balanced_subset(labels.float(), 1)
    with pytest.raises(ValueError, match="shape"):
        balanced_subset(labels.reshape(1, 3), 1)
    with pytest.raises(ValueError, match="per_class"):
        balanced_subset(labels, 0)
    with pytest.raises(ValueError, match=">= 0"):
        balanced_subset(torch.tensor([-1, 0]), 1)


def test_accuracy_matches_a_loop():
    x, y = toy_data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    expected = sum(int(model(x[i : i + 1]).argmax()) == int(y[i]) for i in range(len(y))) / len(y)
    assert accuracy(model, x, y, batch_size=7) == pytest.approx(expected)
    with pytest.raises(ValueError, match="labels must have shape"):
        accuracy(model, x, y[:-1])


def test_train_classifier_takes_exactly_the_given_steps():
    x, y = toy_data()
    calls = []
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    model.register_forward_hook(lambda m, inp, out: calls.append(len(inp[0])))
    train_classifier(model, x, y, steps=7, batch_size=16)
    assert calls == [16] * 7
    calls.clear()
    train_classifier(model, x, y, steps=3, batch_size=1000)  # full batch
    assert calls == [60] * 3


@pytest.mark.slow
def test_train_classifier_learns_a_separable_problem_and_is_deterministic():
    x, y = toy_data()
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
        history = train_classifier(model, x, y, steps=60, batch_size=32, lr=1e-2, seed=3)
        results.append(model[1].weight.detach().clone())
    assert accuracy(model, x, y) == 1.0 and history["loss"][0] > 0
    assert torch.equal(results[0], results[1])


def test_train_classifier_keeps_frozen_weights_and_needs_something_to_train():
    x, y = toy_data()
    clf = EncoderClassifier.from_autoencoder(small_autoencoder(), 3, freeze_encoder=True)
    before = [p.clone() for p in clf.encoder.parameters()]
    head_before = clf.head.weight.detach().clone()
    train_classifier(clf, x, y, steps=5, lr=1e-2)
    assert all(torch.equal(a, b) for a, b in zip(before, clf.encoder.parameters()))
    assert not torch.equal(head_before, clf.head.weight)
    for p in clf.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        train_classifier(clf, x, y, steps=1)


def test_reinitialised_keeps_architecture_and_changes_weights():
    ae = small_autoencoder()
    fresh = reinitialised(ae)
    shapes = [p.shape for p in ae.parameters()]
    assert [p.shape for p in fresh.parameters()] == shapes
    assert not any(
        torch.equal(a, b) for a, b in zip(ae.parameters(), fresh.parameters()) if a.ndim == 2
    )


def test_make_classifier_methods():
    ae = small_autoencoder()
    x, _ = toy_data()
    probe = make_classifier("linear probe", ae, 3)
    tune = make_classifier("fine-tune", ae, 3)
    scratch = make_classifier("scratch", ae, 3)
    pixels = make_classifier("pixels", ae, 3)
    assert probe.encoder_frozen and not tune.encoder_frozen and not scratch.encoder_frozen
    torch.testing.assert_close(probe.features(x), ae.encode(x))  # pretrained weights
    torch.testing.assert_close(tune.features(x), ae.encode(x))
    assert not torch.allclose(scratch.features(x), ae.encode(x))  # fresh weights
    assert sum(p.numel() for p in pixels.parameters()) == 64 * 3 + 3
    for model in (probe, tune, scratch, pixels):
        assert model(x).shape == (len(x), 3)
    with pytest.raises(ValueError, match="method"):
        make_classifier("probe", ae)
    with pytest.raises(TypeError, match="Autoencoder"):
        make_classifier("scratch", nn.Linear(2, 2))


@pytest.mark.slow
def test_compare_label_budgets_table_is_deterministic_and_leaves_the_autoencoder():
    x, y = toy_data(n_per_class=30)
    x_test, y_test = toy_data(n_per_class=10, seed=1)
    ae = small_autoencoder()
    weights = [p.clone() for p in ae.parameters()]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    kwargs = dict(budgets=(1, 5, None), seeds=(0, 1), steps=20, batch_size=16, lr=1e-2)
    first = compare_label_budgets(ae, (x, y), (x_test, y_test), **kwargs)
    assert torch.equal(state, torch.get_rng_state())  # global random state restored
    second = compare_label_budgets(ae, (x, y), (x_test, y_test), **kwargs)
    assert torch.equal(first.accuracy, second.accuracy)
    assert all(torch.equal(a, b) for a, b in zip(weights, ae.parameters()))
    assert first.accuracy.shape == (4, 3, 2) and first.methods == METHODS
    assert first.n_labels == (3, 15, 90)
    torch.testing.assert_close(
        first.labels_per_class(), torch.tensor([1.0, 5.0, 30.0], dtype=torch.float64)
    )
    assert float(first.accuracy.min()) >= 0 and float(first.accuracy.max()) <= 1
    torch.testing.assert_close(first.mean()[2, 1], first.accuracy[2, 1].mean())
    torch.testing.assert_close(first.get("fine-tune", 5), first.accuracy[2, 1])
    # with all labels the separable toy problem is solved by every method that trains the
    # features (the probe's random, untrained 4-d code need not separate it)
    assert torch.all(first.accuracy[[0, 2, 3], 2] > 0.9)
    table = first.format_table().splitlines()
    assert len(table) == 4 and "linear probe" in table[0] and table[3].strip().startswith("all")
    with pytest.raises(ValueError, match="budget"):
        first.get("scratch", 7)
    with pytest.raises(ValueError, match="method"):
        compare_label_budgets(ae, (x, y), (x_test, y_test), methods=("magic",))


def test_budget_comparison_std_and_plot():
    acc = torch.tensor([[[0.5, 0.7], [0.8, 0.8]]], dtype=torch.float64)
    result = BudgetComparison(("scratch",), (1, None), (0, 1), (10, 100), acc)
    torch.testing.assert_close(
        result.std(), torch.tensor([[2**0.5 * 0.1, 0.0]], dtype=torch.float64)
    )
    single = BudgetComparison(("scratch",), (1,), (0,), (10,), acc[:, :1, :1])
    assert torch.equal(single.std(), torch.zeros(1, 1, dtype=torch.float64))
    fig = plot_budget_comparison(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "all (~10)"]
    with pytest.raises(TypeError, match="BudgetComparison"):
        plot_budget_comparison(acc)


def newton_logistic_regression(x, y, n_classes, weight_decay, steps=30):
    """Independent reference: Newton's method in float64 with the exact Hessian from autograd."""
    x = x.double()
    k = x.shape[1]

    def objective(theta):
        w, b = theta[: n_classes * k].reshape(n_classes, k), theta[n_classes * k :]
        return torch.nn.functional.cross_entropy(x @ w.T + b, y) + 0.5 * weight_decay * (w**2).sum()

    theta = torch.zeros(n_classes * (k + 1), dtype=torch.float64)
    for _ in range(steps):
        grad = torch.autograd.functional.jacobian(objective, theta)
        hess = torch.autograd.functional.hessian(objective, theta)
        # the softmax is invariant to a shift of all logits: the Hessian is singular along
        # the bias direction (1, ..., 1); the pseudo-inverse takes the minimum-norm step
        theta = theta - torch.linalg.pinv(hess) @ grad
    return theta[: n_classes * k].reshape(n_classes, k), theta[n_classes * k :], objective(theta)


def overlapping_data(n=300, k=3, classes=3, seed=0):
    """Gaussian blobs that overlap (not separable), with an offset far from the origin."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centres = torch.randn(classes, k, generator=g)
    return 5.0 + centres[y] + torch.randn(n, k, generator=g), y


@pytest.mark.slow
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_fit_logistic_regression_matches_newtons_method(weight_decay):
    x, y = overlapping_data()
    state = torch.get_rng_state()
    fit = fit_logistic_regression(x, y, weight_decay=weight_decay, tolerance=1e-4)
    assert torch.equal(state, torch.get_rng_state())  # global random state untouched
    w_ref, b_ref, loss_ref = newton_logistic_regression(x, y, 3, weight_decay)
    assert fit.converged and fit.grad_max <= 1e-4 and fit.iterations > 0
    assert fit.loss == pytest.approx(float(loss_ref), abs=1e-6)
    # logits are unique up to a common shift per example: compare centred logits
    logits = fit.head(x).double()
    logits_ref = x.double() @ w_ref.T + b_ref
    torch.testing.assert_close(
        logits - logits.mean(1, keepdim=True),
        logits_ref - logits_ref.mean(1, keepdim=True),
        atol=2e-3,
        rtol=0,
    )
    if weight_decay:  # the penalty makes W unique
        torch.testing.assert_close(fit.head.weight.double(), w_ref, atol=2e-3, rtol=0)


def test_fit_logistic_regression_reports_an_unfinished_fit_and_checks_input():
    x, y = overlapping_data()
    short = fit_logistic_regression(x, y, max_iter=2)
    assert short.iterations <= 2 and not short.converged and short.grad_max > 1e-4
    fit = fit_logistic_regression(x, y, n_classes=5)  # two classes never seen
    assert fit.head.weight.shape == (5, 3) and fit.head(x).argmax(1).max() < 3
    assert accuracy(fit.head, x, y) > 0.5
    with pytest.raises(ValueError, match="dimensions"):
        fit_logistic_regression(x.reshape(300, 1, 3), y)
    with pytest.raises(ValueError, match="weight_decay"):
        fit_logistic_regression(x, y, weight_decay=-1.0)
    with pytest.raises(ValueError, match="tolerance"):
        fit_logistic_regression(x, y, tolerance=0.0)
    with pytest.raises(TypeError, match="int64"):
        fit_logistic_regression(x, y.float())


@pytest.mark.parametrize("training", [True, False])
def test_accuracy_restores_the_models_mode(training):
    x, y = toy_data()
    model = make_classifier("pixels", Autoencoder(2, (8,), input_shape=(1, 8, 8)), 3)
    model.train(training)
    accuracy(model, x, y)
    assert model.training is training
    # also after an error inside the loop
    with pytest.raises(ValueError, match="labels go up to 5"):
        accuracy(model, x, torch.where(y == 2, 5, y))
    assert model.training is training


def test_accuracy_rejects_empty_and_mismatched_input():
    x, y = toy_data()
    model = make_classifier("pixels", Autoencoder(2, (8,), input_shape=(1, 8, 8)), 3)
    with pytest.raises(ValueError, match="images is empty"):
        accuracy(model, x[:0], y[:0])
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        accuracy(lambda x: x, x, y)
    with pytest.raises(ValueError, match=r"model must map 60 images to logits \(60, n_classes\)"):
        accuracy(nn.Flatten(0), x, y)


def test_train_classifier_and_compare_validate_their_arguments():
    x, y = toy_data()
    ae = Autoencoder(2, (8,), input_shape=(1, 8, 8))
    model = make_classifier("pixels", ae, 3)
    with pytest.raises(ValueError, match="lr must be > 0, got -1"):
        train_classifier(model, x, y, lr=-1)
    with pytest.raises(TypeError, match="steps must be an int, got bool"):
        train_classifier(model, x, y, steps=True)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        train_classifier("model", x, y)
    with pytest.raises(TypeError, match=r"train must be a pair \(images, labels\)"):
        compare_label_budgets(ae, x, (x, y))
    with pytest.raises(ValueError, match=r"methods\[0\] must be one of"):
        compare_label_budgets(ae, (x, y), (x, y), methods=("probe",))
    with pytest.raises(ValueError, match=r"budgets\[1\] must be >= 1, got -5"):
        compare_label_budgets(ae, (x, y), (x, y), budgets=(1, -5))
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        balanced_subset(y, 1, generator=0)


def test_compare_label_budgets_probe_equals_training_the_whole_probe():
    # the comparison trains the probe's head on codes computed once; training the whole
    # probe (frozen encoder run at every step) must give the same accuracies
    x, y = toy_data(n_per_class=30)
    x_test, y_test = toy_data(n_per_class=10, seed=1)
    torch.manual_seed(0)
    ae = small_autoencoder()
    budgets, seeds, steps, batch_size, lr = (1, 5, None), (0, 1), 30, 16, 1e-2
    result = compare_label_budgets(
        ae, (x, y), (x_test, y_test), budgets=budgets, seeds=seeds,
        methods=("linear probe",), steps=steps, batch_size=batch_size, lr=lr,
    )  # fmt: skip
    for b, budget in enumerate(budgets):
        for s, seed in enumerate(seeds):
            if budget is None:
                idx = torch.arange(len(y))
            else:
                idx = balanced_subset(y, budget, torch.Generator().manual_seed(seed))
            torch.manual_seed(seed)
            probe = make_classifier("linear probe", ae, 3)
            train_classifier(probe, x[idx], y[idx], steps, batch_size, lr, seed)
            assert float(result.accuracy[0, b, s]) == accuracy(probe, x_test, y_test)
            # and the head itself: trained on the codes, it ends bit for bit the same
            torch.manual_seed(seed)
            shortcut = make_classifier("linear probe", ae, 3)
            with torch.no_grad():
                codes = ae.encode(x[idx])
            train_classifier(shortcut.head, codes, y[idx], steps, batch_size, lr, seed)
            for p_full, p_cut in zip(probe.head.parameters(), shortcut.head.parameters()):
                assert torch.equal(p_full, p_cut)
