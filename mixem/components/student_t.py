"""Multivariate Student t components with full scale matrices, fitted by ECM.

A t component is a Gaussian whose covariance is divided by a latent scale ``u ~ Gamma(nu / 2,
nu / 2)`` drawn per row. Given the current parameters, the E-step's expected scale of row ``i``
under component ``k`` is ``u_ik = (nu_k + d) / (nu_k + delta_ik)`` with ``delta_ik`` the squared
Mahalanobis distance of the row, so the statistics depend on the current parameters: they come
from :meth:`StudentT.statistics` at the current parameters, and at a start (without
parameters) it takes every ``u = 1`` (Gaussian moments) and ``nu = DOF_START``.

The M-step is one cycle of ECM (McLachlan and Peel, 2000, *Finite Mixture Models*, section 7.5):
CM-1 updates means and scale matrices with rows weighted by ``r u``; CM-2 updates the degrees of
freedom by solving their score equation (eq. 7.31). Both maximise the expected complete-data
log-likelihood over their block, so the log-likelihood never decreases.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np
from scipy.linalg.lapack import dtrtri
from scipy.optimize import brentq
from scipy.special import betaln, digamma, gammaln
from scipy.stats import f as f_distribution

from mixem.components.family import Components, Family
from mixem.components.gaussian import _cholesky, _collapsed_full, _param
from mixem.components.stats import GaussianStats, Stats

__all__ = ["DOF_MAX", "DOF_MIN", "DOF_START", "StudentT", "StudentTStats"]

#: Range of estimated degrees of freedom. Above 200 a t is indistinguishable from a Gaussian
#: (excess kurtosis 6 / (nu - 4) < 0.031), the likelihood is flat in nu and its root runs off to
#: infinity (on Gaussian data, where every latent scale is near 1): the bound keeps the root finite
#: and the CM-2 bracket closed. Below 0.5 the tails are so heavy that a component can spread
#: over all the data as a background; fixed smaller values remain possible (``with_dof``).
#: Both bounds are documented on the family's page.
#: The expected log-likelihood is concave in nu, so the clipped root is the constrained
#: maximiser and ECM stays monotone.
DOF_MIN = 0.5
DOF_MAX = 200.0

#: Degrees of freedom of a start. A start has no latent scales to learn them from (every
#: ``u = 1``, whose own root is ``nu = inf``); from 200, ECM took twice the iterations (kmeans++
#: starts on three t clusters with 3 dof, 600 rows: 325 against 147 on average), and the
#: near-Gaussian components of the first iterations chase outlying rows.
DOF_START = 10.0

_LOG_PI = float(np.log(np.pi))


class StudentTStats(Stats):
    """Statistics of ECM for Student t components.

    Arrays (leading axis over components): ``weight = sum_i r_ik u_ik``, the ``r u``-weighted
    ``mean`` and centred ``scatter`` (merged with Chan's update, as :class:`GaussianStats`),
    ``count = sum_i r_ik`` (the scatter's divisor) and ``dof_term = sum_i r_ik (log u_ik - u_ik +
    psi((nu_k + d) / 2) - log((nu_k + d) / 2))``, the row sums of CM-2's equation. Counts and
    ``dof_term`` merge by addition.
    """

    def __init__(
        self,
        weight: np.ndarray,
        mean: np.ndarray,
        scatter: np.ndarray,
        count: np.ndarray,
        dof_term: np.ndarray,
    ) -> None:
        self.gaussian = GaussianStats(weight, mean, scatter)
        self.count = np.asarray(count, dtype=np.float64)
        self.dof_term = np.asarray(dof_term, dtype=np.float64)

    @classmethod
    def from_data(
        cls, X: np.ndarray, resp: np.ndarray, scales: np.ndarray, offset: np.ndarray
    ) -> StudentTStats:
        """Statistics of rows ``X`` (n, d) with responsibilities ``resp`` and scales ``u``.

        ``scales`` is ``u`` of shape (n, k); ``offset`` is ``psi((nu + d) / 2) - log((nu + d) /
        2)`` of shape (k,), the part of ``E[log u]`` that is not ``log u``.
        """
        g = GaussianStats.from_data(X, resp * scales, full=True)
        count = resp.sum(axis=0)
        dof_term = np.einsum("ik,ik->k", resp, np.log(scales) - scales) + count * offset
        return cls(g.weight, g.mean, g.scatter, count, dof_term)

    def merge(self, other: StudentTStats) -> StudentTStats:
        """Chan's update of the weighted moments; counts and ``dof_term`` add."""
        g = self.gaussian.merge(other.gaussian)
        return StudentTStats(
            g.weight, g.mean, g.scatter, self.count + other.count, self.dof_term + other.dof_term
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``weight``, ``mean``, ``scatter``, ``count`` and ``dof_term``."""
        return {**self.gaussian.arrays(), "count": self.count, "dof_term": self.dof_term}


def solve_dof(mean_term: np.ndarray) -> np.ndarray:
    """CM-2: the degrees of freedom that solve McLachlan and Peel's eq. 7.31, clipped.

    ``mean_term`` is ``dof_term / count`` per component; the equation is ``-psi(nu / 2) +
    log(nu / 2) + 1 + mean_term = 0``, whose left side decreases in ``nu``.
    """

    def score(nu: float, c: float) -> float:
        return float(-digamma(nu / 2) + np.log(nu / 2) + 1.0 + c)

    out = np.empty(mean_term.shape)
    for j, c in enumerate(mean_term):
        if score(DOF_MAX, c) >= 0:
            out[j] = DOF_MAX
        elif score(DOF_MIN, c) <= 0:
            out[j] = DOF_MIN
        else:
            out[j] = brentq(score, DOF_MIN, DOF_MAX, args=(c,), xtol=1e-12, rtol=1e-14)
    return out


@dataclasses.dataclass(frozen=True)
class StudentT(Family):
    """Multivariate Student t components, each with its own full scale matrix and dof.

    ``StudentT()`` (or the class) estimates every component's degrees of freedom;
    ``StudentT(dof=nu)`` (or ``StudentT.with_dof(nu)``) fixes them at ``nu`` for every
    component.

    Parameters
    ----------
    dof : float, optional
        Positive, finite degrees of freedom shared by every component (``1`` is the Cauchy
        distribution); by default they are estimated.

    Notes
    -----
    Components hold ``means`` ``(k, d)`` (the locations, the means when ``dof > 1``),
    ``covariances`` ``(k, d, d)`` (symmetric positive-definite scale matrices ``Sigma``; the
    covariance is ``dof / (dof - 2) Sigma`` when ``dof > 2``; scipy's
    ``multivariate_t(shape=...)``) and, when estimated, ``dof`` ``(k,)``; ``components.dof``
    reads them in either case. Build them with ``StudentT().components(means=..., covariances=...,
    dof=...)``.

    Fitted by ECM (see the module docstring): the E-step's statistics
    (:class:`StudentTStats`, at the current parameters) are the ``r u``-weighted moments,
    ``sum_i r_ik`` and the row sums of the dof equation. CM-1: ``mean = sum r u x / sum r u``,
    ``Sigma = sum r u (x - mean)(x - mean)^T / sum r + reg_covar I``; CM-2 solves
    ``-psi(nu / 2) + log(nu / 2) + 1 + dof_term / count = 0`` by Brent's method in
    ``[DOF_MIN, DOF_MAX] = [0.5, 200]`` (clipped to the bounds when the root lies beyond). A
    start has ``u = 1`` everywhere, so it is a Gaussian fit, with ``dof = DOF_START = 10``. Free
    parameters: ``k (d + d (d + 1) / 2)``, plus ``k`` when the degrees of freedom are
    estimated.
    """

    dof: float | None = None

    derived = {"dof": "dof_of", "mahalanobis": "_mahalanobis_of"}  # noqa: RUF012

    def __post_init__(self) -> None:
        nu = self.dof
        if nu is None:
            return
        if isinstance(nu, bool) or not isinstance(nu, numbers.Real):
            raise TypeError(f"dof must be a number, got {nu!r}")
        if not (np.isfinite(nu) and nu > 0):
            raise ValueError(f"dof must be positive and finite, got {nu!r}")
        object.__setattr__(self, "dof", float(nu))

    @classmethod
    def with_dof(cls, dof: float) -> StudentT:
        """``StudentT(dof=dof)``: degrees of freedom fixed at ``dof`` for every component."""
        return cls(dof=dof)

    @property
    def param_dims(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Dimension names of ``means``, ``covariances`` and (when estimated) ``dof``."""
        dims = {
            "means": ("component", "feature"),
            "covariances": ("component", "feature", "feature_bis"),
        }
        return dims if self.dof is not None else {**dims, "dof": ("component",)}

    def dof_of(self, params: Components) -> np.ndarray:
        """Degrees of freedom of every component, shape ``(k,)`` (also when fixed)."""
        if self.dof is None:
            return params.params()["dof"]
        out = np.full(params.means.shape[0], self.dof)
        out.setflags(write=False)
        return out

    def _prepared(self, params: Components) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cholesky factors, their inverses and the log normalising constants (cached)."""

        def prepare() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            chol = _cholesky(params.covariances, "covariances")
            # LAPACK's triangular inverse, as GaussianFull: rows are whitened by a product.
            inv_chol = np.stack([dtrtri(c, lower=1)[0] for c in chol])
            nu, d = self.dof_of(params), params.means.shape[1]
            log_norm = (
                # log G((nu + d) / 2) - log G(nu / 2), without the cancellation of the two
                # log-gammas at large nu (B(x, a) = G(x) G(a) / G(x + a)): exact as nu grows to
                # the Gaussian limit.
                gammaln(d / 2)
                - betaln(nu / 2, d / 2)
                - 0.5 * d * (np.log(nu) + _LOG_PI)
                - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            )
            return chol, inv_chol, log_norm

        return params.cached("student_t", prepare)

    def mahalanobis(self, params: Components, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances ``delta_ik`` under the scale matrices, shape ``(n, k)``."""
        _, inv_chol, _ = self._prepared(params)
        means = params.means
        # Every row is centred exactly on each component's location before whitening.
        Xt = np.ascontiguousarray(X.T)
        out = np.empty((means.shape[0], X.shape[0]))
        for j in range(means.shape[0]):
            y = inv_chol[j] @ (Xt - means[j][:, None])
            np.einsum("dc,dc->c", y, y, out=out[j])
        return out.T

    def _mahalanobis_of(self, params: Components) -> Any:
        return lambda X: self.mahalanobis(params, X)

    def moments(self, params: Components) -> tuple[np.ndarray, np.ndarray]:
        """Means and covariance matrices ``nu / (nu - 2) Sigma``, which exist for ``nu > 2``.

        Raises :class:`~mixem.components.family.MissingCapability` if a component has
        ``nu <= 2`` (its covariance is infinite).
        """
        nu = self.dof_of(params)
        if np.any(nu <= 2):
            raise self._missing("moments where dof <= 2 (the covariance is infinite)")
        return params.means, params.covariances * (nu / (nu - 2))[:, None, None]

    def elliptical(self, params: Components) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Means, scale matrices, and ``d F(d, nu_j)`` for component ``j``.

        Under component ``j`` the squared Mahalanobis distance in its scale matrix,
        ``delta = (x - mu)' Sigma^{-1} (x - mu)``, is ``d`` times an F(d, nu_j) variable.
        """
        d = params.means.shape[1]
        radial = [f_distribution(d, float(nu), scale=d) for nu in self.dof_of(params)]
        return params.means, params.covariances, radial

    # -- the contract ---------------------------------------------------------------------
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        _, _, log_norm = self._prepared(params)
        nu, d = self.dof_of(params), params.means.shape[1]
        return log_norm - 0.5 * (nu + d) * np.log1p(self.mahalanobis(params, X) / nu)

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> StudentTStats:
        """ECM's statistics: rows weighted by ``r u`` at ``params``; ``u = 1`` at a start.

        At a start the first M-step gives the Gaussian moments (weighted means and
        covariances) and, when the degrees of freedom are estimated, ``dof = DOF_START`` (10):
        the ``dof_term`` carries the ``E[log u]`` offset for which CM-2's root is that value.
        """
        if params is None:
            # With u = 1, log u - u = -1; the offset makes CM-2's root exactly DOF_START.
            half = DOF_START / 2
            offset = np.full(resp.shape[1], digamma(half) - np.log(half))
            return StudentTStats.from_data(X, resp, np.ones_like(resp), offset)
        nu, d = self.dof_of(params), params.means.shape[1]
        scales = (nu + d) / (nu + self.mahalanobis(params, X))
        half = (nu + d) / 2
        return StudentTStats.from_data(X, resp, scales, digamma(half) - np.log(half))

    def m_step(
        self,
        stats: StudentTStats,
        *,
        reg_covar: float = 0.0,
        previous: Components | None = None,
    ) -> dict[str, np.ndarray]:
        """One ECM cycle: CM-1 (locations and scale matrices), then CM-2 (dof, if estimated)."""
        bad = np.flatnonzero(~((stats.count > 0) & (stats.gaussian.weight > 0)))
        if bad.size:
            raise ValueError(
                f"component {bad[0]} has zero total responsibility; its parameters are undefined"
            )
        g = stats.gaussian
        cov = g.scatter / stats.count[:, None, None]
        d = cov.shape[-1]
        cov.reshape(cov.shape[0], -1)[:, :: d + 1] += reg_covar
        out = {"means": np.array(g.mean), "covariances": cov}
        if self.dof is None:
            out["dof"] = solve_dof(stats.dof_term / stats.count)
        return out

    def n_parameters(self, params: Components) -> int:
        """``k (d + d (d + 1) / 2)``, plus ``k`` when the dof are estimated."""
        k, d = params.means.shape
        return k * (d + d * (d + 1) // 2) + (k if self.dof is None else 0)

    # -- capabilities ------------------------------------------------------------------
    def n_features(self, params: Components) -> int:
        """Columns of ``means``."""
        return int(params.means.shape[1])

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Locations, positive-definite scale matrices and (when estimated) positive dof."""
        names = {"means", "covariances"} | ({"dof"} if self.dof is None else set())
        if set(arrays) != names:
            if self.dof is None and set(arrays) == {"means", "covariances"}:
                raise TypeError(
                    "StudentT needs dof (shape (k,)); for degrees of freedom fixed at nu use "
                    "StudentT(dof=nu)"
                )
            if self.dof is not None and "dof" in arrays:
                raise TypeError(
                    f"{self.label} has its degrees of freedom fixed at {self.dof:g}; do not "
                    "pass dof"
                )
            raise ValueError(f"{self.label} takes parameters {sorted(names)}, got {sorted(arrays)}")
        means = _param(arrays["means"], "means", 2, (None, None))
        k, d = means.shape
        covs = _param(arrays["covariances"], "covariances", 3, (k, d, d))
        out = {"means": means, "covariances": covs}
        if self.dof is None:
            dof = _param(arrays["dof"], "dof", 1, (k,))
            bad = np.flatnonzero(~(dof > 0))
            if bad.size:
                raise ValueError(f"dof[{bad[0]}] must be positive, got {dof[bad[0]]:g}")
            out["dof"] = dof
        _cholesky(covs, "covariances")
        return out

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        chol, _, _ = self._prepared(params)
        nu, means = self.dof_of(params), params.means
        parts = []
        for j, c in enumerate(np.asarray(counts, dtype=int)):
            z = rng.standard_normal((c, means.shape[1])) @ chol[j].T
            u = rng.chisquare(nu[j], size=c) / nu[j]
            parts.append(means[j] + z / np.sqrt(u)[:, None])
        return np.concatenate(parts, axis=0)

    def min_count(self, n_features: int) -> float:
        """A full scale matrix needs ``d + 1`` rows to be non-singular."""
        return float(n_features + 1)

    def collapsed(self, stats: StudentTStats) -> np.ndarray:
        """Components with a feature constant up to rounding, or a singular correlation."""
        return _collapsed_full(stats.gaussian)

    def spurious(self, params: Components, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components on ``d`` or fewer rows, or flat down to the regulariser (as GaussianFull)."""
        eig = np.linalg.eigvalsh(params.covariances)
        smallest, largest = eig[:, 0], eig[:, -1]
        flat = smallest - reg_covar <= np.maximum(reg_covar, 1e-10 * largest)
        return (np.asarray(counts, dtype=float) < params.means.shape[1] + 1) | flat

    def check_data(self, X: np.ndarray) -> None:
        """Reject constant features: their scale is zero in every component."""
        if X.shape[0] > 1:
            const = np.flatnonzero(np.ptp(X, axis=0) == 0)
            if const.size:
                raise ValueError(
                    f"X feature {int(const[0])} is constant (every value {X[0, const[0]]:g}); "
                    "a t mixture cannot estimate its scale: drop it"
                )

    def floats_per_row(self, n_features: int) -> int:
        """Centred and whitened copies of the rows, and the scatter kernel's weighted rows."""
        return 4 * n_features
