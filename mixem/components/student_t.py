"""Multivariate Student t components with full scale matrices, fitted by ECM.

A t component is a Gaussian whose covariance is divided by a latent scale ``u ~ Gamma(nu / 2,
nu / 2)`` drawn per row. Given the current parameters, the E-step's expected scale of row ``i``
under component ``k`` is ``u_ik = (nu_k + d) / (nu_k + delta_ik)`` with ``delta_ik`` the squared
Mahalanobis distance of the row, so the statistics depend on the current parameters: they come
from :meth:`StudentT.expected_statistics`, and the class method :meth:`StudentT.statistics` (a
start, without parameters) takes every ``u = 1`` (Gaussian moments) and ``nu = DOF_START``.

The M-step is one cycle of ECM (McLachlan and Peel, 2000, *Finite Mixture Models*, section 7.5):
CM-1 updates means and scale matrices with rows weighted by ``r u``; CM-2 updates the degrees of
freedom by solving their score equation (eq. 7.31). Both maximise the expected complete-data
log-likelihood over their block, so the log-likelihood never decreases.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy.linalg.lapack import dtrtri
from scipy.optimize import brentq
from scipy.special import digamma, gammaln

from mixem.components.base import Component
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


class StudentT(Component):
    """Multivariate Student t components, each with its own full scale matrix and dof.

    ``StudentT`` estimates the degrees of freedom; ``StudentT.with_dof(nu)`` is the family with
    ``nu`` fixed for every component.

    Parameters
    ----------
    means : array-like of shape (k, d)
        Component locations (the means, when ``dof > 1``).
    covariances : array-like of shape (k, d, d)
        Symmetric positive-definite scale matrices ``Sigma`` (the covariance is
        ``dof / (dof - 2) Sigma`` when ``dof > 2``); scipy's ``multivariate_t(shape=...)``.
    dof : array-like of shape (k,)
        Positive degrees of freedom. Not a parameter of the fixed-dof variants, which take
        theirs from the class.

    Notes
    -----
    Fitted by ECM (see the module docstring): the E-step's statistics
    (:class:`StudentTStats`, from :meth:`expected_statistics`) are the ``r u``-weighted moments,
    ``sum_i r_ik`` and the row sums of the dof equation. CM-1: ``mean = sum r u x / sum r u``,
    ``Sigma = sum r u (x - mean)(x - mean)^T / sum r + reg_covar I``; CM-2 solves
    ``-psi(nu / 2) + log(nu / 2) + 1 + dof_term / count = 0`` by Brent's method in
    ``[DOF_MIN, DOF_MAX] = [0.5, 200]`` (clipped to the bounds when the root lies beyond). A
    start has ``u = 1`` everywhere, so it is a Gaussian fit, with ``dof = DOF_START = 10``. Free
    parameters: ``k (d + d (d + 1) / 2)``, plus ``k`` when the degrees of freedom are
    estimated.
    """

    #: The fixed degrees of freedom of a ``with_dof`` variant; None when they are estimated.
    fixed_dof: ClassVar[float | None] = None

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "means": ("component", "feature"),
        "covariances": ("component", "feature", "feature_bis"),
        "dof": ("component",),
    }

    def __init__(self, means: Any, covariances: Any, dof: Any = None) -> None:
        self._means = _param(means, "means", 2, (None, None))
        k, d = self._means.shape
        self._covariances = _param(covariances, "covariances", 3, (k, d, d))
        if self.fixed_dof is None:
            if dof is None:
                raise TypeError(
                    "StudentT needs dof (shape (k,)); for degrees of freedom fixed at nu use "
                    "StudentT.with_dof(nu)"
                )
            self._dof = _param(dof, "dof", 1, (k,))
        else:
            if dof is not None:
                raise TypeError(
                    f"{type(self).__name__} has its degrees of freedom fixed at "
                    f"{self.fixed_dof:g}; do not pass dof"
                )
            self._dof = np.full(k, self.fixed_dof)
            self._dof.setflags(write=False)
        bad = np.flatnonzero(~(self._dof > 0))
        if bad.size:
            raise ValueError(f"dof[{bad[0]}] must be positive, got {self._dof[bad[0]]:g}")
        self._chol = _cholesky(self._covariances, "covariances")
        # LAPACK's triangular inverse, as GaussianFull: rows are whitened by a product.
        self._inv_chol = np.stack([dtrtri(c, lower=1)[0] for c in self._chol])
        nu = self._dof
        self._log_norm = (
            gammaln((nu + d) / 2)
            - gammaln(nu / 2)
            - 0.5 * d * (np.log(nu) + _LOG_PI)
            - np.log(np.diagonal(self._chol, axis1=1, axis2=2)).sum(axis=1)
        )

    @classmethod
    def with_dof(cls, dof: float) -> type[StudentT]:
        """The family of t components whose degrees of freedom are all fixed at ``dof``.

        The class is named ``StudentT[dof=...]``; asking twice for the same value gives the same
        class, and saved models load it by that name.

        Parameters
        ----------
        dof : float
            Positive, finite degrees of freedom (``1`` is the Cauchy distribution).

        Returns
        -------
        type
            A subclass of :class:`StudentT` usable as ``MixtureModel``'s component.
        """
        try:
            nu = float(dof)
        except (TypeError, ValueError) as err:
            raise TypeError(f"dof must be a number, got {dof!r}") from err
        if not (np.isfinite(nu) and nu > 0):
            raise ValueError(f"dof must be positive and finite, got {dof!r}")
        from mixem.components.base import _REGISTRY

        name = f"StudentT[dof={nu!r}]"
        key = f"{StudentT.__module__}.{name}"
        if key in _REGISTRY:
            return _REGISTRY[key]  # type: ignore[return-value]
        dims = {k: v for k, v in StudentT.param_dims.items() if k != "dof"}
        namespace = {
            "__qualname__": name,
            "__module__": StudentT.__module__,
            "__doc__": f"Student t components with degrees of freedom fixed at {nu:g}.",
            "fixed_dof": nu,
            "param_dims": dims,
        }
        return type(name, (StudentT,), namespace)

    @classmethod
    def _variant(cls, config: str) -> type[Component]:
        key, _, value = config.partition("=")
        if cls is StudentT and key == "dof":
            return cls.with_dof(float(value))
        return super()._variant(config)

    @property
    def n_components(self) -> int:
        """Number of stacked components ``k``."""
        return self._means.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features ``d``."""
        return self._means.shape[1]

    @property
    def means(self) -> np.ndarray:
        """Locations, shape ``(k, d)``."""
        return self._means

    @property
    def covariances(self) -> np.ndarray:
        """Scale matrices, shape ``(k, d, d)``."""
        return self._covariances

    @property
    def dof(self) -> np.ndarray:
        """Degrees of freedom, shape ``(k,)`` (also for fixed-dof variants)."""
        return self._dof

    def params(self) -> dict[str, np.ndarray]:
        """``means``, ``covariances`` and, unless fixed by the class, ``dof``."""
        out = {"means": self._means, "covariances": self._covariances}
        if self.fixed_dof is None:
            out["dof"] = self._dof
        return out

    def n_parameters(self) -> int:
        """``k (d + d (d + 1) / 2)``, plus ``k`` when the dof are estimated."""
        k, d = self._means.shape
        return k * (d + d * (d + 1) // 2) + (k if self.fixed_dof is None else 0)

    def mahalanobis(self, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances ``delta_ik`` under the scale matrices, shape ``(n, k)``."""
        # Every row is centred exactly on each component's location before whitening.
        Xt = np.ascontiguousarray(X.T)
        out = np.empty((self.n_components, X.shape[0]))
        for j in range(self.n_components):
            y = self._inv_chol[j] @ (Xt - self._means[j][:, None])
            np.einsum("dc,dc->c", y, y, out=out[j])
        return out.T

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        nu = self._dof
        return self._log_norm - 0.5 * (nu + self.n_features) * np.log1p(self.mahalanobis(X) / nu)

    def _scales(self, X: np.ndarray) -> np.ndarray:
        """E-step latent scales ``u_ik = (nu_k + d) / (nu_k + delta_ik)``, shape ``(n, k)``."""
        nu = self._dof
        return (nu + self.n_features) / (nu + self.mahalanobis(X))

    @classmethod
    def statistics(cls, X: np.ndarray, resp: np.ndarray) -> StudentTStats:
        """Statistics at a start, without current parameters: every latent scale ``u = 1``.

        The first M-step then gives the Gaussian moments (weighted means and covariances) and,
        when the degrees of freedom are estimated, ``dof = DOF_START`` (10): the ``dof_term``
        carries the ``E[log u]`` offset for which CM-2's root is that value.
        """
        # With u = 1, log u - u = -1; the offset makes CM-2's root exactly DOF_START.
        half = DOF_START / 2
        offset = np.full(resp.shape[1], digamma(half) - np.log(half))
        return StudentTStats.from_data(X, resp, np.ones_like(resp), offset)

    def expected_statistics(self, X: np.ndarray, resp: np.ndarray) -> StudentTStats:
        """E-step statistics at the current parameters: rows weighted by ``r u``."""
        half = (self._dof + self.n_features) / 2
        return StudentTStats.from_data(X, resp, self._scales(X), digamma(half) - np.log(half))

    @classmethod
    def from_statistics(cls, stats: StudentTStats, *, reg_covar: float = 0.0) -> Self:
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
        if cls.fixed_dof is not None:
            return cls(g.mean, cov)
        return cls(g.mean, cov, solve_dof(stats.dof_term / stats.count))

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = []
        for j, c in enumerate(np.asarray(counts, dtype=int)):
            z = rng.standard_normal((c, self.n_features)) @ self._chol[j].T
            u = rng.chisquare(self._dof[j], size=c) / self._dof[j]
            parts.append(self._means[j] + z / np.sqrt(u)[:, None])
        return np.concatenate(parts, axis=0)

    @classmethod
    def min_count(cls, n_features: int) -> float:
        """A full scale matrix needs ``d + 1`` rows to be non-singular."""
        return float(n_features + 1)

    @classmethod
    def collapsed(cls, stats: StudentTStats) -> np.ndarray:
        """Components with a feature constant up to rounding, or a singular correlation."""
        return _collapsed_full(stats.gaussian)

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components on ``d`` or fewer rows, or flat down to the regulariser (as GaussianFull)."""
        eig = np.linalg.eigvalsh(self._covariances)
        smallest, largest = eig[:, 0], eig[:, -1]
        flat = smallest - reg_covar <= np.maximum(reg_covar, 1e-10 * largest)
        return (np.asarray(counts, dtype=float) < self.n_features + 1) | flat

    @classmethod
    def check_data(cls, X: np.ndarray) -> None:
        """Reject constant features: their scale is zero in every component."""
        if X.shape[0] > 1:
            const = np.flatnonzero(np.ptp(X, axis=0) == 0)
            if const.size:
                raise ValueError(
                    f"X feature {int(const[0])} is constant (every value {X[0, const[0]]:g}); "
                    "a t mixture cannot estimate its scale: drop it"
                )

    @classmethod
    def floats_per_row(cls, n_features: int) -> int:
        """Centred and whitened copies of the rows, and the scatter kernel's weighted rows."""
        return 4 * n_features
