"""Small latent-variable models where log p(x) and p(z|x) are exact (notebooks 04 and 05).

- :class:`OneDimLatentModel`: z ~ N(0, 1), x | z ~ N(f(z), sigma^2 I) with a fixed non-linear
  curve f; p(x) and p(z|x) by quadrature on a fine grid of z (notebook 04).
- :class:`LinearGaussian`: z ~ N(0, I_K), x | z ~ N(W z + b, sigma^2 I_D); exactly
  p(x) = N(b, W W^T + sigma^2 I) and a Gaussian posterior, so every step of the ELBO can be
  checked (notebook 05). Its parameters are trainable.
- :func:`ppca_ml`: Tipping and Bishop's closed-form maximum-likelihood fit of that model
  (probabilistic PCA).

The Gaussian log-densities come from :mod:`lecture_utils.losses` (``log_normal``,
``log_standard_normal``); the summaries of Monte Carlo weights (``log_mean_exp``,
``effective_sample_size``, ``best_weight_share``) from :mod:`lecture_utils.evaluate`.

Shapes: ``x`` is ``(B, D)``; ``z`` is ``(..., K)`` and broadcasts against ``x``, so ``z`` of
shape ``(S, B, K)`` gives ``(S, B)`` results (S samples per example).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from lecture_utils._validate import check_int, check_number, check_positive_int, check_tensor
from lecture_utils.losses import LOG_2PI, gaussian_kl, log_normal, log_standard_normal


def _default_curve(z: torch.Tensor) -> torch.Tensor:
    """A parabola in the plane: ``(..., 1) -> (..., 2)``."""
    return torch.cat([z**2 - 1.0, 0.5 * z], dim=-1)


class OneDimLatentModel:
    """z ~ N(0, 1), x | z ~ N(f(z), sigma^2 I): a 1-D latent, exact by quadrature (notebook 04).

    Args:
        curve: f, mapping ``(..., 1)`` codes to ``(..., D)`` means; default
            f(z) = (z^2 - 1, z / 2), a parabola whose two arms make some posteriors bimodal.
        sigma: the noise standard deviation.
        z_range, n_grid: the quadrature grid for z (the trapezoid rule).
    """

    latent_dim = 1

    def __init__(
        self,
        curve: Callable[[torch.Tensor], torch.Tensor] | None = None,
        sigma: float = 0.3,
        z_range: tuple[float, float] = (-7.0, 7.0),
        n_grid: int = 2801,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.sigma = check_number("sigma", sigma, low=0.0, low_open=True)
        if not isinstance(z_range, (tuple, list)) or len(z_range) != 2:
            raise TypeError(f"z_range must be a pair (low, high) of numbers, got {z_range!r}")
        low = check_number("z_range[0]", z_range[0])
        high = check_number("z_range[1]", z_range[1], low=low, low_open=True)
        self.curve = curve or _default_curve
        self.dtype = dtype
        n_grid = check_int("n_grid", n_grid, low=2)  # the trapezoid rule needs two ends
        self.z_grid = torch.linspace(low, high, n_grid, dtype=dtype)
        self.dz = float(self.z_grid[1] - self.z_grid[0])
        trapezoid = torch.full_like(self.z_grid, self.dz)
        trapezoid[[0, -1]] = self.dz / 2
        self._log_quad_w = trapezoid.log()
        self.data_dim = self.mean(self.z_grid[:1, None]).shape[-1]

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """f(z): ``(..., 1) -> (..., D)``."""
        check_tensor("z", z)
        if z.ndim == 0 or z.shape[-1] != 1:
            raise ValueError(f"z must have a last dimension of size 1, got shape {tuple(z.shape)}")
        return self.curve(z)

    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling: z ~ p(z), then x ~ p(x|z) -> ``(x (n, D), z (n, 1))``."""
        z = torch.randn(check_positive_int("n", n), 1, generator=generator, dtype=self.dtype)
        mean = self.mean(z)
        return mean + self.sigma * torch.randn(mean.shape, generator=generator, dtype=self.dtype), z

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z): ``(..., 1) -> (...)``."""
        return log_standard_normal(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z), broadcasting ``(B, D)`` against ``(..., B, 1)`` -> ``(..., B)``."""
        check_tensor("x", x, shape=(None, self.data_dim))
        return log_normal(x, self.mean(z), 2.0 * math.log(self.sigma))

    def log_joint_grid(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x, z) at every grid point z -> ``(B, G)``."""
        z = self.z_grid[:, None, None]  # (G, 1, 1)
        return (self.log_likelihood(x, z) + self.log_prior(z)).T  # (B, G)

    def log_marginal(self, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """log p(x) = log of the integral of p(x|z) p(z) dz, by the trapezoid rule -> ``(B,)``.

        Works through ``x`` in chunks of ``chunk`` rows, so that a whole grid of x fits in
        memory."""
        check_tensor("x", x, shape=(None, self.data_dim))
        return torch.cat(
            [
                torch.logsumexp(self.log_joint_grid(part) + self._log_quad_w, dim=1)
                for part in x.split(check_positive_int("chunk", chunk))
            ]
        )

    def posterior(self, x: torch.Tensor) -> torch.Tensor:
        """The density p(z|x) = p(x, z) / p(x) on ``z_grid`` -> ``(B, G)`` (integrates to 1)."""
        return (self.log_joint_grid(x) - self.log_marginal(x)[:, None]).exp()


class LinearGaussian(nn.Module):
    """p(z) = N(0, I_K), p(x|z) = N(W z + b, sigma^2 I_D) (notebooks 04 and 05).

    Exactly: p(x) = N(b, W W^T + sigma^2 I) and p(z|x) = N(M^-1 W^T (x - b), sigma^2 M^-1)
    with M = W^T W + sigma^2 I. ``W`` ``(D, K)``, ``b`` ``(D,)`` and ``log_sigma`` are
    parameters (``nn.Parameter``), so the model can be fitted by gradient ascent.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, sigma: float | torch.Tensor) -> None:
        super().__init__()
        check_tensor("W", W, ndim=2)
        check_tensor("b", b, shape=(W.shape[0],))
        if isinstance(sigma, torch.Tensor):
            check_tensor("sigma", sigma, shape=(), low=0.0)
        else:
            check_number("sigma", sigma)
        sigma = torch.as_tensor(sigma, dtype=W.dtype)
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {float(sigma):g}")
        self.W = nn.Parameter(W.detach().clone())
        self.b = nn.Parameter(b.detach().clone().to(W.dtype))
        self.log_sigma = nn.Parameter(sigma.log())

    @classmethod
    def random(
        cls,
        data_dim: int,
        latent_dim: int,
        sigma: float = 0.5,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> LinearGaussian:
        """W and b with standard-normal entries."""
        W = torch.randn(
            check_positive_int("data_dim", data_dim),
            check_positive_int("latent_dim", latent_dim),
            generator=generator,
            dtype=dtype,
        )
        return cls(W, torch.randn(data_dim, generator=generator, dtype=dtype), sigma)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    @property
    def sigma2(self) -> torch.Tensor:
        return torch.exp(2 * self.log_sigma)

    def _eye(self, n: int) -> torch.Tensor:
        return torch.eye(n, dtype=self.W.dtype)

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        return check_tensor("x", x, shape=(None, self.data_dim))

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ p(z), x ~ p(x|z) -> ``(x (n, D), z (n, K))``, data without gradients."""
        z = torch.randn(
            check_positive_int("n", n), self.latent_dim, generator=generator, dtype=self.W.dtype
        )
        noise = torch.randn(n, self.data_dim, generator=generator, dtype=self.W.dtype)
        return self.mean(z) + self.sigma2.sqrt() * noise, z

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """W z + b: ``(..., K) -> (..., D)``."""
        check_tensor("z", z)
        if z.ndim == 0 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"z must end in the latent size {self.latent_dim}, got shape {tuple(z.shape)}"
            )
        return z @ self.W.T + self.b

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z): ``(..., K) -> (...)``."""
        return log_standard_normal(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z), broadcasting ``(B, D)`` against ``(..., B, K)`` -> ``(..., B)``."""
        return log_normal(self._check_x(x), self.mean(z), 2.0 * self.log_sigma)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x, z) = log p(x|z) + log p(z), broadcasting like :meth:`log_likelihood`."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_cov(self) -> torch.Tensor:
        """W W^T + sigma^2 I -> ``(D, D)``."""
        return self.W @ self.W.T + self.sigma2 * self._eye(self.data_dim)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W W^T + sigma^2 I) -> ``(B,)`` (via a Cholesky factor)."""
        L = torch.linalg.cholesky(self.marginal_cov())
        r = torch.linalg.solve_triangular(L, (self._check_x(x) - self.b).T, upper=False)  # (D, B)
        return -0.5 * (self.data_dim * LOG_2PI + 2 * L.diagonal().log().sum() + (r**2).sum(0))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(z|x) = N(mean, cov) -> ``(mean (B, K), cov (K, K))``; cov is the same for
        all x."""
        M = self.W.T @ self.W + self.sigma2 * self._eye(self.latent_dim)
        mean = torch.linalg.solve(M, self.W.T @ (self._check_x(x) - self.b).T).T
        return mean, self.sigma2 * torch.linalg.inv(M)

    def _q_cov(
        self, q_mean: torch.Tensor, q_logvar: torch.Tensor | None, q_cov: torch.Tensor | None
    ) -> torch.Tensor:
        """The covariance of q as ``(B, K, K)``, from exactly one of ``q_logvar`` or ``q_cov``."""
        check_tensor("q_mean", q_mean, shape=(None, self.latent_dim))
        if (q_logvar is None) == (q_cov is None):
            raise ValueError(
                "give q's variances as exactly one of q_logvar (B, K) (diagonal) or "
                "q_cov (K, K) or (B, K, K) (full)"
            )
        if q_logvar is not None:
            check_tensor("q_logvar", q_logvar, shape=tuple(q_mean.shape))
            return torch.diag_embed(q_logvar.exp())
        check_tensor("q_cov", q_cov, ndim=(2, 3))
        if (
            q_cov.shape[-2:] != (self.latent_dim,) * 2
            or q_cov.ndim == 3
            and len(q_cov) != len(q_mean)
        ):
            raise ValueError(
                f"q_cov must have shape ({self.latent_dim}, {self.latent_dim}) or "
                f"({len(q_mean)}, {self.latent_dim}, {self.latent_dim}), got {tuple(q_cov.shape)}"
            )
        return q_cov.expand(len(q_mean), -1, -1)

    def expected_log_likelihood(
        self,
        x: torch.Tensor,
        q_mean: torch.Tensor,
        q_logvar: torch.Tensor | None = None,
        q_cov: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """E_{z~q}[log p(x|z)] in closed form -> ``(B,)``, for q = N(q_mean, S):
        -D/2 log(2 pi sigma^2) - (||x - b - W m||^2 + tr(W S W^T)) / (2 sigma^2)."""
        S = self._q_cov(q_mean, q_logvar, q_cov)
        r = self._check_x(x) - self.mean(q_mean)
        trace = torch.einsum("dk,bkl,dl->b", self.W, S, self.W)
        return -0.5 * (
            self.data_dim * (LOG_2PI + self.sigma2.log()) + ((r**2).sum(1) + trace) / self.sigma2
        )

    def kl_to_prior(
        self,
        q_mean: torch.Tensor,
        q_logvar: torch.Tensor | None = None,
        q_cov: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """KL(q || N(0, I)) in closed form -> ``(B,)``: (tr S + ||m||^2 - K - log det S) / 2."""
        S = self._q_cov(q_mean, q_logvar, q_cov)
        if q_logvar is not None:
            return gaussian_kl(q_mean, q_logvar)
        trace = S.diagonal(dim1=-2, dim2=-1).sum(-1)
        return 0.5 * (trace + (q_mean**2).sum(1) - self.latent_dim - torch.logdet(S))

    def elbo(
        self,
        x: torch.Tensor,
        q_mean: torch.Tensor,
        q_logvar: torch.Tensor | None = None,
        q_cov: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Exact ELBO = E_q[log p(x|z)] - KL(q || p(z)) -> ``(B,)`` for a Gaussian q(z|x) with a
        diagonal (``q_logvar``) or full (``q_cov``) covariance."""
        return self.expected_log_likelihood(x, q_mean, q_logvar, q_cov) - self.kl_to_prior(
            q_mean, q_logvar, q_cov
        )

    def elbo_mc(
        self,
        x: torch.Tensor,
        q_mean: torch.Tensor,
        q_logvar: torch.Tensor,
        n_samples: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Monte Carlo ELBO, the mean of log p(x, z_s) - log q(z_s|x) over z_s ~ q -> ``(B,)``."""
        self._q_cov(q_mean, q_logvar, None)
        eps = torch.randn(
            check_positive_int("n_samples", n_samples),
            *q_mean.shape,
            generator=generator,
            dtype=q_mean.dtype,
        )
        z = q_mean + (0.5 * q_logvar).exp() * eps  # (S, B, K)
        return (self.log_joint(x, z) - log_normal(z, q_mean, q_logvar)).mean(0)


class PPCAFit(NamedTuple):
    """Maximum-likelihood parameters of probabilistic PCA: W ``(D, K)``, b ``(D,)``, sigma2."""

    W: torch.Tensor
    b: torch.Tensor
    sigma2: torch.Tensor


def ppca_ml(x: torch.Tensor, latent_dim: int) -> PPCAFit:
    """Tipping and Bishop's (1999) closed-form maximum of sum_i log N(x_i; b, W W^T + sigma^2 I)
    (notebook 05): b = the data mean; with S = the data covariance (divided by N) and its
    eigenvalues l_1 >= ... >= l_D with eigenvectors U, sigma^2 = mean(l_{K+1..D}) and
    W = U_K (L_K - sigma^2 I)^(1/2) (unique up to a rotation of the latent space)."""
    check_tensor("x", x, ndim=2)
    n, d = x.shape
    check_positive_int("latent_dim", latent_dim)
    if not latent_dim < d or n < 2:
        raise ValueError(
            f"need latent_dim < D and at least 2 points, got latent_dim={latent_dim}, "
            f"x of shape {tuple(x.shape)}"
        )
    b = x.mean(0)
    evals, evecs = torch.linalg.eigh((x - b).T @ (x - b) / n)
    evals, evecs = evals.flip(0), evecs.flip(1)  # largest first
    sigma2 = evals[latent_dim:].mean()
    W = evecs[:, :latent_dim] * (evals[:latent_dim] - sigma2).clamp_min(0).sqrt()
    return PPCAFit(W, b, sigma2)
