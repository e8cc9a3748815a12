"""The compiled starts are the NumPy starts of mixem.em.init, from the same random stream."""

from __future__ import annotations

import numpy as np
import pytest

from mixem.em.init import initial_statistics, kmeans_plusplus
from mixem.em.seeding import kmeans_plusplus_many, nearest_seed_responsibilities

from ..conftest import FAMILIES, make_blobs


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_plusplus_many_draws_the_seeds_of_kmeans_plusplus(weighted):
    X, _ = make_blobs(n=250, d=3, k=4, seed=2)
    w = np.random.default_rng(5).integers(0, 3, X.shape[0]).astype(float) if weighted else None
    rng = np.random.default_rng(7)
    expected = np.stack([kmeans_plusplus(X, w, 5, rng, 64) for _ in range(6)])
    W = np.ones((1, X.shape[0])) if w is None else w[None]
    got = kmeans_plusplus_many(X, W, np.random.default_rng(7).random((6, 5)))
    np.testing.assert_array_equal(got, expected)
    if weighted:  # a row of weight 0 is never a seed
        assert not np.isin(got.reshape(-1, 3), X[w == 0]).all(axis=1).any()


def test_kmeans_plusplus_many_names_rows_too_close_to_measure():
    X = np.zeros((10, 2))
    X[:, 0] = np.arange(10) * 1e-170  # squared distances underflow to 0
    with pytest.raises(ValueError, match="too close together"):
        kmeans_plusplus_many(X, np.ones((1, 10)), np.full((1, 3), 0.5))


@pytest.mark.parametrize("duplicates", [False, True])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_nearest_seed_responsibilities_give_the_statistics_of_initial_statistics(
    family, duplicates
):
    family = family()  # the engine's internals take family values
    X, _ = make_blobs(n=120, d=2, k=3, seed=4)
    w = np.random.default_rng(3).integers(0, 3, X.shape[0]).astype(float)
    if duplicates:  # rows at equal distance from the far seed, of different weights
        X = np.concatenate([X, np.tile([[30.0, 30.0]], (10, 1))])
        w = np.concatenate([w, np.arange(1.0, 11.0)])
    # The last seed lies far out: it attracts no row and starts from the rows nearest to it.
    seeds = np.stack([X[0], X[50], X[100], X.max(axis=0) + 50.0])
    R = nearest_seed_responsibilities(X, w[None], seeds[None], family)[0]
    nk = R @ w
    mean = (R * w) @ X / nk[:, None]
    with pytest.MonkeyPatch.context() as m:
        m.setattr("mixem.em.init.kmeans_plusplus", lambda *a: seeds)
        ref_nk, (ref_stats,) = initial_statistics(
            X, w, [family], [4], "kmeans++", np.random.default_rng(0), 64
        )
    np.testing.assert_allclose(nk, ref_nk, rtol=1e-12)
    np.testing.assert_allclose(mean, ref_stats.arrays()["mean"], rtol=1e-10)
    assert nk[3] >= family.min_count(2)


def test_a_ward_trees_clusters_are_scipys_fcluster():
    from scipy.cluster.hierarchy import fcluster

    from mixem.em.init import WardTree

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(3, 200))
        if trial % 3 == 0:  # tied heights: fcluster then gives fewer clusters
            X = rng.integers(0, 4, size=(n, 2)).astype(float)
        else:
            X = rng.normal(size=(n, int(rng.integers(1, 5))))
        tree = WardTree.of(X, None, rng)
        for k in range(1, min(n, 10) + 1):
            expected = fcluster(tree.linkage, t=k, criterion="maxclust") - 1
            np.testing.assert_array_equal(tree.labels(k), expected)
