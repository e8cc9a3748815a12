"""Initialisation strategies. Each one only builds responsibilities; the M-step does the rest.

A new component family therefore needs no initialisation code of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mixem.components.family import Family
from mixem.components.stats import Stats
from mixem.em.passes import accumulate

__all__ = [
    "INIT_METHODS",
    "initial_statistics",
    "kmeans_plusplus",
    "locate_component",
    "seed_from_rows",
]

#: ``"kmeans++"``: k-means++ seeding, each row assigned to its nearest seed;
#: ``"hierarchical"``: centres of Ward's agglomeration of the whitened rows, each row assigned
#: to its nearest centre;
#: ``"random_rows"``: K distinct random rows as seeds, each row assigned to its nearest seed;
#: ``"random"``: random responsibilities (each row a uniform draw, normalised).
INIT_METHODS = ("kmeans++", "hierarchical", "random_rows", "random")


def _sq_dist_to(X: np.ndarray, centre: np.ndarray, chunk: int) -> np.ndarray:
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        diff = X[start : start + chunk] - centre
        out[start : start + chunk] = np.einsum("ij,ij->i", diff, diff)
    return out


def kmeans_plusplus(
    X: np.ndarray, sample_weight: np.ndarray | None, k: int, rng: np.random.Generator, chunk: int
) -> np.ndarray:
    """k-means++ seeds (D² sampling, weighted by ``sample_weight``), shape ``(k, d)``."""
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    first = rng.choice(X.shape[0], p=w / w.sum())
    seeds = [first]
    dist = _sq_dist_to(X, X[first], chunk)
    for _ in range(1, k):
        p = w * dist
        total = p.sum()
        if not (np.isfinite(total) and total > 0):
            # Validation guarantees k distinct rows; squared distances can still underflow.
            raise ValueError(
                "X's rows are too close together to measure squared distances in float64 "
                f"(largest {np.sqrt(dist.max()):.3g}); rescale the data"
            )
        nxt = rng.choice(X.shape[0], p=p / total)
        seeds.append(nxt)
        np.minimum(dist, _sq_dist_to(X, X[nxt], chunk), out=dist)
    return X[seeds].copy()


def _random_rows(
    X: np.ndarray, sample_weight: np.ndarray | None, k: int, rng: np.random.Generator
) -> np.ndarray:
    """K distinct rows drawn with probability proportional to their weight."""
    rows = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    _, first = np.unique(X[rows], axis=0, return_index=True)
    first = rows[np.sort(first)]
    w = np.ones(first.size) if sample_weight is None else sample_weight[first]
    pick = rng.choice(first.size, size=k, replace=False, p=w / w.sum())
    return X[first[pick]].copy()


#: Most rows the hierarchical start clusters; the others join their nearest cluster centre.
HIERARCHICAL_ROWS = 2000


def hierarchical_seeds(
    X: np.ndarray, sample_weight: np.ndarray | None, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Centres of ``k`` clusters from Ward's agglomeration of the whitened rows, ``(k, d)``.

    Whitening (rotation to principal axes scaled to unit variance) makes the start independent
    of the data's units and orientation, as mclust's default ``hcUse = "SVD"``. Ward's criterion
    is the model-based agglomeration of spherical equal-variance Gaussian clusters. At most
    ``HIERARCHICAL_ROWS`` rows, drawn at random, are agglomerated (the cost is quadratic).
    """
    return WardTree.of(X, sample_weight, rng).centres(X, k, rng)


