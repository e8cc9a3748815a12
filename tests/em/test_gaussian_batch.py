"""The compiled loop of the Gaussian families runs the same fits as the NumPy batch."""

from __future__ import annotations

import numpy as np
import pytest

import mixem
from mixem.em import gaussian_batch
from mixem.em.batch import Race, run_from_responsibilities, run_many
from mixem.em.plausible import spurious_flags
from mixem.em.structure import Structure

from ..conftest import FAMILIES, make_blobs
from .test_batch import _starts


def _both(monkeypatch, X, w, starts, **kwargs):
    compiled = run_many(X, w, starts, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(gaussian_batch, "compiled_kind", lambda X, starts: None)
        plain = run_many(X, w, starts, **kwargs)
    return compiled, plain


def _assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(b, mixem.FitError):
        assert str(a) == str(b)
        return
    assert (a.n_iter, a.converged, a.dropped) == (b.n_iter, b.converged, b.dropped)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-10)
    assert a.entropy == pytest.approx(b.entropy, rel=1e-7, abs=1e-7)
    np.testing.assert_allclose(a.trace.loglik, b.trace.loglik, rtol=1e-10)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-7, atol=1e-12)
    for name, value in b.components[0].params().items():
        np.testing.assert_allclose(a.components[0].params()[name], value, rtol=1e-7, atol=1e-9)
    if a.spurious_at is not None:  # the loop's own test of spurious components
        n_obs, reg_covar, spurious = a.spurious_at
        assert spurious == bool(spurious_flags(b.weights, b.components, n_obs, reg_covar).any())
    sa, sb = a.last_pass.stats[0], b.last_pass.stats[0]
    assert type(sa) is type(sb)
    for name, value in sb.arrays().items():
        np.testing.assert_allclose(sa.arrays()[name], value, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("weights", ["none", "shared", "per fit"])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_the_compiled_loop_runs_the_numpy_batch_fits(monkeypatch, family, weights):
    X, _ = make_blobs(n=300, d=3, k=3, seed=6)
    X = X * [1.0, 100.0, 0.01] + [0.0, 1e6, -5.0]  # features of other scales and offsets
    starts = _starts(X, family, 3, 6)
    rng = np.random.default_rng(1)
    w = {
        "none": None,
        "shared": rng.integers(0, 4, X.shape[0]).astype(float),
        "per fit": rng.standard_exponential((len(starts), X.shape[0])),
    }[weights]
    budgets = [3, 50, 200, 0, 7, 200]
    compiled, plain = _both(
        monkeypatch, X, w, starts, max_iter=budgets, tol=1e-8, reg_covar=1e-6, chunk=97
    )
    for a, b in zip(compiled, plain, strict=True):
        _assert_same(a, b)


@pytest.mark.parametrize("protect", [1, 3])
def test_the_compiled_race_drops_the_runs_the_numpy_race_drops(monkeypatch, protect):
    X, _ = make_blobs(n=400, d=2, k=4, seed=3)
    starts = _starts(X, mixem.GaussianFull, 4, 12, seed=5)
    groups = np.arange(len(starts)) % 2
    race = Race(groups, np.array([-np.inf, -np.inf]), protect)
    compiled, plain = _both(
        monkeypatch, X, None, starts, max_iter=1000, tol=1e-6, reg_covar=1e-6, chunk=97, race=race
    )
    assert any(r.dropped for r in plain)
    for a, b in zip(compiled, plain, strict=True):
        _assert_same(a, b)


def _collapsing_among_ordinary():
    """Two clusters and a point mass of 15 rows; two starts that collapse onto it, first and
    last, around three ordinary ones."""
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2)), np.tile([[20.0, 20.0]], (15, 1))]
    )
    collapsing = (
        np.array([0.45, 0.45, 0.1]),
        (
            mixem.GaussianFull().components(
                means=[[0, 0], [8, 8], [20, 20]], covariances=np.tile(np.eye(2), (3, 1, 1))
            ),
        ),
    )
    return X, [collapsing, *_starts(X, mixem.GaussianFull, 3, 3), collapsing]


