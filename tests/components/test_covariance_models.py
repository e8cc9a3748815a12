"""mclust's covariance models: M-steps and parameter counts against R mclust 6.

The reference numbers come from ``tests/reference/mclust_models.R`` (R and mclust are not
needed here): per bundled dataset, mclust's M-step from its own initial partition (K = 3), the
log-likelihood there, and the M-step after one E-step. The E-step here is scipy's.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import mixem
from mixem.components.covariance_models import MODELS, CovarianceModel

REFERENCE = Path(__file__).parents[1] / "reference" / "mclust_models.json"
LOADERS = {
    "faithful": mixem.datasets.load_faithful,
    "iris": mixem.datasets.load_iris,
    "banknote": mixem.datasets.load_banknote,
    "galaxies": mixem.datasets.load_galaxies,
}
#: Models whose M-step mclust stops on a relative change of its objective: at the optimum the
#: objective is flat, so its parameters are only about sqrt(eps) from the maximiser even when
#: the change is exactly 0 (the reference ran with tolerance 0).
OBJECTIVE_STOPPED = ("VEE", "EVE")


@functools.cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@functools.cache
def data(name: str) -> np.ndarray:
    X = np.asarray(LOADERS[name](), dtype=float)
    return X.reshape(X.shape[0], -1)


def _array(entry: dict) -> np.ndarray:
    return np.array(entry["values"], dtype=float).reshape(entry["dim"], order="F")


def mclust_covariances(params: dict, k: int, d: int) -> np.ndarray:
    """mclust's ``sigma`` (d, d, G), or ``sigmasq`` in one dimension, as (k, d, d)."""
    sigma = np.array(params["sigma"]["values"], dtype=float)
    if d == 1:
        return np.broadcast_to(sigma, (k,)).reshape(k, 1, 1)
    return np.moveaxis(sigma.reshape((d, d, k), order="F"), 2, 0)


def statistics(X: np.ndarray, resp: np.ndarray):
    weight = resp.sum(axis=0)
    means = resp.T @ X / weight[:, None]
    scatter = np.stack([(resp[:, j] * (X - m).T) @ (X - m) for j, m in enumerate(means)])
    return weight, means, scatter


def m_step(model: CovarianceModel, weight, scatter, **kw) -> np.ndarray:
    diagonal = model.in_dimensions(scatter.shape[-1]).diagonal
    given = scatter.diagonal(0, 1, 2) if diagonal else scatter
    return model.m_step(weight, given, **kw).matrices()


def objective(weight, scatter, cov) -> float:
    """The expected complete-data log-likelihood's covariance part (up to a constant)."""
    _, logdet = np.linalg.slogdet(cov)
    return float(-0.5 * (weight @ logdet + np.einsum("kij,kji->", scatter, np.linalg.inv(cov))))


def e_step(X, weights, means, covs):
    logp = np.stack(
        [multivariate_normal(m, c).logpdf(X).reshape(-1) for m, c in zip(means, covs, strict=True)],
        axis=1,
    ) + np.log(weights)
    norm = logsumexp(logp, axis=1)
    return float(norm.sum()), np.exp(logp - norm[:, None])


CASES = [(name, m) for name, entry in reference()["datasets"].items() for m in entry["models"]]
TIGHT = {"tol": 0.0, "max_iter": 20000}  # until the objective stops changing
#: Tight enough for the models that stop on their parameters' relative change.
PARAMETERS = {"tol": 1e-14, "max_iter": 20000}


def _start(name: str):
    entry = reference()["datasets"][name]
    step = entry["step"][entry["models"][0]]
    k = step["K"]
    resp = np.eye(k)[np.array(entry["partitions"][k - 1]) - 1]
    return entry, k, resp


@pytest.mark.parametrize(("name", "m"), CASES)
def test_parameter_counts_are_mclusts(name, m):
    entry = reference()["datasets"][name]
    d = entry["d"]
    model = CovarianceModel(m)
    for fit in entry["fits"][m]:
        k = fit["K"]
        assert model.n_parameters(k, d) + k * d + k - 1 == fit["n_parameters"], (m, k)


