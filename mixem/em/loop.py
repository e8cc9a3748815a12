"""The EM loop: alternate the fused E-pass and the M-step until the log-likelihood settles."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from mixem.components.family import Components, family_name, updated
from mixem.components.stats import Stats
from mixem.em.events import Event, decrease_event, rounded_down
from mixem.em.init import locate_component, seed_from_rows, seed_size
from mixem.em.passes import EPass, e_pass, iter_log_prob, log_sum_exp
from mixem.em.trace import Trace
from mixem.exceptions import FitError

__all__ = ["EMRun", "RunError", "run_em", "m_step"]

#: Re-seeds allowed per component over one run before the fit gives up.
MAX_RESEEDS_PER_COMPONENT = 5
#: Re-seeds of a component from the worst-fitted rows; later ones split the heaviest component
#: instead. Isolated values (a few outlying rows) are the worst-fitted rows, and a component
#: seeded on them collapses onto them again; half of a big cluster does not.
WORST_ROW_RESEEDS = 2


@dataclass(frozen=True)
class EMRun:
    """Outcome of one EM run: parameters and the numbers that belong to them.

    ``events`` are what happened on the way (re-seeds, decreases), ``last_pass`` the E-pass at
    the returned parameters, from which the run can be continued without another pass
    (:func:`mixem.em.batch.extend_many`). ``dropped`` marks a run that left a race it could
    not win (:class:`mixem.em.batch.Race`) before it converged. ``spurious_at`` is
    ``(n_obs, reg_covar, spurious)`` when the run's producer already knows whether it has a
    spurious component (:func:`mixem.em.plausible.run_is_spurious` then need not ask again).
    """

    weights: np.ndarray
    components: tuple[Components, ...]
    loglik: float
    entropy: float
    n_iter: int
    converged: bool
    trace: Trace
    events: tuple[Event, ...] = ()
    last_pass: EPass | None = field(default=None, repr=False, compare=False)
    dropped: bool = False
    spurious_at: tuple[float, float, bool] | None = field(default=None, repr=False, compare=False)


class RunError(FitError):
    """An EM run that could not continue, with the events it recorded before it stopped."""

    def __init__(self, message: str, events: Sequence[Event] = ()) -> None:
        super().__init__(message)
        self.events = tuple(events)


def _worst_blocks(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    log_weights: np.ndarray,
    components: Sequence[Components],
    chunk: int,
    size: int,
    count: int,
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``count`` blocks of ``size`` rows with the lowest log-likelihood, worst first.

    Each block is its rows and, for weighted rows, the weight each gives: blocks are cut in
    weight, so a row of weight 3 counts as three rows and may be shared by two blocks (as its
    three copies would be).
    """
    ll = np.empty(X.shape[0])
    for rows, logp in iter_log_prob(X, log_weights, components, chunk):
        ll[rows] = log_sum_exp(logp)
    if sample_weight is None:
        total = min(size * count, X.shape[0])
        idx = np.argpartition(ll, total - 1)[:total]
        worst = idx[np.argsort(ll[idx])]
        return [(worst[i * size : (i + 1) * size], None) for i in range(count)]
    usable = np.flatnonzero(sample_weight > 0)
    order = usable[np.argsort(ll[usable], kind="stable")]
    upper = np.cumsum(sample_weight[order])
    lower = upper - sample_weight[order]
    out = []
    for i in range(count):
        start, stop = i * size, (i + 1) * size
        share = np.clip(np.minimum(upper, stop) - np.maximum(lower, start), 0.0, None)
        keep = share > 0
        out.append((order[keep], share[keep]))
    return out


