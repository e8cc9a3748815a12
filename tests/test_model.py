"""MixtureModel.fit and MixtureResult behaviour against independent references."""

import dataclasses
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import mixem
from tests.conftest import make_blobs


def full_covariances(res):
    cov = res.covariances
    k, d = res.means.shape
    if cov.ndim == 3:
        return list(cov)
    if (
        cov.ndim == 2
        and cov.shape == (k, d)
        and not isinstance(res.components[0].family, mixem.GaussianTied)
    ):
        return [np.diag(c) for c in cov]
    if cov.ndim == 1:
        return [c * np.eye(d) for c in cov]
    return [cov] * k


def test_score_samples_equals_naive_scipy_mixture(family):
    X, _ = make_blobs(n=450, d=3, k=3, seed=11)
    res = mixem.MixtureModel(family, n_components=3, random_state=0).fit(X)
    covs = full_covariances(res)
    dens = np.column_stack(
        [res.weights[j] * stats.multivariate_normal(res.means[j], covs[j]).pdf(X) for j in range(3)]
    )
    np.testing.assert_allclose(res.score_samples(X), np.log(dens.sum(axis=1)), rtol=1e-10)
    np.testing.assert_allclose(res.loglik, np.log(dens.sum(axis=1)).sum(), rtol=1e-10)
    np.testing.assert_allclose(res.score(X), np.log(dens.sum(axis=1)).mean(), rtol=1e-10)
    proba = dens / dens.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.predict_proba(X), proba, atol=1e-10)
    np.testing.assert_array_equal(res.predict(X), proba.argmax(axis=1))
    # ICL from an independent classification entropy
    entropy = -np.sum(proba * np.log(np.clip(proba, 1e-300, None)))
    assert res.icl == pytest.approx(res.bic + 2 * entropy, rel=1e-9)


@pytest.mark.parametrize("init", ["kmeans++", "random_rows", "random"])
def test_every_init_finds_faithful_two_component_optimum(init):
    # mclust's VVV, G = 2 fit of faithful: loglik -1130.264, BIC (mclust sign) -2322.192.
    X = mixem.datasets.load_faithful()
    res = mixem.MixtureModel(mixem.GaussianFull, 2, init=init, n_init=3, random_state=1).fit(X)
    assert res.converged
    assert res.loglik == pytest.approx(-1130.264, abs=1e-3)
    assert res.bic == pytest.approx(2322.192, abs=1e-3)
    assert res.feature_names == ("eruptions", "waiting")


