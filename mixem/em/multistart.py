"""The default start: a search by short EM runs and split-and-merge moves.

1. Short-EM multistart ("emEM", Biernacki, Celeux and Govaert, 2003, *Computational Statistics
   & Data Analysis* 41, 561-575): one start from Ward's hierarchical agglomeration of the
   whitened rows (as mclust's default) and ``SHORT_STARTS`` k-means++ starts each get
   ``SHORT_ITER`` EM iterations; the ``SHORT_KEEP`` best are run to convergence.
2. Split-and-merge (Ueda, Nakano, Ghahramani and Hinton, 2000, *Neural Computation* 12,
   2109-2128): from each of the ``SHORT_SPLIT_MERGE_BASES`` best distinct converged fits, up to
   ``SHORT_SPLIT_MERGE_MOVES`` moves each merge two overlapping components and split a third
   along its principal axis; each move gets ``SHORT_ITER`` iterations, the
   ``SHORT_SPLIT_MERGE_KEEP`` best are run to convergence, and the best replaces the fit when
   it is better. Up to ``SHORT_SPLIT_MERGE_ROUNDS`` rounds per base.

Fits with a spurious component (a likelihood spike on a few rows, see
:meth:`Component.spurious`) rank below every plausible fit, since their high likelihood says
nothing about the data's clusters. The search runs on at most ``SHORT_ROWS`` rows drawn at
random, so its cost does not grow with the data; only the fit itself sees every row.

The settings were chosen by measurement on the bundled datasets: benchmarks/bench_init.py
prints how often each strategy reaches the best plausible maximum of 50 k-means++ restarts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from mixem.components.base import Component
from mixem.components.stats import Stats
from mixem.em.init import initial_statistics, start_smoothing
from mixem.em.loop import EMRun, run_em
from mixem.em.passes import accumulate, log_sum_exp, weighted_log_prob
from mixem.exceptions import FitError

__all__ = [
    "SHORT_HIERARCHICAL",
    "SHORT_ITER",
    "SHORT_KEEP",
    "SHORT_ROWS",
    "SHORT_STARTS",
    "cover_all_rows",
    "run_is_spurious",
    "spurious_flags",
    "short_em_start",
]

#: k-means++ starts of the search (besides the hierarchical one).
SHORT_STARTS = 50
#: EM iterations of every start.
SHORT_ITER = 20
#: Best short runs continued to convergence.
SHORT_KEEP = 10
#: Whether the hierarchical start is one of the candidates.
SHORT_HIERARCHICAL = True
#: Rounds of split-and-merge moves tried on the best fit of the search, and moves per round.
SHORT_SPLIT_MERGE_ROUNDS = 10
SHORT_SPLIT_MERGE_MOVES = 30
#: Best moves of a round continued to convergence.
SHORT_SPLIT_MERGE_KEEP = 5
#: Distinct converged fits that split-and-merge starts from.
SHORT_SPLIT_MERGE_BASES = 3
#: Whether merge pairs are ordered by the cosine of their responsibilities (else inner product).
SHORT_SPLIT_MERGE_COSINE = False
#: Most rows the search runs on; larger data are subsampled (uniformly, without replacement).
SHORT_ROWS = 5000

Start = tuple[np.ndarray, tuple[Component, ...]]


class SearchResult(NamedTuple):
    """Outcome of :func:`short_em_start`.

    The fit reruns EM from ``start`` (so that its trace shows the winning run) and falls back
    to ``end`` if that rerun does not reach ``loglik``, which can happen when a re-seed falls
    differently in one long run than in the search's short run and continuation.
    """

    start: Start
    end: Start
    loglik: float


def spurious_flags(
    weights: np.ndarray, components: Sequence[Component], n_obs: float, reg_covar: float
) -> np.ndarray:
    """Which of all K components are spurious (see :meth:`Component.spurious`), ``(K,)``."""
    counts = np.asarray(weights) * n_obs
    parts, start = [], 0
    for comp in components:
        k = comp.n_components
        parts.append(np.asarray(comp.spurious(counts[start : start + k], reg_covar), dtype=bool))
        start += k
    return np.concatenate(parts)


def run_is_spurious(run: EMRun, n_obs: float, reg_covar: float) -> bool:
    """Whether any component of ``run`` is spurious."""
    return bool(spurious_flags(run.weights, run.components, n_obs, reg_covar).any())


def cover_all_rows(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    start: Start,
    from_stats: Callable[[np.ndarray, list[Stats]], Start],
    chunk: int,
    *,
    force: bool = False,
) -> Start | None:
    """A start whose components give every row positive density, or None if ``start`` does.

    With ``force``, the new start is built in any case: a start found on a subsample then
    takes the statistics of all rows (a noise component's box becomes the data's).

    A search on a subsample can end with components under which rows it never saw are
    impossible (a count or level absent from the subsample has probability 0 in every
    component of a discrete family), and EM cannot start from zero density. The new start is
    one M-step on all rows from ``start``'s responsibilities, the uncovered rows shared equally
    by all components, so each of them counts in every component's statistics.
    """
    components = start[1]
    sizes = [c.n_components for c in components]
    with np.errstate(divide="ignore"):
        log_weights = np.log(start[0])
    uncovered = False

    def resp_of(rows: slice, Xc: np.ndarray) -> np.ndarray:
        nonlocal uncovered
        logp = weighted_log_prob(Xc, log_weights, components)
        lse = log_sum_exp(logp)
        bad = ~np.isfinite(lse)
        uncovered |= bool(bad.any())
        resp = np.exp(logp - np.where(bad, 0.0, lse)[:, None])
        resp[bad] = 1.0 / resp.shape[1]
        return resp

    # Responsibilities at the start's parameters: an E-step, so E-step statistics; a forced
    # start takes start statistics, which range over every row (a noise component's box).
    sources = [type(c) for c in components] if force else components
    nk, stats = accumulate(X, sample_weight, sources, sizes, resp_of, chunk)
    return from_stats(nk, stats) if uncovered or force else None


def short_em_start(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    families: Sequence[type[Component]],
    sizes: Sequence[int],
    from_stats: Callable[[np.ndarray, list[Stats]], Start],
    rng: np.random.Generator,
    chunk: int,
    *,
    reg_covar: float,
    tol: float,
    max_iter: int,
) -> SearchResult:
    """The search's winner: the start of its last EM run, where that run ended, and its loglik.

    ``from_stats(nk, stats)`` turns initial statistics into ``(weights, components)``. Starts
    whose EM run fails (degenerate components) are dropped; if every one fails, the last
    error is raised.
    """
    rows = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    subsampled = rows.size > SHORT_ROWS
    if subsampled:
        rows = np.sort(rng.choice(rows, SHORT_ROWS, replace=False))
        Xs, ws = X[rows], None if sample_weight is None else sample_weight[rows]
    else:
        Xs, ws = X, sample_weight
    n_obs = Xs.shape[0] if ws is None else float(ws.sum())

    def run(weights: np.ndarray, components: tuple[Component, ...], iters: int) -> EMRun:
        # The search's re-seeding and non-convergence are part of it, not news for the user.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_em(
                Xs,
                ws,
                weights,
                components,
                max_iter=iters,
                tol=tol,
                reg_covar=reg_covar,
                chunk=chunk,
            )

    def rank(r: EMRun) -> tuple[bool, float]:
        # Plausible (non-spurious) runs first, then the highest log-likelihood.
        return (not run_is_spurious(r, n_obs, reg_covar), r.loglik)

    short_iter = min(SHORT_ITER, max_iter)  # a fit capped below the short runs caps them too
    methods = (["hierarchical"] if SHORT_HIERARCHICAL else []) + ["kmeans++"] * SHORT_STARTS
    short: list[tuple[Start, EMRun]] = []
    error: FitError | None = None
    for method in methods:
        nk, stats = initial_statistics(Xs, ws, families, sizes, method, rng, chunk)
        try:
            start = from_stats(nk, stats)
            short.append((start, run(*start, short_iter)))
        except FitError as err:
            error = err
    if not short:
        assert error is not None
        raise error
    finals = _continue(short, run, rank, max_iter, SHORT_KEEP)
    if not finals:
        start = max(short, key=lambda item: rank(item[1]))[0]
        return SearchResult(start, start, -np.inf)
    best_start, best_final = finals[0]
    if SHORT_SPLIT_MERGE_ROUNDS > 0:
        # Split-and-merge from the best few distinct maxima: the neighbourhood of the best one
        # does not always hold the global maximum.
        bases: list[tuple[Start, EMRun]] = []
        for start, final in finals:
            if all(abs(final.loglik - b.loglik) > tol * n_obs for _, b in bases):
                bases.append((start, final))
            if len(bases) == SHORT_SPLIT_MERGE_BASES:
                break
        for base_start, base_final in bases:
            start, final = _split_merge(
                Xs,
                ws,
                families,
                sizes,
                base_start,
                base_final,
                from_stats,
                chunk,
                run,
                rank,
                short_iter,
                max_iter,
                tol * n_obs,
            )
            if rank(final) > rank(best_final):
                best_start, best_final = start, final
    end = (best_final.weights, best_final.components)
    # On a subsample the winner's start means nothing for the full data: start from its end.
    return SearchResult(end if subsampled else best_start, end, best_final.loglik)


def _split_merge(
    X: np.ndarray,
    w: np.ndarray | None,
    families: Sequence[type[Component]],
    sizes: Sequence[int],
    best_start: Start,
    best_final: EMRun,
    from_stats: Callable[[np.ndarray, list[Stats]], Start],
    chunk: int,
    run: Callable[..., EMRun],
    rank: Callable[[EMRun], tuple[bool, float]],
    short_iter: int,
    max_iter: int,
    min_gain: float,
) -> tuple[Start, EMRun]:
    """Rounds of split-and-merge moves from one converged fit; the best start and its end."""
    for _ in range(SHORT_SPLIT_MERGE_ROUNDS):
        trials = []
        for start in _split_merge_starts(X, w, families, sizes, best_final, from_stats, chunk):
            try:
                trials.append((start, run(*start, short_iter)))
            except FitError:
                continue
        finals = _continue(trials, run, rank, max_iter, SHORT_SPLIT_MERGE_KEEP)
        if not finals or rank(finals[0][1]) <= rank(best_final):
            break
        start, final = finals[0]
        # A move counts only when it improves by more than the convergence tolerance.
        if rank(final)[0] == rank(best_final)[0] and final.loglik - best_final.loglik <= min_gain:
            break
        best_start, best_final = start, final
    return best_start, best_final


def _continue(
    candidates: list[tuple[Start, EMRun]],
    run: Callable[..., EMRun],
    rank: Callable[[EMRun], tuple[bool, float]],
    max_iter: int,
    keep: int,
) -> list[tuple[Start, EMRun]]:
    """Run the ``keep`` best short runs to convergence: ``(start, end)`` pairs, best first."""
    candidates = sorted(candidates, key=lambda item: rank(item[1]), reverse=True)
    finals = []
    for start, r in candidates[: max(keep, 1)]:
        try:
            finals.append((start, run(r.weights, r.components, max_iter)))
        except FitError:
            continue
    return sorted(finals, key=lambda item: rank(item[1]), reverse=True)


def _split_merge_starts(
    X: np.ndarray,
    w: np.ndarray | None,
    families: Sequence[type[Component]],
    sizes: Sequence[int],
    current: EMRun,
    from_stats: Callable[[np.ndarray, list[Stats]], Start],
    chunk: int,
) -> list[Start]:
    """Starts one split-and-merge move away from ``current`` (Ueda et al., 2000).

    A move merges components ``i`` and ``j`` (their responsibilities added) and splits
    component ``m`` in two along its principal axis, so K stays the same. Pairs are tried in
    order of overlap (the inner product of their responsibilities), split candidates in order
    of weight; at most ``SHORT_SPLIT_MERGE_MOVES`` moves.
    """
    K = current.weights.size
    if K < 3:
        return []
    smoothing = start_smoothing(families)
    logp = weighted_log_prob(X, np.log(current.weights), current.components)
    lse = log_sum_exp(logp)
    covered = np.isfinite(lse)  # the others are rows of zero weight outside the support
    resp = np.exp(logp - np.where(covered, lse, 0.0)[:, None])
    resp[~covered] = 0.0
    weighted = resp if w is None else resp * w[:, None]
    overlap = weighted.T @ resp
    if SHORT_SPLIT_MERGE_COSINE:
        # Cosine similarity: pairs with a small component rank by how much they share, not by
        # how big they are.
        norm = np.sqrt(np.diag(overlap))
        overlap = overlap / np.outer(norm, norm)
    pairs = sorted(
        ((i, j) for i in range(K) for j in range(i + 1, K)),
        key=lambda ij: overlap[ij],
        reverse=True,
    )
    by_weight = np.argsort(-current.weights)
    d = X.shape[1]
    per_comp = [cls for cls, k in zip(families, sizes, strict=True) for _ in range(k)]
    total = weighted.sum()
    starts: list[Start] = []
    for i, j in pairs:
        for m in by_weight:
            if m in (i, j):
                continue
            if len(starts) >= SHORT_SPLIT_MERGE_MOVES:
                return starts
            r_m = weighted[:, m]
            mass = r_m.sum()
            centre = r_m @ X / mass
            diff = X - centre
            cov = (diff * r_m[:, None]).T @ diff / mass
            axis = np.linalg.eigh(cov)[1][:, -1]
            side = diff @ axis > 0
            new = resp.copy()
            new[:, i] += new[:, j]
            new[:, j] = resp[:, m] * side
            new[:, m] = resp[:, m] * ~side
            if smoothing > 0:
                new = (1.0 - smoothing) * new + smoothing / K
            nk, stats = accumulate(X, w, families, sizes, lambda rows, _, new=new: new[rows], chunk)
            need = np.array([cls.min_count(d) for cls in per_comp])
            if np.any(nk * X.shape[0] / total < need):
                continue
            try:
                starts.append(from_stats(nk, stats))
            except FitError:
                continue
    return starts