@pytest.mark.parametrize(("name", "m"), [c for c in CASES if c[1] != "VVE"])
def test_one_em_step_from_mclusts_start_equals_mclusts(name, m):
    entry, k, resp = _start(name)
    step = entry["step"][m]
    X = data(name)
    d = X.shape[1]
    model = CovarianceModel(m)
    tol = 1e-6 if m in OBJECTIVE_STOPPED else 1e-10
    control = TIGHT if m in OBJECTIVE_STOPPED else PARAMETERS
    weight, means, scatter = statistics(X, resp)
    first = m_step(model, weight, scatter, **control)
    expected = mclust_covariances(step["first"], k, d)
    np.testing.assert_allclose(first, expected, rtol=0, atol=tol * np.abs(expected).max())
    if m in OBJECTIVE_STOPPED:  # then ours is at least as good a maximiser
        assert objective(weight, scatter, first) >= objective(weight, scatter, expected) - 1e-9
    np.testing.assert_allclose(weight / weight.sum(), step["first"]["pro"], rtol=1e-12)
    np.testing.assert_allclose(means.T, _array(step["first"]["mean"]).reshape(d, k), rtol=1e-12)
    loglik, resp = e_step(X, weight / weight.sum(), means, first)
    assert loglik == pytest.approx(step["loglik"], rel=1e-8 if m in OBJECTIVE_STOPPED else 1e-12)
    weight, means, scatter = statistics(X, resp)
    second = m_step(model, weight, scatter, **control)
    expected = mclust_covariances(step["second"], k, d)
    np.testing.assert_allclose(second, expected, rtol=0, atol=tol * np.abs(expected).max())
    # After an objective-stopped first step (about 3e-7 from the maximiser on mclust's side),
    # the E-step's responsibilities, and so the means, carry that difference.
    rtol = 1e-8 if m in OBJECTIVE_STOPPED else 1e-9
    np.testing.assert_allclose(means.T, _array(step["second"]["mean"]).reshape(d, k), rtol=rtol)


def _mclust_vve(weight, scatter, iterations=20000):
    """mclust 6's VVE M-step (msvve): orientation steps weighted by the shapes only."""
    k, d, _ = scatter.shape
    omega = np.linalg.eigvalsh(scatter)[:, -1]
    Dt, inv = np.eye(d), np.ones((k, d))
    old = None
    for _ in range(iterations):
        MDt = inv[:, :, None] * Dt
        P, _, Rt = np.linalg.svd((MDt @ scatter - omega[:, None, None] * MDt).sum(axis=0))
        Dt = P @ Rt
        WD = scatter @ Dt.T
        F = (WD * inv[:, None, :] - inv.max(axis=1)[:, None, None] * WD).sum(axis=0)
        P, _, Rt = np.linalg.svd(F)
        Dt = (P @ Rt).T
        var = np.einsum("ij,kjl,il->ki", Dt, scatter, Dt) / weight[:, None]
        shape = var / np.exp(np.log(var).mean(axis=1))[:, None]
        inv = 1.0 / shape
        target = (var * weight[:, None] / shape).sum()
        if target == old:
            break
        old = target
    return np.matmul(Dt.T * var[:, None, :], Dt)


