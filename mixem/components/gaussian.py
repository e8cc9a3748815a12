"""Gaussian log-density kernels of the four covariance layouts: full, diagonal, spherical, tied.

The families (:class:`mixem.Gaussian` and its four named models, :class:`mixem.GaussianFull` and
the others, in :mod:`mixem.components.gaussian_models`) hold their parameters in a record and
score rows with the kernel of their layout, one class per layout. Log densities are computed
from Cholesky factors on centred rows
``X - mu`` (never the expanded ``x.x - 2 x.mu + mu.mu``, which cancels on offset data), and the
M-step works from centred scatter statistics merged with Chan's update.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
from scipy.linalg.blas import dtrmm
from scipy.linalg.lapack import dtrtri

from mixem.components.stats import (
    BLAS_MIN_FEATURES,
    FAR,
    STACK_FLOATS,
    GaussianStats,
    PooledGaussianStats,
    _safe,
)

__all__ = ["DiagonalKernel", "FullKernel", "SphericalKernel", "TiedKernel"]

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Relative resolution below which a variance is indistinguishable from zero: rows whose values
#: agree to this many ulps of their magnitude are (near-)identical. Judged per component and
#: per feature, so tight but genuine clusters far from the others are never flagged.
COLLAPSE_ULPS = 64.0
#: A full covariance whose correlation matrix has an eigenvalue below this is singular: the
#: component's rows lie in a lower-dimensional subspace.
COLLAPSE_CORRELATION = 1e-10


_ULPS = COLLAPSE_ULPS * float(np.finfo(np.float64).eps)


def _variance_floor(mean: np.ndarray) -> np.ndarray:
    """Variance of values that differ only by rounding, at the scale of ``mean``."""
    return np.square(_ULPS * mean)


def _param(value: Any, name: str, ndim: int, shape: tuple[int | None, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from err
    expected = "(" + ", ".join("?" if s is None else str(s) for s in shape)
    expected += ",)" if len(shape) == 1 else ")"
    if arr.ndim != ndim or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=False)
    ):
        raise ValueError(f"{name} must have shape {expected}, got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    arr.setflags(write=False)
    return arr


def _check_symmetric(cov: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first matrix of the stack that is not symmetric."""
    sym_err = np.abs(cov - np.swapaxes(cov, -1, -2)).max(axis=(-1, -2))
    scale = np.abs(cov).max(axis=(-1, -2))
    for j in np.flatnonzero(sym_err > 1e-8 * scale):
        raise ValueError(f"{name}[{j}] is not symmetric (largest asymmetry {sym_err[j]:.3g})")


