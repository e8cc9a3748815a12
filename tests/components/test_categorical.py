"""mixem.Categorical: direct-indexing oracle, closed-form M-step, levels, pandas categoricals."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixem
from mixem.components.stats import CategoricalStats
from mixem.testing import check_component

# Three components, columns with 3, 2 and 4 levels (zero-padded to 4); some probabilities 0.
PROBS = np.array(
    [
        [[0.7, 0.2, 0.1, 0.0], [0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]],
        [[0.1, 0.1, 0.8, 0.0], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]],
        [[0.0, 0.5, 0.5, 0.0], [0.3, 0.7, 0.0, 0.0], [0.6, 0.0, 0.0, 0.4]],
    ]
)
LEVELS = [3, 2, 4]


def oracle(X):
    """Sum over columns of scipy's one-trial multinomial log-pmf of the one-hot row."""
    out = np.zeros((X.shape[0], PROBS.shape[0]))
    for c in range(PROBS.shape[0]):
        for j, L in enumerate(LEVELS):
            onehot = np.eye(L)[X[:, j].astype(int)]
            out[:, c] += stats.multinomial.logpmf(onehot, 1, PROBS[c, j, :L])
    return out


def test_check_component():
    with np.errstate(divide="ignore"):  # scipy's log of the zero probabilities
        check_component(
            mixem.Categorical().components(probabilities=PROBS, n_levels=LEVELS), oracle=oracle
        )


def test_log_prob_matches_scipy_and_direct_indexing():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, L, 400) for L in LEVELS]).astype(float)
    got = mixem.Categorical().components(probabilities=PROBS, n_levels=LEVELS).log_prob(X)
    with np.errstate(divide="ignore"):
        ref = oracle(X)
        direct = sum(np.log(PROBS[:, j, X[:, j].astype(int)]).T for j in range(3))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[finite], direct[finite], rtol=1e-12, atol=1e-12)
    assert np.isfinite(got).any(axis=1).all()  # every such row is possible somewhere


@pytest.mark.parametrize("code", [-1.0, 2.0, 7.0, 0.5])
def test_codes_that_are_not_levels_have_probability_zero(code):
    X = np.array([[0.0, 1.0, 3.0], [0.0, code, 3.0]])
    got = mixem.Categorical().components(probabilities=PROBS, n_levels=LEVELS).log_prob(X)
    assert np.isfinite(got[0]).any() and np.isneginf(got[1]).all()


def test_m_step_is_the_closed_form():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, L, 300) for L in LEVELS]).astype(float)
    resp = rng.dirichlet(np.ones(3), size=300)
    fitted = mixem.Categorical().from_statistics(mixem.Categorical().statistics(X, resp))
    np.testing.assert_array_equal(fitted.n_levels, LEVELS)
    for c in range(3):
        for j, L in enumerate(LEVELS):
            expected = [resp[X[:, j] == v, c].sum() / resp[:, c].sum() for v in range(L)]
            np.testing.assert_allclose(fitted.probabilities[c, j, :L], expected, rtol=1e-12)
            assert np.all(fitted.probabilities[c, j, L:] == 0.0)


def test_levels_come_from_the_largest_code_with_weight():
    X = np.array([[0.0, 1.0], [2.0, 0.0], [5.0, 1.0]])
    resp = np.ones((3, 1))
    resp[2] = 0.0  # code 5 has no weight: column 0 has levels 0, 1, 2
    fitted = mixem.Categorical().from_statistics(mixem.Categorical().statistics(X, resp))
    np.testing.assert_array_equal(fitted.n_levels, [3, 2])
    np.testing.assert_allclose(fitted.probabilities[0, 0], [0.5, 0.0, 0.5])


