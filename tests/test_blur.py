import pytest
import torch

from lecture_utils.blur import (
    expected_loss,
    minimise_expected_loss,
    shifted_strokes,
    weighted_median,
)
from lecture_utils.losses import reconstruction_loss


def test_shifted_strokes_draws_one_bar_per_column():
    s = shifted_strokes([3, 10], size=16, width=2, rows=(4, 12))
    assert s.shape == (2, 1, 16, 16) and s.dtype == torch.float32
    assert set(s.unique().tolist()) == {0.0, 1.0}
    assert s.sum(dim=(1, 2, 3)).tolist() == [16.0, 16.0]  # 8 rows x 2 columns
    assert s[0, 0, 4:12, 3:5].min() == 1 and s[1, 0, 4:12, 10:12].min() == 1
    assert s[0, 0, :, 10:12].sum() == 0  # no overlap here


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"columns": []}, "non-empty sequence"),
        ({"columns": "12"}, "non-empty sequence"),
        ({"columns": [27]}, r"in \[0, 26\]"),
        ({"columns": [2.5]}, "must be an int"),
        ({"columns": [3], "rows": (10, 5)}, "top < bottom"),
        ({"columns": [3], "width": 0}, "width must be >= 1"),
    ],
)
def test_shifted_strokes_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        shifted_strokes(**kwargs)


def test_expected_loss_weights_the_targets():
    targets = torch.rand(3, 1, 4, 4)
    x_hat = torch.rand(1, 4, 4)
    w = torch.tensor([0.5, 0.3, 0.2])
    direct = sum(
        float(wk) * float(reconstruction_loss(x_hat[None], t[None], "l2"))
        for wk, t in zip(w, targets)
    )
    assert float(expected_loss(x_hat, targets, w, "l2")) == pytest.approx(direct, rel=1e-6)
    assert float(expected_loss(x_hat[None], targets)) == pytest.approx(
        float(reconstruction_loss(x_hat[None].expand_as(targets), targets).mean()), rel=1e-6
    )
    with pytest.raises(ValueError, match="sum to 1"):
        expected_loss(x_hat, targets, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="weights must have shape"):
        expected_loss(x_hat, targets, [0.5, 0.5])
    with pytest.raises(ValueError, match="one image shaped like"):
        expected_loss(targets[:2], targets)


@pytest.mark.parametrize("kind", ["l2", "bce"])
def test_mean_minimises_l2_and_cross_entropy(kind):
    targets = shifted_strokes([4, 7, 9], size=14, rows=(2, 12))
    w = torch.tensor([0.5, 0.3, 0.2])
    best = minimise_expected_loss(targets, w, kind)
    mean = (w[:, None, None, None] * targets).sum(dim=0)
    torch.testing.assert_close(best, mean, atol=2e-3, rtol=0)


def test_median_minimises_l1():
    targets = shifted_strokes([2, 6, 10], size=14, rows=(2, 12))
    w = [0.2, 0.6, 0.2]
    best = minimise_expected_loss(targets, w, "l1")
    torch.testing.assert_close(best, weighted_median(targets, w), atol=2e-3, rtol=0)
    torch.testing.assert_close(best, targets[1], atol=2e-3, rtol=0)  # the most likely stroke


def test_weighted_median_against_sorting_by_hand():
    values = torch.tensor([[3.0, 1.0], [1.0, 5.0], [2.0, 4.0]])  # (N=3, 2)
    torch.testing.assert_close(weighted_median(values), torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(weighted_median(values, [0.6, 0.2, 0.2]), torch.tensor([3.0, 1.0]))
    torch.testing.assert_close(weighted_median(values, [0.1, 0.1, 0.8]), torch.tensor([2.0, 4.0]))
    data = torch.randn(101, 7)
    torch.testing.assert_close(weighted_median(data), data.median(dim=0).values)
