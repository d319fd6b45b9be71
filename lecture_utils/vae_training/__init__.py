"""Training a VAE on the embedded MNIST digits, as notebook 06 does (introduced in 06_vae).

Everything that decides the result is one frozen :class:`VAERecipe`: the network, the
optimiser's learning-rate schedule, the KL warm-up, how digits are binarised, the validation
slice used for early stopping, and the seed. :func:`train_vae` turns a recipe into a trained
model and its history with :func:`lecture_utils.training.fit`; :func:`train_vae_cached` does the
same but keeps the weights in the course's model cache (:mod:`lecture_utils.cache`), so that a
second run of notebook 06 loads them instead of training again. Notebook 07 loads notebook 06's
2-D VAE from the same cache (:mod:`lecture_utils.model_cache`). Notebook 08 loads notebook 06's
models the same way and trains its own small runs (:data:`SMALL_RECIPE`, :data:`BETA_SWEEP`,
:data:`COLLAPSE_RUNS`), for which a recipe can train on a subset (``train_size``) and with free
bits (``free_bits``).

The choices, each explained in notebook 06:

- **dynamic binarisation**: every time a training digit is used, its grey levels are turned
  into a fresh black-and-white image (pixel = 1 with probability = grey level), so 8,000
  digits give many different binary images; validation and test digits keep their one fixed
  binarisation, so that their log-likelihoods are comparable;
- **KL warm-up** (:func:`kl_weight`, applied by the :class:`KLWarmup` callback): the KL term's
  weight rises linearly over the first epochs, so that the encoder learns to use its codes
  before the KL term pulls them towards the prior;
- **a learning-rate schedule** (:func:`learning_rate`, applied by a ``LambdaLR`` scheduler): a
  short linear warm-up to the peak rate, then a cosine decay;
- **early stopping without stopping**: after each epoch the negative ELBO on a validation
  slice of the *training* digits is measured, and the weights of the best epoch are kept.

Two more are there to be tried, and are off in the course's recipes because they did not help
on the validation slice (notebook 06 has the table): averaging the weights
(:class:`WeightAverage`) and random shifts of the training digits (:func:`random_shift`).

The loop is written to spend its time in the matrix products: Adam's update is fused into one
pass over the weights, the digits are checked once (:class:`BinarizedBatches`) rather than in
every step (:func:`elbo_terms`), and the binarisation compares uniform draws with the grey
levels. ``scripts/bench_vae.py`` measures how close that comes to the machine's rate.

The package, one module per purpose:

- ``recipes``    :class:`VAERecipe` and the course's recipes (notebooks 06, 08, 09)
- ``schedules``  the KL warm-up, the learning-rate schedule, weight averaging (callbacks)
- ``batches``    the validation split and the binarised (and shifted) mini-batches
- ``loss``       the one-sample ELBO terms and the training loss (free bits: notebook 08; the
                 importance-weighted bound, ``iwae_loss``, for the benchmark)
- ``train``      :func:`train_vae` and :func:`train_vae_cached`

Everything is importable from ``lecture_utils.vae_training`` itself, as before the split.
"""

from lecture_utils.vae_training.batches import (
    BinarizedBatches,
    make_vae_loaders,
    random_shift,
    split_indices,
)
from lecture_utils.vae_training.loss import elbo_terms, iwae_loss, vae_loss
from lecture_utils.vae_training.recipes import (
    ACTIVATIONS,
    BETA_SWEEP,
    BINARIZATIONS,
    COLLAPSE_RUNS,
    LIKELIHOODS,
    NOTEBOOK_GAUSSIAN_RECIPES,
    NOTEBOOK_RECIPE,
    NOTEBOOK_RECIPE_2D,
    REFERENCE_RECIPE,
    SCHEDULES,
    SMALL_RECIPE,
    TRAINING_VERSION,
    VAERecipe,
    check_name,
    check_recipe,
    gaussian_recipe,
)
from lecture_utils.vae_training.schedules import KLWarmup, WeightAverage, kl_weight, learning_rate
from lecture_utils.vae_training.train import (
    init_output_bias,
    make_optimizer,
    train_vae,
    train_vae_cached,
)

__all__ = [
    "TRAINING_VERSION",
    "SCHEDULES",
    "BINARIZATIONS",
    "LIKELIHOODS",
    "ACTIVATIONS",
    "VAERecipe",
    "check_name",
    "NOTEBOOK_RECIPE",
    "NOTEBOOK_RECIPE_2D",
    "NOTEBOOK_GAUSSIAN_RECIPES",
    "REFERENCE_RECIPE",
    "gaussian_recipe",
    "SMALL_RECIPE",
    "BETA_SWEEP",
    "COLLAPSE_RUNS",
    "check_recipe",
    "kl_weight",
    "learning_rate",
    "KLWarmup",
    "WeightAverage",
    "BinarizedBatches",
    "random_shift",
    "split_indices",
    "make_vae_loaders",
    "elbo_terms",
    "vae_loss",
    "iwae_loss",
    "make_optimizer",
    "init_output_bias",
    "train_vae",
    "train_vae_cached",
]
