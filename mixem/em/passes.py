"""Passes over the data in row chunks: the fused E-step and statistics accumulation.

The ``(n, K)`` responsibility matrix never exists at once: each chunk is scored, normalised in
the log domain and folded into mergeable statistics before the next chunk is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from mixem.components.family import Components, Family
from mixem.components.stats import Stats
from mixem.exceptions import FitError

__all__ = [
    "CHUNK_BYTES",
    "EPass",
    "chunk_rows",
    "e_pass",
    "accumulate",
    "iter_log_prob",
    "log_sum_exp",
]

#: Memory budget of one chunk's temporaries. Measured on the benchmark shapes (see
#: benchmarks/): about 2 MiB beat 0.5, 1, 4 and 8 MiB at d = 2, 10 and 100.
CHUNK_BYTES = 2 << 20


def chunk_rows(
    n_features: int,
    families: Sequence[Family],
    n_components: int,
    chunk_size: int | None = None,
) -> int:
    """Rows per chunk: ``chunk_size`` if given, else what fits ``CHUNK_BYTES`` of temporaries.

    The engine's own temporaries take three floats per component and row; each family states
    what its kernels take (:meth:`Component.floats_per_row`).
    """
    if chunk_size is not None:
        return chunk_size
    family = max(cls.floats_per_row(n_features) for cls in families)
    return max(256, CHUNK_BYTES // (8 * (3 * n_components + family)))


def log_sum_exp(a: np.ndarray) -> np.ndarray:
    """Row-wise ``log(sum(exp(a)))`` of an ``(n, K)`` array, stable for extreme entries."""
    t = a.T  # reductions run over the leading axis of a (K, n) array: vectorised over rows
    top = t.max(axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf: the row has zero density
        return top + np.log(np.exp(t - top).sum(axis=0))


def _normalise(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Responsibilities, row log-likelihoods and row entropies from weighted log densities.

    ``logp`` is ``(c, K)``; the work happens on its ``(K, c)`` transpose, where reductions over
    components are element-wise operations across rows (the fast direction for NumPy). ``logp``
    is overwritten. Returns ``resp`` as a ``(K, c)`` array, ``lse`` and ``entropy`` as ``(c,)``.
    """
    t = logp.T if logp.flags.f_contiguous else np.ascontiguousarray(logp.T)
    top = t.max(axis=0)
    top[~np.isfinite(top)] = 0.0
    t -= top
    resp = np.exp(t)
    total = resp.sum(axis=0)
    # A row with zero density under every component gives 0/0 here; callers check lse.
    with np.errstate(divide="ignore", invalid="ignore"):
        resp /= total
        log_total = np.log(total)
        # -sum_k r log r with log r = t - log_total and sum_k r = 1.
        cross = np.einsum("kc,kc->c", resp, t)
        if not np.all(np.isfinite(cross)):  # zero densities: t = -inf where r = 0
            cross = np.einsum("kc,kc->c", resp, np.where(resp > 0, t, 0.0))
    return resp, top + log_total, log_total - cross


def blocks(sizes: Sequence[int]) -> list[slice]:
    """Column slices of consecutive families with ``sizes`` components each."""
    out, start = [], 0
    for size in sizes:
        out.append(slice(start, start + size))
        start += size
    return out


def weighted_log_prob(
    X: np.ndarray, log_weights: np.ndarray, components: Sequence[Components]
) -> np.ndarray:
    """``log pi_k + log p_k(x)`` for every row and component, shape ``(n, K)``."""
    if len(components) == 1:
        out = components[0].log_prob(X)
    else:
        # Column blocks of an F-ordered array, so the (K, c) transpose is contiguous.
        out = np.empty((X.shape[0], log_weights.size), order="F")
        for block, comp in zip(
            blocks([c.n_components for c in components]), components, strict=True
        ):
            out[:, block] = comp.log_prob(X)
    out += log_weights
    return out


