import io
import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lecture_utils.losses import l2_loss
from lecture_utils.models import Autoencoder
from lecture_utils.training import Callback, EpochTimer, TimeBudget, evaluate_loss, fit


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


class SetLR(Callback):
    """Sets the learning rate of each epoch from a list (a test callback)."""

    def __init__(self, optimizer, lrs):
        self.optimizer, self.lrs = optimizer, lrs

    def on_epoch_start(self, epoch):
        for group in self.optimizer.param_groups:
            group["lr"] = self.lrs[epoch]


def test_keep_best_restores_best_epoch():
    torch.manual_seed(0)
    train, val = loaders()
    model = Autoencoder(4, (32,))
    opt = torch.optim.Adam(model.parameters())
    hist = fit(
        model,
        recon,
        train,
        epochs=3,
        optimizer=opt,
        val_loader=val,
        keep_best=True,
        callbacks=[SetLR(opt, [3e-3, 3e-3, 3.0])],  # the last epoch wrecks the weights
        quiet=True,
    )
    assert hist["val_loss"][-1] > min(hist["val_loss"]), "premise: the last epoch is worse"
    assert evaluate_loss(model, recon, val)["loss"] == pytest.approx(min(hist["val_loss"]))


def test_scheduler_sets_each_epochs_rate_and_is_recorded():
    torch.manual_seed(0)
    train, _ = loaders()
    model = Autoencoder(2, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rates = []

    class Spy(Callback):
        def on_epoch_start(self, epoch):
            rates.append(opt.param_groups[0]["lr"])

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5**e)
    hist = fit(model, recon, train, 3, optimizer=opt, scheduler=schedule, callbacks=[Spy()])
    assert rates == hist["lr"] == [0.1, 0.05, 0.025]
    assert opt.param_groups[0]["lr"] == 0.0125, "stepped once after each epoch"


def test_callbacks_run_in_order_around_each_epoch():
    train, val = loaders()
    calls = []

    class Log(Callback):
        def __init__(self, tag):
            self.tag = tag

        def on_epoch_start(self, epoch):
            calls.append((self.tag, "start", epoch))

        def on_train_pass_end(self, epoch):
            calls.append((self.tag, "trained", epoch, len(hist_seen)))

        def on_epoch_end(self, epoch, history):
            hist_seen.append(len(history["val_loss"]))
            calls.append((self.tag, "end", epoch, len(history["val_loss"])))

    hist_seen = []
    timer = EpochTimer(len(train))
    hist = fit(Autoencoder(2, (8,)), recon, train, 2, val_loader=val, quiet=True,
               callbacks=[Log("a"), Log("b"), timer])  # fmt: skip
    assert calls == [
        ("a", "start", 0),
        ("b", "start", 0),
        ("a", "trained", 0, 0),  # before the validation of epoch 0
        ("b", "trained", 0, 0),
        ("a", "end", 0, 1),
        ("b", "end", 0, 1),
        ("a", "start", 1),
        ("b", "start", 1),
        ("a", "trained", 1, 2),
        ("b", "trained", 1, 2),
        ("a", "end", 1, 2),
        ("b", "end", 1, 2),
    ]
    assert hist["steps"] == [len(train), 2 * len(train)]
    assert 0 <= hist["seconds"][0] <= hist["seconds"][1] and len(hist["cpu_seconds"]) == 2


def test_a_callback_that_sets_stop_ends_training_after_that_epoch():
    train, val = loaders()

    class StopAfter(Callback):
        def on_epoch_end(self, epoch, history):
            self.stop = epoch == 1

    ended = []

    class End(Callback):
        def on_train_end(self, history):
            ended.append(len(history["loss"]))

    model = Autoencoder(2, (8,))
    hist = fit(model, recon, train, 5, val_loader=val, keep_best=True, quiet=True,
               callbacks=[StopAfter(), End()])  # fmt: skip
    assert len(hist["loss"]) == len(hist["val_loss"]) == 2 and ended == [2]
    assert not model.training