def test_same_seed_same_result_and_restarts_keep_the_best():
    X, _ = make_blobs(n=300, d=2, k=4, seed=5, spread=3.0)
    a = mixem.MixtureModel(mixem.GaussianFull, 4, random_state=3).fit(X)
    b = mixem.MixtureModel(mixem.GaussianFull, 4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.means, b.means)
    best = mixem.MixtureModel(mixem.GaussianFull, 4, n_init=6, random_state=3).fit(X)
    assert best.loglik >= a.loglik - 1e-9
    rng_run = mixem.MixtureModel(mixem.GaussianFull, 4, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(rng_run.fit(X).means, a.means)


def test_init_from_responsibilities():
    X, labels = make_blobs(n=300, d=2, k=3, seed=2)
    resp = np.eye(3)[labels]
    res = mixem.MixtureModel(mixem.GaussianFull, 3, max_iter=0).fit(X, init_params={"resp": resp})
    for j in range(3):
        np.testing.assert_allclose(res.means[j], X[labels == j].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(
            res.covariances[j],
            np.cov(X[labels == j].T, bias=True) + 1e-6 * np.eye(2),
            rtol=1e-10,
        )
    assert res.n_iter == 0 and len(res.trace) == 0


def test_max_iter_zero_evaluates_the_start():
    X, _ = make_blobs(n=300, d=2, k=2, seed=2)
    start = {"weights": [0.3, 0.7], "means": [[0, 0], [1, 1]], "covariances": [np.eye(2)] * 2}
    res = mixem.MixtureModel(mixem.GaussianFull, 2, max_iter=0).fit(X, init_params=start)
    ref = logsumexp(
        np.column_stack(
            [
                np.log(w) + stats.multivariate_normal(m, np.eye(2)).logpdf(X)
                for w, m in zip(start["weights"], start["means"], strict=True)
            ]
        ),
        axis=1,
    ).sum()
    assert res.loglik == pytest.approx(ref, rel=1e-12)
    assert not res.converged


def test_sample():
    X, _ = make_blobs(n=300, d=2, k=2, seed=8)
    res = mixem.MixtureModel(mixem.GaussianDiagonal, 2, random_state=0).fit(X)
    draws, labels = res.sample(40_000, random_state=1)
    assert draws.shape == (40_000, 2) and labels.shape == (40_000,)
    np.testing.assert_allclose(np.bincount(labels) / 40_000, res.weights, atol=0.01)
    for j in range(2):
        np.testing.assert_allclose(draws[labels == j].mean(axis=0), res.means[j], atol=0.05)
        np.testing.assert_allclose(draws[labels == j].var(axis=0), res.covariances[j], rtol=0.05)
    again, _ = res.sample(40_000, random_state=1)
    np.testing.assert_array_equal(draws, again)


def test_one_dimensional_input_is_one_feature():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 200), rng.normal(10, 2, 200)])
    res = mixem.MixtureModel(mixem.GaussianSpherical, 2, random_state=0).fit(x)
    assert res.means.shape == (2, 1)
    np.testing.assert_allclose(np.sort(res.means[:, 0]), [0, 10], atol=0.4)


def test_results_are_immutable():
    X, _ = make_blobs(n=120, d=2, k=2)
    res = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.loglik = 0.0
    with pytest.raises(ValueError, match="read-only"):
        res.weights[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        res.means[0, 0] = 1.0


def test_trace():
    X, _ = make_blobs(n=300, d=2, k=3, seed=9)
    res = mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0, tol=1e-10).fit(X)
    assert len(res.trace) == res.n_iter
    assert res.trace.loglik[-1] == res.loglik
    assert abs(res.trace.change[-1]) < 1e-10
    df = res.trace.to_dataframe()
    assert list(df.columns[:3]) == ["loglik", "change", "seconds"]
    assert df.index[0] == 1 and len(df) == res.n_iter
    np.testing.assert_allclose(
        np.diff(np.r_[res.trace.initial_loglik, res.trace.loglik]) / 300, res.trace.change
    )


def test_convergence_warning_points_at_caller():
    X, _ = make_blobs(n=300, d=2, k=3, seed=9)
    with pytest.warns(mixem.ConvergenceWarning, match="result.trace") as record:
        res = mixem.MixtureModel(mixem.GaussianFull, 3, max_iter=2, tol=0, random_state=0).fit(X)
    assert not res.converged and res.n_iter == 2
    assert record[0].filename == __file__


def test_collapsing_component_is_reseeded_with_a_warning():
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2)), np.tile([[20.0, 20.0]], (15, 1))]
    )
    start = {
        "weights": [0.45, 0.45, 0.1],
        "means": [[0, 0], [8, 8], [20, 20]],
        "covariances": [[1, 1], [1, 1], [1, 1]],
    }
    model = mixem.MixtureModel(mixem.GaussianDiagonal, 3, max_iter=3, tol=0)
    with pytest.warns(mixem.DegenerateComponentWarning, match="collapsed.*re-seeded") as rec:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixem.ConvergenceWarning)
            model.fit(X, init_params=start)
    assert rec[0].filename == __file__


def test_empty_component_is_reseeded_with_a_warning():
    X, _ = make_blobs(n=300, d=2, k=2, seed=3)
    start = {
        "weights": [0.5, 0.49, 0.01],
        "means": [X[0], X[-1], [1e3, 1e3]],
        "covariances": [np.eye(2)] * 3,
    }
    model = mixem.MixtureModel(mixem.GaussianFull, 3, max_iter=2, tol=0)
    with pytest.warns(mixem.DegenerateComponentWarning, match="effective rows.*re-seeded"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixem.ConvergenceWarning)
            res = model.fit(X, init_params=start)
    assert res.trace.reseeded[0]
    assert np.all(np.isfinite(res.means)) and res.weights.min() > 0


