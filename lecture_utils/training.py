"""One plain training loop for every notebook (introduced in 01_autoencoder).

``fit`` runs ``epochs`` passes over a DataLoader with Adam (or your optimizer), calling
``loss_fn(model, batch)`` for each batch. ``loss_fn`` returns either a scalar loss or a dict
with a ``"loss"`` entry plus any other scalar terms to record (for example the ELBO's
reconstruction and KL terms). The history holds each term's per-example average per epoch.

Everything that changes from epoch to epoch is an explicit hook: the learning rate through a
torch scheduler (``scheduler=``, stepped once per epoch), anything else through
:class:`Callback` objects (``callbacks=``), for example notebook 06's KL warm-up
(``vae_training.KLWarmup``), :class:`EpochTimer` and :class:`Progress`.

**Progress.** While a model trains, :class:`Progress` shows how far it has got (epoch k of n,
the running loss, the time so far and the time left). In a Jupyter notebook that is one output
line updated in place, emptied when training ends, so a stored notebook keeps nothing of it;
outside a notebook (scripts, tests) nothing is shown unless a stream is given
(``Progress(..., to=sys.stderr)``, as ``make warm`` does).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TextIO

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from lecture_utils._validate import check_bool, check_number, check_positive_int
from lecture_utils.data import make_loaders

LossOutput = torch.Tensor | dict[str, torch.Tensor]
LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], LossOutput]
History = dict[str, list[float]]
#: where :class:`Progress` shows itself: ``"auto"`` (in a notebook only), a text stream, or None
ProgressTo = Literal["auto"] | TextIO | None


class Callback:
    """A hook into :func:`fit`: override any of its methods (they do nothing here).

    ``on_epoch_start(epoch)`` runs before epoch ``epoch`` (0-based) trains;
    ``on_train_pass_end(epoch)`` runs after its gradient steps, before its validation (notebook
    06's weight averaging puts the averaged weights in place there);
    ``on_epoch_end(epoch, history)`` runs after the validation, and may append
    entries to ``history`` (one value per epoch, like fit's own); ``on_train_end(history)``
    runs once when training stops, after the last epoch or on an error (``history`` then holds
    the epochs that finished). A callback that sets ``stop = True`` ends training after the
    current epoch (see :class:`TimeBudget`).
    """

    #: set to True (in ``on_epoch_end``) to end training after the current epoch
    stop: bool = False

    def on_epoch_start(self, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based)."""

    def on_train_pass_end(self, epoch: int) -> None:
        """Called after epoch ``epoch``'s gradient steps, before its validation."""

    def on_epoch_end(self, epoch: int, history: History) -> None:
        """Called after epoch ``epoch`` and its validation."""

    def on_train_end(self, history: History) -> None:
        """Called once when training stops (finished or interrupted)."""


class EpochTimer(Callback):
    """Record the cost of training so far after every epoch: ``steps`` (gradient steps, with
    ``steps_per_epoch`` batches per epoch), ``seconds`` (wall clock) and ``cpu_seconds``
    (processor time of this process, all threads), counted from the start of the first epoch."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
        self.start: tuple[float, float] | None = None

    def on_epoch_start(self, epoch: int) -> None:
        if self.start is None:
            self.start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch: int, history: History) -> None:
        assert self.start is not None, "on_epoch_start runs first"
        history.setdefault("steps", []).append((epoch + 1) * self.steps_per_epoch)
        history.setdefault("seconds", []).append(time.perf_counter() - self.start[0])
        history.setdefault("cpu_seconds", []).append(time.process_time() - self.start[1])


class TimeBudget(Callback):
    """Stop training once ``seconds`` have passed, at the end of the epoch that comes closest
    (an epoch is not cut short): training stops after an epoch when the time so far plus half
    an average epoch reaches the budget. ``scripts/bench_vae.py`` trains the reference VAE for
    as long as the course's recipe took this way.

    ``cpu=False`` counts wall-clock seconds; ``cpu=True`` this process's processor seconds
    (all threads), which other programs on a shared machine change far less.
    """

    def __init__(self, seconds: float, cpu: bool = False) -> None:
        self.seconds = check_number("seconds", seconds, low=0.0, low_open=True)
        self.clock = time.process_time if check_bool("cpu", cpu) else time.perf_counter
        self.start: float | None = None

    def on_epoch_start(self, epoch: int) -> None:
        if self.start is None:
            self.start = self.clock()

    def on_epoch_end(self, epoch: int, history: History) -> None:
        assert self.start is not None, "on_epoch_start runs first"
        elapsed = self.clock() - self.start
        self.stop = elapsed + 0.5 * elapsed / (epoch + 1) >= self.seconds


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, voila, nbclient, nbval), where
    outputs can be updated in place; False in plain Python and in a terminal IPython."""
    ipython = sys.modules.get("IPython")  # a kernel has always imported it; no import otherwise
    if ipython is None:
        return False
    return getattr(ipython.get_ipython(), "kernel", None) is not None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


class Progress(Callback):
    """Show how far training has got, after every epoch (introduced in 01_autoencoder; the
    cached trainers of notebooks 06 and 07 and :func:`fit_from_seed` use it).

    The line reads, for example,
    ``nb06-vae20  ███████░░░░░░░░░░░░░  9/26 epochs · loss 104.2 · 8 s, about 15 s left``.

    Args:
        epochs: the number of epochs the training runs.
        label: names the model at the start of the line.
        to: where to show it. ``"auto"``: in a Jupyter notebook, one output line updated in
            place (``IPython.display`` with a ``display_id``), nothing elsewhere. A text stream
            (``sys.stderr``): a ``tqdm`` bar on it, removed at the end. ``None``: nothing.
        term: the history entry shown as the running loss (the training loss by default).

    In a notebook the output starts empty and is emptied again when training ends: the stored
    notebook keeps one output with no data, which nbval does not compare, so nothing of the
    progress (times, intermediate losses) is stored, and a cell reads the same whether its
    model was trained or loaded from the cache. A model loaded from the cache shows no progress.
    """

    def __init__(
        self, epochs: int, label: str = "training", to: ProgressTo = "auto", term: str = "loss"
    ) -> None:
        self.epochs = check_positive_int("epochs", epochs)
        if not isinstance(label, str):
            raise TypeError(f"label must be a string naming the model, got {type(label).__name__}")
        if isinstance(to, str):
            if to != "auto":
                raise ValueError(
                    f"to must be 'auto', None or a text stream such as sys.stderr, got {to!r}"
                )
            self.mode = "notebook" if in_notebook() else None
        elif to is None:
            self.mode = None
        elif callable(getattr(to, "write", None)):
            self.mode = "stream"
        else:
            raise TypeError(
                f"to must be 'auto', None or a text stream such as sys.stderr, "
                f"got {type(to).__name__}"
            )
        if not isinstance(term, str):
            raise TypeError(f"term must be a history key such as 'loss', got {term!r}")
        self.label, self.to, self.term = label, to, term
        self.lines: list[str] = []  # every line shown, in order (what a student saw)
        self._start: float | None = None
        self._handle: Any = None
        self._bar: tqdm | None = None

    def line(self, done: int, loss: float | None, elapsed: float) -> str:
        """The text shown after ``done`` of the epochs, with the latest ``loss`` (None before
        the first epoch ends) and ``elapsed`` seconds since training started."""
        filled = round(20 * done / self.epochs)
        text = f"{self.label}  {'█' * filled}{'░' * (20 - filled)}  {done}/{self.epochs} epochs"
        if loss is not None:
            text += f" · {self.term} {loss:.4g}"
        if done:
            left = elapsed / done * (self.epochs - done)
            text += f" · {_duration(elapsed)}, about {_duration(left)} left"
        return text

    def _show(self, text: str) -> None:
        self.lines.append(text)
        if self.mode == "notebook":
            self._handle.update({"text/plain": text}, raw=True)

    def on_epoch_start(self, epoch: int) -> None:
        if self._start is not None:
            return
        self._start = time.perf_counter()
        if self.mode == "notebook":
            from IPython.display import display

            # an empty output first: nbval compares a display's first state, nbclient and
            # JupyterLab keep its last one; both are empty
            self._handle = display({}, raw=True, display_id=True)
            self._show(self.line(0, None, 0.0))
        elif self.mode == "stream":
            self._bar = tqdm(
                total=self.epochs,
                desc=self.label,
                unit="epoch",
                file=self.to,
                leave=False,
                mininterval=0,  # one update per epoch: show each
            )
            self.lines.append(self.line(0, None, 0.0))

    def on_epoch_end(self, epoch: int, history: History) -> None:
        assert self._start is not None, "on_epoch_start runs first"
        values = history.get(self.term) or [math.nan]
        text = self.line(epoch + 1, values[-1], time.perf_counter() - self._start)
        if self.mode == "stream":
            self._bar.set_postfix_str(f"{self.term} {values[-1]:.4g}", refresh=False)
            self._bar.update(1)
            self.lines.append(text)
        else:
            self._show(text)

    def on_train_end(self, history: History) -> None:
        if self.mode == "notebook" and self._handle is not None:
            self._handle.update({}, raw=True)
        elif self.mode == "stream" and self._bar is not None:
            self._bar.close()
        self._handle = self._bar = None


def _as_terms(out: LossOutput) -> dict[str, torch.Tensor]:
    terms = out if isinstance(out, dict) else {"loss": out}
    if "loss" not in terms:
        raise ValueError(f"loss_fn returned a dict without a 'loss' entry (keys: {list(terms)})")
    loss = terms["loss"]
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise ValueError(
            "loss_fn must return a scalar tensor (reduce over the batch with .mean() "
            f"or .sum()), got {getattr(loss, 'shape', type(loss))}"
        )
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss became {loss.item()}; lower the learning rate or check the model's inputs"
        )
    return terms


def _run_epoch(
    model: nn.Module,
    loss_fn: LossFn,
    loader: Iterable,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, float]:
    """One pass over ``loader``: each term of ``loss_fn`` averaged over the examples (batches
    weighted by their size); with an ``optimizer``, one gradient step per batch."""
    sums: dict[str, float] = {}
    count = 0
    for batch in loader:
        terms = _as_terms(loss_fn(model, tuple(batch)))
        if optimizer is not None:
            optimizer.zero_grad()
            terms["loss"].backward()
            optimizer.step()
        n = len(batch[0])
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
        count += n
    if count == 0:
        raise ValueError("the loader gave no batches; check that it holds at least one example")
    return {key: value / count for key, value in sums.items()}


def evaluate_loss(model: nn.Module, loss_fn: LossFn, loader: DataLoader) -> dict[str, float]:
    """Average each term of ``loss_fn`` over ``loader`` (weighted by batch size), no gradients;
    the model is left in eval mode."""
    model.eval()
    with torch.no_grad():
        return _run_epoch(model, loss_fn, loader)


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    train_loader: DataLoader,
    epochs: int,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    val_loader: DataLoader | None = None,
    keep_best: bool = False,
    callbacks: Sequence[Callback] = (),
    quiet: bool = False,
) -> History:
    """Train ``model`` and return its history.

    Args:
        loss_fn: ``loss_fn(model, batch) -> loss`` or ``{"loss": loss, **other_terms}``.
        lr: learning rate of the default Adam optimizer (ignored when ``optimizer`` is given).
        scheduler: a torch learning-rate scheduler of ``optimizer``, stepped after each epoch;
            the rate each epoch trained with goes into the history as ``lr``.
        val_loader: evaluated after each epoch; its terms go into the history as ``val_<term>``.
        keep_best: at the end, restore the weights of the epoch with the lowest ``val_loss``
            (early stopping without stopping).
        callbacks: :class:`Callback` objects, called at the start and end of every epoch in
            the order given (and ``on_train_end`` once at the end); training ends early after
            an epoch at which one of them has set ``stop`` (so ``epochs`` is then a maximum).
        quiet: no progress display of fit's own. Otherwise fit adds ``Progress(epochs)``
            (shown in a notebook only) unless ``callbacks`` hold a :class:`Progress` already.

    Returns:
        ``{"loss": [...], <term>: [...], "val_loss": [...], ...}``, one value per epoch.
    """
    check_positive_int("epochs", epochs)
    check_number("lr", lr, low=0.0, low_open=True)
    check_bool("keep_best", keep_best)
    if keep_best and val_loader is None:
        raise ValueError("keep_best needs a val_loader to choose the best epoch")
    if scheduler is not None and optimizer is None:
        raise ValueError("scheduler needs the optimizer it schedules: pass optimizer= as well")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks[{i}] must be a training.Callback, got {type(callback).__name__}"
            )
    check_bool("quiet", quiet)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    callbacks = list(callbacks)
    if not quiet and not any(isinstance(c, Progress) for c in callbacks):
        callbacks.append(Progress(epochs))
    history: History = {}
    best = (math.inf, None)
    try:
        for epoch in range(epochs):
            for callback in callbacks:
                callback.on_epoch_start(epoch)
            model.train()
            for key, value in _run_epoch(model, loss_fn, train_loader, optimizer).items():
                history.setdefault(key, []).append(value)
            for callback in callbacks:
                callback.on_train_pass_end(epoch)
            if scheduler is not None:
                history.setdefault("lr", []).append(scheduler.get_last_lr()[0])
                scheduler.step()
            if val_loader is not None:
                for key, value in evaluate_loss(model, loss_fn, val_loader).items():
                    history.setdefault(f"val_{key}", []).append(value)
                if keep_best and history["val_loss"][-1] < best[0]:
                    best = (history["val_loss"][-1], copy.deepcopy(model.state_dict()))
            for callback in callbacks:
                callback.on_epoch_end(epoch, history)
            if any(callback.stop for callback in callbacks):
                break
    finally:
        for callback in callbacks:
            callback.on_train_end(history)
    if keep_best and best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history


def fit_from_seed(
    build: Callable[[], nn.Module],
    images: torch.Tensor,
    loss_fn: LossFn,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
    progress: ProgressTo = "auto",
    label: str = "training",
    callbacks: Sequence[Callback] = (),
) -> tuple[nn.Module, History]:
    """Build a model whose initial weights come from ``seed``, then :func:`fit` it on
    ``images`` (``(N, 1, 28, 28)`` or ``(N, D)``) in batches shuffled by the same ``seed``
    -> ``(model, history)``.

    Torch's global random state is left as it was, so two calls with the same seed (say, one
    per loss in notebook 02) start from the same weights and see the same batches.
    ``progress`` and ``label`` go to :class:`Progress` (``"auto"``: a line that shows the
    epochs in a notebook while the model trains, nothing elsewhere; ``None``: nothing).
    ``callbacks`` go to :func:`fit` (e.g. a progress display).
    """
    bar = Progress(epochs, label=label, to=progress)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    loader, _ = make_loaders(images, batch_size=batch_size, seed=seed)
    return model, fit(
        model, loss_fn, loader, epochs, lr=lr, callbacks=[bar, *callbacks], quiet=True
    )
