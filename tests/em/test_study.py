"""The study (mixem.em.study.fit_study) against closed forms, scikit-learn and itself."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.mixture import GaussianMixture

import mixem
from mixem.em import SearchSettings, Settings
from mixem.em.study import STUDY_SEARCH, fit_study, shared

FAMILIES = [mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied]


def _faithful():
    return np.asarray(mixem.datasets.load_faithful(), dtype=float)


def _gaussian_mle_loglik(X, diagonal=False, spherical=False):
    mean = X.mean(axis=0)
    cov = np.cov(X.T, bias=True)
    if diagonal:
        cov = np.diag(np.diag(cov))
    if spherical:
        cov = np.eye(X.shape[1]) * np.trace(cov) / X.shape[1]
    cov = cov + 1e-6 * np.eye(X.shape[1])  # reg_covar, as both libraries add it
    return stats.multivariate_normal(mean, cov).logpdf(X).sum()


def test_every_cell_is_fitted_and_k1_is_the_closed_form():
    X = _faithful()
    records = fit_study(
        X, FAMILIES, [1, 2, 3], Settings(), STUDY_SEARCH, seed=np.random.SeedSequence(0)
    )
    assert set(records) == {(f, k) for f in FAMILIES for k in (1, 2, 3)}
    full = _gaussian_mle_loglik(X)
    expected = {
        mixem.GaussianFull: full,
        mixem.GaussianTied: full,
        mixem.GaussianDiagonal: _gaussian_mle_loglik(X, diagonal=True),
        mixem.GaussianSpherical: _gaussian_mle_loglik(X, spherical=True),
    }
    for family, loglik in expected.items():
        assert np.isclose(records[family, 1].best.loglik, loglik, rtol=1e-9)
    for record in records.values():
        run = record.best
        assert run.converged
        assert np.isclose(run.weights.sum(), 1.0) and np.all(run.weights > 0)
        assert run.n_iter == len(run.trace)
        assert np.all(np.diff(run.trace.loglik) >= -1e-9 * abs(run.loglik))


def test_the_cells_reach_scikit_learns_best_of_ten_restarts():
    X = _faithful()
    records = fit_study(
        X,
        [mixem.GaussianFull, mixem.GaussianTied],
        range(1, 5),
        Settings(),
        STUDY_SEARCH,
        seed=np.random.SeedSequence(1),
    )
    for family, kind in ((mixem.GaussianFull, "full"), (mixem.GaussianTied, "tied")):
        for k in range(1, 5):
            gm = GaussianMixture(
                k, covariance_type=kind, n_init=10, tol=1e-10, max_iter=5000, random_state=0
            ).fit(X)
            reference = gm.score(X) * X.shape[0]
            assert records[family, k].best.loglik >= reference - 1e-6 * abs(reference), (
                family.__name__,
                k,
            )


def test_the_same_seed_gives_the_same_study_and_ks_need_not_be_consecutive():
    X = _faithful()
    one = fit_study(
        X, FAMILIES[:2], [3, 1], Settings(), STUDY_SEARCH, seed=np.random.SeedSequence(4)
    )
    two = fit_study(
        X, FAMILIES[:2], [1, 3], Settings(), STUDY_SEARCH, seed=np.random.SeedSequence(4)
    )
    assert set(one) == {(f, k) for f in FAMILIES[:2] for k in (1, 3)}
    for cell in one:
        assert one[cell].best.loglik == two[cell].best.loglik


def test_a_study_on_a_subsample_ends_with_a_run_over_all_rows():
    X = _faithful()
    tuning = SearchSettings(starts=5, keep=3, split_merge_bases=1, rows=100)
    records = fit_study(
        X, [mixem.GaussianFull], [1, 2], Settings(), tuning, seed=np.random.SeedSequence(2)
    )
    # K = 1 over all 272 rows is the closed form whatever the subsample gave.
    assert np.isclose(
        records[mixem.GaussianFull, 1].best.loglik, _gaussian_mle_loglik(X), rtol=1e-9
    )
    gm = GaussianMixture(2, n_init=10, tol=1e-10, random_state=0).fit(X)
    assert np.isclose(
        records[mixem.GaussianFull, 2].best.loglik, gm.score(X) * X.shape[0], rtol=1e-6
    )


def test_a_family_without_the_compiled_loop_and_weights():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.poisson(2.0, (150, 1)), rng.poisson(12.0, (150, 1))]).astype(float)
    w = rng.integers(1, 4, X.shape[0]).astype(float)
    records = fit_study(
        X,
        [mixem.Poisson],
        [1, 2],
        Settings(),
        STUDY_SEARCH,
        seed=np.random.SeedSequence(5),
        sample_weight=w,
    )
    rate = (w @ X[:, 0]) / w.sum()
    closed = w @ stats.poisson(rate).logpmf(X[:, 0])
    assert np.isclose(records[mixem.Poisson, 1].best.loglik, closed, rtol=1e-9)
    two = records[mixem.Poisson, 2].best
    assert two.loglik > closed + 100
    assert np.allclose(np.sort(two.components[0].rates.ravel()), [2.0, 12.0], rtol=0.2)


def test_a_cell_that_cannot_be_fitted_holds_its_error_and_the_others_are_fitted():
    X = np.random.default_rng(6).normal(size=(20, 2))
    records = fit_study(
        X, [mixem.GaussianFull], [1, 8], Settings(), STUDY_SEARCH, seed=np.random.SeedSequence(6)
    )
    assert np.isclose(records[mixem.GaussianFull, 1].best.loglik, _gaussian_mle_loglik(X))
    failed = records[mixem.GaussianFull, 8]
    assert failed.best is None and isinstance(failed.error, mixem.FitError)


def test_scouts_above_the_grid_are_not_returned_and_only_help_the_top():
    X = _faithful()
    grid = [mixem.GaussianFull, mixem.GaussianSpherical]
    seed = np.random.SeedSequence(3)
    plain = fit_study(X, grid, [1, 2, 3], Settings(), STUDY_SEARCH, seed=seed)
    scouted = fit_study(X, grid, [1, 2, 3], Settings(), STUDY_SEARCH, seed=seed, scout=True)
    assert set(scouted) == set(plain) == {(f, k) for f in grid for k in (1, 2, 3)}
    for (family, k), record in scouted.items():
        assert record.best.n_iter == len(record.best.trace)
        if k == 3:  # the top: the up pass is the same, and the scout's merges can only win
            ll = plain[family, k].best.loglik
            assert record.best.loglik >= ll - 1e-9 * abs(ll)


def test_a_study_of_many_families_shares_the_effort_at_each_k():
    # The default four, and up to eight families: every cell the whole tuning.
    assert shared(STUDY_SEARCH, 4) is STUDY_SEARCH and shared(STUDY_SEARCH, 8) is STUDY_SEARCH
    fourteen = shared(STUDY_SEARCH, 14)
    # About as many k-means++ seeds at K as four families try, spread over fourteen.
    assert 14 * fourteen.starts >= 4 * STUDY_SEARCH.starts > 14 * (fourteen.starts - 1)
    assert fourteen.keep >= 2 and fourteen.split_merge_rounds == 0
    assert fourteen.short_iter < STUDY_SEARCH.short_iter


def test_fourteen_models_reach_every_cell_of_a_small_grid_with_each_familys_own_seeds():
    # Each model's cells fitted; K = 1 is the closed form of each model (VVV: the sample
    # covariance, EII: the pooled variance), whatever the shared tuning.
    X = _faithful()
    families = [mixem.Gaussian(m) for m in mixem.components.covariance_models.MODELS]
    settings = Settings(tol=1e-8)
    seed = np.random.SeedSequence(0)
    records = fit_study(X, families, [1, 2, 3], settings, STUDY_SEARCH, seed=seed)
    assert set(records) == {(f, k) for f in families for k in (1, 2, 3)}
    vvv = records[mixem.Gaussian("VVV"), 1].best.loglik
    assert np.isclose(vvv, _gaussian_mle_loglik(X), rtol=1e-9)
    eii = records[mixem.Gaussian("EII"), 1].best.loglik
    assert np.isclose(eii, _gaussian_mle_loglik(X, spherical=True), rtol=1e-9)
