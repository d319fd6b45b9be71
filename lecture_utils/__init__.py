"""Helpers for the vae-course notebooks (autoencoder -> variational autoencoder).

Importing this package has no side effects: nothing is printed, downloaded or seeded.
Submodules, one purpose each:

- ``data``      embedded MNIST (10,000 digits), full MNIST from IDX files, DataLoaders
- ``models``    Autoencoder, VAE, EncoderClassifier
- ``losses``    L2 loss, Bernoulli / Gaussian log-likelihoods, closed-form Gaussian KL
- ``training``  one plain fit loop that returns a history
- ``plotting``  image grids, reconstructions, latent scatter, loss curves
- ``seed``      ``seed_everything`` (seeds and pins torch's thread count)
- ``checks``    automatic checks of the exercises, one module per notebook
- ``editions``  the student edition (solutions out) and its restoration
- ``pca``       PCA by SVD, principal angles, the linear autoencoder (notebook 01)
- ``blur``      L1 / L2 / cross-entropy, and why the L2 optimum is a blur (notebook 02)
- ``classify``  label budgets, linear probe vs fine-tuning vs scratch (notebook 03)
- ``toy``       latent-variable models with exact p(x) and posterior (notebooks 04, 05)
- ``evaluate``  importance-sampled log-likelihood in nats, bits per dimension (notebook 06)
- ``vae_training``  notebook 06's VAE recipes, training loop and model cache
- ``latent``, ``widgets``, ``model_cache``  the latent-space explorer of notebook 07
"""

from importlib.metadata import PackageNotFoundError, version

from lecture_utils.seed import seed_everything

__all__ = ["seed_everything", "__version__"]

try:  # the installed distribution's version: pyproject.toml is the one place it is written
    __version__ = version("vae-course")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
