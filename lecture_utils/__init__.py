"""Helpers for the vae-course notebooks (autoencoder -> variational autoencoder).

Importing this package has no side effects: nothing is printed, downloaded or seeded.
Submodules, one purpose each:

- ``data``      embedded MNIST (10,000 digits), full MNIST from IDX files, DataLoaders
- ``models``    Autoencoder, VAE, EncoderClassifier, ConditionalVAE (notebook 09)
- ``losses``    L2 / L1 / cross-entropy losses, Bernoulli / Gaussian log-likelihoods, the Gaussian
                log-densities ``log_normal`` / ``log_standard_normal``, closed-form Gaussian KL
- ``training``  one plain fit loop that returns a history, and ``fit_from_seed``
- ``evaluate``  Monte Carlo estimators (``log_mean_exp``, effective sample size; notebook 04),
                importance-sampled log-likelihood in nats, bits per dimension (notebook 06),
                the IWAE bound ``iwae_bound`` (notebook 08)
- ``images``    per-image statistics: slant (notebook 01), grey fraction (notebook 02)
- ``plotting``  image grids, reconstructions, latent scatter, the latent-space figures, PNGs
- ``seed``      ``seed_everything`` and the one-thread policy (``torch_threads``)
- ``checks``    automatic checks of the exercises, one module per notebook
- ``pca``       PCA by SVD and principal angles (notebook 01)
- ``blur``      why the L2 optimum is a blur: the best single image for several targets (02)
- ``classify``  label budgets, linear probe vs fine-tuning vs scratch (notebook 03)
- ``toy``       latent-variable models with exact p(x) and posterior (notebooks 04, 05)
- ``vae_training``  notebook 06's VAE recipes, training loop and model cache
- ``latent``, ``widgets``, ``model_cache``  the latent-space explorers (notebooks 07-09)
- ``diagnose``  why a VAE scores what it scores: gaps, active units, rate and distortion, the
                aggregate posterior (notebook 08)
- ``conditional``  notebook 09's conditional VAE, the classifier that judges its drawings, style
                swaps
- ``semi_supervised``  M1, M2 and M1+M2: unlabelled digits helping a classifier (notebook 09)
- ``cache``     the one model cache (files, keys, loading and saving)
- ``glossary``  the one English-Korean glossary of the course
"""

from importlib.metadata import PackageNotFoundError, version

from lecture_utils.seed import seed_everything

__all__ = ["seed_everything", "__version__"]

try:  # the installed distribution's version: pyproject.toml is the one place it is written
    __version__ = version("vae-course")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