def _split_heaviest(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    current: tuple[np.ndarray, Sequence[Components]],
    stats: list[Stats],
    nk: np.ndarray,
    j: int,
    chunk: int,
) -> int:
    """Re-seed component ``j`` with half of the heaviest other component; return that one.

    The heaviest component's responsibilities are cut in two by the sign of the rows' offset
    from its weighted mean along its principal axis: one half stays, ``j`` takes the other.
    """
    weights, components = current
    classes = [c.family for c in components]
    sizes = [c.n_components for c in components]
    order = np.argsort(-nk, kind="stable")
    m = int(order[0] if order[0] != j else order[1])
    n, d = X.shape
    resp = np.empty(n)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    for rows, logp in iter_log_prob(X, log_w, components, chunk):
        lse = log_sum_exp(logp)
        with np.errstate(invalid="ignore"):
            resp[rows] = np.where(np.isfinite(lse), np.exp(logp[:, m] - lse), 0.0)
    if sample_weight is not None:
        resp *= sample_weight
    total = resp.sum()
    mean = np.zeros(d)
    for start in range(0, n, chunk):
        mean += resp[start : start + chunk] @ X[start : start + chunk]
    mean /= total
    scatter = np.zeros((d, d))
    for start in range(0, n, chunk):
        diff = X[start : start + chunk] - mean
        scatter += (diff * resp[start : start + chunk, None]).T @ diff
    axis = np.linalg.eigh(scatter)[1][:, -1]
    side = np.empty(n, dtype=bool)
    for start in range(0, n, chunk):
        side[start : start + chunk] = (X[start : start + chunk] - mean) @ axis > 0
    for target, keep in ((j, side), (m, ~side)):
        f, local = locate_component(sizes, target)
        part = None
        for start in range(0, n, chunk):
            r = np.zeros((min(chunk, n - start), sizes[f]))
            r[:, local] = resp[start : start + chunk] * keep[start : start + chunk]
            piece = classes[f].statistics(X[start : start + chunk], r)
            part = piece if part is None else part + piece
        mask = np.zeros(sizes[f], dtype=bool)
        mask[local] = True
        stats[f] = stats[f].replace(mask, part)
        nk[target] = float(resp @ keep)
    return m


def m_step(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    current: tuple[np.ndarray, Sequence[Components]],
    epass: EPass,
    reg_covar: float,
    chunk: int,
    iteration: int,
    reseeds: np.ndarray,
    events: list[Event],
) -> tuple[np.ndarray, tuple[Components, ...], bool]:
    """New weights and components from the pass's statistics, re-seeding degenerate ones.

    Returns the new weights, the new components and whether anything was re-seeded; what
    happened is appended to ``events``.
    """
    components = current[1]
    classes = [c.family for c in components]
    sizes = [c.n_components for c in components]
    nk = epass.nk.copy()
    stats: list[Stats] = list(epass.stats)
    n, d = X.shape
    # Frequency weights: a row of weight 3 is three rows, so the rows a component has and the
    # rows a re-seed takes are counted in weight (integer weights then re-seed as repeated
    # rows do).
    rows = float(n) if sample_weight is None else float(sample_weight.sum())
    n_usable = int(math.floor(rows))
    per_comp = [cls for cls, size in zip(classes, sizes, strict=True) for _ in range(size)]
    effective = nk * rows / nk.sum()
    collapsed = np.concatenate([cls.collapsed(s) for cls, s in zip(classes, stats, strict=True)])
    thin = [j for j, cls in enumerate(per_comp) if effective[j] < cls.min_count(d) or collapsed[j]]
    if thin:
        m = max(1, max(seed_size(per_comp[j], d, n_usable) for j in thin))
        blocks = _worst_blocks(
            X, sample_weight, np.log(current[0]), components, chunk, m, len(thin)
        )
        for i, j in enumerate(thin):
            reseeds[j] += 1
            need = per_comp[j].min_count(d)
            if reseeds[j] > MAX_RESEEDS_PER_COMPONENT:
                advice = (
                    "use fewer components or a larger reg_covar"
                    if effective[j] < need
                    else "the data hold (near-)identical rows, a point mass that EM keeps "
                    "collapsing onto: remove or jitter them, or use fewer components"
                )
                raise RunError(
                    f"component {j} ({family_name(per_comp[j])}) became degenerate "
                    f"{reseeds[j]} times; {advice}",
                    events,
                )
            if reseeds[j] > WORST_ROW_RESEEDS and nk.size > 1:
                heaviest = _split_heaviest(X, sample_weight, current, stats, nk, j, chunk)
                how = f"by splitting component {heaviest} along its principal axis"
                kind = "recovery"
            else:
                rows, row_weights = blocks[i]
                seed_from_rows(X, sample_weight, classes, sizes, stats, nk, j, rows, row_weights)
                taken = rows.size if row_weights is None else f"{row_weights.sum():g} (in weight)"
                how = f"from the {taken} worst-fitted rows"
                kind = "reseed"
            why = (
                f"was left with {rounded_down(effective[j])} effective rows (it needs at "
                f"least {need:g})"
                if effective[j] < need
                else "collapsed onto (near-)identical values, a likelihood spike"
            )
            events.append(
                Event(
                    kind,
                    f"component {j} ({family_name(per_comp[j])}) {why} at iteration {iteration}; "
                    f"re-seeded it {how}",
                    iteration=iteration,
                    component=j,
                )
            )
    new = []
    for f, (cls, s) in enumerate(zip(classes, stats, strict=True)):
        try:
            new.append(updated(cls, s, reg_covar, components[f]))
        except ValueError as err:
            raise RunError(
                f"the M-step for {family_name(cls)} (family {f}) failed at iteration {iteration}: "
                f"{err}",
                events,
            ) from err
    weights = nk / nk.sum()
    return weights, tuple(new), bool(thin)


