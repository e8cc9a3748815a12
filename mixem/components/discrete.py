"""Discrete component families: Poisson counts, Bernoulli (binary) and categorical columns.

Every family treats the columns of a row as independent given the component (latent-class
analysis). Statistics are exact weighted counts that merge by addition. Log probabilities are
exact at the boundary of the parameter space: a rate of 0 or a probability of 0 or 1 is allowed,
``0 log 0`` is taken as 0, and only a value impossible under a component gets ``-inf`` there.
Values outside a family's support (a negative count, a 2 in a binary column, an unknown
category code) get ``-inf`` under every component, as scipy.stats' ``logpmf`` does; fitting
rejects them first with a message naming the value (:meth:`check_data`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln

from mixem.components.family import Components, Family
from mixem.components.gaussian import _param
from mixem.components.stats import AdditiveStats, CategoricalStats

__all__ = ["Bernoulli", "Categorical", "Poisson"]

#: Uniform share mixed into hard starting assignments (see ``Family.start_smoothing``): a hard
#: partition of binary or categorical rows leaves exact zeros that EM can never leave. On the
#: two-component test families (tests/components/test_families_common.py), k-means++ starts
#: reached the best maximum in 0 of 10 seeds (Categorical) and 6 of 10 (Bernoulli) without it,
#: and in 10 of 10 with any of 0.01, 0.05, 0.1 or 0.2.
START_SMOOTHING = 0.05

#: Tolerance on a categorical probability vector's sum: parameters from the M-step sum to one up
#: to rounding of the weighted counts.
SUM_TOL = 1e-9


def _first_bad(X: np.ndarray, bad: np.ndarray, family: str, expected: str) -> None:
    """Raise a ValueError naming the first entry of ``X`` flagged in ``bad``."""
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"{family} needs {expected}; X has {int(bad.sum())} other values "
            f"(first: {X[row, col]:g} at row {row}, column {col})"
        )


def _non_integer(X: np.ndarray) -> np.ndarray:
    return X != np.floor(X)


def _weights_positive(weight: np.ndarray) -> None:
    bad = np.flatnonzero(~(weight > 0))
    if bad.size:
        raise ValueError(
            f"component {bad[0]} has zero total responsibility; its parameters are undefined"
        )


def _check_range(values: np.ndarray, name: str, low: float, high: float) -> None:
    bad = np.flatnonzero(((values < low) | (values > high)).reshape(values.shape[0], -1).any(1))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] must lie in [{low:g}, {high:g}], got {values[bad[0]]}")


@dataclasses.dataclass(frozen=True)
class _Independent(Family):
    """A ``(k, d)`` parameter array, one value per component and feature."""

    stackable = True
    discrete = True
    start_smoothing = START_SMOOTHING

    #: The parameter array's name; its values must lie in ``_range``.
    _name: ClassVar[str]
    _range: ClassVar[tuple[float, float]]

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> AdditiveStats:
        """Total responsibility and responsibility-weighted column sums, per component."""
        return _weighted_sums(X, resp)

    def n_parameters(self, params: Components) -> int:
        """One free parameter per component and feature: ``k * d``."""
        return int(params.params()[self._name].size)

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One ``(k, d)`` array, its values in the family's range."""
        if set(arrays) != {self._name}:
            raise ValueError(f"{self.label} takes parameters {self._name}, got {sorted(arrays)}")
        values = _param(arrays[self._name], self._name, 2, (None, None))
        _check_range(values, self._name, *self._range)
        return {self._name: values}


def _weighted_sums(X: np.ndarray, resp: np.ndarray) -> AdditiveStats:
    """``weight = sum_i r_ik`` and ``total = sum_i r_ik x_i``, from one matrix product.

    The weight is the product's column of ones, summed in the same order as the data columns:
    a column of ones in ``X`` then has ``total == weight`` exactly, so its fitted probability
    is exactly 1 (a separate ``resp.sum`` differs in the last bits).
    """
    ones = np.empty((X.shape[0], X.shape[1] + 1))
    ones[:, :-1] = X
    ones[:, -1] = 1.0
    sums = resp.T @ ones
    return AdditiveStats(weight=sums[:, -1], total=sums[:, :-1])


