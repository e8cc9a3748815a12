"""Conformance checks that every component family must pass.

Run :func:`check_component` on a new family before fitting with it::

    from mixem.testing import check_component
    check_component(MyFamily(...), oracle=my_scipy_logpdf)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mixem.components.family import Components, family_name, updated
from mixem.components.stats import Stats

__all__ = ["check_component"]

#: Most M-steps of the recovery check for families whose statistics depend on the parameters.
_MAX_STEPS = 500


def _fail(family: str, what: str) -> None:
    raise AssertionError(f"{family}: {what}")


def _assert_stats_equal(a: Stats, b: Stats, family: str, what: str, rtol: float) -> None:
    aa, bb = a.arrays(), b.arrays()
    if aa.keys() != bb.keys():
        _fail(family, f"{what}: statistics have arrays {sorted(aa)} and {sorted(bb)}")
    for name in aa:
        x, y = np.asarray(aa[name]), np.asarray(bb[name])
        finite = np.abs(x[np.isfinite(x)])  # statistics such as a running minimum may be inf
        scale = max(float(np.max(finite, initial=0.0)), 1e-300)
        if x.shape != y.shape or not np.allclose(x, y, rtol=rtol, atol=rtol * scale):
            _fail(family, f"{what}: statistics array {name!r} differs")


def check_component(
    component: Components,
    *,
    oracle: Callable[[np.ndarray], np.ndarray] | None = None,
    n_samples: int = 20_000,
    recovery_tol: float = 0.1,
    random_state: Any = 0,
) -> None:
    """Check that a component family honours the :class:`mixem.Family` contract.

    Checks, in order: ``n_components``/``n_features`` and ``params`` round-trip through the
    constructor; ``sample`` shapes (also with zero counts); ``log_prob`` shape ``(n, k)``, no
    NaN or ``+inf``, finiteness of every draw under its own component, and agreement with
    ``oracle`` (e.g. scipy.stats); that statistics merge (A ∪ B equals A merged with B,
    associatively and commutatively, with an empty chunk and with a component whose
    responsibilities are all zero), and the same for the E-step's statistics at the
    components' parameters; that ``from_statistics`` returns the same family and shape;
    that parameters are recovered from a large labelled sample (for parameter-dependent
    statistics, by iterating the M-step on the labelled sample to its fixed point); that
    ``n_parameters`` is a non-negative integer.

    Parameters
    ----------
    component : Components
        (A component of a deprecated :class:`mixem.Component` class is checked through its
        adapter.)
        Components with known parameters (``family.components(**arrays)``), at least two
        recommended.
    oracle : callable, optional
        ``oracle(X)`` returns the reference log density of shape ``(n, k)``.
    n_samples : int
        Size of the labelled sample used for the recovery check.
    recovery_tol : float
        Largest accepted ``|estimate - truth| / (|truth| + spread)`` for recovered parameters,
        where spread is the parameter array's standard deviation over components (or 1).
    random_state : int or numpy.random.Generator
        Seed for the draws.

    Raises
    ------
    AssertionError
        Naming the family and the first check it fails.
    """
    if not isinstance(component, Components):  # the first contract, through its adapter
        component = component.family.components(**component.params())
    family = component.family
    name = family_name(family)
    rng = np.random.default_rng(random_state)
    k, d = component.n_components, component.n_features
    if not (isinstance(k, int | np.integer) and k >= 1 and isinstance(d, int | np.integer)):
        _fail(name, f"n_components and n_features must be positive ints, got {k!r}, {d!r}")

    params = component.params()
    rebuilt = family.components(**params)
    for key, value_ in params.items():
        if not np.array_equal(np.asarray(rebuilt.params()[key]), np.asarray(value_)):
            _fail(name, f"rebuilding from params() does not reproduce parameter {key!r}")
    missing = set(params) - set(family.param_dims)
    if family.param_dims and missing:
        _fail(name, f"param_dims lacks dimension names for {sorted(missing)}")

    # sample: one block per component, zero counts allowed
    counts = np.full(k, 7)
    counts[0] = 0
    draws = component.sample(counts, rng)
    if np.asarray(draws).shape != (counts.sum(), d):
        _fail(name, f"sample(counts) must have shape {(counts.sum(), d)}, got {draws.shape}")

    # log_prob: shape, finiteness and the oracle
    big_counts = np.full(k, max(1, n_samples // k))
    X = np.asarray(component.sample(big_counts, rng), dtype=np.float64)
    labels = np.repeat(np.arange(k), big_counts)
    logp = component.log_prob(X)
    if logp.shape != (X.shape[0], k):
        _fail(name, f"log_prob(X) must have shape (n, {k}), got {logp.shape}")
    if np.any(np.isnan(logp)) or np.any(np.isposinf(logp)):
        _fail(name, "log_prob returned NaN or +inf")
    if not np.all(np.isfinite(logp[np.arange(X.shape[0]), labels])):
        _fail(name, "log_prob is not finite for draws under the component that drew them")
    logp = logp[:500]
    if oracle is not None:
        ref = np.asarray(oracle(X[:500]))
        if not np.allclose(logp, ref, rtol=1e-10, atol=1e-10):
            err = float(np.max(np.abs(logp - ref)))
            _fail(name, f"log_prob differs from the oracle by up to {err:.3g}")

    # statistics merge: A ∪ B == A + B, associative, commutative, empty-safe
    resp = rng.dirichlet(np.ones(k), size=X.shape[0])
    resp[:, -1] = 0.0  # a component with no responsibility at all
    whole = family.statistics(X, resp)
    third = X.shape[0] // 3
    parts = [slice(0, third), slice(third, 2 * third), slice(2 * third, None)]
    a, b, c = (family.statistics(X[p], resp[p]) for p in parts)
    _assert_stats_equal(whole, (a + b) + c, name, "statistics(A ∪ B ∪ C) vs merged", 1e-9)
    _assert_stats_equal((a + b) + c, a + (b + c), name, "merge associativity", 1e-9)
    _assert_stats_equal(a + b, b + a, name, "merge commutativity", 1e-9)
    empty = family.statistics(X[:0], resp[:0])
    _assert_stats_equal(whole + empty, whole, name, "merging an empty chunk", 1e-12)
    _assert_stats_equal(empty + whole, whole, name, "merging into an empty chunk", 1e-12)
    # A family's statistics may depend on the parameters it is given: those must merge too.
    whole = component.expected_statistics(X, resp)
    a, b, c = (component.expected_statistics(X[p], resp[p]) for p in parts)
    what = "expected_statistics(A ∪ B ∪ C) vs merged"
    _assert_stats_equal(whole, (a + b) + c, name, what, 1e-9)
    _assert_stats_equal(a + b, b + a, name, "expected_statistics merge commutativity", 1e-9)
    empty = component.expected_statistics(X[:0], resp[:0])
    what = "merging an empty chunk of expected_statistics"
    _assert_stats_equal(whole + empty, whole, name, what, 1e-12)

    # from_statistics: same family and shape; parameters recovered from labelled draws
    onehot = np.zeros((X.shape[0], k))
    onehot[np.arange(X.shape[0]), labels] = 1.0
    fitted = family.from_statistics(family.statistics(X, onehot))
    if fitted.family != family or fitted.n_components != k or fitted.n_features != d:
        _fail(name, "from_statistics must return the same family with the same k and d")
    # Where the statistics depend on the parameters the M-step is one step of an iteration
    # (ECM for StudentT), run to its fixed point on the labelled draws; elsewhere it stops at
    # once.
    for _ in range(_MAX_STEPS):
        previous = fitted.params()
        fitted = updated(family, fitted.expected_statistics(X, onehot), 0.0, fitted)
        if all(
            np.allclose(fitted.params()[key], value, rtol=1e-9, atol=0.0)
            for key, value in previous.items()
        ):
            break
    for key, truth in params.items():
        truth = np.asarray(truth, dtype=np.float64)
        est = np.asarray(fitted.params()[key], dtype=np.float64)
        spread = float(np.std(truth)) if truth.size > 1 and np.std(truth) > 0 else 1.0
        err = np.abs(est - truth) / (np.abs(truth) + spread)
        if est.shape != truth.shape or not np.all(err <= recovery_tol):
            _fail(
                name,
                f"parameter {key!r} not recovered from {X.shape[0]} labelled draws "
                f"(largest relative error {float(np.max(err)):.3g} > {recovery_tol})",
            )

    p = component.n_parameters()
    if not isinstance(p, int | np.integer) or p < 0:
        # 0 is allowed: a component with nothing to estimate (a fixed background) still has a
        # weight, which the model counts.
        _fail(name, f"n_parameters() must be a non-negative int, got {p!r}")
