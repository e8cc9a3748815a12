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
    """

    initial_loglik: float
    loglik: np.ndarray
    change: np.ndarray
    seconds: np.ndarray
    reseeded: np.ndarray
    rows: int = 0

    def __post_init__(self) -> None:
        for name in ("loglik", "change", "seconds", "reseeded"):
            getattr(self, name).setflags(write=False)

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
        """True if the log-likelihood never decreased (beyond rounding) without a re-seed.

        Guaranteed for EM with ``reg_covar=0``; a positive ``reg_covar`` makes the M-step a
        regularised one, whose fits can lose a little likelihood when ``reg_covar`` is not
        negligible against the variances.
        """
        tol = 1e-9 * (1.0 + np.abs(self.loglik))
        prev = np.concatenate([[self.initial_loglik], self.loglik[:-1]])
        return bool(np.all((self.loglik - prev >= -tol) | self.reseeded))

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
            },
            index=pd.RangeIndex(1, len(self) + 1, name="iteration"),
        )

    def __repr__(self) -> str:
        last = f", last change {self.change[-1]:.3g}" if len(self) else ""
        return f"Trace({len(self)} iterations{last})"
