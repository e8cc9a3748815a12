"""Standard errors and intervals of a fitted mixture's parameters.

Two methods, both label-aligned with the fit:

- ``"bootstrap"``: the spread of weighted likelihood bootstrap draws
  (:func:`mixem.bootstrap.weighted_bootstrap`), with percentile intervals;
- ``"observed"``: the inverse of the observed information, the Hessian of the log-likelihood
  at the fit computed by :func:`statsmodels.tools.numdiff.approx_hess3`, with Wald intervals.

Every element of a family's :meth:`~mixem.Component.params` is one parameter, except that a
symmetric ``(feature, feature_bis)`` matrix counts its lower triangle only. The observed
information treats those elements, and the first ``K - 1`` weights, as free coordinates; it is
computed only when their number equals the model's :attr:`~mixem.MixtureResult.n_parameters`
(a family whose parameters satisfy equality constraints, such as probabilities summing to one,
gets bootstrap errors only). The parameters of a family without free parameters (the box of
:class:`~mixem.UniformNoise`, which is the data's) are held fixed: their standard error is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from mixem.components.family import family_name, with_params
from mixem.em.passes import chunk_rows, iter_log_prob, log_sum_exp
from mixem.exceptions import FitError

if TYPE_CHECKING:
    import pandas as pd

    from mixem.bootstrap import BootstrapDraws
    from mixem.components.base import Component
    from mixem.result import MixtureResult

__all__ = [
    "MAX_INFORMATION_PARAMETERS",
    "Entry",
    "bootstrap_table",
    "observed_table",
    "parameter_entries",
]

#: Largest number of free parameters for which the observed information is computed: its
#: Hessian costs about ``2 p**2`` passes over the data.
MAX_INFORMATION_PARAMETERS = 120
#: Finite-difference step, in units of a parameter's approximate standard error.
_STEP = 1e-3


@dataclass(frozen=True)
class Entry:
    """One scalar parameter.

    ``family`` is None for a mixing weight; ``component`` is the model-wide component number
    (None for a parameter shared by a family's components, such as a tied covariance), and
    ``coordinate`` names the other axes (features), ``""`` when there are none. ``name``
    carries the family's prefix in a model of several families; ``key`` is the name in the
    family's :meth:`~mixem.Component.params`.
    """

    label: str
    family: int | None
    name: str
    index: tuple[int, ...]
    symmetric: bool
    component: int | None
    coordinate: str
    key: str


def _symmetric(dims: tuple[str, ...]) -> bool:
    return "feature" in dims and "feature_bis" in dims


def parameter_entries(result: MixtureResult) -> list[Entry]:
    """Every scalar parameter of ``result``, weights first, then each family's in order."""
    from mixem._arviz import family_labels

    features = list(result.feature_names) if result.feature_names else None

    def coordinate(dim: str, i: int) -> str:
        return features[i] if features and dim in ("feature", "feature_bis") else str(i)

    out = [
        Entry(f"weights[{k}]", None, "weights", (k,), False, k, "", "weights")
        for k in range(result.n_components)
    ]
    first = 0
    for f, (comp, (prefix, _)) in enumerate(
        zip(result.components, family_labels(result), strict=True)
    ):
        for name, value in comp.params().items():
            dims = comp.param_dims.get(name, ())
            value = np.asarray(value)
            named = dims if len(dims) == value.ndim else ("",) * value.ndim
            sym = _symmetric(named)
            for idx in np.ndindex(value.shape):
                if sym and idx[named.index("feature")] < idx[named.index("feature_bis")]:
                    continue  # the upper triangle repeats the lower one
                where = ", ".join(coordinate(dim, i) for dim, i in zip(named, idx, strict=True))
                component = first + idx[named.index("component")] if "component" in named else None
                other = ", ".join(
                    coordinate(dim, i)
                    for dim, i in zip(named, idx, strict=True)
                    if dim != "component"
                )
                out.append(
                    Entry(
                        f"{prefix}{name}[{where}]",
                        f,
                        prefix + name,
                        idx,
                        sym,
                        component,
                        other,
                        name,
                    )
                )
        first += comp.n_components
    return out


def _estimates(result: MixtureResult, entries: list[Entry]) -> np.ndarray:
    params = [c.params() for c in result.components]
    return np.array(
        [
            result.weights[e.index]
            if e.family is None
            else np.asarray(params[e.family][e.key])[e.index]
            for e in entries
        ],
        dtype=np.float64,
    )


def _frame(
    entries: list[Entry],
    estimate: np.ndarray,
    se: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    method: str,
    level: float,
) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "estimate": estimate,
            "se": se,
            "lower": lower,
            "upper": upper,
            "name": [e.name for e in entries],
            "component": pd.array([e.component for e in entries], dtype="Int64"),
            "coordinate": [e.coordinate for e in entries],
        },
        index=pd.Index([e.label for e in entries], name="parameter"),
    )
    frame.attrs.update(method=method, level=level)
    return frame


