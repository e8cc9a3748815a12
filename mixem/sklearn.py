"""scikit-learn estimators over mixem: :class:`GaussianMixture` and :class:`MixtureEstimator`.

``mixem.sklearn.GaussianMixture`` takes scikit-learn's ``GaussianMixture`` constructor and
follows its algorithm: the same initialisations (``init_params``, drawn from the same
``random_state``), the same convergence test (on the lower bound computed before each M-step,
which stops one M-step after mixem's own test) and the same fitted attributes, so that code
written for scikit-learn runs unchanged, in pipelines, grid searches and ``clone``. Its EM is
mixem's: centred statistics, sample weights, and ``covariance_type`` may also be one of mclust's
fourteen model names. :class:`MixtureEstimator` puts any mixem family behind the same methods,
with mixem's own search and convergence test.

scikit-learn is an optional dependency (``pip install mixem-em[sklearn]``); ``import mixem``
never imports this module.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, DensityMixin
    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover (the extra is installed in the tests)
    raise ImportError(
        "mixem.sklearn needs scikit-learn 1.6 or newer: pip install 'mixem-em[sklearn]'"
    ) from err

import mixem
from mixem.components.gaussian_models import Gaussian
from mixem.exceptions import ConvergenceWarning
from mixem.model import MixtureModel
from mixem.result import MixtureResult

__all__ = ["GaussianMixture", "MixtureEstimator"]

#: scikit-learn's covariance types and the mixem families that fit them.
COVARIANCE_TYPES = {
    "full": mixem.GaussianFull,
    "tied": mixem.GaussianTied,
    "diag": mixem.GaussianDiagonal,
    "spherical": mixem.GaussianSpherical,
}
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


class _ResultMethods(DensityMixin, BaseEstimator):
    """Predictions of a fitted ``result_``: the methods both estimators share."""

    result_: MixtureResult

    def _checked_rows(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_")
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def predict(self, X: Any) -> np.ndarray:
        """The most probable component of every row."""
        rows = self._checked_rows(X)
        return self.result_.predict(rows)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Every row's responsibilities, shape ``(n_samples, n_components)``."""
        rows = self._checked_rows(X)
        return self.result_.predict_proba(rows)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log density of every row under the mixture."""
        rows = self._checked_rows(X)
        return self.result_.score_samples(rows)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row of ``X`` (higher is better)."""
        return float(np.mean(self.score_samples(X)))

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then return the most probable component of every row of ``X``."""
        return self.fit(X, y, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows and their components, as scikit-learn's ``sample``."""
        check_is_fitted(self, "result_")
        if not (isinstance(n_samples, int | np.integer) and n_samples >= 1):
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        return self.result_.sample(int(n_samples), random_state=rng)

    def _n_parameters(self) -> int:
        return int(self.result_.n_parameters)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = self._checked_rows(X).shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X: Any) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        n = self._checked_rows(X).shape[0]
        return -2 * self.score(X) * n + 2 * self._n_parameters()

    def _validated_fit_data(
        self, X: Any, sample_weight: Any, k: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if X.shape[0] < k:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {k}, "
                f"n_samples = {X.shape[0]}"
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        return np.asarray(X, dtype=np.float64), sample_weight


class GaussianMixture(_ResultMethods):
    """scikit-learn's ``GaussianMixture``, fitted by mixem.

    The constructor, the initialisations, the convergence test and the fitted attributes are
    scikit-learn's (see ``sklearn.mixture.GaussianMixture``); given the same starting
    parameters the fit equals scikit-learn's to rounding. What differs: ``covariance_type``
    also takes mclust's model names (``"VEV"``: see :class:`mixem.Gaussian`); ``fit`` takes
    ``sample_weight`` (frequency weights); a component that loses its rows is re-seeded
    instead of ending the fit with an error; ``result_`` holds mixem's
    :class:`~mixem.MixtureResult` (criteria, standard errors, diagnostics, plots).

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "tied", "diag", "spherical"} or an mclust model name
    tol : float, default 1e-3
        Threshold on the change of the lower bound (mean log-likelihood per row).
    reg_covar : float, default 1e-6
    max_iter : int, default 100
    n_init : int, default 1
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default "kmeans"
    weights_init, means_init, precisions_init : array-like, optional
    random_state : int, RandomState instance or None
    warm_start : bool, default False
    verbose : int, default 0
    verbose_interval : int, default 10
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # -- parameters --------------------------------------------------------------------
    def _family(self) -> Gaussian:
        kind = self.covariance_type
        if isinstance(kind, str) and kind in COVARIANCE_TYPES:
            return COVARIANCE_TYPES[kind]()
        try:
            return Gaussian(kind)
        except ValueError:
            raise ValueError(
                "covariance_type must be 'full', 'tied', 'diag', 'spherical' or one of "
                f"mclust's model names such as 'VEV', got {kind!r}"
            ) from None

    def _check_parameters(self) -> None:
        for name, low in (("n_components", 1), ("n_init", 1), ("max_iter", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not np.isscalar(value) or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.init_params not in INIT_PARAMS:
            raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}")

    def _layout(self, family: Gaussian) -> str:
        return family._layout

    def _starting_values(
        self, X: np.ndarray, w: np.ndarray | None, family: Gaussian, rng: np.random.RandomState
    ) -> dict[str, Any]:
        """Starting parameters as scikit-learn draws them (its ``_initialize_parameters``)."""
        n, k = X.shape[0], self.n_components
        resp = np.zeros((n, k))
        if self.init_params == "kmeans":
            labels = KMeans(n_clusters=k, n_init=1, random_state=rng).fit(X, sample_weight=w)
            resp[np.arange(n), labels.labels_] = 1.0
        elif self.init_params == "random":
            resp = rng.uniform(size=(n, k))
            resp /= resp.sum(axis=1)[:, np.newaxis]
        elif self.init_params == "random_from_data":
            pool = n if w is None else np.flatnonzero(w > 0)  # never a row of weight 0
            resp[rng.choice(pool, size=k, replace=False), np.arange(k)] = 1.0
        else:
            _, indices = kmeans_plusplus(X, k, random_state=rng, sample_weight=w)
            resp[indices, np.arange(k)] = 1.0
        weighted = resp if w is None else resp * w[:, None]
        nk = weighted.sum(axis=0) + 10 * np.finfo(resp.dtype).eps  # as scikit-learn
        comps = family.from_statistics(family.statistics(X, weighted), reg_covar=self.reg_covar)
        start = {"weights": nk / nk.sum(), "means": np.array(comps.means)}
        start["covariances"] = np.array(comps.covariances)
        if self.covariance_type == "tied":
            # scikit-learn's tied estimate takes every row's square, whatever its
            # responsibilities: after "k-means++" or "random_from_data" (rows of zeros) it is
            # the data's spread, not the seeds'.
            rows = X if w is None else X * w[:, None]
            means = start["means"]
            cov = (rows.T @ X - (nk * means.T) @ means) / nk.sum()
            start["covariances"] = cov + self.reg_covar * np.eye(X.shape[1])
        # scikit-learn's starting weights are nk / n, which sum to less than 1 after a start
        # of rows of zeros; its first lower bound carries their log-sum.
        total = float(X.shape[0] if w is None else w.sum())
        start["offset"] = float(np.log(nk.sum() / total))
        if self.weights_init is not None:
            start["offset"] = 0.0
            start["weights"] = _array(self.weights_init, "weights_init", (k,))
        if self.means_init is not None:
            start["means"] = _array(self.means_init, "means_init", (k, X.shape[1]))
        if self.precisions_init is not None:
            start["covariances"] = _covariances_of(
                self.precisions_init, self._layout(family), k, X.shape[1]
            )
        return start

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Fit by EM as scikit-learn does (``n_init`` starts, its convergence test)."""
        self._check_parameters()
        family = self._family()
        X, w = self._validated_fit_data(X, sample_weight, self.n_components)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        rng = check_random_state(self.random_state)
        best: tuple[float, MixtureResult, int, bool, list[float]] | None = None
        for init in range(self.n_init if do_init else 1):
            if self.verbose:
                print(f"Initialization {init}")
            if do_init:
                start = self._starting_values(X, w, family, rng)
                previous = -np.inf
            else:
                start = _parameters(self.result_)
                start["offset"] = 0.0
                previous = self.lower_bound_
            offset = start.pop("offset")
            run = self._em(X, w, family, start, previous, offset)
            if best is None or run[0] > best[0] or best[0] == -np.inf:
                best = run
        assert best is not None
        lower_bound, result, n_iter, converged, bounds = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                SklearnConvergenceWarning,
                stacklevel=2,
            )
        self.result_ = result
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = bounds
        self.n_iter_ = n_iter
        self.converged_ = converged
        comps = result.components[0]
        self.weights_ = np.array(result.weights)
        self.means_ = np.array(comps.means)
        self.covariances_ = np.array(comps.covariances)
        self.precisions_cholesky_ = _precision_cholesky(self.covariances_, self._layout(family))
        self.precisions_ = _precisions(self.precisions_cholesky_, self._layout(family))
        return self

    def _em(
        self,
        X: np.ndarray,
        w: np.ndarray | None,
        family: Gaussian,
        start: dict[str, Any],
        previous: float,
        offset: float,
    ) -> tuple[float, MixtureResult, int, bool, list[float]]:
        """One start's EM with scikit-learn's stopping rule, run by mixem's engine.

        scikit-learn's lower bound at iteration ``t`` is the mean log-likelihood of the
        parameters before its M-step, so it stops one M-step after mixem's own test: mixem
        runs to its convergence (at the same ``tol``), then one more iteration.
        """
        began = time.perf_counter()
        total = float(X.shape[0] if w is None else w.sum())

        def run(init: dict[str, Any], max_iter: int, tol: float) -> MixtureResult:
            model = MixtureModel(
                family, self.n_components, max_iter=max_iter, tol=tol, reg_covar=self.reg_covar
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return model.fit(X, sample_weight=w, init_params=init)

        if self.max_iter == 0:  # the starting parameters, as scikit-learn keeps them
            return -np.inf, run(start, 0, 0.0), 0, False, []
        means = [-np.inf]  # replaced by the first run's initial bound
        current, done, stop = start, 0, None
        while done < self.max_iter:
            # mixem's rule at the same tol stops one M-step before scikit-learn's, or earlier
            # (a first bound shifted by `offset`, an exact fixed point): go on until
            # scikit-learn's rule holds in the bounds seen so far, or max_iter.
            part = run(current, self.max_iter - done, self.tol)
            if done == 0:
                means[0] = part.trace.initial_loglik / total + offset
            means += list(part.trace.loglik / total)
            done += part.n_iter
            current = _parameters(part)
            # scikit-learn's first change is against `previous` (-inf, or a warm start's bound)
            changes = np.diff([previous, *means])
            stop = next((t for t, c in enumerate(changes, start=1) if abs(c) < self.tol), None)
            if stop is not None or part.n_iter == 0:
                break
        if stop is None or stop > self.max_iter:
            n_iter, converged = self.max_iter, False
        else:
            n_iter, converged = stop, True
        # One run from the start over scikit-learn's iterations: the result's trace, events and
        # parameters are those of the whole fit.
        result = dataclasses.replace(run(start, n_iter, 0.0), converged=converged)
        # At an exact fixed point mixem stops (even at tol=0); scikit-learn's later bounds
        # repeat the last one.
        means += [means[-1]] * max(0, n_iter - len(means))
        bounds = [float(m) for m in means[:n_iter]]
        if self.verbose:
            for t in range(1, n_iter + 1):
                if self.verbose >= 2 and t % self.verbose_interval == 0:
                    print(f"  Iteration {t}\t ll change {changes[t - 1]:.5f}")
            state = "converged" if converged else "did not converge"
            print(f"Initialization {state}. time lapse {time.perf_counter() - began:.5f}s")
        return bounds[-1], result, n_iter, converged, bounds


class MixtureEstimator(_ResultMethods):
    """Any mixem family as a scikit-learn density estimator.

    ``MixtureEstimator(mixem.StudentT(dof=4.0), 3)`` fits
    ``mixem.MixtureModel(component, n_components, **options)`` with mixem's defaults (its
    search over starts, its convergence test) and offers scikit-learn's methods and
    ``weights_``, ``converged_``, ``n_iter_``, ``lower_bound_`` (mean log-likelihood per row of
    the fit) and ``result_``.

    Parameters
    ----------
    component : family, or sequence of families
    n_components : int or sequence of int, default 1
    n_init, init, max_iter, tol, reg_covar, random_state, chunk_size, search
        As :class:`mixem.MixtureModel`.
    """

    def __init__(
        self,
        component: Any = mixem.GaussianFull,
        n_components: Any = 1,
        *,
        n_init: int = 1,
        init: str = "short_em",
        max_iter: int = 1000,
        tol: float = 1e-6,
        reg_covar: float = 1e-6,
        random_state: Any = None,
        chunk_size: int | None = None,
        search: Any = None,
    ) -> None:
        self.component = component
        self.n_components = n_components
        self.n_init = n_init
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.search = search

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> MixtureEstimator:
        """Fit ``MixtureModel(component, n_components, **options)``."""
        k = self.n_components
        total_k = int(np.sum(k)) if isinstance(k, list | tuple | np.ndarray) else k
        X, w = self._validated_fit_data(X, sample_weight, total_k)
        seed = self.random_state
        if seed is not None and not isinstance(seed, int | np.random.Generator):
            seed = int(check_random_state(seed).randint(2**31))
        model = MixtureModel(
            self.component,
            self.n_components,
            n_init=self.n_init,
            init=self.init,
            max_iter=self.max_iter,
            tol=self.tol,
            reg_covar=self.reg_covar,
            random_state=seed,
            chunk_size=self.chunk_size,
            search=self.search,
        )
        result = model.fit(X, sample_weight=w)
        self.result_ = result
        self.weights_ = np.array(result.weights)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        total = float(X.shape[0] if w is None else w.sum())
        self.lower_bound_ = float(result.loglik) / total
        return self


# -- helpers ---------------------------------------------------------------------------
def _parameters(result: MixtureResult) -> dict[str, Any]:
    """A one-family Gaussian fit's parameters, as ``init_params`` take them."""
    comps = result.components[0]
    return {
        "weights": np.array(result.weights),
        "means": np.array(comps.means),
        "covariances": np.array(comps.covariances),
    }


def _array(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _covariances_of(precisions: Any, layout: str, k: int, d: int) -> np.ndarray:
    """Covariances, in ``layout``, of scikit-learn's ``precisions_init``."""
    shape = {"spherical": (k,), "diagonal": (k, d), "tied": (d, d), "full": (k, d, d)}[layout]
    p = _array(precisions, "precisions_init", shape)
    if layout in ("spherical", "diagonal"):
        if not np.all(p > 0):
            raise ValueError("precisions_init must be positive")
        return 1.0 / p
    try:
        np.linalg.cholesky(p)
    except np.linalg.LinAlgError:
        raise ValueError("precisions_init must be symmetric positive definite") from None
    return np.linalg.inv(p)


def _precision_cholesky(covariances: np.ndarray, layout: str) -> np.ndarray:
    """scikit-learn's ``precisions_cholesky_`` of covariances stored in ``layout``."""
    if layout in ("spherical", "diagonal"):
        return 1.0 / np.sqrt(covariances)
    matrices = covariances[None] if layout == "tied" else covariances
    out = np.empty_like(matrices)
    for j, cov in enumerate(matrices):
        chol = np.linalg.cholesky(cov)
        out[j] = np.linalg.solve(chol, np.eye(cov.shape[0])).T
    return out[0] if layout == "tied" else out


def _precisions(precision_cholesky: np.ndarray, layout: str) -> np.ndarray:
    if layout in ("spherical", "diagonal"):
        return precision_cholesky**2
    return precision_cholesky @ np.swapaxes(precision_cholesky, -1, -2)
