"""Stacks of several fits' components, scored and updated as one component stack.

The engine runs many fits of one family on one data set at once (the starts of a search, the
moves of a split-and-merge round): ``B`` fits of ``k`` components become one stack of ``B * k``
components, so one ``log_prob``, one ``statistics`` and one M-step serve all of them instead of
``B`` Python-level calls each. A family takes part by returning a :class:`Stack` from
:meth:`Family._stack` (the default does for families with ``stackable = True``: every
parameter has a leading component axis and every component's statistics are its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mixem.components.family import Components, Family, updated, with_params
from mixem.components.stats import GaussianStats, Stats

__all__ = ["Stack", "TiedStack"]


def _slice_stats(stats: Stats, rows: slice) -> Stats:
    return type(stats)(**{name: a[rows] for name, a in stats.arrays().items()})


class Stack:
    """``B`` fits of ``k`` components of one stackable family, as one stack of ``B * k``.

    Parameters
    ----------
    family : Family
    stacked : Components
        The ``B * k`` components, fit ``b`` holding components ``b * k`` to ``(b + 1) * k``.
    k : int
        Components per fit.
    """

    def __init__(self, family: Family, stacked: Components, k: int) -> None:
        self.family = family
        self.stacked = stacked
        self.k = k

    @classmethod
    def of(cls, components: Sequence[Components]) -> Stack:
        """The stack of ``components`` (one per fit, the same family and size)."""
        first = components[0]
        stacked = with_params(
            first,
            {
                name: np.concatenate([c.params()[name] for c in components])
                for name in first.params()
            },
        )
        return cls(first.family, stacked, first.n_components)

    @property
    def n_fits(self) -> int:
        """B, the number of fits."""
        return self.stacked.n_components // self.k

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log densities of every row under every stacked component, shape ``(n, B * k)``."""
        return self.stacked.log_prob(X)

    def statistics(self, X: np.ndarray, resp: np.ndarray) -> Stats:
        """E-step statistics of all stacked components (``resp`` is ``(n, B * k)``)."""
        return self.stacked.expected_statistics(X, resp)

    def collapsed(self, stats: Stats) -> np.ndarray:
        """The family's collapse test on every stacked component, ``(B * k,)``."""
        return np.asarray(self.family.collapsed(stats), dtype=bool)

    def m_step(self, stats: Stats, reg_covar: float) -> Stack:
        """The M-step of every fit at once."""
        return type(self)(self.family, updated(self.family, stats, reg_covar, self.stacked), self.k)

    def fit_statistics(self, stats: Stats, b: int) -> Stats:
        """Fit ``b``'s share of stacked statistics, as its family's own statistics."""
        return _slice_stats(stats, slice(b * self.k, (b + 1) * self.k))

    def component(self, b: int) -> Components:
        """Fit ``b``'s components."""
        rows = slice(b * self.k, (b + 1) * self.k)
        return with_params(self.stacked, {n: v[rows] for n, v in self.stacked.params().items()})

    def select(self, fits: np.ndarray) -> Stack:
        """The stack of the fits ``fits`` only."""
        rows = (fits[:, None] * self.k + np.arange(self.k)).ravel()
        return type(self)(
            self.family,
            with_params(self.stacked, {n: v[rows] for n, v in self.stacked.params().items()}),
            self.k,
        )


class TiedStack(Stack):
    """Fits of :class:`~mixem.GaussianTied` (EEE): each fit's components share its covariance.

    The stack scores them as full-covariance components (each fit's covariance repeated for its
    ``k`` components) and pools each fit's centred scatter in the M-step.
    """

    @classmethod
    def of(cls, components: Sequence[Any]) -> TiedStack:
        """The stack of tied fits."""
        from mixem.components.gaussian_models import Gaussian

        k = components[0].n_components
        means = np.concatenate([c.means for c in components])
        covs = np.concatenate(
            [np.broadcast_to(c.covariances, (k, *c.covariances.shape)) for c in components]
        )
        full = Components(Gaussian("VVV"), {"means": means, "covariances": covs})
        return cls(components[0].family, full, k)

    def statistics(self, X: np.ndarray, resp: np.ndarray) -> Stats:
        """Per-component centred scatters, pooled per fit in the M-step."""
        return GaussianStats.from_data(X, resp, full=True)

    def collapsed(self, stats: Stats) -> np.ndarray:
        """A shared covariance collapses with its fit, never one component: nothing is flagged."""
        return np.zeros(stats.weight.shape[0], dtype=bool)

    def m_step(self, stats: Stats, reg_covar: float) -> TiedStack:
        """Every fit's means and pooled covariance."""
        B, k = self.n_fits, self.k
        d = stats.mean.shape[1]
        weight = stats.weight.reshape(B, k)
        if np.any(~(weight > 0)):
            j = int(np.flatnonzero(~(stats.weight > 0))[0])
            raise ValueError(
                f"component {j % k} has zero total responsibility; its parameters are undefined"
            )
        pooled = stats.scatter.reshape(B, k, d, d).sum(axis=1) / weight.sum(axis=1)[:, None, None]
        pooled.reshape(B, -1)[:, :: d + 1] += reg_covar
        covs = np.repeat(pooled, k, axis=0)
        stacked = with_params(self.stacked, {"means": np.array(stats.mean), "covariances": covs})
        return type(self)(self.family, stacked, k)

    def fit_statistics(self, stats: Stats, b: int) -> Stats:
        """Fit ``b``'s statistics, as its family computes them (per-component scatters)."""
        return _slice_stats(stats, slice(b * self.k, (b + 1) * self.k))

    def component(self, b: int) -> Any:
        """Fit ``b``'s components."""
        rows = slice(b * self.k, (b + 1) * self.k)
        return Components(
            self.family,
            {
                "means": self.stacked.means[rows],
                "covariances": self.stacked.covariances[b * self.k],
            },
        )

    def select(self, fits: np.ndarray) -> TiedStack:
        """The stack of the fits ``fits`` only."""
        rows = (fits[:, None] * self.k + np.arange(self.k)).ravel()
        stacked = with_params(
            self.stacked,
            {"means": self.stacked.means[rows], "covariances": self.stacked.covariances[rows]},
        )
        return type(self)(self.family, stacked, self.k)


def stack_of(components: Sequence[Components]) -> Stack | None:
    """The stack of one family's components of several fits, or None if it cannot stack."""
    family: Any = components[0].family
    return family._stack(components)
