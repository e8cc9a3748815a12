"""mclust's covariance models' M-steps, compiled for the loop of :mod:`mixem.em.gaussian_batch`.

The same algorithms, in the same order, as :mod:`mixem.components.covariance_models` (which
documents them; EEE and VVV are written directly instead of through an eigendecomposition),
on one fit's statistics: weights ``nk`` ``(K,)`` and centred scatters ``W`` ``(K, d, d)`` (of
which the diagonal models read the diagonal), written as covariance matrices ``(K, d, d)``.
The iterative ones start from the fit's current covariances when given them. EVE's and VVE's
sweeps (:func:`_sweep`) also serve the NumPy M-step.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from mixem.components.covariance_models import MODELS

__all__ = ["MODEL_CODES", "m_step", "spread_is_own"]

#: A model's code in the compiled loop: its position in mclust's list.
MODEL_CODES = {name: i for i, name in enumerate(MODELS)}
EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV = range(14)

_jit = nb.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def spread_is_own(model):
    """Whether a component's own rows set its volume or shape (so it can become a spike)."""
    return not (model == EII or model == EEI or model == EEE or model == EEV)


@_jit
def _geomean(v):
    s = 0.0
    for x in v:
        s += np.log(x)
    return np.exp(s / v.size)


@_jit
def _positive(v):
    for x in v.ravel():
        if not (x > 0.0):
            return False
    return True


@_jit
def _write_diagonal(cov, j, var):
    d = var.size
    for a in range(d):
        for c in range(d):
            cov[j, a, c] = 0.0
        cov[j, a, a] = var[a]


@_jit
def _write_rotated(cov, j, D, var):
    """``cov[j] = D diag(var) D^T``, symmetrised as the Python M-step does."""
    d = var.size
    for a in range(d):
        for c in range(a + 1):
            s = 0.0
            for m in range(d):
                s += D[a, m] * var[m] * D[c, m]
            t = 0.0
            for m in range(d):
                t += D[c, m] * var[m] * D[a, m]
            v = 0.5 * (s + t)
            cov[j, a, c] = v
            cov[j, c, a] = v


@_jit
def _volumes_and_shape(nk, omega, shape, scale, tol, max_iter):
    """VEI's and VEV's alternation; ``shape`` (d,) and ``scale`` (K,) hold the start."""
    K, d = omega.shape
    for _ in range(max_iter):
        change = 0.0
        for j in range(K):
            s = 0.0
            for a in range(d):
                s += omega[j, a] / shape[a]
            new = s / (nk[j] * d)
            change = max(change, abs(scale[j] - new) / (1.0 + new))
            scale[j] = new
        raw = np.zeros(d)
        for a in range(d):
            for j in range(K):
                raw[a] += omega[j, a] / scale[j]
        g = _geomean(raw)
        for a in range(d):
            new = raw[a] / g
            change = max(change, abs(shape[a] - new) / (1.0 + new))
            shape[a] = new
        if change <= tol:
            break
    return scale


@_jit
def _log_det(A, L):
    """``log det A`` of a symmetric ``A`` by its Cholesky factor (into ``L``).

    NaN unless positive definite. On small matrices much cheaper than an eigendecomposition.
    """
    d = A.shape[0]
    total = 0.0
    for i in range(d):
        for j in range(i + 1):
            v = A[i, j]
            for m in range(j):
                v -= L[i, m] * L[j, m]
            if i == j:
                if not (v > 0.0):
                    return np.nan
                L[i, i] = np.sqrt(v)
                total += np.log(L[i, i])
            else:
                L[i, j] = v / L[j, j]
    return 2.0 * total


@_jit
def _volume(A, L):
    """``det(A) ** (1 / d)``: the geometric mean of the eigenvalues (NaN: not positive definite)."""
    return np.exp(_log_det(A, L) / A.shape[0])


