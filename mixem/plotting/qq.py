"""QQ plot of every Gaussian component's squared Mahalanobis distances against chi-squared(d)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from mixem.plotting._common import colour, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mixem.result import MixtureResult

__all__ = ["qq"]


def qq(result: MixtureResult, X: np.ndarray, *, ax: Axes | None = None) -> Axes:
    """Plot the QQ plot; see :meth:`mixem.plotting.ResultPlots.qq`."""
    from statsmodels.graphics.gofplots import ProbPlot

    from mixem.diagnostics import mahalanobis_sq

    d2 = mahalanobis_sq(result, X)
    if d2 is None:
        families = ", ".join(type(c).__name__ for c in result.components)
        raise ValueError(
            f"the QQ plot of Mahalanobis distances needs Gaussian families, not [{families}]"
        )
    d = result.n_features
    classes = result.predict(X)
    ax = new_axes(ax)
    top = 0.0
    for k in range(result.n_components):
        own = d2[classes == k, k]
        if own.size < 2:
            continue  # a component that owns no rows has no quantiles to show
        plot = ProbPlot(own, dist=stats.chi2, distargs=(d,), fit=False)
        plot.qqplot(
            ax=ax,
            marker="o",
            markersize=3,
            linestyle="none",
            markerfacecolor=colour(k),
            markeredgecolor=colour(k),
            label=f"component {k} ({own.size} rows)",
            gid=f"qq-{k}",
        )
        top = max(top, float(plot.theoretical_quantiles.max()), float(own.max()))
    ax.plot([0, top], [0, top], color="0.4", lw=1, gid="identity")
    ax.set_xlabel(f"chi-squared({d}) quantiles")
    ax.set_ylabel("squared Mahalanobis distance")
    ax.set_title("rows assigned to each component")
    ax.legend(frameon=False)
    return ax
