"""The default start: a search by short EM runs and split-and-merge moves.

1. Short-EM multistart ("emEM", Biernacki, Celeux and Govaert, 2003, *Computational Statistics
   & Data Analysis* 41, 561-575): one start from Ward's hierarchical agglomeration of the
   whitened rows (as mclust's default) and ``starts`` k-means++ starts each get ``short_iter``
   EM iterations; the ``keep`` best are run to convergence, as a race
   (:class:`~mixem.em.batch.Race`): a run that cannot catch up with the best plausible one
   stops early, except the ``split_merge_bases`` best, which step 2 starts from.
2. Split-and-merge (Ueda, Nakano, Ghahramani and Hinton, 2000, *Neural Computation* 12,
   2109-2128): from each of the ``split_merge_bases`` best distinct converged fits, up to
   ``split_merge_moves`` moves each merge two overlapping components and split a third along
   its principal axis; each move gets up to ``short_iter`` iterations and the
   ``split_merge_keep`` best are run to convergence, all racing from their first iterations
   against the fit they try to improve on (most moves climb back to it), and the best
   replaces the fit when it is better. Up to ``split_merge_rounds`` rounds per base.

The numbers are a :class:`~mixem.em.settings.SearchSettings`. Every candidate is a chain of EM
runs (a short run, its continuation, a move from a converged fit and its continuation): the
chain's trace and iteration count describe every iteration behind its parameters, and
``max_iter`` bounds the chain. Fits with a spurious component (a likelihood spike on a few
rows, see :meth:`Family.spurious`) rank below every plausible fit. The search runs on at
most ``rows`` rows drawn at random, so its cost does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mixem.em.batch import Race, extend_many, run_from_responsibilities, run_many
from mixem.em.init import WardTree, hierarchical_seeds, initial_statistics, start_smoothing
from mixem.em.loop import EMRun
from mixem.em.passes import accumulate, log_sum_exp, weighted_log_prob
from mixem.em.plausible import rank, run_is_spurious, spurious_flags
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Start, Structure
from mixem.exceptions import FitError

#: Most floats the responsibilities of a search's starts may hold for the compiled loop (64 MB);
#: more take the one-start-at-a-time path.
COMPILED_START_FLOATS = 1 << 23

__all__ = [
    "cover_all_rows",
    "rank",
    "run_is_spurious",
    "search",
    "search_reweighted",
    "spurious_flags",
]


def cover_all_rows(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    start: Start,
    structure: Structure,
    reg_covar: float,
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
    sources = structure.families if force else components
    nk, stats = accumulate(X, sample_weight, sources, structure.sizes, resp_of, chunk)
    return structure.start(nk, stats, reg_covar) if uncovered or force else None


class _Search:
    """One search's data, settings and the EM runs it makes.

    ``w`` is one weight per row, or ``(D, n)``: ``D`` weightings of the same rows searched at
    once (the weighted bootstrap's draws); every run then belongs to a group ``g`` of them.
    """

    def __init__(
        self,
        X: np.ndarray,
        w: np.ndarray | None,
        structure: Structure,
        settings: Settings,
        tuning: SearchSettings,
    ) -> None:
        self.X, self.w = X, w
        self.structure = structure
        self.settings = settings
        self.tuning = tuning
        self.groups = 1 if w is None or w.ndim == 1 else w.shape[0]
        totals = X.shape[0] if w is None else np.atleast_2d(w).sum(axis=1)
        self.totals = np.broadcast_to(np.asarray(totals, dtype=float), (self.groups,))
        self.n_obs = float(self.totals[0])
        self.short_iter = min(tuning.short_iter, settings.max_iter)
        self.error: FitError | None = None  # the last failure, raised if nothing succeeds

    def weights_of(self, groups: Sequence[int]) -> np.ndarray | None:
        if self.w is None or self.w.ndim == 1:
            return self.w
        return self.w[np.asarray(groups, dtype=int)]

    def run_all(
        self, starts: list[Start], iters: int | list[int], groups: Sequence[int] | None = None
    ) -> list[tuple[int, EMRun]]:
        """EM from every start at once, for ``iters`` iterations.

        Returns ``(group, run)`` of every run that did not fail.
        """
        s = self.settings
        groups = [0] * len(starts) if groups is None else list(groups)
        results = run_many(
            self.X,
            self.weights_of(groups),
            starts,
            max_iter=iters,
            tol=s.tol,
            reg_covar=s.reg_covar,
            chunk=s.chunk,
        )
        return self._kept(groups, results)

    def run_all_from(
        self,
        resps: list[np.ndarray],
        iters: int,
        mark: float = -np.inf,
        groups: Sequence[int] | None = None,
        reseed: bool = True,
    ) -> list[tuple[int, EMRun]]:
        """EM from the M-step of every ``(n, K)`` array of responsibilities, as :meth:`run_all`.

        Without ``groups`` (one group), the runs race (:class:`~mixem.em.batch.Race`): one that
        cannot beat the higher of ``mark`` and the best plausible one among them stops early,
        and without ``reseed`` one that needs a re-seed too. With ``groups``, they do not race
        (but without ``reseed`` those that need a re-seed still stop).
        """
        s = self.settings
        race = None
        if groups is None:
            race = Race(np.zeros(len(resps), dtype=int), np.array([mark]), reseed=reseed)
        elif not reseed:  # a race that drops only the fits that need a re-seed
            floors = np.full(self.groups, -np.inf)
            race = Race(np.asarray(groups, dtype=int), floors, len(resps), reseed=False)
        groups = [0] * len(resps) if groups is None else list(groups)
        results = run_from_responsibilities(
            self.X,
            self.weights_of(groups),
            resps,
            self.structure,
            max_iter=iters,
            tol=s.tol,
            reg_covar=s.reg_covar,
            chunk=s.chunk,
            race=race,
        )
        return self._kept(groups, results)

    def extend_all(
        self,
        runs: list[EMRun],
        bases: list[EMRun | None],
        groups: Sequence[int],
        marks: np.ndarray | None = None,
        protect: int = 1,
    ) -> list[tuple[int, EMRun]]:
        """Every run continued to convergence (or ``max_iter``), at once, racing in its group.

        A run that cannot catch up with its group's best plausible one, or with its group's
        mark, stops early (:class:`~mixem.em.batch.Race`). Failed and dropped runs are left
        out.
        """
        s = self.settings
        if marks is None:
            marks = np.full(self.groups, -np.inf)
        results = extend_many(
            runs,
            self.X,
            self.weights_of(groups),
            max_iter=s.max_iter,
            tol=s.tol,
            reg_covar=s.reg_covar,
            chunk=s.chunk,
            moved_from=bases,
            race=Race(np.asarray(groups, dtype=int), marks, protect),
        )
        return self._kept(groups, results)

    def _kept(
        self, groups: Sequence[int], results: list[EMRun | FitError]
    ) -> list[tuple[int, EMRun]]:
        """``(group, run)`` of the runs that did not fail and were not dropped from a race.

        The last failure is kept, to be raised if nothing succeeds.
        """
        out = []
        for g, r in zip(groups, results, strict=True):
            if isinstance(r, FitError):
                self.error = r
            elif not r.dropped:
                out.append((g, r))
        return out

    def rank(self, run: EMRun, group: int = 0) -> tuple[bool, float]:
        return rank(run, float(self.totals[group]), self.settings.reg_covar)

    def start(self, nk: np.ndarray, stats: list) -> Start:
        return self.structure.start(nk, stats, self.settings.reg_covar)

    def best_continued(
        self,
        short: list[tuple[int, EMRun, EMRun | None]],
        keep: int,
        floors: np.ndarray | None = None,
        marks: np.ndarray | None = None,
        protect: int = 1,
    ) -> list[list[EMRun]]:
        """Per group, its ``keep`` best short runs (above its floor) continued, best first.

        ``short`` holds ``(group, run, moved_from)``: a run that started from a move of a
        converged fit continues that fit's chain. The continuations race: only those that
        can still beat their group's best plausible run and its mark (a converged fit to
        improve on) run to convergence.
        """
        chosen = []
        for g in range(self.groups):
            mine = sorted(
                (item for item in short if item[0] == g),
                key=lambda item: self.rank(item[1], g),
                reverse=True,
            )
            floor = -np.inf if floors is None else floors[g]
            chosen += [item for item in mine[: max(keep, 1)] if item[1].loglik >= floor]
        continued = self.extend_all(
            [r for _, r, _ in chosen],
            [b for _, _, b in chosen],
            [g for g, _, _ in chosen],
            marks,
            protect,
        )
        return self.by_group(continued)

    def by_group(self, runs: list[tuple[int, EMRun]]) -> list[list[EMRun]]:
        """The runs of every group, best first."""
        return [
            sorted((r for h, r in runs if h == g), key=lambda r: self.rank(r, g), reverse=True)
            for g in range(self.groups)
        ]


def _climb(
    s: _Search,
    given: Sequence[Start],
    rng: np.random.Generator,
    draw: Callable[[], np.ndarray] | None = None,
) -> tuple[list[list[EMRun]], list[bool]]:
    """Given starts run to convergence, and the best searched starts continued; per group.

    With ``draw``, every group's row weights are drawn (into ``s.w``) just before its starts,
    so that the random stream is the one of searching the groups one after another.
    Returns every group's runs, best first, and whether any of its given starts succeeded.
    """
    G = s.groups
    tuning, settings, structure = s.tuning, s.settings, s.structure
    methods = ["hierarchical"] * tuning.hierarchical + ["kmeans++"] * tuning.starts
    # Imported here: numba's import and the compiled code load on the first search.
    from mixem.em import gaussian_batch

    # Starts as responsibilities hold (groups, starts, K, n) floats at once: only while that
    # is small (the weighted bootstrap's many draws on all rows may not be).
    size = G * (tuning.starts + tuning.hierarchical) * structure.n_components * s.X.shape[0]
    compiled = (
        gaussian_batch.family_kind(s.X, structure.families) is not None
        and size <= COMPILED_START_FLOATS
    )
    starts, resps, groups = [], [], []
    for g in range(G):
        if draw is not None:
            s.w[g] = draw()
        w = s.weights_of([g])
        w = w if w is None or w.ndim == 1 else w[0]
        if compiled:
            R = _compiled_starts(s.X, w, structure, tuning, rng)
            resps += list(R.transpose(0, 2, 1))
            groups += [g] * R.shape[0]
            continue
        for method in methods:
            nk, stats = initial_statistics(
                s.X, w, structure.families, structure.sizes, method, rng, settings.chunk
            )
            try:
                starts.append(s.start(nk, stats))
                groups.append(g)
            except FitError as err:
                s.error = err
    if draw is not None:
        s.totals = s.w.sum(axis=1)
    warm = s.by_group(
        s.run_all(
            [g_start for _ in range(G) for g_start in given],
            settings.max_iter,
            [g for g in range(G) for _ in given],
        )
    )
    floors = None
    if tuning.margin is not None:
        floors = np.array(
            [max((r.loglik for r in w), default=np.inf) - tuning.margin for w in warm]
        )
        floors[~np.isfinite(floors)] = -np.inf  # no given start succeeded: no floor
    # Searched starts matter only if they beat the best plausible given one: they race to it.
    marks = np.array(
        [max((r.loglik for r in w if s.rank(r, g)[0]), default=-np.inf) for g, w in enumerate(warm)]
    )
    # The runners-up are bases of split-and-merge moves: they run to convergence too.
    protect = tuning.split_merge_bases if tuning.split_merge_rounds else 1
    if compiled:
        short = [(g, r, None) for g, r in s.run_all_from(resps, s.short_iter, groups=groups)]
    else:
        short = [(g, r, None) for g, r in s.run_all(starts, s.short_iter, groups)]
    continued = s.best_continued(short, tuning.keep, floors, marks, protect)
    finals = [
        sorted(warm[g] + continued[g], key=lambda r, g=g: s.rank(r, g), reverse=True)
        for g in range(G)
    ]
    return finals, [bool(w) for w in warm]


def _compiled_starts(
    X: np.ndarray,
    w: np.ndarray | None,
    structure: Structure,
    tuning: SearchSettings,
    rng: np.random.Generator,
    tree: WardTree | None = None,
) -> np.ndarray:
    """The starts of :func:`_climb` as responsibilities ``(S, K, n)``, all at once.

    The same starts as :func:`~mixem.em.init.initial_statistics` makes one by one, from the
    same random stream (:mod:`mixem.em.seeding`), for the families of the compiled loop. A
    given Ward ``tree`` of ``X`` gives the hierarchical start (a study's cells share one).
    """
    from mixem.em.seeding import kmeans_plusplus_many, nearest_seed_responsibilities

    K = structure.n_components
    W = np.ones((1, X.shape[0])) if w is None else np.ascontiguousarray(w, dtype=float)[None]
    seeds = []
    if tuning.hierarchical:
        centres = hierarchical_seeds(X, w, K, rng) if tree is None else tree.centres(X, K, rng)
        seeds.append(centres[None])
    if tuning.starts:
        seeds.append(kmeans_plusplus_many(X, W, rng.random((tuning.starts, K))))
    if not seeds:
        return np.empty((0, K, X.shape[0]))
    return nearest_seed_responsibilities(X, W, np.concatenate(seeds), structure.families[0])


def search_reweighted(
    X: np.ndarray,
    draw: Callable[[], np.ndarray],
    count: int,
    structure: Structure,
    settings: Settings,
    tuning: SearchSettings,
    rng: np.random.Generator,
    *,
    given: Sequence[Start] = (),
) -> tuple[np.ndarray, list[EMRun | FitError]]:
    """:func:`search` under ``count`` row weightings, each drawn by ``draw()``, all at once.

    For the weighted bootstrap's draws: every search runs on all rows (no subsample) and
    without split-and-merge moves (``tuning.split_merge_rounds`` must be 0). Each weighting is
    drawn just before its starts, so the random stream, and so every result, is that of
    drawing and searching one weighting after another. Returns the weights ``(count, n)``
    and every weighting's best run or failure.
    """
    if tuning.split_merge_rounds:
        raise ValueError("search_reweighted makes no split-and-merge moves; set rounds to 0")
    s = _Search(X, np.ones((count, X.shape[0])), structure, settings, tuning)
    out: list[EMRun | FitError] = []
    finals_by_group, warm_by_group = _climb(s, given, rng, draw)
    for finals, warm_ok in zip(finals_by_group, warm_by_group, strict=True):
        # With a margin, fresh starts only compete with the given ones: a weighting under which
        # every given start fails is a failure (the weighted bootstrap then draws again).
        lost = tuning.margin is not None and bool(given) and not warm_ok
        if finals and not lost:
            out.append(finals[0])
        else:
            out.append(s.error or FitError("no start could be run"))
    return s.w, out


def search(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    structure: Structure,
    settings: Settings,
    tuning: SearchSettings,
    rng: np.random.Generator,
    *,
    given: Sequence[Start] = (),
) -> EMRun:
    """The search's best chain of EM runs on ``X`` (or on a subsample of ``tuning.rows`` rows).

    ``given`` starts (a warm start) are run to convergence and compete with the searched
    ones; with ``tuning.margin`` a searched start is continued only when its short run comes
    within ``margin`` of the best given one. Starts whose runs fail (degenerate components)
    are dropped; if every one fails, the last error is raised.
    """
    rows = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    if rows.size > tuning.rows:
        rows = np.sort(rng.choice(rows, tuning.rows, replace=False))
        X, sample_weight = X[rows], None if sample_weight is None else sample_weight[rows]
    s = _Search(X, sample_weight, structure, settings, tuning)
    (finals,), _ = _climb(s, given, rng)
    if not finals:
        if s.error is None:  # every short run fell below the margin of failed given starts
            raise FitError("no start of the search could be run")
        raise s.error
    best = finals[0]
    if tuning.split_merge_rounds > 0:
        # Split-and-merge from the best few distinct maxima: the neighbourhood of the best one
        # does not always hold the global maximum.
        bases: list[EMRun] = []
        for final in finals:
            if all(abs(final.loglik - b.loglik) > settings.tol * s.n_obs for b in bases):
                bases.append(final)
            if len(bases) == tuning.split_merge_bases:
                break
        for base in bases:
            final = _split_merge(s, base)
            if s.rank(final) > s.rank(best):
                best = final
    return best


def _split_merge(s: _Search, best: EMRun) -> EMRun:
    """Rounds of split-and-merge moves from one converged fit; the best chain found."""
    for _ in range(s.tuning.split_merge_rounds):
        if best.n_iter >= s.settings.max_iter:
            break  # no iterations left for a move's chain
        moves = _split_merge_starts(s, best)
        iters = min(s.short_iter, s.settings.max_iter - best.n_iter)
        # The moves race against the least gain that counts (see below): most of them climb
        # back to ``best``, and their projected limits say so after a few iterations.
        mark = best.loglik + s.settings.tol * s.n_obs if s.rank(best)[0] else -np.inf
        trials = [(0, r, best) for _, r in s.run_all_from(moves, iters, mark)]
        (finals,) = s.best_continued(trials, s.tuning.split_merge_keep, marks=np.array([mark]))
        if not finals or s.rank(finals[0]) <= s.rank(best):
            break
        final = finals[0]
        # A move counts only when it improves by more than the convergence tolerance.
        gain = final.loglik - best.loglik
        if s.rank(final)[0] == s.rank(best)[0] and gain <= s.settings.tol * s.n_obs:
            break
        best = final
    return best


def _split_merge_starts(s: _Search, current: EMRun) -> list[np.ndarray]:
    """Responsibilities ``(n, K)`` one split-and-merge move away from ``current``.

    Each is a start of the search (its M-step). A move (Ueda et al., 2000) merges components
    ``i`` and ``j`` (their responsibilities added) and splits component ``m`` in two along its
    principal axis, so K stays the same. Pairs are tried in order of overlap (the inner product
    of their responsibilities), split candidates in order of weight; at most
    ``split_merge_moves`` moves.
    """
    X, w, structure = s.X, s.w, s.structure
    K = current.weights.size
    if K < 3:
        return []
    smoothing = start_smoothing(structure.families)
    logp = weighted_log_prob(X, np.log(current.weights), current.components)
    lse = log_sum_exp(logp)
    covered = np.isfinite(lse)  # the others are rows of zero weight outside the support
    resp = np.exp(logp - np.where(covered, lse, 0.0)[:, None])
    resp[~covered] = 0.0
    weighted = resp if w is None else resp * w[:, None]
    overlap = weighted.T @ resp
    if s.tuning.split_merge_cosine:
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
    need = np.array([cls.min_count(d) for cls in structure.per_component])
    total = weighted.sum()
    starts: list[np.ndarray] = []
    sides: dict[int, np.ndarray] = {}  # the rows on one side of m's principal axis
    for i, j in pairs:
        for m in by_weight:
            if m in (i, j):
                continue
            if len(starts) >= s.tuning.split_merge_moves:
                return starts
            if m not in sides:
                r_m = weighted[:, m]
                mass = r_m.sum()
                centre = r_m @ X / mass
                diff = X - centre
                cov = (diff * r_m[:, None]).T @ diff / mass
                axis = np.linalg.eigh(cov)[1][:, -1]
                sides[m] = diff @ axis > 0
            side = sides[m]
            new = resp.copy()
            new[:, i] += new[:, j]
            new[:, j] = resp[:, m] * side
            new[:, m] = resp[:, m] * ~side
            if smoothing > 0:
                new = (1.0 - smoothing) * new + smoothing / K
            nk = new.sum(axis=0) if w is None else w @ new
            if np.any(nk * X.shape[0] / total < need):
                continue
            starts.append(new)
    return starts
