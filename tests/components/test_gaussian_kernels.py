"""The Gaussian kernels against an independent EM: scipy densities, numpy moments written out.

The families evaluate all components at once (stacked factors, a (k, d, n) stack of centred
rows) and build M-step parameters without re-validating them. These tests hold them to a
reference written here from scipy.stats and numpy alone, on the bundled data sets as they are,
offset by 1e8 and scaled by 1e-6, for every family and K in {1, 3, 9}.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import mixem
import mixem.components.gaussian as gaussian_module
import mixem.components.stats as stats_module

FAMILIES = [mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied]
ITERATIONS = 50


def _datasets():
    faithful = mixem.datasets.load_faithful().to_numpy(dtype=float)
    iris = mixem.datasets.load_iris().to_numpy(dtype=float)
    banknote = mixem.datasets.load_banknote().to_numpy(dtype=float)
    out = {}
    for name, X in [("faithful", faithful), ("iris", iris), ("banknote", banknote)]:
        out[name] = X
        out[f"{name}+1e8"] = X + 1e8
        out[f"{name}*1e-6"] = X * 1e-6
    return out


DATA = _datasets()


def _start(X, k):
    """Hard assignment to k groups of rows ordered along the first feature (no mixem code)."""
    labels = np.empty(X.shape[0], dtype=int)
    labels[np.argsort(X[:, 0], kind="stable")] = np.arange(X.shape[0]) * k // X.shape[0]
    return np.eye(k)[labels]


def _reference_m_step(family, X, resp, reg):
    """Weights, means and covariances (as the family shapes them) from responsibilities."""
    nk = resp.sum(axis=0)
    # Weighted means about one of the rows: a raw weighted sum of rows offset by 1e8 rounds
    # at that magnitude (an ulp of 1e8 is 1.5e-8), which is no reference at all.
    ref = X[X.shape[0] // 2]
    means = ref + resp.T @ (X - ref) / nk[:, None]
    d = X.shape[1]
    scatters = []
    for j in range(resp.shape[1]):
        diff = X - means[j]  # centred on the component's own mean
        scatters.append((resp[:, j, None] * diff).T @ diff)
    scatters = np.array(scatters)
    if family is mixem.GaussianFull:
        cov = scatters / nk[:, None, None] + reg * np.eye(d)
    elif family is mixem.GaussianDiagonal:
        cov = np.diagonal(scatters, axis1=1, axis2=2) / nk[:, None] + reg
    elif family is mixem.GaussianSpherical:
        cov = np.trace(scatters, axis1=1, axis2=2) / (d * nk) + reg
    else:
        cov = scatters.sum(axis=0) / nk.sum() + reg * np.eye(d)
    return nk / nk.sum(), means, cov


def _full_covariances(family, cov, k, d):
    if family is mixem.GaussianFull:
        return cov
    if family is mixem.GaussianDiagonal:
        return np.array([np.diag(v) for v in cov])
    if family is mixem.GaussianSpherical:
        return np.array([v * np.eye(d) for v in cov])
    return np.broadcast_to(cov, (k, d, d))


def _reference_log_prob(family, means, cov, X):
    k, d = means.shape
    full = _full_covariances(family, cov, k, d)
    return np.column_stack(
        [stats.multivariate_normal(means[j], full[j]).logpdf(X) for j in range(k)]
    )


def _reference_em(family, X, resp, reg, iterations):
    logliks = []
    for _ in range(iterations):
        weights, means, cov = _reference_m_step(family, X, resp, reg)
        logp = _reference_log_prob(family, means, cov, X) + np.log(weights)
        lse = logsumexp(logp, axis=1)
        logliks.append(lse.sum())
        resp = np.exp(logp - lse[:, None])
    return np.array(logliks), means, cov


def _mixem_em(family, X, resp, reg, iterations):
    """The same EM through the family's own calls (the engine's M-step and E-step)."""
    logliks = []
    stats_ = family().statistics(X, resp)
    for _ in range(iterations):
        comp = family().from_statistics(stats_, reg_covar=reg)
        weights = stats_.weight / stats_.weight.sum()
        logp = comp.log_prob(X) + np.log(weights)
        lse = logsumexp(logp, axis=1)
        logliks.append(lse.sum())
        stats_ = comp.expected_statistics(X, np.exp(logp - lse[:, None]))
    return np.array(logliks), comp


@pytest.mark.parametrize("k", [1, 3, 9])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", list(DATA))
def test_em_matches_an_independent_reference(name, family, k):
    X = DATA[name]
    # A regulariser at the data's own scale keeps K = 9 on iris (which holds tied rows)
    # away from singular covariances, where any two computations part ways.
    reg = 1e-6 * X.var(axis=0).mean()
    resp = _start(X, k)
    ll_ref, means_ref, cov_ref = _reference_em(family, X, resp, reg, ITERATIONS)
    ll, comp = _mixem_em(family, X, resp, reg, ITERATIONS)
    offset = "+1e8" in name
    # 2e-12: on an AMD EPYC machine (other SIMD paths in NumPy and OpenBLAS) the banknote
    # diagonal K = 9 fit differs from scipy's at 1.25e-12 in its second iteration.
    np.testing.assert_allclose(ll, ll_ref, rtol=1e-10 if offset else 2e-12, atol=0)
    sd = X.std(axis=0)
    np.testing.assert_allclose(comp.means, means_ref, rtol=1e-10, atol=1e-10 * sd.max())
    np.testing.assert_allclose(
        comp.covariances, cov_ref, rtol=1e-10, atol=1e-10 * np.abs(cov_ref).max()
    )


def _stacked(family, X, fits, k, seed=0):
    """``fits`` random starts of ``k`` components held as one family of ``fits * k``."""
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(fits * k), size=X.shape[0])
    return family().from_statistics(family().statistics(X, resp), reg_covar=1e-3), resp


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("offset", [0.0, 1e8])
def test_stacks_of_hundreds_of_components_match_scipy(family, offset):
    X = DATA["faithful"] + offset
    comp, resp = _stacked(family, X, fits=50, k=3)
    ref = _reference_log_prob(family, comp.means, comp.covariances, X)
    np.testing.assert_allclose(comp.log_prob(X), ref, rtol=1e-12 if offset == 0 else 1e-9)
    weights, means, cov = _reference_m_step(family, X, resp, 1e-3)
    np.testing.assert_allclose(comp.means, means, rtol=1e-13)
    np.testing.assert_allclose(comp.covariances, cov, rtol=1e-9 if offset else 1e-12)


@pytest.mark.parametrize("family", [mixem.GaussianFull, mixem.GaussianTied])
def test_blocks_of_components_give_the_one_block_answer(family, monkeypatch):
    X = DATA["banknote"]
    comp, resp = _stacked(family, X, fits=7, k=3)
    whole_logp, whole = comp.log_prob(X), family().statistics(X, resp)
    # Room for two components per block: seven blocks of (2, 6, 200) and a last of one.
    for module in (gaussian_module, stats_module):
        monkeypatch.setattr(module, "STACK_FLOATS", 2 * X.size)
    np.testing.assert_array_equal(comp.log_prob(X), whole_logp)
    blocked = family().statistics(X, resp)
    np.testing.assert_array_equal(blocked.scatter, whole.scatter)
    np.testing.assert_array_equal(blocked.mean, whole.mean)


def test_an_empty_component_merges_exactly():
    """An empty component's mean is 0, so merging it with a chunk leaves that chunk's values."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) + 1e8
    resp = rng.random((40, 3))
    resp[:20, 1] = 0.0  # component 1 has no rows in the first chunk
    for kwargs in ({"full": True}, {"full": False}, {"full": False, "pool_features": True}):
        empty = mixem.GaussianStats.from_data(X[:20], resp[:20], **kwargs)
        assert empty.weight[1] == 0.0 and np.all(empty.mean[1] == 0.0)
        assert np.all(empty.scatter[1] == 0.0)
        second = mixem.GaussianStats.from_data(X[20:], resp[20:], **kwargs)
        merged = empty + second
        np.testing.assert_array_equal(merged.mean[1], second.mean[1])
        np.testing.assert_array_equal(merged.scatter[1], second.scatter[1])


