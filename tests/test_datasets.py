import numpy as np
import pandas as pd
import pytest

from mixem import datasets

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
BANKNOTE_COLUMNS = ["Length", "Left", "Right", "Bottom", "Top", "Diagonal"]


def _check_frame(X, n, columns):
    assert isinstance(X, pd.DataFrame)
    assert X.shape == (n, len(columns))
    assert list(X.columns) == columns
    assert all(dtype == np.float64 for dtype in X.dtypes)
    assert not X.isna().any().any()


@pytest.mark.parametrize(
    ("loader", "n", "columns"),
    [
        (datasets.load_faithful, 272, ["eruptions", "waiting"]),
        (datasets.load_iris, 150, IRIS_COLUMNS),
        (datasets.load_banknote, 200, BANKNOTE_COLUMNS),
        (datasets.load_galaxies, 82, ["velocity"]),
    ],
)
def test_frame_shape_columns_dtypes(loader, n, columns):
    _check_frame(loader(), n, columns)


def test_all_exports_loaders():
    assert set(datasets.__all__) == {
        "load_banknote",
        "load_faithful",
        "load_galaxies",
        "load_iris",
    }


# ---------------------------------------------------------------------------- iris


def test_iris_labels():
    X, y = datasets.load_iris(return_labels=True)
    _check_frame(X, 150, IRIS_COLUMNS)
    assert isinstance(y, pd.Series)
    assert y.name == "species"
    assert len(y) == 150
    assert not y.isna().any()
    assert y.value_counts().to_dict() == {"setosa": 50, "versicolor": 50, "virginica": 50}
    # rows come in blocks of 50 per species, as in R's datasets::iris
    assert (
        list(y.iloc[[0, 49, 50, 99, 100, 149]])
        == ["setosa"] * 2 + ["versicolor"] * 2 + ["virginica"] * 2
    )
    pd.testing.assert_frame_equal(X, datasets.load_iris())


def test_iris_summary_matches_r():
    X = datasets.load_iris()
    # colMeans(iris[, 1:4]) and sapply(iris[, 1:4], sd) in R
    np.testing.assert_allclose(X.mean().round(3), [5.843, 3.057, 3.758, 1.199])
    np.testing.assert_allclose(X.std(ddof=1).round(3), [0.828, 0.436, 1.765, 0.762])
    np.testing.assert_allclose(X.min(), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_allclose(X.max(), [7.9, 4.4, 6.9, 2.5])


def test_iris_rows_35_and_38_are_fishers_values():
    # the UCI copy has 4.9,3.1,1.5,0.1 for both rows (1-based numbering)
    X = datasets.load_iris()
    np.testing.assert_array_equal(X.iloc[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(X.iloc[37], [4.9, 3.6, 1.4, 0.1])
    np.testing.assert_array_equal(X.iloc[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(X.iloc[149], [5.9, 3.0, 5.1, 1.8])


def test_iris_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.datasets")
    bunch = sk.load_iris()
    np.testing.assert_array_equal(datasets.load_iris().to_numpy(), bunch.data)
    _, y = datasets.load_iris(return_labels=True)
    assert list(y) == list(bunch.target_names[bunch.target])


# ------------------------------------------------------------------------ banknote


def test_banknote_labels():
    X, y = datasets.load_banknote(return_labels=True)
    _check_frame(X, 200, BANKNOTE_COLUMNS)
    assert isinstance(y, pd.Series)
    assert y.name == "Status"
    assert len(y) == 200
    assert not y.isna().any()
    assert y.value_counts().to_dict() == {"genuine": 100, "counterfeit": 100}
    assert (y.iloc[:100] == "genuine").all()
    assert (y.iloc[100:] == "counterfeit").all()
    pd.testing.assert_frame_equal(X, datasets.load_banknote())


def test_banknote_group_means_match_flury_riedwyl():
    X, y = datasets.load_banknote(return_labels=True)
    means = X.groupby(y.to_numpy()).mean().round(3)
    np.testing.assert_allclose(
        means.loc["genuine"], [214.969, 129.943, 129.720, 8.305, 10.168, 141.517]
    )
    np.testing.assert_allclose(
        means.loc["counterfeit"], [214.823, 130.300, 130.193, 10.530, 11.133, 139.450]
    )


def test_banknote_known_rows():
    X = datasets.load_banknote()
    np.testing.assert_array_equal(X.iloc[0], [214.8, 131.0, 131.1, 9.0, 9.7, 141.0])
    np.testing.assert_array_equal(X.iloc[100], [214.4, 130.1, 130.3, 9.7, 11.7, 139.8])
    np.testing.assert_array_equal(X.iloc[199], [214.3, 129.9, 129.9, 10.2, 11.5, 139.6])
    np.testing.assert_allclose(X.min(), [213.8, 129.0, 129.0, 7.2, 7.7, 137.8])
    np.testing.assert_allclose(X.max(), [216.3, 131.0, 131.1, 12.7, 12.3, 142.4])


# ------------------------------------------------------------------------ galaxies


def test_galaxies_summary_matches_r():
    # from R 4.2.2, MASS 7.3-58.2, not from the loader:
    # sprintf("%.17g", c(mean(galaxies), sd(galaxies))); sum, min, max, median(galaxies)
    v = datasets.load_galaxies()["velocity"]
    np.testing.assert_allclose(v.mean(), 20828.170731707316, rtol=1e-14)
    np.testing.assert_allclose(v.std(ddof=1), 4563.7579944842837, rtol=1e-12)
    assert v.sum() == 1707910
    assert v.min() == 9172
    assert v.max() == 34279
    assert v.median() == 20833.5
    assert v.is_monotonic_increasing  # is.unsorted(galaxies) is FALSE


def test_galaxies_keeps_mass_typo_at_78th_value():
    # ?MASS::galaxies: "this dataset has 78th observation 26690 which should be 26960"
    v = datasets.load_galaxies()["velocity"]
    # galaxies[c(1, 41, 78, 82)] in R (1-based)
    np.testing.assert_array_equal(v.iloc[[0, 40, 77, 81]], [9172, 20821, 26690, 34279])
