"""QQ plot of every Gaussian component's squared Mahalanobis distances against chi-squared(d)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixem.components.family import family_name
from mixem.plotting._common import colour, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mixem.result import MixtureResult

__all__ = ["qq"]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of a weighted sample: the inverse of its weighted distribution function.

    At ``probs = (i - 1/2) / n`` with equal weights these are the sorted values, and integer
    weights act as repeated values.
    """
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    return v[np.minimum(np.searchsorted(cdf, probs, side="left"), v.size - 1)]


def qq(
    result: MixtureResult,
    X: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Plot the QQ plot; see :meth:`mixem.plotting.ResultPlots.qq`."""
    from statsmodels.graphics.gofplots import ProbPlot

    from mixem.diagnostics import effective_size, mahalanobis_sq, radial_laws

    d2 = mahalanobis_sq(result, X)
    if d2 is None:
        families = ", ".join(family_name(c.family) for c in result.components)
        raise ValueError(
            "the QQ plot of Mahalanobis distances needs elliptical families (Gaussian or "
            f"StudentT), not [{families}]"
        )
    d = result.n_features
    laws = radial_laws(result)
    gaussian = all(law.dist.name == "chi2" for law in laws)
    resp = result.predict_proba(X)
    freq = np.ones(X.shape[0]) if weights is None else weights
    ax = new_axes(ax)
    top = 0.0
    for k in range(result.n_components):
        w = resp[:, k] * freq
        n_eff = effective_size(resp[:, k], freq)
        m = int(round(n_eff))
        if m < 2:
            continue  # a component with no rows has no quantiles to show
        # Every row counts with its responsibility, as in the diagnostics' normality test:
        # under the model these weighted distances follow the radial law, overlap or not, whereas
        # the rows assigned to a component lose their tail towards its neighbours.
        sample = weighted_quantiles(d2[:, k], w, (np.arange(1, m + 1) - 0.5) / m)
        plot = ProbPlot(sample, dist=laws[k], a=0.5)
        plot.qqplot(
            ax=ax,
            marker="o",
            markersize=3,
            linestyle="none",
            markerfacecolor=colour(k),
            markeredgecolor=colour(k),
            label=f"component {k} ({n_eff:.0f} effective rows)",
            gid=f"qq-{k}",
        )
        top = max(top, float(plot.theoretical_quantiles.max()), float(sample.max()))
    ax.plot([0, top], [0, top], color="0.4", lw=1, gid="identity")
    ax.set_xlabel(f"chi-squared({d}) quantiles" if gaussian else "quantiles of the radial laws")
    ax.set_ylabel("squared Mahalanobis distance")
    ax.set_title("every row weighted by its responsibility")
    ax.legend(frameon=False)
    return ax