@pytest.mark.parametrize("name", ["faithful", "iris", "banknote"])
def test_vve_maximises_the_expected_log_likelihood_where_mclusts_does_not(name):
    entry, k, resp = _start(name)
    X = data(name)
    weight, _, scatter = statistics(X, resp)
    ours = m_step(CovarianceModel("VVE"), weight, scatter, **TIGHT)
    theirs = mclust_covariances(entry["step"]["VVE"]["first"], k, X.shape[1])
    # mclust's algorithm, written out from its Fortran, gives mclust's numbers ...
    np.testing.assert_allclose(
        _mclust_vve(weight, scatter), theirs, rtol=0, atol=1e-6 * np.abs(theirs).max()
    )
    # ... but the exact M-step reaches a higher objective, which a general optimiser started
    # from mclust's answer confirms.
    q_ours = objective(weight, scatter, ours)
    assert q_ours > objective(weight, scatter, theirs) + 0.1
    q_best = _common_orientation_by_optimiser(weight, scatter, theirs, equal_volume=False)
    assert q_best == pytest.approx(q_ours, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("m", MODELS)
def test_decompositions_satisfy_their_constraints(m):
    X = data("iris")
    _, k, resp = _start("iris")
    weight, _, scatter = statistics(X, resp)
    model = CovarianceModel(m)
    dec = model.m_step(weight, scatter.diagonal(0, 1, 2) if model.diagonal else scatter)
    np.testing.assert_allclose(np.prod(dec.shape, axis=1), 1.0, rtol=1e-12)
    letters = dict(zip("volume shape orientation".split(), m, strict=True))
    if letters["volume"] == "E":
        np.testing.assert_allclose(dec.scale, np.full(k, dec.scale[0]), rtol=1e-12)
    if letters["shape"] in "EI":
        np.testing.assert_allclose(dec.shape, np.tile(dec.shape[0], (k, 1)), rtol=1e-12)
    if letters["shape"] == "I":
        np.testing.assert_allclose(dec.shape, 1.0)
    if letters["orientation"] == "I":
        assert dec.orientation is None
    else:
        eye = np.broadcast_to(np.eye(4), (k, 4, 4))
        np.testing.assert_allclose(
            dec.orientation.transpose(0, 2, 1) @ dec.orientation, eye, atol=1e-12
        )
        if letters["orientation"] == "E":
            np.testing.assert_allclose(
                dec.orientation,
                np.broadcast_to(dec.orientation[0], dec.orientation.shape),
                atol=1e-12,
            )


@settings(max_examples=30, deadline=None)
@given(
    m=st.sampled_from([m for m in MODELS if CovarianceModel(m).iterative]),
    seed=st.integers(0, 2**32 - 1),
    max_iter=st.integers(1, 5),
)
def test_an_iterative_m_step_from_the_current_parameters_never_lowers_the_objective(
    m, seed, max_iter
):
    rng = np.random.default_rng(seed)
    k, d = 3, 3
    weight = rng.uniform(3.0, 30.0, size=k)
    A = rng.standard_normal((k, d, d)) * rng.uniform(0.2, 3.0, size=(k, 1, 1))
    scatter = weight[:, None, None] * (A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d))
    model = CovarianceModel(m)
    given_ = scatter.diagonal(0, 1, 2) if model.diagonal else scatter
    # A start that satisfies the model: its M-step on other statistics.
    other = weight[:, None, None] * np.eye(d) + scatter[::-1]
    start = model.m_step(weight, other.diagonal(0, 1, 2) if model.diagonal else other)
    step = model.m_step(weight, given_, start=start, max_iter=max_iter, tol=0.0)
    full = scatter if not model.diagonal else np.einsum("kii->ki", scatter)[:, :, None] * np.eye(d)
    assert objective(weight, full, step.matrices()) >= objective(
        weight, full, start.matrices()
    ) - 1e-9 * abs(objective(weight, full, start.matrices()))


def test_the_ridge_adds_reg_to_every_variance_of_the_four_original_models():
    X = data("faithful")
    _, k, resp = _start("faithful")
    weight, _, scatter = statistics(X, resp)
    for m in ("VVV", "VVI", "VII", "EEE"):
        model = CovarianceModel(m)
        plain = m_step(model, weight, scatter)
        ridged = m_step(model, weight, scatter, reg=0.5)
        np.testing.assert_allclose(ridged - plain, 0.5 * np.eye(2) * np.ones((k, 1, 1)), atol=1e-12)


def test_names_reduce_to_one_dimension_and_bad_names_are_refused():
    assert CovarianceModel("VEV").in_dimensions(1).name == "V"
    assert CovarianceModel("EVI").in_dimensions(1).name == "E"
    assert CovarianceModel("EVV").n_parameters(4, 1) == 1
    assert CovarianceModel("VEV").description == (
        "variable volume, equal shape, variable orientation"
    )
    with pytest.raises(ValueError, match="unknown covariance model 'VXV'.*EII, VII"):
        CovarianceModel("VXV")
    with pytest.raises(ValueError, match="'E' is for one column; got 3 features"):
        CovarianceModel("E").in_dimensions(3)


#: Models whose M-step pools the scatter (or its trace) over components or features, so that
#: one component's scatter may be singular.
POOLED = ("EII", "VII", "EEI", "VEI", "EEE", "VEE", "EEV", "VEV")


@pytest.mark.parametrize("m", [m for m in MODELS if m not in POOLED])
def test_a_singular_scatter_is_refused_naming_its_component(m):
    scatter = np.stack([np.eye(3), np.diag([1.0, 1.0, 0.0])])
    model = CovarianceModel(m)
    with pytest.raises(ValueError, match="component 1's .*singular"):
        model.m_step(np.array([5.0, 5.0]), scatter.diagonal(0, 1, 2) if model.diagonal else scatter)


