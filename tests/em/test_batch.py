"""Many fits at once equal the same fits one at a time."""

from __future__ import annotations

import numpy as np
import pytest

import mixem
from mixem.em.batch import run_many
from mixem.em.init import initial_statistics
from mixem.em.loop import run_em
from mixem.em.structure import Structure

from ..conftest import FAMILIES, make_blobs


def _starts(X, family, k, count, seed=0):
    rng = np.random.default_rng(seed)
    structure = Structure((family,), (k,))
    out = []
    for _ in range(count):
        nk, stats = initial_statistics(X, None, (family,), (k,), "kmeans++", rng, 256)
        out.append(structure.start(nk, stats, 1e-6))
    return out


def _alone(X, w, starts, max_iter, tol=1e-8):
    out = []
    for start, m in zip(starts, np.broadcast_to(max_iter, (len(starts),)), strict=True):
        try:
            out.append(run_em(X, w, *start, max_iter=int(m), tol=tol, reg_covar=1e-6, chunk=97))
        except mixem.FitError as err:
            out.append(err)
    return out


@pytest.mark.parametrize("family", [*FAMILIES, mixem.Poisson], ids=lambda f: f.__name__)
def test_a_batch_of_fits_equals_each_fit_alone(family):
    if family is mixem.Poisson:
        X = np.random.default_rng(2).poisson([[2.0, 9.0]] * 150 + [[7.0, 1.0]] * 150).astype(float)
    else:
        X, _ = make_blobs(n=300, d=3, k=3, seed=6)
    w = np.random.default_rng(1).integers(1, 4, X.shape[0]).astype(float)
    starts = _starts(X, family, 3, 8)
    budgets = [3, 50, 200, 200, 7, 200, 200, 0]
    batched = run_many(X, w, starts, max_iter=budgets, tol=1e-8, reg_covar=1e-6, chunk=97)
    for a, b in zip(batched, _alone(X, w, starts, budgets), strict=True):
        assert type(a) is type(b)
        assert a.n_iter == b.n_iter == len(a.trace) and a.converged == b.converged
        assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
        np.testing.assert_allclose(a.trace.loglik, b.trace.loglik, rtol=1e-10)
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-7, atol=1e-12)
        for name, value in b.components[0].params().items():
            np.testing.assert_allclose(a.components[0].params()[name], value, rtol=1e-7, atol=1e-9)


def test_a_fit_that_needs_a_reseed_leaves_the_batch_and_goes_on_alone():
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2)), np.tile([[20.0, 20.0]], (15, 1))]
    )
    collapsing = (
        np.array([0.45, 0.45, 0.1]),
        (mixem.GaussianDiagonal([[0, 0], [8, 8], [20, 20]], np.ones((3, 2))),),
    )
    starts = [collapsing, *_starts(X, mixem.GaussianDiagonal, 3, 3)]
    batched = run_many(X, None, starts, max_iter=100, tol=1e-8, reg_covar=1e-6, chunk=97)
    alone = _alone(X, None, starts, 100)
    assert batched[0].trace.reseeded.any() and [e.kind for e in batched[0].events][:1] == ["reseed"]
    for a, b in zip(batched, alone, strict=True):
        assert type(a) is type(b)
        if isinstance(b, mixem.FitError):
            assert str(a) == str(b)
            continue
        assert a.n_iter == b.n_iter
        assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
        np.testing.assert_array_equal(a.trace.reseeded, b.trace.reseeded)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_every_fit_may_have_its_own_row_weights(family):
    X, _ = make_blobs(n=240, d=2, k=3, seed=3)
    starts = _starts(X, family, 3, 5, seed=4)
    W = np.random.default_rng(5).standard_exponential((5, X.shape[0]))
    W *= X.shape[0] / W.sum(axis=1, keepdims=True)
    batched = run_many(X, W, starts, max_iter=300, tol=1e-8, reg_covar=1e-6, chunk=97)
    for b, (a, start) in enumerate(zip(batched, starts, strict=True)):
        (alone,) = _alone(X, W[b], [start], 300)
        assert a.n_iter == alone.n_iter
        assert a.loglik == pytest.approx(alone.loglik, rel=1e-10)
