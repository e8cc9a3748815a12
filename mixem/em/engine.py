"""The engine's one entry point: fit runs of one structure to one data set.

:func:`fit` is called by :meth:`mixem.MixtureModel.fit`, :func:`mixem.select`, the weighted
bootstrap and the bootstrap likelihood-ratio test. It returns a :class:`FitRecord`: the best
run, every run or its failure, and the events worth telling the user, as data. It never warns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mixem.em.batch import run_many
from mixem.em.events import Event
from mixem.em.init import initial_statistics
from mixem.em.loop import EMRun
from mixem.em.search import cover_all_rows, rank, search, search_reweighted
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Start, Structure
from mixem.exceptions import FitError

__all__ = ["FitRecord", "fit", "fit_reweighted"]


@dataclass(frozen=True)
class FitRecord:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    best : EMRun or None
        The kept run: the best plausible (non-spurious) one, else the best; None if every run
        failed.
    runs : tuple of EMRun or FitError
        Every run (restart) in order, or the error that ended it.
    events : tuple of Event
        What the user should hear about the kept run (or, if every run failed, about all of
        them): re-seeds of a single start, decreases, non-convergence, failed restarts.
    error : FitError or None
        Why no run succeeded, when none did.
    """

    best: EMRun | None
    runs: tuple[EMRun | FitError, ...]
    events: tuple[Event, ...]
    error: FitError | None = None


def fit(
    rows: np.ndarray,
    structure: Structure,
    settings: Settings,
    *,
    rng: np.random.Generator,
    sample_weight: np.ndarray | None = None,
    starts: Sequence[Start] = (),
    search: SearchSettings | None = None,
    subsample: tuple[np.ndarray, np.ndarray] | None = None,
) -> FitRecord:
    """Fit ``structure`` to ``rows`` by EM: every run, the best one and what happened.

    Parameters
    ----------
    rows : ndarray of shape (n, d), or rows read chunk by chunk
        Validated data (finite floats); on-disk and Dask rows come with ``subsample``.
    structure : Structure
        Families and their numbers of components.
    settings : Settings
        EM's options, the kind of a single start and the number of runs.
    rng : numpy.random.Generator
        Source of every random choice.
    sample_weight : ndarray of shape (n,), optional
        Validated frequency weights.
    starts : sequence of (weights, components)
        Given starts. Without ``search``, one run from each (``settings.n_init`` is not used);
        with it, they compete with every search's starts (a warm start).
    search : SearchSettings, optional
        Search for each of the ``settings.n_init`` runs' start (the default of
        :class:`mixem.MixtureModel`); without it and without ``starts``, each run starts from
        one start of kind ``settings.init``.
    subsample : (indices, rows), optional
        For rows that are not in memory: a uniform subsample (sorted row indices and those rows
        in memory) drawn in the pass that validated them. The start is found on it, and one
        run then goes over all rows.

    Returns
    -------
    FitRecord
    """
    if subsample is not None:
        return _fit_from_subsample(
            rows, structure, settings, rng, sample_weight, starts, search, subsample
        )
    n_obs = rows.shape[0] if sample_weight is None else float(sample_weight.sum())
    runs: list[EMRun | FitError] = []
    plan: Sequence[Start | None] = (
        list(starts) if starts and search is None else [None] * settings.n_init
    )
    for start in plan:
        try:
            if search is not None:
                run = _searched(rows, sample_weight, structure, settings, search, rng, starts)
            else:
                if start is None:
                    start = _single_start(rows, sample_weight, structure, settings, rng)
                run = _run(rows, sample_weight, start, settings)
            runs.append(run)
        except FitError as err:
            runs.append(err)
    return _record(runs, settings, n_obs, searched=search is not None)


def fit_reweighted(
    rows: np.ndarray,
    structure: Structure,
    settings: Settings,
    *,
    rng: np.random.Generator,
    draw: Callable[[], np.ndarray],
    count: int,
    starts: Sequence[Start] = (),
    search: SearchSettings,
) -> tuple[np.ndarray, list[FitRecord]]:
    """:func:`fit` of the same rows under ``count`` weightings drawn by ``draw()``, at once.

    The weighted bootstrap's draws: each weighting is searched from the given ``starts`` and
    the search's fresh starts (no subsample, no split-and-merge moves), all of them batched,
    with the random stream of fitting the weightings one after another. Returns the weights
    ``(count, n)`` and one record per weighting.
    """
    weights, runs = search_reweighted(
        rows, draw, count, structure, settings, search, rng, given=starts
    )
    records = [
        _record([run], settings, float(w.sum()), searched=True)
        for w, run in zip(weights, runs, strict=True)
    ]
    return weights, records


