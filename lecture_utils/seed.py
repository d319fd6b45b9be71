"""Reproducibility: one call at the top of every notebook (introduced in 00_welcome)."""
from __future__ import annotations

import random

import numpy as np
import torch

DEFAULT_THREADS = 2


def seed_everything(seed: int, threads: int = DEFAULT_THREADS) -> torch.Generator:
    """Seed Python, NumPy and torch, pin torch's thread count, and return a torch.Generator.

    Pinning the thread count matters: torch sums in a different order on 1 and on 2 threads,
    so stored notebook outputs would differ in their last digits.

    Returns a ``torch.Generator`` seeded with ``seed``, for code that takes an explicit one.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return torch.Generator().manual_seed(seed)
