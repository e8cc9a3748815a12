"""A model-selection study as one computation: the cells of a grid share their work.

:func:`fit_study` fits every (family, K) cell of a grid on one data set. Where
:func:`~mixem.em.engine.fit` searches each cell on its own (50 k-means++ starts), a study lets
the cells start from each other, as a statistician walks a BIC table:

1. **Up**, K in increasing order: a cell's candidates are the hierarchical start and
   ``tuning.starts`` k-means++ starts (drawn from a stream keyed by K alone, so every family at
   K starts from the same seeds), every split of one component of the K - 1 fit of the same
   family along its principal axis, and the other families' fits at K. The search then goes on
   as :func:`~mixem.em.search.search`: short runs, the ``tuning.keep`` best continued,
   split-and-merge rounds from the ``tuning.split_merge_bases`` best distinct fits.
2. **Down**, K in decreasing order: the :data:`MERGES` most overlapping pairs of components of the
   K + 1 fit merged, and the other families' fits at K, race against K's fit and replace it
   when better.

A study of more than :data:`SHARED_FAMILIES` families (mclust's fourteen models) shares the
effort at K among them (:func:`shared`): each family draws its own
``ceil(4 * starts / F)`` k-means++ starts (so the K's cells together still try about
``4 * starts`` seeds), runs them half as many short iterations, keeps ``ceil(4 * keep / F)``
short runs (at least 2), drops short runs from responsibilities that need a re-seed (going up
or down; if none is left, they run again with re-seeds), takes the
:data:`OTHERS` best other families' fits at K as starts (as every study does), and
skips split-and-merge, which those neighbours replace; the downward pass tries
:data:`SHARED_MERGES` merges. On the bundled datasets
(``benchmarks/bench_mclust_models.py``) that reaches mclust's log-likelihood in all 366 cells,
as the whole tuning per cell does, in a seventh of its time (4.1 s against 30.6 s for the three
datasets, one thread).

A start built from a neighbouring cell's fit is a start like any other: its chain, ``n_iter``
and trace are the cell's own EM iterations. On more than ``tuning.rows`` rows, the study runs on
one subsample of that many rows (the same for every cell), and each cell's fit then takes one
run over all rows. Measured against the best of 50 k-means++ fits per cell
(``benchmarks/bench_study.py``), a study with 10 starts per cell reaches as many cells as
searching each cell with 50, in about a quarter of the time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np

from mixem.components.family import Family
from mixem.em.engine import FitRecord, _record, _run
from mixem.em.init import WardTree, initial_statistics
from mixem.em.loop import EMRun
from mixem.em.passes import log_sum_exp, weighted_log_prob
from mixem.em.search import (
    COMPILED_START_FLOATS,
    _compiled_starts,
    _Search,
    _split_merge,
    cover_all_rows,
)
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Structure
from mixem.exceptions import FitError

__all__ = ["STUDY_SEARCH", "fit_study"]

#: Merges of the K + 1 fit tried for K in the downward pass.
MERGES = 5
#: Merges tried in a study that shares the effort at K (``bench_mclust_models.py``: with 3,
#: 366 of 366 cells reach mclust's log-likelihood, in 10% less time than with 5).
SHARED_MERGES = 3
#: A study's search of every cell: 10 k-means++ starts, split-and-merge from one base
#: (``benchmarks/bench_study.py``: 97.8% of 321 cells, as 50 starts and 3 bases per cell).
#: 12 short iterations and 3 rounds scored 98.1% there in 12% less time, but ``mixem.select``
#: with them reached 98 of 107 cells at its seed 0 against 104 (``bench_select.py``), so the
#: faster tuning waits for more seeds.
STUDY_SEARCH = SearchSettings(starts=10, keep=5, split_merge_bases=1)
#: Families whose cells each get the whole tuning; a study of more shares the effort at K.
#: Sharing costs the cells some maxima that split-and-merge finds (four Gaussian classes with
#: one more family, shared: 4 to 10 of their 32 cells lower, by up to 28 nats), so it waits
#: for tables as large as mclust's (fourteen models unshared: 30.6 s for the bundled
#: datasets; shared: 4.1 s).
SHARED_FAMILIES = 8
#: The default study's families: a shared study's effort at K is about theirs.
BASE_FAMILIES = 4

#: Other families' fits at K tried as starts of a cell: the best (plausible first, then by
#: log-likelihood); every other one for the default four.
OTHERS = BASE_FAMILIES - 1

Cell = tuple[Family, int]


def shared(tuning: SearchSettings, n_families: int) -> SearchSettings:
    """Each cell's search in a study of ``n_families`` families.

    Up to :data:`SHARED_FAMILIES` families, ``tuning`` itself. A study of more shares the
    effort at each K: every family gets ``ceil(4 * starts / n_families)`` k-means++ starts of
    its own (so the cells at K together try about ``4 * starts`` seeds), half the short
    iterations, ``ceil(4 * keep / n_families)`` short runs continued (at least 2) and no
    split-and-merge; the study also gives each cell the :data:`OTHERS` best other families'
    fits at K as starts, tries :data:`SHARED_MERGES` merges going down and drops short runs
    that need a re-seed (running them again with re-seeds if none is left).
    """
    if n_families <= SHARED_FAMILIES:
        return tuning
    share = BASE_FAMILIES / n_families
    return dataclasses.replace(
        tuning,
        starts=math.ceil(tuning.starts * share),
        keep=max(2, math.ceil(tuning.keep * share)),
        short_iter=math.ceil(tuning.short_iter / 2),
        split_merge_rounds=0,
    )


def fit_study(
    rows: np.ndarray,
    families: Sequence[Family],
    ks: Sequence[int],
    settings: Settings,
    tuning: SearchSettings,
    *,
    seed: np.random.SeedSequence,
    sample_weight: np.ndarray | None = None,
    skip: Collection[Cell] = (),
    on_work: Callable[[Cell, float], None] | None = None,
    mapper: Callable[..., Iterable[EMRun | FitError]] = map,
    scout: bool = False,
) -> dict[Cell, FitRecord]:
    """Fit every (family, K) cell of a grid on in-memory ``rows``; one record per cell.

    Parameters
    ----------
    rows : ndarray of shape (n, d)
        Validated data (finite floats).
    families : sequence of Component classes
        The families of the grid, each fitted as a mixture of K components of it.
    ks : sequence of int
        The numbers of components (each at least 1, distinct).
    settings : Settings
        EM's options (``settings.n_init`` is not used: one search per cell).
    tuning : SearchSettings
        The search of every cell (see the module's description).
    seed : numpy.random.SeedSequence
        Root of the study's random streams: K's starts come from ``seed``'s child keyed by K
        (in a shared study, each family's from that child's child keyed by 1 + its index),
        the subsample and the rows of the Ward tree from the child keyed by 0.
    sample_weight : ndarray of shape (n,), optional
        Validated frequency weights.
    skip : collection of (family, K)
        Cells of the grid not to fit (their data checks failed); they are left out of the
        result and start nobody.
    on_work : callable, optional
        Called as ``on_work(cell, seconds)`` after each piece of a cell's work (its search, its
        race against merges, its run over all rows), with the seconds it took: a progress bar
        and per-cell timings.
    mapper : callable, default map
        ``mapper(function, *iterables)``, as the builtin ``map``, for the cells' runs over all
        rows after a subsampled study (independent and deterministic, so a process pool's or
        a Dask client's map gives the same records).

    scout : bool, default False
        Also fit, for every family, one cell above its largest K (when the rows allow it), so
        that the downward pass reaches the top of the grid too; scouts are not returned.
        Measured (``benchmarks/bench_study.py``, 3 seeds): on K = 1..6, 96.3% of the cells
        reach the best of 50 k-means++ fits against 92.6% without, for about 1.6 times the
        time; on K = 1..9 no gain (98.1% both).

    Returns
    -------
    dict
        ``{(family, K): FitRecord}``; a cell whose every start failed holds the error.
    """
    ks = sorted(ks)
    tuning = shared(tuning, len(families))
    X, w = rows, sample_weight
    usable = np.arange(X.shape[0]) if w is None else np.flatnonzero(w > 0)
    subsampled = usable.size > tuning.rows
    rng = np.random.default_rng(_child(seed, 0))  # the subsample's, then the tree's draws
    if subsampled:
        picks = np.sort(rng.choice(usable, tuning.rows, replace=False))
        X, w = X[picks], None if w is None else w[picks]
    # One Ward tree of the rows gives every K's hierarchical start, as mclust's hc.
    tree = WardTree.of(X, w, rng) if tuning.hierarchical else None
    cells = [(f, k) for k in ks for f in families if (f, k) not in skip]
    found: dict[Cell, EMRun] = {}
    outcome: dict[Cell, EMRun | FitError] = {}
    report = on_work or (lambda cell, seconds: None)
    scouts = [c for c in _scouts(X, w, families, cells) if c[1] not in ks] if scout else []
    climbed = sorted({*ks, *(k for _, k in scouts)})
    for family, k in sorted(cells + scouts, key=lambda cell: cell[1]):  # stable: families
        began = time.perf_counter()
        try:
            found[family, k] = _up(
                X, w, family, k, climbed, found, families, settings, tuning, seed, tree
            )
        except FitError as err:
            outcome[family, k] = err
        report((family, k if (family, k) not in scouts else k - 1), time.perf_counter() - began)
    for family, k in sorted(cells, key=lambda cell: -cell[1]):  # stable: families in order
        if (family, k + 1) in found:
            began = time.perf_counter()
            _down(X, w, family, k, found, families, settings, tuning)
            report((family, k), time.perf_counter() - began)
    outcome.update(found)
    if subsampled:
        fitted = [cell for cell in cells if cell in found]  # not the scouts
        finished = mapper(
            _over_all_rows,
            [rows] * len(fitted),
            [sample_weight] * len(fitted),
            [found[cell] for cell in fitted],
            [Structure((f,), (k,)) for f, k in fitted],
            [settings] * len(fitted),
        )
        for cell, (run, seconds) in zip(fitted, finished, strict=True):
            outcome[cell] = run
            report(cell, seconds)
    n_obs = rows.shape[0] if sample_weight is None else float(sample_weight.sum())
    return {
        (f, k): _record([outcome[f, k]], settings, n_obs, searched=True)
        for f in families
        for k in ks
        if (f, k) not in skip
    }


def _scouts(
    X: np.ndarray, w: np.ndarray | None, families: Sequence[Family], cells: list[Cell]
) -> list[Cell]:
    """For every family, the cell above its largest K, where the rows can carry it."""
    used = X if w is None else X[w > 0]
    distinct = np.unique(used, axis=0).shape[0]
    out = []
    for family in families:
        top = max((k for f, k in cells if f == family), default=None)
        if top is None:
            continue
        k = top + 1
        if k <= distinct and used.shape[0] >= Structure((family,), (k,)).min_rows(X.shape[1]):
            out.append((family, k))
    return out


def _child(seed: np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))


def _up(
    X: np.ndarray,
    w: np.ndarray | None,
    family: Family,
    k: int,
    ks: Sequence[int],
    found: dict[Cell, EMRun],
    families: Sequence[Family],
    settings: Settings,
    tuning: SearchSettings,
    seed: np.random.SeedSequence,
    tree: WardTree | None,
) -> EMRun:
    """The cell's search from its own starts, the K - 1 fit's splits and the other families."""
    from mixem.em import gaussian_batch

    structure = Structure((family,), (k,))
    s = _Search(X, w, structure, settings, tuning)
    rng = np.random.default_rng(_child(seed, k))
    sharing = len(families) > SHARED_FAMILIES
    if sharing:  # each family its own share of K's seeds
        rng = np.random.default_rng(_child(_child(seed, k), 1 + list(families).index(family)))
    resps: list[np.ndarray] = []
    short: list[tuple[int, EMRun, EMRun | None]] = []
    # Starts as responsibilities hold (starts, K, n) floats at once, as in the search.
    size = (tuning.starts + tuning.hierarchical) * k * X.shape[0]
    if (
        gaussian_batch.family_kind(X, structure.families) is not None
        and size <= COMPILED_START_FLOATS
    ):
        resps += list(_compiled_starts(X, w, structure, tuning, rng, tree).transpose(0, 2, 1))
    else:
        methods = ["hierarchical"] * tuning.hierarchical + ["kmeans++"] * tuning.starts
        starts = []
        for method in methods:
            nk, stats = initial_statistics(
                X, w, structure.families, structure.sizes, method, rng, settings.chunk
            )
            try:
                starts.append(s.start(nk, stats))
            except FitError as err:
                s.error = err
        short += [(0, r, None) for _, r in s.run_all(starts, s.short_iter)]
    if k - 1 in ks and (family, k - 1) in found:
        resps += _splits(X, w, found[family, k - 1])
    resps += _others(X, family, k, found, families, s.rank)
    if resps:
        # Sharing the effort, starts that collapse are dropped (unless every one does).
        groups = [0] * len(resps)
        runs = s.run_all_from(resps, s.short_iter, groups=groups, reseed=not sharing)
        if not runs and sharing:
            runs = s.run_all_from(resps, s.short_iter, groups=groups)
        short += [(0, r, None) for _, r in runs]
    protect = tuning.split_merge_bases if tuning.split_merge_rounds else 1
    (finals,) = s.best_continued(short, tuning.keep, protect=protect)
    if not finals:
        raise s.error or FitError("no start of the search could be run")
    best = finals[0]
    if tuning.split_merge_rounds > 0:
        bases: list[EMRun] = []
        for final in finals:
            if all(abs(final.loglik - b.loglik) > settings.tol * s.n_obs for b in bases):
                bases.append(final)
            if len(bases) == tuning.split_merge_bases:
                break
        for base in bases:
            moved = _split_merge(s, base)
            if s.rank(moved) > s.rank(best):
                best = moved
    return best


def _down(
    X: np.ndarray,
    w: np.ndarray | None,
    family: Family,
    k: int,
    found: dict[Cell, EMRun],
    families: Sequence[Family],
    settings: Settings,
    tuning: SearchSettings,
) -> None:
    """Merges of the K + 1 fit (and the other families' fits) race against K's fit."""
    s = _Search(X, w, Structure((family,), (k,)), settings, tuning)
    current = found.get((family, k))
    mark = -np.inf
    if current is not None and s.rank(current)[0]:
        mark = current.loglik + settings.tol * s.n_obs  # a gain must count
    sharing = len(families) > SHARED_FAMILIES
    merges = _merges(X, w, found[family, k + 1], SHARED_MERGES if sharing else MERGES)
    resps = merges + _others(X, family, k, found, families, s.rank)
    runs = s.run_all_from(resps, s.short_iter, mark, reseed=not sharing)
    if not runs and sharing and current is None:  # nothing to improve on: re-seed them
        runs = s.run_all_from(resps, s.short_iter, mark)
    short = [(0, r, None) for _, r in runs]
    (finals,) = s.best_continued(short, tuning.keep, marks=np.array([mark]))
    if finals and (current is None or s.rank(finals[0]) > s.rank(current)):
        found[family, k] = finals[0]


def _responsibilities(X: np.ndarray, run: EMRun) -> np.ndarray:
    logp = weighted_log_prob(X, np.log(run.weights), run.components)
    lse = log_sum_exp(logp)
    covered = np.isfinite(lse)  # the others are rows of zero weight outside the support
    resp = np.exp(logp - np.where(covered, lse, 0.0)[:, None])
    resp[~covered] = 0.0
    return resp


def _splits(X: np.ndarray, w: np.ndarray | None, run: EMRun) -> list[np.ndarray]:
    """``(n, K + 1)`` responsibilities: each component of ``run`` split along its main axis."""
    R = _responsibilities(X, run)
    out = []
    for m in range(R.shape[1]):
        r = R[:, m] if w is None else R[:, m] * w
        mass = r.sum()
        if not mass > 0:
            continue
        diff = X - r @ X / mass
        axis = np.linalg.eigh((diff * r[:, None]).T @ diff)[1][:, -1]
        side = diff @ axis > 0
        new = np.concatenate([R, (R[:, m] * side)[:, None]], axis=1)
        new[:, m] = R[:, m] * ~side
        out.append(new)
    return out


def _merges(X: np.ndarray, w: np.ndarray | None, run: EMRun, count: int) -> list[np.ndarray]:
    """``(n, K - 1)`` responsibilities: the ``count`` most overlapping pairs merged."""
    R = _responsibilities(X, run)
    K = R.shape[1]
    overlap = (R if w is None else R * w[:, None]).T @ R
    pairs = sorted(
        ((i, j) for i in range(K) for j in range(i + 1, K)), key=lambda p: overlap[p], reverse=True
    )
    out = []
    for i, j in pairs[:count]:
        new = R.copy()
        new[:, i] += new[:, j]
        out.append(np.delete(new, j, axis=1))
    return out


def _others(
    X: np.ndarray,
    family: Family,
    k: int,
    found: dict[Cell, EMRun],
    families: Sequence[Family],
    rank: Callable[[EMRun], tuple[bool, float]],
) -> list[np.ndarray]:
    """The responsibilities of the :data:`OTHERS` best other families' fits at K.

    Best by ``rank`` (plausible first, then log-likelihood), so that a spurious fit does not
    start every other family.
    """
    runs = [found[f, k] for f in families if f != family and (f, k) in found]
    if len(runs) > OTHERS:
        runs.sort(key=rank, reverse=True)
    return [_responsibilities(X, run) for run in runs[:OTHERS]]


def _over_all_rows(
    X: np.ndarray, w: np.ndarray | None, run: EMRun, structure: Structure, settings: Settings
) -> tuple[EMRun | FitError, float]:
    """One M-step on all rows from the subsample's fit, then EM over all rows (as a search).

    Returns the run (or its error) and the seconds it took.
    """
    began = time.perf_counter()
    start = cover_all_rows(
        X,
        w,
        (run.weights, run.components),
        structure,
        settings.reg_covar,
        settings.chunk,
        force=True,
    )
    try:
        return _run(X, w, start, settings), time.perf_counter() - began
    except FitError as err:
        return err, time.perf_counter() - began
