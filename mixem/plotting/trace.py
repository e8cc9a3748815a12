"""The convergence trace: log-likelihood by iteration, and its change on a log scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mixem.result import MixtureResult

__all__ = ["trace"]


def trace(result: MixtureResult, *, ax: Sequence[Axes] | None = None) -> Figure:
    """Plot the convergence trace; see :meth:`mixem.plotting.ResultPlots.trace`."""
    t = result.trace
    if ax is None:
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 5.2))
    else:
        try:
            top, bottom = ax
        except (TypeError, ValueError) as err:
            raise ValueError("ax must be a pair of Axes (log-likelihood, change)") from err
        fig = top.figure
    iterations = np.arange(len(t) + 1)
    loglik = np.concatenate([[t.initial_loglik], t.loglik])
    top.plot(iterations, loglik, "o-", color="C0", markersize=3, gid="loglik")
    if t.reseeded.any():
        where = np.flatnonzero(t.reseeded) + 1
        top.plot(
            where,
            loglik[where],
            "x",
            color="C3",
            markersize=8,
            label="component re-seeded",
            gid="reseeded",
        )
        top.legend(frameon=False)
    if np.ptp(loglik) == 0:  # a start that is already the maximum: a flat trace
        pad = max(1.0, 1e-6 * abs(loglik[0]))
        top.set_ylim(loglik[0] - pad, loglik[0] + pad)
    top.set_ylabel("log-likelihood")
    top.set_title(
        f"EM {'converged' if result.converged else 'stopped without converging'} after "
        f"{result.n_iter} iterations"
    )
    change = np.abs(t.change)
    positive = change > 0
    bottom.semilogy(
        iterations[1:][positive], change[positive], "o-", color="C1", markersize=3, gid="change"
    )
    if not positive.any():
        bottom.text(
            0.5,
            0.5,
            "no change: the start was a fixed point",
            ha="center",
            transform=bottom.transAxes,
        )
        bottom.set_ylim(min(result.spec.get("tol") or 1e-6, 1e-6) / 10.0, 1.0)
    tol = result.spec.get("tol")
    if tol:
        bottom.axhline(tol, color="0.5", ls="--", lw=1, label=f"tol = {tol:g}", gid="tol")
        bottom.legend(frameon=False)
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("|change of mean log-likelihood|")
    return fig