def _collapsed_reference(stats_):
    """The collapse rule, written out: a flat feature or a correlation eigenvalue below 1e-10."""
    out = []
    for w, m, s in zip(stats_.weight, stats_.mean, stats_.scatter, strict=True):
        if w <= 0:
            out.append(False)
            continue
        cov = s / w
        var = np.diag(cov)
        floor = (gaussian_module.COLLAPSE_ULPS * np.finfo(float).eps * np.abs(m)) ** 2
        if np.any(var <= floor):
            out.append(True)
            continue
        corr = cov / np.sqrt(np.outer(var, var))
        out.append(bool(np.linalg.eigvalsh(corr)[0] < gaussian_module.COLLAPSE_CORRELATION))
    return np.array(out)


@pytest.mark.parametrize("d", [1, 2, 4, 7])
def test_collapsed_agrees_with_the_eigenvalue_rule(d):
    rng = np.random.default_rng(d)
    k = 60
    A = rng.normal(size=(k, d, d))
    # Smallest correlation eigenvalues spread from 1e-16 to 1, around the 1e-10 threshold.
    for j in range(k):
        u, _, vt = np.linalg.svd(A[j])
        spectrum = np.geomspace(1.0, 10.0 ** rng.uniform(-16, 0), d)
        A[j] = u @ np.diag(np.sqrt(spectrum)) @ vt
    scatter = A @ np.swapaxes(A, 1, 2) * rng.uniform(1e-6, 1e6, size=(k, 1, 1))
    weight = rng.uniform(1, 100, size=k)
    weight[:3] = 0.0
    scatter[:3] = 0.0
    mean = rng.normal(size=(k, d)) * 10.0 ** rng.integers(0, 9, size=(k, 1))
    scatter[3] = np.diag(np.r_[0.0, np.ones(d - 1)])  # a flat feature: not positive definite
    s = mixem.GaussianStats(weight, mean, scatter)
    expected = _collapsed_reference(s)
    assert expected.any() and not expected.all()
    np.testing.assert_array_equal(mixem.GaussianFull().collapsed(s), expected)


