"""mixem.StudentT: scipy's multivariate_t, one ECM step written out, recovery, core promises."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import optimize, special, stats
from sklearn.metrics import adjusted_rand_score

import mixem
from mixem.components.student_t import DOF_MAX, DOF_MIN, DOF_START, solve_dof
from mixem.model import INIT_CHOICES
from mixem.testing import check_component

MEANS = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
COVS = np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]], [[2.0, -0.8], [-0.8, 1.0]]])
DOF = np.array([3.0, 7.0, 25.0])


def student_t(means, covs, dof=None, family=None):
    """Components of ``family`` (the estimated-dof StudentT by default) from arrays."""
    arrays = {"means": means, "covariances": covs} | ({} if dof is None else {"dof": dof})
    return (family or mixem.StudentT()).components(**arrays)


def oracle(means, covs, dof):
    return lambda X: np.column_stack(
        [
            stats.multivariate_t(m, c, df=nu).logpdf(X).reshape(-1)
            for m, c, nu in zip(means, covs, dof, strict=True)
        ]
    )


def test_check_component():
    check_component(student_t(MEANS, COVS, DOF), oracle=oracle(MEANS, COVS, DOF))


def test_check_component_with_fixed_dof():
    family = mixem.StudentT.with_dof(5.0)
    check_component(student_t(MEANS, COVS, family=family), oracle=oracle(MEANS, COVS, [5.0] * 3))


@pytest.mark.parametrize("d", [1, 2, 4])
def test_log_prob_matches_scipy_multivariate_t(d):
    rng = np.random.default_rng(d)
    k = 4
    means = rng.normal(0.0, 3.0, size=(k, d)) + 100.0
    a = rng.normal(size=(k, d, d))
    covs = a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(d)
    dof = np.array([0.7, 1.0, 2.5, 60.0])
    X = rng.normal(100.0, 5.0, size=(400, d))
    got = student_t(means, covs, dof).log_prob(X)
    np.testing.assert_allclose(got, oracle(means, covs, dof)(X), rtol=1e-12, atol=1e-12)


def _ecm_step(X, resp, means, covs, dof):
    """One ECM step for t mixtures, written out from McLachlan and Peel (2000), section 7.5."""
    d = X.shape[1]
    out_means, out_covs, out_dof = [], [], []
    for j in range(means.shape[0]):
        diff = X - means[j]
        delta = np.sum(diff * np.linalg.solve(covs[j], diff.T).T, axis=1)
        u = (dof[j] + d) / (dof[j] + delta)
        r = resp[:, j]
        mu = (r * u) @ X / np.sum(r * u)
        centred = X - mu
        out_means.append(mu)
        out_covs.append((centred * (r * u)[:, None]).T @ centred / r.sum())
        # Eq. 7.31: -psi(nu/2) + log(nu/2) + 1 + mean(log u - u) + psi((nu0+d)/2) - log(...) = 0
        c = (
            1.0
            + np.sum(r * (np.log(u) - u)) / r.sum()
            + special.digamma((dof[j] + d) / 2)
            - np.log((dof[j] + d) / 2)
        )
        sol = optimize.root_scalar(
            lambda nu, c=c: -special.digamma(nu / 2) + np.log(nu / 2) + c,
            bracket=[1e-3, 1e6],
            method="ridder",
            xtol=1e-14,
            rtol=1e-15,
        )
        out_dof.append(sol.root)
    return np.array(out_means), np.array(out_covs), np.array(out_dof)


def _posterior(X, comp, weights):
    logp = comp.log_prob(X) + np.log(weights)
    return np.exp(logp - special.logsumexp(logp, axis=1, keepdims=True))


def test_m_step_is_one_ecm_step_written_out():
    current = student_t(MEANS, COVS, DOF)
    X = student_t(MEANS + 0.3, COVS * 1.2, [4.0, 5.0, 9.0]).sample(
        np.array([150, 100, 120]), np.random.default_rng(4)
    )
    resp = _posterior(X, current, np.array([0.4, 0.25, 0.35]))
    new = mixem.StudentT().from_statistics(current.expected_statistics(X, resp))
    means, covs, dof = _ecm_step(X, resp, MEANS, COVS, DOF)
    assert np.all((dof > DOF_MIN) & (dof < DOF_MAX))  # the root itself, not a bound
    np.testing.assert_allclose(new.means, means, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(new.covariances, covs, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(new.dof, dof, rtol=1e-9)
    # With the degrees of freedom fixed, CM-1 is the same and they stay put.
    fixed = mixem.StudentT.with_dof(4.0)
    cur = student_t(MEANS, COVS, family=fixed)
    new = fixed.from_statistics(cur.expected_statistics(X, resp))
    means, covs, _ = _ecm_step(X, resp, MEANS, COVS, np.full(3, 4.0))
    np.testing.assert_allclose(new.means, means, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(new.covariances, covs, rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(new.dof, 4.0)


def test_start_is_the_gaussian_fit_with_dof_start():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    resp = rng.dirichlet(np.ones(2), size=200)
    t = mixem.StudentT().from_statistics(mixem.StudentT().statistics(X, resp), reg_covar=1e-6)
    g = mixem.GaussianFull().from_statistics(
        mixem.GaussianFull().statistics(X, resp), reg_covar=1e-6
    )
    np.testing.assert_allclose(t.means, g.means, rtol=1e-13)
    np.testing.assert_allclose(t.covariances, g.covariances, rtol=1e-13)
    np.testing.assert_allclose(t.dof, DOF_START, rtol=1e-9)


def test_dof_are_clipped_to_their_range():
    # mean(log u - u) + offset: -1 is the Gaussian limit (root at infinity), -10 a tail far
    # heavier than 0.5 dof (root near 0.11).
    np.testing.assert_array_equal(solve_dof(np.array([-1.0, -10.0])), [DOF_MAX, DOF_MIN])


def test_fit_recovers_parameters_within_statistical_error():
    d = 2
    true = student_t(
        [[0.0, 0.0], [6.0, 2.0]], [[[1.0, 0.4], [0.4, 1.5]], [[2.0, -0.5], [-0.5, 1.0]]], [4.0, 8.0]
    )
    counts = np.array([1500, 1000])
    X = true.sample(counts, np.random.default_rng(6))
    res = mixem.MixtureModel(mixem.StudentT, 2, init="kmeans++", n_init=2, random_state=0).fit(X)
    order = np.argsort(res.components[0].means[:, 0])
    fit = res.components[0]
    labels = np.repeat([0, 1], counts)
    for j, c in enumerate(order):
        n, nu, cov = counts[j], true.dof[j], true.covariances[j]
        # Fisher information of a t location: (nu + d) / (nu + d + 2) Sigma^-1 per row.
        se_mean = np.sqrt(np.diag(cov) * (nu + d + 2) / (nu + d) / n)
        assert np.all(np.abs(fit.means[c] - true.means[j]) < 4 * se_mean)
        # Scale entries: the Gaussian standard error, inflated as for the location.
        var = np.diag(cov)
        se_cov = np.sqrt((np.outer(var, var) + cov**2) * (nu + d + 2) / (nu + d) / n)
        assert np.all(np.abs(fit.covariances[c] - cov) < 5 * se_cov)
        # dof: the observed information of the labelled rows' log-likelihood in nu.
        rows = X[labels == j]

        def loglik(v, rows=rows, c=c):
            return stats.multivariate_t(fit.means[c], fit.covariances[c], df=v).logpdf(rows).sum()

        h = 1e-3 * nu
        info = -(loglik(nu + h) - 2 * loglik(nu) + loglik(nu - h)) / h**2
        assert abs(fit.dof[c] - nu) < 5 / np.sqrt(info), (fit.dof[c], nu, 1 / np.sqrt(info))
    w = counts / counts.sum()
    assert np.all(np.abs(res.weights[order] - w) < 4 * np.sqrt(w * (1 - w) / counts.sum()))


def test_heavy_tails_are_classified_better_than_by_gaussians():
    """Three t clusters with 3 dof: t components keep the tails, Gaussians split them off."""
    true = student_t(
        [[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]], np.stack([0.6 * np.eye(2)] * 3), [3.0] * 3
    )
    counts = np.array([200, 200, 200])
    X = true.sample(counts, np.random.default_rng(0))
    labels = np.repeat(np.arange(3), counts)
    ari = {}
    for family in (mixem.StudentT, mixem.GaussianFull):
        model = mixem.MixtureModel(family, 3, init="kmeans++", n_init=5, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
            ari[family.__name__] = adjusted_rand_score(labels, model.fit(X).predict(X))
    message = (
        f"adjusted Rand index: StudentT {ari['StudentT']:.3f}, Gaussian {ari['GaussianFull']:.3f}"
    )
    # Measured with these seeds: StudentT 0.810, GaussianFull 0.430.
    assert ari["StudentT"] > 0.8, message
    assert ari["GaussianFull"] < 0.65, message


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 3)])
def test_n_parameters(k, d):
    rng = np.random.default_rng(0)
    means, covs = rng.normal(size=(k, d)), np.stack([np.eye(d)] * k)
    assert student_t(means, covs, np.full(k, 5.0)).n_parameters() == k * (d + d * (d + 1) // 2) + k
    assert student_t(means, covs, family=mixem.StudentT.with_dof(5.0)).n_parameters() == k * (
        d + d * (d + 1) // 2
    )


def test_result_parameter_counts_and_criteria():
    X = student_t(MEANS[:2], COVS[:2], DOF[:2]).sample(
        np.array([150, 150]), np.random.default_rng(1)
    )
    for family, count in ((mixem.StudentT, 2 * 5 + 2 + 1), (mixem.StudentT.with_dof(4.0), 11)):
        res = mixem.MixtureModel(family, 2, init="kmeans++", random_state=0).fit(X)
        assert res.n_parameters == count
        assert res.bic == pytest.approx(-2 * res.loglik + count * np.log(300), rel=1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"dof\[1\] must be positive"):
        student_t(MEANS, COVS, [3.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="needs dof"):
        student_t(MEANS, COVS)
    for bad in (0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="dof must be positive and finite"):
            mixem.StudentT.with_dof(bad)
    with pytest.raises(TypeError, match="dof must be a number"):
        mixem.StudentT.with_dof("four")
    with pytest.raises(TypeError, match="fixed at 4"):
        student_t(MEANS, COVS, DOF, family=mixem.StudentT.with_dof(4.0))
    with pytest.raises(ValueError, match=r"covariances\[1\] is not positive definite"):
        student_t(MEANS, COVS * np.array([1.0, -1.0, 1.0])[:, None, None], DOF)
    X = np.column_stack([np.arange(20.0), np.ones(20)])
    with pytest.raises(ValueError, match="feature 1 is constant"):
        mixem.MixtureModel(mixem.StudentT, 1).fit(X)


# The core's promises, on two well-separated components.
TRUE = student_t(MEANS[:2] * 2, COVS[:2], [4.0, 10.0])
COUNTS = np.array([120, 180])


def _data(seed=0, counts=COUNTS):
    return TRUE.sample(counts, np.random.default_rng(seed))


def _start():
    return {"weights": COUNTS / COUNTS.sum(), **TRUE.params()}


@pytest.mark.parametrize("init", INIT_CHOICES)
def test_every_init_finds_the_components(init):
    X = _data()
    res = mixem.MixtureModel(mixem.StudentT, 2, init=init, n_init=2, random_state=0).fit(X)
    truth = mixem.MixtureModel(mixem.StudentT, 2, max_iter=0).fit(X, init_params=_start())
    assert res.converged
    assert res.loglik >= truth.loglik
    assert adjusted_rand_score(truth.predict(X), res.predict(X)) > 0.95


def test_integer_sample_weights_equal_repeated_rows_and_chunks_change_nothing():
    X = _data(counts=np.array([40, 60]))
    w = np.random.default_rng(3).integers(0, 4, size=X.shape[0])
    w[:2] = 1
    model = mixem.MixtureModel(mixem.StudentT, 2)
    start = {"weights": np.array([0.4, 0.6]), **TRUE.params()}
    weighted = model.fit(X, sample_weight=w, init_params=start)
    repeated = model.fit(np.repeat(X, w, axis=0), init_params=start)
    chunked = mixem.MixtureModel(mixem.StudentT, 2, chunk_size=7).fit(
        X, sample_weight=w, init_params=start
    )
    assert weighted.n_iter == repeated.n_iter == chunked.n_iter
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-10)
    assert chunked.loglik == pytest.approx(weighted.loglik, rel=1e-12)
    for key, value in repeated.components[0].params().items():
        np.testing.assert_allclose(weighted.components[0].params()[key], value, rtol=1e-8)
        np.testing.assert_allclose(chunked.components[0].params()[key], value, rtol=1e-8)


@pytest.mark.parametrize("fixed", [False, True])
def test_save_load_predict_sample(fixed, tmp_path):
    X = _data()
    family = mixem.StudentT.with_dof(6.5) if fixed else mixem.StudentT
    res = mixem.MixtureModel(family, 2, init="kmeans++", random_state=0).fit(X)
    path = tmp_path / "t.npz"
    res.save(path)
    loaded = mixem.load(path)
    assert loaded.components[0].family == mixem.StudentT(dof=6.5 if fixed else None)
    np.testing.assert_array_equal(loaded.score_samples(X), res.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), res.predict(X))
    assert loaded.n_parameters == res.n_parameters
    proba = res.predict_proba(X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    draws, labels = res.sample(300, random_state=1)
    assert draws.shape == (300, 2) and np.all(np.isfinite(res.score_samples(draws)))
    assert set(np.unique(labels)) <= {0, 1}


def test_restarts_are_reproducible():
    X = _data()
    a, b = (
        mixem.MixtureModel(mixem.StudentT, 2, init="random", n_init=3, random_state=5).fit(X)
        for _ in range(2)
    )
    assert a.loglik == b.loglik
    np.testing.assert_array_equal(a.components[0].dof, b.components[0].dof)


@st.composite
def problems(draw):
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    m = draw(st.integers(15, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = draw(st.booleans())
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, d, d))
    comp = student_t(
        rng.normal(0.0, 4.0, size=(k, d)),
        a @ np.swapaxes(a, 1, 2) + 0.2 * np.eye(d),
        rng.uniform(1.0, 30.0, size=k),
    )
    return comp.sample(np.full(k, m), rng), k, seed, fixed


@given(problem=problems())
def test_ecm_never_decreases_the_loglik(problem):
    X, k, seed, fixed = problem
    family = mixem.StudentT.with_dof(3.0) if fixed else mixem.StudentT
    # reg_covar = 0: the M-step is the exact maximiser, and the engine warns (an error here) on
    # any decrease.
    model = mixem.MixtureModel(
        family, k, init="random", max_iter=30, tol=0.0, reg_covar=0.0, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
        try:
            res = model.fit(X)
        except mixem.FitError:
            assume(False)  # a component collapsed onto a few rows for good: nothing to check
    ll = np.concatenate([[res.trace.initial_loglik], res.trace.loglik])
    steps = np.diff(ll)[~res.trace.reseeded]
    assert np.all(steps >= -1e-9 * (1 + np.abs(ll[1:][~res.trace.reseeded])))
    np.testing.assert_allclose(res.loglik, res.score_samples(X).sum(), rtol=1e-12)


def test_select_fits_variant_families_in_worker_processes():
    X = _data(counts=np.array([60, 60]))
    fixed = mixem.StudentT.with_dof(4.0)
    table = mixem.select(X, [1, 2], [fixed], random_state=0, progress=False, n_jobs=2).table
    assert list(table["status"]) == ["ok", "ok"]
    assert list(table["family"]) == ["StudentT(dof=4.0)"] * 2
