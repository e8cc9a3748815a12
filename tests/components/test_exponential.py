"""mixem.Exponential against scipy.stats, the closed-form M-step and the conformance suite."""

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem.testing import check_component

RATES = np.array([[0.5, 3.0], [6.0, 0.2], [40.0, 1.0]])
FAMILY = mixem.Exponential()


def stack(rates):
    return FAMILY.components(rates=rates)


def oracle(rates):
    return lambda X: np.column_stack(
        [stats.expon.logpdf(X, scale=1.0 / r).sum(axis=1) for r in rates]
    )


def test_check_component():
    check_component(stack(RATES), oracle=oracle(RATES))


def test_log_prob_matches_scipy_including_zero_and_negative_values():
    X = np.random.default_rng(0).exponential(2.0, size=(300, 2))
    X[0, 0] = 0.0  # density rate at 0
    X[1, 1] = -1e-3  # density 0
    got = stack(RATES).log_prob(X)
    ref = oracle(RATES)(X)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-12, atol=1e-12)
    assert np.isneginf(got[1]).all() and np.isfinite(got[0]).all()


def test_m_step_is_the_closed_form():
    rng = np.random.default_rng(1)
    X = rng.exponential(3.0, size=(200, 2))
    resp = rng.dirichlet(np.ones(3), size=200)
    fitted = FAMILY.from_statistics(FAMILY.statistics(X, resp))
    expected = np.array(
        [[resp[:, c].sum() / np.sum(resp[:, c] * X[:, j]) for j in range(2)] for c in range(3)]
    )
    np.testing.assert_allclose(fitted.rates, expected, rtol=1e-12)


def test_fit_recovers_rates_within_standard_errors():
    true = stack([[0.1, 2.0], [5.0, 0.05]])
    counts = np.array([1500, 1000])
    X = true.sample(counts, np.random.default_rng(2))
    res = mixem.MixtureModel(mixem.Exponential, n_components=2, random_state=0).fit(X)
    order = np.argsort(res.components[0].rates[:, 0])
    rates = res.components[0].rates[order]
    se = true.rates / np.sqrt(counts[:, None])  # the rate's sd from n_k labelled rows
    assert np.all(np.abs(rates - true.rates) < 4 * se)
    w = counts / counts.sum()
    assert np.all(np.abs(res.weights[order] - w) < 4 * np.sqrt(w * (1 - w) / counts.sum()))


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 3)])
def test_n_parameters(k, d):
    assert stack(np.ones((k, d))).n_parameters() == k * d


@pytest.mark.parametrize(
    ("rates", "match"),
    [
        ([[1.0, 0.0]], r"rates\[0\] must be positive"),
        ([[1.0], [-2.0]], r"rates\[1\] must be positive"),
        ([[np.inf]], "rates contains NaN or infinite"),
    ],
)
def test_invalid_rates_are_named(rates, match):
    with pytest.raises(ValueError, match=match):
        stack(rates)


@pytest.mark.parametrize("value", [0.0, -2.0])
def test_fit_rejects_zero_and_negative_values(value):
    X = np.random.default_rng(3).exponential(1.0, size=(40, 2))
    X[4, 0] = value
    with pytest.raises(
        ValueError, match=f"Exponential needs positive data.*first: {value:g} at row 4, column 0"
    ):
        mixem.MixtureModel(mixem.Exponential, n_components=2).fit(X)


def test_m_step_on_only_zeros_names_the_problem():
    stats_ = FAMILY.statistics(np.zeros((3, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="component 0 has weighted sum 0 in feature 0"):
        FAMILY.from_statistics(stats_)


def test_the_family_is_a_value_and_its_class_means_it():
    assert mixem.Exponential() == mixem.Exponential() and mixem.Exponential().label == "Exponential"
    X = np.random.default_rng(4).exponential(2.0, size=(100, 1))
    by_class = mixem.MixtureModel(mixem.Exponential, n_components=2, random_state=0).fit(X)
    by_value = mixem.MixtureModel(mixem.Exponential(), n_components=2, random_state=0).fit(X)
    assert by_class.loglik == by_value.loglik
    assert by_class.components[0].family == mixem.Exponential()
