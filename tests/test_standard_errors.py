"""Standard errors: bootstrap and observed information against closed forms and each other."""

from __future__ import annotations

import numpy as np
import pytest

import mixem
from mixem import standard_errors as se_module

from .conftest import FAMILIES

SIGMA = np.array([1.0, 2.0])
PI = np.array([0.3, 0.7])
N = 800


@pytest.fixture(scope="module")
def separated():
    """Two well-separated spherical clusters with known sd and weights."""
    rng = np.random.default_rng(0)
    counts = rng.multinomial(N, PI)
    X = np.concatenate(
        [rng.normal(0.0, SIGMA[0], (counts[0], 2)), rng.normal(25.0, SIGMA[1], (counts[1], 2))]
    )
    model = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", n_init=2, random_state=0)
    result = model.fit(X)
    order = np.argsort(result.means[:, 0])  # order[0] is the cluster at 0
    return X, result, order


@pytest.fixture(scope="module")
def tables(separated):
    _, result, _ = separated
    return (
        result.standard_errors("bootstrap", draws=200, random_state=1),
        result.standard_errors("observed"),
    )


def test_mean_errors_match_sigma_over_root_n_pi(separated, tables):
    _, result, order = separated
    for table in tables:
        for cluster, k in enumerate(order):
            analytic = SIGMA[cluster] / np.sqrt(N * result.weights[k])
            for f in range(2):
                assert table.loc[f"means[{k}, {f}]", "se"] == pytest.approx(analytic, rel=0.2)
            # Binomial error of a weight; the variance of a covariance diagonal, 2 sigma^4 / n_k.
            weight_se = np.sqrt(PI[cluster] * (1 - PI[cluster]) / N)
            assert table.loc[f"weights[{k}]", "se"] == pytest.approx(weight_se, rel=0.2)
            var_se = np.sqrt(2 * SIGMA[cluster] ** 4 / (N * result.weights[k]))
            assert table.loc[f"covariances[{k}, 0, 0]", "se"] == pytest.approx(var_se, rel=0.2)


def test_observed_and_bootstrap_agree(tables):
    boot, observed = tables
    np.testing.assert_array_equal(boot.index, observed.index)
    # Off-diagonal covariances of independent features are near zero; compare every error.
    np.testing.assert_allclose(observed["se"], boot["se"], rtol=0.2)
    np.testing.assert_allclose(observed["estimate"], boot["estimate"])


def test_intervals_cover_the_estimate_at_the_stated_level(tables):
    boot, observed = tables
    for table in tables:
        assert np.all(table["lower"] < table["estimate"])
        assert np.all(table["estimate"] < table["upper"])
        assert table.attrs["level"] == 0.95
    z = (observed["upper"] - observed["estimate"]) / observed["se"]
    np.testing.assert_allclose(z, 1.959963984540054)
    assert boot.attrs["method"] == "bootstrap" and observed.attrs["method"] == "observed"


def test_table_layout(separated, tables):
    _, result, _ = separated
    boot, _ = tables
    # All K weights plus the lower triangle of every covariance: n_parameters + 1 rows.
    assert len(boot) == result.n_parameters + 1
    assert list(boot.columns[:4]) == ["estimate", "se", "lower", "upper"]
    row = boot.loc["covariances[1, 1, 0]"]
    assert (row["name"], row["component"], row["coordinate"]) == ("covariances", 1, "1, 0")
    assert row["estimate"] == pytest.approx(result.covariances[1, 1, 0])


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_observed_information_of_every_gaussian_family(family):
    # Equal spherical clusters, so that every family is correctly specified: under a wrong
    # model the bootstrap (robust) and observed-information (model-based) errors differ.
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0.0, 1.5, (240, 2)), rng.normal(20.0, 1.5, (560, 2))])
    result = mixem.MixtureModel(family, 2, init="kmeans++", random_state=0).fit(X)
    observed = result.standard_errors("observed")
    boot = result.standard_errors("bootstrap", draws=150, random_state=2)
    assert len(observed) == result.n_parameters + 1
    first = observed["name"] != "covariances"
    np.testing.assert_allclose(observed["se"][first], boot["se"][first], rtol=0.2)
    # The bootstrap error of a second moment is itself noisier (150 draws, fourth moments).
    np.testing.assert_allclose(observed["se"][~first], boot["se"][~first], rtol=0.3)


def test_observed_errors_are_equivariant_under_shift_and_scale(separated):
    X, result, _ = separated
    base = result.standard_errors("observed")
    moved = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(
        X * 10.0 + 1e6
    )
    table = moved.standard_errors("observed")
    # Same clusters, same order (k-means++ from the same seed on affinely moved rows).
    np.testing.assert_allclose(table["estimate"].iloc[:2], base["estimate"].iloc[:2], rtol=1e-6)
    scale = np.where(table["name"] == "weights", 1.0, 10.0)
    scale = np.where(table["name"] == "covariances", 100.0, scale)
    np.testing.assert_allclose(table["se"], base["se"] * scale, rtol=1e-3)