def test_collapse_onto_repeated_points_is_reseeded_and_warned():
    X = np.repeat([[0.0, 0.0], [5.0, 1.0], [1.0, 7.0]], 20, axis=0)
    with pytest.warns(mixem.DegenerateComponentWarning, match="collapsed"):
        # One k-means++ start: the default search would start away from the collapse.
        res = mixem.MixtureModel(mixem.GaussianFull, 3, init="kmeans++", random_state=0).fit(X)
    assert np.all(np.isfinite(res.covariances))


def test_data_on_a_line_without_regularisation_raises_fit_error():
    t = np.random.default_rng(0).normal(size=50)
    X = np.column_stack([t, 2 * t])
    with pytest.raises(mixem.FitError, match="fewer components.*larger reg_covar"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
            mixem.MixtureModel(mixem.GaussianFull, 1, reg_covar=0.0, random_state=0).fit(X)


def test_several_families_in_one_model(tmp_path):
    X, _ = make_blobs(n=450, d=2, k=3, seed=12)
    model = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.GaussianSpherical], n_components=[2, 1], random_state=0
    )
    res = model.fit(X)
    assert res.n_components == 3 and res.predict_proba(X).shape == (450, 3)
    assert res.n_parameters == 2 * (2 + 3) + (2 + 1) + 2
    with pytest.raises(AttributeError, match="one Gaussian family"):
        _ = res.means
    full, sph = res.components
    dens = np.column_stack(
        [
            res.weights[j] * stats.multivariate_normal(full.means[j], full.covariances[j]).pdf(X)
            for j in range(2)
        ]
        + [res.weights[2] * stats.multivariate_normal(sph.means[0], sph.covariances[0]).pdf(X)]
    )
    np.testing.assert_allclose(res.score_samples(X), np.log(dens.sum(axis=1)), rtol=1e-10)
    res.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        mixem.load(tmp_path / "m.npz").predict_proba(X), res.predict_proba(X)
    )
    restart = model.fit(
        X, init_params={"weights": res.weights, "components": [full.params(), sph.params()]}
    )
    assert restart.loglik >= res.loglik - 1e-6


def test_main_job_prints_table_and_choice():
    out = subprocess.run(
        [sys.executable, "-m", "mixem"], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    families = ("GaussianFull", "GaussianDiagonal", "GaussianSpherical", "GaussianTied")
    lines = [ln for ln in out.splitlines() if ln.split()[:1] and ln.split()[0] in families]
    assert len(lines) == 24
    # mclust's best model for faithful is EEE (tied), G = 3
    assert "Chosen: GaussianTied, K = 3" in out


def test_warnings_survive_a_failed_fit():
    t = np.random.default_rng(0).normal(size=50)
    X = np.column_stack([t, 2 * t + 1e-9 * np.sin(t)])
    with pytest.warns(mixem.DegenerateComponentWarning):
        with pytest.raises(mixem.FitError):
            mixem.MixtureModel(
                mixem.GaussianFull, 1, reg_covar=1e-12, init="kmeans++", random_state=0
            ).fit(X)


def test_a_family_is_found_by_its_module_and_name_only():
    # Issue 13 retired the lookup by bare class name: "__main__.GaussianFull" once returned
    # mixem's class, and "other.package.GaussianFull" would have too.
    from mixem.components.base import component_class

    assert component_class("mixem.components.gaussian_models.GaussianFull") is mixem.GaussianFull
    assert component_class("mixem.GaussianFull") is mixem.GaussianFull
    for name in ("__main__.GaussianFull", "somewhere.NoSuchFamily", "GaussianFull"):
        with pytest.raises(ValueError, match="unknown component class"):
            component_class(name)
    with pytest.raises(ValueError, match="families are values now"):
        component_class("mixem.components.student_t.StudentT[dof=4.0]")


def test_failed_restarts_are_skipped_when_others_succeed():
    X = mixem.datasets.load_faithful()
    model = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.GaussianSpherical],
        n_components=[2, 1],
        init="kmeans++",
        random_state=0,
    )
    with pytest.raises(mixem.FitError), warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
        model.fit(X)  # this single start fails (spherical on unscaled data)
    several = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.GaussianSpherical],
        n_components=[2, 1],
        n_init=4,
        init="kmeans++",
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = several.fit(X)
    assert any("restart 0 of 4: failed" in str(w.message) for w in caught)
    assert all(w.category is mixem.DegenerateComponentWarning for w in caught)
    assert np.isfinite(res.loglik)


