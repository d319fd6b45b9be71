"""Semi-supervised VAEs: M1 and M2 (Kingma, Rezende, Mohamed and Welling, 2014; notebook 09).

Notebook 03 asked whether digits without labels help a classifier that has only a few labels,
and found that an autoencoder's encoder gives no clear gain. Notebook 09 answers again:

- **M1**: a VAE trained without labels (notebook 06's), its encoder means as features, and a
  linear classifier on them (:func:`encoder_means`, :func:`compare_features`, with notebook
  03's autoencoder rebuilt by :func:`notebook03_autoencoder`);
- **M2** (:class:`M2`): the label y is a latent variable of the generative model
  p(y) p(z) p(x|y, z), with a classifier q(y|x) and an encoder q(z|x, y). A labelled digit
  contributes the ELBO L(x, y) <= log p(x, y); an unlabelled one
  U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)) <= log p(x); the labelled digits also train q(y|x)
  directly, with weight alpha. Training (:func:`train_m2`) follows a frozen :class:`M2Recipe`
  and records the accuracy of q(y|x) against training time;
- **M1+M2**: M2 on M1's features (:func:`m1_features`) with a Gaussian p(x|y, z), as in the
  paper. ``scripts/bench_semisupervised.py`` compares them all with notebook 03's methods
  (:data:`BENCH_M2_RECIPE`, :data:`BENCH_M1M2_RECIPE`); notebook 09 runs the short
  :data:`NOTEBOOK_M2_RECIPE` (and :data:`NOTEBOOK_M1M2_RECIPE`).

Images are ``(N, 1, 28, 28)`` (or ``(N, 784)``) floats in [0, 1]; labels int64 ``(N,)``.

The package, one module per purpose:

- ``m1``       M1's features (:func:`encoder_means`, :func:`m1_features`) and notebook 03's
               autoencoder (:func:`notebook03_autoencoder`)
- ``compare``  :func:`compare_features`: one linear classifier per feature set, budget, seed
- ``model``    :class:`M2` and its objective
- ``recipe``   :class:`M2Recipe` and the benchmark's and notebook's recipes
- ``train``    :func:`split_m2`, :func:`train_m2` and :func:`train_m2_cached`

Everything is importable from ``lecture_utils.semi_supervised`` itself, as before the split
(``_train_notebook03_autoencoder`` too: ``tests/test_semi_supervised.py`` trains it directly).
"""

from lecture_utils.semi_supervised.compare import PROBES, compare_features
from lecture_utils.semi_supervised.m1 import (
    _train_notebook03_autoencoder,  # noqa: F401  (tests/test_semi_supervised.py imports it)
    encoder_means,
    m1_features,
    notebook03_autoencoder,
)
from lecture_utils.semi_supervised.model import LIKELIHOODS, M2
from lecture_utils.semi_supervised.recipe import (
    BENCH_M1M2_RECIPE,
    BENCH_M2_RECIPE,
    M2_TRAINING_VERSION,
    NOTEBOOK_M1M2_RECIPE,
    NOTEBOOK_M2_RECIPE,
    M2Recipe,
    check_m2_recipe,
)
from lecture_utils.semi_supervised.train import (
    AccuracyCheckpoints,
    M2Batches,
    split_m2,
    train_m2,
    train_m2_cached,
)

__all__ = [
    "notebook03_autoencoder",
    "encoder_means",
    "m1_features",
    "PROBES",
    "compare_features",
    "LIKELIHOODS",
    "M2",
    "M2_TRAINING_VERSION",
    "M2Recipe",
    "check_m2_recipe",
    "BENCH_M2_RECIPE",
    "BENCH_M1M2_RECIPE",
    "NOTEBOOK_M2_RECIPE",
    "NOTEBOOK_M1M2_RECIPE",
    "split_m2",
    "M2Batches",
    "AccuracyCheckpoints",
    "train_m2",
    "train_m2_cached",
]
