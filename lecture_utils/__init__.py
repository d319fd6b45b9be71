"""Helpers for the vae-course notebooks (autoencoder -> variational autoencoder).

Importing this package has no side effects: nothing is printed, downloaded or seeded.
Submodules, one purpose each:

- ``data``      embedded MNIST (10,000 digits), full MNIST from IDX files, DataLoaders
- ``models``    Autoencoder, VAE, EncoderClassifier
- ``losses``    L2 loss, Bernoulli / Gaussian log-likelihoods, closed-form Gaussian KL
- ``training``  one plain fit loop that returns a history
- ``plotting``  image grids, reconstructions, latent scatter, loss curves
- ``seed``      ``seed_everything`` (seeds and pins torch's thread count)
"""
from lecture_utils.seed import seed_everything

__all__ = ["seed_everything", "__version__"]
__version__ = "0.1.0"