@dataclass(frozen=True)
class WardTree:
    """Ward's agglomeration of (at most ``HIERARCHICAL_ROWS`` of) the whitened rows.

    One tree gives the hierarchical start of every K, as mclust's ``hc``: a study builds it
    once. See :func:`hierarchical_seeds`.
    """

    rows: np.ndarray
    linkage: np.ndarray

    @classmethod
    def of(
        cls, X: np.ndarray, sample_weight: np.ndarray | None, rng: np.random.Generator
    ) -> WardTree:
        from scipy.cluster.hierarchy import linkage

        rows = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(sample_weight > 0)
        if rows.size > HIERARCHICAL_ROWS:
            rows = np.sort(rng.choice(rows, HIERARCHICAL_ROWS, replace=False))
        if rows.size < 2:  # no merge to make: the one row is the one cluster
            return cls(rows, np.zeros((0, 4)))
        Y = X[rows] - X[rows].mean(axis=0)
        _, sv, vt = np.linalg.svd(Y, full_matrices=False)
        scale = np.where(sv > sv[0] * 1e-12, sv, np.inf) / np.sqrt(max(rows.size - 1, 1))
        return cls(rows, linkage((Y @ vt.T) / scale, method="ward"))

    def centres(self, X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """The centres of the tree's ``k`` clusters (in ``X``'s units), ``(k, d)``."""
        rows = self.rows
        labels = self.labels(k)
        found = np.unique(labels)
        centres = np.stack([X[rows[labels == j]].mean(axis=0) for j in found])
        if found.size < k:  # ties in the tree: fill with random rows
            extra = X[rng.choice(rows, k - found.size, replace=False)]
            centres = np.concatenate([centres, extra])
        return centres

    def labels(self, k: int) -> np.ndarray:
        """The tree's flat clusters of at most ``k`` (fewer at tied heights), ``0 ..``.

        ``scipy.cluster.hierarchy.fcluster(linkage, k, "maxclust") - 1``, numbered as it does
        (the order in which its depth-first walk from the top reaches the clusters, inner
        nodes before leaves), without its checks of the tree, which took most of a start's
        time at a few hundred rows.
        """
        Z = self.linkage
        n = Z.shape[0] + 1
        if n == 1:
            return np.zeros(1, dtype=np.intp)
        if k >= n:
            from scipy.cluster.hierarchy import fcluster

            return fcluster(Z, t=k, criterion="maxclust") - 1
        # Ward's heights never decrease: merges up to the (n - k)-th height, ties included.
        applied = int(np.searchsorted(Z[:, 2], Z[n - k - 1, 2], side="right"))
        parent = np.arange(2 * n - 1)
        kids = Z[:applied, :2].astype(np.intp)
        parent[kids[:, 0]] = parent[kids[:, 1]] = n + np.arange(applied)
        while True:  # every row's cluster: pointer jumping up the merges applied
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        out = np.empty(n, dtype=np.intp)
        found = 0
        stack = [2 * n - 2]
        while stack:
            node = stack.pop()
            if node >= n and node - n >= applied:  # a merge above the cut: walk into it
                left, right = (int(c) for c in Z[node - n, :2])
                inner = [c for c in (left, right) if c >= n]
                stack.extend(reversed(inner + [c for c in (left, right) if c < n]))
                continue
            out[parent[:n] == node] = found
            found += 1
        return out


def _nearest_seed_resp(seeds: np.ndarray):
    def resp_of(rows: slice, Xc: np.ndarray) -> np.ndarray:
        dist = np.empty((Xc.shape[0], seeds.shape[0]))
        for j, seed in enumerate(seeds):
            diff = Xc - seed
            dist[:, j] = np.einsum("ij,ij->i", diff, diff)
        resp = np.zeros_like(dist)
        resp[np.arange(Xc.shape[0]), dist.argmin(axis=1)] = 1.0
        return resp

    return resp_of


def start_smoothing(components: Sequence[Family]) -> float:
    """The largest :attr:`Family.start_smoothing` of the model's families."""
    return max(cls.start_smoothing for cls in components)


RespOf = Callable[[slice, np.ndarray], np.ndarray]


def smoothed(resp_of: RespOf, components: Sequence[Family]) -> RespOf:
    """``resp_of`` with each row's responsibilities mixed with a uniform share, if asked for."""
    s = start_smoothing(components)
    if s <= 0:
        return resp_of

    def mixed(rows: slice, Xc: np.ndarray) -> np.ndarray:
        resp = resp_of(rows, Xc)
        return (1.0 - s) * resp + s / resp.shape[1]

    return mixed


def _random_resp(rng: np.random.Generator, k: int):
    def resp_of(rows: slice, Xc: np.ndarray) -> np.ndarray:
        r = rng.random((Xc.shape[0], k))
        return r / r.sum(axis=1, keepdims=True)

    return resp_of


def locate_component(sizes: Sequence[int], j: int) -> tuple[int, int]:
    """Family index, and index within that family, of component ``j`` of all K."""
    f = 0
    while j >= sizes[f]:
        j -= sizes[f]
        f += 1
    return f, j


def seed_from_rows(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    components: Sequence[Family],
    sizes: Sequence[int],
    stats: list[Stats],
    nk: np.ndarray,
    j: int,
    rows: np.ndarray,
    row_weights: np.ndarray | None = None,
) -> None:
    """Replace component ``j``'s statistics (in ``stats`` and ``nk``) by those of ``rows``.

    Each row counts with its sample weight, or with ``row_weights`` when given.
    """
    f, local = locate_component(sizes, j)
    if row_weights is not None:
        w = np.asarray(row_weights, dtype=float)
    else:
        w = np.ones(rows.size) if sample_weight is None else sample_weight[rows]
    resp = np.zeros((rows.size, sizes[f]))
    resp[:, local] = w
    seeded = components[f].statistics(X[rows], resp)
    mask = np.zeros(sizes[f], dtype=bool)
    mask[local] = True
    stats[f] = stats[f].replace(mask, seeded)
    nk[j] = w.sum()


def seed_size(cls: Family, n_features: int, n_available: int) -> int:
    """How many rows a (re-)seeded component starts from: twice its minimum, at least 5."""
    return min(n_available, max(5, math.ceil(2 * cls.min_count(n_features))))


def initial_statistics(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    components: Sequence[Family],
    sizes: Sequence[int],
    method: str,
    rng: np.random.Generator,
    chunk: int,
) -> tuple[np.ndarray, list[Stats]]:
    """Statistics of the starting responsibilities built by ``method`` (see ``INIT_METHODS``).

    A seed that attracts fewer rows than its family needs (``min_count``) starts instead from the
    rows nearest to it, so every component begins with estimable parameters.
    """
    k = int(sum(sizes))
    if method == "random":
        seeds = None
        resp_of = _random_resp(rng, k)
    else:
        if method == "kmeans++":
            seeds = kmeans_plusplus(X, sample_weight, k, rng, chunk)
        elif method == "hierarchical":
            seeds = hierarchical_seeds(X, sample_weight, k, rng)
        else:
            seeds = _random_rows(X, sample_weight, k, rng)
        resp_of = smoothed(_nearest_seed_resp(seeds), components)
    nk, stats = accumulate(X, sample_weight, components, sizes, resp_of, chunk)

    total = nk.sum()
    usable = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    n = usable.size
    families = [cls for cls, size in zip(components, sizes, strict=True) for _ in range(size)]
    for j, cls in enumerate(families):
        if nk[j] * n / total >= cls.min_count(X.shape[1]):
            continue
        centre = seeds[j] if seeds is not None else X[rng.choice(usable)]
        m = seed_size(cls, X.shape[1], usable.size)
        dist = _sq_dist_to(X[usable], centre, chunk)
        # A stable order: rows at equal distance (weighted duplicates) go by index.
        rows = usable[np.argsort(dist, kind="stable")[:m]]
        seed_from_rows(X, sample_weight, components, sizes, stats, nk, j, rows)
    return nk, stats