def test_statistics_of_chunks_with_different_widths_merge_exactly():
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.integers(0, 6, 90), rng.integers(0, 2, 90)]).astype(float)
    X[:45, 0] = np.minimum(X[:45, 0], 1.0)  # the first chunk sees only codes 0 and 1
    resp = rng.dirichlet(np.ones(2), size=90)
    whole = mixem.Categorical().statistics(X, resp)
    a = mixem.Categorical().statistics(X[:45], resp[:45])
    b = mixem.Categorical().statistics(X[45:], resp[45:])
    assert a.counts.shape[2] == 2 and whole.counts.shape[2] == 6
    for merged in (a + b, b + a):
        np.testing.assert_allclose(merged.counts, whole.counts, rtol=1e-13)
        np.testing.assert_allclose(merged.weight, whole.weight, rtol=1e-13)
    replaced = whole.replace(np.array([False, True]), a)
    np.testing.assert_array_equal(replaced.counts[1, :, :2], a.counts[1])
    np.testing.assert_array_equal(replaced.counts[0], whole.counts[0])
    assert isinstance(replaced, CategoricalStats)


def test_fit_recovers_probabilities_within_standard_errors():
    true = mixem.Categorical().components(probabilities=PROBS[:2], n_levels=LEVELS)
    counts = np.array([1500, 1000])
    X = true.sample(counts, np.random.default_rng(3))
    res = mixem.MixtureModel(mixem.Categorical, n_components=2, random_state=0).fit(X)
    p = res.components[0].probabilities
    order = np.argsort(-p[:, 0, 0])
    p = p[order]
    n_k = counts[:, None, None]
    # Binomial standard errors of a labelled sample; at a true 0 or 1 (no variance of its own)
    # the estimate still moves by rows the other class lends it: one row's worth, 1 / n_k.
    se = np.sqrt((true.probabilities * (1 - true.probabilities) + 1 / n_k) / n_k)
    assert np.all(np.abs(p - true.probabilities) <= 5 * se)
    padding = np.arange(4) >= np.array(LEVELS)[:, None]
    assert np.all(p[:, padding] == 0.0)
    w = counts / counts.sum()
    assert np.all(np.abs(res.weights[order] - w) < 5 * np.sqrt(w * (1 - w) / counts.sum()))


@pytest.mark.parametrize(
    ("levels", "k", "expected"),
    [([2], 1, 1), ([3, 2, 4], 3, 3 * 6), ([5, 5], 2, 16), ([1, 3], 4, 8)],
)
def test_n_parameters(levels, k, expected):
    probs = np.zeros((k, len(levels), max(levels)))
    for j, L in enumerate(levels):
        probs[:, j, :L] = 1.0 / L
    assert (
        mixem.Categorical().components(probabilities=probs, n_levels=levels).n_parameters()
        == expected
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"probabilities": [[[0.5, 0.6]]]}, r"probabilities\[0, 0\] must sum to 1"),
        ({"probabilities": [[[1.5, -0.5]]]}, r"probabilities\[0\] must lie in \[0, 1\]"),
        ({"probabilities": [[0.5, 0.5]]}, r"probabilities must have shape \(\?, \?, \?\)"),
        (
            {"probabilities": [[[0.5, 0.5], [0.5, 0.5]]], "n_levels": [2, 1]},
            r"probabilities\[0, 1, 1\] must be 0: column 1 has n_levels\[1\] = 1",
        ),
        ({"probabilities": [[[0.5, 0.5]]], "n_levels": [3]}, "largest value"),
        ({"probabilities": [[[0.5, 0.5]]], "n_levels": [1.5]}, "n_levels must be integers"),
        ({"probabilities": [[[0.5, 0.5]]], "n_levels": [2, 2]}, r"n_levels must have shape"),
    ],
)
def test_invalid_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mixem.Categorical().components(**kwargs)


@pytest.mark.parametrize("value", [-1.0, 1.5])
def test_fit_rejects_negative_and_non_integer_codes(value):
    X = np.random.default_rng(4).integers(0, 3, size=(30, 2)).astype(float)
    X[2, 1] = value
    with pytest.raises(ValueError, match=f"Categorical needs integer codes.*{value:g} at row 2"):
        mixem.MixtureModel(mixem.Categorical, n_components=2).fit(X)


