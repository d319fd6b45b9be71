"""A short hash of tensors' values, for the cache keys of models trained on them (notebook
09's M1 autoencoder and M2 runs).
"""

from __future__ import annotations

import hashlib

import torch


def _data_hash(*tensors: torch.Tensor) -> str:
    """A short SHA-256 of the tensors' values, for cache keys of models trained on them."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(str((t.dtype, tuple(t.shape))).encode())
        digest.update(t.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
