"""mixem.select: the (family, K) grid, criteria recomputed independently, parallel = serial."""

import numpy as np
import pandas as pd
import pytest

import mixem

FAMILIES = [mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied]
FREE = {  # free parameters per family, written from the model definitions
    "GaussianFull": lambda k, d: k * d + k * d * (d + 1) // 2 + k - 1,
    "GaussianDiagonal": lambda k, d: 2 * k * d + k - 1,
    "GaussianSpherical": lambda k, d: k * d + k + k - 1,
    "GaussianTied": lambda k, d: k * d + d * (d + 1) // 2 + k - 1,
}


def blobs(k, d, seed, m=150):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    centres += 10.0 * np.arange(k)[:, None]  # well separated along every axis
    return np.concatenate([rng.normal(c, 1.0, size=(m, d)) for c in centres])


@pytest.fixture(scope="module")
def faithful_study():
    X = mixem.datasets.load_faithful()
    return X, mixem.select(X, range(1, 5), random_state=0)


def test_every_cell_and_criteria_recomputed(faithful_study):
    X, sel = faithful_study
    table = sel.table
    assert len(table) == 16
    assert set(zip(table.family, table.K, strict=True)) == {
        (f.__name__, k) for f in FAMILIES for k in range(1, 5)
    }
    n, d = X.shape
    for row in table.itertuples():
        p = FREE[row.family](row.K, d)
        assert row.n_parameters == p
        assert row.bic == pytest.approx(-2 * row.loglik + p * np.log(n), rel=1e-12)
        assert row.aic == pytest.approx(-2 * row.loglik + 2 * p, rel=1e-12)
        res = sel.results[row.family, row.K]
        assert res.loglik == pytest.approx(res.score_samples(X).sum(), rel=1e-12)
    best = table.loc[table.bic.idxmin()]
    assert sel.best_key == (best.family, best.K)
    assert sel.best is sel.results[best.family, best.K]
    assert sel.results[mixem.GaussianTied, 3] is sel.results["GaussianTied", 3]
    assert sel.best.feature_names == ("eruptions", "waiting")
    # mclust's BIC choice for faithful is EEE (tied), G = 3
    assert sel.best_key == ("GaussianTied", 3)
    text = str(sel.summary())
    assert "Chosen: GaussianTied, K = 3" in text and "BIC" in text
    assert "<table" in sel._repr_html_()


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 1), (3, 2), (2, 4), (4, 3)])
def test_bic_finds_the_true_number_of_components(k, d):
    hits = 0
    for seed in range(3):
        X = blobs(k, d, seed)
        sel = mixem.select(X, range(1, k + 3), [mixem.GaussianFull], random_state=seed)
        hits += sel.best.n_components == k
    assert hits == 3


def test_parallel_equals_serial():
    X = blobs(3, 2, 0, m=60)
    a = mixem.select(X, range(1, 5), [mixem.GaussianFull, mixem.GaussianTied], random_state=4)
    b = mixem.select(
        X, range(1, 5), [mixem.GaussianFull, mixem.GaussianTied], random_state=4, n_jobs=2
    )
    pd.testing.assert_frame_equal(a.table.drop(columns="seconds"), b.table.drop(columns="seconds"))


def test_cross_validated_criterion():
    X = blobs(2, 2, 1, m=80)
    sel = mixem.select(X, range(1, 4), [mixem.GaussianFull], criterion="cv", random_state=0)
    fitted = sel.table.status.str.startswith("ok")
    assert fitted[:2].all() and sel.table.cv[fitted].notna().all()
    assert sel.best_key == ("GaussianFull", int(sel.table.K[sel.table.cv.idxmax()]))
    assert sel.best.n_components == 2


def test_failed_cells_are_reported_and_never_chosen():
    X = blobs(2, 2, 0, m=3)  # 6 rows: K = 7 cannot be fitted
    sel = mixem.select(X, [1, 2, 7], [mixem.GaussianDiagonal], random_state=0)
    row = sel.table.set_index("K").loc[7]
    assert row.status.startswith("failed: X has 6 rows")
    assert np.isnan(row.bic)
    assert sel.best_key[1] != 7
    with pytest.raises(KeyError, match="no successful fit"):
        sel.results["GaussianDiagonal", 7]


