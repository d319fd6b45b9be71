"""Principal component analysis and the linear autoencoder it equals (notebook 01).

PCA by the singular value decomposition of the centred data, and principal angles to compare two
subspaces. Notebook 01 uses them to show that a linear autoencoder trained with the L2 loss
(built and trained in the notebook with :func:`lecture_utils.training.fit_from_seed`) has a
decoder that spans the same subspace as the top principal components (Baldi and Hornik, 1989).

Conventions: data ``x`` is ``(N, D)`` or ``(N, 1, H, W)`` (flattened to ``(N, D)``); a subspace
of R^D is given by a ``(D, K)`` matrix whose columns span it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from lecture_utils._validate import check_positive_int, check_tensor


def _flat(name: str, x: torch.Tensor) -> torch.Tensor:
    check_tensor(name, x, ndim=(2, 3, 4))
    return x.reshape(len(x), -1)


@dataclass(frozen=True)
class PCA:
    """A fitted PCA.

    Attributes:
        mean: ``(D,)`` the data mean.
        components: ``(K, D)`` orthonormal rows, the principal directions, largest first.
        variances: ``(K,)`` the variance of the data along each direction (eigenvalues of the
            covariance, divided by N).
        total_variance: the sum of all D variances (for "explained variance" ratios).
    """

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    total_variance: float

    @property
    def n_components(self) -> int:
        return len(self.components)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` or images -> codes ``(N, K)``: coordinates along the components."""
        return (_flat("x", x) - self.mean) @ self.components.T

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(N, K)`` -> reconstructions ``(N, D)``."""
        check_tensor("z", z, shape=(None, self.n_components))
        return z @ self.components + self.mean

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Orthogonal projection of ``x`` onto the affine principal subspace, shaped like ``x``."""
        return self.decode(self.encode(x)).reshape(x.shape)

    def explained_variance_ratio(self) -> torch.Tensor:
        """``(K,)`` share of the total variance along each component."""
        return self.variances / self.total_variance

    def truncated(self, n_components: int) -> PCA:
        """The same PCA with only its first ``n_components`` directions (``k <= K``), without
        refitting: one SVD gives the PCA of every smaller size, exactly as ``fit_pca`` would."""
        check_positive_int("n_components", n_components)
        if n_components > self.n_components:
            raise ValueError(
                f"n_components must be <= {self.n_components} (the directions this PCA holds), "
                f"got {n_components}; call fit_pca with more components"
            )
        return replace(
            self,
            components=self.components[:n_components],
            variances=self.variances[:n_components],
        )


def fit_pca(x: torch.Tensor, n_components: int) -> PCA:
    """PCA of ``x`` (``(N, D)`` or ``(N, 1, H, W)``) with ``n_components`` directions, by SVD.

    The centred data is ``X - mean = U S V^T``; the principal directions are the first rows of
    ``V^T`` and the variances ``S^2 / N``. Computed in float64, returned in ``x``'s dtype.
    """
    flat = _flat("x", x)
    check_positive_int("n_components", n_components)
    n, d = flat.shape
    if n_components > min(n, d):
        raise ValueError(f"n_components must be <= min(N, D) = {min(n, d)}, got {n_components}")
    xd = flat.double()
    mean = xd.mean(dim=0)
    _, s, vt = torch.linalg.svd(xd - mean, full_matrices=False)
    variances = s**2 / n
    return PCA(
        mean=mean.to(x.dtype),
        components=vt[:n_components].to(x.dtype),
        variances=variances[:n_components].to(x.dtype),
        total_variance=float(variances.sum()),
    )


def _orthonormal_basis(name: str, a: torch.Tensor) -> torch.Tensor:
    check_tensor(name, a, ndim=2)
    if a.shape[1] > a.shape[0]:
        raise ValueError(
            f"{name} must be (D, K) with K <= D (columns span the subspace), "
            f"got {tuple(a.shape)}; pass components.T for row-wise directions"
        )
    q, r = torch.linalg.qr(a.double())
    diag = r.diagonal().abs()
    if float(diag.min()) <= 1e-10 * max(float(diag.max()), 1e-300):
        raise ValueError(
            f"the columns of {name} are linearly dependent: they do not span a "
            f"{a.shape[1]}-dimensional subspace"
        )
    return q


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spaces of ``a`` and ``b``.

    ``a`` is ``(D, K)`` and ``b`` is ``(D, M)``; returns ``min(K, M)`` angles in [0, pi/2].
    All zero means the subspaces coincide (or one contains the other). Computed as the arccos
    of the singular values of ``Qa^T Qb`` (Bjorck and Golub, 1973), with ``Qa``, ``Qb``
    orthonormal bases from QR.
    """
    qa, qb = _orthonormal_basis("a", a), _orthonormal_basis("b", b)
    if qa.shape[0] != qb.shape[0]:
        raise ValueError(
            f"a and b must live in the same space, got {qa.shape[0]} and {qb.shape[0]} rows"
        )
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0)
    return torch.arccos(cosines).to(a.dtype)
