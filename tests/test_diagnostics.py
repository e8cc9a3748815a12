"""Diagnostics flag planted problems and nothing on clean fits (fixed seeds)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem.diagnostics import Finding, mahalanobis_sq

CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def gaussian_clusters(seed, n=300):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, 1.0, (n, 2)) for c in CENTRES])


def uniform_squares(seed, n=300):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(c - 2.0, c + 2.0, (n, 2)) for c in CENTRES])


def fit(X, k=3, **kwargs):
    model = mixem.MixtureModel(mixem.GaussianFull, k, init="kmeans++", n_init=2, random_state=0)
    return model.fit(X, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_gaussian_fit_flags_nothing(seed):
    report = fit(gaussian_clusters(seed)).diagnostics(draws=0)
    assert report.findings == ()
    assert report.ok and "Nothing to flag" in str(report)
    assert report.converged and report.monotone
    assert not report.normality["rejected"].any()
    assert np.all(report.condition_numbers < 10)
    assert report.mean_uncertainty < 1e-3


def test_clean_fit_with_standard_errors_flags_nothing():
    result = fit(gaussian_clusters(0))
    # 200 draws: the bootstrap sd of 60 draws is itself uncertain by about 9%, too close to
    # the 20% the check allows.
    report = result.diagnostics(draws=200, random_state=0)
    assert report.findings == ()
    table = report.standard_errors
    assert len(table) == result.n_parameters + 1
    assert table["se_observed"].notna().all()
    # Mean errors: sigma / sqrt(n pi) = 1 / sqrt(300), by bootstrap and observed information.
    means = table[table["name"] == "means"]
    np.testing.assert_allclose(means["se"], 1 / np.sqrt(300), rtol=0.2)
    np.testing.assert_allclose(means["se_observed"], 1 / np.sqrt(300), rtol=0.2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_squares_are_flagged_as_non_gaussian(seed):
    report = fit(uniform_squares(seed)).diagnostics(draws=0)
    flagged = {f.component for f in report.findings if f.topic == "normality"}
    assert flagged == {0, 1, 2}
    assert all(f.severity == "warning" for f in report.findings)
    assert report.normality["rejected"].all()
    assert "does not look Gaussian" in str(report)


def test_planted_degenerate_component_is_a_problem():
    rng = np.random.default_rng(0)
    spike = np.array([5.0, 5.0]) + 1e-7 * rng.normal(size=(30, 2))  # identical to 7 digits
    X = np.concatenate([gaussian_clusters(0, n=200), spike])
    start = {
        "weights": [0.3, 0.3, 0.3, 0.1],
        "means": np.vstack([CENTRES, [5.0, 5.0]]),
        "covariances": np.stack([np.eye(2)] * 3 + [1e-4 * np.eye(2)]),
    }
    result = mixem.MixtureModel(mixem.GaussianFull, 4).fit(X, init_params=start)
    report = result.diagnostics(draws=50, random_state=0)
    problems = report.by_severity("problem")
    assert [(f.topic, f.component) for f in problems] == [("degenerate", 3)]
    assert "30.0 effective rows" in problems[0].message
    assert report.degenerate.tolist() == [False, False, False, True]
    assert not report.ok
    assert report.standard_errors is None  # meaningless for a spike
    assert report.findings[0] is problems[0]  # most severe first


def test_near_singular_component_is_a_warning():
    rng = np.random.default_rng(1)
    t = rng.normal(size=300)
    line = np.column_stack([t, t + 1e-4 * rng.normal(size=300)])  # a flat cloud along x = y
    X = np.concatenate([line, rng.normal((8.0, -8.0), 1.0, (300, 2))])
    model = mixem.MixtureModel(mixem.GaussianFull, 2, init="hierarchical", reg_covar=0.0)
    result = model.fit(X)
    report = result.diagnostics(draws=0)
    flagged = [f for f in report.findings if f.topic == "near-singular"]
    assert len(flagged) == 1
    k = flagged[0].component
    assert report.condition_numbers[k] > 1e6 and report.near_singular[k]


def test_small_component_and_overlap():
    rng = np.random.default_rng(2)
    X = np.concatenate(
        [rng.normal(0, 1, (400, 2)), rng.normal(1.2, 1, (400, 2)), rng.normal(12, 1, (9, 2))]
    )
    start = {
        "weights": [0.45, 0.45, 0.1],
        "means": [[0.0, 0.0], [1.2, 1.2], [12.0, 12.0]],
        "covariances": np.stack([np.eye(2)] * 3),
    }
    result = mixem.MixtureModel(mixem.GaussianFull, 3).fit(X, init_params=start)
    report = result.diagnostics(draws=0)
    topics = {(f.topic, f.component) for f in report.findings}
    assert ("small component", 2) in topics
    assert ("overlap", None) in topics
    assert report.mean_uncertainty > 0.1


def test_unconverged_fit_is_a_warning():
    with pytest.warns(mixem.ConvergenceWarning):
        result = mixem.MixtureModel(
            mixem.GaussianFull, 3, init="random", max_iter=2, random_state=0
        ).fit(gaussian_clusters(0))
    report = result.diagnostics(draws=0)
    (finding,) = [f for f in report.findings if f.topic == "convergence"]
    assert finding.severity == "warning" and "max_iter" in finding.message


def test_mahalanobis_distances_match_a_direct_computation():
    X = gaussian_clusters(3, n=50)
    for family in (mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianTied):
        result = mixem.MixtureModel(family, 3, init="hierarchical").fit(X)
        d2 = mahalanobis_sq(result, X)
        covs = result.components[0].covariance_matrices
        for k in range(3):
            diff = X - result.means[k]
            expected = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(covs[k]), diff)
            np.testing.assert_allclose(d2[:, k], expected, rtol=1e-10)


def test_weighted_fit_gets_observed_errors_and_its_weights(tmp_path):
    X = gaussian_clusters(0, n=100)
    w = np.full(len(X), 2.0)
    result = fit(X, sample_weight=w)
    report = result.diagnostics(draws=10)
    assert [f.topic for f in report.findings] == ["standard errors"]  # a note: no bootstrap
    table = report.standard_errors
    assert table.attrs["method"] == "observed"
    repeated = fit(np.repeat(X, 2, axis=0)).standard_errors("observed")
    means = table["name"] == "means"
    np.testing.assert_allclose(
        np.sort(table.loc[means, "se"]), np.sort(repeated.loc[means, "se"]), rtol=1e-3
    )
    assert "<table>" in report._repr_html_()
    # A loaded weighted fit needs its weights back: the rows alone are half its n_obs.
    result.save(tmp_path / "w.npz")
    loaded = mixem.load(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="fitted on n_obs=600"):
        loaded.standard_errors("observed", X=X)
    np.testing.assert_allclose(
        loaded.standard_errors("observed", X=X, sample_weight=w)["se"],
        result.standard_errors("observed")["se"],
    )
    with pytest.raises(ValueError, match="draws must be"):
        result.diagnostics(draws=-1)
    with pytest.raises(ValueError, match="severity must be one of"):
        report.by_severity("fatal")


def test_bootstrap_and_observed_disagreement_is_a_warning(monkeypatch):
    import mixem.standard_errors as se_module

    result = fit(gaussian_clusters(0))
    original = se_module.observed_table

    def shrunk(*args, **kwargs):
        table = original(*args, **kwargs)
        table["se"] /= 3.0  # as if the bootstrap saw a much wider spread
        return table

    monkeypatch.setattr(se_module, "observed_table", shrunk)
    report = result.diagnostics(draws=30, random_state=0)
    (finding,) = [f for f in report.findings if f.topic == "standard errors"]
    assert finding.severity == "warning" and "differ by more than a factor 2" in finding.message


def test_a_fit_that_never_iterated_is_diagnosed():
    # max_iter=0 evaluates the start: no iterations, not converged, an empty trace.
    model = mixem.MixtureModel(mixem.GaussianFull, 3, max_iter=0, init="hierarchical")
    result = model.fit(gaussian_clusters(0))
    assert len(result.trace) == 0 and not result.converged
    report = result.diagnostics(draws=0)
    assert [f.topic for f in report.findings] == ["convergence"]


def test_condition_numbers_do_not_depend_on_units():
    X = gaussian_clusters(1)
    scaled = X * np.array([1.0, 1e4])
    for family in (mixem.GaussianFull, mixem.GaussianDiagonal):
        a = mixem.MixtureModel(family, 3, init="hierarchical").fit(X).diagnostics(draws=0)
        b = mixem.MixtureModel(family, 3, init="hierarchical").fit(scaled).diagnostics(draws=0)
        np.testing.assert_allclose(
            np.sort(a.condition_numbers), np.sort(b.condition_numbers), rtol=1e-6
        )
        assert b.findings == ()


def test_finding_reads_as_a_sentence():
    f = Finding("warning", "overlap", None, "the clusters overlap")
    assert str(f) == "[warning] the clusters overlap"


def test_loaded_result_needs_rows(tmp_path):
    X = gaussian_clusters(0, n=100)
    result = fit(X)
    result.save(tmp_path / "m.npz")
    loaded = mixem.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"diagnostics\(X=\.\.\.\)"):
        loaded.diagnostics(draws=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert loaded.diagnostics(draws=0, X=X).findings == ()


def test_exactly_identical_rows_are_flagged_and_not_collapsed_onto():
    # 30 copies of one row: a point mass. K = 3 absorbs it into a cluster, and the report says
    # so. At K = 4 a component collapsing onto it is recovered (the engine no longer gives up):
    # the fit has no spike and the report still names the point mass.
    X = np.concatenate([gaussian_clusters(0, n=200), np.tile([[5.0, 5.0]], (30, 1))])
    result = mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0).fit(X)
    (finding,) = [f for f in result.diagnostics(draws=0).findings if f.topic == "duplicates"]
    assert finding.severity == "warning" and "30 rows are identical (5, 5)" in finding.message
    assert finding.component == result.predict([[5.0, 5.0]])[0]
    four = mixem.MixtureModel(mixem.GaussianFull, 4, random_state=0).fit(X)
    assert four.converged and not four.spurious.any()
    assert np.linalg.eigvalsh(four.covariances).min() > 1e-3
    assert any(f.topic == "duplicates" for f in four.diagnostics(draws=0).findings)


def test_rounded_data_ties_are_not_point_masses():
    rng = np.random.default_rng(5)
    X = np.round(np.concatenate([rng.normal(20, 3, 600), rng.normal(45, 4, 400)]))  # integers
    result = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(X)
    assert not [f for f in result.diagnostics(draws=0).findings if f.topic == "duplicates"]
    spiked = np.concatenate([X, np.full(600, 33.0)])  # a value recorded 600 extra times
    result = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(spiked)
    found = [f for f in result.diagnostics(draws=0).findings if f.topic == "duplicates"]
    assert len(found) == 1 and "rows are identical (33)" in found[0].message


def _t_clusters(seed, n=600, dof=4.0):
    rng = np.random.default_rng(seed)
    shape = np.array([[1.0, 0.4], [0.4, 0.5]])
    return np.concatenate(
        [stats.multivariate_t(c, shape, df=dof).rvs(size=n, random_state=rng) for c in CENTRES]
    )


def test_student_t_distances_are_in_the_scale_matrices_and_pass_the_t_reference():
    # Squared distances of t rows in their scale matrix follow d F(d, nu), not chi2(d): the
    # heavy tails that a Gaussian's normality test rejects are what a t component expects.
    X = _t_clusters(0)
    result = mixem.MixtureModel(mixem.StudentT(dof=4.0), 3, random_state=0).fit(X)
    d2 = mahalanobis_sq(result, X)
    comp = result.components[0]
    for k in range(3):
        diff = X - comp.means[k]
        expected = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(comp.covariances[k]), diff)
        np.testing.assert_allclose(d2[:, k], expected, rtol=1e-10)
    report = result.diagnostics()
    assert report.normality is not None and len(report.normality) == 3
    assert not report.normality["rejected"].any()
    assert "StudentT: d F(d, dof)" in str(report)
    gaussian = mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0).fit(X)
    assert gaussian.diagnostics().normality["rejected"].all()


def test_student_t_covariances_are_scipys_and_exist_above_two_degrees_of_freedom():
    family = mixem.StudentT()
    shape = np.array([[[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 3.0]]])
    comp = family.components(means=np.zeros((2, 2)), covariances=shape, dof=[3.0, 7.5])
    _, covs = comp.moments()
    for j, nu in enumerate([3.0, 7.5]):
        # scipy's univariate t: Var = nu / (nu - 2) scale^2, per coordinate
        variances = [stats.t(nu, scale=np.sqrt(shape[j, i, i])).var() for i in range(2)]
        np.testing.assert_allclose(np.diag(covs[j]), variances, rtol=1e-12)
    heavy = family.components(means=np.zeros((2, 2)), covariances=shape, dof=[2.0, 7.5])
    with pytest.raises(NotImplementedError, match=r"StudentT does not implement moments"):
        heavy.moments()
    laws = comp.elliptical()[2]
    rng = np.random.default_rng(1)
    draws = stats.multivariate_t(np.zeros(2), shape[0], df=3.0).rvs(size=20_000, random_state=rng)
    delta = np.einsum("ij,jk,ik->i", draws, np.linalg.inv(shape[0]), draws)
    assert stats.kstest(delta, laws[0].cdf).pvalue > 0.01
