"""The checks of notebook 03 accept a correct answer and reject typical wrong ones with a hint."""

import pytest
import torch

from lecture_utils.checks.core import ExerciseError
from lecture_utils.checks.nb03 import check_balanced_subset, check_freeze

# --- Exercise 3.1: equal-per-class label subset ---------------------------------------------


def subset_correct(labels, per_class, generator):
    picked = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(picked)


def subset_shuffled_order(labels, per_class, generator):
    idx = subset_correct(labels, per_class, generator)
    return idx[torch.randperm(len(idx), generator=generator)]


def subset_first_n(labels, per_class, generator):  # x[:N] on class-sorted data
    return torch.arange(per_class * (int(labels.max()) + 1))


def subset_random_n(labels, per_class, generator):  # random, but not per class
    return torch.randperm(len(labels), generator=generator)[: per_class * (int(labels.max()) + 1)]


def subset_total_not_per_class(labels, per_class, generator):
    return (
        subset_correct(labels, 1, generator)[:per_class]
        if per_class <= 10
        else torch.randperm(len(labels), generator=generator)[:per_class]
    )


def subset_with_replacement(labels, per_class, generator):
    picked = []
    for c in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == c).flatten()
        picked.append(members[torch.randint(len(members), (per_class,), generator=generator)])
    return torch.cat(picked)


def subset_first_of_each_class(labels, per_class, generator):
    return torch.cat(
        [torch.nonzero(labels == c).flatten()[:per_class] for c in range(int(labels.max()) + 1)]
    )


def subset_ignores_generator(labels, per_class, generator):
    return subset_correct(labels, per_class, None)


def subset_mask(labels, per_class, generator):
    mask = torch.zeros(len(labels), dtype=torch.bool)
    mask[subset_correct(labels, per_class, generator)] = True
    return mask


def subset_float(labels, per_class, generator):
    return subset_correct(labels, per_class, generator).float()


def subset_unsolved(labels, per_class, generator):
    raise NotImplementedError("Exercise 3.1: an equal number of labels per class")


@pytest.mark.parametrize("fn", [subset_correct, subset_shuffled_order])
def test_balanced_subset_accepts_correct_answers(fn, capsys):
    check_balanced_subset(fn)
    assert "Exercise 3.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn,message",
    [
        (subset_first_n, "expected per_class=1 examples of every class"),
        (subset_random_n, "Pick within each class separately"),
        (subset_total_not_per_class, "labels *per class*"),
        (subset_with_replacement, "draw without replacement"),
        (subset_first_of_each_class, "picked in 100%"),
        (subset_ignores_generator, "seeded alike"),
        (subset_mask, "boolean mask"),
        (subset_float, "int64 indices"),
        (subset_unsolved, "not solved yet"),
    ],
    ids=[
        "first N",
        "random N",
        "total",
        "replacement",
        "first per class",
        "no generator",
        "mask",
        "float",
        "unsolved",
    ],
)
def test_balanced_subset_rejects_wrong_answers(fn, message):
    with pytest.raises(ExerciseError, match="Exercise 3.1") as err:
        check_balanced_subset(fn)
    assert message in str(err.value)


# --- Exercise 3.2: freezing parameters --------------------------------------------------------


def freeze_correct(module):
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def freeze_module_method(module):
    module.requires_grad_(False)


def freeze_nothing(module):
    return module


def freeze_eval(module):
    module.eval()
    return module


def freeze_weights_only(module):
    for name, p in module.named_parameters():
        if name.endswith("weight"):
            p.requires_grad_(False)
    return module


def freeze_first_layer(module):
    for p in next(m for m in module.modules() if isinstance(m, torch.nn.Linear)).parameters():
        p.requires_grad_(False)
    return module


def freeze_data_copies(module):
    for p in module.parameters():
        p.data.requires_grad = False  # sets the flag on a new tensor, not on p
    return module


def freeze_copy(module):
    import copy

    frozen = copy.deepcopy(module)
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


def freeze_global(module):
    torch.set_grad_enabled(False)
    return module


def freeze_and_reset(module):
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return freeze_correct(module)


def freeze_unsolved(module):
    raise NotImplementedError("Exercise 3.2: freezing the encoder")


@pytest.mark.parametrize("fn", [freeze_correct, freeze_module_method])
def test_freeze_accepts_correct_answers(fn, capsys):
    check_freeze(fn)
    assert "Exercise 3.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn,message",
    [
        (freeze_nothing, "weights changed during linear probing"),
        (freeze_eval, "module.eval() only switches"),
        (freeze_weights_only, "bias"),
        (freeze_first_layer, "Still trainable (requires_grad=True): encoder.1.2.weight"),
        (freeze_data_copies, "weights changed during linear probing"),
        (freeze_copy, "different object"),
        (freeze_global, "switched gradients off"),
        (freeze_and_reset, "changed the value"),
        (freeze_unsolved, "not solved yet"),
    ],
    ids=[
        "nothing",
        "eval",
        "weights only",
        "first layer",
        ".data",
        "copy",
        "global",
        "reset",
        "unsolved",
    ],
)
def test_freeze_rejects_wrong_answers(fn, message):
    try:
        with pytest.raises(ExerciseError, match="Exercise 3.2") as err:
            check_freeze(fn)
    finally:
        torch.set_grad_enabled(True)
    assert message in str(err.value)
    assert torch.is_grad_enabled()
