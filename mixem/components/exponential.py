"""The exponential family of positive data: independent exponential features per component."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from mixem.components.base import Component
from mixem.components.discrete import _first_bad, _weighted_sums, _weights_positive
from mixem.components.gaussian import _param
from mixem.components.stats import AdditiveStats

__all__ = ["Exponential"]


class Exponential(Component):
    """Independent exponential features: ``rate * exp(-rate * x)`` per feature.

    Parameters
    ----------
    rates : array-like of shape (k, d)
        Positive, finite rate (inverse mean) of every feature in every component; scipy's
        ``expon(scale=1 / rate)``.

    Notes
    -----
    Sufficient statistics per component: the total responsibility ``w_k`` and the weighted sums
    ``t_kd = sum_i r_ik x_id``; the M-step is ``rate_kd = w_k / t_kd`` (the inverse of the
    weighted mean). Fitting needs positive data: the density is defined at 0 (it is ``rate``
    there), but a component holding only zeros would have an infinite rate and likelihood, so
    :meth:`check_data` rejects zeros as well as negative values. A negative value has density 0
    under every component. Nothing is flagged spurious: on positive data a component's
    likelihood is bounded by that of rows at its own mean.
    """

    stackable = True

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {"rates": ("component", "feature")}

    def __init__(self, rates: Any) -> None:
        values = _param(rates, "rates", 2, (None, None))
        bad = np.flatnonzero((values <= 0).any(axis=1))
        if bad.size:
            raise ValueError(f"rates[{bad[0]}] must be positive, got {values[bad[0]]}")
        self._rates = values
        self._neg_rates_t = np.ascontiguousarray(-values.T)
        self._log_norm = np.log(values).sum(axis=1)

    @property
    def n_components(self) -> int:
        """Number of stacked components ``k``."""
        return self._rates.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features ``d``."""
        return self._rates.shape[1]

    @property
    def rates(self) -> np.ndarray:
        """Rates, shape ``(k, d)``."""
        return self._rates

    def n_parameters(self) -> int:
        """One rate per component and feature: ``k * d``."""
        return int(self._rates.size)

    def params(self) -> dict[str, np.ndarray]:
        """Return ``{"rates": ...}``."""
        return {"rates": self._rates}

    @classmethod
    def check_data(cls, X: np.ndarray) -> None:
        """Reject zero and negative values."""
        _first_bad(X, X <= 0, "Exponential", "positive data")

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """``sum_d log(rate) - rate x`` of every row and component, shape ``(n, k)``."""
        out = X @ self._neg_rates_t
        out += self._log_norm
        out[(X < 0).any(axis=1)] = -np.inf
        return out

    @classmethod
    def statistics(cls, X: np.ndarray, resp: np.ndarray) -> AdditiveStats:
        """Total responsibility and responsibility-weighted column sums, per component."""
        return _weighted_sums(X, resp)

    @classmethod
    def from_statistics(cls, stats: AdditiveStats, *, reg_covar: float = 0.0) -> Self:
        """Maximum-likelihood rates ``weight / total`` (``reg_covar`` does not apply)."""
        _weights_positive(stats.weight)
        bad = np.argwhere(~(stats.total > 0))
        if bad.size:
            c, j = bad[0]
            raise ValueError(
                f"component {c} has weighted sum 0 in feature {j} (only zeros); its rate is "
                "infinite: Exponential needs positive data"
            )
        return cls(stats.weight[:, None] / stats.total)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = [
            rng.exponential(1.0 / r, size=(c, r.size))
            for r, c in zip(self._rates, np.asarray(counts, dtype=int), strict=True)
        ]
        return np.concatenate(parts, axis=0)
