"""Spurious maxima: likelihood spikes on a few rows are flagged, and select does not choose them."""

import warnings
from pathlib import Path

import numpy as np
import pytest

import mixem


def planted(seed=0):
    """Two 3-D clusters of 100 rows, plus 3 near-identical rows between them."""
    rng = np.random.default_rng(seed)
    spike = np.array([[3.0, 3.0, 3.0]]) + 1e-4 * rng.normal(size=(3, 3))
    return np.concatenate([rng.normal(0, 1, (100, 3)), rng.normal(6, 1, (100, 3)), spike])


@pytest.mark.parametrize(
    "family, covariances",
    [
        (mixem.GaussianFull, [np.eye(3), np.diag([1.0, 1.0, 1.5e-6])]),
        (mixem.GaussianDiagonal, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.5e-6]]),
        (mixem.GaussianSpherical, [1.0, 1.5e-6]),
    ],
)
def test_gaussian_rules(family, covariances):
    comp = family().components(means=np.zeros((2, 3)), covariances=np.array(covariances))
    # Component 1 is flat down to reg_covar=1e-6 (its own spread 0.5e-6 <= 1e-6).
    np.testing.assert_array_equal(comp.spurious(np.array([50.0, 50.0]), 1e-6), [False, True])
    # Without that regulariser it is an ordinary thin component.
    np.testing.assert_array_equal(comp.spurious(np.array([50.0, 50.0]), 1e-9), [False, False])
    # d = 3 rows or fewer (up to leakage below d + 1) is spurious whatever the covariance.
    np.testing.assert_array_equal(comp.spurious(np.array([3.4, 4.0]), 1e-9), [True, False])


def test_tied_flat_shared_covariance_flags_every_component():
    comp = mixem.GaussianTied().components(
        means=np.zeros((2, 2)), covariances=np.diag([1.0, 1.2e-6])
    )
    np.testing.assert_array_equal(comp.spurious(np.array([50.0, 50.0]), 1e-6), [True, True])
    # A small tied component is a cluster with the shared spread, not a spike (issue: "the
    # spurious rule does not flag a small GaussianTied component").
    np.testing.assert_array_equal(comp.spurious(np.array([50.0, 2.5]), 1e-9), [False, False])


def test_a_custom_family_flags_nothing_by_default(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "examples"))
    from poisson_component import PoissonFamily

    comp = PoissonFamily().components(rates=np.ones((2, 3)))
    assert not comp.spurious(np.array([0.5, 100.0]), 1e-6).any()


def test_planted_spike_is_marked_and_not_selected():
    X = planted()
    fits = []
    for seed in range(20):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # re-seeded starts are expected here
                fits.append(
                    mixem.MixtureModel(
                        mixem.GaussianSpherical, 3, init="kmeans++", random_state=seed
                    ).fit(X)
                )
        except mixem.FitError:
            continue
    spiky = [r for r in fits if r.spurious.any()]
    assert spiky, "some k-means++ start should land on the planted spike"
    for r in spiky:
        j = int(np.flatnonzero(r.spurious)[0])
        assert r.weights[j] * r.n_obs < 4
        np.testing.assert_allclose(r.means[j], [3.0, 3.0, 3.0], atol=1e-2)
    clean = [r for r in fits if not r.spurious.any()]
    # The spike wins on likelihood, which is why it must be excluded rather than compared.
    assert max(r.loglik for r in spiky) > max(r.loglik for r in clean)

    study = mixem.select(X, range(1, 5), n_init=10, init="kmeans++", random_state=0)
    table = study.table
    assert table["spurious"].any()
    marked = table[table["spurious"]]
    assert marked["status"].str.startswith("excluded: spurious: component").all()
    assert not study.best.spurious.any()
    assert np.all(study.best.weights * study.best.n_obs > 4)
    # Without exclusion the spike can win the BIC table: the flag is what stops it.
    loose = mixem.select(
        X, range(1, 5), n_init=10, init="kmeans++", random_state=0, exclude_spurious=False
    )
    assert loose.table["bic"].min() == pytest.approx(
        loose.table.loc[loose.table["spurious"], "bic"].min()
    )
    assert loose.best.spurious.any()


def test_select_refuses_when_every_fit_is_spurious():
    rng = np.random.default_rng(1)
    # Three rows in 3-D: any Gaussian component sits on d or fewer rows.
    X = rng.normal(size=(3, 3))
    with pytest.raises(mixem.FitError, match="exclude_spurious=False"):
        mixem.select(X, [1], components=[mixem.GaussianSpherical], random_state=0)


def test_a_small_tied_component_is_not_spurious():
    # A shared covariance makes no spike on a few rows; a component's own covariance does.
    means, cov = np.array([[0.0, 0.0], [5.0, 5.0]]), np.eye(2)
    tied = mixem.GaussianTied().components(means=means, covariances=cov)
    full = mixem.GaussianFull().components(means=means, covariances=np.stack([cov, cov]))
    counts = np.array([1.0, 200.0])
    np.testing.assert_array_equal(tied.spurious(counts, 1e-6), [False, False])
    np.testing.assert_array_equal(full.spurious(counts, 1e-6), [True, False])
