import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lecture_utils.losses import l2_loss
from lecture_utils.models import Autoencoder
from lecture_utils.training import evaluate_loss, fit


def loaders(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=g) * (torch.arange(784).reshape(1, 1, 28, 28) % 2)
    return (
        DataLoader(TensorDataset(x), batch_size=64, shuffle=True, generator=g),
        DataLoader(TensorDataset(x[:64]), batch_size=64),
    )


def recon(model, batch):
    (x,) = batch
    loss = l2_loss(model(x), x, "per_example").mean()
    return {"loss": loss, "half": loss / 2}


def test_fit_lowers_the_loss_and_records_terms():
    torch.manual_seed(0)
    train, val = loaders()
    model = Autoencoder(4, (32,))
    start = evaluate_loss(model, recon, val)["loss"]
    hist = fit(model, recon, train, epochs=5, lr=3e-3, val_loader=val, quiet=True)
    assert set(hist) == {"loss", "half", "val_loss", "val_half"}
    assert len(hist["loss"]) == 5 and hist["val_loss"][-1] < 0.7 * start
    assert hist["half"][0] == pytest.approx(hist["loss"][0] / 2)


def test_fit_is_deterministic_under_a_seed():
    out = []
    for _ in range(2):
        torch.manual_seed(3)
        train, _ = loaders()
        out.append(fit(Autoencoder(2, (8,)), recon, train, epochs=2, quiet=True)["loss"])
    assert out[0] == out[1]


def test_keep_best_restores_best_epoch():
    torch.manual_seed(0)
    train, val = loaders()
    model = Autoencoder(4, (32,))
    lrs = iter([1e-3, 1e-3, 50.0])  # the last epoch explodes the weights

    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def set_lr(epoch):
        for group in opt.param_groups:
            group["lr"] = next(lrs)

    hist = fit(
        model,
        recon,
        train,
        epochs=3,
        optimizer=opt,
        val_loader=val,
        keep_best=True,
        on_epoch_start=set_lr,
        quiet=True,
    )
    assert evaluate_loss(model, recon, val)["loss"] == pytest.approx(min(hist["val_loss"]))


def test_fit_errors():
    train, _ = loaders()
    with pytest.raises(ValueError, match="scalar"):
        fit(
            Autoencoder(2), lambda m, b: l2_loss(m(b[0]), b[0], "per_example"), train, 1, quiet=True
        )
    with pytest.raises(ValueError, match="keep_best"):
        fit(Autoencoder(2), recon, train, 1, keep_best=True, quiet=True)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(
            Autoencoder(2),
            lambda m, b: torch.tensor(float("nan"), requires_grad=True),
            train,
            1,
            quiet=True,
        )


def test_fit_from_seed_repeats_itself_and_leaves_the_global_random_state_alone():
    from lecture_utils.training import fit_from_seed

    images = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))

    def loss_fn(m, batch):
        return ((m(batch[0].flatten(1)) - batch[0].flatten(1)) ** 2).mean()

    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    runs = [
        fit_from_seed(lambda: torch.nn.Linear(16, 16), images, loss_fn, 2, batch_size=8, seed=s)
        for s in (5, 5, 6)
    ]
    assert torch.equal(torch.random.get_rng_state(), before)
    (a, ha), (b, hb), (c, _) = runs
    assert torch.equal(a.weight, b.weight) and ha == hb and len(ha["loss"]) == 2
    assert not torch.equal(a.weight, c.weight)
