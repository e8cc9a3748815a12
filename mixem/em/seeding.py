"""The search's starts as one compiled computation: k-means++ seeds and nearest-seed assignments.

A search makes about fifty starts per fit, and a model-selection study about two thousand;
built one at a time in NumPy (:func:`mixem.em.init.initial_statistics`) they cost a fifth of a
study on a few hundred rows. For the families of the compiled loop
(:mod:`mixem.em.gaussian_batch`), every start of a search is made here at once and handed to
the loop as responsibilities, whose first M-step the loop makes itself.

The starts are those of :func:`~mixem.em.init.initial_statistics`, from the same random
stream: :func:`kmeans_plusplus_many` takes the uniform draws that
:func:`~mixem.em.init.kmeans_plusplus` makes through ``Generator.choice`` (one per seed, in
order) and inverts the same cumulative distribution, so the seeds are the same up to the
rounding of the sums.
"""

from __future__ import annotations

import numpy as np

from mixem.em.gaussian_batch import _jit, _owned
from mixem.em.init import seed_size

__all__ = ["kmeans_plusplus_many", "nearest_seed_responsibilities"]


@_jit
def _pick(q, total, u, cdf):
    """The index ``Generator.choice(n, p=q / total)`` returns for the uniform draw ``u``."""
    n = q.shape[0]
    acc = 0.0
    for i in range(n):
        acc += q[i] / total
        cdf[i] = acc
    last = cdf[n - 1]
    for i in range(n):
        if cdf[i] / last > u:
            return i
    return n - 1


@_jit
def _kmeanspp(X, W, U, seeds, ok):
    """k-means++ seeds ``(S, K, d)`` from uniform draws ``U`` ``(S, K)``.

    ``ok[s]`` is set False if start ``s``'s squared distances underflow. ``W`` holds one row of
    weights, or one per start.
    """
    n, d = X.shape
    S, K = U.shape
    dist = np.empty(n)
    q = np.empty(n)
    cdf = np.empty(n)
    for s in range(S):
        w = W[s if W.shape[0] > 1 else 0]
        total = 0.0
        for i in range(n):
            total += w[i]
        row = _pick(w, total, U[s, 0], cdf)
        for a in range(d):
            seeds[s, 0, a] = X[row, a]
        for i in range(n):
            acc = 0.0
            for a in range(d):
                diff = X[i, a] - X[row, a]
                acc += diff * diff
            dist[i] = acc
        ok[s] = True
        for j in range(1, K):
            total = 0.0
            for i in range(n):
                q[i] = w[i] * dist[i]
                total += q[i]
            if not (np.isfinite(total) and total > 0.0):
                ok[s] = False
                break
            row = _pick(q, total, U[s, j], cdf)
            for a in range(d):
                seeds[s, j, a] = X[row, a]
            for i in range(n):
                acc = 0.0
                for a in range(d):
                    diff = X[i, a] - X[row, a]
                    acc += diff * diff
                dist[i] = min(dist[i], acc)


@_jit
def _nearest(X, W, seeds, need, size, R):
    """Responsibilities ``R`` ``(S, K, n)``: each row to its nearest seed.

    A seed with fewer than ``need`` effective rows takes instead the ``size`` usable rows
    nearest to it.
    """
    n, d = X.shape
    S, K, _ = seeds.shape
    dist = np.empty(n)
    nk = np.empty(K)
    for s in range(S):
        w = W[s if W.shape[0] > 1 else 0]
        for j in range(K):
            nk[j] = 0.0
        usable = 0
        for i in range(n):
            best = 0
            low = np.inf
            for j in range(K):
                acc = 0.0
                for a in range(d):
                    diff = X[i, a] - seeds[s, j, a]
                    acc += diff * diff
                if acc < low:
                    low, best = acc, j
            for j in range(K):
                R[s, j, i] = 0.0
            R[s, best, i] = 1.0
            nk[best] += w[i]
            if w[i] > 0.0:
                usable += 1
        total = 0.0
        for j in range(K):
            total += nk[j]
        for j in range(K):
            if nk[j] * usable / total >= need:
                continue
            for i in range(n):
                acc = 0.0
                for a in range(d):
                    diff = X[i, a] - seeds[s, j, a]
                    acc += diff * diff
                dist[i] = acc if w[i] > 0.0 else np.inf
                R[s, j, i] = 0.0
            order = np.argsort(dist, kind="mergesort")  # stable, as initial_statistics
            for t in range(size):
                R[s, j, order[t]] = 1.0


def kmeans_plusplus_many(X: np.ndarray, W: np.ndarray, U: np.ndarray) -> np.ndarray:
    """k-means++ seeds of many starts at once, ``(S, K, d)``.

    ``W`` is ``(1, n)`` (every start's row weights) or ``(S, n)``; ``U`` ``(S, K)`` the uniform
    draws (``Generator.random``) that :func:`~mixem.em.init.kmeans_plusplus` would make for
    each start's ``K`` seeds.
    """
    S, K = U.shape
    seeds = np.empty((S, K, X.shape[1]))
    ok = np.ones(S, dtype=np.bool_)
    _kmeanspp(_owned(X), _owned(W), _owned(U), seeds, ok)
    if not ok.all():
        raise ValueError(
            "X's rows are too close together to measure squared distances in float64; "
            "rescale the data"
        )
    return seeds


def nearest_seed_responsibilities(
    X: np.ndarray, W: np.ndarray, seeds: np.ndarray, family: type
) -> np.ndarray:
    """Hard responsibilities ``(S, K, n)`` of the rows to their nearest seed.

    As :func:`~mixem.em.init.initial_statistics` makes them, with its rule for a seed that
    attracts fewer rows than ``family.min_count``.
    """
    n, d = X.shape
    S, K, _ = seeds.shape
    usable = int(np.count_nonzero(W[0] > 0)) if W.shape[0] == 1 else int(W.shape[1])
    need = float(family.min_count(d))
    size = seed_size(family, d, usable)
    if W.shape[0] > 1:
        # Each start's own usable rows bound its seed size; all of them have at least `size`.
        size = min(size, int(np.count_nonzero(W > 0, axis=1).min()))
    R = np.empty((S, K, n))
    _nearest(_owned(X), _owned(W), _owned(seeds), need, size, R)
    return R
