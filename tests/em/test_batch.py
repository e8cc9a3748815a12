"""Many fits at once equal the same fits one at a time."""

from __future__ import annotations

import numpy as np
import pytest

import mixem
from mixem.em import batch, gaussian_batch
from mixem.em.batch import RACE_MIN_ITER, Race, run_many
from mixem.em.init import initial_statistics
from mixem.em.loop import run_em
from mixem.em.structure import Structure

from ..conftest import FAMILIES, make_blobs


def _starts(X, family, k, count, seed=0):
    rng = np.random.default_rng(seed)
    structure = Structure((family,), (k,))
    out = []
    for _ in range(count):
        nk, stats = initial_statistics(X, None, structure.families, (k,), "kmeans++", rng, 256)
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
        (
            mixem.GaussianDiagonal().components(
                means=[[0, 0], [8, 8], [20, 20]], covariances=np.ones((3, 2))
            ),
        ),
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


def test_more_fits_than_a_stack_holds_run_as_several_batches(monkeypatch):
    # Three components a fit and at most six a stack: seven fits run as batches of two (the
    # NumPy batch's limit; the compiled loop of the Gaussian families has none).
    monkeypatch.setattr(batch, "STACK_COMPONENTS", 6)
    monkeypatch.setattr(gaussian_batch, "compiled_kind", lambda X, starts: None)
    X, _ = make_blobs(n=240, d=2, k=3, seed=3)
    starts = _starts(X, mixem.GaussianFull, 3, 7, seed=4)
    W = np.random.default_rng(5).standard_exponential((7, X.shape[0]))
    budgets = [300, 4, 300, 300, 0, 300, 9]
    batched = run_many(X, W, starts, max_iter=budgets, tol=1e-8, reg_covar=1e-6, chunk=97)
    assert len(batched) == len(starts)
    for b, (a, start) in enumerate(zip(batched, starts, strict=True)):
        (alone,) = _alone(X, W[b], [start], budgets[b])
        assert a.n_iter == alone.n_iter
        assert a.loglik == pytest.approx(alone.loglik, rel=1e-10)


def _racing_starts():
    """Starts on four clusters: some reach the best maximum, some stop at poorer ones."""
    X, _ = make_blobs(n=400, d=2, k=4, seed=3)
    starts = _starts(X, mixem.GaussianFull, 4, 12, seed=5)
    return X, starts, _alone(X, None, starts, 1000, tol=1e-6)


def _race(X, starts, groups=None, floors=(-np.inf,), protect=1):
    groups = np.zeros(len(starts), dtype=int) if groups is None else groups
    race = Race(groups, np.asarray(floors, dtype=float), protect)
    return run_many(X, None, starts, max_iter=1000, tol=1e-6, reg_covar=1e-6, chunk=97, race=race)


def test_a_race_keeps_the_winner_of_the_same_fits_run_to_the_end():
    # The reference is every start run alone to convergence: the race must return the same
    # best log-likelihood, and every run it does not drop must be that run alone.
    X, starts, alone = _racing_starts()
    raced = _race(X, starts)
    best = max(r.loglik for r in alone)
    kept = [(a, b) for a, b in zip(raced, alone, strict=True) if not a.dropped]
    assert max(a.loglik for a, _ in kept) == pytest.approx(best, rel=1e-9)
    for a, b in kept:
        assert a.n_iter == b.n_iter and a.loglik == pytest.approx(b.loglik, rel=1e-10)
    for a, b in zip(raced, alone, strict=True):
        if a.dropped:  # a dropped run stopped early, below the winner's maximum
            assert not a.converged and a.n_iter < b.n_iter and b.loglik < best
            np.testing.assert_allclose(a.trace.loglik, b.trace.loglik[: a.n_iter], rtol=1e-10)


def test_a_race_drops_runs_that_cannot_catch_up():
    X, starts, alone = _racing_starts()
    assert max(r.loglik for r in alone) - min(r.loglik for r in alone) > 10  # distinct maxima
    raced = _race(X, starts)
    assert any(r.dropped for r in raced)
    assert sum(r.n_iter for r in raced) < sum(r.n_iter for r in alone)


def test_a_floor_above_every_maximum_drops_every_run_and_groups_race_apart():
    X, starts, alone = _racing_starts()
    best = max(r.loglik for r in alone)
    groups = np.arange(len(starts)) % 2
    # Group 0 must beat a mark no run reaches; group 1 races only within itself.
    raced = _race(X, starts, groups, floors=[best + 50.0, -np.inf])
    assert all(r.dropped or r.converged for r in raced)
    # Every run of group 0 is dropped, but for those that converged before the race judges.
    group_0 = [r for r, g in zip(raced, groups, strict=True) if g == 0]
    assert all(r.dropped or r.n_iter < RACE_MIN_ITER for r in group_0)
    assert sum(r.dropped for r in group_0) >= len(group_0) // 2
    best_1 = max(r.loglik for r, g in zip(alone, groups, strict=True) if g == 1)
    kept_1 = [r for r, g in zip(raced, groups, strict=True) if g == 1 and not r.dropped]
    assert max(r.loglik for r in kept_1) == pytest.approx(best_1, rel=1e-9)


def test_protected_runners_up_are_not_dropped():
    X, starts, alone = _racing_starts()
    raced = _race(X, starts, protect=3)
    top3 = sorted(r.loglik for r in alone)[-3:]
    kept = sorted(r.loglik for r in raced if not r.dropped)
    assert len(kept) >= 3
    np.testing.assert_allclose(kept[-3:], top3, rtol=1e-9)