def run_em(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    components: Sequence[Components],
    *,
    max_iter: int,
    tol: float,
    reg_covar: float,
    chunk: int,
    first_pass: EPass | None = None,
    reseeds: np.ndarray | None = None,
) -> EMRun:
    """Run EM from the given parameters.

    Each iteration is one M-step followed by one fused E-pass, so the returned parameters are
    exactly those whose log-likelihood is reported. ``first_pass`` is the E-pass at the given
    parameters when the caller already has it; ``reseeds`` counts each component's re-seeds
    so far, for a run continued in pieces (updated in place). Raises :class:`RunError` (with
    the events so far) when a component cannot be recovered or an M-step fails.
    """
    total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    components = tuple(components)
    epass = first_pass or e_pass(X, sample_weight, np.log(weights), components, chunk)
    initial = epass.loglik
    logliks, changes, seconds, reseeded = [], [], [], []
    if reseeds is None:
        reseeds = np.zeros(weights.size, dtype=int)
    events: list[Event] = []
    converged = False
    for it in range(1, max_iter + 1):
        start = time.perf_counter()
        weights, components, did_reseed = m_step(
            X,
            sample_weight,
            (weights, components),
            epass,
            reg_covar,
            chunk,
            it,
            reseeds,
            events,
        )
        previous = epass.loglik
        try:
            epass = e_pass(X, sample_weight, np.log(weights), components, chunk)
        except FitError as err:
            raise RunError(str(err), events) from err
        change = (epass.loglik - previous) / total_weight
        logliks.append(epass.loglik)
        changes.append(change)
        seconds.append(time.perf_counter() - start)
        reseeded.append(did_reseed)
        decrease = change < -1e-9 * (1.0 + abs(epass.loglik / total_weight))
        if decrease and reg_covar == 0 and not did_reseed:
            # Plain EM cannot decrease the likelihood. With reg_covar > 0 the M-step is not the
            # exact maximiser any more, and small decreases are expected (see Trace.monotone).
            events.append(decrease_event(-change, it))
        # tol=0 stops at an exact fixed point, where EM can change nothing any more.
        if (abs(change) < tol or change == 0.0) and not did_reseed:
            converged = True
            break
    trace = Trace(
        initial,
        np.array(logliks, dtype=float),
        np.array(changes, dtype=float),
        np.array(seconds, dtype=float),
        np.array(reseeded, dtype=bool),
        rows=int(X.shape[0]),
    )
    return EMRun(
        weights,
        components,
        epass.loglik,
        epass.entropy,
        len(logliks),
        converged,
        trace,
        tuple(events),
        epass,
    )


def shifted(events: Sequence[Event], by: int) -> tuple[Event, ...]:
    """``events`` of a run that follows ``by`` iterations, numbered in the whole chain."""
    return tuple(
        replace(e, iteration=None if e.iteration is None else e.iteration + by) for e in events
    )


def _joined(first: EMRun, second: EMRun, *, moved_by: float | None = None) -> EMRun:
    """The chain of ``first`` then ``second`` (which started at, or moved from, its end)."""
    events = first.events + shifted(second.events, first.n_iter)
    return replace(
        second,
        n_iter=first.n_iter + second.n_iter,
        trace=first.trace.then(second.trace, moved_by=moved_by),
        events=events,
    )
