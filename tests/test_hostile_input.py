"""Input a hostile user gives: refused with a message that names it, or computed right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import mixem

FAITHFUL = mixem.datasets.load_faithful()


@pytest.mark.parametrize("nu", [1e6, 1e12, 1e16, 1e300])
def test_student_t_tends_to_the_gaussian_without_cancellation(nu):
    # The log-gamma difference of the t's constant cancelled at large nu: -38.05 at 1e16
    # against the Gaussian's -1.90.
    mean, cov = np.array([0.0, 1.0]), np.array([[1.0, 0.2], [0.2, 2.0]])
    comps = mixem.StudentT(dof=nu).components(means=[mean], covariances=[cov])
    x = np.array([[0.5, -1.0], [3.0, 4.0]])
    if nu < 1e10:
        ref = stats.multivariate_t(mean, cov, df=nu).logpdf(x)
    else:  # beyond scipy's t, whose own constant cancels: the Gaussian limit, O(1/nu) away
        ref = stats.multivariate_normal(mean, cov).logpdf(x)
    np.testing.assert_allclose(comps.log_prob(x)[:, 0], ref, rtol=1e-9)


@pytest.mark.parametrize(
    ("options", "exc", "message"),
    [
        ({"random_state": -1}, ValueError, "random_state must be a non-negative int, got -1"),
        ({"random_state": True}, TypeError, "random_state must be None or an int >= 0, got True"),
        ({"exclude_spurious": "no"}, TypeError, "exclude_spurious must be True or False"),
        ({"n_components": 3}, TypeError, r"n_components must be the numbers of components"),
    ],
)
def test_select_names_a_bad_option(options, exc, message):
    with pytest.raises(exc, match=message):
        mixem.select(FAITHFUL, **{"n_components": range(1, 3), **options})


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ({"a": [1.0, 2.0]}, "must be an array of shape \\(n, d\\).*got a dict"),
        ((row for row in np.ones((5, 2))), "got a generator"),
        ({1.0, 2.0}, "got a set"),
        (np.ma.masked_array(np.ones((10, 2)), mask=np.eye(10, 2)), "X is a masked array"),
    ],
)
def test_data_that_are_not_an_array_are_named(X, message):
    with pytest.raises(TypeError, match=message):
        mixem.MixtureModel(mixem.GaussianFull, 1).fit(X)


def test_a_sample_too_large_for_memory_is_refused_before_it_is_drawn():
    result = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(FAITHFUL)
    with pytest.raises(ValueError, match=r"sample\(1000000000\) would hold 14.9 GiB"):
        result.sample(10**9)
    rows, labels = result.sample(1000, random_state=0)
    assert rows.shape == (1000, 2) and labels.shape == (1000,)


def test_a_categorical_code_far_beyond_the_levels_is_refused():
    codes = np.random.default_rng(0).integers(0, 3, (200, 1)).astype(float)
    codes[7, 0] = 2e7
    with pytest.raises(ValueError, match="column 0's codes reach 20000000 but only 4 distinct"):
        mixem.MixtureModel(mixem.Categorical, 2).fit(codes)
    codes[7, 0] = 40  # unused levels in between are fine
    assert mixem.MixtureModel(mixem.Categorical, 2, random_state=0).fit(codes).converged


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_tol_zero_stops_at_an_exact_fixed_point(monkeypatch, compiled):
    from mixem.em import gaussian_batch

    if not compiled:
        monkeypatch.setattr(gaussian_batch, "family_kind", lambda X, families: None)
    # One component: the first M-step is the maximum, the second changes nothing at all.
    model = mixem.MixtureModel(mixem.GaussianFull, 1, tol=0.0, max_iter=1000, random_state=0)
    result = model.fit(FAITHFUL)
    assert result.converged and result.n_iter < 10
    assert result.trace.change[-1] == 0.0


def test_subnormal_variances_are_refused_not_scored_as_nan():
    with pytest.raises(ValueError, match=r"covariances\[0\] must be positive \(at least 2.2"):
        mixem.GaussianDiagonal().components(means=[[0.0, 0.0]], covariances=[[1e-320, 1.0]])
    with pytest.raises(ValueError, match=r"covariances\[0\] must be positive"):
        mixem.GaussianSpherical().components(means=[[0.0, 0.0]], covariances=[1e-320])


def test_weights_that_overflow_the_counts_are_refused():
    X = FAITHFUL.to_numpy()
    with pytest.raises(
        ValueError, match="sample_weight sums to inf, more observations than float64 counts"
    ):
        mixem.MixtureModel(mixem.GaussianFull, 2).fit(X, sample_weight=np.full(272, 1e308))


def test_uniform_noise_is_one_component():
    with pytest.raises(ValueError, match="UniformNoise takes at most 1 component, got n_comp"):
        mixem.MixtureModel([mixem.GaussianFull, mixem.UniformNoise], [1, 2])


def test_a_shared_covariance_needs_rows_beyond_the_means():
    # One row in three dimensions gave a "fit" of a tied covariance that is reg_covar alone.
    one = np.array([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="GaussianTied in 3 dimensions need at least 4"):
        mixem.MixtureModel(mixem.GaussianTied, 1).fit(one)
    rows = np.random.default_rng(0).normal(size=(4, 3))
    fit = mixem.MixtureModel(mixem.GaussianTied, 1, init="hierarchical").fit(rows)
    np.testing.assert_allclose(fit.covariances, np.cov(rows.T, bias=True) + 1e-6 * np.eye(3))
    with pytest.raises(ValueError, match="need at least 3"):
        mixem.MixtureModel(mixem.Gaussian("EII"), 2).fit(rows[:2])


def test_rows_too_large_to_square_are_refused_out_of_core_as_in_memory(tmp_path):
    X = FAITHFUL.to_numpy().copy()
    result = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X)
    X[3, 0] = 1e300
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    on_disk = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    for rows in (X, on_disk):
        with pytest.raises(ValueError, match="values up to 1e\\+300, too large to square"):
            result.score_samples(rows)


def test_a_numpy_integer_seed_saves(tmp_path):
    # The spec kept np.int64(3), which JSON cannot write.
    model = mixem.MixtureModel(
        mixem.GaussianFull, np.int64(2), n_init=np.int64(1), random_state=np.int64(3)
    )
    result = model.fit(FAITHFUL)
    result.save(tmp_path / "fit.npz")
    assert mixem.load(tmp_path / "fit.npz").spec["random_state"] == 3
