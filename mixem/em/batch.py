"""Many EM runs of one family on one data set, as one computation with a leading fit axis.

The short runs of a search, the moves of a split-and-merge round and the continuations of the
best of them share the data and the structure. :func:`run_many` stacks their components
(:mod:`mixem.components.stack`) and runs every E-pass and M-step once for all of them, each
fit normalised over its own components; a fit leaves the batch when it converges or reaches its
``max_iter``. A fit that needs a re-seed, or whose M-step fails, leaves the batch at that point
and goes on alone through :func:`mixem.em.loop.run_em` from the same pass, so every fit gets
exactly the iterations it would get alone (up to rounding: sums run in another order).

A batch can be a race (:class:`Race`): fits of a group compete for the best log-likelihood,
and a fit whose projected limit falls short of its group's leader leaves the batch as a
*dropped* run, so a search stops paying for starts that cannot win.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mixem.components.stack import Stack, stack_of
from mixem.em.events import Event, decrease_event
from mixem.em.loop import EMRun, _joined, run_em
from mixem.em.passes import CHUNK_BYTES, EPass, UncoveredRowError, accumulate
from mixem.em.plausible import run_is_spurious
from mixem.em.structure import Start, Structure
from mixem.em.trace import Trace
from mixem.exceptions import FitError

__all__ = ["Race", "extend_many", "run_from_responsibilities", "run_many"]

#: Iterations a racing fit runs before it can be dropped: its limit is projected from its last
#: three increments.
RACE_MIN_ITER = 4
#: Factor on a fit's projected remaining gain before it is compared with its group's leader.
#: EM's increments shrink geometrically near a maximum (Aitken's projection is then exact);
#: further out they can shrink and grow again, and the factor leaves room for that. The search's
#: split-and-merge moves race from their fourth iteration: at 4.0 a few moves that escape a
#: saddle later were dropped (95.3% of the bundled studies' cells reached the reference
#: maximum over three seeds, against 97.8% at 10.0; ``benchmarks/bench_select.py``).
RACE_SAFETY = 10.0
#: Largest shrinkage ratio of increments at which a fit can be dropped. Slower runs crawl along
#: a ridge or a saddle, where the increments can shrink by 3% an iteration for a hundred
#: iterations and then grow again (measured: such a run dropped at a projected gain of 1.3
#: nats gained 4.6 more and won): their projection is not trusted.
RACE_MAX_RATIO = 0.9
UNCOVERED_MESSAGE = (
    "a row of X has log-likelihood -inf under every component; the components do not cover it"
)
#: Most components stacked in one batch; more fits run as several batches, one after another.
STACK_COMPONENTS = 96


@dataclass(frozen=True)
class Race:
    """Fits that compete for the best plausible log-likelihood of their group.

    ``groups[i]`` is fit ``i``'s group; ``floors[g]`` a log-likelihood group ``g``'s winner
    must exceed (``-inf``: none), such as a converged fit the group tries to improve on.
    The ``protect`` fits of a group with the highest log-likelihoods are never dropped (a
    search uses its runners-up as bases of split-and-merge moves). Without ``reseed``, a fit
    that needs a re-seed (or whose M-step fails) leaves the race as dropped instead of going
    on alone: a study's many short starts stop paying for the ones that collapse.
    """

    groups: np.ndarray
    floors: np.ndarray
    protect: int = 1
    reseed: bool = True


def _batched_pass(
    X: np.ndarray, w: np.ndarray | None, log_w: np.ndarray, stack: Stack, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, object, np.ndarray]:
    """One E-pass for every fit: logliks, entropies ``(B,)``, nk ``(B*k,)``, stats, uncovered."""
    B, k = log_w.shape
    loglik = np.zeros(B)
    entropy = np.zeros(B)
    nk = np.zeros(B * k)
    uncovered = np.zeros(B, dtype=bool)
    stats = None
    flat = log_w.ravel()
    for start in range(0, X.shape[0], chunk):
        Xc = X[start : start + chunk]
        c = Xc.shape[0]
        logp = stack.log_prob(Xc)
        logp += flat
        L = logp.reshape(c, B, k)
        top = L.max(axis=2, keepdims=True)
        top[~np.isfinite(top)] = 0.0
        L -= top
        resp = np.exp(L)
        total = resp.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            resp /= total
            log_total = np.log(total[..., 0])
            cross = np.einsum("cbk,cbk->cb", resp, np.where(resp > 0, L, 0.0))
        lse = top[..., 0] + log_total
        wc = (
            None
            if w is None
            else (w[start : start + c] if w.ndim == 1 else w[:, start : start + c].T)
        )
        bad = ~np.isfinite(lse)
        if bad.any():
            if wc is not None:
                bad &= (wc > 0) if wc.ndim == 2 else (wc > 0)[:, None]
            uncovered |= bad.any(axis=0)
            resp[~np.isfinite(lse)] = 0.0
            lse = np.where(np.isfinite(lse), lse, 0.0)
            cross = np.where(np.isfinite(cross), cross, 0.0)
            log_total = np.where(np.isfinite(log_total), log_total, 0.0)
        ent = log_total - cross
        if w is None:
            loglik += lse.sum(axis=0)
            entropy += ent.sum(axis=0)
        elif wc.ndim == 1:
            loglik += wc @ lse
            entropy += wc @ ent
            resp *= wc[:, None, None]
        else:  # every fit its own row weights (the weighted bootstrap's draws)
            loglik += np.einsum("cb,cb->b", wc, lse)
            entropy += np.einsum("cb,cb->b", wc, ent)
            resp *= wc[:, :, None]
        flat_resp = resp.reshape(c, B * k)
        nk += flat_resp.sum(axis=0)
        s = stack.statistics(Xc, flat_resp)
        stats = s if stats is None else stats + s
    return loglik, entropy, nk, stats, uncovered


def run_many(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    starts: Sequence[Start],
    *,
    max_iter: int | Sequence[int],
    tol: float,
    reg_covar: float,
    chunk: int,
    race: Race | None = None,
) -> list[EMRun | FitError]:
    """EM from every start at once; each fit's run, or the error that ended it.

    ``max_iter`` is one bound, or one per start. ``sample_weight`` is ``(n,)`` for every fit,
    or ``(len(starts), n)``: each fit its own row weights. Structures of several families, and
    families that cannot stack, run one fit after another (and do not race). With ``race``,
    a fit that cannot catch up with its group's leader stops early and is returned with
    ``dropped`` set. Fits that do not race run as batches of at most
    :data:`STACK_COMPONENTS` components: past that size a pass costs more per fit (measured on
    Old Faithful, full covariances, one BLAS thread: 30 us per fit and pass at 96 components
    (K = 3), 47 us at 153; 71 us at 72 and 144 us at 459 (K = 9), where every pass
    page-faults its large temporaries).
    """
    budgets = np.broadcast_to(np.asarray(max_iter, dtype=int), (len(starts),)).copy()
    # Imported here: numba's import and the loop's compiled code load on the first batch.
    from mixem.em import gaussian_batch

    kind = gaussian_batch.compiled_kind(X, starts)
    if kind is not None:
        return gaussian_batch.run_compiled(
            X, sample_weight, starts, kind, budgets, tol=tol, reg_covar=reg_covar, chunk=chunk,
            race=race,
        )  # fmt: skip
    per_fit = sum(c.n_components for c in starts[0][1]) if starts else 1
    size = max(2, STACK_COMPONENTS // per_fit)
    if race is None and len(starts) > size:
        out = []
        for lo in range(0, len(starts), size):
            part = slice(lo, lo + size)
            w = (
                sample_weight
                if sample_weight is None or sample_weight.ndim == 1
                else sample_weight[part]
            )
            out += run_many(
                X,
                w,
                starts[part],
                max_iter=budgets[part],
                tol=tol,
                reg_covar=reg_covar,
                chunk=chunk,
            )
        return out
    stack = None
    if len(starts) > 1 and all(len(comps) == 1 for _, comps in starts):
        stack = stack_of([comps[0] for _, comps in starts])
    if stack is None:
        out: list[EMRun | FitError] = []
        for b, ((weights, comps), budget) in enumerate(zip(starts, budgets, strict=True)):
            w = _fit_weights(sample_weight, b)
            try:
                out.append(
                    run_em(
                        X,
                        w,
                        weights,
                        comps,
                        max_iter=int(budget),
                        tol=tol,
                        reg_covar=reg_covar,
                        chunk=chunk,
                    )
                )
            except FitError as err:
                out.append(err)
        return out
    return _Batch(X, sample_weight, starts, stack, budgets, tol, reg_covar, chunk, race).run()


class _Batch:
    """The state of the fits still running together."""

    def __init__(
        self,
        X: np.ndarray,
        w: np.ndarray | None,
        starts: Sequence[Start],
        stack: Stack,
        budgets: np.ndarray,
        tol: float,
        reg_covar: float,
        chunk: int,
        race: Race | None = None,
    ) -> None:
        self.X, self.w = X, w
        self.stack = stack
        self.tol, self.reg_covar, self.chunk = tol, reg_covar, chunk
        self.budgets = budgets
        B = len(starts)
        self.k = stack.k
        self.weights = np.stack([np.asarray(wt, dtype=float) for wt, _ in starts])
        n, d = X.shape
        # Per fit: total weight and rows of positive weight (weights may differ by fit).
        weights = np.ones((1, n)) if w is None else np.atleast_2d(w)
        self.totals = np.broadcast_to(
            weights.sum(axis=1) if w is not None else float(n), (B,)
        ).copy()
        # Rows counted in weight (frequency weights), as the loop's re-seed rule counts them.
        self.usable = np.broadcast_to(weights.sum(axis=1), (B,)).copy()
        self.need = stack.family.min_count(d)
        self.out: list[EMRun | FitError | None] = [None] * B
        self.ids = np.arange(B)  # positions in ``out`` of the fits in the stack
        self.logliks: list[list[float]] = [[] for _ in range(B)]
        self.changes: list[list[float]] = [[] for _ in range(B)]
        self.seconds: list[list[float]] = [[] for _ in range(B)]
        self.events: list[list[Event]] = [[] for _ in range(B)]
        self.initial = np.zeros(B)
        self.race = race
        if race is not None:
            # The best plausible log-likelihood of every group so far (finished fits, floors).
            self.targets = np.asarray(race.floors, dtype=float).copy()
            self.steps = np.full((B, 3), np.nan)  # each fit's last three increments, newest last

    def _chunk(self) -> int:
        fits = self.ids.size * self.k
        return int(max(64, min(self.chunk, CHUNK_BYTES // (8 * (4 * fits + 2 * self.X.shape[1])))))

    def _pass(self):
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights[self.ids])
        w = self.w if self.w is None or self.w.ndim == 1 else self.w[self.ids]
        return _batched_pass(self.X, w, log_w, self.stack, self._chunk())

    def run(self) -> list[EMRun | FitError]:
        loglik, entropy, nk, stats, uncovered = self._pass()
        self.initial[self.ids] = loglik
        if uncovered.any():
            self._drop_uncovered(uncovered)
            loglik, entropy, nk, stats = self._subset(~uncovered, loglik, entropy, nk, stats)
        it = 0
        while self.ids.size:
            keep_going = self.budgets[self.ids] > it
            if not keep_going.all():
                loglik, entropy, nk, stats = self._finish(
                    ~keep_going, loglik, entropy, nk, stats, False
                )
                if not self.ids.size:
                    break
            it += 1
            started = time.perf_counter()
            loglik, entropy, nk, stats = self._eject_degenerate(loglik, entropy, nk, stats)
            if not self.ids.size:
                break
            try:
                new_stack = self.stack.m_step(stats, self.reg_covar)
            except ValueError:
                # Some fit's M-step failed: every fit goes on alone, where the failure is named.
                self._eject(np.ones(self.ids.size, dtype=bool), loglik, entropy, nk, stats)
                break
            self.stack = new_stack
            B = self.ids.size
            self.weights[self.ids] = nk.reshape(B, self.k) / nk.reshape(B, self.k).sum(
                axis=1, keepdims=True
            )
            previous = loglik
            loglik, entropy, nk, stats, uncovered = self._pass()
            elapsed = (time.perf_counter() - started) / B
            totals = self.totals[self.ids]
            change = (loglik - previous) / totals
            for i, b in enumerate(self.ids):
                self.logliks[b].append(float(loglik[i]))
                self.changes[b].append(float(change[i]))
                self.seconds[b].append(elapsed)
                decrease = change[i] < -1e-9 * (1.0 + abs(loglik[i] / totals[i]))
                if decrease and self.reg_covar == 0:
                    self.events[b].append(decrease_event(float(-change[i]), it))
            if uncovered.any():
                self._drop_uncovered(uncovered)
                keep = ~uncovered
                loglik, entropy, nk, stats = self._subset(keep, loglik, entropy, nk, stats)
            change = change[~uncovered]
            done = (np.abs(change) < self.tol) | (change == 0.0)  # tol=0: an exact fixed point
            if done.any():
                loglik, entropy, nk, stats = self._finish(done, loglik, entropy, nk, stats, True)
                change = change[~done]
            if self.race is not None and self.ids.size:
                loglik, entropy, nk, stats = self._drop_losers(change, loglik, entropy, nk, stats)
        return self.out  # type: ignore[return-value]

    # -- fits leaving the batch -----------------------------------------------------------
    def _subset(self, keep, loglik, entropy, nk, stats):
        """Keep the fits where ``keep``; the arrays of the others are dropped."""
        B, k = keep.size, self.k
        if keep.all():
            return loglik, entropy, nk, stats
        self.ids = self.ids[keep]
        fits = np.flatnonzero(keep)
        rows = (fits[:, None] * k + np.arange(k)).ravel()
        if fits.size:
            self.stack = self.stack.select(fits)
            stats = type(stats)(
                **{n: a[rows] if a.shape[:1] == (B * k,) else a for n, a in stats.arrays().items()}
            )
        return loglik[keep], entropy[keep], nk[rows], stats

    def _pass_of(self, i, loglik, entropy, nk, stats) -> EPass:
        k = self.k
        return EPass(
            float(loglik[i]),
            float(entropy[i]),
            nk[i * k : (i + 1) * k].copy(),
            [self.stack.fit_statistics(stats, i)],
        )

    def _run_of(self, i, loglik, entropy, nk, stats, converged) -> EMRun:
        b = self.ids[i]
        comp = self.stack.component(i)
        trace = Trace(
            float(self.initial[b]),
            np.array(self.logliks[b], dtype=float),
            np.array(self.changes[b], dtype=float),
            np.array(self.seconds[b], dtype=float),
            np.zeros(len(self.logliks[b]), dtype=bool),
            rows=int(self.X.shape[0]),
        )
        epass = self._pass_of(i, loglik, entropy, nk, stats)
        return EMRun(
            self.weights[b].copy(),
            (comp,),
            float(loglik[i]),
            float(entropy[i]),
            len(self.logliks[b]),
            converged,
            trace,
            tuple(self.events[b]),
            epass,
        )

    def _finish(self, mask, loglik, entropy, nk, stats, converged):
        for i in np.flatnonzero(mask):
            self.out[self.ids[i]] = self._run_of(i, loglik, entropy, nk, stats, converged)
            if self.race is not None and self._plausible(i):
                g = self.race.groups[self.ids[i]]
                self.targets[g] = max(self.targets[g], float(loglik[i]))
        return self._subset(~mask, loglik, entropy, nk, stats)

    # -- the race ---------------------------------------------------------------------------
    def _plausible(self, i: int) -> bool:
        """Whether fit ``i`` of the stack has no spurious component."""
        b = self.ids[i]
        counts = self.weights[b] * self.totals[b]
        return not bool(np.any(self.stack.component(i).spurious(counts, self.reg_covar)))

    def _drop_losers(self, change, loglik, entropy, nk, stats):
        """Fits whose projected limit is below their group's leader leave as dropped runs.

        ``change`` is every fit's last increment per row. A fit's limit is projected by
        Aitken's rule from its last three increments, the ratio of shrinkage taken as the
        larger of the two observed; a fit whose increments do not shrink fast enough
        (:data:`RACE_MAX_RATIO`) is never dropped.
        """
        steps = self.steps
        steps[self.ids] = np.roll(steps[self.ids], -1, axis=1)
        steps[self.ids, 2] = change * self.totals[self.ids]
        recent = steps[self.ids]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.maximum(recent[:, 2] / recent[:, 1], recent[:, 1] / recent[:, 0])
            shrinking = (recent > 0).all(axis=1) & (ratio <= RACE_MAX_RATIO)
            gain = np.where(shrinking, recent[:, 2] * ratio / (1.0 - ratio), np.inf)
        iters = np.array([len(self.logliks[b]) for b in self.ids])
        reach = loglik + RACE_SAFETY * gain + self.tol * self.totals[self.ids]
        reach[iters < RACE_MIN_ITER] = np.inf
        groups = self.race.groups[self.ids]
        targets = self.targets[groups].copy()
        # The leader of a group counts only while it is plausible: a spurious fit ranks below
        # every plausible one, however high its log-likelihood.
        for g in np.unique(groups[reach < loglik.max()]):
            members = np.flatnonzero(groups == g)
            lead = members[np.argmax(loglik[members])]
            if loglik[lead] > self.targets[g] and self._plausible(lead):
                targets[members] = loglik[lead]
        losers = reach < targets
        if self.race.protect > 1 and losers.any():
            # Protect each group's best runs: their ranks among the group's fits still running.
            order = np.lexsort((-loglik, groups))
            first = np.searchsorted(groups[order], groups[order], side="left")
            rank = np.empty(order.size, dtype=int)
            rank[order] = np.arange(order.size) - first
            losers &= rank >= self.race.protect
        if not losers.any():
            return loglik, entropy, nk, stats
        for i in np.flatnonzero(losers):
            run = self._run_of(i, loglik, entropy, nk, stats, False)
            self.out[self.ids[i]] = replace(run, dropped=True)
        return self._subset(~losers, loglik, entropy, nk, stats)

    def _eject(self, mask, loglik, entropy, nk, stats):
        """Fits where ``mask`` go on alone from their current pass (re-seeds, failures)."""
        for i in np.flatnonzero(mask):
            b = self.ids[i]
            so_far = self._run_of(i, loglik, entropy, nk, stats, False)
            if self.race is not None and not self.race.reseed:
                self.out[b] = replace(so_far, dropped=True)
                continue
            try:
                more = run_em(
                    self.X,
                    self._weights_of(b),
                    so_far.weights,
                    so_far.components,
                    max_iter=int(self.budgets[b]) - so_far.n_iter,
                    tol=self.tol,
                    reg_covar=self.reg_covar,
                    chunk=self.chunk,
                    first_pass=so_far.last_pass,
                )
                self.out[b] = _joined(so_far, more) if so_far.n_iter else more
            except FitError as err:
                self.out[b] = err
        return self._subset(~mask, loglik, entropy, nk, stats)

    def _eject_degenerate(self, loglik, entropy, nk, stats):
        B, k = self.ids.size, self.k
        per_fit = nk.reshape(B, k)
        usable = self.usable[self.ids][:, None]
        effective = per_fit * usable / per_fit.sum(axis=1, keepdims=True)
        thin = (effective < self.need) | self.stack.collapsed(stats).reshape(B, k)
        mask = thin.any(axis=1)
        if mask.any():
            return self._eject(mask, loglik, entropy, nk, stats)
        return loglik, entropy, nk, stats

    def _weights_of(self, b: int) -> np.ndarray | None:
        return _fit_weights(self.w, b)

    def _drop_uncovered(self, uncovered):
        for i in np.flatnonzero(uncovered):
            self.out[self.ids[i]] = UncoveredRowError(UNCOVERED_MESSAGE)


def run_from_responsibilities(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    resps: Sequence[np.ndarray],
    structure: Structure,
    *,
    max_iter: int,
    tol: float,
    reg_covar: float,
    chunk: int,
    race: Race | None = None,
) -> list[EMRun | FitError]:
    """EM from the M-step of each ``(n, K)`` array of responsibilities; each run or error.

    The same as :func:`run_many` from ``structure.start`` of each one's statistics, but the
    compiled loop of the Gaussian families takes the responsibilities themselves, so that a
    start costs no Python-level pass. A start whose M-step fails is a FitError.
    """
    from mixem.em import gaussian_batch

    kind = gaussian_batch.family_kind(X, structure.families)
    if kind is not None and resps:
        R = np.stack([np.asarray(r, dtype=float).T for r in resps])
        budgets = np.full(len(resps), max_iter, dtype=int)
        return gaussian_batch.run_compiled(
            X, sample_weight, [], kind, budgets, tol=tol, reg_covar=reg_covar, chunk=chunk,
            race=race, resp=(structure.families[0], R),
        )  # fmt: skip
    out: list[EMRun | FitError | None] = [None] * len(resps)
    starts, where = [], []
    for i, r in enumerate(resps):
        nk, stats = accumulate(
            X, sample_weight, structure.families, structure.sizes, _rows_of(r), chunk
        )
        try:
            starts.append(structure.start(nk, stats, reg_covar))
            where.append(i)
        except FitError as err:
            out[i] = err
    if race is not None:
        race = replace(race, groups=race.groups[np.asarray(where, dtype=int)])
    runs = run_many(
        X, sample_weight, starts, max_iter=max_iter, tol=tol, reg_covar=reg_covar, chunk=chunk,
        race=race,
    )  # fmt: skip
    for i, run in zip(where, runs, strict=True):
        out[i] = run
    return out  # type: ignore[return-value]


def _rows_of(resp: np.ndarray):
    return lambda rows, _: resp[rows]


def extend_many(
    runs: Sequence[EMRun],
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    max_iter: int,
    tol: float,
    reg_covar: float,
    chunk: int,
    moved_from: Sequence[EMRun | None] | None = None,
    race: Race | None = None,
) -> list[EMRun | FitError]:
    """Continue every run until it converges or the chain behind it has ``max_iter`` iterations.

    The continuations run at once. Each result describes its whole chain: its trace, iteration
    count and events are the run's followed by the continuation's. With ``moved_from[i]``, run
    ``i`` started from a split-and-merge move of that run's end, and its chain is that run's
    followed by run ``i``, continued. ``sample_weight`` is ``(n,)``, or ``(len(runs), n)``:
    each run's own row weights. With ``race`` (one group per run), the continuations race
    (see :func:`run_many`); runs that already converged set their group's floor when they are
    plausible.
    """
    bases = list(moved_from) if moved_from is not None else [None] * len(runs)
    used = [r.n_iter + (b.n_iter if b is not None else 0) for r, b in zip(runs, bases, strict=True)]
    todo = [i for i, r in enumerate(runs) if not r.converged and used[i] < max_iter]
    weights = sample_weight
    if weights is not None and weights.ndim == 2:
        weights = weights[np.asarray(todo, dtype=int)]
    if race is not None:
        running = set(todo)
        floors = np.asarray(race.floors, dtype=float).copy()
        for i, r in enumerate(runs):
            if i in running:
                continue
            if not run_is_spurious(r, _total(X, sample_weight, i), reg_covar):
                floors[race.groups[i]] = max(floors[race.groups[i]], r.loglik)
        race = Race(race.groups[np.asarray(todo, dtype=int)], floors, race.protect)
    more = run_many(
        X,
        weights,
        [(runs[i].weights, runs[i].components) for i in todo],
        max_iter=[max_iter - used[i] for i in todo],
        tol=tol,
        reg_covar=reg_covar,
        chunk=chunk,
        race=race,
    )
    out: list[EMRun | FitError] = list(runs)
    for i, m in zip(todo, more, strict=True):
        out[i] = m if isinstance(m, FitError) else _joined(runs[i], m)
    for i, base in enumerate(bases):
        if base is not None and isinstance(out[i], EMRun):
            out[i] = _joined(base, out[i], moved_by=_total(X, sample_weight, i))
    return out


def _fit_weights(sample_weight: np.ndarray | None, i: int) -> np.ndarray | None:
    """Fit ``i``'s row weights: ``sample_weight`` is ``(n,)`` for every fit, or one row each."""
    if sample_weight is not None and sample_weight.ndim == 2:
        return sample_weight[i]
    return sample_weight


def _total(X: np.ndarray, sample_weight: np.ndarray | None, i: int) -> float:
    """Fit ``i``'s total row weight."""
    w = _fit_weights(sample_weight, i)
    return float(X.shape[0]) if w is None else float(w.sum())
