"""A family with a hyperparameter, as a value: negative binomial counts of a fixed dispersion.

Each component models every column as an independent negative binomial count with its own
mean ``mu`` and a dispersion ``r`` fixed for the family (variance ``mu + mu^2 / r``; as ``r``
grows it becomes the Poisson). ``NegativeBinomial(dispersion=2.0)`` is a value: it holds ``r``,
compares equal to another with the same ``r``, saves as its class name and ``{"dispersion":
2.0}``, and pickles for ``select(n_jobs=2)``'s worker processes. It states only its log
density, its statistics, its M-step and its parameter count (and, optionally, how to sample
and which data it accepts); everything else comes from :class:`mixem.Family`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

import mixem


@dataclasses.dataclass(frozen=True)
class NegativeBinomial(mixem.Family):
    """Independent negative binomial counts per column, dispersion ``r`` fixed."""

    dispersion: float = 1.0
    # Hard starts give a component means of 0 on columns where its rows are all 0: a little
    # responsibility from every row keeps every mean positive, as for the Poisson.
    start_smoothing = 1e-3
    discrete = True
    param_dims = {"means": ("component", "feature")}

    def __post_init__(self) -> None:
        if not self.dispersion > 0:
            raise ValueError(f"dispersion must be positive, got {self.dispersion!r}")

    def log_prob(self, params, X):
        r = self.dispersion
        p = r / (r + params.means)  # (k, d)
        return stats.nbinom.logpmf(X[:, None, :], r, p[None]).sum(axis=2)

    def statistics(self, X, resp, params=None):
        return mixem.AdditiveStats(weight=resp.sum(axis=0), total=resp.T @ X)

    def m_step(self, stats, *, reg_covar=0.0, previous=None):
        if not np.all(stats.weight > 0):
            raise ValueError("a component has no responsibility; its means are undefined")
        return {"means": stats.total / stats.weight[:, None]}

    def n_parameters(self, params):
        return params.means.size

    def sample(self, params, counts, rng):
        r = self.dispersion
        rows = [
            rng.negative_binomial(r, r / (r + mu), size=(c, mu.size)).astype(float)
            for mu, c in zip(params.means, counts, strict=True)
        ]
        return np.concatenate(rows)

    def check_data(self, X):
        if np.any(X < 0) or np.any(X != np.round(X)):
            raise ValueError("X must hold non-negative integer counts")


if __name__ == "__main__":
    family = NegativeBinomial(dispersion=2.0)
    truth = family.components(means=[[2.0, 10.0], [15.0, 1.0]])
    X = truth.sample(np.array([300, 200]), np.random.default_rng(0))
    result = mixem.MixtureModel(family, n_components=2, random_state=0).fit(X)
    print(result.summary())
    study = mixem.select(X, range(1, 4), components=[family], n_jobs=2, random_state=0)
    print(study.summary())