def test_observed_information_with_frequency_weights_equals_repeated_rows():
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(0, 1, (60, 1)), rng.normal(6, 1, (60, 1))])
    w = rng.integers(1, 4, size=120)
    model = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0, tol=1e-12)
    tables = []
    for result in (model.fit(X, sample_weight=w), model.fit(np.repeat(X, w, axis=0))):
        table = result.standard_errors("observed")
        order = np.argsort(result.means[:, 0])  # the two fits may number clusters differently
        rows = [f"weights[{k}]" for k in order] + [f"means[{k}, 0]" for k in order]
        rows += [f"covariances[{k}, 0, 0]" for k in order]
        tables.append(table.loc[rows, ["estimate", "se"]].to_numpy())
    np.testing.assert_allclose(tables[0], tables[1], rtol=1e-4)


def test_observed_information_of_parameters_near_zero():
    # Standardised data: means and off-diagonal covariances are ~0, where a relative first
    # step is below rounding; the steps must adapt upwards.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 3))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    result = mixem.MixtureModel(mixem.GaussianFull, 1).fit(X)
    table = result.standard_errors("observed")
    means = table[table["name"] == "means"]
    np.testing.assert_allclose(means["se"], 1 / np.sqrt(2000), rtol=0.05)
    off = table.loc["covariances[0, 1, 0]"]
    assert abs(off["estimate"]) < 0.1
    assert off["se"] == pytest.approx(1 / np.sqrt(2000), rel=0.1)  # sqrt((1 + rho^2) / n)


def test_bad_arguments_and_unavailable_methods(separated, monkeypatch, tmp_path):
    X, result, _ = separated
    with pytest.raises(ValueError, match="method must be 'bootstrap' or 'observed'"):
        result.standard_errors("sandwich")
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\)"):
        result.standard_errors("observed", level=95)
    with pytest.raises(ValueError, match="draws must be"):
        result.standard_errors("bootstrap", draws=0)
    monkeypatch.setattr(se_module, "MAX_INFORMATION_PARAMETERS", 5)
    with pytest.raises(mixem.FitError, match="use the bootstrap"):
        result.standard_errors("observed", X=X)  # given rows: computed anew, not kept
    result.save(tmp_path / "m.npz")
    loaded = mixem.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"standard_errors\(X=\.\.\.\)"):
        loaded.standard_errors("observed")
    monkeypatch.setattr(se_module, "MAX_INFORMATION_PARAMETERS", 120)
    np.testing.assert_allclose(
        loaded.standard_errors("observed", X=X)["se"], result.standard_errors("observed")["se"]
    )


def test_observed_information_refuses_a_superfluous_component():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 1))
    start = {"weights": [0.5, 0.5], "means": [[0.0], [0.0]], "covariances": [[[1.0]], [[1.0]]]}
    result = mixem.MixtureModel(mixem.GaussianFull, 2, max_iter=0).fit(X, init_params=start)
    # Two identical components: the likelihood is flat along moving weight between them.
    with pytest.raises(mixem.FitError, match="not"):
        result.standard_errors("observed")


def test_bootstrap_refuses_weighted_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 1))
    result = mixem.MixtureModel(mixem.GaussianFull, 1).fit(X, sample_weight=np.full(100, 2.0))
    with pytest.raises(ValueError, match="unweighted fit"):
        result.standard_errors("bootstrap", draws=4)


def test_summary_shows_standard_errors(separated, tmp_path):
    X, result, _ = separated
    text = str(result.summary())
    assert "std err" in text and "[0.025" in text and "0.975]" in text
    table = result.standard_errors("observed")
    assert f"{table.loc['means[0, 1]', 'se']:.4g}" in text
    assert "observed information" in text
    plain = str(result.summary(None))
    assert "std err" not in plain and "not computed" in plain
    result.save(tmp_path / "m.npz")
    note = mixem.load(tmp_path / "m.npz").summary().note
    assert "summary(X=...)" in note
    html = result._repr_html_()
    assert "<table>" in html and "std err" in html
    boot = result.summary("bootstrap", draws=10, random_state=0)
    assert "bootstrap" in boot.note and boot.table.attrs["method"] == "bootstrap"
    with pytest.raises(ValueError, match="method must be"):
        result.summary("nope")


def test_summary_of_several_families_keeps_its_header_readable():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    X = np.concatenate([X, rng.normal((0, 8), 0.5, (200, 2))])
    model = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.GaussianSpherical], [2, 1], init="hierarchical"
    )
    text = str(model.fit(X).summary())
    assert "Model:          GaussianFull x 2 + GaussianSpherical x 1\n" in text
    assert "GaussianSpherical_covariances[0]" in text and "std err" in text
