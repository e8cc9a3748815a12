"""Plots: each is checked for what it draws (lines per family, ellipses per sd level, a point
per observation, values equal to the result's), under the Agg backend."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from scipy import stats

import mixem
from mixem.plotting._common import SD_LEVELS
from mixem.plotting.qq import weighted_quantiles

from .conftest import make_blobs


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a plot called plt.show()")

    monkeypatch.setattr(plt, "show", refuse)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n=450, d=2, k=3, seed=3)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = mixem.MixtureModel(mixem.GaussianFull, 3, init="kmeans++", n_init=3, random_state=0)
    return frame, model.fit(frame)


@pytest.fixture(scope="module")
def study():
    X, _ = make_blobs(n=300, d=2, k=2, seed=5)
    return mixem.select(
        X,
        range(1, 4),
        [mixem.GaussianFull, mixem.GaussianSpherical],
        random_state=0,
        init="kmeans++",
        n_init=2,
        progress=False,
    )


def by_gid(ax, prefix, kind=None):
    artists = list(ax.lines) + list(ax.patches) + list(ax.collections)
    found = [a for a in artists if (a.get_gid() or "").startswith(prefix)]
    return [a for a in found if kind is None or isinstance(a, kind)]


def test_criterion_plot_one_line_per_family_best_marked(study):
    ax = study.plot.criterion()
    assert isinstance(ax, Axes)
    table = study.table
    for family in ("GaussianFull", "GaussianSpherical"):
        (line,) = by_gid(ax, f"family-{family}")
        rows = table[(table["family"] == family) & table["status"].str.startswith("ok")]
        rows = rows.sort_values("K")
        np.testing.assert_array_equal(line.get_xdata(), rows["K"])
        np.testing.assert_allclose(line.get_ydata(), rows["bic"])
    (best,) = by_gid(ax, "best")
    best_row = table.loc[table["bic"].idxmin()]
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (best_row["K"], best_row["bic"])
    assert study.best_key == (best_row["family"], best_row["K"])
    assert "lower is better" in ax.get_ylabel()


def test_criterion_plot_other_criterion_and_given_axes(study):
    fig, ax = plt.subplots()
    assert study.plot.criterion("aic", ax=ax) is ax
    (best,) = by_gid(ax, "best")
    assert best.get_ydata()[0] == pytest.approx(study.table["aic"].min())
    with pytest.raises(ValueError, match="criterion must be one of"):
        study.plot.criterion("bogus")
    with pytest.raises(ValueError, match="no 'cv' values"):
        study.plot.criterion("cv")


def test_density_2d_scatter_ellipses_contours(blobs):
    frame, result = blobs
    ax = result.plot.density()
    assert isinstance(ax, Axes)
    (points,) = by_gid(ax, "points", PathCollection)
    assert points.get_offsets().shape == (len(frame), 2)  # a point per observation
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == len(SD_LEVELS) * result.n_components  # K ellipses per sd level
    cov = result.covariances
    for k in range(result.n_components):
        eig = np.linalg.eigvalsh(cov[k])
        for r in SD_LEVELS:
            (e,) = by_gid(ax, f"ellipse-{k}-{r:g}sd")
            np.testing.assert_allclose(e.center, result.means[k])
            np.testing.assert_allclose(
                sorted([e.width, e.height]), 2 * r * np.sqrt(eig), rtol=1e-10
            )
    assert any(type(c).__name__.endswith("ContourSet") for c in ax.collections)
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"


def test_density_1d_histogram_components_sum_to_mixture():
    X = np.concatenate([np.random.default_rng(0).normal(0, 1, 300), np.full(1, 0.5)])
    X = np.concatenate([X, np.random.default_rng(1).normal(6, 0.5, 200)])
    result = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(X)
    ax = result.plot.density()
    (mixture,) = by_gid(ax, "mixture")
    components = [by_gid(ax, f"component-{k}")[0] for k in range(2)]
    total = sum(c.get_ydata() for c in components)
    np.testing.assert_allclose(total, mixture.get_ydata(), rtol=1e-12)
    grid = mixture.get_xdata()
    np.testing.assert_allclose(mixture.get_ydata(), np.exp(result.score_samples(grid)), rtol=1e-10)
    assert np.trapezoid(mixture.get_ydata(), grid) == pytest.approx(1.0, abs=0.01)
    assert sum(p.get_height() * p.get_width() for p in ax.patches) == pytest.approx(1.0)


def test_density_pairs_grid_for_more_than_two_features():
    X, _ = make_blobs(n=300, d=3, k=2, seed=1)
    result = mixem.MixtureModel(mixem.GaussianDiagonal, 2, init="kmeans++", random_state=0).fit(X)
    fig = result.plot.density()
    assert isinstance(fig, Figure)
    axes = np.array(fig.axes).reshape(3, 3)
    for i in range(3):
        for j in range(3):
            ellipses = [p for p in axes[i, j].patches if isinstance(p, Ellipse)]
            if i == j:
                assert not ellipses and axes[i, j].patches  # a histogram
            else:
                assert len(ellipses) == len(SD_LEVELS) * 2
                (points,) = by_gid(axes[i, j], "points", PathCollection)
                assert points.get_offsets().shape == (300, 2)
    with pytest.raises(ValueError, match="figure of its own"):
        result.plot.density(ax=plt.subplots()[1])
    # Two features of three: the marginal on one Axes, ellipses of the marginal covariances.
    ax = result.plot.density(features=[2, 0])
    (e,) = by_gid(ax, "ellipse-0-1sd")
    np.testing.assert_allclose(e.center, result.means[0, [2, 0]])
    with pytest.raises(ValueError, match="unknown feature"):
        result.plot.density(features=["nope"])


def test_trace_plot_shows_every_iteration(blobs):
    _, result = blobs
    fig = result.plot.trace()
    top, bottom = fig.axes
    (loglik,) = by_gid(top, "loglik")
    np.testing.assert_allclose(
        loglik.get_ydata(), np.r_[result.trace.initial_loglik, result.trace.loglik]
    )
    assert bottom.get_yscale() == "log"
    (change,) = by_gid(bottom, "change")
    nonzero = np.abs(result.trace.change)[np.abs(result.trace.change) > 0]
    np.testing.assert_allclose(change.get_ydata(), nonzero)
    fig2, pair = plt.subplots(1, 2)
    assert result.plot.trace(ax=pair) is fig2
    with pytest.raises(ValueError, match="pair of Axes"):
        result.plot.trace(ax=pair[0])


def test_uncertainty_plot_a_point_per_observation(blobs):
    frame, result = blobs
    ax = result.plot.uncertainty()
    (points,) = by_gid(ax, "points", PathCollection)
    expected = 1 - result.predict_proba(frame).max(axis=1)
    np.testing.assert_allclose(points.get_array(), expected)
    assert points.get_offsets().shape == (len(frame), 2)


def test_uncertainty_plot_sorted_profile_in_higher_dimensions():
    X, _ = make_blobs(n=200, d=3, k=2, seed=2)
    result = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(X)
    ax = result.plot.uncertainty()
    (points,) = by_gid(ax, "points", PathCollection)
    values = points.get_offsets()[:, 1]
    assert values.size == 200 and np.all(np.diff(values) >= 0)


def test_qq_plot_one_series_per_component(blobs):
    frame, result = blobs
    ax = result.plot.qq()
    resp = result.predict_proba(frame)
    labels = resp.argmax(axis=1)
    for k in range(result.n_components):
        (series,) = by_gid(ax, f"qq-{k}")
        r = resp[:, k]
        assert len(series.get_ydata()) == round(r.sum() ** 2 / (r**2).sum())  # effective rows
        # Separated clusters: the responsibility-weighted quantiles are the sorted squared
        # Mahalanobis distances of the rows of k.
        rows = frame.to_numpy()[labels == k]
        diff = rows - result.means[k]
        d2 = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(result.covariances[k]), diff)
        if len(d2) == len(series.get_ydata()):
            np.testing.assert_allclose(series.get_ydata(), np.sort(d2), rtol=1e-6, atol=1e-6)
        m = len(series.get_xdata())
        theory = stats.chi2(2).ppf((np.arange(1, m + 1) - 0.5) / m)
        np.testing.assert_allclose(np.sort(series.get_xdata()), theory, rtol=1e-10)
    assert by_gid(ax, "identity")


def test_weighted_quantiles():
    values = np.array([3.0, 1.0, 2.0, 5.0])
    probs = (np.arange(1, 5) - 0.5) / 4
    np.testing.assert_array_equal(weighted_quantiles(values, np.ones(4), probs), np.sort(values))
    # Integer weights act as repeated values.
    w = np.array([2.0, 1.0, 1.0, 3.0])
    repeated = np.repeat(values, w.astype(int))
    probs = (np.arange(1, 8) - 0.5) / 7
    np.testing.assert_allclose(weighted_quantiles(values, w, probs), np.sort(repeated))


def test_qq_of_overlapping_gaussian_clusters_follows_the_identity():
    # Two overlapping Gaussian clusters, fitted from the truth: a hard assignment would cut each
    # cluster's tail towards the other and bend the QQ plot down at the top.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (4000, 2)), rng.normal((2.5, 0), 1, (4000, 2))])
    start = {"weights": [0.5, 0.5], "means": [[0, 0], [2.5, 0]], "covariances": [np.eye(2)] * 2}
    result = mixem.MixtureModel(mixem.GaussianFull, 2).fit(X, init_params=start)
    ax = result.plot.qq()
    for k in range(2):
        (series,) = by_gid(ax, f"qq-{k}")
        x, y = np.sort(series.get_xdata()), np.sort(series.get_ydata())
        top = slice(int(0.98 * len(x)), int(0.995 * len(x)))  # the upper tail, short of the max
        np.testing.assert_allclose(y[top], x[top], rtol=0.08)


def test_intervals_plot_one_interval_per_parameter(blobs):
    _, result = blobs
    table = result.standard_errors("observed")
    fig = result.plot.intervals(table=table)
    assert isinstance(fig, Figure)
    drawn = [
        c
        for ax in fig.axes
        for c in ax.containers
        if (c.lines[0].get_gid() or "").startswith("interval-")
    ]
    assert len(drawn) == len(table)  # every parameter, every weight
    d = result.n_features
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1 + d + d * (d + 1) // 2
    ax = result.plot.intervals("weights", table=table)
    assert isinstance(ax, Axes)
    with pytest.raises(ValueError, match="parameter must be one of"):
        result.plot.intervals("nope", table=table)


def test_intervals_plot_draws_the_bootstrap_by_default(blobs):
    _, result = blobs
    ax = result.plot.intervals("weights", draws=8, random_state=0)
    assert "bootstrap" in ax.get_title()


def test_plots_of_a_loaded_result_need_the_rows(blobs, tmp_path):
    frame, result = blobs
    result.save(tmp_path / "m.npz")
    loaded = mixem.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"plot\.density\(X=\.\.\.\)"):
        loaded.plot.density()
    assert isinstance(loaded.plot.density(frame), Axes)
    assert isinstance(loaded.plot.trace(), Figure)  # the trace is saved with the result


def test_selection_plots_reach_the_chosen_fit(study):
    assert isinstance(study.plot.density(), Axes)
    assert isinstance(study.plot.trace(), Figure)


def test_density_of_counts_is_a_probability_mass_function():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.poisson(2.0, 300), rng.poisson(12.0, 200)]).astype(float)
    result = mixem.MixtureModel(mixem.Poisson, 2, init="kmeans++", random_state=0).fit(X)
    ax = result.plot.density()
    (mixture,) = by_gid(ax, "mixture")
    values = mixture.get_xdata()
    np.testing.assert_array_equal(values, np.arange(X.min(), X.max() + 1))
    np.testing.assert_allclose(mixture.get_ydata(), np.exp(result.score_samples(values)))
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [np.mean(X == v) for v in values])
    assert ax.get_ylabel() == "probability"


def test_density_of_a_weighted_fit_weights_the_histogram():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, 200), rng.normal(6, 1, 200)])
    w = np.where(X < 3, 9.0, 1.0)  # the left cluster weighs 90%
    result = mixem.MixtureModel(mixem.GaussianFull, 2, init="kmeans++", random_state=0).fit(
        X, sample_weight=w
    )
    ax = result.plot.density()
    left = sum(p.get_height() * p.get_width() for p in ax.patches if p.get_x() + p.get_width() <= 3)
    assert left == pytest.approx(0.9, abs=0.02)
    assert result.weights.max() == pytest.approx(0.9, abs=0.01)
    unc = result.plot.uncertainty()
    expected = np.average(1 - result.predict_proba(X).max(axis=1), weights=w)
    assert f"mean {expected:.3f}" in unc.get_title()


def test_criterion_plot_tells_mclusts_fourteen_models_apart():
    X = mixem.datasets.load_faithful()
    sel = mixem.select(X, range(1, 3), components="mclust", random_state=0, progress=False)
    ax = sel.plot.criterion()
    lines = [by_gid(ax, f"family-{m}")[0] for m in dict.fromkeys(sel.table["family"])]
    assert len(lines) == 14
    styles = {(line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
    assert len(styles) == 14
    legend = ax.get_legend()
    assert legend._ncols == 2 and len(legend.get_texts()) == 15  # and the best cell's entry
    plt.close(ax.figure)


def test_qq_of_student_t_components_uses_their_radial_laws():
    rng = np.random.default_rng(2)
    shape = np.array([[1.0, 0.3], [0.3, 0.8]])
    X = stats.multivariate_t([0.0, 0.0], shape, df=3.0).rvs(size=3000, random_state=rng)
    result = mixem.MixtureModel(mixem.StudentT(dof=3.0), 1, random_state=0).fit(X)
    ax = result.plot.qq()
    (series,) = by_gid(ax, "qq-0")
    m = len(series.get_xdata())
    theory = stats.f(2, 3.0, scale=2).ppf((np.arange(1, m + 1) - 0.5) / m)
    np.testing.assert_allclose(np.sort(series.get_xdata()), theory, rtol=1e-10)
    assert ax.get_xlabel() == "quantiles of the radial laws"