def test_time_budget_stops_at_the_epoch_nearest_the_budget(monkeypatch):
    import lecture_utils.training as training

    clock = iter([0.0, 10.0, 20.0, 30.0, 40.0])  # the start, then the end of each epoch
    monkeypatch.setattr(training.time, "perf_counter", lambda: next(clock))
    budget, history = TimeBudget(34.0), {}
    stops = []
    for epoch in range(4):
        budget.on_epoch_start(epoch)
        budget.on_epoch_end(epoch, history)
        stops.append(budget.stop)
    # after 30 s, half an epoch more (5 s) passes 34 s: 30 s is nearer 34 than 40 s is
    assert stops == [False, False, True, True]
    cpu = iter([5.0, 6.0, 30.0])  # processor seconds: 1 s in the first epoch, then 25 s
    monkeypatch.setattr(training.time, "process_time", lambda: next(cpu))
    by_cpu = TimeBudget(20.0, cpu=True)
    for epoch in range(2):
        by_cpu.on_epoch_start(epoch)
        by_cpu.on_epoch_end(epoch, history)
        assert by_cpu.stop == (epoch == 1)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        TimeBudget(0)
    with pytest.raises(TypeError, match="cpu must be True or False"):
        TimeBudget(1.0, cpu="yes")
    with pytest.raises(TypeError, match="seconds must be a number"):
        TimeBudget("30")


def test_evaluate_loss_weights_batches_by_their_size():
    x = torch.arange(10.0).reshape(10, 1)
    loader = DataLoader(TensorDataset(x), batch_size=4)  # batches of 4, 4 and 2

    def mean_value(model, batch):
        return {"loss": batch[0].mean(), "square": (batch[0] ** 2).mean()}

    out = evaluate_loss(torch.nn.Identity(), mean_value, loader)
    assert out["loss"] == pytest.approx(4.5) and out["square"] == pytest.approx(28.5)
    with pytest.raises(ValueError, match="no batches"):
        evaluate_loss(torch.nn.Identity(), mean_value, DataLoader(TensorDataset(x[:0])))


def test_fit_errors():
    train, _ = loaders()
    with pytest.raises(ValueError, match="scalar"):
        fit(
            Autoencoder(2), lambda m, b: l2_loss(m(b[0]), b[0], "per_example"), train, 1, quiet=True
        )
    with pytest.raises(ValueError, match="keep_best"):
        fit(Autoencoder(2), recon, train, 1, keep_best=True, quiet=True)
    for lr, error in (
        (-1, ValueError),
        (0.0, ValueError),
        (float("nan"), ValueError),
        ("1", TypeError),
    ):
        with pytest.raises(error, match="lr must be"):
            fit(Autoencoder(2), recon, train, 1, lr=lr, quiet=True)
    with pytest.raises(TypeError, match=r"callbacks\[0\] must be a training.Callback"):
        fit(Autoencoder(2), recon, train, 1, callbacks=[print], quiet=True)
    model = Autoencoder(2)
    schedule = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(model.parameters()), lambda e: 1)
    with pytest.raises(ValueError, match="scheduler needs the optimizer"):
        fit(model, recon, train, 1, scheduler=schedule, quiet=True)
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


# ----------------------------------------------------------------------------- progress
class FakeHandle:
    """Stands in for IPython's DisplayHandle: records every state the display is given."""

    def __init__(self, states):
        self.states = states

    def update(self, bundle, raw=False):
        assert raw
        self.states.append(bundle)


@pytest.fixture()
def fake_notebook(monkeypatch):
    """Pretend to run in a Jupyter kernel; returns the list of the display's states in order."""
    from IPython import display as ipython_display

    import lecture_utils.training as training

    states = []

    def fake_display(bundle, raw=False, display_id=None):
        assert raw and display_id is True
        states.append(bundle)
        return FakeHandle(states)

    monkeypatch.setattr(training, "in_notebook", lambda: True)
    monkeypatch.setattr(ipython_display, "display", fake_display)
    return states