@_jit
def _inverse(L, out):
    """``A^-1`` into ``out`` from ``A``'s Cholesky factor ``L``."""
    d = L.shape[0]
    Li = np.zeros((d, d))
    for i in range(d):
        Li[i, i] = 1.0 / L[i, i]
        for j in range(i):
            v = 0.0
            for m in range(j, i):
                v -= L[i, m] * Li[m, j]
            Li[i, j] = v / L[i, i]
    for a in range(d):
        for c in range(a + 1):
            v = 0.0
            for m in range(a, d):
                v += Li[m, a] * Li[m, c]
            out[a, c] = v
            out[c, a] = v


@_jit
def _previous_orientation(prev):
    """A start's common orientation, as :meth:`CovarianceModel.decompose` finds it."""
    K, d, _ = prev.shape
    # A combination with distinct weights (one component's tied shape values leave its own
    # eigenvectors arbitrary).
    combined = np.zeros((d, d))
    for j in range(K):
        combined += (1.0 + np.sqrt(j + 2.0) % 1.0) * prev[j]
    return np.ascontiguousarray(np.linalg.eigh(combined)[1])


@_jit
def m_step(model, nk, W, reg, tol, max_iter, prev, warm, cov):
    """Covariances of ``model`` into ``cov``; False where they are undefined (singular).

    ``prev`` (the current covariances) is read when ``warm``; ``W`` is not changed. Each
    group of models is a function of its own: numba compiles small functions much faster.
    """
    K, d, _ = W.shape
    n = 0.0
    for j in range(K):
        if not (nk[j] > 0.0):
            return False
        n += nk[j]
    S = W.copy()
    for j in range(K):
        for a in range(d):
            S[j, a, a] += nk[j] * reg
    if d == 1:
        volume_equal = model == EII or model == EEI or model == EVI or model == EEE
        volume_equal = volume_equal or model == EVE or model == EEV or model == EVV
        model = EII if volume_equal else VII
    if model <= VVI:
        return _diagonal(model, nk, n, S, tol, max_iter, prev, warm, cov)
    if model == EEE or model == VVV:
        return _closed(model, nk, n, S, cov)
    if model == EVV or model == EEV or model == VEV:
        return _own_orientation(model, nk, n, S, tol, max_iter, prev, warm, cov)
    if model == VEE:
        return _vee(nk, n, S, tol, max_iter, prev, warm, cov)
    return _common_orientation(model, nk, n, S, tol, max_iter, prev, warm, cov)


@_jit
def _diagonal(model, nk, n, S, tol, max_iter, prev, warm, cov):
    """The six models of orientation I, from each scatter's diagonal."""
    K, d, _ = S.shape
    w = np.empty((K, d))
    for j in range(K):
        for a in range(d):
            w[j, a] = S[j, a, a]
    var = np.empty((K, d))
    if model == EII or model == VII:
        total = 0.0
        for j in range(K):
            t = 0.0
            for a in range(d):
                t += w[j, a]
            if model == VII and not (t > 0.0):
                return False
            total += t
            var[j, :] = t / (nk[j] * d)
        if model == EII:
            if not (total > 0.0):
                return False
            var[:, :] = total / (n * d)
    elif model == EEI:
        pooled = np.zeros(d)
        for j in range(K):
            pooled += w[j]
        pooled /= n
        if not _positive(pooled):
            return False
        for j in range(K):
            var[j] = pooled
    elif model == VVI:
        if not _positive(w):
            return False
        for j in range(K):
            var[j] = w[j] / nk[j]
    elif model == EVI:
        if not _positive(w):
            return False
        total = 0.0
        dets = np.empty(K)
        for j in range(K):
            dets[j] = _geomean(w[j])
            total += dets[j]
        for j in range(K):
            var[j] = w[j] / dets[j] * (total / n)
    else:  # VEI
        pooled = np.zeros(d)
        for j in range(K):
            pooled += w[j]
            if not (w[j].sum() > 0.0):
                return False
        if not _positive(pooled):
            return False
        shape = np.ones(d)
        scale = np.ones(K)
        if warm:
            for j in range(K):
                for a in range(d):
                    shape[a] = prev[j, a, a]
                scale[j] = _geomean(shape)
            for a in range(d):
                shape[a] = prev[0, a, a]
            shape /= _geomean(shape)
        scale = _volumes_and_shape(nk, w, shape, scale, tol, max_iter)
        for j in range(K):
            var[j] = scale[j] * shape
    for j in range(K):
        _write_diagonal(cov, j, var[j])
    return True


