"""Feature sets compared by one linear classifier per label budget and seed (introduced
in 09_conditional_and_semi_supervised, with notebook 03's label budgets and probe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from lecture_utils._validate import (
    DATA_HINT,
    check_choice,
    check_nonneg_int,
    check_positive_int,
    check_tensor,
)
from lecture_utils.classify import (
    BudgetComparison,
    _check_labels,
    accuracy,
    balanced_subset,
    fit_logistic_regression,
    train_classifier,
)

PROBES = ("linear probe", "converged")


def compare_features(
    features_by_name: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    train_labels: torch.Tensor,
    test_labels: torch.Tensor,
    budgets: Sequence[int] = (10, 100),
    seeds: Sequence[int] = (0, 1, 2),
    probe: str = "linear probe",
) -> BudgetComparison:
    """Test accuracy of one linear classifier per feature set, label budget and seed (notebook 09).

    ``features_by_name[name] = (train_features (N, K), test_features (M, K))``, rows in the
    order of ``train_labels`` ``(N,)`` and ``test_labels`` ``(M,)``. For each budget (labels per
    class) and seed, the labelled digits are ``classify.balanced_subset(train_labels, budget,
    torch.Generator().manual_seed(seed))``, exactly as notebook 03 draws them, and every feature
    set gets the same digits. ``probe``:

    - ``"linear probe"``: notebook 03's: a linear head whose initial weights come from
      ``torch.manual_seed(seed)``, 150 Adam steps, batches of 64, learning rate 3e-3
      (on notebook 03's autoencoder codes this gives its table's "linear probe" column);
    - ``"converged"``: :func:`classify.fit_logistic_regression` (weight decay 1e-4), trained to
      convergence, so that no step count favours one feature set.

    Returns a :class:`classify.BudgetComparison` whose ``methods`` are the feature-set names.
    torch's global random state is restored afterwards.
    """
    if not isinstance(features_by_name, Mapping) or not features_by_name:
        raise TypeError(
            "features_by_name must be a non-empty dict {name: (train_features, test_features)}, "
            f"got {type(features_by_name).__name__}"
        )
    train_labels = _check_labels(train_labels)
    test_labels = _check_labels(test_labels)
    for name, pair in features_by_name.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"features_by_name[{name!r}] must be a pair (train, test) of features")
        for part, feats, labels in (
            ("train", pair[0], train_labels),
            ("test", pair[1], test_labels),
        ):
            check_tensor(
                f"features_by_name[{name!r}] {part} features", feats, ndim=2, hint=DATA_HINT
            )
            if len(feats) != len(labels):
                raise ValueError(
                    f"features_by_name[{name!r}] has {len(feats)} {part} rows but there are "
                    f"{len(labels)} {part} labels; pass one row per digit, in the labels' order"
                )
    for name, values in (("budgets", budgets), ("seeds", seeds)):
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise TypeError(f"{name} must be a non-empty list or tuple, got {values!r}")
    budgets = tuple(check_positive_int(f"budgets[{i}]", b) for i, b in enumerate(budgets))
    seeds = tuple(check_nonneg_int(f"seeds[{i}]", s) for i, s in enumerate(seeds))
    check_choice("probe", probe, PROBES)
    n_classes = int(train_labels.max()) + 1
    names = tuple(features_by_name)
    result = torch.zeros(len(names), len(budgets), len(seeds), dtype=torch.float64)
    for b, budget in enumerate(budgets):
        for s, seed in enumerate(seeds):
            idx = balanced_subset(train_labels, budget, torch.Generator().manual_seed(seed))
            for m, name in enumerate(names):
                train_x, test_x = features_by_name[name]
                if probe == "converged":
                    head = fit_logistic_regression(train_x[idx], train_labels[idx], n_classes).head
                else:
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed)
                        head = nn.Linear(train_x.shape[1], n_classes)
                        train_classifier(head, train_x[idx], train_labels[idx], 150, 64, 3e-3, seed)
                result[m, b, s] = accuracy(head, test_x, test_labels)
    n_labels = tuple(budget * n_classes for budget in budgets)
    return BudgetComparison(names, budgets, seeds, n_labels, result, n_classes)