def _factor(cov: np.ndarray, name: str) -> np.ndarray:
    """Lower Cholesky factors of a stack of symmetric matrices, naming the one that fails.

    One LAPACK call for the whole stack; only when it fails are the matrices factored one by
    one, to name the first that is not positive definite. NumPy reads the lower triangles only
    and returns NaN factors, without an error, for matrices holding NaN: callers check the
    factors' diagonals (through the log-determinant) when their input may hold NaN.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        for j in range(cov.shape[0]):
            try:
                np.linalg.cholesky(cov[j])
            except np.linalg.LinAlgError as err:
                smallest = float(np.linalg.eigvalsh(cov[j])[0])
                raise ValueError(
                    f"{name}[{j}] is not positive definite (smallest eigenvalue {smallest:.3g}); "
                    "use fewer components, a larger reg_covar, or rescale the data"
                ) from err
        raise


def _cholesky(cov: np.ndarray, name: str) -> np.ndarray:
    """Lower Cholesky factors of a stack of covariance matrices, naming the one that fails."""
    _check_symmetric(cov, name)
    return _factor(cov, name)


#: Stacks of factors with at most this many rows in all (components times features) are
#: inverted by one batched LU (``np.linalg.inv``); larger ones by forward substitution, whose
#: cost grows with the features but hardly with the components. Measured from d = 2 to 31:
#: LU won below about 100 to 300 rows (d = 4, 3 components: 6 against 14 us), substitution
#: above (d = 2, 300 components: 10 against 53 us).
LU_INVERSE_MAX_ROWS = 128


@functools.cache
def _lower_mask(d: int) -> np.ndarray:
    mask = np.tri(d)
    mask.setflags(write=False)
    return mask


def _inverse_lower(chol: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular matrices, shape ``(m, d, d)``, loop-free in m.

    Small stacks: one batched LU inverse, its upper triangle zeroed (partial pivoting can
    leave rounding noise there). Large stacks: row ``i`` of every inverse at once from the rows
    above it (forward substitution, as LAPACK's unblocked ``dtrti2``), a loop over the ``d``
    rows. Wide factors (``BLAS_MIN_FEATURES``) are inverted one by one by LAPACK's ``dtrtri``.
    """
    m, d, _ = chol.shape
    if d >= BLAS_MIN_FEATURES:
        return np.stack([dtrtri(c, lower=1)[0] for c in chol])
    if m * d <= LU_INVERSE_MAX_ROWS:
        inv = np.linalg.inv(chol)
        inv *= _lower_mask(d)
        return inv
    inv = np.zeros(chol.shape)
    diag = 1.0 / chol.diagonal(0, 1, 2)
    inv.reshape(m, d * d)[:, :: d + 1] = diag
    for i in range(1, d):
        # inv[i, :i] = -(L[i, :i] @ inv[:i, :i]) / L[i, i]
        row = np.matmul(chol[:, i : i + 1, :i], inv[:, :i, :i])[:, 0]
        np.multiply(row, -diag[:, i : i + 1], out=inv[:, i, :i])
    return inv


def _check_positive(values: np.ndarray, name: str) -> None:
    # Subnormal variances are positive but their logarithms and inverses are not finite.
    tiny = np.finfo(np.float64).tiny
    bad = np.flatnonzero(~(values.reshape(values.shape[0], -1).min(axis=1) >= tiny))
    if bad.size:
        raise ValueError(
            f"{name}[{bad[0]}] must be positive (at least {tiny:.3g}), got {values[bad[0]]}; "
            "use fewer components, a larger reg_covar, or rescale the data"
        )


def _check_weights(stats: GaussianStats | PooledGaussianStats) -> None:
    if not np.minimum.reduce(stats.weight, initial=np.inf) > 0:  # also catches NaN
        bad = np.flatnonzero(~(stats.weight > 0))
        raise ValueError(
            f"component {bad[0]} has zero total responsibility; its parameters are undefined"
        )


