"""to_arviz: weighted-bootstrap draws, label alignment, and ArviZ's own functions on the objects.

Runs under whichever ArviZ line is installed: 0.x (InferenceData) on Python 3.11, 1.x (DataTree)
on Python 3.12+; tox runs both.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem._arviz import arviz_major
from mixem.bootstrap import _alignment, permute_components

# PSIS-LOO warns about influential rows (Pareto k > 0.7) on small data; that is ArviZ's
# diagnosis of the data, not an error of the export.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning"),
    pytest.mark.filterwarnings("ignore:For one or more samples the posterior variance:UserWarning"),
    # ArviZ 0.23's compare calls sort_values(inplace=True), deprecated by pandas 3.1.
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values"),
]

ARVIZ_1 = arviz_major() >= 1


def group(data, name):
    """A group as an xarray Dataset, for InferenceData and DataTree alike."""
    return data[name].to_dataset() if ARVIZ_1 else getattr(data, name)


def root_attrs(data):
    return dict(data.attrs)


def separated(n_per=(150, 250, 100), seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
    sds = np.array([1.0, 1.5, 0.7])
    X = np.concatenate(
        [rng.normal(c, s, size=(m, 2)) for c, s, m in zip(centres, sds, n_per, strict=True)]
    )
    return X, centres, sds


@pytest.fixture(scope="module")
def fit3():
    X, centres, sds = separated()
    result = mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0).fit(X)
    return X, result, sds


@pytest.fixture(scope="module")
def data3(fit3):
    return fit3[1].to_arviz(draws=400, random_state=1)


def test_groups_dims_and_attributes(fit3, data3):
    X, result, _ = fit3
    post = group(data3, "posterior")
    assert dict(post.sizes) == {
        "chain": 4,
        "draw": 100,
        "component": 3,
        "feature": 2,
        "feature_bis": 2,
    }
    assert post["weights"].dims == ("chain", "draw", "component")
    assert post["means"].dims == ("chain", "draw", "component", "feature")
    assert post["covariances"].dims == ("chain", "draw", "component", "feature", "feature_bis")
    weights = post["weights"].to_numpy()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(weights > 0)
    loglik = group(data3, "log_likelihood")["x"]
    assert loglik.dims == ("chain", "draw", "obs_id") and loglik.shape == (4, 100, X.shape[0])
    observed = group(data3, "observed_data")["x"]
    assert observed.dims == ("obs_id", "feature")
    np.testing.assert_array_equal(observed.to_numpy(), X)
    sample_stats = group(data3, "sample_stats")
    assert set(sample_stats.data_vars) >= {"loglik", "n_iter", "converged"}
    np.testing.assert_allclose(
        sample_stats["loglik"].to_numpy(), loglik.to_numpy().sum(axis=-1), rtol=1e-12
    )
    assert sample_stats["converged"].to_numpy().all()
    attrs = root_attrs(data3)
    assert attrs["bic"] == pytest.approx(result.bic, rel=1e-12)
    assert attrs["aic"] == pytest.approx(result.aic, rel=1e-12)
    assert attrs["inference_library"] == "mixem"
    assert attrs["inference_library_version"] == mixem.__version__
    assert "GaussianFull" in attrs["model"] and "flat prior" in attrs["method"]


def test_pointwise_log_likelihood_is_the_draws_mixture_density(fit3, data3):
    X = fit3[0]
    post = group(data3, "posterior")
    loglik = group(data3, "log_likelihood")["x"].to_numpy()
    for chain, draw in [(0, 0), (2, 37), (3, 99)]:
        w = post["weights"].to_numpy()[chain, draw]
        mu = post["means"].to_numpy()[chain, draw]
        cov = post["covariances"].to_numpy()[chain, draw]
        dens = sum(w[k] * stats.multivariate_normal(mu[k], cov[k]).pdf(X) for k in range(w.size))
        np.testing.assert_allclose(loglik[chain, draw], np.log(dens), rtol=1e-10)


def test_every_draw_is_aligned_to_the_fit(fit3, data3):
    result = fit3[1]
    means = group(data3, "posterior")["means"].to_numpy().reshape(-1, 3, 2)
    dist = np.linalg.norm(means[:, :, None, :] - result.means[None, None, :, :], axis=-1)
    # dist[b, j, k]: draw b's component j to the fit's component k; j must be nearest to k = j.
    assert np.all(dist.argmin(axis=2) == np.arange(3))


def test_alignment_recovers_a_permutation(fit3):
    X, result, _ = fit3
    for order in ([2, 0, 1], [1, 2, 0], [0, 2, 1]):
        shuffled = permute_components(result.components[0], np.array(order))
        found = _alignment(X, result.predict_proba(X), (shuffled,), chunk=97)[0]
        # Draw component found[k] must be the fit's component k: order[found[k]] == k.
        np.testing.assert_array_equal(np.array(order)[found], np.arange(3))


def test_spread_of_means_matches_the_analytic_standard_error(fit3, data3):
    # Well-separated clusters: the mean of cluster k has standard error sigma_k / sqrt(n pi_k).
    X, result, sds = fit3
    means = group(data3, "posterior")["means"].to_numpy().reshape(-1, 3, 2)
    counts = result.weights * X.shape[0]
    order = np.argsort(result.means[:, 0] + 2 * result.means[:, 1])  # (0,0), (12,0), (0,12)
    for k, true_sd in zip(order, sds, strict=True):
        analytic = true_sd / np.sqrt(counts[k])
        np.testing.assert_allclose(means[:, k].std(axis=0), analytic, rtol=0.2)


def test_same_seed_same_draws_and_seed_matters(fit3):
    result = fit3[1]
    a = group(result.to_arviz(8, random_state=5, chains=2), "posterior")["means"].to_numpy()
    b = group(result.to_arviz(8, random_state=5, chains=2), "posterior")["means"].to_numpy()
    c = group(result.to_arviz(8, random_state=6, chains=2), "posterior")["means"].to_numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_feature_names_and_tied_and_spherical_dims():
    X = mixem.datasets.load_faithful()
    tied = mixem.MixtureModel(mixem.GaussianTied, 2, random_state=0).fit(X)
    post = group(tied.to_arviz(8, 0, chains=2), "posterior")
    assert post["covariances"].dims == ("chain", "draw", "feature", "feature_bis")
    assert list(post["feature"].to_numpy()) == ["eruptions", "waiting"]
    sph = mixem.MixtureModel(mixem.GaussianSpherical, 2, random_state=0).fit(X)
    post = group(sph.to_arviz(8, 0, chains=2), "posterior")
    assert post["covariances"].dims == ("chain", "draw", "component")


def test_several_families_get_their_own_names_and_component_coordinates():
    X, _, _ = separated()
    model = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.GaussianSpherical], n_components=[2, 1], random_state=0
    )
    post = group(model.fit(X).to_arviz(8, 0, chains=2), "posterior")
    assert post["GaussianFull_means"].dims == ("chain", "draw", "component_GaussianFull", "feature")
    assert list(post["component_GaussianFull"].to_numpy()) == [0, 1]
    assert list(post["component_GaussianSpherical"].to_numpy()) == [2]
    assert post["GaussianSpherical_covariances"].shape == (2, 4, 1)
    assert post["weights"].shape == (2, 4, 3)


def test_bad_requests_are_refused(fit3, tmp_path):
    X, result, _ = fit3
    with pytest.raises(ValueError, match="multiple of chains"):
        result.to_arviz(draws=10, chains=4)
    with pytest.raises(ValueError, match="draws"):
        result.to_arviz(draws=0)
    weighted = mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0).fit(
        X, sample_weight=np.full(X.shape[0], 2.0)
    )
    with pytest.raises(ValueError, match="sample_weight"):
        weighted.to_arviz(8)
    result.save(tmp_path / "m.npz")
    loaded = mixem.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"to_arviz\(X=...\)"):
        loaded.to_arviz(8)
    again = loaded.to_arviz(8, random_state=3, chains=2, X=X)
    direct = result.to_arviz(8, random_state=3, chains=2)
    np.testing.assert_allclose(
        group(again, "posterior")["means"].to_numpy(),
        group(direct, "posterior")["means"].to_numpy(),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="features"):
        loaded.to_arviz(8, X=X[:, :1])


def test_arviz_loo_compare_and_summary_run(fit3, data3):
    import arviz as az

    X = fit3[0]
    k2 = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X).to_arviz(400, 1)
    if ARVIZ_1:
        import arviz_stats

        loo = arviz_stats.loo(data3)
        table = arviz_stats.compare({"K=2": k2, "K=3": data3})
        elpd = loo.elpd
    else:
        loo = az.loo(data3)
        assert np.isfinite(az.waic(data3).elpd_waic)
        table = az.compare({"K=2": k2, "K=3": data3})
        elpd = loo.elpd_loo
        import matplotlib.pyplot as plt

        with warnings.catch_warnings():
            # ArviZ 0.23's plotting calls an API matplotlib 3.11 deprecates.
            warnings.simplefilter("ignore", DeprecationWarning)
            axes = az.plot_posterior(data3, var_names=["weights"])
        assert np.size(axes) == 3
        plt.close("all")
    assert np.isfinite(elpd)
    assert table.index[0] == "K=3"
    summary = az.summary(data3, var_names=["weights", "means"])
    assert len(summary) == 3 + 6
    assert np.all(np.isfinite(summary["mean"].to_numpy(dtype=float)))


def test_selection_to_arviz_is_the_dict_az_compare_takes():
    import arviz as az

    X, _, _ = separated(seed=3)
    sel = mixem.select(X, range(2, 5), components=[mixem.GaussianFull], random_state=0)
    data = sel.to_arviz(draws=200, random_state=0)
    assert list(data) == ["GaussianFull K=2", "GaussianFull K=3", "GaussianFull K=4"]
    compare = az.compare if not ARVIZ_1 else __import__("arviz_stats").compare
    assert compare(data).index[0] == "GaussianFull K=3"
    only = sel.to_arviz(draws=8, random_state=0, chains=2, keys=[(mixem.GaussianFull, 3)])
    assert list(only) == ["GaussianFull K=3"]
    np.testing.assert_array_equal(
        group(only["GaussianFull K=3"], "posterior")["means"].to_numpy(),
        group(sel.to_arviz(draws=8, random_state=0, chains=2)["GaussianFull K=3"], "posterior")[
            "means"
        ].to_numpy(),
    )
