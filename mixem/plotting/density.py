"""The fitted density: histogram (1-D), scatter with ellipses and contours (2-D), pairs grid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixem.em.passes import log_sum_exp
from mixem.plotting._common import (
    colour,
    component_log_prob,
    draw_ellipses,
    feature_indices,
    feature_labels,
    gaussian_moments,
    marginal_log_prob,
    new_axes,
    padded_range,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mixem.result import MixtureResult

__all__ = ["density"]

#: Grid points per axis of the density curve (1-D) and contours (2-D).
GRID = 200


def _log_prob_on(result: MixtureResult, grid: np.ndarray, cols: list[int]) -> np.ndarray:
    """Per-component weighted log density on ``grid`` of columns ``cols``.

    A marginal when ``cols`` are fewer than all features, which needs Gaussian families (the
    others have no closed-form marginals).
    """
    if cols == list(range(result.n_features)):
        return component_log_prob(result, grid)
    moments = gaussian_moments(result)
    if moments is None:
        raise ValueError("features: marginal densities need Gaussian families; plot all features")
    return marginal_log_prob(*moments, result.weights, grid, cols)


def _hist(ax: Axes, x: np.ndarray, w: np.ndarray | None, **style: Any) -> None:
    """A density histogram of ``x`` weighted by ``w``; bins chosen on the values alone."""
    edges = np.histogram_bin_edges(x, bins="auto")
    ax.hist(x, bins=edges, weights=w, density=True, color="0.85", edgecolor="0.6", **style)


def _bars(result: MixtureResult, X: np.ndarray, w: np.ndarray | None, ax: Axes, label: str) -> Axes:
    """Observed frequencies and the fitted probability mass function of integer data."""
    x = X[:, 0]
    w = np.ones_like(x) if w is None else w
    values = np.arange(np.floor(x.min()), np.ceil(x.max()) + 1.0)
    counts = np.array([w[x == v].sum() for v in values])
    ax.bar(values, counts / w.sum(), width=0.8, color="0.85", edgecolor="0.6", label="data")
    per_component = np.exp(component_log_prob(result, values[:, None]))
    ax.plot(
        values,
        per_component.sum(axis=1),
        "o-",
        color="black",
        lw=1.5,
        markersize=4,
        label="mixture",
        gid="mixture",
    )
    for k in range(result.n_components):
        ax.plot(
            values,
            per_component[:, k],
            "o--",
            color=colour(k),
            lw=1,
            markersize=3,
            label=f"component {k}",
            gid=f"component-{k}",
        )
    ax.set_xlabel(label)
    ax.set_ylabel("probability")
    ax.legend(frameon=False)
    return ax


def _histogram(
    result: MixtureResult, X: np.ndarray, w: np.ndarray | None, ax: Axes, col: int, label: str
) -> Axes:
    if result.n_features == 1 and all(c.family.discrete for c in result.components):
        return _bars(result, X, w, ax, label)
    x = X[:, col]
    _hist(ax, x, w, label="data")
    grid = np.linspace(*padded_range(x), GRID)[:, None]
    per_component = np.exp(_log_prob_on(result, grid, [col]))
    # The mixture first: where the components do not overlap it coincides with one of them,
    # whose dashed line must stay visible on top.
    ax.plot(
        grid[:, 0], per_component.sum(axis=1), color="black", lw=2, label="mixture", gid="mixture"
    )
    for k in range(result.n_components):
        ax.plot(
            grid[:, 0],
            per_component[:, k],
            color=colour(k),
            lw=1.5,
            ls="--",
            label=f"component {k}",
            gid=f"component-{k}",
        )
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    return ax


def _scatter(
    result: MixtureResult, X: np.ndarray, ax: Axes, cols: list[int], labels: list[str]
) -> Axes:
    classes = result.predict(X)
    x, y = X[:, cols[0]], X[:, cols[1]]
    ax.scatter(x, y, c=[colour(k) for k in classes], s=12, alpha=0.7, linewidths=0, gid="points")
    xlim, ylim = padded_range(x), padded_range(y)
    gx, gy = np.meshgrid(np.linspace(*xlim, GRID // 2), np.linspace(*ylim, GRID // 2))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    log_density = log_sum_exp(_log_prob_on(result, grid, cols)).reshape(gx.shape)
    finite = log_density[np.isfinite(log_density)]
    if finite.size and not any(c.family.discrete for c in result.components):
        # Contours evenly spaced in log density over the range the data occupy.
        levels = np.linspace(np.percentile(finite, 40), finite.max(), 8)[:-1]
        ax.contour(
            gx, gy, log_density, levels=levels, colors="0.55", linewidths=0.7, linestyles="solid"
        )
    moments = gaussian_moments(result)
    if moments is not None:
        draw_ellipses(ax, *moments, cols)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(labels[cols[0]])
    ax.set_ylabel(labels[cols[1]])
    return ax


def _pairs(
    result: MixtureResult, X: np.ndarray, w: np.ndarray | None, cols: list[int], labels: list[str]
) -> Figure:
    import matplotlib.pyplot as plt

    m = len(cols)
    fig, axes = plt.subplots(m, m, figsize=(2.2 * m, 2.2 * m), squeeze=False)
    classes = result.predict(X)
    moments = gaussian_moments(result)
    point_colours = [colour(k) for k in classes]
    for i, ci in enumerate(cols):
        for j, cj in enumerate(cols):
            ax = axes[i, j]
            if i == j:
                x = X[:, ci]
                _hist(ax, x, w)
                if moments is not None:
                    grid = np.linspace(*padded_range(x), GRID)[:, None]
                    marginal = np.exp(marginal_log_prob(*moments, result.weights, grid, [ci]))
                    for k in range(result.n_components):
                        ax.plot(grid[:, 0], marginal[:, k], color=colour(k), lw=1, ls="--")
                    ax.plot(grid[:, 0], marginal.sum(axis=1), color="black", lw=1.5)
            else:
                ax.scatter(
                    X[:, cj], X[:, ci], c=point_colours, s=5, alpha=0.6, linewidths=0, gid="points"
                )
                if moments is not None:
                    draw_ellipses(ax, *moments, [cj, ci])
                ax.set_xlim(padded_range(X[:, cj]))
                ax.set_ylim(padded_range(X[:, ci]))
            if i == m - 1:
                ax.set_xlabel(labels[cj])
            else:
                ax.tick_params(labelbottom=False)
            if j == 0:
                ax.set_ylabel(labels[ci])
            elif i != j:
                ax.tick_params(labelleft=False)
    fig.tight_layout()
    return fig


def density(
    result: MixtureResult,
    X: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    features: Any = None,
    ax: Axes | None = None,
) -> Axes | Figure:
    """Plot the fitted density over the data; see :meth:`mixem.plotting.ResultPlots.density`."""
    cols = feature_indices(result, features)
    labels = feature_labels(result)
    if len(cols) == 1:
        return _histogram(result, X, weights, new_axes(ax), cols[0], labels[cols[0]])
    if len(cols) == 2 and (features is not None or result.n_features == 2):
        return _scatter(result, X, new_axes(ax), cols, labels)
    if ax is not None:
        raise ValueError(
            f"a pairs grid of {len(cols)} features needs a figure of its own: pass ax=None, or "
            "features= naming one or two features"
        )
    return _pairs(result, X, weights, cols, labels)
