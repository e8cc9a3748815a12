"""Bad input gets a clear error naming the argument and the problem."""

import re

import numpy as np
import pandas as pd
import pytest

import mixem

RNG = np.random.default_rng(0)
GOOD = RNG.normal(size=(60, 2)) + np.repeat([[0, 0], [6, 6]], 30, axis=0)


def fit(X=GOOD, k=2, family=mixem.GaussianFull, model_kw=None, **fit_kw):
    options = {"random_state": 0, **(model_kw or {})}
    return mixem.MixtureModel(family, n_components=k, **options).fit(X, **fit_kw)


def with_nan():
    X = GOOD.copy()
    X[5, 1] = np.nan
    return X


def with_inf():
    X = GOOD.copy()
    X[3, 0] = np.inf
    return X


def constant_column():
    X = GOOD.copy()
    X[:, 1] = 4.0
    return X


GOOD_PARAMS = {
    "weights": [0.5, 0.5],
    "means": [[0.0, 0.0], [6.0, 6.0]],
    "covariances": np.stack([np.eye(2), np.eye(2)]),
}

CASES = [
    # (id, callable raising, exception type, message fragment)
    (
        "nan",
        lambda: fit(with_nan()),
        ValueError,
        "X contains 1 non-finite values (first: NaN at row 5",
    ),
    ("inf", lambda: fit(with_inf()), ValueError, "infinite at row 3"),
    ("3-D", lambda: fit(np.zeros((4, 2, 2))), ValueError, "X must be 1-D (one feature) or 2-D"),
    ("empty", lambda: fit(np.empty((0, 2))), ValueError, "X is empty"),
    ("no columns", lambda: fit(np.empty((5, 0))), ValueError, "X is empty"),
    ("None", lambda: fit(None), TypeError, "X must be a numeric array"),
    ("strings", lambda: fit(np.array([["a", "b"], ["c", "d"]])), TypeError, "X must be numeric"),
    (
        "non-numeric column",
        lambda: fit(pd.DataFrame({"x": GOOD[:, 0], "label": ["a"] * 60})),
        TypeError,
        "column 'label' has dtype",
    ),
    ("complex", lambda: fit(GOOD + 1j), TypeError, "X must be real-valued"),
    (
        "too few rows",
        lambda: fit(GOOD[:2], k=3),
        ValueError,
        "X has 2 rows, fewer than n_components=3",
    ),
    (
        "too few rows for full covariance",
        lambda: fit(GOOD[:2], k=1),
        ValueError,
        "X has 2 rows; 1 component of GaussianFull in 2 dimensions need at least 3",
    ),
    ("n_components 0", lambda: fit(k=0), ValueError, "n_components must be an integer >= 1, got 0"),
    ("n_components float", lambda: fit(k=2.5), TypeError, "n_components must be an int"),
    ("constant feature", lambda: fit(constant_column()), ValueError, "X feature 1 is constant"),
    (
        "duplicate rows",
        lambda: fit(np.repeat(GOOD[:2], 30, axis=0), k=3),
        ValueError,
        "X has only 2 distinct rows (duplicates), fewer than n_components=3",
    ),
    (
        "sample_weight shape",
        lambda: fit(sample_weight=np.ones(59)),
        ValueError,
        "sample_weight must have shape (60,)",
    ),
    (
        "negative weight",
        lambda: fit(sample_weight=np.r_[-1.0, np.ones(59)]),
        ValueError,
        "sample_weight must be non-negative; row 0",
    ),
    ("all-zero weights", lambda: fit(sample_weight=np.zeros(60)), ValueError, "zero for every row"),
    ("nan weight", lambda: fit(sample_weight=np.r_[np.nan, np.ones(59)]), ValueError, "NaN"),
    (
        "init_params means shape",
        lambda: fit(init_params={**GOOD_PARAMS, "means": np.zeros((3, 2))}),
        ValueError,
        "means for GaussianFull describe 3 components, the model has 2",
    ),
    (
        "init_params not positive definite",
        lambda: fit(init_params={**GOOD_PARAMS, "covariances": np.stack([np.eye(2), -np.eye(2)])}),
        ValueError,
        "covariances[1] is not positive definite",
    ),
    (
        "init_params weights",
        lambda: fit(init_params={**GOOD_PARAMS, "weights": [0.7, 0.7]}),
        ValueError,
        "init_params['weights'] must sum to 1",
    ),
    (
        "init_params unknown key",
        lambda: fit(init_params={**GOOD_PARAMS, "precisions": np.eye(2)}),
        ValueError,
        "must have keys ['covariances', 'means']",
    ),
    (
        "init_params resp shape",
        lambda: fit(init_params={"resp": np.ones((60, 3))}),
        ValueError,
        "init_params['resp'] must have shape (60, 2)",
    ),
    (
        "init_params resp negative",
        lambda: fit(init_params={"resp": -np.ones((60, 2))}),
        ValueError,
        "finite and non-negative",
    ),
    (
        "init_params with n_init",
        lambda: fit(init_params=GOOD_PARAMS, model_kw={"n_init": 3}),
        ValueError,
        "n_init must be 1",
    ),
    ("unknown init", lambda: fit(model_kw={"init": "kmeans"}), ValueError, "init must be one of"),
    (
        "negative tol",
        lambda: fit(model_kw={"tol": -1.0}),
        ValueError,
        "tol must be a finite number",
    ),
    ("negative reg_covar", lambda: fit(model_kw={"reg_covar": -1e-6}), ValueError, "reg_covar"),
    ("n_init 0", lambda: fit(model_kw={"n_init": 0}), ValueError, "n_init must be an integer >= 1"),
    (
        "random_state",
        lambda: fit(model_kw={"random_state": "seed"}),
        TypeError,
        "random_state must be None, an int or a numpy.random.Generator, got str",
    ),
    ("unknown option", lambda: fit(model_kw={"n_iter": 5}), TypeError, "n_iter"),
    (
        "component instance",
        lambda: mixem.MixtureModel(
            mixem.GaussianFull().components(means=np.zeros((1, 1)), covariances=np.ones((1, 1, 1))),
            1,
        ),
        TypeError,
        "pass the family itself",
    ),
    (
        "component not a class",
        lambda: mixem.MixtureModel("full", 2),
        TypeError,
        "must be a family",
    ),
    ("abstract component", lambda: mixem.MixtureModel(mixem.Component, 2), TypeError, "abstract"),
    (
        "families and sizes",
        lambda: mixem.MixtureModel([mixem.GaussianFull, mixem.GaussianTied], [1, 2, 3]),
        ValueError,
        "n_components has 3 entries but 2 component families",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_named(call, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        call()


def test_there_are_at_least_fifteen_cases():
    assert len(CASES) >= 15


def test_prediction_checks_feature_count():
    res = fit()
    with pytest.raises(ValueError, match="X has 3 features, but the model was fitted with 2"):
        res.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        res.score_samples(np.array([[np.nan, 0.0]]))


def test_prediction_checks_dataframe_columns():
    df = pd.DataFrame(GOOD, columns=["a", "b"])
    res = fit(df)
    with pytest.raises(ValueError, match=r"X has columns \['b', 'a'\], but the model was fitted"):
        res.predict(df[["b", "a"]])
    np.testing.assert_array_equal(res.predict(df.to_numpy()), res.predict(df))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="not a mixem result file"):
        mixem.load(path)
    (tmp_path / "y.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a mixem result file"):
        mixem.load(tmp_path / "y.txt")


@pytest.mark.parametrize(
    ("call", "exc", "fragment"),
    [
        (
            lambda: fit(init_params={**GOOD_PARAMS, "means": np.zeros((2, 3))}),
            ValueError,
            "covariances must have shape (2, 3, 3)",
        ),
        (
            lambda: fit(init_params={**GOOD_PARAMS, "means": "ab"}),
            TypeError,
            "init_params: means must be a numeric array",
        ),
        (
            lambda: mixem.MixtureModel([mixem.GaussianFull, mixem.GaussianTied], [1, 1]).fit(
                GOOD, init_params={"weights": [0.5, 0.5], "components": 3}
            ),
            TypeError,
            "init_params['components'] must be a list",
        ),
        (
            lambda: fit(model_kw={"random_state": -1}),
            ValueError,
            "random_state must be a non-negative int, got -1",
        ),
        (lambda: fit(GOOD * 1e160), ValueError, "too large to square in float64"),
        (lambda: fit(GOOD * 1e-170), ValueError, "too close together"),
        (
            lambda: fit(sample_weight=np.r_[np.ones(3), np.zeros(57)]),
            ValueError,
            "X has 3 rows with positive sample_weight; 2 components of GaussianFull",
        ),
        (
            lambda: fit(
                pd.DataFrame({"a": pd.array([1, None] * 30, dtype="Int64"), "b": GOOD[:, 1]})
            ),
            ValueError,
            "non-finite values (first: NaN at row 1, column 'a')",
        ),
    ],
    ids=[
        "init wrong d",
        "init non-numeric",
        "init components",
        "negative seed",
        "huge",
        "tiny",
        "few weighted rows",
        "pandas NA",
    ],
)
def test_more_bad_inputs(call, exc, fragment):
    with pytest.raises(exc, match=re.escape(fragment)):
        call()


def test_random_rows_init_ignores_zero_weight_duplicates():
    X = np.repeat(GOOD, 2, axis=0)
    w = np.tile([0.0, 1.0], 60)
    res = mixem.MixtureModel(mixem.GaussianFull, 2, init="random_rows", random_state=0).fit(
        X, sample_weight=w
    )
    assert np.isfinite(res.loglik)


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda: mixem.GaussianFull(np.zeros((1, 2)), np.eye(2)[None]), "means=..., covariances"),
        (lambda: mixem.GaussianDiagonal(means=np.zeros((1, 2))), "means=..., covariances"),
        (lambda: mixem.Poisson(np.ones((1, 2))), r"Poisson\(\)\.components\(rates=\.\.\.\)"),
        (lambda: mixem.StudentT([[0.0, 0.0]]), "means=..., covariances=..., dof=..."),
        (lambda: mixem.Bernoulli(probabilities=[[0.2]]), "probabilities=..."),
    ],
)
def test_parameter_arrays_given_to_a_family_say_how_to_build_components(call, hint):
    # Families took their parameter arrays before they were values; the old call says what
    # replaced it.
    with pytest.raises(TypeError, match=f"not parameter arrays; build components with .*{hint}"):
        call()


