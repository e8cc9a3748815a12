"""Sufficient statistics that merge.

A statistics object holds arrays with a leading axis over the ``k`` stacked components. Merging
two of them (``a + b``) gives the statistics of the union of their rows; the merge is associative
and commutative, and an empty chunk or a component with zero weight is safe. This is what lets
one M-step serve in-memory, chunked and streaming fits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

import numpy as np
from scipy.linalg.blas import dsyrk

#: Shortcut kernels centre rows on one shared point; their rounding error grows as
#: eps * (distance to that point / sd)^2. A component farther than sqrt(FAR) standard deviations
#: from it is recomputed exactly, centred on its own mean, keeping errors below about 1e-10.
FAR = 1e6

#: From this many features on, the Gaussian kernels switch to what measured faster for wide rows
#: (benchmarks/ at d = 100 against d = 2 and 10): BLAS's symmetric and triangular routines for
#: full covariances (half the flops of dense products), and row layout, without a transposing
#: copy, for the diagonal kernels.
BLAS_MIN_FEATURES = 32

#: Below ``BLAS_MIN_FEATURES``, the full-covariance kernels treat all components at once on a
#: ``(k, d, n)`` stack of centred rows, in blocks of components whose stack holds at most this
#: many floats (2 MiB). The engine sizes row chunks for about three floats per component and
#: row, the stack takes ``d``: with 150 components at d = 10 and 20, one 8 MiB stack ran three
#: times slower than blocks of 0.25 to 2 MiB (which ran alike).
STACK_FLOATS = 1 << 18

_TINY = float(np.finfo(np.float64).tiny)

__all__ = ["Stats", "AdditiveStats", "CategoricalStats", "GaussianStats", "PooledGaussianStats"]


class Stats(ABC):
    """Base class of mergeable sufficient statistics.

    Subclasses implement :meth:`merge` and :meth:`arrays`; their constructor must accept the
    keyword arguments that :meth:`arrays` returns.
    """

    @abstractmethod
    def merge(self, other: Self) -> Self:
        """Return the statistics of the union of the rows behind ``self`` and ``other``."""

    @abstractmethod
    def arrays(self) -> dict[str, np.ndarray]:
        """Named arrays, each with a leading axis over components."""

    def __add__(self, other: Self) -> Self:
        return self.merge(other)

    def replace(self, mask: np.ndarray, other: Self) -> Self:
        """Return a copy whose components where ``mask`` is true come from ``other``."""
        mask = np.asarray(mask, dtype=bool)
        mine, theirs = self.arrays(), other.arrays()
        new = {}
        for name, arr in mine.items():
            m = mask.reshape(mask.shape + (1,) * (arr.ndim - 1))
            new[name] = np.where(m, theirs[name], arr)
        return type(self)(**new)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.arrays().items())
        return f"{type(self).__name__}({shapes})"


class AdditiveStats(Stats):
    """Statistics that merge by plain addition (counts, weighted sums).

    Exact for discrete families and for sums that do not cancel. Pass any named arrays with a
    leading component axis::

        AdditiveStats(weight=resp.sum(0), total=resp.T @ X)

    The arrays are available as attributes (``stats.weight``, ``stats.total``).
    """

    def __init__(self, **arrays: np.ndarray) -> None:
        if not arrays:
            raise ValueError("AdditiveStats needs at least one named array")
        self._arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_arrays"][name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no array {name!r}") from None

    def merge(self, other: AdditiveStats) -> AdditiveStats:
        """Add every array of ``other`` to the matching array of ``self``."""
        if self._arrays.keys() != other._arrays.keys():
            raise ValueError(
                f"cannot merge statistics with arrays {sorted(self._arrays)} "
                f"and {sorted(other._arrays)}"
            )
        return AdditiveStats(**{k: v + other._arrays[k] for k, v in self._arrays.items()})

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the named arrays."""
        return dict(self._arrays)


def _safe(weight: np.ndarray) -> np.ndarray:
    """``weight`` with its zeros replaced by 1, a divisor that leaves empty components at 0.

    The same as ``np.where(weight > 0, weight, 1.0)`` for non-negative weights, in one
    arithmetic pass instead of a ``where`` (which cost several times as much at these sizes).
    """
    return weight + (weight <= 0)