@_jit
def _closed(model, nk, n, S, cov):
    """EEE and VVV: the pooled, or each component's, scatter per weight.

    Written directly (the NumPy M-step goes through an eigendecomposition, which changes only
    rounding); the loop's Cholesky factorisation then rejects a singular one.
    """
    K, d, _ = S.shape
    for a in range(d):
        for c in range(d):
            if model == EEE:
                s = 0.0
                for j in range(K):
                    s += S[j, a, c]
                for j in range(K):
                    cov[j, a, c] = s / n
            else:
                for j in range(K):
                    cov[j, a, c] = S[j, a, c] / nk[j]
    return True


@_jit
def _own_orientation(model, nk, n, S, tol, max_iter, prev, warm, cov):
    """EVV, EEV and VEV: each component's orientation from its scatter's eigenvectors."""
    K, d, _ = S.shape
    omega = np.empty((K, d))
    vectors = np.empty((K, d, d))
    for j in range(K):
        omega[j], vectors[j] = np.linalg.eigh(S[j])
    if model == EVV:
        if not _positive(omega):
            return False
        dets = np.empty(K)
        total = 0.0
        for j in range(K):
            dets[j] = _geomean(omega[j])
            total += dets[j]
        for j in range(K):
            _write_rotated(cov, j, vectors[j], omega[j] / dets[j] * (total / n))
        return True
    omega = np.maximum(omega, 0.0)
    pooled = omega.sum(axis=0)
    if not _positive(pooled):
        return False
    if model == EEV:
        g = _geomean(pooled)
        for j in range(K):
            _write_rotated(cov, j, vectors[j], pooled / g * (g / n))
        return True
    for j in range(K):  # VEV
        if not (omega[j, d - 1] > 0.0):
            return False
    shape = np.ones(d)
    scale = np.ones(K)
    if warm:
        L = np.empty((d, d))
        for j in range(K):
            scale[j] = _volume(prev[j], L)
        shape = np.linalg.eigvalsh(np.ascontiguousarray(prev[0]))
        shape /= _geomean(shape)
    scale = _volumes_and_shape(nk, omega, shape, scale, tol, max_iter)
    for j in range(K):
        _write_rotated(cov, j, vectors[j], scale[j] * shape)
    return True


@_jit
def _vee(nk, n, S, tol, max_iter, prev, warm, cov):
    """VEE: volumes given the common matrix ``C``, and ``C`` given the volumes."""
    K, d, _ = S.shape
    for j in range(K):
        t = 0.0
        for a in range(d):
            t += S[j, a, a]
        if not (t > 0.0):
            return False
    L = np.empty((d, d))
    if not np.isfinite(_log_det(S.sum(axis=0), L)):
        return False
    scale = np.ones(K)
    old = np.inf
    if warm:
        old = d * n
        for j in range(K):
            scale[j] = _volume(prev[j], L)
            old += d * nk[j] * np.log(scale[j])
    C = np.zeros((d, d))
    Ci = np.empty((d, d))
    for _ in range(max_iter):
        C[:, :] = 0.0
        for j in range(K):
            C += S[j] / scale[j]
        v = _volume(C, L)
        if not np.isfinite(v):
            return False
        for a in range(d):
            L[a, : a + 1] /= np.sqrt(v)
        C /= v
        _inverse(L, Ci)
        objective = d * n
        for j in range(K):
            s = 0.0
            for a in range(d):
                for c in range(d):
                    s += S[j, a, c] * Ci[c, a]
            scale[j] = s / (d * nk[j])
            objective += d * nk[j] * np.log(scale[j])
        done = abs(objective - old) / (1.0 + abs(objective)) <= tol
        old = objective
        if done:
            break
    omega, D = np.linalg.eigh(C)
    omega = omega / _geomean(omega)
    for j in range(K):
        _write_rotated(cov, j, D, scale[j] * omega)
    return True


