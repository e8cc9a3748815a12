"""The engine's entry point, tested directly: runs, records, events, chains of the search."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem import em
from mixem.em import EMRun, SearchSettings, Settings, Structure

from ..conftest import make_blobs

FULL2 = Structure((mixem.GaussianFull,), (2,))


def _start(X):
    means = np.array([X[0], X[-1]])
    cov = np.stack([np.cov(X.T)] * 2)
    return np.array([0.4, 0.6]), (mixem.GaussianFull().components(means=means, covariances=cov),)


def test_one_iteration_from_a_given_start_is_the_closed_form_em_step():
    X, _ = make_blobs(n=200, d=2, k=2, seed=4)
    weights, (comp,) = _start(X)
    record = em.fit(
        X,
        FULL2,
        Settings(max_iter=1, tol=0.0, reg_covar=0.0, chunk=37),
        rng=np.random.default_rng(0),
        starts=[(weights, (comp,))],
    )
    # The E-step and M-step written out with scipy's densities.
    dens = np.column_stack(
        [
            weights[j] * stats.multivariate_normal(comp.means[j], comp.covariances[j]).pdf(X)
            for j in range(2)
        ]
    )
    resp = dens / dens.sum(axis=1, keepdims=True)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    covs = np.stack(
        [(resp[:, j, None] * (X - means[j])).T @ (X - means[j]) / nk[j] for j in range(2)]
    )
    best = record.best
    np.testing.assert_allclose(best.weights, nk / 200, rtol=1e-12)
    np.testing.assert_allclose(best.components[0].means, means, rtol=1e-12)
    np.testing.assert_allclose(best.components[0].covariances, covs, rtol=1e-11)
    after = sum(
        best.weights[j] * stats.multivariate_normal(means[j], covs[j]).pdf(X) for j in range(2)
    )
    assert best.loglik == pytest.approx(np.log(after).sum(), rel=1e-12)
    assert best.trace.initial_loglik == pytest.approx(np.log(dens.sum(axis=1)).sum(), rel=1e-12)
    assert best.n_iter == len(best.trace) == 1 and not best.converged
    assert [e.kind for e in record.events] == ["not_converged"]


def test_every_restart_is_recorded_and_the_best_is_kept():
    X, _ = make_blobs(n=300, d=2, k=3, seed=5)
    record = em.fit(
        X,
        Structure((mixem.GaussianDiagonal,), (3,)),
        Settings(n_init=4, chunk=128),
        rng=np.random.default_rng(1),
    )
    assert len(record.runs) == 4 and all(isinstance(r, EMRun) for r in record.runs)
    assert record.best.loglik == max(r.loglik for r in record.runs)
    assert record.events == ()


def test_a_reseed_is_an_event_not_a_warning():
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2)), np.tile([[20.0, 20.0]], (15, 1))]
    )
    start = (
        np.array([0.45, 0.45, 0.1]),
        (
            mixem.GaussianDiagonal().components(
                means=[[0, 0], [8, 8], [20, 20]], covariances=np.ones((3, 2))
            ),
        ),
    )
    # filterwarnings = error: a warning from the engine would fail this test.
    record = em.fit(
        X,
        Structure((mixem.GaussianDiagonal,), (3,)),
        Settings(max_iter=3, tol=0.0, chunk=50),
        rng=np.random.default_rng(0),
        starts=[start],
    )
    reseeds = [e for e in record.events if e.kind == "reseed"]
    assert reseeds and reseeds[0].component == 2 and reseeds[0].iteration == 1
    assert "collapsed" in reseeds[0].message
    assert record.best.trace.reseeded[0]


def test_a_failed_fit_keeps_its_error_and_events():
    t = np.random.default_rng(0).normal(size=50)
    X = np.column_stack([t, 2 * t + 1e-9 * np.sin(t)])
    record = em.fit(
        X,
        Structure((mixem.GaussianFull,), (1,)),
        Settings(reg_covar=1e-12, chunk=64),
        rng=np.random.default_rng(0),
    )
    assert record.best is None and isinstance(record.error, mixem.FitError)
    assert isinstance(record.runs[0], mixem.FitError)
    assert any(e.kind == "reseed" for e in record.events)


def test_a_chain_of_short_run_and_continuation_is_one_long_run():
    X = mixem.datasets.load_faithful().to_numpy()
    for family in (mixem.GaussianFull, mixem.GaussianTied):
        structure = Structure((family,), (3,))
        settings = Settings(tol=1e-8, init="hierarchical", chunk=512)
        single = em.fit(X, structure, settings, rng=np.random.default_rng(0)).best
        searched = em.fit(
            X,
            structure,
            settings,
            rng=np.random.default_rng(0),
            search=SearchSettings(starts=0, keep=1, split_merge_rounds=0),
        ).best
        # The search makes its starts' first M-step in the compiled loop, the single fit in
        # NumPy: the same start up to rounding.
        assert searched.n_iter == single.n_iter == len(searched.trace)
        np.testing.assert_allclose(searched.trace.loglik, single.trace.loglik, rtol=1e-13)
        np.testing.assert_allclose(searched.trace.change, single.trace.change, atol=1e-13)
        assert searched.loglik == pytest.approx(single.loglik, rel=1e-13)


@pytest.mark.parametrize("max_iter", [1, 5, 30])
def test_the_search_spends_at_most_max_iter_behind_the_returned_parameters(max_iter):
    X = mixem.datasets.load_faithful().to_numpy()
    best = em.fit(
        X,
        Structure((mixem.GaussianFull,), (4,)),
        Settings(max_iter=max_iter, chunk=512),
        rng=np.random.default_rng(0),
        search=SearchSettings(),
    ).best
    assert best.n_iter == len(best.trace) <= max_iter
    # change is the difference of consecutive log-likelihoods per row, moves included.
    steps = np.diff(np.r_[best.trace.initial_loglik, best.trace.loglik]) / X.shape[0]
    np.testing.assert_allclose(steps, best.trace.change, rtol=1e-12, atol=1e-15)


def test_a_converged_chain_with_moves_describes_every_iteration():
    X = mixem.datasets.load_faithful().to_numpy()
    best = em.fit(
        X,
        Structure((mixem.GaussianFull,), (5,)),
        Settings(chunk=512),
        rng=np.random.default_rng(3),
        search=SearchSettings(),
    ).best
    assert best.converged and best.n_iter == len(best.trace)
    assert best.trace.loglik[-1] == best.loglik
    steps = np.diff(np.r_[best.trace.initial_loglik, best.trace.loglik]) / X.shape[0]
    np.testing.assert_allclose(steps, best.trace.change, rtol=1e-12, atol=1e-15)
    # Outside moves and re-seeds, EM never lowered the log-likelihood along the chain.
    assert best.trace.monotone


def test_fresh_starts_within_the_margin_beat_a_poor_warm_start():
    X, _ = make_blobs(n=300, d=2, k=3, seed=8)
    poor = (  # two clusters under one component, one component on half a cluster
        np.array([0.34, 0.33, 0.33]),
        (
            mixem.GaussianSpherical().components(
                means=np.stack([X[:200].mean(0), X[200:].mean(0), X[250:].mean(0)]),
                covariances=np.ones(3),
            ),
        ),
    )
    structure = Structure((mixem.GaussianSpherical,), (3,))
    settings = Settings(chunk=512)
    warm = em.fit(X, structure, settings, rng=np.random.default_rng(0), starts=[poor]).best
    tuned = SearchSettings(starts=5, hierarchical=False, keep=5, margin=1e9, split_merge_rounds=0)
    best = em.fit(
        X, structure, settings, rng=np.random.default_rng(0), starts=[poor], search=tuned
    ).best
    assert best.loglik > warm.loglik + 10
    # With no margin at all only the warm start survives.
    tight = SearchSettings(starts=5, hierarchical=False, keep=5, margin=0.0, split_merge_rounds=0)
    kept = em.fit(
        X, structure, settings, rng=np.random.default_rng(0), starts=[poor], search=tight
    ).best
    assert kept.loglik >= warm.loglik


def test_settings_are_checked():
    with pytest.raises(ValueError, match="SearchSettings.starts"):
        SearchSettings(starts=-1)
    with pytest.raises(ValueError, match="SearchSettings.rows"):
        SearchSettings(rows=0)
    with pytest.raises(TypeError, match="SearchSettings"):
        mixem.MixtureModel(mixem.GaussianFull, 2, search={"starts": 3})