@dataclasses.dataclass(frozen=True)
class Poisson(_Independent):
    """Independent Poisson counts per feature.

    A family without hyperparameters: ``mixem.Poisson()`` (the class itself means it). Its
    components hold ``rates`` of shape ``(k, d)``: the non-negative rate (mean count) of every
    feature in every component. A rate of 0 is allowed: that component gives probability 1 to
    a count of 0 and 0 to any other count. Build components with
    ``mixem.Poisson().components(rates=...)``.

    Notes
    -----
    Sufficient statistics per component: the total responsibility ``w_k = sum_i r_ik`` and the
    weighted counts ``t_kd = sum_i r_ik x_id``; the M-step is ``rate_kd = t_kd / w_k``. Nothing
    is flagged spurious: a Poisson probability is at most 1, so no component's likelihood is a
    spike, even on a single row.
    """

    _name = "rates"
    _range = (0.0, np.inf)
    param_dims = {"rates": ("component", "feature")}  # noqa: RUF012 (a ClassVar of the base)

    def check_data(self, X: np.ndarray) -> None:
        """Reject negative or non-integer counts."""
        _first_bad(X, (X < 0) | _non_integer(X), "Poisson", "non-negative integer counts")

    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """``sum_d x log(rate) - rate - log(x!)`` of every row and component, shape ``(n, k)``."""
        zero, log_rates_t, rate_sums = params.cached("poisson", lambda: _poisson(params.rates))
        invalid = ((X < 0) | _non_integer(X)).any(axis=1)
        if invalid.any():  # outside the support: probability 0 under every component
            X = np.where(invalid[:, None], 0.0, X)
        out = X @ log_rates_t
        out -= rate_sums
        out -= gammaln(X + 1.0).sum(axis=1)[:, None]
        if zero.any():
            out[(X > 0) @ zero.T] = -np.inf
        out[invalid] = -np.inf
        return out

    def m_step(
        self, stats: AdditiveStats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> dict[str, np.ndarray]:
        """Maximum-likelihood rates ``total / weight`` (``reg_covar`` does not apply)."""
        _weights_positive(stats.weight)
        return {"rates": stats.total / stats.weight[:, None]}

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = [
            rng.poisson(r, size=(c, r.size))
            for r, c in zip(params.rates, np.asarray(counts, dtype=int), strict=True)
        ]
        return np.concatenate(parts, axis=0).astype(np.float64)


def _poisson(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore"):
        log_rates = np.log(rates)
    zero = rates == 0
    # Where a rate is 0, x log(rate) is 0 for x = 0 and -inf otherwise (added separately).
    return zero, np.ascontiguousarray(np.where(zero, 0.0, log_rates).T), rates.sum(axis=1)


@dataclasses.dataclass(frozen=True)
class Bernoulli(_Independent):
    """Independent binary features: latent-class analysis of 0/1 (or boolean) columns.

    A family without hyperparameters: ``mixem.Bernoulli()`` (the class itself means it). Its
    components hold ``probabilities`` of shape ``(k, d)``: the probability of a 1 in every
    feature and component, in ``[0, 1]``. The bounds are allowed: a probability of 0 (1) makes
    a 1 (0) impossible in that component. Build components with
    ``mixem.Bernoulli().components(probabilities=...)``.

    Notes
    -----
    Sufficient statistics per component: the total responsibility ``w_k`` and the weighted
    counts of ones ``t_kd = sum_i r_ik x_id``; the M-step is ``p_kd = t_kd / w_k``. Boolean
    arrays and DataFrames are accepted (validation turns them into 0.0 and 1.0). Nothing is
    flagged spurious: probabilities are at most 1, so no likelihood is a spike.
    """

    _name = "probabilities"
    _range = (0.0, 1.0)
    param_dims = {"probabilities": ("component", "feature")}  # noqa: RUF012

    def check_data(self, X: np.ndarray) -> None:
        """Reject values other than 0 and 1."""
        _first_bad(X, (X != 0) & (X != 1), "Bernoulli", "binary data (0/1 or bool)")

    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """``sum_d x log p + (1 - x) log(1 - p)`` of every row and component, shape ``(n, k)``."""
        never_one, never_zero, coef_t, offset = params.cached(
            "bernoulli", lambda: _bernoulli(params.probabilities)
        )
        invalid = ((X != 0) & (X != 1)).any(axis=1)
        if invalid.any():
            X = np.where(invalid[:, None], 0.0, X)
        out = X @ coef_t
        out += offset
        if never_one.any():
            out[(X == 1) @ never_one.T] = -np.inf
        if never_zero.any():
            out[(X == 0) @ never_zero.T] = -np.inf
        out[invalid] = -np.inf
        return out

    def m_step(
        self, stats: AdditiveStats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> dict[str, np.ndarray]:
        """Maximum-likelihood probabilities ``total / weight`` (``reg_covar`` does not apply)."""
        _weights_positive(stats.weight)
        # Rounding of the weighted sums can leave a ratio a hair above 1.
        return {"probabilities": np.clip(stats.total / stats.weight[:, None], 0.0, 1.0)}

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = [
            (rng.random((c, p.size)) < p).astype(np.float64)
            for p, c in zip(params.probabilities, np.asarray(counts, dtype=int), strict=True)
        ]
        return np.concatenate(parts, axis=0)


def _bernoulli(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(p), np.log1p(-p)
    # 0 log 0 = 0: impossible values (a 1 where p = 0, a 0 where p = 1) are set apart.
    never_one, never_zero = p == 0, p == 1
    log_p[never_one] = 0.0
    log_q[never_zero] = 0.0
    # x log p + (1 - x) log q = x (log p - log q) + log q: one product for all components.
    return never_one, never_zero, np.ascontiguousarray((log_p - log_q).T), log_q.sum(axis=1)


@dataclasses.dataclass(frozen=True)
class Categorical(Family):
    """Independent categorical columns, each with its own number of levels.

    A family without hyperparameters: ``mixem.Categorical()`` (the class itself means it).
    Data are integer codes ``0 .. L_j - 1`` per column (a pandas DataFrame with categorical
    columns is turned into codes by ``MixtureModel.fit``, which keeps the categories for
    prediction). The number of levels of a column is one more than its largest code in the
    fitted data. Its components hold two arrays (build them with
    ``mixem.Categorical().components(probabilities=..., n_levels=...)``):

    ``probabilities``, shape ``(k, d, L)``
        ``probabilities[c, j, l]`` is the probability of level ``l`` in column ``j`` under
        component ``c``; ``L`` is the largest number of levels. Entries beyond a column's
        levels must be 0, and each column's probabilities must sum to 1 (within 1e-9).
        Probabilities of exactly 0 are allowed.
    ``n_levels``, shape ``(d,)``, optional
        Number of levels ``L_j`` of every column (integers); by default every column has ``L``.

    Notes
    -----
    Sufficient statistics per component: the total responsibility ``w_k`` and the weighted
    level counts ``n_kjl = sum_i r_ik [x_ij = l]``; the M-step is ``p_kjl = n_kjl / w_k``.
    Free parameters: ``k * sum_j (L_j - 1)``. Nothing is flagged spurious.
    """

    start_smoothing = START_SMOOTHING
    discrete = True
    accepts_categories = True
    param_dims = {  # noqa: RUF012 (a ClassVar of the base)
        "probabilities": ("component", "feature", "level"),
        "n_levels": ("feature",),
    }

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Probabilities ``(k, d, L)`` that sum to one per column, and integer ``n_levels``."""
        if not {"probabilities"} <= set(arrays) <= {"probabilities", "n_levels"}:
            raise ValueError(
                f"Categorical takes parameters probabilities and n_levels, got {sorted(arrays)}"
            )
        p = _param(arrays["probabilities"], "probabilities", 3, (None, None, None))
        _check_range(p, "probabilities", 0.0, 1.0)
        k, d, width = p.shape
        n_levels = arrays.get("n_levels")
        if n_levels is None:
            n_levels = np.full(d, width)
        try:
            levels = np.array(n_levels)
        except (TypeError, ValueError) as err:
            raise TypeError(f"n_levels must be an integer array, got {n_levels!r}") from err
        if levels.shape != (d,):
            raise ValueError(f"n_levels must have shape ({d},), got {levels.shape}")
        if levels.dtype.kind not in "iuf" or np.any(levels != np.round(levels)):
            raise ValueError(f"n_levels must be integers, got {levels}")
        levels = levels.astype(np.int64)
        if levels.min() < 1 or levels.max() != width:
            raise ValueError(
                f"n_levels must be at least 1 with largest value probabilities.shape[2] = "
                f"{width}, got {levels}"
            )
        beyond = np.arange(width) >= levels[:, None]  # (d, L): padding
        bad = np.argwhere((p != 0) & beyond)
        if bad.size:
            c, j, level = bad[0]
            raise ValueError(
                f"probabilities[{c}, {j}, {level}] must be 0: column {j} has "
                f"n_levels[{j}] = {levels[j]} levels, got {p[c, j, level]:g}"
            )
        sums = p.sum(axis=2)
        bad = np.argwhere(np.abs(sums - 1.0) > SUM_TOL)
        if bad.size:
            c, j = bad[0]
            raise ValueError(
                f"probabilities[{c}, {j}] must sum to 1 over the levels of column {j}, "
                f"got {sums[c, j]:.12g}"
            )
        return {"probabilities": p, "n_levels": levels}

    def n_features(self, params: Components) -> int:
        """Number of categorical columns ``d``."""
        return int(params.probabilities.shape[1])

    def n_parameters(self, params: Components) -> int:
        """``k * sum_j (L_j - 1)``: each column's probabilities sum to one."""
        return int(params.n_components * (params.n_levels - 1).sum())

    def check_data(self, X: np.ndarray) -> None:
        """Reject negative or non-integer codes, and codes far beyond the levels that occur.

        A column has as many levels as its largest code plus one, and every component a
        probability for each: a code of 2e7 among a few levels would be 2e7 parameters per
        component. Codes may skip levels, up to ``10 * distinct + 100``.
        """
        _first_bad(X, (X < 0) | _non_integer(X), "Categorical", "integer codes 0, 1, 2, ...")
        for j in range(X.shape[1]):
            distinct = np.unique(X[:, j])
            levels = int(distinct[-1]) + 1
            if levels > 10 * distinct.size + 100:
                raise ValueError(
                    f"X column {j}'s codes reach {levels - 1} but only {distinct.size} "
                    f"distinct codes occur: Categorical would give every component {levels} "
                    "levels; recode the column to 0 .. n_levels - 1 (pandas categorical columns "
                    "are recoded for you)"
                )

    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """``sum_j log p[x_j]`` of every row and component, shape ``(n, k)``.

        A code that is not a level of its column (negative, non-integer, or at least
        ``n_levels``) has probability 0 under every component.
        """

        def prepare() -> np.ndarray:
            with np.errstate(divide="ignore"):
                # (d, L, k): the log probabilities of every column's level for all components,
                # -inf for probability 0 (and padding), so that indexing needs no special case.
                return np.ascontiguousarray(np.log(params.probabilities).transpose(1, 2, 0))

        log_p = params.cached("categorical", prepare)
        levels = params.n_levels
        out = np.zeros((X.shape[0], params.n_components))
        for j in range(levels.shape[0]):
            x = X[:, j]
            valid = (x >= 0) & (x < levels[j]) & (x == np.floor(x))
            codes = np.where(valid, x, 0).astype(np.intp)
            out += log_p[j][codes]
            out[~valid] = -np.inf
        return out

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> CategoricalStats:
        """Total responsibility and weighted level counts, as wide as the largest code seen."""
        # Rows without responsibility count for nothing, whatever their codes (zero-weight rows
        # are not validated by fitting).
        keep = resp.sum(axis=1) > 0
        if not keep.all():
            X, resp = X[keep], resp[keep]
        n, d = X.shape
        k = resp.shape[1]
        if n and (X.min() < 0 or np.any(_non_integer(X))):
            raise ValueError("Categorical statistics need integer codes 0, 1, 2, ...")
        codes = X.astype(np.intp)
        width = int(codes.max()) + 1 if n else 0
        counts = np.zeros((k, d, width))
        weight = np.zeros(k)
        Rt = np.ascontiguousarray(resp.T)
        first = np.zeros(n, dtype=np.intp)
        for c in range(k):
            # bincount adds in row order; the weight is summed the same way, so a column with a
            # single level gets a probability of exactly 1.
            weight[c] = np.bincount(first, weights=Rt[c], minlength=1)[0]
            for j in range(d):
                counts[c, j] = np.bincount(codes[:, j], weights=Rt[c], minlength=width)
        return CategoricalStats(weight=weight, counts=counts)

    def m_step(
        self,
        stats: CategoricalStats,
        *,
        reg_covar: float = 0.0,
        previous: Components | None = None,
    ) -> dict[str, np.ndarray]:
        """Level frequencies ``counts / weight`` (``reg_covar`` does not apply).

        A column's levels are those up to its largest code with positive weight.
        """
        _weights_positive(stats.weight)
        seen = stats.counts.sum(axis=0) > 0  # (d, width)
        if not seen.any(axis=1).all():
            raise ValueError("a column has no rows with positive weight")
        levels = seen.shape[1] - np.argmax(seen[:, ::-1], axis=1)
        p = stats.counts[:, :, : levels.max()] / stats.weight[:, None, None]
        return {"probabilities": p, "n_levels": levels.astype(np.int64)}

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        parts = []
        cum = np.cumsum(params.probabilities, axis=2)
        # Dividing by the total makes the last cumulative value exactly 1 > u, so the inverse
        # CDF never lands on padding or on a level of probability 0.
        cum /= cum[:, :, -1:]
        d = cum.shape[1]
        for c, m in enumerate(np.asarray(counts, dtype=int)):
            u = rng.random((m, d))
            draws = [np.searchsorted(cum[c, j], u[:, j], side="right") for j in range(d)]
            parts.append(np.stack(draws, axis=1) if draws else np.empty((m, 0)))
        return np.concatenate(parts, axis=0).astype(np.float64)