@pytest.mark.parametrize("m", POOLED)
def test_a_singular_pooled_scatter_is_refused(m):
    scatter = np.stack([np.diag([1.0, 0.0, 0.0]), np.diag([2.0, 0.0, 0.0])])
    if m in ("EII", "VII"):
        scatter = np.zeros((2, 3, 3))
    model = CovarianceModel(m)
    with pytest.raises(ValueError, match="singular"):
        model.m_step(np.array([5.0, 5.0]), scatter.diagonal(0, 1, 2) if model.diagonal else scatter)


@pytest.mark.parametrize("m", ["EVE", "VVE", "VEE"])
def test_a_common_orientation_is_recovered_when_one_components_shape_ties(m):
    # Component 0 is spherical (every shape value tied): its own eigenvectors are arbitrary,
    # so the common orientation must come from all components.
    rng = np.random.default_rng(3)
    D = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    shapes = np.array([[1.0, 1.0, 1.0], [4.0, 1.0, 0.25], [0.5, 1.0, 2.0]])
    if m == "VEE":
        shapes = np.tile(shapes[1], (3, 1))
    scale = np.array([1.0, 2.0, 0.5]) if m[0] == "V" else np.ones(3)
    covs = np.stack([s * (D * a) @ D.T for s, a in zip(scale, shapes, strict=True)])
    model = CovarianceModel(m)
    assert model.violation(covs) < 1e-12
    weight = np.array([30.0, 50.0, 40.0])
    scatter = weight[:, None, None] * covs  # the current parameters are the optimum
    start = model.decompose(covs)
    before = objective(weight, scatter, covs)
    for max_iter in (1, 5):
        step = model.m_step(weight, scatter, start=start, max_iter=max_iter, tol=0.0)
        assert objective(weight, scatter, step.matrices()) >= before - 1e-9 * abs(before)


def _common_orientation_by_optimiser(weight, scatter, start, equal_volume, turn=None):
    """EVE's or VVE's M-step by BFGS over volumes, shapes and a rotation (Cayley map).

    From ``start``'s orientation, or turned by the Cayley parameters ``turn``.
    """
    k, d, _ = scatter.shape
    iu = np.triu_indices(d, 1)

    def covs(theta):
        logvar = theta[: k * d].reshape(k, d)
        if equal_volume:  # one volume: every component's log-variances share their mean
            logvar = logvar - logvar.mean(axis=1, keepdims=True) + theta[-1]
        S = np.zeros((d, d))
        S[iu] = theta[k * d : k * d + len(iu[0])]
        S = S - S.T
        D = np.linalg.solve(np.eye(d) + S, np.eye(d) - S)
        return np.matmul(D * np.exp(logvar)[:, None, :], D.T)

    D0 = np.linalg.eigh(start.sum(axis=0))[1]
    rotated = D0.T @ scatter @ D0
    logvar0 = np.log(np.einsum("kii->ki", D0.T @ start @ D0))
    turn = np.zeros(len(iu[0])) if turn is None else turn
    theta0 = np.concatenate([logvar0.ravel(), turn, [logvar0.mean()]])
    best = minimize(
        lambda t: -objective(weight, rotated, covs(t)),
        theta0,
        method="BFGS",
        options={"gtol": 1e-10, "maxiter": 20000},
    )
    return -best.fun


@pytest.mark.parametrize("m", ["EVE", "VVE"])
@pytest.mark.parametrize("name", ["faithful", "iris", "banknote"])
def test_sweeps_of_plane_rotations_reach_the_maximiser_of_a_general_optimiser(name, m):
    # Run until the objective stops changing (within 71 sweeps here), the M-step is the
    # maximiser: BFGS over volumes, shapes and a rotation, started from it or from it turned
    # at random, cannot improve it.
    _, k, resp = _start(name)
    X = data(name)
    weight, _, scatter = statistics(X, resp)
    ours = m_step(CovarianceModel(m), weight, scatter, **TIGHT)
    q_ours = objective(weight, scatter, ours)
    q_best = _common_orientation_by_optimiser(weight, scatter, ours, m == "EVE")
    assert q_best == pytest.approx(q_ours, rel=1e-12)
    rng = np.random.default_rng(0)
    d = X.shape[1]
    for _ in range(3):
        turn = rng.normal(0.0, 1.0, d * (d - 1) // 2)
        q = _common_orientation_by_optimiser(weight, scatter, ours, m == "EVE", turn)
        assert q <= q_ours + 1e-9 * abs(q_ours)
