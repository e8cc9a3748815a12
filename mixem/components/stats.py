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

__all__ = ["Stats", "AdditiveStats", "GaussianStats"]


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


class GaussianStats(Stats):
    """Weight, weighted mean and centred scatter of each component.

    ``scatter`` is ``(k, d, d)`` (full scatter matrices) or ``(k, d)`` (per-feature scatter,
    enough for diagonal and spherical covariances). Merging uses Chan's pairwise update, so no
    raw sums of ``x x^T`` are ever formed: on data offset by 1e8 those cancel catastrophically.
    """

    def __init__(self, weight: np.ndarray, mean: np.ndarray, scatter: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scatter = np.asarray(scatter, dtype=np.float64)

    @classmethod
    def from_data(cls, X: np.ndarray, resp: np.ndarray, *, full: bool) -> GaussianStats:
        """Compute the statistics of rows ``X`` with responsibilities ``resp`` of shape (n, k).

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Data rows.
        resp : ndarray of shape (n, k)
            Non-negative weights of every row for every component.
        full : bool
            Whether to keep full ``(d, d)`` scatter matrices or only their diagonals.
        """
        n, d = X.shape
        k = resp.shape[1]
        weight = resp.sum(axis=0)
        safe = np.where(weight > 0, weight, 1.0)
        mean = (resp.T @ X) / safe[:, None]
        scatter = np.empty((k, d, d) if full else (k, d))
        for j in range(k):
            # Centre on the chunk's own weighted mean before squaring: exact on offset data.
            diff = X - mean[j]
            if full:
                wdiff = diff * np.sqrt(resp[:, j])[:, None]
                scatter[j] = wdiff.T @ wdiff
            else:
                scatter[j] = resp[:, j] @ (diff * diff)
        return cls(weight, mean, scatter)

    def merge(self, other: GaussianStats) -> GaussianStats:
        """Chan's pairwise update of weight, mean and centred scatter."""
        na, nb = self.weight, other.weight
        n = na + nb
        safe = np.where(n > 0, n, 1.0)
        delta = other.mean - self.mean
        mean = self.mean + delta * (nb / safe)[:, None]
        f = na * nb / safe
        if self.scatter.ndim == 3:
            cross = f[:, None, None] * delta[:, :, None] * delta[:, None, :]
        else:
            cross = f[:, None] * delta * delta
        return GaussianStats(n, mean, self.scatter + other.scatter + cross)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``weight``, ``mean`` and ``scatter``."""
        return {"weight": self.weight, "mean": self.mean, "scatter": self.scatter}
