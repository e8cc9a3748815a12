"""MixtureModel: the specification of a mixture (families, sizes, EM options) and its fit."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixem._sources import as_chunked
from mixem._validation import (
    as_int_sequence,
    check_array,
    check_nonnegative_float,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    encode_categories,
)
from mixem.components.family import Components, Family, as_family, family_name
from mixem.em.engine import FitRecord
from mixem.em.engine import fit as em_fit
from mixem.em.events import Event, rounded_down
from mixem.em.init import INIT_METHODS
from mixem.em.passes import UncoveredRowError, accumulate, chunk_rows
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Start, Structure
from mixem.exceptions import ConvergenceWarning, DegenerateComponentWarning
from mixem.result import MixtureResult

__all__ = ["INIT_CHOICES", "MixtureModel", "warn_events"]

#: The warning each kind of engine event becomes at the public boundary.
WARNING_OF = {
    "reseed": DegenerateComponentWarning,
    "recovery": DegenerateComponentWarning,
    "run_failed": DegenerateComponentWarning,
    "decrease": RuntimeWarning,
    "not_converged": ConvergenceWarning,
}


def warn_events(events: Sequence[Event], n_runs: int, *, stacklevel: int) -> None:
    """Issue every event of a fit as a warning, once, at the caller's line.

    ``stacklevel`` counts from the caller of this function, as :func:`warnings.warn` does.
    With several runs each message says which restart it concerns.
    """
    for event in events:
        prefix = f"restart {event.run} of {n_runs}: " if event.run is not None else ""
        warnings.warn(prefix + event.message, WARNING_OF[event.kind], stacklevel=stacklevel + 1)


@dataclass(frozen=True)
class _Data:
    """Validated data of one fit: rows (in memory, or read chunk by chunk) and what they need."""

    rows: Any
    weights: np.ndarray | None
    names: tuple[str, ...] | None
    categories: dict[str, tuple[Any, ...]] | None
    chunk: int
    subsample: tuple[np.ndarray, np.ndarray] | None = None


#: ``init`` values: the short-EM search (default), or one start of a single kind.
INIT_CHOICES = ("short_em", *INIT_METHODS)


def _check_family(cls: Any) -> Family:
    """A family value (a family class means its default instance)."""
    return as_family(cls)


class MixtureModel:
    """A finite mixture of components of one or several families, fitted by EM.

    Parameters
    ----------
    component : family, or sequence of them
        The family of the components, e.g. ``mixem.GaussianFull``. A sequence combines several
        families in one model: ``MixtureModel([GaussianFull, GaussianSpherical],
        n_components=[2, 1])`` has two full-covariance and one spherical component, numbered
        0, 1 (full) and 2 (spherical) in the result.
    n_components : int, or sequence of int
        Components per family (one int per family when several are given).
    n_init : int, default 1
        EM runs from different starts; the one with the highest log-likelihood is kept (and a
        plausible fit over a spurious one: see :attr:`MixtureResult.spurious`).
    init : {"short_em", "kmeans++", "hierarchical", "random_rows", "random"}, default "short_em"
        How a run starts. ``"short_em"`` searches (see the user guide, "Initialisation"): 20 EM
        iterations from each of 51 starts (Ward's hierarchical agglomeration of the whitened
        rows, as mclust's default, and 50 k-means++ seeds), the best 10 run to convergence,
        then rounds of split-and-merge moves from the best 3; spurious fits rank last. On more
        than 5000 rows the search runs on 5000 drawn at random. On the bundled datasets it
        reaches the best plausible maximum of 50 k-means++ restarts in 96% of (family, K)
        cells, against 39% for one k-means++ start, and costs about as much as 60 ordinary
        fits. The others are a single start: k-means++ seeds, Ward cluster centres or random
        distinct rows, each row assigned to its nearest, or random responsibilities;
        parameters come from the M-step. Ignored when ``fit`` receives ``init_params``.
    max_iter : int, default 1000
        Most EM iterations (M-steps) per run. ``0`` evaluates the start without iterating.
    tol : float, default 1e-6
        Convergence threshold on the change of the *mean* log-likelihood per row, so it does
        not depend on the number of rows. ``tol=0`` runs to ``max_iter`` or to an exact fixed
        point (a change of exactly 0).
    reg_covar : float, default 1e-6
        Added to every variance (covariance diagonal) in the M-step, keeping covariances
        positive definite. It is absolute: scale the data, or this, when features are tiny.
    random_state : None, int or numpy.random.Generator
        Source of randomness of initialisation; the same seed gives the same fit.
    chunk_size : int, optional
        Rows per chunk in the E-step. By default chunks keep about 2 MiB of temporaries.
    search : mixem.em.SearchSettings, optional
        Tuning of the ``"short_em"`` search (numbers of starts, iterations, moves, and the most
        rows it runs on, which is also the size of the subsample that starts an out-of-core
        fit); by default ``SearchSettings()``.
    """

    def __init__(
        self,
        component: Family | Sequence[Family],
        n_components: int | Sequence[int],
        *,
        n_init: int = 1,
        init: str = "short_em",
        max_iter: int = 1000,
        tol: float = 1e-6,
        reg_covar: float = 1e-6,
        random_state: int | np.random.Generator | None = None,
        chunk_size: int | None = None,
        search: SearchSettings | None = None,
    ) -> None:
        if isinstance(component, type | Family | Components | str | bytes):
            families: tuple[Family, ...] = (_check_family(component),)
        else:
            try:
                families = tuple(_check_family(c) for c in component)
            except TypeError as err:
                if "not iterable" in str(err):
                    raise TypeError(
                        f"component must be a family such as mixem.GaussianFull, got {component!r}"
                    ) from err
                raise
            if not families:
                raise ValueError("component is an empty sequence; give at least one family")
        self.component = component
        self.n_components = n_components
        self.families = families
        self.sizes = as_int_sequence(n_components, "n_components", len(families))
        if not isinstance(n_components, numbers.Integral) and len(families) == 1:
            self.sizes = self.sizes[:1]
        for family, size in zip(families, self.sizes, strict=True):
            most = family.max_components
            if most is not None and size > most:
                raise ValueError(
                    f"{family_name(family)} takes at most {most} component"
                    f"{'s' * (most != 1)}, got n_components={size}"
                )
        self.n_init = check_positive_int(n_init, "n_init")
        if init not in INIT_CHOICES:
            raise ValueError(
                f"init must be one of {', '.join(map(repr, INIT_CHOICES))}; got {init!r}"
            )
        self.init = init
        self.max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
        self.tol = check_nonnegative_float(tol, "tol")
        self.reg_covar = check_nonnegative_float(reg_covar, "reg_covar")
        check_random_state(random_state)
        self.random_state = random_state
        self.chunk_size = (
            None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
        )
        if search is not None and not isinstance(search, SearchSettings):
            raise TypeError(
                f"search must be a mixem.em.SearchSettings, got {type(search).__name__}"
            )
        self.search = SearchSettings() if search is None else search

    @property
    def total_components(self) -> int:
        """K, the number of components over all families."""
        return sum(self.sizes)

    def __repr__(self) -> str:
        fams = ", ".join(
            f"{family_name(c)}x{k}" for c, k in zip(self.families, self.sizes, strict=True)
        )
        return (
            f"MixtureModel([{fams}], n_init={self.n_init}, init={self.init!r}, "
            f"max_iter={self.max_iter}, tol={self.tol:g}, reg_covar={self.reg_covar:g})"
        )

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        *,
        sample_weight: Any = None,
        init_params: Mapping[str, Any] | None = None,
    ) -> MixtureResult:
        """Fit the mixture to ``X`` by EM.

        Parameters
        ----------
        X : array-like of shape (n, d), or pandas.DataFrame
            Rows are observations; a 1-D array is one feature. Column names of a DataFrame are
            kept as ``result.feature_names``. Values are read as float64, and every result is
            float64, also for float32 input (the centred statistics need float64).
        sample_weight : array-like of shape (n,), optional
            Non-negative frequency weights: an integer weight ``w`` is the same as repeating the
            row ``w`` times, and ``n_obs`` (the ``n`` of BIC) becomes their sum. The rows a
            component has, and those a re-seeded component starts from, are counted in weight
            too, so integer weights give the fit of repeated rows also through re-seeds.
            Weights that are not counts (say, normalised to sum to 1) make BIC and ICL
            meaningless and the components' minimum row counts unreachable: rescale them to
            sum to the number of observations they stand for (weights summing to fewer rows
            than the components need are refused).
        init_params : dict, optional
            Either the starting parameters, ``{"weights": (K,), "means": (K, d),
            "covariances": ...}`` with covariances shaped as ``result.covariances`` (the fit
            starts from exactly these), or starting responsibilities ``{"resp": (n, K)}``.
            For several families give ``{"weights": (K,), "components": [dict, ...]}`` with one
            parameter dict per family. Implies a single run (``n_init`` must be 1).

        Returns
        -------
        MixtureResult
            The best run's parameters, log-likelihood, criteria and trace.

        Warns
        -----
        ConvergenceWarning
            When the best run stopped at ``max_iter`` before converging.
        DegenerateComponentWarning
            When a component of a single start emptied or collapsed and was re-seeded, or a
            restart failed.

        Raises
        ------
        FitError
            When EM cannot produce a valid fit (every restart failed).
        """
        record, data = self._fit_record(X, sample_weight, init_params)
        warn_events(record.events, self.n_init, stacklevel=2)
        return self._result(record, data)

    def _fit_silently(
        self, X: Any, sample_weight: Any = None
    ) -> tuple[MixtureResult, tuple[Event, ...]]:
        """The fit and its events, without warnings (studies and tests report them)."""
        record, data = self._fit_record(X, sample_weight, None)
        return self._result(record, data), record.events

    def _fit_record(
        self, X: Any, sample_weight: Any, init_params: Mapping[str, Any] | None
    ) -> tuple[FitRecord, _Data]:
        """Validate, then one engine call: every run and its events, without warnings."""
        rng = check_random_state(self.random_state)
        data = _validated(self, X, sample_weight, rng)
        starts: tuple[Start, ...] = ()
        if init_params is not None:
            if self.n_init != 1:
                raise ValueError(
                    f"init_params fixes the start, so n_init must be 1 (got {self.n_init})"
                )
            starts = (self._start_from(init_params, data.rows, data.weights, data.chunk),)
        searching = init_params is None and self.init == "short_em"
        record = em_fit(
            data.rows,
            self._structure,
            self._settings(data.chunk),
            rng=rng,
            sample_weight=data.weights,
            starts=starts,
            search=self.search if searching else None,
            subsample=data.subsample,
        )
        return record, data

    def _result(self, record: FitRecord, data: _Data) -> MixtureResult:
        """The result of the kept run, or the error of a fit that failed."""
        best = record.best
        if best is None:
            if isinstance(record.error, UncoveredRowError) and data.subsample is not None:
                # Values a family cannot model (a fractional count, say) that the subsample
                # missed end EM with rows no component covers: name the data problem instead.
                for _, block in data.rows.chunks(data.chunk):
                    for cls in self.families:
                        cls.check_data(block)
            assert record.error is not None
            raise record.error
        in_memory = data.subsample is None
        w = data.weights
        return MixtureResult(
            weights=best.weights,
            components=best.components,
            loglik=best.loglik,
            entropy=best.entropy,
            n_obs=float(data.rows.shape[0] if w is None else w.sum()),
            n_iter=best.n_iter,
            converged=best.converged,
            trace=best.trace,
            feature_names=data.names,
            spec=self._spec(),
            categories=data.categories,
            events=best.events,
            # Rows on disk stay there: to_arviz, diagnostics and plots take them as X=.
            _training=(data.rows, w) if in_memory else None,
        )

    @property
    def _structure(self) -> Structure:
        return Structure(self.families, tuple(self.sizes))

    def _settings(self, chunk: int) -> Settings:
        return Settings(
            max_iter=self.max_iter,
            tol=self.tol,
            reg_covar=self.reg_covar,
            init=self.init if self.init != "short_em" else "kmeans++",
            n_init=self.n_init,
            chunk=chunk,
        )

    def _spec(self) -> dict[str, Any]:
        rs = self.random_state
        return {
            "families": [c.spec() for c in self.families],
            # Plain Python numbers: NumPy integers given as settings are not JSON.
            "sizes": [int(k) for k in self.sizes],
            "n_init": int(self.n_init),
            "init": self.init,
            "max_iter": int(self.max_iter),
            "tol": float(self.tol),
            "reg_covar": float(self.reg_covar),
            "random_state": int(rs) if isinstance(rs, numbers.Integral) else None,
            "chunk_size": None if self.chunk_size is None else int(self.chunk_size),
        }

    def _start_from(
        self, init_params: Mapping[str, Any], X: np.ndarray, w: np.ndarray | None, chunk: int
    ) -> tuple[np.ndarray, tuple[Components, ...]]:
        if not isinstance(init_params, Mapping):
            raise TypeError(f"init_params must be a dict, got {type(init_params).__name__}")
        if "resp" in init_params:
            if len(init_params) != 1:
                raise ValueError(
                    "init_params takes either {'resp': ...} or parameters, not both; "
                    f"got keys {sorted(init_params)}"
                )
            return self._start_from_resp(init_params["resp"], X, w, chunk)
        return self._start_from_params(init_params, X.shape[1])

    def _start_from_resp(
        self, resp: Any, X: np.ndarray, w: np.ndarray | None, chunk: int
    ) -> tuple[np.ndarray, tuple[Components, ...]]:
        K = self.total_components
        n, d = X.shape
        try:
            r = np.array(resp, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"init_params['resp'] must be numeric: {err}") from err
        if r.shape != (n, K):
            raise ValueError(f"init_params['resp'] must have shape ({n}, {K}), got {r.shape}")
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise ValueError("init_params['resp'] must be finite and non-negative")
        sums = r.sum(axis=1, keepdims=True)
        if np.any(sums <= 0):
            row = int(np.flatnonzero(sums[:, 0] <= 0)[0])
            raise ValueError(f"init_params['resp'] row {row} is all zeros; every row needs weight")
        r /= sums
        nk, stats = accumulate(X, w, self.families, self.sizes, lambda rows, _: r[rows], chunk)
        per_comp = [c for c, k in zip(self.families, self.sizes, strict=True) for _ in range(k)]
        total = nk.sum()
        for j, cls in enumerate(per_comp):
            eff = nk[j] * n / total
            if eff < cls.min_count(d):
                raise ValueError(
                    f"init_params['resp'] column {j} carries {rounded_down(eff)} effective rows; "
                    f"{family_name(cls)} needs at least {cls.min_count(d):g}"
                )
        return self._structure.start(nk, stats, self.reg_covar)

    def _start_from_params(
        self, params: Mapping[str, Any], d: int
    ) -> tuple[np.ndarray, tuple[Components, ...]]:
        K = self.total_components
        if "weights" not in params:
            raise ValueError("init_params needs 'weights' (shape (K,)) besides the parameters")
        try:
            weights = np.array(params["weights"], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"init_params['weights'] must be numeric: {err}") from err
        if weights.shape != (K,):
            raise ValueError(f"init_params['weights'] must have shape ({K},), got {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ValueError("init_params['weights'] must be finite and positive")
        if abs(weights.sum() - 1.0) > 1e-6:
            raise ValueError(f"init_params['weights'] must sum to 1, got {weights.sum():.8g}")
        weights = weights / weights.sum()
        if len(self.families) == 1:
            per_family = [{k: v for k, v in params.items() if k != "weights"}]
        else:
            if set(params) != {"weights", "components"}:
                raise ValueError(
                    "with several families init_params must be {'weights': ..., "
                    f"'components': [dict per family]}}; got keys {sorted(params)}"
                )
            if not isinstance(params["components"], Sequence) or isinstance(
                params["components"], str
            ):
                raise TypeError(
                    "init_params['components'] must be a list with one parameter dict per "
                    f"family, got {type(params['components']).__name__}"
                )
            per_family = list(params["components"])
            if len(per_family) != len(self.families):
                raise ValueError(
                    f"init_params['components'] has {len(per_family)} entries for "
                    f"{len(self.families)} families"
                )
        comps = []
        for cls, k, p in zip(self.families, self.sizes, per_family, strict=True):
            name = family_name(cls)
            if not isinstance(p, Mapping):
                raise TypeError(f"init_params for {name} must be a dict, got {type(p).__name__}")
            if cls.param_dims and set(p) != set(cls.param_dims):
                raise ValueError(
                    f"init_params for {name} must have keys {sorted(cls.param_dims)}, "
                    f"got {sorted(p)}"
                )
            for key, value in p.items():
                # The component count first, so that a wrong one is named in the array at
                # fault rather than in a later one whose shape then disagrees with it.
                try:
                    count = len(value)
                except TypeError:  # a number, or a 0-d array: its checks name it
                    continue
                if cls._per_component(key) and count != k:
                    raise ValueError(
                        f"init_params: {key} for {name} describe {count} "
                        f"component{'s' if count != 1 else ''}, the model has {k}"
                    )
            try:
                comp = cls.components(**p)
            except (TypeError, ValueError) as err:
                raise type(err)(f"init_params: {err}") from err
            if comp.n_features != d:
                raise ValueError(
                    f"init_params for {name} describe {comp.n_features} features, X has {d}"
                )
            if comp.n_components != k:
                raise ValueError(
                    f"init_params for {name} describe {comp.n_components} components, "
                    f"the model has {k}"
                )
            comps.append(comp)
        return weights, tuple(comps)


def _validated(model: MixtureModel, X: Any, sample_weight: Any, rng: np.random.Generator) -> _Data:
    """Check ``X`` and ``sample_weight`` for ``model``; rows on disk get their subsample."""
    K = model.total_components
    families = model.families
    chunked = as_chunked(X)
    if chunked is not None:
        return _validated_chunked(model, chunked, sample_weight, rng)
    categories = None
    if any(cls.accepts_categories for cls in families):
        X, categories = encode_categories(X)
    X, names = check_array(X, "X")
    n, d = X.shape
    if n < K:
        raise ValueError(f"X has {n} rows, fewer than n_components={K}; each component needs rows")
    w = check_sample_weight(sample_weight, n)
    _check_data_support(X, w, K)
    usable = X if w is None else X[w > 0]
    for cls in families:
        cls.check_data(usable)
    need = model._structure.min_rows(d)
    if usable.shape[0] < need:
        what = "rows" if w is None else "rows with positive sample_weight"
        raise ValueError(
            f"X has {usable.shape[0]} {what}; {K} component{'s' * (K != 1)} of "
            f"{' + '.join(family_name(c) for c in families)} in {d} dimensions need at "
            f"least {need:g}"
        )
    if w is not None and w.sum() < need:
        # Frequency weights: the rows they stand for are what the components' minimum counts.
        raise ValueError(
            f"sample_weight sums to {w.sum():.4g}: frequency weights, the observations the rows "
            f"stand for, and {K} component{'s' * (K != 1)} of "
            f"{' + '.join(family_name(c) for c in families)} in {d} dimensions need at least "
            f"{need:g}; rescale the weights to the number of observations"
        )
    chunk = chunk_rows(d, families, K, model.chunk_size)
    return _Data(X, w, names, categories, chunk)


def _validated_chunked(
    model: MixtureModel, X: Any, sample_weight: Any, rng: np.random.Generator
) -> _Data:
    """Rows read chunk by chunk: one pass validates them and draws the search's subsample.

    The subsample (``model.search.rows`` rows, uniformly at random) is where the start is
    found, in memory; EM then runs from it over all rows, one chunk at a time.
    """
    K = model.total_components
    n, d = X.shape
    if n < K:
        raise ValueError(f"X has {n} rows, fewer than n_components={K}; each component needs rows")
    w = check_sample_weight(sample_weight, n)
    chunk = chunk_rows(d, model.families, K, model.chunk_size)
    size = model.search.rows
    if w is None:  # without an index of all n rows: 160 MB at 2e7 rows
        picks = np.sort(rng.choice(n, min(n, size), replace=False))
    else:
        usable = np.flatnonzero(w > 0)
        picks = np.sort(usable[rng.choice(usable.size, min(usable.size, size), replace=False)])
    lowest, highest, sub = X.scan(chunk, picks)
    # The subsample shows the data's kind; the column extremes show constant columns and
    # values out of a family's range that the subsample may have missed.
    for cls in model.families:
        cls.check_data(np.vstack([sub, lowest, highest]))
    _check_data_support(sub, None, K)
    return _Data(X, w, None, None, chunk, subsample=(picks, sub))


def _check_data_support(X: np.ndarray, w: np.ndarray | None, K: int) -> None:
    """Reject data on which K components cannot be estimated: too few (distinct) rows."""
    used = X if w is None else X[w > 0]
    if used.shape[0] < K:
        raise ValueError(
            f"sample_weight is positive on {used.shape[0]} rows, fewer than n_components={K}"
        )
    # Distinct rows, counted through a random projection (one pass, no sort of full rows);
    # the full sort runs only when the first rows do not already show K distinct values.
    direction = np.random.default_rng(0).standard_normal(used.shape[1])
    if np.unique(used[: 10 * K] @ direction).size >= K:
        return
    distinct = np.unique(used @ direction).size
    if distinct < K:
        raise ValueError(
            f"X has only {distinct} distinct rows (duplicates), fewer than n_components={K}"
        )
