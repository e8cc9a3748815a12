"""MixtureResult: a fitted mixture, its trace and criteria, and what it predicts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixem._sources import as_chunked, is_dask_array
from mixem._validation import (
    check_array,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    encode_categories,
)
from mixem.components.family import Components, family_name
from mixem.components.gaussian_models import Gaussian
from mixem.em.events import Event
from mixem.em.passes import chunk_rows, iter_log_prob, log_sum_exp
from mixem.em.plausible import spurious_flags
from mixem.em.trace import Trace

if TYPE_CHECKING:
    from mixem.diagnostics import Diagnostics
    from mixem.plotting import ResultPlots
    from mixem.summary import Summary

__all__ = ["MixtureResult"]

#: Most parameters for which :meth:`MixtureResult.summary` (and so a notebook's display of a
#: result) computes observed-information standard errors: the Hessian costs about ``2 p**2``
#: passes over the data, about a second at 40 parameters and a thousand rows.
SUMMARY_INFORMATION = 40


#: Most bytes of draws one :meth:`MixtureResult.sample` call returns.
MAX_SAMPLE_BYTES = 1 << 30


@dataclass(frozen=True, eq=False)
class MixtureResult:
    """A fitted finite mixture. Returned by :meth:`mixem.MixtureModel.fit`; immutable.

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Mixing proportions, on the simplex.
    components : tuple of Component
        The fitted families, in model order; their components are numbered consecutively.
    loglik : float
        Total log-likelihood of the training data under exactly these parameters (weighted by
        ``sample_weight`` when one was given).
    entropy : float
        Classification entropy ``-sum_i sum_k r_ik log r_ik`` of the training data.
    n_obs : float
        Number of observations: rows, or the sum of ``sample_weight`` (frequency weights).
    n_iter : int
        EM iterations (M-steps) of the returned run.
    converged : bool
        Whether the change of mean log-likelihood fell below ``tol`` within ``max_iter``.
    trace : Trace
        One row per iteration: ``loglik``, ``change``, ``seconds``.
    feature_names : tuple of str or None
        Column names when the model was fitted on a DataFrame.
    spec : dict
        The model specification (families, sizes, options), as saved.
    categories : dict of str to tuple, or None
        For a model with a categorical family fitted on a DataFrame with categorical columns:
        each such column's categories in code order. New data are encoded against them.
    events : tuple of mixem.em.Event
        What happened on the way to these parameters: re-seeds of degenerate components,
        recoveries (a component that kept degenerating, re-seeded with half of the heaviest
        one), decreases. ``trace.reseeded`` marks their iterations.
    """

    weights: np.ndarray
    components: tuple[Components, ...]
    loglik: float
    entropy: float
    n_obs: float
    n_iter: int
    converged: bool
    trace: Trace
    feature_names: tuple[str, ...] | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    categories: dict[str, tuple[Any, ...]] | None = None
    events: tuple[Event, ...] = ()
    # The validated training rows and sample weights, kept (by reference) for to_arviz.
    _training: tuple[np.ndarray, np.ndarray | None] | None = field(default=None, repr=False)
    # Results computed from the training rows that are costly to recompute (observed
    # information); the fit itself never changes, so neither do they.
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        w = np.array(self.weights, dtype=np.float64)
        w.setflags(write=False)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "components", tuple(self.components))

    # -- sizes and criteria ---------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Total number of components K over all families."""
        return int(self.weights.size)

    @property
    def n_features(self) -> int:
        """Number of features d."""
        return self.components[0].n_features

    @property
    def n_parameters(self) -> int:
        """Free parameters: every family's own plus ``K - 1`` mixing weights."""
        return sum(c.n_parameters() for c in self.components) + self.n_components - 1

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 logL + p log n`` (lower is better).

        mclust reports the same number with the opposite sign (higher is better there).
        """
        return -2.0 * self.loglik + self.n_parameters * math.log(self.n_obs)

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 logL + 2 p`` (lower is better)."""
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def icl(self) -> float:
        """Integrated completed likelihood: BIC plus twice the classification entropy."""
        return self.bic + 2.0 * self.entropy

    @property
    def spurious(self) -> np.ndarray:
        """Which components look spurious, shape ``(K,)`` of bool.

        A spurious component sits on too few rows for its parameters, with a likelihood spike
        there instead of a cluster: for the Gaussian families, ``d`` or fewer rows (fewer than
        ``d + 1`` effective rows ``weight * n_obs``), or a covariance whose smallest eigenvalue
        is at the ``reg_covar`` floor. Such a fit's likelihood, and so its BIC, is meaningless;
        :func:`mixem.select` excludes it. See :meth:`Family.spurious`.
        """
        return spurious_flags(
            self.weights, self.components, self.n_obs, float(self.spec.get("reg_covar", 0.0))
        )

    # -- Gaussian conveniences ------------------------------------------------------------
    def _single_gaussian(self, name: str) -> Any:
        single = len(self.components) == 1 and isinstance(self.components[0].family, Gaussian)
        if not single:
            families = ", ".join(family_name(c.family) for c in self.components)
            raise AttributeError(
                f"{name} is defined for a model with one Gaussian family, this one has "
                f"[{families}]; read the parameters from result.components instead"
            )
        return self.components[0]

    @property
    def means(self) -> np.ndarray:
        """Component means ``(K, d)`` (single Gaussian family)."""
        return self._single_gaussian("means").means

    @property
    def covariances(self) -> np.ndarray:
        """Covariances shaped as scikit-learn's ``covariances_`` for the family.

        Full ``(K, d, d)``, diagonal ``(K, d)``, spherical ``(K,)``, tied ``(d, d)``.
        """
        return self._single_gaussian("covariances").covariances

    # -- prediction -----------------------------------------------------------------------
    def _check(self, X: Any) -> np.ndarray:
        chunked = as_chunked(X)
        if chunked is not None:  # read chunk by chunk, never whole
            if chunked.shape[1] != self.n_features:
                raise ValueError(
                    f"X has {chunked.shape[1]} features, but the model was fitted with "
                    f"{self.n_features}"
                )
            return chunked  # type: ignore[return-value]
        if self.categories:
            X, _ = encode_categories(X, self.categories)
        arr, names = check_array(X, "X", n_features=self.n_features)
        if names is not None and self.feature_names is not None and names != self.feature_names:
            raise ValueError(
                f"X has columns {list(names)}, but the model was fitted on columns "
                f"{list(self.feature_names)} (in that order)"
            )
        return arr

    def _chunks(self, X: np.ndarray):
        chunk = chunk_rows(
            self.n_features,
            [c.family for c in self.components],
            self.n_components,
            self.spec.get("chunk_size"),
        )
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        return iter_log_prob(X, log_weights, self.components, chunk)

    def _lazy(self, X: Any, method: str) -> Any:
        """``method`` mapped over the blocks of a Dask array: a lazy Dask array."""
        from mixem._dask import DaskRows

        rows = DaskRows(X).array
        if rows.shape[1] != self.n_features:
            raise ValueError(
                f"X has {rows.shape[1]} features, but the model was fitted with {self.n_features}"
            )
        # The tasks carry the parameters only, not the training rows this result refers to.
        light = dataclasses.replace(self, _training=None, _cache={})
        function = getattr(light, method)
        if method == "predict_proba":
            return rows.map_blocks(
                function, chunks=(rows.chunks[0], (self.n_components,)), dtype=np.float64
            )
        dtype = np.intp if method == "predict" else np.float64
        return rows.map_blocks(function, drop_axis=1, dtype=dtype)

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-likelihood of every row, ``log sum_k pi_k p_k(x)``, shape ``(n,)``.

        A Dask array gives a lazy Dask array (as do :meth:`predict` and
        :meth:`predict_proba`).
        """
        if is_dask_array(X):
            return self._lazy(X, "score_samples")
        X = self._check(X)
        out = np.empty(X.shape[0])
        for rows, logp in self._chunks(X):
            out[rows] = log_sum_exp(logp)
        return out

    def score(self, X: Any, sample_weight: Any = None) -> float:
        """Mean log-likelihood per row (weighted mean when ``sample_weight`` is given)."""
        ll = self.score_samples(X)
        if is_dask_array(ll):
            ll = ll.compute()
        w = check_sample_weight(sample_weight, ll.size)
        return float(ll.mean() if w is None else (w @ ll) / w.sum())

    def _log_resp(self, X: np.ndarray):
        """Yield ``(rows, log responsibilities)`` chunk by chunk; rows must have a density."""
        for rows, logp in self._chunks(X):
            lse = log_sum_exp(logp)
            if not np.all(np.isfinite(lse)):
                bad = rows.start + int(np.flatnonzero(~np.isfinite(lse))[0])
                raise ValueError(
                    f"row {bad} of X has density zero under every component; its "
                    "component probabilities are undefined"
                )
            logp -= lse[:, None]
            yield rows, logp

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of every component for every row, shape ``(n, K)``."""
        if is_dask_array(X):
            return self._lazy(X, "predict_proba")
        X = self._check(X)
        out = np.empty((X.shape[0], self.n_components))
        for rows, log_resp in self._log_resp(X):
            out[rows] = np.exp(log_resp)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of every row, shape ``(n,)``."""
        if is_dask_array(X):
            return self._lazy(X, "predict")
        X = self._check(X)
        out = np.empty(X.shape[0], dtype=np.intp)
        for rows, log_resp in self._log_resp(X):
            out[rows] = log_resp.argmax(axis=1)
        return out

    def sample(self, n: int, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` rows from the fitted mixture.

        One call draws at most :data:`MAX_SAMPLE_BYTES` of rows (a GiB: 67 million rows of
        two features; it holds about four times that while it draws); draw more in batches
        with one ``numpy.random.Generator`` passed to each call.

        Returns
        -------
        X : ndarray of shape (n, d)
            The draws, in random order.
        labels : ndarray of shape (n,)
            The component each row was drawn from.
        """
        n = check_positive_int(n, "n")
        size = n * self.n_features * 8
        if size > MAX_SAMPLE_BYTES:
            raise ValueError(
                f"sample({n}) would hold {size / 2**30:.3g} GiB of draws, more than the "
                f"{MAX_SAMPLE_BYTES / 2**30:g} GiB one call draws; draw in batches, passing one "
                "numpy.random.Generator to every call"
            )
        rng = check_random_state(random_state)
        counts = rng.multinomial(n, self.weights)
        parts, start = [], 0
        for comp in self.components:
            k = comp.n_components
            parts.append(comp.sample(counts[start : start + k], rng))
            start += k
        X = np.concatenate(parts, axis=0)
        labels = np.repeat(np.arange(self.n_components), counts)
        order = rng.permutation(n)
        return X[order], labels[order]

    # -- posterior draws ------------------------------------------------------------------
    def to_arviz(
        self,
        draws: int = 200,
        random_state: Any = None,
        *,
        chains: int = 4,
        X: Any = None,
    ) -> Any:
        """Posterior draws by the weighted likelihood bootstrap, as an ArviZ object.

        Every draw reruns EM on the training rows reweighted by Dirichlet(1, ..., 1) weights,
        warm-started from this fit, and its component labels are matched to the fit's with
        :func:`scipy.optimize.linear_sum_assignment`. The draws approximate the posterior under a
        **flat prior** (Newton and Raftery, 1994); they are independent, not MCMC draws, and are
        split into ``chains`` chains only so that diagnostics needing several chains run.

        Parameters
        ----------
        draws : int, default 200
            Total number of draws; a multiple of ``chains``. Each costs one short EM run.
        random_state : None, int or numpy.random.Generator
            Source of the bootstrap weights; the same seed gives the same draws.
        chains : int, default 4
            Chains the draws are arranged in.
        X : array-like of shape (n, d), optional
            The training rows. Needed only for a result loaded from disk, which does not keep
            them; a fitted result keeps a reference to the rows it was fitted on.

        Returns
        -------
        arviz.InferenceData or xarray.DataTree
            ``InferenceData`` under ArviZ 0.x, ``DataTree`` under ArviZ 1.x, with groups
            ``posterior`` (``weights`` and the family's parameters, e.g. ``means`` and
            ``covariances``, with dimensions ``component``, ``feature`` and ``feature_bis``),
            ``log_likelihood`` (``x``: one value per draw and observation, for ``loo`` and
            ``compare``), ``observed_data`` (``x``), ``sample_stats`` (``loglik``, ``n_iter``,
            ``converged`` per draw) and attributes (model, mixem version, BIC, AIC, ICL).
            Memory: the pointwise log-likelihood holds ``draws * n`` floats.

        Raises
        ------
        ValueError
            When the fit used ``sample_weight`` (ArviZ's leave-one-out would count a weighted row
            as one observation), or when no training rows are available.
        FitError
            When ten reweightings in a row empty a component (a superfluous component on a
            handful of rows): such a fit has no posterior draws.
        """
        from mixem._arviz import to_arviz_data
        from mixem.bootstrap import weighted_bootstrap

        draws = check_positive_int(draws, "draws")
        chains = check_positive_int(chains, "chains")
        if draws % chains:
            raise ValueError(f"draws={draws} is not a multiple of chains={chains}")
        rows, weights = self._training_data(X, None, "to_arviz")
        if weights is not None:
            raise ValueError(
                "to_arviz needs an unweighted fit: this one used sample_weight, and ArviZ's "
                "leave-one-out counts every row as one observation; refit on repeated rows"
            )
        draws_obj = weighted_bootstrap(self, rows, draws, random_state)
        return to_arviz_data(self, rows, draws_obj, chains)

    def _training_rows(self, X: Any, caller: str, *, chunked: bool = False) -> np.ndarray:
        """``X`` validated, or the rows this result was fitted on.

        Rows read chunk by chunk (a memmap, HDF5, zarr or Dask array) are accepted only by
        callers that work chunk by chunk (``chunked``); the others ask for an array.
        """
        if X is not None:
            rows = self._check(X)
            if not chunked and not isinstance(rows, np.ndarray):
                raise TypeError(
                    f"{caller}(X=...) needs the rows in memory, and these are read chunk by "
                    "chunk; pass np.asarray(X), or a subsample of rows"
                )
            return rows
        if self._training is not None:
            return self._training[0]
        raise ValueError(
            "this result does not hold its training rows (it was loaded from disk, or fitted "
            f"out of core); pass them as {caller}(X=...)"
        )

    def _training_data(
        self, X: Any, sample_weight: Any, caller: str, *, chunked: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The training rows and their ``sample_weight``: the fit's own, or ``X`` checked.

        Statistics of the fit (standard errors, diagnostics) are only meaningful on the data it
        was fitted on: given ``X`` (and ``sample_weight``), their total weight must be
        ``n_obs``, so that a weighted fit is not silently treated as unweighted.
        """
        if X is None:
            if sample_weight is not None:
                raise ValueError(f"{caller}: sample_weight is for the rows given as X=")
            rows = self._training_rows(None, caller)
            return rows, None if self._training is None else self._training[1]
        rows = self._training_rows(X, caller, chunked=chunked)
        w = check_sample_weight(sample_weight, rows.shape[0])
        total = float(rows.shape[0] if w is None else w.sum())
        if not math.isclose(total, self.n_obs, rel_tol=1e-9):
            raise ValueError(
                f"{caller}: X holds {total:g} observations (rows, or the sum of sample_weight), "
                f"but the model was fitted on n_obs={self.n_obs:g}; pass the rows it was "
                "fitted on, with their sample_weight if the fit had one"
            )
        return rows, w

    # -- uncertainty and diagnostics ------------------------------------------------------
    def standard_errors(
        self,
        method: str = "bootstrap",
        *,
        level: float = 0.95,
        draws: int = 200,
        random_state: Any = None,
        X: Any = None,
        sample_weight: Any = None,
    ) -> Any:
        """Standard errors and intervals of every parameter.

        Parameters
        ----------
        method : {"bootstrap", "observed"}
            ``"bootstrap"``: standard deviations and percentile intervals of ``draws`` weighted
            likelihood bootstrap draws, label-aligned with the fit (as :meth:`to_arviz`).
            ``"observed"``: square roots of the diagonal of the inverse observed information
            (the Hessian of the log-likelihood, by statsmodels' numerical differentiation), with
            Wald intervals; the last weight's error follows from the others' by the delta
            method. Available for models of at most
            :data:`mixem.standard_errors.MAX_INFORMATION_PARAMETERS` free parameters whose
            families' parameters are free coordinates (all Gaussian families).
        level : float, default 0.95
            Coverage of the intervals.
        draws : int, default 200
            Bootstrap draws (``method="bootstrap"`` only); each costs one short EM run.
        random_state : None, int or numpy.random.Generator
            Source of the bootstrap weights.
        X : array-like of shape (n, d), optional
            The training rows; needed only for a result loaded from disk.
        sample_weight : array-like of shape (n,), optional
            Their weights, when the fit had ``sample_weight``; ``X`` and ``sample_weight`` must
            add up to the fit's ``n_obs``.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter (``"weights[0]"``, ``"means[1, waiting]"``,
            ``"covariances[0, waiting, eruptions]"``; a symmetric matrix gives its lower
            triangle only), with columns ``estimate``, ``se``, ``lower`` and ``upper``, and
            ``name`` (e.g. ``"means"``), ``component`` (model-wide number; missing for a
            parameter shared by components) and ``coordinate`` (the features, e.g.
            ``"waiting"``) to select rows by; ``frame.attrs`` holds ``method`` and ``level``.

        Raises
        ------
        FitError
            ``method="observed"`` when the information cannot be computed or inverted (too many
            parameters, constrained parameters, or a fit that is not a strict maximum); the
            message says which.
        """
        from mixem.standard_errors import (
            bootstrap_table,
            check_level,
            check_method,
            observed_table,
        )

        method = check_method(method)
        level = check_level(level)
        rows, weights = self._training_data(X, sample_weight, "standard_errors", chunked=True)
        if method == "observed":
            # Notebooks display a result (summary, HTML) again and again: keep the table.
            key = ("observed", level)
            if X is not None or key not in self._cache:
                table = observed_table(self, rows, weights, level)
                if X is not None:
                    return table
                self._cache[key] = table
            return self._cache[key].copy()
        from mixem.bootstrap import weighted_bootstrap

        if weights is not None:
            raise ValueError(
                "bootstrap standard errors need an unweighted fit: this one used sample_weight "
                "(the Dirichlet weights would treat a weighted row as one observation); use "
                "method='observed' or refit on repeated rows"
            )
        draws = check_positive_int(draws, "draws")
        return bootstrap_table(self, weighted_bootstrap(self, rows, draws, random_state), level)

    @property
    def plot(self) -> ResultPlots:
        """Plots of this fit: ``density``, ``trace``, ``uncertainty``, ``qq``, ``intervals``.

        See :class:`mixem.plotting.ResultPlots`.
        """
        from mixem.plotting import ResultPlots

        return ResultPlots(self)

    def diagnostics(
        self,
        *,
        draws: int = 200,
        level: float = 0.95,
        random_state: Any = None,
        X: Any = None,
        sample_weight: Any = None,
    ) -> Diagnostics:
        """Check whether this fit can be trusted; a structured report with findings.

        The report covers convergence (converged, iterations, monotone log-likelihood), the
        smallest weight and components on few rows, covariance condition numbers with
        degenerate and near-singular components, classification entropy and mean uncertainty,
        a normality test of every Gaussian cluster (a responsibility-weighted Kolmogorov-Smirnov
        test of squared Mahalanobis distances against chi-squared(d)), and standard errors of
        every parameter: bootstrap (with percentile intervals) and observed information.
        Everything that looks wrong becomes a :class:`~mixem.diagnostics.Finding` with a
        severity (``"note"``, ``"warning"``, ``"problem"``) and a sentence saying what to do.

        Parameters
        ----------
        draws : int, default 200
            Weighted-bootstrap draws for the standard errors; 0 skips them (the slow part:
            each draw is one short EM run). A fit with ``sample_weight`` gets observed-
            information errors instead (the bootstrap would count a weighted row once).
        level : float, default 0.95
            Coverage of the bootstrap intervals.
        random_state : None, int or numpy.random.Generator
            Source of the bootstrap weights.
        X : array-like of shape (n, d), optional
            The training rows; needed only for a result loaded from disk.
        sample_weight : array-like of shape (n,), optional
            Their weights, when the fit had ``sample_weight``.

        Returns
        -------
        mixem.diagnostics.Diagnostics
            Printable (``str`` and HTML); ``report.findings`` lists what was flagged and
            ``report.ok`` is True when nothing worse than a note was.
        """
        from mixem.diagnostics import diagnose
        from mixem.standard_errors import check_level

        draws = check_positive_int(draws, "draws", minimum=0)
        level = check_level(level)
        rows, weights = self._training_data(X, sample_weight, "diagnostics")
        return diagnose(
            self,
            rows,
            weights,
            draws=draws,
            level=level,
            random_state=random_state,
        )

    # -- reporting and saving -------------------------------------------------------------
    def summary(
        self,
        standard_errors: str | None = "observed",
        *,
        level: float = 0.95,
        draws: int = 200,
        random_state: Any = None,
        X: Any = None,
        sample_weight: Any = None,
    ) -> Summary:
        """A printable summary: model, criteria, convergence, and every parameter with errors.

        Parameters
        ----------
        standard_errors : {"observed", "bootstrap"} or None, default "observed"
            How the parameter table gets its standard errors and intervals; see
            :meth:`standard_errors`. ``"observed"`` costs about ``2 p**2`` log-likelihood
            evaluations; it is skipped, with a note, when it is unavailable (constrained
            families, a fit that is not a strict maximum, or a loaded result without ``X``) or
            the model has more than 40 parameters (``mixem.result.SUMMARY_INFORMATION``; call
            :meth:`standard_errors` for those). It is computed once per result and kept. None
            shows estimates only.
        level, draws, random_state, X, sample_weight
            As in :meth:`standard_errors`; ``draws`` is used by ``"bootstrap"`` only.

        Returns
        -------
        mixem.summary.Summary
            ``str()`` gives a text table, notebooks show HTML; ``.table`` is the DataFrame.
        """
        from mixem.exceptions import FitError
        from mixem.standard_errors import check_level, check_method, parameter_entries
        from mixem.summary import Summary

        level = check_level(level)
        if standard_errors is not None:
            check_method(standard_errors)
            if standard_errors == "bootstrap":
                draws = check_positive_int(draws, "draws")
            try:
                if standard_errors == "observed" and self.n_parameters > SUMMARY_INFORMATION:
                    raise FitError(
                        f"the observed information of {self.n_parameters} parameters is left "
                        f"to result.standard_errors('observed') (the summary computes it for "
                        f"at most {SUMMARY_INFORMATION}, as notebooks display it often)"
                    )
                # Checked here so that a missing-rows note names summary().
                self._training_data(X, sample_weight, "summary", chunked=True)
                table = self.standard_errors(
                    standard_errors,
                    level=level,
                    draws=draws,
                    random_state=random_state,
                    X=X,
                    sample_weight=sample_weight,
                )
                how = {
                    "observed": "inverse observed information (numerical Hessian), Wald",
                    "bootstrap": f"{draws} weighted-bootstrap draws, percentile",
                }[standard_errors]
                return Summary(self, table, f"Standard errors: {how} intervals.")
            except (FitError, ValueError) as err:
                # Arguments are valid: the method is unavailable for this fit, say why.
                note = f"No standard errors: {err}"
        else:
            note = "Standard errors not computed (standard_errors=None)."
        import pandas as pd

        entries = parameter_entries(self)
        estimates = [c.params() for c in self.components]
        values = [
            self.weights[e.index] if e.family is None else estimates[e.family][e.key][e.index]
            for e in entries
        ]
        table = pd.DataFrame(
            {"estimate": values}, index=pd.Index([e.label for e in entries], name="parameter")
        )
        return Summary(self, table, note)

    def _repr_html_(self) -> str:
        # A display costs milliseconds: standard errors only if they were computed already.
        shown = "observed" if ("observed", 0.95) in self._cache else None
        summary = self.summary(shown)
        if shown is None:
            summary.note = "Standard errors: call result.summary() to compute them."
        return summary._repr_html_()

    def __getstate__(self) -> dict[str, Any]:
        # Pickles (process pools, caches) leave the training rows out, as save() does.
        return {**self.__dict__, "_training": None, "_cache": {}}

    def save(self, path: str | Path) -> None:
        """Save to ``path`` in mixem's versioned ``.npz`` format (no pickle); see :func:`load`."""
        from mixem._io import save_result

        save_result(self, path)

    def __repr__(self) -> str:
        families = " + ".join(f"{family_name(c.family)}x{c.n_components}" for c in self.components)
        return (
            f"MixtureResult({families}, n_obs={self.n_obs:g}, loglik={self.loglik:.6g}, "
            f"bic={self.bic:.6g}, n_iter={self.n_iter}, converged={self.converged})"
        )