def test_init_params_name_the_array_with_the_wrong_component_count():
    X = mixem.datasets.load_faithful().to_numpy()
    start = {"weights": [0.5, 0.5], "means": np.zeros((3, 2)), "covariances": [np.eye(2)] * 2}
    with pytest.raises(ValueError, match="means for GaussianFull describe 3 components, the mo"):
        mixem.MixtureModel(mixem.GaussianFull, 2).fit(X, init_params=start)
    # A one-element shape reads as Python writes it.
    spherical = {"weights": [0.5, 0.5], "means": np.zeros((2, 2)), "covariances": [[1.0], [1.0]]}
    with pytest.raises(ValueError, match=r"covariances must have shape \(2,\), got \(2, 1\)"):
        mixem.MixtureModel(mixem.GaussianSpherical, 2).fit(X, init_params=spherical)


def test_a_sparse_matrix_is_refused_as_sparse():
    from scipy import sparse

    X = sparse.csr_matrix(mixem.datasets.load_faithful().to_numpy())
    with pytest.raises(TypeError, match=r"X is a scipy sparse csr_matrix.*X.toarray\(\)"):
        mixem.MixtureModel(mixem.GaussianFull, 2).fit(X)


def test_an_effective_row_count_never_reads_as_the_bound_it_misses():
    from mixem.em.events import rounded_down

    assert [rounded_down(v) for v in (1.9996, 2.0, 0.012345, 123456.0)] == [
        "1.99",
        "2",
        "0.0123",
        "123000",
    ]
    X = mixem.datasets.load_faithful().to_numpy()
    share = 1.9996 / X.shape[0]
    resp = np.column_stack([np.full(X.shape[0], 1 - share), np.full(X.shape[0], share)])
    with pytest.raises(ValueError, match="carries 1.99 effective rows; GaussianDiagonal needs"):
        mixem.MixtureModel(mixem.GaussianDiagonal, 2).fit(X, init_params={"resp": resp})


def test_a_row_with_a_hole_given_to_a_fitted_model_is_not_told_to_fit():
    X = mixem.datasets.load_faithful().to_numpy()
    result = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X)
    for method in (result.predict, result.predict_proba, result.score_samples):
        with pytest.raises(ValueError, match="a fitted model scores complete rows only") as err:
            method(np.array([[np.nan, 70.0]]))
        assert "before fitting" not in str(err.value)


def test_weights_summing_to_fewer_rows_than_the_components_need_are_refused():
    X = mixem.datasets.load_faithful().to_numpy()
    w = np.full(X.shape[0], 1.0 / X.shape[0])  # normalised: one observation in all
    with pytest.raises(ValueError, match="sample_weight sums to 1: frequency weights"):
        mixem.MixtureModel(mixem.GaussianFull, 2).fit(X, sample_weight=w)
