"""Helpers shared by the plots: axes, colours, ellipses and Gaussian marginals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixem.components.family import moments_of
from mixem.em.passes import blocks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mixem.result import MixtureResult

#: Radii, in standard deviations, of the covariance ellipses drawn around every component.
SD_LEVELS = (1.0, 2.0)


def colour(k: int) -> str:
    """Colour of component ``k``: matplotlib's property cycle, so styles apply."""
    return f"C{k % 10}"


def new_axes(ax: Axes | None, **subplot: Any) -> Axes:
    """``ax``, or the Axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(**subplot)[1]


def feature_labels(result: MixtureResult) -> list[str]:
    """Column names, or ``x0, x1, ...`` when the model was fitted on an array."""
    if result.feature_names:
        return list(result.feature_names)
    return [f"x{j}" for j in range(result.n_features)]


def feature_indices(result: MixtureResult, features: Any) -> list[int]:
    """Column positions of ``features`` (names or positions); all columns when None."""
    if features is None:
        return list(range(result.n_features))
    labels = feature_labels(result)
    out = []
    for f in [features] if isinstance(features, str | int) else list(features):
        if isinstance(f, str) and f in labels:
            out.append(labels.index(f))
        elif isinstance(f, int | np.integer) and 0 <= f < result.n_features:
            out.append(int(f))
        else:
            raise ValueError(f"features: unknown feature {f!r}; the model's features are {labels}")
    if len(set(out)) != len(out) or not out:
        raise ValueError(f"features must name distinct features, got {features!r}")
    return out


def gaussian_moments(result: MixtureResult) -> tuple[np.ndarray, np.ndarray] | None:
    """Means ``(K, d)`` and covariance matrices ``(K, d, d)`` when every family has them."""
    moments = [moments_of(c) for c in result.components]
    if any(m is None for m in moments):
        return None
    means = np.concatenate([m[0] for m in moments])  # type: ignore[index]
    covs = np.concatenate([m[1] for m in moments])  # type: ignore[index]
    return means, covs


def component_log_prob(result: MixtureResult, X: np.ndarray) -> np.ndarray:
    """``log pi_k + log p_k(x)`` of every row and component, shape ``(n, K)``."""
    out = np.empty((X.shape[0], result.n_components))
    for block, comp in zip(
        blocks([c.n_components for c in result.components]), result.components, strict=True
    ):
        out[:, block] = comp.log_prob(X)
    with np.errstate(divide="ignore"):
        return out + np.log(result.weights)


def marginal_log_prob(
    means: np.ndarray, covs: np.ndarray, weights: np.ndarray, X: np.ndarray, cols: list[int]
) -> np.ndarray:
    """``log pi_k + log N(x; mu_k, Sigma_k)`` of a Gaussian mixture's marginal on ``cols``."""
    m = means[:, cols]
    c = covs[:, cols][:, :, cols]
    out = np.empty((X.shape[0], m.shape[0]))
    for k in range(m.shape[0]):
        chol = np.linalg.cholesky(c[k])
        z = np.linalg.solve(chol, (X - m[k]).T)
        out[:, k] = (
            -0.5 * np.einsum("ij,ij->j", z, z)
            - np.log(np.diag(chol)).sum()
            - 0.5 * len(cols) * np.log(2 * np.pi)
        )
    with np.errstate(divide="ignore"):
        return out + np.log(weights)


def draw_ellipses(ax: Axes, means: np.ndarray, covs: np.ndarray, cols: list[int]) -> None:
    """Ellipses at ``SD_LEVELS`` standard deviations of every component, on columns ``cols``."""
    from matplotlib.patches import Ellipse

    for k in range(means.shape[0]):
        sub = covs[k][np.ix_(cols, cols)]
        values, vectors = np.linalg.eigh(sub)
        angle = float(np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1])))
        for r in SD_LEVELS:
            width, height = 2.0 * r * np.sqrt(np.maximum(values[::-1], 0.0))
            ax.add_patch(
                Ellipse(
                    (means[k, cols[0]], means[k, cols[1]]),
                    width,
                    height,
                    angle=angle,
                    fill=False,
                    edgecolor=colour(k),
                    linewidth=1.5 if r == SD_LEVELS[0] else 1.0,
                    linestyle="-" if r == SD_LEVELS[0] else "--",
                    gid=f"ellipse-{k}-{r:g}sd",
                )
            )
        ax.plot(means[k, cols[0]], means[k, cols[1]], "+", color="black", markersize=8)


def padded_range(values: np.ndarray, pad: float = 0.08) -> tuple[float, float]:
    """The range of ``values`` widened by ``pad`` of its length on both sides."""
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(lo), 1.0)
    return lo - pad * span, hi + pad * span
