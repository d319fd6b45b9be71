import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lecture_utils.plotting import show_image_rows  # noqa: E402


def test_show_image_rows_draws_one_labelled_row_each():
    a, b = torch.rand(12, 1, 28, 28), torch.rand(12, 784)
    fig = show_image_rows({"original": a, "L2": b}, n=5, title="t")
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["original", "L2"]
    shown = axes[0].images[0].get_array()
    assert shown.shape == (28, 5 * 29 - 1)  # five digits, one-pixel gaps
    np.testing.assert_allclose(shown[:, :28], a[0, 0].numpy())
    np.testing.assert_allclose(axes[1].images[0].get_array()[:, :28], b[0].reshape(28, 28).numpy())
    w, h = fig.get_size_inches()
    assert w <= 8.0 and h <= 8.0
    plt.close(fig)


@pytest.mark.parametrize(
    "rows,message",
    [
        ({}, "non-empty dict"),
        ({"a": torch.rand(3, 1, 28, 28), "b": torch.rand(2, 1, 28, 28)}, "same number and size"),
        ({"a": torch.rand(3, 3, 28, 28)}, "one channel"),
        ({"a": torch.full((2, 784), float("nan"))}, "NaN"),
    ],
)
def test_show_image_rows_rejects_bad_rows(rows, message):
    with pytest.raises(ValueError, match=message):
        show_image_rows(rows)
