"""Classification uncertainty ``1 - max_k r_ik`` of every observation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixem.plotting._common import colour, feature_labels, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mixem.result import MixtureResult

__all__ = ["uncertainty"]


def uncertainty(
    result: MixtureResult,
    X: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
) -> Axes:
    """Plot per-row uncertainty; see :meth:`mixem.plotting.ResultPlots.uncertainty`."""
    resp = result.predict_proba(X)
    unc = 1.0 - resp.max(axis=1)
    classes = resp.argmax(axis=1)
    ax = new_axes(ax)
    labels = feature_labels(result)
    if result.n_features == 2:
        # As mclust's uncertainty plot: the data, uncertain rows larger and darker.
        points = ax.scatter(
            X[:, 0],
            X[:, 1],
            c=unc,
            s=8 + 120 * unc,
            cmap="viridis_r",
            vmin=0.0,
            vmax=1.0 - 1.0 / result.n_components,
            gid="points",
        )
        ax.figure.colorbar(points, ax=ax, label="uncertainty")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    elif result.n_features == 1:
        ax.scatter(X[:, 0], unc, c=[colour(k) for k in classes], s=10, gid="points")
        ax.set_xlabel(labels[0])
        ax.set_ylabel("uncertainty")
    else:
        order = np.argsort(unc, kind="stable")
        ax.scatter(
            np.arange(unc.size),
            unc[order],
            c=[colour(k) for k in classes[order]],
            s=8,
            gid="points",
        )
        ax.set_xlabel("observations, ordered by uncertainty")
        ax.set_ylabel("uncertainty")
    mean = float(np.average(unc, weights=weights))
    ax.set_title(f"classification uncertainty (mean {mean:.3f})")
    return ax
