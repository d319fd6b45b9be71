"""Interactive views of a latent space (introduced in 07_latent_explorer).

Three explorers built on ipywidgets; each redraws in place (new PNG bytes in one
``ipywidgets.Image``), so a slider move costs one decode and one small PNG, a few milliseconds:

- :class:`LatentSliders`: one slider per latent dimension, the decoded image and the current z;
- :class:`InterpolationExplorer`: two test digits, the path between their codes (straight or
  spherical) decoded by several models side by side (the autoencoder's holes show);
- :class:`ManifoldExplorer`: the decoded 2-D latent grid, and the encoded test digits as a
  scatter coloured by label; choosing a digit (click a point of the scatter, or use the slider)
  shows the image and its decoding, and a probe shows what any point of the plane decodes to.

Each has ``figure()``, a static matplotlib figure of its current state, drawn by the matching
function of :mod:`lecture_utils.plotting` (``plot_traversal``, ``plot_interpolation``,
``plot_manifold``). Displayed in a notebook, an explorer sends both the live widget and that
static picture: a running kernel shows the widget, a rendered page (GitHub, nbviewer) the
picture, and its text form is stable, so nbval compares it as it would any output.

Each explorer takes ``size``: ``"notebook"`` (the default, the size notebook 07 shows) or
``"projector"`` (wider sliders with room for their labels, a sharper and larger scatter, and the
CSS class ``vae-course-projector`` on the box, which the presenter app's page styles; see
``apps/``). :class:`TrainingProgress` shows which model trains and its epoch, for the app's cold
start.

Two more explorers: notebook 08's :class:`BetaExplorer` (a beta slider over the
cached beta sweep) and notebook 09's :class:`DigitExplorer` (digit buttons and style sliders
over a conditional VAE: the digit you ask for, in the style you set).

The package, one module per explorer:

- ``base``           the shared pieces (sizes, sized sliders and images, :func:`pixel_size`)
- ``sliders``        :class:`LatentSliders` (07)
- ``interpolation``  :class:`InterpolationExplorer` (07)
- ``manifold``       :class:`ManifoldExplorer` (07)
- ``progress``       :class:`TrainingProgress` (the app's cold start)
- ``beta``           :class:`BetaExplorer` (08)
- ``digits``         :class:`DigitExplorer` (09)

Everything is importable from ``lecture_utils.widgets`` itself, as before the split.
"""

from lecture_utils.widgets.base import PROJECTOR_CLASS, SIZES, pixel_size
from lecture_utils.widgets.beta import BetaExplorer
from lecture_utils.widgets.digits import DigitExplorer
from lecture_utils.widgets.interpolation import InterpolationExplorer
from lecture_utils.widgets.manifold import ManifoldExplorer
from lecture_utils.widgets.progress import TrainingProgress
from lecture_utils.widgets.sliders import LatentSliders

__all__ = [
    "SIZES",
    "PROJECTOR_CLASS",
    "pixel_size",
    "LatentSliders",
    "InterpolationExplorer",
    "ManifoldExplorer",
    "TrainingProgress",
    "BetaExplorer",
    "DigitExplorer",
]