def _run(X: np.ndarray, w: np.ndarray | None, start: Start, settings: Settings) -> EMRun:
    # A batch of one: the compiled loop where the family has one, as the search's runs.
    (run,) = run_many(
        X,
        w,
        [start],
        max_iter=settings.max_iter,
        tol=settings.tol,
        reg_covar=settings.reg_covar,
        chunk=settings.chunk,
    )
    if isinstance(run, FitError):
        raise run
    return run


def _single_start(
    X: np.ndarray,
    w: np.ndarray | None,
    structure: Structure,
    settings: Settings,
    rng: np.random.Generator,
) -> Start:
    nk, stats = initial_statistics(
        X, w, structure.families, structure.sizes, settings.init, rng, settings.chunk
    )
    return structure.start(nk, stats, settings.reg_covar)


def _searched(
    X: np.ndarray,
    w: np.ndarray | None,
    structure: Structure,
    settings: Settings,
    tuning: SearchSettings,
    rng: np.random.Generator,
    given: Sequence[Start],
) -> EMRun:
    """The search's best chain; on more rows than it searches, one run over all rows from it."""
    usable = X.shape[0] if w is None else int(np.count_nonzero(w > 0))
    found = search(X, w, structure, settings, tuning, rng, given=given)
    if usable <= tuning.rows:
        return found
    # As for rows on disk: one M-step on all rows from the subsample's fit (a noise box becomes
    # the data's, rows the subsample never saw are covered), then EM over all rows.
    start = cover_all_rows(
        X,
        w,
        (found.weights, found.components),
        structure,
        settings.reg_covar,
        settings.chunk,
        force=True,
    )
    return _run(X, w, start, settings)


def _fit_from_subsample(
    rows: np.ndarray,
    structure: Structure,
    settings: Settings,
    rng: np.random.Generator,
    w: np.ndarray | None,
    starts: Sequence[Start],
    search: SearchSettings | None,
    subsample: tuple[np.ndarray, np.ndarray],
) -> FitRecord:
    """Find the start on the subsample in memory, then run EM once over all rows."""
    picks, sub = subsample
    if starts and search is None:
        start = starts[0]
    else:
        found = fit(
            sub,
            structure,
            settings,
            rng=rng,
            sample_weight=None if w is None else w[picks],
            starts=starts,
            search=search,
        )
        if found.best is None:
            return found
        # One M-step on all rows from the subsample's fit: statistics that depend on the
        # rows' range (a noise component's box) become the data's, and rows the subsample
        # never saw are covered.
        start = cover_all_rows(
            rows,
            w,
            (found.best.weights, found.best.components),
            structure,
            settings.reg_covar,
            settings.chunk,
            force=True,
        )
    n_obs = rows.shape[0] if w is None else float(w.sum())
    try:
        run: EMRun | FitError = _run(rows, w, start, settings)
    except FitError as err:
        run = err
    # The search's own events concern the subsample; the run over all rows reports its own.
    return _record([run], settings, n_obs, searched=False)


def _record(
    runs: list[EMRun | FitError], settings: Settings, n_obs: float, *, searched: bool
) -> FitRecord:
    """The best run and the events the user should hear about."""
    ok = [i for i, r in enumerate(runs) if isinstance(r, EMRun)]
    if not ok:
        events = tuple(
            Event(e.kind, e.message, e.iteration, e.component, i if len(runs) > 1 else None)
            for i, r in enumerate(runs)
            for e in getattr(r, "events", ())
        )
        error = runs[-1]
        if len(runs) > 1:
            error = FitError(f"all {len(runs)} restarts failed; the last: {runs[-1]}")
            error.__cause__ = runs[-1]
        return FitRecord(None, tuple(runs), events, error)  # type: ignore[arg-type]
    keep = max(ok, key=lambda i: rank(runs[i], n_obs, settings.reg_covar))  # type: ignore[arg-type]
    best = runs[keep]
    assert isinstance(best, EMRun)
    label = keep if len(runs) > 1 else None
    events = [
        Event(
            "run_failed",
            f"failed ({r}); the best of the other restarts is kept",
            run=i,
        )
        for i, r in enumerate(runs)
        if not isinstance(r, EMRun)
    ]
    # Re-seeds are how a search explores (the trace marks them, result.events lists them); for
    # a single start they are news.
    events += [
        Event(e.kind, e.message, e.iteration, e.component, label)
        for e in best.events
        if not (searched and e.kind in ("reseed", "recovery"))
    ]
    if not best.converged and settings.max_iter > 0:
        change = best.trace.change[-1] if len(best.trace) else float("nan")
        events.append(
            Event(
                "not_converged",
                f"EM did not converge in max_iter={settings.max_iter} iterations (last change "
                f"of mean log-likelihood {change:.3g}, tol={settings.tol:g}); see "
                "result.trace, raise max_iter or tol",
                run=label,
            )
        )
    return FitRecord(best, tuple(runs), tuple(events))