def test_fits_that_need_reseeds_go_back_into_a_compiled_batch(monkeypatch):
    # Two collapsing starts (a point mass of 15 rows) among ordinary ones: each re-seed is an
    # iteration alone, the rest compiled, and the whole chain is the NumPy batch's.
    X, starts = _collapsing_among_ordinary()
    compiled, plain = _both(
        monkeypatch, X, None, starts, max_iter=100, tol=1e-8, reg_covar=1e-6, chunk=97
    )
    assert compiled[0].trace.reseeded.any()
    for a, b in zip(compiled, plain, strict=True):
        _assert_same(a, b)
        if not isinstance(b, mixem.FitError):
            np.testing.assert_array_equal(a.trace.reseeded, b.trace.reseeded)
            assert [e.kind for e in a.events] == [e.kind for e in b.events]


def test_the_loops_exponential_is_within_two_ulps_of_numpys():
    g = -np.concatenate([np.geomspace(1e-300, 708.0, 20000), np.linspace(0.0, 40.0, 20001)])
    got = np.array([gaussian_batch._exp(v) for v in g])
    ref = np.exp(g)
    assert np.max(np.abs(got - ref) / np.spacing(ref)) <= 2.0
    # Below the floor (results near the subnormal range) it is 0: subnormal arithmetic is ten
    # times slower, and such a responsibility counts for nothing.
    assert gaussian_batch.EXP_FLOOR == -708.0 and np.exp(-708.0) > np.finfo(float).tiny
    tiny = -np.linspace(708.001, 800.0, 500)
    assert all(gaussian_batch._exp(v) == 0.0 for v in tiny)
    assert gaussian_batch._exp(-np.inf) == 0.0 and gaussian_batch._exp(0.0) == 1.0


def test_the_loops_logarithm_is_within_one_ulp_of_numpys():
    # The E-pass takes the log of sums in [1, K]; the algorithm holds for every normal float.
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(1.0, 200.0, 20001),
            np.geomspace(np.finfo(float).tiny, 1e300, 20001),
            1.0 + rng.standard_normal(2000) * 1e-9,
            [1.0, 2.0, np.sqrt(2.0), np.sqrt(0.5), np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0)],
        ]
    )
    got = np.array([gaussian_batch._log(v) for v in x])
    ref = np.log(x)
    assert np.max(np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300))) <= 1.0
    assert gaussian_batch._log(1.0) == 0.0


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_starts_from_responsibilities_are_the_m_steps_of_the_numpy_path(monkeypatch, family):
    X, labels = make_blobs(n=240, d=2, k=3, seed=3)
    X = X + [1e6, -3.0]  # an offset the statistics must cancel before squaring
    rng = np.random.default_rng(2)
    resps = [np.eye(3)[labels], rng.dirichlet(np.ones(3), X.shape[0]), np.eye(3)[labels[::-1]]]
    resps[2][:, 2] = 0.0  # a component without weight: an invalid start
    structure = Structure((family,), (3,))
    w = rng.integers(1, 3, X.shape[0]).astype(float)
    kwargs = dict(max_iter=30, tol=1e-8, reg_covar=1e-6, chunk=97)
    compiled = run_from_responsibilities(X, w, resps, structure, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(gaussian_batch, "family_kind", lambda X, families: None)
        plain = run_from_responsibilities(X, w, resps, structure, **kwargs)
    assert isinstance(compiled[2], mixem.FitError) and isinstance(plain[2], mixem.FitError)
    for a, b in zip(compiled[:2], plain[:2], strict=True):
        _assert_same(a, b)
        assert a.trace.initial_loglik == pytest.approx(b.trace.initial_loglik, rel=1e-12)


def test_a_race_without_reseeds_drops_the_fits_that_need_one(monkeypatch):
    # The collapsing starts leave the race at the pass that calls for their re-seed, on both
    # paths; the other fits are those of a race with re-seeds.
    X, starts = _collapsing_among_ordinary()
    groups = np.zeros(len(starts), dtype=int)
    options = {"max_iter": 100, "tol": 1e-8, "reg_covar": 1e-6, "chunk": 97}
    dropping = Race(groups, np.array([-np.inf]), len(starts), reseed=False)
    compiled, plain = _both(monkeypatch, X, None, starts, race=dropping, **options)
    keeping = Race(groups, np.array([-np.inf]), len(starts))
    with_reseeds = run_many(X, None, starts, race=keeping, **options)
    for a, b, c in zip(compiled, plain, with_reseeds, strict=True):
        _assert_same(a, b)
        assert not a.trace.reseeded.any()
        if c.trace.reseeded.any():
            assert a.dropped and a.n_iter < c.n_iter
        else:
            _assert_same(a, c)
    assert compiled[0].dropped and compiled[-1].dropped
