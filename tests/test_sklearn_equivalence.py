"""mixem and scikit-learn's GaussianMixture, started from the same parameters, must agree."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture

import mixem
from tests.conftest import SKLEARN_TYPE, make_blobs, start_params


def precisions(family, cov):
    if family in (mixem.GaussianFull, mixem.GaussianTied):
        return np.linalg.inv(cov)
    return 1.0 / cov


def fit_both(family, X, k, n_iter, reg_covar=1e-6):
    p = start_params(family, X, k)
    gm = GaussianMixture(
        k,
        covariance_type=SKLEARN_TYPE[family],
        weights_init=p["weights"],
        means_init=p["means"],
        precisions_init=precisions(family, p["covariances"]),
        max_iter=n_iter,
        tol=0.0,
        reg_covar=reg_covar,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        gm.fit(X)
    model = mixem.MixtureModel(
        family, n_components=k, max_iter=n_iter, tol=0.0, reg_covar=reg_covar
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        res = model.fit(X, init_params=p)
    return gm, res


@pytest.mark.parametrize("n_iter", [1, 5, 40])
@pytest.mark.parametrize("shape", [(600, 2, 3), (900, 5, 4), (1500, 40, 3)])
def test_matches_sklearn_from_same_start(family, n_iter, shape):
    n, d, k = shape
    X, _ = make_blobs(n=n, d=d, k=k, seed=d)
    gm, res = fit_both(family, X, k, n_iter)
    # tol=0 stops at an exact fixed point (issue 17), where scikit-learn's further iterations
    # change nothing; the parameters below must agree all the same.
    assert res.n_iter == n_iter or (res.n_iter < n_iter and res.trace.change[-1] == 0.0)
    np.testing.assert_allclose(res.weights, gm.weights_, rtol=1e-8)
    np.testing.assert_allclose(res.means, gm.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.covariances, gm.covariances_, rtol=1e-8)
    assert res.covariances.shape == gm.covariances_.shape
    np.testing.assert_allclose(res.loglik, gm.score(X) * n, rtol=1e-10)


def test_matches_sklearn_on_faithful(family):
    X = mixem.datasets.load_faithful().to_numpy()
    gm, res = fit_both(family, X, 3, 25)
    np.testing.assert_allclose(res.means, gm.means_, rtol=1e-8)
    np.testing.assert_allclose(res.covariances, gm.covariances_, rtol=1e-8)
    np.testing.assert_allclose(res.loglik, gm.score(X) * X.shape[0], rtol=1e-10)
    np.testing.assert_allclose(res.predict_proba(X), gm.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(res.predict(X), gm.predict(X))


def test_regularisation_matches_sklearn(family):
    X, _ = make_blobs(n=300, d=3, k=2, seed=4)
    gm, res = fit_both(family, X, 2, 10, reg_covar=0.3)
    np.testing.assert_allclose(res.covariances, gm.covariances_, rtol=1e-8)