def iter_log_prob(
    X: np.ndarray,
    log_weights: np.ndarray,
    components: Sequence[Components],
    chunk: int,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, weighted log densities)`` chunk by chunk."""
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, min(start + chunk, X.shape[0]))
        yield rows, weighted_log_prob(X[rows], log_weights, components)


class _Accumulator:
    """Folds chunks of (rows, responsibilities) into per-family statistics.

    ``families`` are families (statistics at a start) or the current components (E-step
    statistics at their parameters).
    """

    def __init__(
        self, families: Sequence[Family] | Sequence[Components], columns: list[slice]
    ) -> None:
        self.blocks = columns
        self.statistics = [
            f.statistics if isinstance(f, Family) else f.expected_statistics for f in families
        ]
        self.stats: list[Stats | None] = [None] * len(families)
        self.nk = np.zeros(columns[-1].stop)

    def add(self, Xc: np.ndarray, resp: np.ndarray) -> None:
        self.nk += resp.T.sum(axis=1)
        for f, (statistics, block) in enumerate(zip(self.statistics, self.blocks, strict=True)):
            s = statistics(Xc, resp[:, block])
            self.stats[f] = s if self.stats[f] is None else self.stats[f] + s


class UncoveredRowError(FitError):
    """A row has density zero under every component.

    Either the data hold values a family cannot model, or the start does not cover them.
    """


@dataclass(frozen=True)
class EPass:
    """What one pass over the data yields for the current parameters.

    Attributes
    ----------
    loglik : float
        Weighted total log-likelihood of the data under the current parameters.
    entropy : float
        Weighted classification entropy ``-sum_i sum_k r_ik log r_ik``.
    nk : ndarray of shape (K,)
        Weighted responsibility totals per component.
    stats : list of Stats
        Per-family statistics of the responsibility-weighted data (for the next M-step).
    """

    loglik: float
    entropy: float
    nk: np.ndarray
    stats: list[Stats]


def e_pass(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    log_weights: np.ndarray,
    components: Sequence[Components],
    chunk: int,
    row_offset: int = 0,
) -> EPass:
    """Fused E-step and statistics: one pass, memory O(chunk).

    ``row_offset`` is the position of ``X``'s first row in the data, for error messages about
    a block of a larger array.
    """
    if hasattr(X, "e_pass"):  # a source that runs its own passes (a Dask array's blocks)
        return X.e_pass(sample_weight, log_weights, components, chunk)
    acc = _Accumulator(components, blocks([c.n_components for c in components]))
    loglik = 0.0
    entropy = 0.0
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, min(start + chunk, X.shape[0]))
        Xc = X[rows]  # once: for rows on disk every index is a read
        resp, lse, ent = _normalise(weighted_log_prob(Xc, log_weights, components))
        if not np.all(np.isfinite(lse)):
            uncovered = ~np.isfinite(lse)
            if sample_weight is not None:
                # A row of zero weight counts for nothing, whatever its density; fitting only
                # validates rows of positive weight (Component.check_data).
                ignored = uncovered & (sample_weight[rows] == 0)
                resp[:, ignored] = 0.0
                lse[ignored] = 0.0
                ent[ignored] = 0.0
                uncovered &= ~ignored
            if uncovered.any():
                first = int(np.flatnonzero(uncovered)[0])
                raise UncoveredRowError(
                    f"row {row_offset + rows.start + first} of X has log-likelihood "
                    f"{lse[first]} under every component; the components do not cover it"
                )
        if sample_weight is None:
            loglik += lse.sum()
            entropy += ent.sum()
        else:
            w = sample_weight[rows]
            loglik += w @ lse
            entropy += w @ ent
            resp *= w
        acc.add(Xc, resp.T)
    return EPass(float(loglik), float(entropy), acc.nk, acc.stats)  # type: ignore[arg-type]


def accumulate(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    families: Sequence[Family] | Sequence[Components],
    sizes: Sequence[int],
    resp_of: Callable[[slice, np.ndarray], np.ndarray],
    chunk: int,
) -> tuple[np.ndarray, list[Stats]]:
    """Statistics of responsibilities given chunk by chunk (used by initialisation).

    ``resp_of(rows, X[rows])`` returns the responsibilities of those rows, shape ``(c, K)``.
    With classes as ``families`` these are statistics at a start; with components, E-step
    statistics at their parameters.
    """
    acc = _Accumulator(families, blocks(sizes))
    for begin in range(0, X.shape[0], chunk):
        rows = slice(begin, min(begin + chunk, X.shape[0]))
        Xc = X[rows]
        resp = np.array(resp_of(rows, Xc), dtype=np.float64)
        if sample_weight is not None:
            resp *= sample_weight[rows, None]
        acc.add(Xc, resp)
    return acc.nk, acc.stats  # type: ignore[return-value]
