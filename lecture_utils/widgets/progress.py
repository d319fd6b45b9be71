"""The presenter app's :class:`TrainingProgress` (built from 07_latent_explorer's explorers,
see ``apps/``): which model trains and its epoch, for a cold start.
"""

from __future__ import annotations

import ipywidgets as widgets

from lecture_utils._validate import check_positive_int
from lecture_utils.training import Callback, History
from lecture_utils.widgets.base import _check_name


class TrainingProgress(Callback):
    """Which model trains and its epoch, as a label and a progress bar (the presenter app's
    cold start; the app is built from notebook 07's explorers, the models from
    :func:`lecture_utils.model_cache.load_or_train`).

    Use: ``progress.start(name, epochs)``, then pass ``log=progress.log`` and
    ``callbacks=[progress]`` to ``load_or_train``; the bar fills one step per epoch (a loaded
    model skips it), and ``log`` shows the cache's one line. ``done()`` hides the display.
    """

    def __init__(self) -> None:
        self.name, self.epochs = "", 0
        self.label = widgets.Label("Loading the models")
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.box = widgets.VBox([self.label, self.bar])
        self.box.add_class("vae-course-progress")

    def start(self, name: str, epochs: int) -> None:
        """A model called ``name`` is next, trained for ``epochs`` epochs if it is not cached."""
        self.name, self.epochs = _check_name(name), check_positive_int("epochs", epochs)
        self.bar.value, self.bar.max = 0, epochs
        self.label.value = f"{name}: loading or training ({epochs} epochs)"

    def log(self, message: str) -> None:
        """The cache's message for the current model (``load_or_train``'s ``log``)."""
        self.label.value = str(message)

    def on_epoch_end(self, epoch: int, history: History) -> None:
        self.bar.value = epoch + 1
        loss = history.get("loss", [float("nan")])[-1]
        self.label.value = (
            f"{self.name}: training, epoch {epoch + 1} of {self.epochs} (loss {loss:.2f})"
        )

    def done(self) -> None:
        """Hide the display (the models are ready)."""
        self.box.layout.display = "none"