def test_predict_with_an_unseen_code_is_a_clear_error():
    X = (
        mixem.Categorical()
        .components(probabilities=PROBS[:2], n_levels=LEVELS)
        .sample(np.array([50, 50]), np.random.default_rng(5))
    )
    res = mixem.MixtureModel(mixem.Categorical, n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="row 1 of X has density zero under every component"):
        res.predict([[0.0, 1.0, 2.0], [0.0, 2.0, 2.0]])


def survey(seed=6, n=300):
    """A DataFrame of two categorical answers and one ordered rating, from two classes."""
    true = mixem.Categorical().components(probabilities=PROBS[:2], n_levels=LEVELS)
    X = true.sample(np.array([n // 2, n - n // 2]), np.random.default_rng(seed)).astype(int)
    colour = pd.Categorical.from_codes(X[:, 0], categories=["red", "green", "blue"])
    answer = pd.Categorical.from_codes(X[:, 1], categories=["no", "yes"])
    rating = pd.Categorical.from_codes(X[:, 2], categories=[1, 2, 3, 4], ordered=True)
    return pd.DataFrame({"colour": colour, "answer": answer, "rating": rating}), X


def test_pandas_categorical_columns_fit_as_their_codes():
    frame, codes = survey()
    model = mixem.MixtureModel(mixem.Categorical, n_components=2, init="kmeans++", random_state=0)
    from_frame = model.fit(frame)
    from_codes = model.fit(codes.astype(float))
    assert from_frame.loglik == from_codes.loglik
    assert from_frame.feature_names == ("colour", "answer", "rating")
    assert from_frame.categories == {
        "colour": ("red", "green", "blue"),
        "answer": ("no", "yes"),
        "rating": (1, 2, 3, 4),
    }
    np.testing.assert_array_equal(from_frame.predict(frame), from_codes.predict(codes))
    # New data with the same labels in another category order, or as plain values.
    reordered = frame.assign(
        colour=frame["colour"].cat.reorder_categories(["blue", "red", "green"])
    )
    plain = frame.assign(colour=frame["colour"].astype(str), answer=frame["answer"].astype(str))
    np.testing.assert_array_equal(from_frame.predict(reordered), from_frame.predict(frame))
    np.testing.assert_array_equal(from_frame.predict(plain), from_frame.predict(frame))


def test_unseen_category_names_the_column_and_value():
    frame, _ = survey()
    res = mixem.MixtureModel(mixem.Categorical, n_components=2, random_state=0).fit(frame)
    new = frame.head(3).assign(colour=pd.Categorical(["red", "purple", "blue"]))
    with pytest.raises(
        ValueError, match=r"X column 'colour' has 1 values.*first: 'purple' at row 1"
    ):
        res.predict(new)


def test_categories_survive_save_and_load(tmp_path):
    frame, _ = survey()
    res = mixem.MixtureModel(mixem.Categorical, n_components=2, random_state=0).fit(frame)
    res.save(tmp_path / "survey.npz")
    loaded = mixem.load(tmp_path / "survey.npz")
    assert loaded.categories == res.categories
    np.testing.assert_array_equal(loaded.predict(frame), res.predict(frame))


def test_gaussian_families_still_reject_categorical_columns():
    frame, _ = survey()
    with pytest.raises(TypeError, match="column 'colour' has dtype category"):
        mixem.MixtureModel(mixem.GaussianDiagonal, n_components=2).fit(frame)


def test_a_column_with_one_level_has_probability_exactly_one():
    rng = np.random.default_rng(7)
    X = np.column_stack([rng.integers(0, 3, 500), np.zeros(500)])
    resp = rng.dirichlet(np.ones(3), size=500)
    fitted = mixem.Categorical().from_statistics(mixem.Categorical().statistics(X, resp))
    np.testing.assert_array_equal(fitted.n_levels, [3, 1])
    np.testing.assert_array_equal(fitted.probabilities[:, 1, 0], 1.0)
