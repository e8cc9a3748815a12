"""mixem's scikit-learn estimators: scikit-learn's checks, its numbers, its tools."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixem
from mixem.sklearn import GaussianMixture, MixtureEstimator
from tests.conftest import make_blobs

#: Checks that cannot hold, and why (the docs' "Coming from scikit-learn" lists them).
EXPECTED_FAILURES = {
    "check_sample_weights_shape": (
        "its data are four rows repeated four times each: point masses, on which mixem "
        "re-seeds a collapsing component and then refuses the fit (scikit-learn's "
        "GaussianMixture takes no sample_weight, so the check does not run for it)"
    ),
    "check_sample_weights_not_overwritten": "the same point masses as check_sample_weights_shape",
    "check_sample_weight_equivalence_on_dense_data": (
        "27 rows in 30 dimensions: fewer than two full covariances need, which mixem refuses"
    ),
}


def _expected_failures(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks(
    [GaussianMixture(n_components=2, random_state=0), MixtureEstimator(mixem.GaussianFull, 2)],
    expected_failed_checks=_expected_failures,
)
@pytest.mark.filterwarnings("ignore::mixem.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::mixem.DegenerateComponentWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


def _precisions(cov_type, cov):
    return np.linalg.inv(cov) if cov_type in ("full", "tied") else 1.0 / cov


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cov_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_from_the_same_start_the_fit_is_scikit_learns(cov_type, tol):
    # No offset: scikit-learn's tied and diagonal M-steps square uncentred rows, and lose
    # digits in proportion to the offset (mixem's statistics are centred).
    X, _ = make_blobs(n=700, d=3, k=3, seed=5)
    rng = np.random.default_rng(0)
    means = X[rng.choice(len(X), 3, replace=False)]
    cov = {
        "full": np.stack([np.eye(3) * v for v in (1.0, 2.0, 3.0)]),
        "tied": np.eye(3) * 2.0,
        "diag": np.ones((3, 3)) * [[1.0], [2.0], [3.0]],
        "spherical": np.array([1.0, 2.0, 3.0]),
    }[cov_type]
    kw = dict(
        n_components=3,
        covariance_type=cov_type,
        weights_init=[0.2, 0.3, 0.5],
        means_init=means,
        precisions_init=_precisions(cov_type, cov),
        tol=tol,
        max_iter=500,
    )
    ours = GaussianMixture(**kw).fit(X)
    theirs = SklearnGaussianMixture(**kw).fit(X)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-10)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-10)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-10)
    np.testing.assert_allclose(ours.precisions_, theirs.precisions_, rtol=1e-9)
    np.testing.assert_allclose(
        ours.precisions_cholesky_, theirs.precisions_cholesky_, rtol=1e-9, atol=1e-12
    )
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-10)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_scikit_learns_starts_are_drawn_alike(init_params):
    X, _ = make_blobs(n=500, d=2, k=3, seed=1)
    kw = dict(n_components=3, init_params=init_params, n_init=3, random_state=7)
    ours, theirs = GaussianMixture(**kw).fit(X), SklearnGaussianMixture(**kw).fit(X)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-9)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)


def test_warm_start_and_no_iterations_are_scikit_learns():
    X, _ = make_blobs(n=400, d=2, k=2, seed=3)
    kw = dict(n_components=2, max_iter=3, warm_start=True, random_state=0)
    ours, theirs = GaussianMixture(**kw), SklearnGaussianMixture(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            ours.fit(X)
            theirs.fit(X)
            assert ours.n_iter_ == theirs.n_iter_
            np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-10)
    start = dict(n_components=2, max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(
            GaussianMixture(**start).fit(X).means_,
            SklearnGaussianMixture(**start).fit(X).means_,
            rtol=1e-12,
        )


def test_mclust_names_are_covariance_types():
    X = mixem.datasets.load_iris().select_dtypes("number").to_numpy()
    est = GaussianMixture(2, covariance_type="VEV", random_state=0, tol=1e-8).fit(X)
    assert est.result_.components[0].family == mixem.Gaussian("VEV")
    assert est.covariances_.shape == (2, 4, 4)
    np.testing.assert_allclose(
        est.precisions_, np.linalg.inv(est.covariances_), rtol=1e-8, atol=1e-10
    )
    with pytest.raises(ValueError, match="covariance_type must be 'full'.*got 'VXV'"):
        GaussianMixture(2, covariance_type="VXV").fit(X)


def test_any_family_in_a_pipeline_and_a_grid_search():
    X = mixem.datasets.load_faithful().to_numpy()
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0))
    assert pipe.fit(X).score(X) > -3
    grid = GridSearchCV(
        GaussianMixture(random_state=0),
        {"n_components": [1, 2, 3], "covariance_type": ["full", "tied", "EEI"]},
        cv=3,
    ).fit(X)
    assert grid.best_params_["n_components"] >= 2
    grid_bic = {"n_components": [1, 2, 3, 4], "covariance_type": ["full", "tied"]}
    every_row = [(np.arange(len(X)), np.arange(len(X)))]  # BIC on the fitted rows

    def by_bic(estimator):
        return GridSearchCV(
            estimator, grid_bic, scoring=lambda est, X, y=None: -est.bic(X), cv=every_row
        ).fit(X)

    ours = by_bic(GaussianMixture(random_state=0))
    theirs = by_bic(SklearnGaussianMixture(random_state=0))
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], rtol=1e-9
    )
    t = MixtureEstimator(mixem.StudentT(dof=4.0), 2, random_state=0)
    scores = cross_val_score(t, X, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    copy = clone(t)
    assert copy.get_params() == t.get_params() and not hasattr(copy, "result_")
    fitted = t.fit(X)
    assert fitted.result_.components[0].family == mixem.StudentT(dof=4.0)
    assert fitted.lower_bound_ == pytest.approx(fitted.result_.loglik / len(X))


def test_import_mixem_never_imports_scikit_learn():
    code = "import sys, mixem; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_stop_that_mixems_rule_reaches_first_still_follows_scikit_learns():
    # mixem's own rule stops at once here (the first bound carries scikit-learn's offset of
    # unnormalised starting weights); scikit-learn's goes on to iteration 3.
    X = np.random.default_rng(0).normal(size=(400, 2))
    kw = dict(n_components=3, init_params="k-means++", covariance_type="tied", tol=5.0)
    ours = GaussianMixture(random_state=0, **kw).fit(X)
    theirs = SklearnGaussianMixture(random_state=0, **kw).fit(X)
    assert (ours.n_iter_, ours.converged_) == (theirs.n_iter_, theirs.converged_)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-10)


def test_the_result_is_the_whole_fit():
    X = mixem.datasets.load_faithful().to_numpy()
    est = GaussianMixture(3, random_state=0).fit(X)
    assert est.result_.n_iter == est.n_iter_ and est.result_.converged == est.converged_
    assert est.result_.trace.loglik.size == est.n_iter_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    assert start.result_.n_iter == 0
    assert start.result_.loglik == pytest.approx(start.result_.score_samples(X).sum())


@pytest.mark.filterwarnings("ignore::mixem.DegenerateComponentWarning")
def test_seeds_from_data_never_take_a_row_of_weight_zero():
    X = mixem.datasets.load_faithful().to_numpy()
    w = np.where(np.arange(len(X)) % 2 == 0, 0.0, 1.0)
    est = GaussianMixture(3, init_params="random_from_data", n_init=5, random_state=0)
    assert est.fit(X, sample_weight=w).converged_