def test_from_statistics_names_a_covariance_that_is_not_positive_definite():
    X = np.c_[np.arange(10.0), 2.0 * np.arange(10.0)]  # collinear rows: a singular scatter
    resp = np.c_[np.ones(10), np.r_[np.ones(5), np.zeros(5)]]
    s = mixem.GaussianFull().statistics(X, resp)
    # The covariance models' M-step names the singular scatter and what to do about it.
    with pytest.raises(ValueError, match=r"component 0's scatter is singular; use fewer"):
        mixem.GaussianFull().from_statistics(s)
    with pytest.raises(ValueError, match=r"component 0's scatter is singular"):
        mixem.GaussianDiagonal().from_statistics(
            mixem.GaussianDiagonal().statistics(X[:1], resp[:1])
        )
    bad = mixem.GaussianStats(s.weight, s.mean, np.full_like(s.scatter, np.nan))
    with pytest.raises(ValueError, match="scatter contains NaN or infinite values"):
        mixem.GaussianFull().from_statistics(bad)
    with pytest.raises(ValueError, match="component 1 has zero total responsibility"):
        mixem.GaussianFull().from_statistics(mixem.GaussianStats([1.0, 0.0], s.mean, s.scatter))


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_m_step_parameters_are_read_only_copies(family):
    X = DATA["iris"]
    s = family().statistics(X, _start(X, 3))
    comp = family().from_statistics(s, reg_covar=1e-6)
    for arr in comp.params().values():
        assert not arr.flags.writeable
    assert not np.shares_memory(comp.means, s.mean)
    assert s.mean.flags.writeable  # the statistics are left as they were
    rebuilt = family().components(**comp.params())
    np.testing.assert_array_equal(rebuilt.log_prob(X), comp.log_prob(X))


@pytest.mark.parametrize("k", [1, 3, 40, 150])
@pytest.mark.parametrize("d", [1, 2, 5, 31])
def test_triangular_inverses_are_exact_lower_triangles(k, d):
    """Both batched inverses (LU for small stacks, substitution for large) against solve."""
    rng = np.random.default_rng(k * d)
    A = rng.normal(size=(k, d, d))
    chol = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) + 0.1 * np.eye(d))
    inv = gaussian_module._inverse_lower(chol)
    assert np.all(np.triu(inv, 1) == 0.0)
    expected = np.linalg.solve(chol, np.broadcast_to(np.eye(d), chol.shape))
    scale = np.abs(expected).max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(inv / scale, expected / scale, rtol=0, atol=1e-13)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_wide_rows_match_scipy(family):
    d = stats_module.BLAS_MIN_FEATURES + 8
    rng = np.random.default_rng(d)
    X = rng.normal(size=(300, d)) @ rng.normal(size=(d, d)) + 1e8
    resp = rng.dirichlet(np.ones(3), size=300)
    comp = family().from_statistics(family().statistics(X, resp), reg_covar=1e-3)
    _, means, cov = _reference_m_step(family, X, resp, 1e-3)
    np.testing.assert_allclose(comp.means, means, rtol=1e-15)
    np.testing.assert_allclose(comp.covariances, cov, rtol=1e-8, atol=1e-9 * np.abs(cov).max())
    ref = _reference_log_prob(family, comp.means, comp.covariances, X)
    np.testing.assert_allclose(comp.log_prob(X), ref, rtol=1e-9)
