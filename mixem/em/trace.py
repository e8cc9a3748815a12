"""The convergence trace of one EM run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Trace", "TraceRow"]


class TraceRow(NamedTuple):
    """One EM iteration: log-likelihood after it, its change per row, and its wall time."""

    iteration: int
    loglik: float
    change: float
    seconds: float


@dataclass(frozen=True, eq=False)
class Trace:
    """Every EM iteration of a fit: one row per M-step.

    Attributes
    ----------
    initial_loglik : float
        Log-likelihood of the starting parameters (iteration 0).
    loglik : ndarray
        Total log-likelihood of the data after each iteration.
    change : ndarray
        Change of the *mean* log-likelihood per row (per unit of weight) in each iteration;
        convergence is declared when its absolute value falls below ``tol``.
    seconds : ndarray
        Wall-clock seconds spent in each iteration.
    reseeded : ndarray of bool
        Whether a degenerate component was re-seeded in that iteration (the log-likelihood
        may then decrease).
    rows : int
        Rows of data every iteration passed over (0 when unknown, as in files saved by mixem
        before 0.2); gives :attr:`rows_per_second`.
    moved : ndarray of bool
        Whether the iteration started from a split-and-merge move of the parameters before it
        (the default search's chain of runs, see the user guide): its ``change`` is measured
        from the previous iteration's log-likelihood, which the move may have lowered. All
        False for a run from a single start.
    """

    initial_loglik: float
    loglik: np.ndarray
    change: np.ndarray
    seconds: np.ndarray
    reseeded: np.ndarray
    rows: int = 0
    moved: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.moved is None:
            object.__setattr__(self, "moved", np.zeros(self.loglik.shape, dtype=bool))
        for name in ("loglik", "change", "seconds", "reseeded", "moved"):
            getattr(self, name).setflags(write=False)

    def then(self, other: Trace, *, moved_by: float | None = None) -> Trace:
        """The trace of this run followed by ``other``, which started where this one ended.

        ``moved_by`` is set when ``other`` started from a split-and-merge move of this run's
        end instead: the total weight of the rows (what ``change`` is per), so that the first
        iteration's change is measured from this run's last log-likelihood and ``change`` stays
        the difference of consecutive values; that iteration is marked in :attr:`moved`.
        """
        if not len(other):
            return self
        change = np.array(other.change, dtype=float)
        flags = np.array(other.moved, dtype=bool)
        if moved_by is not None:
            last = self.loglik[-1] if len(self) else self.initial_loglik
            change[0] = (other.loglik[0] - last) / moved_by
            flags[0] = True
        return Trace(
            self.initial_loglik,
            np.concatenate([self.loglik, other.loglik]),
            np.concatenate([self.change, change]),
            np.concatenate([self.seconds, other.seconds]),
            np.concatenate([self.reseeded, other.reseeded]),
            rows=other.rows,
            moved=np.concatenate([self.moved, flags]),
        )

    def __len__(self) -> int:
        return int(self.loglik.size)

    def __getitem__(self, i: int) -> TraceRow:
        i = range(len(self))[i]
        return TraceRow(i + 1, float(self.loglik[i]), float(self.change[i]), float(self.seconds[i]))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def rows_per_second(self) -> np.ndarray:
        """Rows processed per second in every iteration (its E-pass over the data and M-step).

        NaN when the number of rows is unknown (a file saved before it was recorded).
        """
        if not self.rows:
            return np.full(self.seconds.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.seconds > 0, self.rows / self.seconds, np.inf)

    @property
    def monotone(self) -> bool:
        """True if the log-likelihood never decreased (beyond rounding) without a re-seed or move.

        Guaranteed for EM with ``reg_covar=0``; a positive ``reg_covar`` makes the M-step a
        regularised one, whose fits can lose a little likelihood when ``reg_covar`` is not
        negligible against the variances.
        """
        tol = 1e-9 * (1.0 + np.abs(self.loglik))
        prev = np.concatenate([[self.initial_loglik], self.loglik[:-1]])
        return bool(np.all((self.loglik - prev >= -tol) | self.reseeded | self.moved))

    def to_dataframe(self) -> Any:
        """The trace as a pandas DataFrame indexed by iteration."""
        import pandas as pd

        return pd.DataFrame(
            {
                "loglik": self.loglik,
                "change": self.change,
                "seconds": self.seconds,
                "rows_per_second": self.rows_per_second,
                "reseeded": self.reseeded,
                "moved": self.moved,
            },
            index=pd.RangeIndex(1, len(self) + 1, name="iteration"),
        )

    def __repr__(self) -> str:
        last = f", last change {self.change[-1]:.3g}" if len(self) else ""
        return f"Trace({len(self)} iterations{last})"
