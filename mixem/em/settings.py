"""The engine's settings: one record for a fit, one for the default search's tuning.

Every number that steers a fit lives here, so a benchmark or a study passes a record instead of
changing a module's globals (which would change every fit in the process, threads included).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SearchSettings", "Settings"]


@dataclass(frozen=True)
class SearchSettings:
    """Tuning of the default search, ``init="short_em"`` (see :mod:`mixem.em.search`).

    The defaults were chosen by measurement on the bundled datasets
    (``benchmarks/bench_init.py`` prints how often a setting reaches the best plausible maximum
    of 50 k-means++ restarts).

    Attributes
    ----------
    starts : int
        k-means++ starts, besides the hierarchical one.
    hierarchical : bool
        Whether Ward's agglomeration of the whitened rows (mclust's default start) is a
        candidate.
    short_iter : int
        EM iterations every start gets before the best are chosen.
    keep : int
        Best short runs continued to convergence.
    margin : float or None
        If set, a short run is continued only when its log-likelihood is within ``margin``
        (nats) of the best given start's converged one (the weighted bootstrap: a fresh start
        competes with the warm start only if it can catch up).
    split_merge_rounds, split_merge_moves, split_merge_keep, split_merge_bases : int
        Rounds of split-and-merge moves per base fit, moves tried per round, moves of a round
        continued to convergence, and distinct converged fits used as bases.
    split_merge_cosine : bool
        Order merge pairs by the cosine of their responsibilities instead of the inner product.
    rows : int
        Most rows the search runs on; larger data are subsampled (uniformly, without
        replacement), so its cost does not grow with the data. Out-of-core data are searched on
        a subsample of this size drawn in the pass that validates them.
    """

    starts: int = 50
    hierarchical: bool = True
    short_iter: int = 20
    keep: int = 10
    margin: float | None = None
    split_merge_rounds: int = 10
    split_merge_moves: int = 30
    split_merge_keep: int = 5
    split_merge_bases: int = 3
    split_merge_cosine: bool = False
    rows: int = 5000

    def __post_init__(self) -> None:
        for name in (
            "starts",
            "short_iter",
            "keep",
            "split_merge_rounds",
            "split_merge_moves",
            "split_merge_keep",
            "split_merge_bases",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"SearchSettings.{name} must be an integer >= 0, got {value!r}")
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 1:
            raise ValueError(f"SearchSettings.rows must be a positive integer, got {self.rows!r}")
        if self.margin is not None and not self.margin >= 0:
            raise ValueError(f"SearchSettings.margin must be None or >= 0, got {self.margin!r}")


@dataclass(frozen=True)
class Settings:
    """How one fit runs: EM's options, the kind of start, and the search's tuning.

    Attributes
    ----------
    max_iter : int
        Most EM iterations behind the returned parameters (for a searched start, behind every
        candidate: a continued run and a split-and-merge move count the iterations that led to
        their start).
    tol : float
        Convergence threshold on the change of the mean log-likelihood per row.
    reg_covar : float
        Regulariser added to every variance in the M-step.
    init : str
        The kind of a single start (one of :data:`mixem.em.init.INIT_METHODS`), used when a fit
        neither searches nor is given its starts.
    n_init : int
        Independent runs; the best plausible one is kept.
    chunk : int
        Rows per chunk of every pass.
    """

    max_iter: int = 1000
    tol: float = 1e-6
    reg_covar: float = 1e-6
    init: str = "kmeans++"
    n_init: int = 1
    chunk: int = 4096