@pytest.mark.parametrize(
    ("kwargs", "exc", "fragment"),
    [
        ({"criterion": "likelihood"}, ValueError, "criterion must be one of"),
        ({"n_components": []}, ValueError, "n_components is empty"),
        ({"n_components": [0, 1]}, ValueError, "n_components must be an integer >= 1"),
        ({"components": []}, ValueError, "components is empty"),
        ({"components": ["full"]}, TypeError, "must be a family"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be a positive integer or -1"),
        ({"random_state": "x"}, TypeError, "random_state must be None or an int"),
        ({"criterion": "cv", "cv_folds": 1}, ValueError, "cv_folds must be an integer >= 2"),
    ],
)
def test_bad_arguments(kwargs, exc, fragment):
    X = blobs(2, 2, 0, m=20)
    with pytest.raises(exc, match=fragment):
        mixem.select(X, **{"n_components": [1, 2], **kwargs})


def test_bootstrap_lrt_rejects_too_few_components_only():
    from scipy import stats

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    table = mixem.bootstrap_lrt(X, mixem.GaussianFull, 3, n_boot=19, random_state=0)
    assert table[["K0", "K1"]].values.tolist() == [[1, 2], [2, 3]]
    assert (table.n_boot + table.n_failed == 19).all()
    p = dict(zip(table.K0, table.p_value, strict=True))
    assert p[1] <= 0.05  # one component is rejected (the smallest p-value 19 draws allow)
    assert p[2] > 0.05  # two are not
    # K = 1 has a closed-form fit: the sample mean and the biased sample covariance.
    ll1 = (
        stats.multivariate_normal(X.mean(axis=0), np.cov(X.T, bias=True) + 1e-6 * np.eye(2))
        .logpdf(X)
        .sum()
    )
    ll2 = mixem.MixtureModel(mixem.GaussianFull, 2, n_init=3, random_state=1).fit(X).loglik
    assert table.lrt[0] == pytest.approx(2 * (ll2 - ll1), rel=1e-6)
    again = mixem.bootstrap_lrt(X, mixem.GaussianFull, 3, n_boot=19, random_state=0)
    pd.testing.assert_frame_equal(table, again)


def test_cv_failure_keeps_the_fit_and_folds_are_checked():
    X = blobs(2, 2, 0, m=6)
    sel = mixem.select(
        X, [1, 2, 3], [mixem.GaussianFull], criterion="cv", cv_folds=6, random_state=0
    )
    plain = mixem.select(X, [1, 2, 3], [mixem.GaussianFull], random_state=0)
    ok = plain.table.status.str.startswith("ok").to_numpy()
    # every cell that fits on all rows keeps its fit and criteria, whatever its folds do
    assert (sel.table.status.str.startswith("ok").to_numpy() == ok).all()
    np.testing.assert_allclose(sel.table.bic[ok], plain.table.bic[ok])
    with pytest.raises(ValueError, match="cv_folds=13 is more than the 12 rows"):
        mixem.select(X, [1], [mixem.GaussianFull], criterion="cv", cv_folds=13)


def test_a_subsampled_study_runs_its_cells_over_all_rows_the_same_in_parallel():
    X = blobs(2, 2, 3, m=150)
    tuning = mixem.em.SearchSettings(starts=4, keep=2, split_merge_bases=1, rows=120)
    a = mixem.select(X, [1, 2, 3], [mixem.GaussianDiagonal], random_state=1, search=tuning)
    b = mixem.select(
        X, [1, 2, 3], [mixem.GaussianDiagonal], random_state=1, search=tuning, n_jobs=2
    )
    pd.testing.assert_frame_equal(a.table.drop(columns="seconds"), b.table.drop(columns="seconds"))
    for k in (1, 2, 3):
        res = a.results["GaussianDiagonal", k]
        assert res.n_obs == 300  # fitted over all rows, not the search's 120
        assert res.loglik == pytest.approx(res.score_samples(X).sum(), rel=1e-12)
    assert a.best.n_components == 2


def test_the_order_of_k_does_not_change_a_study():
    X = blobs(3, 2, 2, m=40)
    one = mixem.select(X, [1, 2, 3], [mixem.GaussianFull], random_state=5)
    two = mixem.select(X, [3, 1, 2], [mixem.GaussianFull], random_state=5)
    for k in (1, 2, 3):
        assert one.results["GaussianFull", k].loglik == two.results["GaussianFull", k].loglik


def test_a_cell_reaches_the_same_fit_in_any_grid():
    # The cells of a study share their starts, so a cell's fit depends on its grid; on data
    # with one clear maximum every grid reaches it.
    X = blobs(3, 2, 2, m=40)
    alone = mixem.select(X, [3], [mixem.GaussianFull], random_state=5)
    grid = mixem.select(X, [1, 2, 3], [mixem.GaussianTied, mixem.GaussianFull], random_state=5)
    assert alone.results["GaussianFull", 3].loglik == grid.results["GaussianFull", 3].loglik


def test_bootstrap_lrt_reports_failures_as_nan():
    X = np.random.default_rng(0).normal(size=(5, 2))
    table = mixem.bootstrap_lrt(X, mixem.GaussianFull, 3, n_boot=3, random_state=0)
    row = table.set_index("K0").loc[2]
    assert np.isnan(row.p_value) and row.status.startswith("failed: X has 5 rows")
    with pytest.raises(TypeError, match="random_state must be None or an int"):
        mixem.bootstrap_lrt(X, mixem.GaussianFull, 2, random_state="x")


def test_no_cell_fails_on_the_galaxy_velocities():
    # MASS's galaxies: a few isolated values used to end K = 8 and 9 in FitError ("component
    # became degenerate 6 times"); a component that keeps collapsing is now recovered.
    X = mixem.datasets.load_galaxies()
    study = mixem.select(X, range(1, 10), random_state=0)
    assert not study.table["status"].str.startswith("failed").any()
    assert study.table["converged"].all()


def test_components_mclust_tries_mclusts_models_and_explains_their_names():
    X = mixem.datasets.load_galaxies()
    sel = mixem.select(X, range(1, 4), components="mclust", random_state=0, progress=False)
    assert list(dict.fromkeys(sel.table["family"])) == ["E", "V"]  # one column: two models
    # R mclust 6: Mclust(velocity, G = 1:3) picks E, G = 3 (log-likelihood -778.788, as here),
    # but its V, G = 3 fit stops at -778.523; mixem's search finds a higher maximum there,
    # which wins on BIC.
    assert sel.results["E", 3].loglik == pytest.approx(-778.788, abs=1e-3)
    assert sel.results["V", 3].loglik > -778.523 + 5
    assert sel.best_key == ("V", 3)
    assert sel.results["V", 2].n_parameters == 5
    text = str(sel.summary())
    assert "V: variable variance (one dimension)" in text
    with pytest.raises(ValueError, match="components must be a sequence of families or 'mclust'"):
        mixem.select(X, [1], components="all")
