"""mixem.Poisson against scipy.stats, the closed-form M-step and the conformance suite."""

import warnings

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem.testing import check_component

RATES = np.array([[0.5, 3.0, 0.0], [6.0, 0.2, 12.0], [20.0, 8.0, 1.5]])


def oracle(rates):
    return lambda X: np.column_stack([stats.poisson.logpmf(X, r).sum(axis=1) for r in rates])


def test_check_component():
    check_component(mixem.Poisson().components(rates=RATES), oracle=oracle(RATES))


def test_log_prob_matches_scipy_including_rate_zero_and_off_support():
    rng = np.random.default_rng(0)
    X = rng.poisson(5.0, size=(300, 3)).astype(float)
    X[:5, 2] = 0.0  # possible under the rate-0 component
    X[5, 0] = -1.0  # negative count: probability 0
    X[6, 1] = 2.5  # non-integer count: probability 0
    got = mixem.Poisson().components(rates=RATES).log_prob(X)
    with np.errstate(divide="ignore"):
        ref = oracle(RATES)(X)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12, atol=1e-12)
    assert np.isfinite(got[:5, 0]).all()  # rate 0 in feature 2: a zero count is certain
    assert np.isneginf(got[5:7]).all()


def test_m_step_is_the_closed_form():
    rng = np.random.default_rng(1)
    X = rng.poisson(4.0, size=(200, 3)).astype(float)
    resp = rng.dirichlet(np.ones(3), size=200)
    fitted = mixem.Poisson().from_statistics(mixem.Poisson().statistics(X, resp))
    expected = np.array(
        [[np.sum(resp[:, c] * X[:, j]) / np.sum(resp[:, c]) for j in range(3)] for c in range(3)]
    )
    np.testing.assert_allclose(fitted.rates, expected, rtol=1e-12)


def test_all_zero_feature_gives_rate_zero_and_finite_log_prob():
    X = np.array([[0.0, 3.0], [0.0, 1.0], [0.0, 4.0]])
    fitted = mixem.Poisson().from_statistics(mixem.Poisson().statistics(X, np.ones((3, 1))))
    assert fitted.rates[0, 0] == 0.0
    assert np.isfinite(fitted.log_prob(X)).all()


def test_fit_recovers_rates_within_standard_errors():
    true = mixem.Poisson().components(rates=[[2.0, 10.0], [15.0, 3.0]])
    counts = np.array([1500, 2500])
    X = true.sample(counts, np.random.default_rng(2))
    res = mixem.MixtureModel(mixem.Poisson, n_components=2, random_state=0).fit(X)
    order = np.argsort(res.components[0].rates[:, 0])
    rates, weights = res.components[0].rates[order], res.weights[order]
    se = np.sqrt(true.rates / counts[:, None])  # sd of a rate estimated from n_k rows
    assert np.all(np.abs(rates - true.rates) < 4 * se)
    w = counts / counts.sum()
    assert np.all(np.abs(weights - w) < 4 * np.sqrt(w * (1 - w) / counts.sum()))


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 3), (4, 2)])
def test_n_parameters(k, d):
    assert mixem.Poisson().components(rates=np.ones((k, d))).n_parameters() == k * d


@pytest.mark.parametrize(
    ("rates", "match"),
    [
        ([[1.0, -0.5]], r"rates\[0\] must lie in \[0, inf\]"),
        ([[1.0, np.nan]], "rates contains NaN or infinite"),
        ([1.0, 2.0], r"rates must have shape \(\?, \?\)"),
        ("abc", "rates must be a numeric array"),
    ],
)
def test_invalid_rates_are_named(rates, match):
    with pytest.raises((TypeError, ValueError), match=match):
        mixem.Poisson().components(rates=rates)


@pytest.mark.parametrize(
    ("value", "match"),
    [(-1.0, "first: -1 at row 3, column 1"), (1.5, "first: 1.5 at row 3, column 1")],
)
def test_fit_rejects_negative_and_non_integer_counts(value, match):
    X = np.random.default_rng(3).poisson(3.0, size=(50, 2)).astype(float)
    X[3, 1] = value
    with pytest.raises(ValueError, match=f"Poisson needs non-negative integer counts.*{match}"):
        mixem.MixtureModel(mixem.Poisson, n_components=2).fit(X)


def test_predict_on_a_negative_count_is_a_clear_error():
    X = np.random.default_rng(4).poisson(3.0, size=(50, 2)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        res = mixem.MixtureModel(mixem.Poisson, n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="row 1 of X has density zero under every component"):
        res.predict([[1.0, 2.0], [-1.0, 2.0]])
