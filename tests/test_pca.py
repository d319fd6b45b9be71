import math

import pytest
import torch

from lecture_utils.losses import l2_loss
from lecture_utils.models import Autoencoder
from lecture_utils.pca import fit_pca, principal_angles
from lecture_utils.training import fit_from_seed


def low_rank_data(n=400, d=12, k=3, noise=0.01, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, k, generator=g))[0]  # (d, k)
    scales = torch.tensor([3.0, 2.0, 1.0])[:k]
    z = torch.randn(n, k, generator=g) * scales
    return z @ basis.T + 0.5 + noise * torch.randn(n, d, generator=g), basis


def test_pca_matches_the_covariance_eigendecomposition():
    x = torch.rand(300, 10, dtype=torch.float64)
    pca = fit_pca(x, 4)
    cov = torch.cov(x.T, correction=0)  # independent reference
    evals, evecs = torch.linalg.eigh(cov)
    torch.testing.assert_close(pca.variances, evals.flip(0)[:4])
    assert pca.total_variance == pytest.approx(float(evals.sum()))
    for comp, vec in zip(pca.components, evecs.T.flip(0)[:4]):  # same up to sign
        assert abs(float(comp @ vec)) == pytest.approx(1.0, abs=1e-8)
    torch.testing.assert_close(pca.components @ pca.components.T, torch.eye(4, dtype=x.dtype))
    torch.testing.assert_close(
        pca.explained_variance_ratio().sum(),
        torch.tensor(float(evals.flip(0)[:4].sum() / evals.sum()), dtype=x.dtype),
    )


def test_reconstruction_is_the_least_squares_projection_and_keeps_shape():
    x = torch.rand(50, 1, 4, 4, dtype=torch.float64)
    pca = fit_pca(x, 3)
    flat = x.reshape(50, -1) - pca.mean
    coef = torch.linalg.lstsq(pca.components.T, flat.T).solution  # best coefficients
    ref = (pca.components.T @ coef).T + pca.mean
    out = pca.reconstruct(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out.reshape(50, -1), ref)
    # the squared error of the projection is the variance left in the other directions
    err = ((out - x) ** 2).sum() / 50
    full = fit_pca(x, 16)
    torch.testing.assert_close(err, full.variances[3:].sum())


def test_pca_rejects_bad_input():
    with pytest.raises(ValueError, match="n_components must be <="):
        fit_pca(torch.rand(5, 3), 4)
    with pytest.raises(TypeError, match="floating-point"):
        fit_pca(torch.ones(5, 3, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="NaN"):
        fit_pca(torch.tensor([[float("nan"), 1.0], [0.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="shape"):
        fit_pca(torch.rand(5, 3), 2).decode(torch.rand(5, 3))


def test_principal_angles_of_known_subspaces():
    theta = 0.3
    a = torch.tensor([[1.0], [0.0], [0.0]])
    b = torch.tensor([[math.cos(theta)], [math.sin(theta)], [0.0]])
    torch.testing.assert_close(principal_angles(a, b), torch.tensor([theta]))
    plane = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    tilted = torch.tensor([[2.0, 1.0], [0.0, 0.0], [0.0, 3.0]])  # contains e1, not e2
    torch.testing.assert_close(
        principal_angles(plane, tilted), torch.tensor([0.0, math.pi / 2]), atol=1e-6, rtol=0
    )
    mixed = plane @ torch.tensor([[2.0, -1.0], [0.5, 3.0]])  # same span, other basis
    torch.testing.assert_close(principal_angles(plane, mixed), torch.zeros(2), atol=1e-6, rtol=0)


def test_principal_angles_rejects_bad_bases():
    with pytest.raises(ValueError, match="linearly dependent"):
        principal_angles(torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]]), torch.eye(3)[:, :1])
    with pytest.raises(ValueError, match="components.T"):
        principal_angles(torch.rand(2, 5), torch.rand(5, 2))
    with pytest.raises(ValueError, match="same space"):
        principal_angles(torch.rand(5, 2), torch.rand(4, 2))


def test_linear_autoencoder_finds_the_pca_subspace():
    """Notebook 01's claim (Baldi and Hornik, 1989), trained the way the notebook trains it."""
    x, basis = low_rank_data()
    model, _ = fit_from_seed(
        lambda: Autoencoder(
            3, hidden_dims=(), input_shape=(12,), activation="identity", output="linear"
        ),
        x,
        lambda m, batch: l2_loss(m(batch[0]), batch[0]),
        60,
        lr=1e-2,
        batch_size=50,
    )
    w_d = model.decoder[0].weight.detach()  # (D, K): spans the reconstructions
    assert w_d.shape == (12, 3)
    angles = torch.rad2deg(principal_angles(fit_pca(x, 3).components.T, w_d))
    assert float(angles.max()) < 2.0, angles
    assert float(torch.rad2deg(principal_angles(basis, w_d)).max()) < 2.0


def test_truncated_equals_a_fresh_fit_of_that_size():
    x = torch.rand(200, 1, 5, 5)
    full = fit_pca(x, 20)
    for k in (1, 3, 20):
        fresh, cut = fit_pca(x, k), full.truncated(k)
        assert cut.n_components == k
        for name in ("mean", "components", "variances"):
            assert torch.equal(getattr(cut, name), getattr(fresh, name)), name
        assert cut.total_variance == fresh.total_variance
        assert torch.equal(cut.reconstruct(x), fresh.reconstruct(x))
    assert full.n_components == 20  # the original is left alone


def test_truncated_rejects_bad_sizes():
    pca = fit_pca(torch.rand(30, 6), 4)
    with pytest.raises(ValueError, match="n_components must be <= 4.*fit_pca"):
        pca.truncated(5)
    with pytest.raises(ValueError, match="n_components"):
        pca.truncated(0)
    with pytest.raises(TypeError, match="n_components"):
        pca.truncated(2.0)