def test_progress_in_a_notebook_starts_and_ends_empty(fake_notebook):
    from lecture_utils.training import Progress

    torch.manual_seed(0)
    train, _ = loaders()
    hist = fit(Autoencoder(2, (8,)), recon, train, 3, callbacks=[Progress(3, label="ae")])
    states = fake_notebook
    # first state empty (what nbval compares), last state empty (what a notebook stores)
    assert states[0] == {} and states[-1] == {}
    shown = [s["text/plain"] for s in states[1:-1]]
    assert len(shown) == 4 and shown[0].startswith("ae  ") and "0/3 epochs" in shown[0]
    for k, text in enumerate(shown[1:], start=1):
        assert f" {k}/3 epochs · loss {hist['loss'][k - 1]:.4g} · " in text
        assert text.endswith("left")
    assert shown[-1].count("█") == 20 and "about 0 s left" in shown[-1]


def test_fit_adds_its_own_progress_unless_quiet_or_given_one(fake_notebook):
    from lecture_utils.training import Progress

    train, _ = loaders()
    fit(Autoencoder(2, (8,)), recon, train, 2, quiet=True)
    assert fake_notebook == []
    fit(Autoencoder(2, (8,)), recon, train, 2)
    assert len(fake_notebook) == 5 and "training  " in fake_notebook[1]["text/plain"]
    fake_notebook.clear()
    fit(Autoencoder(2, (8,)), recon, train, 2, callbacks=[Progress(2, label="mine")])
    assert [s["text/plain"].split()[0] for s in fake_notebook[1:-1]] == ["mine"] * 3


def test_progress_is_emptied_when_training_fails(fake_notebook):
    from lecture_utils.training import Progress

    train, _ = loaders()

    def nan_after_first_epoch(model, batch):
        out = recon(model, batch)
        return out if len(fake_notebook) < 3 else {"loss": out["loss"] * math.nan}

    with pytest.raises(FloatingPointError):
        fit(Autoencoder(2, (8,)), nan_after_first_epoch, train, 3, callbacks=[Progress(3)])
    assert fake_notebook[-1] == {}


def test_progress_outside_a_notebook_prints_nothing_unless_given_a_stream(capsys):
    from lecture_utils.training import Progress, fit_from_seed, in_notebook

    assert not in_notebook()
    train, _ = loaders()
    fit(Autoencoder(2, (8,)), recon, train, 2)
    images = torch.rand(40, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    fit_from_seed(
        lambda: torch.nn.Linear(16, 16), images, lambda m, b: m(b[0].flatten(1)).pow(2).mean(), 2
    )
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""

    stream = io.StringIO()
    bar = Progress(2, label="tiny", to=stream)
    fit(Autoencoder(2, (8,)), recon, train, 2, callbacks=[bar])
    assert "tiny" in stream.getvalue() and "2/2" in stream.getvalue()
    assert [line.split()[2] for line in bar.lines] == ["0/2", "1/2", "2/2"]
    assert capsys.readouterr().out == ""


def test_progress_line_and_bad_arguments():
    from lecture_utils.training import Progress

    p = Progress(4, label="m")
    assert p.line(0, None, 0.0) == "m  " + "░" * 20 + "  0/4 epochs"
    assert p.line(1, 2.5, 90.0) == (
        "m  █████" + "░" * 15 + "  1/4 epochs · loss 2.5 · 1 min 30 s, about 4 min 30 s left"
    )
    with pytest.raises(ValueError, match="epochs"):
        Progress(0)
    with pytest.raises(ValueError, match="to must be 'auto', None or a text stream"):
        Progress(3, to="stderr")
    with pytest.raises(TypeError, match="to must be"):
        Progress(3, to=3)
    with pytest.raises(TypeError, match="label"):
        Progress(3, label=None)
    with pytest.raises(TypeError, match="quiet"):
        fit(Autoencoder(2), recon, loaders()[0], 1, quiet="yes")
