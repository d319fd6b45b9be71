import pytest

from lecture_utils.checks import ExerciseError
from lecture_utils.checks.nb01 import check_autoencoder_loss, check_pca_reconstruct

# --- Exercise 1.2: PCA reconstruction -----------------------------------------------------------


def pca_right(x, mean, components):
    return ((x - mean) @ components.T) @ components + mean


PCA_WRONG = {
    "no centring": (lambda x, m, c: (x @ c.T) @ c + m, "subtract the mean"),
    "mean not added back": (lambda x, m, c: ((x - m) @ c.T) @ c, "add the mean back"),
    "no mean at all": (lambda x, m, c: (x @ c.T) @ c, "never used the mean"),
    "codes, not images": (lambda x, m, c: (x - m) @ c.T, r"not the codes \(N, K\)"),
    "identity": (lambda x, m, c: x.clone(), "returned x unchanged"),
    "wrong sign": (lambda x, m, c: -pca_right(x, m, c), "values differ"),
    "stub": (lambda x, m, c: (_ for _ in ()).throw(NotImplementedError()), "not solved yet"),
}


def test_pca_reconstruct_accepts_the_projection(capsys):
    check_pca_reconstruct(pca_right)
    assert "✓ Exercise 1.2 passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", PCA_WRONG.values(), ids=PCA_WRONG.keys())
def test_pca_reconstruct_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_pca_reconstruct(wrong)


# --- Exercise 1.1: the autoencoder's loss --------------------------------------------------------


def loss_right(model, batch):
    x = batch[0]
    return ((model(x) - x) ** 2).mean()


def _uses_labels(model, batch):
    x, y = batch
    return ((model(x) - x) ** 2).mean() + 0.0 * y.float().mean() + y.float().mean() * 1e-3


LOSS_WRONG = {
    "sum": (lambda m, b: ((m(b[0]) - b[0]) ** 2).sum(), "80 times too large"),
    "sum over pixels": (
        lambda m, b: ((m(b[0]) - b[0]) ** 2).flatten(1).sum(1).mean(),
        "16 times too large",
    ),
    "per example": (lambda m, b: ((m(b[0]) - b[0]) ** 2).flatten(1).mean(1), "expected a scalar"),
    "rmse": (lambda m, b: ((m(b[0]) - b[0]) ** 2).mean().sqrt(), "square root"),
    "no square": (lambda m, b: (m(b[0]) - b[0]).mean(), "target of an autoencoder is its input"),
    "labels": (_uses_labels, "labels"),
    "detached": (lambda m, b: loss_right(m, b).detach(), "no gradient"),
    "float": (lambda m, b: loss_right(m, b).item(), "scalar torch.Tensor"),
    "stub": (lambda m, b: (_ for _ in ()).throw(NotImplementedError()), "not solved yet"),
}


def test_autoencoder_loss_accepts_the_mse(capsys):
    check_autoencoder_loss(loss_right)
    assert "✓ Exercise 1.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,message", LOSS_WRONG.values(), ids=LOSS_WRONG.keys())
def test_autoencoder_loss_explains_mistakes(wrong, message):
    with pytest.raises(ExerciseError, match=message):
        check_autoencoder_loss(wrong)


def test_gradient_is_checked_separately():
    def wrong_gradient(model, batch):
        x = batch[0]
        value = ((model(x) - x) ** 2).mean()
        return value.detach() + 0.5 * (value - value.detach())  # right value, half the gradient

    with pytest.raises(ExerciseError, match="gradient"):
        check_autoencoder_loss(wrong_gradient)