def test_only_the_kept_restarts_warnings_are_issued():
    X = mixem.datasets.load_faithful()
    model = mixem.MixtureModel(mixem.GaussianDiagonal, 6, n_init=6, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(X)
    reseeds = [w for w in caught if "re-seeded" in str(w.message)]
    assert bool(reseeds) == bool(res.trace.reseeded.any())
    assert all(str(w.message).startswith("restart ") for w in caught)


@pytest.mark.parametrize("max_iter", [1, 30])
def test_n_iter_counts_every_iteration_behind_the_parameters(max_iter):
    X = mixem.datasets.load_faithful()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        res = mixem.MixtureModel(mixem.GaussianFull, 3, max_iter=max_iter, random_state=0).fit(X)
    assert res.n_iter == len(res.trace) <= max_iter
    assert res.trace.loglik[-1] == res.loglik


def test_fits_in_threads_leave_the_warning_filters_alone():
    import threading

    X, _ = make_blobs(n=300, d=2, k=3, seed=9)
    before = list(warnings.filters)
    with pytest.warns(mixem.ConvergenceWarning) as record:
        threads = [
            threading.Thread(
                target=lambda seed=seed: mixem.MixtureModel(
                    mixem.GaussianFull, 3, max_iter=2, tol=0, random_state=seed
                ).fit(X)
            )
            for seed in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Each fit's own warning reached its caller (the thread's target, in this file).
    assert len(record) == 4 and all(r.filename == __file__ for r in record)
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="still heard"):
        warnings.warn("still heard", UserWarning, stacklevel=1)


def test_a_pickled_result_leaves_the_training_rows_out():
    import pickle

    X, _ = make_blobs(n=3000, d=5, k=2, seed=1)
    res = mixem.MixtureModel(mixem.GaussianDiagonal, 2, init="kmeans++", random_state=0).fit(X)
    assert res._training is not None
    blob = pickle.dumps(res)
    assert len(blob) < X.nbytes / 10
    back = pickle.loads(blob)
    assert back._training is None and back.loglik == res.loglik
    np.testing.assert_array_equal(back.predict_proba(X), res.predict_proba(X))


def test_displaying_a_result_computes_no_standard_errors(monkeypatch):
    import mixem.standard_errors as se

    X, _ = make_blobs(n=200, d=2, k=2, seed=2)
    res = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X)

    def forbidden(*args, **kwargs):
        raise AssertionError("a display ran the observed information")

    monkeypatch.setattr(se, "observed_table", forbidden)
    assert "result.summary()" in res._repr_html_()


def test_events_of_the_fit_are_kept_in_the_result_and_saved(tmp_path):
    X, _ = make_blobs(n=300, d=2, k=2, seed=3)
    start = {
        "weights": [0.5, 0.49, 0.01],
        "means": [X[0], X[-1], [1e3, 1e3]],
        "covariances": [np.eye(2)] * 3,
    }
    model = mixem.MixtureModel(mixem.GaussianFull, 3, tol=1e-8)
    with pytest.warns(mixem.DegenerateComponentWarning, match="re-seeded"):
        res = model.fit(X, init_params=start)
    assert [(e.kind, e.component, e.iteration) for e in res.events][:1] == [("reseed", 2, 1)]
    res.save(tmp_path / "m.npz")
    assert mixem.load(tmp_path / "m.npz").events == res.events