def _blocks(n_components: int, X: np.ndarray) -> list[slice]:
    """Slices of components whose ``(m, d, n)`` stack of rows holds at most STACK_FLOATS."""
    step = max(1, STACK_FLOATS // max(X.size, 1))
    return [slice(lo, lo + step) for lo in range(0, n_components, step)]


def _second_pass(Xt: np.ndarray, Rt: np.ndarray, weight: np.ndarray, guess: np.ndarray):
    """Means refined by a pass over the rows centred on a first estimate ``guess`` (m, d).

    A first pass about a shared row errs by eps times the distance to that row; a raw sum of
    the rows, by eps times their magnitude (an ulp of 1e8 on offset data). About ``guess`` the
    error is eps times the component's own spread. ``Xt`` is (d, n), ``Rt`` (m, n).
    """
    mean = np.empty_like(guess)
    for block in _blocks(guess.shape[0], Xt):
        diff = Xt - guess[block, :, None]
        shift = np.matmul(diff, Rt[block, :, None])[:, :, 0]
        mean[block] = guess[block] + shift / weight[block, None]
    return mean


def _scatter_matrices(Xt: np.ndarray, Rt: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Scatter matrices ``(m, d, d)`` of the rows centred on each component's own mean.

    All components at once on a ``(m, d, n)`` stack (rows last: the products run across
    rows), in blocks of components that bound its size. ``Xt`` is (d, n), ``Rt`` (m, n).
    """
    out = np.empty((mean.shape[0], Xt.shape[0], Xt.shape[0]))
    for block in _blocks(mean.shape[0], Xt):
        diff = Xt - mean[block, :, None]  # exact on offset data
        weighted = diff * Rt[block, None, :]
        np.matmul(weighted, np.swapaxes(diff, 1, 2), out=out[block])
    return out


def _scatter_diagonals(Xt: np.ndarray, Rt: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Per-feature scatter ``(m, d)`` of the rows centred on each component's own mean."""
    out = np.empty(mean.shape)
    for block in _blocks(mean.shape[0], Xt):
        diff = Xt - mean[block, :, None]
        diff *= diff
        out[block] = np.matmul(diff, Rt[block, :, None])[:, :, 0]
    return out


def _chan(a: GaussianStats | PooledGaussianStats, b: GaussianStats | PooledGaussianStats):
    """Merged weights and means, the mean difference, and the scatter cross-term factor."""
    n = a.weight + b.weight
    safe = np.where(n > 0, n, 1.0)
    delta = b.mean - a.mean
    return n, a.mean + delta * (b.weight / safe)[:, None], delta, a.weight * b.weight / safe


class GaussianStats(Stats):
    """Weight, weighted mean and centred scatter of each component.

    ``scatter`` is ``(k, d, d)`` (full scatter matrices), ``(k, d)`` (per-feature scatter, for
    diagonal covariances) or ``(k, 1)`` (its sum over features, for spherical ones). Merging
    uses Chan's pairwise update, so no raw sums of ``x x^T`` are ever formed: on data offset by
    1e8 those cancel catastrophically.
    """

    def __init__(self, weight: np.ndarray, mean: np.ndarray, scatter: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scatter = np.asarray(scatter, dtype=np.float64)

    @classmethod
    def from_data(
        cls, X: np.ndarray, resp: np.ndarray, *, full: bool, pool_features: bool = False
    ) -> GaussianStats:
        """Compute the statistics of rows ``X`` with responsibilities ``resp`` of shape (n, k).

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Data rows.
        resp : ndarray of shape (n, k)
            Non-negative weights of every row for every component.
        full : bool
            Whether to keep full ``(d, d)`` scatter matrices or only their diagonals.
        pool_features : bool
            With ``full=False``, keep only the diagonal's sum, shape ``(k, 1)`` (enough for a
            spherical covariance, and one matrix product cheaper).
        """
        # Rows along the last axis: products over rows are single matrix products.
        Rt = np.ascontiguousarray(resp.T)
        weight = np.add.reduce(Rt, axis=1)
        live = weight > 0
        safe = _safe(weight)
        # Means about a row of the chunk, as the diagonal kernels below: offsets cancel before
        # the rows are summed. A raw sum of rows offset by 1e8 rounds at that magnitude, and a
        # last-bit change of the responsibilities could move a mean by a whole ulp of the
        # offset (1e-8 of a unit variance), so that two fits one rounding apart drifted apart.
        n, d = X.shape
        ref = X[n // 2] if n else np.zeros(d)
        if full:
            # An empty component's mean is 0 (its sums are 0), so merges with it stay exact.
            mean = Rt @ (X - ref)
            mean /= safe[:, None]
            mean += ref * live[:, None]
            if d >= BLAS_MIN_FEATURES:
                scatter = np.empty((Rt.shape[0], d, d))
                root = np.sqrt(Rt)
                for j in range(Rt.shape[0]):
                    # Centred on the component's own weighted mean: exact on offset data.
                    diff = X - mean[j]
                    diff *= root[j][:, None]
                    lower = dsyrk(1.0, diff.T, lower=1)  # upper triangle left at zero
                    np.add(lower, lower.T, out=scatter[j])
                    scatter[j].flat[:: d + 1] *= 0.5
            else:
                scatter = _scatter_matrices(np.ascontiguousarray(X.T), Rt, mean)
            return cls(weight, mean, scatter)
        # Diagonal scatter of all components from one product, about the same row: offsets
        # cancel first; the rounding error is eps * (distance to that row / sd)^2.
        if pool_features and d >= BLAS_MIN_FEATURES:
            z = X - ref
            first = Rt @ z
            second = (Rt @ np.einsum("cd,cd->c", z, z))[:, None]
        elif d >= BLAS_MIN_FEATURES:  # wide rows: row layout, no transposing copy
            z = X - ref
            first = Rt @ z
            z *= z
            second = Rt @ z
        else:
            zz = np.empty((2 * d, n))
            z = np.subtract(X.T, ref[:, None], out=zz[:d])
            np.multiply(z, z, out=zz[d:])
            sums = Rt @ zz.T  # narrow rows: one product, even when pooled afterwards
            first, second = sums[:, :d], sums[:, d:]
            if pool_features:
                second = np.add.reduce(second, axis=1, keepdims=True)
        first /= safe[:, None]
        squares = first * first
        if pool_features:
            squares = np.add.reduce(squares, axis=1, keepdims=True)
        scatter = second - weight[:, None] * squares
        # An empty component's mean is 0, as in the full branch, so merges stay exact.
        mean = first + ref * live[:, None]
        var = scatter / safe[:, None]
        far = squares > FAR * np.maximum(var, _TINY)
        if far.any():
            # Too far from the row for the shortcut: a second pass about the shortcut's means,
            # then squares about those, for all such components at once.
            idx = np.flatnonzero(np.logical_or.reduce(far, axis=1) & live)
            Xt = np.ascontiguousarray(X.T)
            mean[idx] = _second_pass(Xt, Rt[idx], weight[idx], mean[idx])
            exact = _scatter_diagonals(Xt, Rt[idx], mean[idx])
            scatter[idx] = np.add.reduce(exact, axis=1, keepdims=True) if pool_features else exact
        return cls(weight, mean, np.maximum(scatter, 0.0))

    def merge(self, other: GaussianStats) -> GaussianStats:
        """Chan's pairwise update of weight, mean and centred scatter."""
        n, mean, delta, f = _chan(self, other)
        if self.scatter.ndim == 3:
            cross = f[:, None, None] * delta[:, :, None] * delta[:, None, :]
        elif self.scatter.shape[1] == 1:  # diagonal pooled over features
            cross = f[:, None] * np.einsum("kd,kd->k", delta, delta)[:, None]
        else:
            cross = f[:, None] * delta * delta
        return GaussianStats(n, mean, self.scatter + other.scatter + cross)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``weight``, ``mean`` and ``scatter``."""
        return {"weight": self.weight, "mean": self.mean, "scatter": self.scatter}


class PooledGaussianStats(Stats):
    """Per-component weight and mean, and one within-component scatter pooled over components.

    Enough for a covariance shared by all components, at the cost of one ``(d, d)`` product per
    chunk instead of one per component. ``scatter`` is ``sum_k sum_i r_ik (x_i - m_k)(x_i -
    m_k)^T``, merged with Chan's update summed over components.
    """

    def __init__(self, weight: np.ndarray, mean: np.ndarray, scatter: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scatter = np.asarray(scatter, dtype=np.float64)

    @classmethod
    def from_data(cls, X: np.ndarray, resp: np.ndarray) -> PooledGaussianStats:
        """Statistics of rows ``X`` (n, d) with responsibilities ``resp`` (n, k)."""
        Rt = np.ascontiguousarray(resp.T)
        weight = np.add.reduce(Rt, axis=1)
        live = weight > 0
        ref = X[X.shape[0] // 2] if X.shape[0] else np.zeros(X.shape[1])
        z = X.T - ref[:, None]
        # Total scatter about the chunk mean minus the between-component part: offsets cancel
        # first; the rounding error is eps * (spread of the means / sd)^2.
        first = Rt @ z.T
        first /= _safe(weight)[:, None]
        total = (z * np.add.reduce(Rt, axis=0)) @ z.T
        within = total - (first.T * weight) @ first
        mean = first + ref * live[:, None]  # an empty component's mean is 0
        between = weight @ (first * first)
        if (between > FAR * np.maximum(np.diagonal(within), _TINY)).any():
            # Means far apart in units of the spread: pool exactly centred scatters instead,
            # about means refined by a second pass.
            idx = np.flatnonzero(live)
            Xt = np.ascontiguousarray(X.T)
            mean[idx] = _second_pass(Xt, Rt[idx], weight[idx], mean[idx])
            within = np.add.reduce(_scatter_matrices(Xt, Rt[idx], mean[idx]), axis=0)
        return cls(weight, mean, 0.5 * (within + within.T))

    def merge(self, other: PooledGaussianStats) -> PooledGaussianStats:
        """Chan's pairwise update, its cross terms summed over components."""
        n, mean, delta, f = _chan(self, other)
        cross = (delta.T * f) @ delta
        return PooledGaussianStats(n, mean, self.scatter + other.scatter + cross)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``weight``, ``mean`` and ``scatter`` (the last without a component axis)."""
        return {"weight": self.weight, "mean": self.mean, "scatter": self.scatter}

    def replace(self, mask: np.ndarray, other: PooledGaussianStats) -> PooledGaussianStats:
        """Take weights and means where ``mask`` from ``other``; add its pooled scatter.

        The replaced components' own share of the pooled scatter cannot be separated out; the
        engine only replaces components with almost no rows, whose share is negligible.
        """
        m = np.asarray(mask, dtype=bool)
        return PooledGaussianStats(
            np.where(m, other.weight, self.weight),
            np.where(m[:, None], other.mean, self.mean),
            self.scatter + other.scatter,
        )


class CategoricalStats(Stats):
    """Total responsibility and weighted level counts of categorical columns.

    ``weight`` is ``(k,)``; ``counts`` is ``(k, d, L)`` with ``counts[c, j, l]`` the weighted
    number of rows with level ``l`` in column ``j``. A chunk's ``L`` is one more than its largest
    code, so chunks may differ in width: merging pads the narrower counts with zeros (levels a
    chunk never saw have count 0), which keeps merges exact, associative and commutative.
    """

    def __init__(self, weight: np.ndarray, counts: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.counts = np.asarray(counts, dtype=np.float64)

    def _widened(self, width: int) -> np.ndarray:
        extra = width - self.counts.shape[2]
        return np.pad(self.counts, ((0, 0), (0, 0), (0, extra))) if extra else self.counts

    def merge(self, other: CategoricalStats) -> CategoricalStats:
        """Add weights and (zero-padded) counts."""
        width = max(self.counts.shape[2], other.counts.shape[2])
        return CategoricalStats(
            self.weight + other.weight, self._widened(width) + other._widened(width)
        )

    def replace(self, mask: np.ndarray, other: CategoricalStats) -> CategoricalStats:
        """Return a copy whose components where ``mask`` is true come from ``other``."""
        width = max(self.counts.shape[2], other.counts.shape[2])
        m = np.asarray(mask, dtype=bool)
        return CategoricalStats(
            np.where(m, other.weight, self.weight),
            np.where(m[:, None, None], other._widened(width), self._widened(width)),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``weight`` and ``counts``."""
        return {"weight": self.weight, "counts": self.counts}