class _Gaussian:
    """A log-density kernel of Gaussian components: checked means and covariances, factors."""

    def __init__(self, means: Any, covariances: Any) -> None:
        self._means = _param(means, "means", 2, (None, None))
        self._covariances = self._check_covariances(covariances)
        self._prepare()

    @abstractmethod
    def _check_covariances(self, covariances: Any) -> np.ndarray: ...

    @abstractmethod
    def _prepare(self) -> None:
        """Precompute what log_prob needs (factors, precisions, normalising constants)."""

    def _prepared(self) -> bool:
        """Prepare parameters that skipped validation; whether they proved usable.

        The families whose covariances need checks that the factors do not make (positive
        variances) override it. A false answer, or a ``ValueError``, sends the parameters
        through the public constructor, which names the problem.
        """
        self._prepare()
        # NaN or infinite parameters give a non-finite normalising constant: NumPy's Cholesky
        # does not fail on NaN, and an infinite variance is "positive definite".
        return bool(np.isfinite(np.add.reduce(self._log_norm, axis=None)))

    @classmethod
    def _valid(cls, means: np.ndarray, covariances: np.ndarray) -> Self:
        """Components of parameters known to be valid, prepared when first used.

        For the compiled loop's results (:mod:`mixem.em.gaussian_batch`), whose covariances
        passed its own Cholesky factorisation: most runs of a search are only ranked and
        dropped, and preparing every one cost a tenth of a study.
        """
        obj = cls.__new__(cls)
        means.setflags(write=False)
        covariances.setflags(write=False)
        obj._means = means
        obj._covariances = covariances
        obj._lazy = True
        return obj

    def _checked(self) -> Self:
        """Prepare now a component built by :meth:`_valid`; returns it.

        Raises ValueError naming a covariance that is not positive definite, as the
        constructor does.
        """
        if self.__dict__.get("_lazy"):
            self.__dict__["_lazy"] = False
            if not self._prepared():
                type(self)(self._means, self._covariances)
        return self

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: those _prepare sets, on a lazily built component.
        if not name.startswith("__") and self.__dict__.get("_lazy"):
            self.__dict__["_lazy"] = False
            self._prepare()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        """Component means, shape ``(k, d)``."""
        return self._means

    @property
    def covariances(self) -> np.ndarray:
        """Covariances, shaped as scikit-learn's ``covariances_`` for this family."""
        return self._covariances

    @property
    def covariance_matrices(self) -> np.ndarray:
        """Every component's covariance as a full matrix, shape ``(k, d, d)``, for any family."""
        variances = self._variances()
        return variances[:, :, None] * np.eye(self.n_features)

    def _smallest_eigenvalues(self) -> np.ndarray:
        """Smallest eigenvalue of every component's covariance, shape ``(k,)``."""
        return self._variances().min(axis=1)

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components on ``d`` or fewer rows, or flat down to the regulariser.

        "On ``d`` or fewer rows" means fewer than ``d + 1`` effective rows: the responsibility a
        spike on ``d`` points takes from distant rows is not a row of its own. "Flat" means the
        component's own spread in some direction is no larger than ``reg_covar`` (its smallest
        covariance eigenvalue is at most twice ``reg_covar``), or, without regularisation,
        below ``1e-10`` of its largest.
        """
        counts = np.asarray(counts, dtype=float)
        smallest = self._smallest_eigenvalues()
        largest = np.broadcast_to(self._largest_eigenvalues(), smallest.shape)
        flat = smallest - reg_covar <= np.maximum(reg_covar, 1e-10 * largest)
        return (counts < self.n_features + 1) | flat

    def _largest_eigenvalues(self) -> np.ndarray:
        return self._variances().max(axis=1)

    @classmethod
    def check_data(cls, X: np.ndarray) -> None:
        """Reject constant features: their variance is zero in every component."""
        if X.shape[0] > 1:
            const = np.flatnonzero(np.ptp(X, axis=0) == 0)
            if const.size:
                raise ValueError(
                    f"X feature {int(const[0])} is constant (every value {X[0, const[0]]:g}); "
                    "a Gaussian mixture cannot estimate its variance: drop it"
                )


def _collapsed_full(stats: GaussianStats) -> np.ndarray:
    live = stats.weight > 0
    weight = _safe(stats.weight)
    diag = stats.scatter.diagonal(0, 1, 2)
    flat = np.logical_or.reduce(diag / weight[:, None] <= _variance_floor(stats.mean), axis=1)
    # The correlation matrix's eigenvalues sum to d, so none exceeds d and the smallest is at
    # least det / d^(d-1); det = prod_i L_ii^2 / S_ii from the Cholesky factor L of the
    # scatter S (no rescaling needed: the factor of D S D is D L). One batched Cholesky thus
    # clears the components well away from singular; only the others, or all when the
    # factorisation fails, get the eigendecomposition that decides (a margin of 2 keeps the
    # decision the eigenvalue's, however the bound rounds).
    d = diag.shape[1]
    try:
        chol = np.linalg.cholesky(stats.scatter)
    except np.linalg.LinAlgError:
        unclear = np.flatnonzero(live)
    else:
        ratio = np.square(chol.diagonal(0, 1, 2)) / diag
        bound = 2.0 * COLLAPSE_CORRELATION * d ** (d - 1)
        unclear = np.flatnonzero(~(np.multiply.reduce(ratio, axis=1) > bound) & live)
    singular = np.zeros(live.shape, dtype=bool)
    if unclear.size:
        cov = stats.scatter[unclear] / weight[unclear, None, None]
        var = cov.diagonal(0, 1, 2)
        sd = np.sqrt(np.where(flat[unclear, None], 1.0, var))
        corr = cov / sd[:, :, None] / sd[:, None, :]
        singular[unclear] = np.linalg.eigvalsh(corr)[:, 0] < COLLAPSE_CORRELATION
    return (flat | singular) & live


class _CholeskyGaussian(_Gaussian):
    """Gaussians whose covariances are full matrices, evaluated through Cholesky factors."""

    _chol: np.ndarray  # (m, d, d) lower factors; m = k, or 1 when tied

    def _prepare(self) -> None:
        d = self.n_features
        cov = self._covariances.reshape(-1, d, d)
        self._chol = _factor(cov, "covariances")
        self._inv_chol = _inverse_lower(self._chol)
        if d >= BLAS_MIN_FEATURES:  # dtrmm's operands (log_prob's wide branch)
            self._inv_chol_f = [np.asfortranarray(f) for f in self._inv_chol]
        log_diag = np.log(self._chol.diagonal(0, 1, 2))
        self._log_norm = -np.add.reduce(log_diag, axis=1) - 0.5 * d * _LOG_2PI

    @property
    def covariance_matrices(self) -> np.ndarray:
        """Every component's covariance matrix, shape ``(k, d, d)``."""
        d = self.n_features
        return np.broadcast_to(self._covariances.reshape(-1, d, d), (self.n_components, d, d))

    def _eigenvalues(self) -> np.ndarray:
        """Ascending eigenvalues of every covariance factor, shape ``(m, d)``."""
        # Kept: the parameters are read-only, and spurious() asks for both ends.
        ev = self.__dict__.get("_eigen")
        if ev is None:
            d = self.n_features
            ev = self.__dict__["_eigen"] = np.linalg.eigvalsh(self._covariances.reshape(-1, d, d))
        return ev

    def _smallest_eigenvalues(self) -> np.ndarray:
        return np.broadcast_to(self._eigenvalues()[:, 0], (self.n_components,))

    def _largest_eigenvalues(self) -> np.ndarray:
        return np.broadcast_to(self._eigenvalues()[:, -1], (self.n_components,))

    def _factor(self, j: int) -> int:
        return j if self._chol.shape[0] > 1 else 0

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = []
        for j, c in enumerate(np.asarray(counts, dtype=int)):
            z = rng.standard_normal((c, self.n_features))
            parts.append(self._means[j] + z @ self._chol[self._factor(j)].T)
        return np.concatenate(parts, axis=0)


