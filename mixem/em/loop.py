"""The EM loop: alternate the fused E-pass and the M-step until the log-likelihood settles."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mixem.components.base import Component
from mixem.components.stats import Stats
from mixem.em.init import seed_from_rows, seed_size
from mixem.em.passes import EPass, e_pass, iter_log_prob, log_sum_exp
from mixem.em.trace import Trace
from mixem.exceptions import DegenerateComponentWarning, FitError

__all__ = ["EMRun", "run_em", "m_step"]

#: Re-seeds allowed per component over one run before the fit gives up.
MAX_RESEEDS_PER_COMPONENT = 5


@dataclass(frozen=True)
class EMRun:
    """Outcome of one EM run: parameters and the numbers that belong to them."""

    weights: np.ndarray
    components: tuple[Component, ...]
    loglik: float
    entropy: float
    n_iter: int
    converged: bool
    trace: Trace


def _worst_rows(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    log_weights: np.ndarray,
    components: Sequence[Component],
    chunk: int,
    count: int,
) -> np.ndarray:
    """Indices of the ``count`` rows with the lowest log-likelihood, worst first."""
    ll = np.empty(X.shape[0])
    for rows, logp in iter_log_prob(X, log_weights, components, chunk):
        ll[rows] = log_sum_exp(logp)
    if sample_weight is not None:
        ll[sample_weight <= 0] = np.inf
    count = min(count, X.shape[0])
    idx = np.argpartition(ll, count - 1)[:count]
    return idx[np.argsort(ll[idx])]


def m_step(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    current: tuple[np.ndarray, Sequence[Component]],
    epass: EPass,
    reg_covar: float,
    chunk: int,
    iteration: int,
    reseeds: np.ndarray,
) -> tuple[np.ndarray, tuple[Component, ...], bool]:
    """New weights and components from the pass's statistics, re-seeding degenerate ones.

    Returns the new weights, the new components and whether anything was re-seeded.
    """
    components = current[1]
    classes = [type(c) for c in components]
    sizes = [c.n_components for c in components]
    nk = epass.nk.copy()
    stats: list[Stats] = list(epass.stats)
    n, d = X.shape
    n_usable = n if sample_weight is None else int(np.count_nonzero(sample_weight > 0))
    per_comp = [cls for cls, size in zip(classes, sizes, strict=True) for _ in range(size)]
    effective = nk * n_usable / nk.sum()
    collapsed = np.concatenate([cls.collapsed(s) for cls, s in zip(classes, stats, strict=True)])
    thin = [j for j, cls in enumerate(per_comp) if effective[j] < cls.min_count(d) or collapsed[j]]
    if thin:
        m = max(seed_size(per_comp[j], d, n_usable) for j in thin)
        worst = _worst_rows(X, sample_weight, np.log(current[0]), components, chunk, m * len(thin))
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
                raise FitError(
                    f"component {j} ({per_comp[j].__name__}) became degenerate "
                    f"{reseeds[j]} times; {advice}"
                )
            rows = worst[i * m : (i + 1) * m]
            seed_from_rows(X, sample_weight, classes, sizes, stats, nk, j, rows)
            why = (
                f"was left with {effective[j]:.3g} effective rows (it needs at least {need:g})"
                if effective[j] < need
                else "collapsed onto (near-)identical values, a likelihood spike"
            )
            warnings.warn(
                f"component {j} ({per_comp[j].__name__}) {why} at iteration {iteration}; "
                f"re-seeded it from the {rows.size} worst-fitted rows",
                DegenerateComponentWarning,
                stacklevel=2,  # MixtureModel.fit re-issues it at its caller's line
            )
    new = []
    for f, (cls, s) in enumerate(zip(classes, stats, strict=True)):
        try:
            new.append(cls.from_statistics(s, reg_covar=reg_covar))
        except ValueError as err:
            raise FitError(
                f"the M-step for {cls.__name__} (family {f}) failed at iteration {iteration}: {err}"
            ) from err
    weights = nk / nk.sum()
    return weights, tuple(new), bool(thin)


def run_em(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    weights: np.ndarray,
    components: Sequence[Component],
    *,
    max_iter: int,
    tol: float,
    reg_covar: float,
    chunk: int,
) -> EMRun:
    """Run EM from the given parameters.

    Each iteration is one M-step followed by one fused E-pass, so the returned parameters are
    exactly those whose log-likelihood is reported.
    """
    total_weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    components = tuple(components)
    epass = e_pass(X, sample_weight, np.log(weights), components, chunk)
    initial = epass.loglik
    logliks, changes, seconds, reseeded = [], [], [], []
    reseeds = np.zeros(weights.size, dtype=int)
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
        )
        previous = epass.loglik
        epass = e_pass(X, sample_weight, np.log(weights), components, chunk)
        change = (epass.loglik - previous) / total_weight
        logliks.append(epass.loglik)
        changes.append(change)
        seconds.append(time.perf_counter() - start)
        reseeded.append(did_reseed)
        decrease = change < -1e-9 * (1.0 + abs(epass.loglik / total_weight))
        if decrease and reg_covar == 0 and not did_reseed:
            # Plain EM cannot decrease the likelihood. With reg_covar > 0 the M-step is not the
            # exact maximiser any more, and small decreases are expected (see Trace.monotone).
            warnings.warn(
                f"the log-likelihood decreased by {-change:.3g} per row at iteration {it}; "
                "EM should never do this: please report it with the data and settings",
                RuntimeWarning,
                stacklevel=2,
            )
        if abs(change) < tol and not did_reseed:
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
    return EMRun(weights, components, epass.loglik, epass.entropy, len(logliks), converged, trace)
