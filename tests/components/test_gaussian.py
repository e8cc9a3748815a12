"""Gaussian families against scipy.stats, closed forms and the conformance suite."""

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem.testing import check_component

RNG = np.random.default_rng(7)
K, D = 3, 4
MEANS = RNG.normal(scale=4.0, size=(K, D))
_A = RNG.normal(size=(K, D, D))
FULL = _A @ _A.transpose(0, 2, 1) + np.eye(D)
DIAG = RNG.uniform(0.5, 3.0, size=(K, D))
SPH = np.array([0.5, 1.0, 2.5])
TIED = FULL[0]

# family -> (component, per-component full covariance for scipy)
CASES = {
    "full": (mixem.GaussianFull().components(means=MEANS, covariances=FULL), list(FULL)),
    "diagonal": (
        mixem.GaussianDiagonal().components(means=MEANS, covariances=DIAG),
        [np.diag(v) for v in DIAG],
    ),
    "spherical": (
        mixem.GaussianSpherical().components(means=MEANS, covariances=SPH),
        [s * np.eye(D) for s in SPH],
    ),
    "tied": (mixem.GaussianTied().components(means=MEANS, covariances=TIED), [TIED] * K),
}


def scipy_oracle(covs):
    def oracle(X):
        return np.column_stack(
            [stats.multivariate_normal(MEANS[j], covs[j]).logpdf(X) for j in range(K)]
        )

    return oracle


@pytest.mark.parametrize("name", CASES)
def test_check_component(name):
    comp, covs = CASES[name]
    check_component(comp, oracle=scipy_oracle(covs))


@pytest.mark.parametrize("name", CASES)
def test_log_prob_on_offset_data_matches_scipy(name):
    comp, covs = CASES[name]
    X = RNG.normal(size=(50, D)) + MEANS[0]
    np.testing.assert_allclose(comp.log_prob(X), scipy_oracle(covs)(X), rtol=1e-12)
    shifted = comp.family.components(means=comp.means + 1e8, covariances=comp.covariances)
    np.testing.assert_allclose(shifted.log_prob(X + 1e8), comp.log_prob(X), rtol=1e-7)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("full", K * (D + D * (D + 1) // 2)),
        ("diagonal", 2 * K * D),
        ("spherical", K * (D + 1)),
        ("tied", K * D + D * (D + 1) // 2),
    ],
)
def test_n_parameters_closed_form(name, expected):
    comp, _ = CASES[name]
    assert comp.n_parameters() == expected


@pytest.mark.parametrize(
    ("family", "count"),
    [
        (mixem.GaussianFull, lambda k, d: k * (d + d * (d + 1) // 2) + k - 1),
        (mixem.GaussianDiagonal, lambda k, d: 2 * k * d + k - 1),
        (mixem.GaussianSpherical, lambda k, d: k * (d + 1) + k - 1),
        (mixem.GaussianTied, lambda k, d: k * d + d * (d + 1) // 2 + k - 1),
    ],
)
@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 3), (4, 2)])
def test_result_parameter_counts(family, count, k, d):
    rng = np.random.default_rng(k * 10 + d)
    X = np.concatenate([rng.normal(loc=8 * j, size=(80, d)) for j in range(k)])
    res = mixem.MixtureModel(family, n_components=k, random_state=0).fit(X)
    assert res.n_parameters == count(k, d)
    assert res.bic == pytest.approx(-2 * res.loglik + count(k, d) * np.log(X.shape[0]))
    assert res.aic == pytest.approx(-2 * res.loglik + 2 * count(k, d))


def test_gaussian_stats_merge_is_exact_on_offset_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 2)) + 1e8
    resp = np.ones((2000, 1))
    whole = mixem.GaussianStats.from_data(X, resp, full=True)
    merged = mixem.GaussianStats.from_data(X[:700], resp[:700], full=True) + (
        mixem.GaussianStats.from_data(X[700:], resp[700:], full=True)
    )
    ref = np.cov((X - 1e8).T, bias=True) * 2000
    np.testing.assert_allclose(merged.scatter[0], ref, rtol=1e-6)
    np.testing.assert_allclose(whole.scatter[0], ref, rtol=1e-6)


@pytest.mark.parametrize(
    ("family", "covariances", "fragment"),
    [
        (mixem.GaussianFull, np.stack([np.eye(2), -np.eye(2)]), "covariances[1] is not positive"),
        (mixem.GaussianFull, np.stack([np.eye(2), [[1, 2], [0, 1]]]), "not symmetric"),
        (mixem.GaussianFull, np.eye(2), "covariances must have shape (2, 2, 2)"),
        (mixem.GaussianDiagonal, [[1, 1], [1, 0]], "covariances[1] must be positive"),
        (mixem.GaussianSpherical, [1.0, np.nan], "NaN or infinite"),
        (mixem.GaussianTied, np.ones((2, 2)), "not positive definite"),
    ],
)
def test_invalid_parameters_are_named(family, covariances, fragment):
    with pytest.raises(
        ValueError,
        match=fragment.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        family().components(means=np.zeros((2, 2)), covariances=covariances)


@pytest.mark.parametrize("separation", [1e3, 1e6, 1e8])
@pytest.mark.parametrize("d", [2, 40])
def test_far_apart_clusters_are_exact(separation, d):
    """Shortcut kernels centre on one shared point; far components must fall back to exact."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 200)
    centres = np.zeros((3, d))
    centres[1, 0] = separation
    centres[2, -1] = -separation / 3
    X = centres[labels] + rng.normal(size=(600, d)) * rng.uniform(0.5, 2.0, d)
    resp = np.eye(3)[labels]
    # Values near the separation are stored to eps * separation; nothing can be closer.
    floor = 10 * np.finfo(float).eps * separation
    for family in (mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied):
        comp = family().from_statistics(family().statistics(X, resp))
        groups = [X[labels == j] for j in range(3)]
        means = np.stack([g.mean(axis=0) for g in groups])
        var = np.stack([g.var(axis=0) for g in groups])
        if family is mixem.GaussianDiagonal:
            ref_cov, dens = var, [np.diag(v) for v in var]
        elif family is mixem.GaussianSpherical:
            ref_cov = var.mean(axis=1)
            dens = [s * np.eye(d) for s in ref_cov]
        else:
            ref_cov = sum(np.cov((g - g.mean(axis=0)).T, bias=True) * len(g) for g in groups) / 600
            dens = [ref_cov] * 3
        np.testing.assert_allclose(comp.means, means, rtol=1e-12, atol=floor)
        np.testing.assert_allclose(
            comp.covariances, ref_cov, rtol=1e-9, atol=1e-10 * np.abs(ref_cov).max()
        )
        ref = np.column_stack(
            [stats.multivariate_normal(means[j], dens[j]).logpdf(X) for j in range(3)]
        )
        np.testing.assert_allclose(comp.log_prob(X), ref, rtol=1e-9, atol=floor)


def test_tight_cluster_far_from_another_is_not_collapsed():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.002, 300), rng.normal(100, 1, 300)]
    for family in (mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical):
        res = mixem.MixtureModel(family, 2, random_state=0).fit(X)
        np.testing.assert_allclose(np.sort(res.means[:, 0]), [0, 100], atol=0.2)
        assert not res.trace.reseeded.any()


def test_regularised_fits_may_lose_likelihood_without_warning():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(4, 1, (300, 2))]) * 1e-4
    res = mixem.MixtureModel(mixem.GaussianDiagonal, 2, random_state=0).fit(X)
    assert res.converged  # no RuntimeWarning under filterwarnings=error