def bootstrap_table(result: MixtureResult, draws: BootstrapDraws, level: float) -> pd.DataFrame:
    """Standard deviations and percentile intervals of label-aligned bootstrap draws."""
    entries = parameter_entries(result)
    columns = []
    for e in entries:
        source = draws.weights if e.family is None else draws.params[e.family][e.key]
        columns.append(source[(slice(None), *e.index)])
    values = np.stack(columns, axis=1)
    tail = 50.0 * (1.0 - level)
    lower, upper = np.percentile(values, [tail, 100.0 - tail], axis=0)
    se = values.std(axis=0, ddof=1) if values.shape[0] > 1 else np.full(len(entries), np.nan)
    return _frame(entries, _estimates(result, entries), se, lower, upper, "bootstrap", level)


class _Likelihood:
    """The log-likelihood of the training rows as a function of the free parameter vector."""

    def __init__(self, result: MixtureResult, X: np.ndarray, sample_weight: np.ndarray | None):
        self.result = result
        self.X = X
        self.w = sample_weight
        # A family without free parameters (a noise component's box, which is the data's) is
        # held fixed: the likelihood is not a smooth function of it.
        self.entries = [
            e
            for e in parameter_entries(result)
            if e.family is not None and result.components[e.family].n_parameters() > 0
        ]
        self.K = result.n_components
        self.chunk = chunk_rows(
            X.shape[1],
            [c.family for c in result.components],
            self.K,
            result.spec.get("chunk_size"),
        )
        self.theta = np.concatenate(
            [result.weights[: self.K - 1], _estimates(result, self.entries)]
        )

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, list[Component]]:
        weights = np.append(theta[: self.K - 1], 1.0 - theta[: self.K - 1].sum())
        params = [
            {k: np.array(v, dtype=np.float64) for k, v in c.params().items()}
            for c in self.result.components
        ]
        for e, value in zip(self.entries, theta[self.K - 1 :], strict=True):
            params[e.family][e.key][e.index] = value
            if e.symmetric:
                dims = self.result.components[e.family].param_dims[e.key]
                i, j = dims.index("feature"), dims.index("feature_bis")
                mirror = list(e.index)
                mirror[i], mirror[j] = mirror[j], mirror[i]
                params[e.family][e.key][tuple(mirror)] = value
        comps = [with_params(c, p) for c, p in zip(self.result.components, params, strict=True)]
        return weights, comps

    def __call__(self, theta: np.ndarray) -> float:
        weights, comps = self.unpack(theta)
        if np.any(weights <= 0):
            raise FloatingPointError("a weight left (0, 1)")
        total = 0.0
        for rows, logp in iter_log_prob(self.X, np.log(weights), comps, self.chunk):
            ll = log_sum_exp(logp)
            total += float(ll.sum() if self.w is None else self.w[rows] @ ll)
        return total


def _curvature(f: _Likelihood, theta: np.ndarray, base: float) -> np.ndarray:
    """Minus the diagonal second derivatives, by central differences with adapted steps.

    A step is adapted until it is ``_STEP`` of the standard error the curvature implies, so the
    result does not depend on the data's units or offset (a mean of 1e8 with unit spread is
    stepped in units of its spread). A step whose second difference drowns in rounding (a
    parameter near 0 started with a tiny step) is enlarged; one that leaves the parameter
    space is shrunk. NaN marks a parameter in which the log-likelihood is not curved downwards.
    """
    rounding = 1e3 * np.finfo(np.float64).eps * max(1.0, abs(base))
    out = np.full(theta.size, np.nan)
    for j in range(theta.size):
        h = 1e-4 * max(abs(theta[j]), 1e-8)
        for _ in range(12):
            e = np.zeros_like(theta)
            e[j] = h
            try:
                second = f(theta + e) - 2.0 * base + f(theta - e)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                h /= 100.0  # the step left the parameter space
                continue
            if not np.isfinite(second):
                h /= 100.0
                continue
            if abs(second) < rounding:
                h *= 100.0  # rounding noise: the step is too small to see the curvature
                continue
            if second > 0:
                out[j] = np.nan  # curved upwards: not a maximum in this parameter
                break
            c = -second / h**2
            out[j] = c
            target = _STEP / np.sqrt(c)
            if 0.1 < target / h < 10.0:
                break
            h = target
    return out