@_jit
def _orientation_objective(model, nk, n, S, D, P, var):
    """EVE's or VVE's objective along ``D``'s axes (NaN: singular).

    ``P_k = D^T S_k D`` and the variances given ``D`` are written into ``P`` and ``var``.
    """
    K, d, _ = S.shape
    a = np.empty((K, d))
    SD = np.empty((d, d))
    for j in range(K):
        for r in range(d):
            for c in range(d):
                v = 0.0
                for m in range(d):
                    v += S[j, r, m] * D[m, c]
                SD[r, c] = v
        for r in range(d):
            for c in range(d):
                v = 0.0
                for m in range(d):
                    v += D[m, r] * SD[m, c]
                P[j, r, c] = v
        for c in range(d):
            a[j, c] = P[j, c, c]
    if not _positive(a):
        return np.nan
    if model == VVE:
        objective = 0.0
        for j in range(K):
            var[j] = a[j] / nk[j]
            objective += d * nk[j] * np.log(_geomean(var[j]))
        return objective
    total = 0.0
    shapes = np.empty((K, d))
    for j in range(K):
        shapes[j] = a[j] / _geomean(a[j])
        total += (a[j] / shapes[j]).sum()
    lam = total / (n * d)
    for j in range(K):
        var[j] = shapes[j] * lam
    return d * n * np.log(lam)


@_jit
def _sweep(P, var, D):
    """One cyclic sweep of exact plane rotations of ``D``'s axes, ``P`` kept equal to D^T S D."""
    K, d, _ = P.shape
    for a in range(d - 1):
        for b in range(a + 1, d):
            alpha = 0.0
            beta = 0.0
            for j in range(K):
                u = 1.0 / var[j, a] - 1.0 / var[j, b]
                alpha += (P[j, a, a] - P[j, b, b]) * u
                beta += P[j, a, b] * u
            alpha *= 0.5
            if alpha == 0.0 and beta == 0.0:
                continue
            theta = 0.5 * np.arctan2(-beta, -alpha)
            c = np.cos(theta)
            s = np.sin(theta)
            for r in range(d):
                x = D[r, a]
                y = D[r, b]
                D[r, a] = c * x + s * y
                D[r, b] = c * y - s * x
            for j in range(K):
                for r in range(d):
                    x = P[j, r, a]
                    y = P[j, r, b]
                    P[j, r, a] = c * x + s * y
                    P[j, r, b] = c * y - s * x
                for r in range(d):
                    x = P[j, a, r]
                    y = P[j, b, r]
                    P[j, a, r] = c * x + s * y
                    P[j, b, r] = c * y - s * x


@_jit
def _common_orientation(model, nk, n, S, tol, max_iter, prev, warm, cov):
    """EVE and VVE: the common orientation by sweeps of exact plane rotations."""
    K, d, _ = S.shape
    L = np.empty((d, d))
    for j in range(K):
        if not np.isfinite(_log_det(S[j], L)):
            return False
    P = np.empty((K, d, d))
    var = np.empty((K, d))
    D = np.eye(d)
    if warm:
        D = _previous_orientation(prev)
    old = _orientation_objective(model, nk, n, S, D, P, var)
    if not np.isfinite(old):  # singular along the start's axes
        D = np.eye(d)
        old = _orientation_objective(model, nk, n, S, D, P, var)
        if not np.isfinite(old):
            return False
    if not warm:
        old = np.inf
    for _ in range(max_iter):
        _sweep(P, var, D)
        objective = _orientation_objective(model, nk, n, S, D, P, var)
        if not np.isfinite(objective):
            return False
        done = abs(objective - old) / (1.0 + abs(objective)) <= tol
        old = objective
        if done:
            break
    for j in range(K):
        _write_rotated(cov, j, D, var[j])
    return True
