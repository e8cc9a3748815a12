"""Model-selection studies: fit a grid of component families x numbers of components.

``select`` fits every (family, K) cell, tabulates log-likelihood, parameter count and the
information criteria, and picks the best cell by a criterion. With the default search the grid
is one study whose cells share their starts (:mod:`mixem._grid`); otherwise the cells are
independent fits, each with its own seed spawned from ``random_state``. Either way, parallel
processes or a Dask cluster give the table of a serial run.
"""

from __future__ import annotations

import dataclasses
import html
import numbers
import os
import time
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from mixem import _grid
from mixem._validation import check_array, check_positive_int, check_sample_weight, check_seed
from mixem.components.covariance_models import MODELS, ONE_DIMENSIONAL
from mixem.components.family import Family, family_name
from mixem.components.gaussian_models import (
    Gaussian,
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.exceptions import DegenerateComponentWarning, FitError
from mixem.model import WARNING_OF, MixtureModel, _check_family
from mixem.result import MixtureResult

if TYPE_CHECKING:
    from mixem.em.events import Event
    from mixem.plotting import SelectionPlots

__all__ = ["CRITERIA", "SelectionResult", "bootstrap_lrt", "select"]

#: Criterion name -> whether larger is better. "cv" is the k-fold cross-validated held-out mean
#: log-likelihood per row; the others are the result's own criteria (lower is better).
CRITERIA = {"bic": False, "aic": False, "icl": False, "cv": True}

DEFAULT_FAMILIES = (GaussianFull, GaussianDiagonal, GaussianSpherical, GaussianTied)

COLUMNS = [
    "family",
    "K",
    "loglik",
    "n_parameters",
    "bic",
    "aic",
    "icl",
    "cv",
    "converged",
    "spurious",
    "n_iter",
    "seconds",
    "status",
]


def _fit_cell(task: dict[str, Any]) -> tuple[dict[str, Any], MixtureResult | None]:
    """Fit one (family, K) cell on its own; never raises for a fit that fails, it reports it."""
    family, k = task["family"], task["k"]
    X, w = task["X"], task["sample_weight"]
    seed = np.random.SeedSequence(task["entropy"], spawn_key=task["spawn_key"])
    model = MixtureModel(family, k, random_state=np.random.default_rng(seed), **task["options"])
    start = time.perf_counter()
    try:
        result, events = model._fit_silently(X, sample_weight=w)
    except (FitError, ValueError) as err:
        return _failed_row(family, k, err, time.perf_counter() - start), None
    cv, cv_failure = np.nan, None
    if task["cv_folds"]:
        try:
            cv = _cross_validate(model, X, w, task["cv_folds"], seed)
        except (FitError, ValueError) as err:
            cv_failure = f"cv failed: {err}"
    # The training rows travel back from worker processes by reference only in a serial run;
    # select() re-attaches its own copy so that every result's to_arviz works either way.
    result = dataclasses.replace(result, feature_names=task["feature_names"], _training=None)
    row = _row(family, k, result, events, time.perf_counter() - start, cv, cv_failure)
    return row, result


def _failed_row(family: Family, k: int, err: Exception, seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
    row.update(
        family=family_name(family),
        K=k,
        converged=False,
        spurious=False,
        n_iter=0,
        status=f"failed: {err}",
        seconds=seconds,
    )
    return row


def _row(
    family: Family,
    k: int,
    result: MixtureResult,
    events: Sequence[Event],
    seconds: float,
    cv: float = np.nan,
    cv_failure: str | None = None,
) -> dict[str, Any]:
    """The table's row of a fitted cell: criteria, and notes of its events and spikes."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
    row.update(
        family=family_name(family),
        K=k,
        loglik=result.loglik,
        n_parameters=result.n_parameters,
        bic=result.bic,
        aic=result.aic,
        icl=result.icl,
        cv=cv,
        converged=result.converged,
        n_iter=result.n_iter,
        seconds=seconds,
        status="ok",
    )
    spurious = np.flatnonzero(result.spurious)
    row["spurious"] = bool(spurious.size)
    notes = sorted({WARNING_OF[e.kind].__name__ for e in events})
    notes += [cv_failure] if cv_failure else []
    if spurious.size:
        counts = result.weights[spurious] * result.n_obs
        notes.insert(
            0,
            "spurious: "
            + ", ".join(
                f"component {j} on {c:.3g} rows" for j, c in zip(spurious, counts, strict=True)
            ),
        )
    if notes:
        row["status"] = "ok; " + ", ".join(notes)
    return row


def _cross_validate(
    model: MixtureModel, X: np.ndarray, w: np.ndarray | None, folds: int, seed: Any
) -> float:
    """Held-out mean log-likelihood per row (weighted), over ``folds`` random folds."""
    rng = np.random.default_rng(
        np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 1))
    )
    fold = rng.permutation(X.shape[0]) % folds
    total, weight = 0.0, 0.0
    for f in range(folds):
        train, test = fold != f, fold == f
        fit, _ = model._fit_silently(X[train], sample_weight=None if w is None else w[train])
        ll = fit.score_samples(X[test])
        wt = np.ones(ll.size) if w is None else w[test]
        total += float(wt @ ll)
        weight += float(wt.sum())
    return total / weight


class _Results(Mapping):
    """Every fit of a study, addressed by ``(family, K)``; family as class or class name."""

    def __init__(self, fits: dict[tuple[str, int], MixtureResult]) -> None:
        self._fits = fits

    @staticmethod
    def _key(key: Any) -> tuple[str, int]:
        family, k = key
        name = family if isinstance(family, str) else family_name(_check_family(family))
        return name, int(k)

    def __getitem__(self, key: Any) -> MixtureResult:
        try:
            return self._fits[self._key(key)]
        except (KeyError, TypeError, ValueError):
            raise KeyError(
                f"no successful fit for {key!r}; keys are (family name or class, K), "
                f"e.g. {next(iter(self._fits), None)!r}"
            ) from None

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self._fits)

    def __len__(self) -> int:
        return len(self._fits)

    def __repr__(self) -> str:
        return f"<{len(self)} fits: {', '.join(f'{f}/{k}' for f, k in self._fits)}>"


class SelectionResult:
    """The outcome of :func:`select`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (family, K): ``loglik``, ``n_parameters``, ``bic``, ``aic``, ``icl``, ``cv``
        (only when ``criterion="cv"``), ``converged``, ``spurious``, ``n_iter``, ``seconds`` and
        ``status`` (``"ok"``, ``"ok; <notes>"``, ``"excluded: spurious: <which>"`` or
        ``"failed: <reason>"``; failed and excluded cells are never chosen).
    criterion : str
        The criterion used to choose.
    best : MixtureResult
        The fit with the best criterion (lowest BIC/AIC/ICL, highest cv).
    best_key : tuple of (str, int)
        ``(family name, K)`` of ``best``.
    results : Mapping
        Every successful fit, ``results[GaussianFull, 3]`` or ``results["GaussianFull", 3]``.
    """

    def __init__(
        self, table: Any, results: _Results, criterion: str, best_key: tuple[str, int]
    ) -> None:
        self.table = table
        self.results = results
        self.criterion = criterion
        self.best_key = best_key

    @property
    def best(self) -> MixtureResult:
        """The chosen fit."""
        return self.results[self.best_key]

    def to_arviz(
        self,
        draws: int = 200,
        random_state: int | None = None,
        *,
        chains: int = 4,
        keys: Iterable[tuple[Any, int]] | None = None,
    ) -> dict[str, Any]:
        """Weighted-bootstrap posterior draws of every fit, as the dict ``az.compare`` takes.

        Parameters
        ----------
        draws, chains
            As in :meth:`MixtureResult.to_arviz`, for every fit.
        random_state : int, optional
            Seed; each fit's draws get their own seed spawned from it and its (family, K).
        keys : iterable of (family, K), optional
            The fits to export; by default every successful one.

        Returns
        -------
        dict of str to arviz.InferenceData or xarray.DataTree
            Keyed ``"<family> K=<K>"``, e.g. ``"GaussianFull K=2"``, in table order:
            ``az.compare(selection.to_arviz())`` ranks the models by PSIS-LOO. A fit whose
            components do not survive reweighting of the rows (a superfluous component on a
            handful of rows, emptied by the bootstrap weights) has no draws: it is left out
            with a :class:`~mixem.DegenerateComponentWarning`.
        """
        chosen = list(self.results) if keys is None else [self.results._key(k) for k in keys]
        entropy = np.random.SeedSequence(random_state).entropy
        out, failed = {}, []
        for family, k in chosen:
            seed = np.random.SeedSequence(entropy, spawn_key=(zlib.crc32(family.encode()), k))
            try:
                out[f"{family} K={k}"] = self.results[family, k].to_arviz(
                    draws, np.random.default_rng(seed), chains=chains
                )
            except FitError as err:
                failed.append(f"{family} K={k} ({err})")
        if failed:
            warnings.warn(
                f"left out {len(failed)} fit(s) whose bootstrap draws failed: " + "; ".join(failed),
                DegenerateComponentWarning,
                stacklevel=2,
            )
        if not out:
            raise FitError("the bootstrap draws of every fit failed")
        return out

    @property
    def plot(self) -> SelectionPlots:
        """Plots of the study: ``criterion``, and every plot of the chosen fit.

        See :class:`mixem.plotting.SelectionPlots`.
        """
        from mixem.plotting import SelectionPlots

        return SelectionPlots(self)

    def summary(self) -> SelectionSummary:
        """A printable summary of the study (``str``, and HTML in notebooks)."""
        return SelectionSummary(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        family, k = self.best_key
        return (
            f"SelectionResult({len(self.table)} fits, criterion={self.criterion!r}, "
            f"best={family} K={k})"
        )


class SelectionSummary:
    """The criteria table and the chosen model."""

    def __init__(self, selection: SelectionResult) -> None:
        self.selection = selection

    def _shown(self) -> Any:
        cols = ["family", "K", "loglik", "n_parameters", "bic", "aic", "icl"]
        if self.selection.criterion == "cv":
            cols.append("cv")
        return self.selection.table[cols + ["converged", "spurious", "status"]]

    def _legend(self) -> list[str]:
        """What the families' names mean, where a family says (mclust's model names)."""
        seen: dict[str, str] = {}
        for result in self.selection.results.values():
            for comps in result.components:
                text = getattr(comps.family, "description", None)
                if isinstance(text, str):
                    seen.setdefault(family_name(comps.family), text)
        return [
            seen[name] for name in dict.fromkeys(self.selection.table["family"]) if name in seen
        ]

    def __str__(self) -> str:
        s = self.selection
        family, k = s.best_key
        sense = "highest" if CRITERIA[s.criterion] else "lowest"
        legend = "".join(f"\n  {line}" for line in self._legend())
        return (
            f"Model selection by {s.criterion.upper()} ({sense} is best)\n"
            f"{self._shown().to_string(index=False, float_format=lambda v: f'{v:.3f}')}\n\n"
            f"Chosen: {family}, K = {k}" + (f"\nModels:{legend}" if legend else "")
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        s = self.selection
        family, k = s.best_key
        return (
            f"<div><strong>Model selection by {html.escape(s.criterion.upper())}</strong>"
            f"{self._shown().to_html(index=False, float_format=lambda v: f'{v:.3f}')}"
            f"<p>Chosen: {html.escape(family)}, K = {k}</p>"
            + "".join(f"<p>{html.escape(line)}</p>" for line in self._legend())
            + "</div>"
        )


def _workers(n_jobs: int, tasks: int) -> int:
    """Worker processes for ``tasks`` fits: ``n_jobs`` (-1: every usable CPU).

    At most one per task and per usable CPU: more would only compete for the cores.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    wanted = cpus if n_jobs == -1 else n_jobs
    return max(1, min(wanted, cpus, tasks))


def select(
    X: Any,
    n_components: Iterable[int] = range(1, 10),
    components: Sequence[Any] | str = DEFAULT_FAMILIES,
    criterion: str = "bic",
    n_init: int = 1,
    random_state: int | None = None,
    n_jobs: int = 1,
    *,
    sample_weight: Any = None,
    cv_folds: int = 5,
    exclude_spurious: bool = True,
    progress: bool | None = None,
    client: Any = None,
    **options: Any,
) -> SelectionResult:
    """Fit every (family, K) combination and choose one by an information criterion.

    Parameters
    ----------
    X : array-like of shape (n, d), or pandas.DataFrame
        The data.
    n_components : iterable of int, default range(1, 10)
        Numbers of components to try.
    components : sequence of families, or "mclust"
        Families to try (classes, or family values such as ``mixem.Gaussian("VEV")``); by
        default the four Gaussian families. ``"mclust"`` tries mclust's fourteen covariance
        models, ``mixem.Gaussian("EII")`` ... ``mixem.Gaussian("VVV")`` (on one column its two,
        ``"E"`` and ``"V"``), as ``Mclust(X)`` does.
    criterion : {"bic", "aic", "icl", "cv"}
        ``"cv"`` is the ``cv_folds``-fold cross-validated held-out mean log-likelihood per row
        (higher is better); the others are lower-is-better criteria of the fits.
    n_init : int, default 1
        Runs per fit, each with its own start. With ``n_init=1`` and the default search
        (``init="short_em"``) the grid is fitted as one study: walking up in K, a cell's search
        starts from 10 k-means++ starts and Ward's hierarchical start (the same seeds for every
        family at that K), from every split of the K - 1 fit, and from the other families'
        fits at K; walking down, merges of the K + 1 fit race against K's fit (see
        :func:`mixem.em.study.fit_study`). A cell's fit therefore depends on its grid. Its
        ``n_iter`` and trace are its own EM iterations from the start that won. Any other
        ``n_init`` or ``init`` fits every cell on its own, as :meth:`MixtureModel.fit`.
    random_state : int, optional
        Seed of the whole study; results do not depend on ``n_jobs``, ``client`` or the order
        of ``n_components``.
    n_jobs : int, default 1
        Worker processes (``concurrent.futures``); ``-1`` uses every CPU. At most one per
        usable CPU and per independent fit are started. A study (the default
        search) runs in this process, and the workers take its independent parts: the
        studies of the folds for ``criterion="cv"``, and, on more than ``search.rows`` rows
        (5000), each cell's run over all rows after the study on a subsample.
    sample_weight : array-like of shape (n,), optional
        Frequency weights, as in :meth:`MixtureModel.fit`.
    cv_folds : int, default 5
        Folds for ``criterion="cv"``.
    exclude_spurious : bool, default True
        Never choose a fit with a spurious component (see :attr:`MixtureResult.spurious`: a
        likelihood spike on ``d`` or fewer rows, which would win any likelihood-based
        criterion). Such cells stay in the table with ``spurious`` True and a ``status``
        starting ``"excluded: spurious"``.
    progress : bool, optional
        Show a progress bar (tqdm's auto bar). ``None`` shows it only on an interactive
        terminal or notebook.
    client : dask.distributed.Client, optional
        Run the work as tasks on this client's cluster instead of local processes: the cells,
        or for a study the whole study (and each fold's study). The table is the same as a
        serial run's. Not together with ``n_jobs``.
    **options
        Passed to every :class:`MixtureModel` (``max_iter``, ``tol``, ``reg_covar``, ``init``,
        ``search``). A study's search defaults to :data:`mixem.em.study.STUDY_SEARCH` (10
        starts per cell, since the cells share theirs); ``search=`` replaces it. With more
        than eight families (``components="mclust"``) the cells at each K share that search's
        effort among them (:func:`mixem.em.study.shared`).

    Returns
    -------
    SelectionResult
        ``table``, ``best``, ``results``, ``summary()``.

    Raises
    ------
    FitError
        If no cell could be fitted.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    if isinstance(n_components, numbers.Integral | str | bytes) or not isinstance(
        n_components, Iterable
    ):
        raise TypeError(
            "n_components must be the numbers of components to try, such as range(1, 7) or "
            f"[3], got {n_components!r:.60}"
        )
    ks = [check_positive_int(k, "n_components") for k in n_components]
    if not isinstance(exclude_spurious, bool):
        raise TypeError(f"exclude_spurious must be True or False, got {exclude_spurious!r:.60}")
    if not ks:
        raise ValueError("n_components is empty; give at least one number of components")
    X_arr, names = check_array(X, "X")
    families = [_check_family(f) for f in _families(components, X_arr.shape[1])]
    if not families:
        raise ValueError("components is empty; give at least one family")
    n_init = check_positive_int(n_init, "n_init")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if n_jobs < 1 and n_jobs != -1:
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs}")
    random_state = check_seed(random_state)
    w = check_sample_weight(sample_weight, X_arr.shape[0])
    cv = check_positive_int(cv_folds, "cv_folds", minimum=2) if criterion == "cv" else 0
    if cv > X_arr.shape[0]:
        raise ValueError(f"cv_folds={cv} is more than the {X_arr.shape[0]} rows of X")
    entropy = np.random.SeedSequence(random_state).entropy
    tasks = [
        {
            "family": f,
            "k": k,
            "X": X_arr,
            "feature_names": names,
            "sample_weight": w,
            "entropy": entropy,
            # Keyed by (family, K), not grid position: a cell fits the same in any grid.
            "spawn_key": (zlib.crc32(family_name(f).encode()), k),
            "options": {"n_init": n_init, **options},
            "cv_folds": cv,
        }
        for f, k in ((f, k) for f in families for k in ks)
    ]
    if client is not None and n_jobs != 1:
        raise ValueError("give either client= (a Dask cluster) or n_jobs (local processes)")
    if client is not None and not (hasattr(client, "map") and hasattr(client, "gather")):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    if _grid.studied(families, n_init, options):
        outcomes = _run_study(
            X_arr, w, names, families, ks, options, entropy, cv, n_jobs, progress, client
        )
    else:
        outcomes = _run_tasks(tasks, n_jobs, progress, client)

    import pandas as pd

    table = pd.DataFrame([row for row, _ in outcomes], columns=COLUMNS)
    if criterion != "cv":
        table = table.drop(columns="cv")
    fits = {
        (row["family"], row["K"]): dataclasses.replace(res, _training=(X_arr, w))
        for row, res in outcomes
        if res is not None
    }
    scores = table[criterion].to_numpy(dtype=float)
    if not np.any(np.isfinite(scores)):
        first = outcomes[0][0]
        raise FitError(
            f"every one of the {len(tasks)} fits failed (first, {first['family']} K={first['K']}: "
            f"{first['status'].removeprefix('failed: ')})"
        )
    if exclude_spurious:
        excluded = table["spurious"].to_numpy(dtype=bool)
        if np.all(excluded | ~np.isfinite(scores)):
            raise FitError(
                f"every successful fit of the {len(tasks)} cells has a spurious component (a "
                "spike on d or fewer rows); use fewer components, a larger reg_covar, or "
                "exclude_spurious=False to choose among them anyway"
            )
        table.loc[excluded, "status"] = "excluded: " + table.loc[
            excluded, "status"
        ].str.removeprefix("ok; ")
        scores = np.where(excluded, np.nan, scores)
    pick = int(np.nanargmax(scores) if CRITERIA[criterion] else np.nanargmin(scores))
    best_key = (str(table["family"].iloc[pick]), int(table["K"].iloc[pick]))
    return SelectionResult(table, _Results(fits), criterion, best_key)


def _families(components: Any, n_features: int) -> Sequence[Any]:
    """The families to try: ``components``, or for ``"mclust"`` mclust's models of ``X``."""
    if isinstance(components, str):
        if components != "mclust":
            raise ValueError(
                f"components must be a sequence of families or 'mclust', got {components!r}"
            )
        return [Gaussian(m) for m in (ONE_DIMENSIONAL if n_features == 1 else MODELS)]
    return components


def _run_study(
    X: np.ndarray,
    w: np.ndarray | None,
    names: tuple[str, ...] | None,
    families: Sequence[Family],
    ks: Sequence[int],
    options: dict[str, Any],
    entropy: int,
    cv: int,
    n_jobs: int,
    progress: bool | None,
    client: Any,
) -> list[tuple[dict[str, Any], MixtureResult | None]]:
    from tqdm.auto import tqdm

    cells = len(families) * len(ks) * (1 + cv)
    bar = tqdm(total=cells, desc="mixem.select", unit="fit", disable=_disable(progress))
    pool = None
    if n_jobs != 1 and client is None:
        pool = ProcessPoolExecutor(max_workers=_workers(n_jobs, cells))
    try:
        return _grid.fit_grid(
            X,
            w,
            names,
            families,
            ks,
            options,
            entropy=entropy,
            cv_folds=cv,
            pool=pool,
            client=client,
            tick=bar.update,
        )
    finally:
        if pool is not None:
            pool.shutdown()
        bar.close()


def _run_tasks(
    tasks: list[dict[str, Any]], n_jobs: int, progress: bool | None, client: Any = None
) -> list[tuple[dict[str, Any], MixtureResult | None]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc="mixem.select", unit="fit", disable=_disable(progress))
    try:
        if client is not None:
            from distributed import as_completed

            # The data go to every worker once, not with every cell (futures inside the task
            # dicts are resolved on the workers).
            shared = client.scatter(
                {"X": tasks[0]["X"], "sample_weight": tasks[0]["sample_weight"]}, broadcast=True
            )
            tasks = [{**task, **shared} for task in tasks]
            futures = client.map(_fit_cell, tasks, pure=False)
            for _ in as_completed(futures):
                bar.update()
            return client.gather(futures)
        if n_jobs == 1:
            out = []
            for task in tasks:
                out.append(_fit_cell(task))
                bar.update()
            return out
        with ProcessPoolExecutor(max_workers=_workers(n_jobs, len(tasks))) as pool:
            out = []
            for outcome in pool.map(_fit_cell, tasks):
                out.append(outcome)
                bar.update()
            return out
    finally:
        bar.close()


def _disable(progress: bool | None) -> bool | None:
    # tqdm's disable=None turns the bar off when output is not a terminal (or a notebook).
    return None if progress is None else not progress


def bootstrap_lrt(
    X: Any,
    component: Family,
    max_components: int,
    n_boot: int = 99,
    random_state: int | None = None,
    *,
    n_init: int = 3,
    init: str = "kmeans++",
    **options: Any,
) -> Any:
    """Parametric bootstrap likelihood-ratio tests of K versus K + 1 components.

    For every ``K0`` from 1 to ``max_components - 1`` (as mclust's ``mclustBootstrapLRT``):
    fit ``K0`` and ``K0 + 1`` components, take ``LRT = 2 (loglik(K0 + 1) - loglik(K0))``; draw
    ``n_boot`` data sets of the same size from the ``K0`` fit, refit both models on each, and
    report the bootstrap p-value ``(1 + #{LRT_b >= LRT}) / (1 + n_ok)``, where ``n_ok`` counts
    the replicates whose two fits succeeded.

    Parameters
    ----------
    X : array-like of shape (n, d), or pandas.DataFrame
        The data.
    component : Component subclass
        The family, e.g. ``mixem.GaussianFull``.
    max_components : int
        The largest number of components tested (the last test is ``max_components - 1``
        against ``max_components``).
    n_boot : int, default 99
        Bootstrap replicates per test.
    random_state : int, optional
        Seed; the same seed gives the same table.
    n_init : int, default 3
        Restarts per fit.
    init : str, default "kmeans++"
        Start of every fit. The test fits ``2 (n_boot + 1)`` models per ``K0``, and the observed
        and bootstrap fits must be found the same way for the p-value to hold, so the default is
        the cheap k-means++ start rather than :class:`MixtureModel`'s search; pass
        ``init="short_em"`` to test with the search (about 20 times the cost).
    **options
        Passed to every :class:`MixtureModel`.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``K0``, ``K1``, ``lrt``, ``p_value``, ``n_boot`` (replicates used),
        ``n_failed`` (replicates whose fits failed and were left out) and ``status``. A test
        whose observed fits, or every replicate, failed has NaN ``lrt``/``p_value``.
    """
    import pandas as pd

    family = _check_family(component)
    max_components = check_positive_int(max_components, "max_components", minimum=2)
    n_boot = check_positive_int(n_boot, "n_boot")
    random_state = check_seed(random_state)
    X_arr, _ = check_array(X, "X")
    seeds = np.random.SeedSequence(random_state)

    def fit(data: np.ndarray, k: int, seed: np.random.SeedSequence) -> MixtureResult:
        model = MixtureModel(
            family, k, n_init=n_init, init=init, random_state=np.random.default_rng(seed), **options
        )
        return model._fit_silently(data)[0]

    rows = []
    for k0, seed in zip(range(1, max_components), seeds.spawn(max_components - 1), strict=True):
        s_fit0, s_fit1, s_boot = seed.spawn(3)
        try:
            null, alt = fit(X_arr, k0, s_fit0), fit(X_arr, k0 + 1, s_fit1)
        except (FitError, ValueError) as err:
            rows.append(
                {
                    "K0": k0,
                    "K1": k0 + 1,
                    "lrt": np.nan,
                    "p_value": np.nan,
                    "n_boot": 0,
                    "n_failed": 0,
                    "status": f"failed: {err}",
                }
            )
            continue
        observed = 2.0 * (alt.loglik - null.loglik)
        replicates, failed = [], 0
        for b_seed in s_boot.spawn(n_boot):
            draw_seed, f0, f1 = b_seed.spawn(3)
            sample, _ = null.sample(X_arr.shape[0], random_state=np.random.default_rng(draw_seed))
            try:
                replicates.append(
                    2.0 * (fit(sample, k0 + 1, f1).loglik - fit(sample, k0, f0).loglik)
                )
            except (FitError, ValueError):
                failed += 1
        used = len(replicates)
        # No replicate, no test: NaN rather than a p-value of 1 that would read as "keep K0".
        p = (1 + sum(r >= observed for r in replicates)) / (1 + used) if used else np.nan
        status = "ok" if used else "failed: every bootstrap replicate failed"
        rows.append(
            {
                "K0": k0,
                "K1": k0 + 1,
                "lrt": observed,
                "p_value": p,
                "n_boot": used,
                "n_failed": failed,
                "status": status,
            }
        )
    return pd.DataFrame(rows)
