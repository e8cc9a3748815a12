"""The exponential family of positive data: independent exponential features per component."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from mixem.components.discrete import _first_bad, _weighted_sums, _weights_positive
from mixem.components.family import Components, Family
from mixem.components.gaussian import _param
from mixem.components.stats import AdditiveStats

__all__ = ["Exponential"]


@dataclasses.dataclass(frozen=True)
class Exponential(Family):
    """Independent exponential features: ``rate * exp(-rate * x)`` per feature.

    A family without hyperparameters: ``mixem.Exponential()`` (or the class itself, which
    means it). Its components have one array, ``rates`` of shape ``(k, d)``: the positive,
    finite rate (inverse mean) of every feature in every component, scipy's
    ``expon(scale=1 / rate)``. Build a stack from rates with
    ``mixem.Exponential().components(rates=...)``.

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

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {"rates": ("component", "feature")}

    # -- the contract ---------------------------------------------------------------------
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """``sum_d log(rate) - rate x`` of every row and component, shape ``(n, k)``."""
        rates = params.rates
        neg_t, log_norm = params.cached(
            "exponential", lambda: (np.ascontiguousarray(-rates.T), np.log(rates).sum(axis=1))
        )
        out = X @ neg_t
        out += log_norm
        out[(X < 0).any(axis=1)] = -np.inf
        return out

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> AdditiveStats:
        """Total responsibility and responsibility-weighted column sums, per component."""
        return _weighted_sums(X, resp)

    def m_step(
        self,
        stats: AdditiveStats,
        *,
        reg_covar: float = 0.0,
        previous: Components | None = None,
    ) -> dict[str, np.ndarray]:
        """Maximum-likelihood rates ``weight / total`` (``reg_covar`` does not apply)."""
        _weights_positive(stats.weight)
        bad = np.argwhere(~(stats.total > 0))
        if bad.size:
            c, j = bad[0]
            raise ValueError(
                f"component {c} has weighted sum 0 in feature {j} (only zeros); its rate is "
                "infinite: Exponential needs positive data"
            )
        return {"rates": stats.weight[:, None] / stats.total}

    def n_parameters(self, params: Components) -> int:
        """One rate per component and feature: ``k * d``."""
        return int(params.rates.size)

    # -- capabilities ------------------------------------------------------------------
    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``rates`` of shape ``(k, d)``, finite and positive."""
        if set(arrays) != {"rates"}:
            raise ValueError(f"Exponential takes parameters rates, got {sorted(arrays)}")
        values = _param(arrays["rates"], "rates", 2, (None, None))
        bad = np.flatnonzero((values <= 0).any(axis=1))
        if bad.size:
            raise ValueError(f"rates[{bad[0]}] must be positive, got {values[bad[0]]}")
        return {"rates": values}

    def check_data(self, X: np.ndarray) -> None:
        """Reject zero and negative values."""
        _first_bad(X, X <= 0, "Exponential", "positive data")

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = [
            rng.exponential(1.0 / r, size=(c, r.size))
            for r, c in zip(params.rates, np.asarray(counts, dtype=int), strict=True)
        ]
        return np.concatenate(parts, axis=0)