class FullKernel(_CholeskyGaussian):
    """Gaussian components, each with its own full covariance matrix.

    Parameters
    ----------
    means : array-like of shape (k, d)
        Component means.
    covariances : array-like of shape (k, d, d)
        Symmetric positive-definite covariance matrices.
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "means": ("component", "feature"),
        "covariances": ("component", "feature", "feature_bis"),
    }

    def _check_covariances(self, covariances: Any) -> np.ndarray:
        k, d = self._means.shape
        cov = _param(covariances, "covariances", 3, (k, d, d))
        _check_symmetric(cov, "covariances")
        return cov

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        # Every row is centred exactly on each component's mean before whitening.
        out = np.empty((self.n_components, X.shape[0]))
        if self.n_features >= BLAS_MIN_FEATURES:
            for j in range(self.n_components):
                diff = X - self._means[j]
                # Triangular product: half the flops of a dense one once d is large.
                y = dtrmm(1.0, self._inv_chol_f[j], diff.T, lower=1, overwrite_b=1)
                np.einsum("dc,dc->c", y, y, out=out[j])
        else:
            # Small d: all components at once on a (k, d, n) stack (rows last, so reductions
            # over features run across rows), in blocks of components that bound its size.
            Xt = np.ascontiguousarray(X.T)
            step = max(1, STACK_FLOATS // max(X.size, 1))
            for lo in range(0, self.n_components, step):
                block = slice(lo, lo + step)
                diff = Xt - self._means[block, :, None]
                y = np.matmul(self._inv_chol[block], diff)
                np.einsum("kdc,kdc->kc", y, y, out=out[block])  # faster than y * y, then sum
        out *= -0.5
        out += self._log_norm[:, None]
        return out.T

    @classmethod
    def collapsed(cls, stats: GaussianStats) -> np.ndarray:
        """Components with a feature constant up to rounding, or a singular correlation."""
        return _collapsed_full(stats)


class TiedKernel(_CholeskyGaussian):
    """Gaussian components sharing one full covariance matrix.

    Parameters
    ----------
    means : array-like of shape (k, d)
        Component means.
    covariances : array-like of shape (d, d)
        The shared covariance matrix (scikit-learn's ``covariances_`` for ``"tied"``).
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "means": ("component", "feature"),
        "covariances": ("feature", "feature_bis"),
    }

    def _check_covariances(self, covariances: Any) -> np.ndarray:
        d = self._means.shape[1]
        cov = _param(covariances, "covariances", 2, (d, d))
        _check_symmetric(cov[None], "covariances")
        return cov

    def _prepare(self) -> None:
        super()._prepare()
        self._centre = np.add.reduce(self._means, axis=0) / self.n_components
        # Whitened means relative to the centre, (k, d).
        self._white_means = (self._means - self._centre) @ self._inv_chol[0].T
        self._far = np.flatnonzero(
            np.add.reduce(self._white_means * self._white_means, axis=1) > FAR
        )

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        # One whitening of the rows (centred on the mean of the means, so offsets cancel),
        # then |y - b_k|^2 = |y|^2 - 2 b_k.y + |b_k|^2 for all components in one product.
        y = self._inv_chol[0] @ (X.T - self._centre[:, None])
        b = self._white_means
        out = b @ y
        out *= 2.0
        out -= np.add.reduce(y * y, axis=0)  # einsum's set-up cost more at these sizes
        out -= np.add.reduce(b * b, axis=1)[:, None]
        for j in self._far:  # too far from the centre for the expansion: exact distance
            diff = y - b[j][:, None]
            out[j] = -np.einsum("dc,dc->c", diff, diff)
        out *= 0.5
        out += self._log_norm[0]
        return out.T

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components of a covariance flat down to the regulariser; their sizes do not matter.

        The covariance is shared, so a component on a few rows makes no spike: it is a cluster
        with the others' spread (the count rule of the other families does not apply).
        """
        flat = super().spurious(np.full(self.n_components, np.inf), reg_covar)
        return np.broadcast_to(flat, (self.n_components,)).copy()


class _AxisGaussian(_Gaussian):
    """Gaussians with axis-aligned covariances: densities from per-feature variances."""

    def _variances(self) -> np.ndarray:
        """Per-feature variances, shape (k, d)."""
        return np.broadcast_to(self._covariances.reshape(self.n_components, -1), self._means.shape)

    def _prepared(self) -> bool:
        # Variances of zero (no regulariser) or NaN must not reach the logarithm.
        if not np.minimum.reduce(self._covariances, axis=None) > 0:
            return False
        return super()._prepared()

    def _prepare(self) -> None:
        k, d = self._means.shape
        var = self._variances()
        self._precisions = 1.0 / var
        self._log_norm = -0.5 * (np.add.reduce(np.log(var), axis=1) + d * _LOG_2PI)
        self._centre = np.add.reduce(self._means, axis=0) / k  # the mean of the means
        shifted = self._means - self._centre
        scaled = shifted * self._precisions
        # log N = offset_k + coef_k . [z, z^2], one product for all components.
        self._coef = np.concatenate([scaled, -0.5 * self._precisions], axis=1)
        if d >= BLAS_MIN_FEATURES:  # log_prob's wide branch multiplies rows by columns
            self._coef_t = np.ascontiguousarray(self._coef.T)
        # Components too far from the centre for the expansion are evaluated exactly.
        spread = shifted * scaled
        self._far = np.flatnonzero(np.maximum.reduce(spread, axis=1) > FAR)
        self._offset = self._log_norm - 0.5 * np.add.reduce(spread, axis=1)

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        # sum_d p_kd (z_d - m_kd)^2 expanded into two matrix products over all components,
        # with z = x - centre (the mean of the means): offsets cancel before anything is
        # squared, and the rounding error stays eps * (distance to the centre / sd)^2.
        d = self.n_features
        if d >= BLAS_MIN_FEATURES:
            # Wide rows: stay in row layout (no transposing copy); two thin products.
            z = X - self._centre
            out = z @ self._coef_t[:d]
            if self._covariances.ndim == 1:  # spherical: one precision, so sum the squares once
                out += np.einsum("cd,cd->c", z, z)[:, None] * self._coef[:, d]
            else:
                z *= z
                out += z @ self._coef_t[d:]
            out += self._offset
        else:
            zz = np.empty((2 * d, X.shape[0]))
            z = np.subtract(X.T, self._centre[:, None], out=zz[:d])
            np.multiply(z, z, out=zz[d:])
            out = (self._coef @ zz).T
            out += self._offset
        for j in self._far:
            diff = X - self._means[j]
            diff *= diff
            out[:, j] = self._log_norm[j] - 0.5 * (diff @ self._precisions[j])
        return out

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        sd = np.sqrt(self._variances())
        parts = [
            self._means[j] + rng.standard_normal((c, self.n_features)) * sd[j]
            for j, c in enumerate(np.asarray(counts, dtype=int))
        ]
        return np.concatenate(parts, axis=0)

    @classmethod
    def collapsed(cls, stats: GaussianStats) -> np.ndarray:
        """Components with a feature (all features, if spherical) constant up to rounding."""
        floor = _variance_floor(stats.mean)
        if stats.scatter.shape[1] == 1:  # spherical: the variance summed over features
            floor = np.add.reduce(floor, axis=1, keepdims=True)
        flat = stats.scatter / _safe(stats.weight)[:, None] <= floor
        return np.logical_or.reduce(flat, axis=1) & (stats.weight > 0)


class DiagonalKernel(_AxisGaussian):
    """Gaussian components with diagonal covariance matrices.

    Parameters
    ----------
    means : array-like of shape (k, d)
        Component means.
    covariances : array-like of shape (k, d)
        Positive per-feature variances (scikit-learn's ``covariances_`` for ``"diag"``).
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "means": ("component", "feature"),
        "covariances": ("component", "feature"),
    }

    def _check_covariances(self, covariances: Any) -> np.ndarray:
        cov = _param(covariances, "covariances", 2, self._means.shape)
        _check_positive(cov, "covariances")
        return cov

    def _variances(self) -> np.ndarray:
        return self._covariances


class SphericalKernel(_AxisGaussian):
    """Gaussian components with one variance each (covariance ``variance * I``).

    Parameters
    ----------
    means : array-like of shape (k, d)
        Component means.
    covariances : array-like of shape (k,)
        Positive variances (scikit-learn's ``covariances_`` for ``"spherical"``).
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "means": ("component", "feature"),
        "covariances": ("component",),
    }

    def _check_covariances(self, covariances: Any) -> np.ndarray:
        cov = _param(covariances, "covariances", 1, (self._means.shape[0],))
        _check_positive(cov, "covariances")
        return cov


def __getattr__(name: str) -> Any:
    # Files of format version 1 name the four families ``mixem.components.gaussian.<Name>``;
    # they live in gaussian_models (which imports this module), so resolve them lazily.
    if name in ("GaussianFull", "GaussianTied", "GaussianDiagonal", "GaussianSpherical"):
        from mixem.components import gaussian_models

        return getattr(gaussian_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
