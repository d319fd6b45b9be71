"""Reproducibility and the course's thread policy (introduced in 00_welcome).

**One thread.** Every notebook, app, test and cached training runs torch on one thread
(:data:`DEFAULT_THREADS`). Two OpenMP threads wait for each other by spinning: on a laptop whose
other core is busy with a browser or a video call, or on a shared Binder/Colab core, that makes
training several times slower, while one thread loses only about a fifth of the speed on an idle
machine. One fixed count also keeps results reproducible: torch sums in a different order on one
and on two threads, so stored outputs would differ in their last digits.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from lecture_utils._validate import check_int

#: torch's intra-op thread count throughout the course (see the module docstring)
DEFAULT_THREADS = 1


def seed_everything(seed: int, threads: int = DEFAULT_THREADS) -> torch.Generator:
    """Seed Python, NumPy and torch, pin torch's thread count, and return a torch.Generator.

    Returns a ``torch.Generator`` seeded with ``seed``, for code that takes an explicit one.
    """
    check_int("seed", seed, low=0, high=2**32 - 1)
    check_int("threads", threads, low=1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return torch.Generator().manual_seed(seed)


@contextmanager
def torch_threads(threads: int = DEFAULT_THREADS) -> Iterator[None]:
    """Run a block with torch on ``threads`` threads, then restore the previous count."""
    check_int("threads", threads, low=1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
