"""mixem.Bernoulli against scipy.stats, the closed-form M-step and the conformance suite."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixem
from mixem.testing import check_component

PROBS = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.3, 0.9, 0.5], [0.5, 1.0, 0.5, 0.25]])


def oracle(probs):
    return lambda X: np.column_stack([stats.bernoulli.logpmf(X, p).sum(axis=1) for p in probs])


def test_check_component():
    check_component(mixem.Bernoulli().components(probabilities=PROBS), oracle=oracle(PROBS))


def test_log_prob_matches_scipy_including_bounds_and_off_support():
    X = (np.random.default_rng(0).random((300, 4)) < 0.5).astype(float)
    X[7] = [1.0, 1.0, 0.0, 0.0]  # possible under p = 0 (feature 3) and p = 1 (feature 1)
    X[8, 2] = 2.0  # not binary: probability 0 everywhere
    X[9, 0] = 0.5
    got = mixem.Bernoulli().components(probabilities=PROBS).log_prob(X)
    with np.errstate(divide="ignore"):
        ref = oracle(PROBS)(X)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12, atol=1e-12)
    assert np.isfinite(got[7]).all()
    assert np.isneginf(got[8:10]).all()
    assert not np.isnan(got).any()


def test_m_step_is_the_closed_form():
    rng = np.random.default_rng(1)
    X = (rng.random((200, 4)) < 0.3).astype(float)
    resp = rng.dirichlet(np.ones(3), size=200)
    fitted = mixem.Bernoulli().from_statistics(mixem.Bernoulli().statistics(X, resp))
    expected = np.array(
        [[resp[X[:, j] == 1, c].sum() / resp[:, c].sum() for j in range(4)] for c in range(3)]
    )
    np.testing.assert_allclose(fitted.probabilities, expected, rtol=1e-12)


def test_constant_features_give_probability_zero_and_one_and_finite_log_prob():
    X = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    fitted = mixem.Bernoulli().from_statistics(mixem.Bernoulli().statistics(X, np.ones((3, 1))))
    np.testing.assert_array_equal(fitted.probabilities, [[0.0, 1.0, 2.0 / 3.0]])
    assert np.isfinite(fitted.log_prob(X)).all()


def test_fit_recovers_probabilities_within_standard_errors():
    true = mixem.Bernoulli().components(
        probabilities=[[0.9, 0.8, 0.2, 0.1, 0.6], [0.2, 0.1, 0.7, 0.9, 0.4]]
    )
    counts = np.array([1200, 1800])
    X = true.sample(counts, np.random.default_rng(2))
    res = mixem.MixtureModel(mixem.Bernoulli, n_components=2, random_state=0).fit(X)
    order = np.argsort(-res.components[0].probabilities[:, 0])
    p = res.components[0].probabilities[order]
    se = np.sqrt(true.probabilities * (1 - true.probabilities) / counts[:, None])
    # Overlapping classes cost some information: five standard errors of a labelled sample.
    assert np.all(np.abs(p - true.probabilities) < 5 * se)
    w = counts / counts.sum()
    assert np.all(np.abs(res.weights[order] - w) < 5 * np.sqrt(w * (1 - w) / counts.sum()))


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 5), (3, 2)])
def test_n_parameters(k, d):
    assert mixem.Bernoulli().components(probabilities=np.full((k, d), 0.5)).n_parameters() == k * d


@pytest.mark.parametrize(
    ("probabilities", "match"),
    [
        ([[0.5, 1.5]], r"probabilities\[0\] must lie in \[0, 1\]"),
        ([[0.5], [-0.1]], r"probabilities\[1\] must lie in \[0, 1\]"),
        ([[np.inf, 0.5]], "probabilities contains NaN or infinite"),
        (np.zeros((2, 0)), "probabilities must not be empty"),
    ],
)
def test_invalid_probabilities_are_named(probabilities, match):
    with pytest.raises(ValueError, match=match):
        mixem.Bernoulli().components(probabilities=probabilities)


def test_fit_rejects_values_other_than_zero_and_one():
    X = (np.random.default_rng(3).random((40, 3)) < 0.5).astype(float)
    X[5, 2] = 2.0
    with pytest.raises(ValueError, match=r"Bernoulli needs binary data.*first: 2 at row 5, col"):
        mixem.MixtureModel(mixem.Bernoulli, n_components=2).fit(X)


def test_bool_arrays_and_dataframes_fit_as_zero_one():
    X = np.random.default_rng(4).random((120, 3)) < np.array([0.2, 0.5, 0.8])
    model = mixem.MixtureModel(mixem.Bernoulli, n_components=2, init="kmeans++", random_state=0)
    as_float = model.fit(X.astype(float))
    as_bool = model.fit(X)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    as_frame = model.fit(frame)
    assert as_bool.loglik == as_float.loglik == as_frame.loglik
    assert as_frame.feature_names == ("a", "b", "c")
    np.testing.assert_array_equal(as_frame.predict(frame), as_float.predict(X.astype(float)))