def observed_table(
    result: MixtureResult, X: np.ndarray, sample_weight: np.ndarray | None, level: float
) -> pd.DataFrame:
    """Standard errors from the inverse observed information, with Wald intervals.

    Raises
    ------
    FitError
        When the model has more than :data:`MAX_INFORMATION_PARAMETERS` free parameters, when
        a family's parameters are not free coordinates, or when the information is not positive
        definite (the fit is not a strict local maximum, or a parameter is on its boundary).
    """
    from statsmodels.tools.numdiff import approx_hess3

    f = _Likelihood(result, X, sample_weight)
    p = f.theta.size
    if p != result.n_parameters:
        families = ", ".join(family_name(c.family) for c in result.components)
        raise FitError(
            f"observed information needs free parameters; the parameters of [{families}] are "
            f"{p} numbers for {result.n_parameters} free parameters (a constraint such as "
            "probabilities summing to one); use the bootstrap"
        )
    if p > MAX_INFORMATION_PARAMETERS:
        raise FitError(
            f"observed information of {p} parameters would take about {2 * p * p} passes over "
            f"the data (limit {MAX_INFORMATION_PARAMETERS} parameters); use the bootstrap"
        )
    base = f(f.theta)
    curvature = _curvature(f, f.theta, base)
    if not np.all(np.isfinite(curvature) & (curvature > 0)):
        labels = [f"weights[{k}]" for k in range(result.n_components - 1)]
        labels += [e.label for e in f.entries]
        bad = labels[int(np.flatnonzero(~(curvature > 0))[0])]
        raise FitError(
            "the log-likelihood is not curved downwards in every parameter at the fit (e.g. "
            f"{bad}): not a strict local maximum, or a parameter on its boundary; the observed "
            "information has no inverse; use the bootstrap"
        )
    scale = 1.0 / np.sqrt(curvature)

    def scaled(v: np.ndarray) -> float:
        return f(f.theta + v * scale)

    try:
        hess = approx_hess3(np.zeros(p), scaled, epsilon=_STEP) / np.outer(scale, scale)
        np.linalg.cholesky(-hess)
        cov = np.linalg.inv(-hess)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as err:
        # A step left the parameter space (a flat direction made the step huge), or the
        # Hessian is not negative definite.
        raise FitError(
            "the observed information is not positive definite: the fit is not a strict local "
            "maximum (a flat direction, e.g. a superfluous component); use the bootstrap"
        ) from err
    K = result.n_components
    # The last weight is 1 minus the others: its variance is the sum of their covariances.
    gradient = np.zeros((K, p))
    gradient[: K - 1, : K - 1] = np.eye(K - 1)
    gradient[K - 1, : K - 1] = -1.0
    var_weights = np.einsum("ip,pq,iq->i", gradient, cov, gradient)
    free = np.sqrt(np.concatenate([var_weights, np.diag(cov)[K - 1 :]]))
    entries = parameter_entries(result)
    by_entry = dict(zip([e for e in entries if e.family is None] + f.entries, free, strict=True))
    se = np.array([by_entry.get(e, np.nan) for e in entries])  # NaN: held fixed
    estimate = _estimates(result, entries)
    z = stats.norm.ppf(0.5 + level / 2.0)
    return _frame(entries, estimate, se, estimate - z * se, estimate + z * se, "observed", level)


def check_method(method: Any) -> str:
    """Validate a standard-error method name."""
    if method not in ("bootstrap", "observed"):
        raise ValueError(f"method must be 'bootstrap' or 'observed', got {method!r}")
    return method


def check_level(level: Any) -> float:
    """Validate an interval level in (0, 1)."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = np.nan
    if not 0.0 < value < 1.0:
        raise ValueError(f"level must be a number in (0, 1), e.g. 0.95; got {level!r}")
    return value
