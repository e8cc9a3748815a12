"""A Poisson component family written against mixem's public contract.

Each component is a product of independent Poisson distributions, one per feature, so a
component is described by one rate per feature. The class below is all a new family needs
(its log density, statistics, M-step and parameter count; sampling and the check of given
parameters are optional capabilities):
mixem's engine does initialisation, restarts, convergence, criteria and prediction.

Run this file to check the family with :func:`mixem.testing.check_component` and fit a
three-component mixture to simulated counts.

It is a demonstration of how to write a family; for real count data use the built-in
:class:`mixem.Poisson`, which also allows a rate of exactly 0 (no ``MIN_RATE`` floor) and
rejects negative or non-integer counts with a clear error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln

import mixem

#: Smallest fitted rate. A component whose rows are all zero in a feature has the maximum
#: likelihood rate 0, and then ``x * log(rate)`` is ``0 * -inf = nan``; the floor keeps
#: ``log_prob`` finite (and the positivity check satisfied).
MIN_RATE = 1e-10


@dataclasses.dataclass(frozen=True)
class PoissonFamily(mixem.Family):
    """Independent Poisson counts per feature: a component is one positive rate per feature.

    The family has no hyperparameters (no fields); its components' parameters are a record
    holding ``rates`` of shape (k, d): ``PoissonFamily().components(rates=...)``.
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {"rates": ("component", "feature")}

    def log_prob(self, params: mixem.Components, X: np.ndarray) -> np.ndarray:
        """``sum_d x log(rate) - rate - log(x!)`` for every row and component, shape (n, k)."""
        rates = params.rates
        return X @ np.log(rates).T - rates.sum(1) - gammaln(X + 1).sum(1)[:, None]

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Any = None
    ) -> mixem.AdditiveStats:
        """Total responsibility and responsibility-weighted counts: exact, merge by addition."""
        return mixem.AdditiveStats(weight=resp.sum(0), total=resp.T @ X)

    def m_step(self, stats: mixem.AdditiveStats, **_: Any) -> dict[str, np.ndarray]:
        """Maximum-likelihood rates ``total / weight`` (reg_covar regularises covariances)."""
        if np.any(stats.weight <= 0):
            raise ValueError("every component needs positive total responsibility")
        return {"rates": np.maximum(stats.total / stats.weight[:, None], MIN_RATE)}

    def n_parameters(self, params: mixem.Components) -> int:
        """One rate per feature and component: ``k * d``."""
        return params.rates.size

    def sample(self, params: mixem.Components, counts: np.ndarray, rng: Any) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = [
            rng.poisson(r, size=(c, r.size)) for r, c in zip(params.rates, counts, strict=True)
        ]
        return np.concatenate(parts, axis=0).astype(np.float64)

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rates of shape (k, d), finite and positive."""
        rates = super().check_params(arrays)["rates"]  # numeric, finite, a component axis
        if rates.ndim != 2 or rates.size == 0 or not np.all(rates > 0):
            raise ValueError(f"rates must be (k, d), finite and positive; got shape {rates.shape}")
        return {"rates": rates}


def poisson_oracle(rates: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Reference log density from scipy.stats, shape (n, k), for ``check_component``."""
    from scipy import stats

    return lambda X: np.stack([stats.poisson.logpmf(X, r).sum(axis=1) for r in rates], axis=1)


if __name__ == "__main__":
    from mixem.testing import check_component

    rng = np.random.default_rng(0)
    true_rates = np.array([[1.0, 2.0], [8.0, 6.0], [25.0, 20.0]])
    true = PoissonFamily().components(rates=true_rates)
    check_component(true, oracle=poisson_oracle(true_rates))
    print("check_component: passed")

    X = true.sample(np.array([600, 900, 1500]), rng)
    result = mixem.MixtureModel(PoissonFamily, n_components=3, random_state=0).fit(X)
    order = np.argsort(result.components[0].rates[:, 0])
    print("converged:", result.converged, "after", result.n_iter, "iterations")
    print("weights:", np.round(result.weights[order], 3), "(true 0.2, 0.3, 0.5)")
    print("rates:\n", np.round(result.components[0].rates[order], 2))
