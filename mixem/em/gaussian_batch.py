"""Many EM runs of a Gaussian family as one compiled loop (numba).

:func:`mixem.em.batch.run_many` runs the fits of a batch through NumPy with one Python-level
step per EM iteration, which costs about a millisecond an iteration whatever the batch holds;
a model-selection study makes tens of thousands of such iterations on a few hundred rows.
For the four Gaussian families this module runs the whole loop of a batch in one compiled
call: E-pass, statistics, degeneracy tests, M-step, convergence and the race of
:class:`~mixem.em.batch.Race`, iteration by iteration for all fits at once, so that racing
fits see each other exactly as in the NumPy loop. What needs the engine's Python (a
component to re-seed, an M-step that fails) leaves the compiled loop at that pass and goes on
through :func:`mixem.em.loop.run_em`, as in the NumPy batch.

The numbers are the NumPy loop's up to rounding: the statistics are sums about each
component's current mean (``sum r (x - mu)``, ``sum r (x - mu)(x - mu)^T``), from which the
weight, mean and centred scatter follow, so offsets cancel before anything is squared as in
:class:`~mixem.components.stats.GaussianStats`; log densities come from the inverse Cholesky
factor on centred rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace

import numba as nb
import numpy as np
from llvmlite import ir
from numba import literally, types
from numba.extending import intrinsic

from mixem.components import covariance_kernels
from mixem.components.family import Components, Family, family_name
from mixem.components.gaussian import COLLAPSE_CORRELATION, COLLAPSE_ULPS
from mixem.components.gaussian_models import Gaussian
from mixem.components.stats import BLAS_MIN_FEATURES, GaussianStats
from mixem.em.batch import (
    RACE_MAX_RATIO,
    RACE_MIN_ITER,
    RACE_SAFETY,
    UNCOVERED_MESSAGE,
    Race,
    _fit_weights,
)
from mixem.em.events import decrease_event
from mixem.em.loop import EMRun, RunError, _joined, run_em, shifted
from mixem.em.passes import EPass, UncoveredRowError
from mixem.em.structure import Start
from mixem.em.trace import Trace
from mixem.exceptions import FitError

__all__ = ["KINDS", "compiled_kind", "family_kind", "run_compiled"]

FULL, TIED, DIAGONAL, SPHERICAL = 0, 1, 2, 3
#: The models whose closed-form M-step the loop writes out on their own layout: mixem's four
#: first families, as fast as before and with their results (``bench_select.py``: the model
#: kinds' general M-step took about 20% longer on the default study).
KINDS = {"VVV": FULL, "EEE": TIED, "VVI": DIAGONAL, "VII": SPHERICAL}

#: Kinds from this on are ``Gaussian(model)`` families: ``MODEL_BASE`` plus the model's code
#: (:data:`mixem.components.covariance_kernels.MODEL_CODES`), on one of the four layouts above.
MODEL_BASE = 4


def _layout(kind: int) -> int:
    """The layout (FULL, TIED, DIAGONAL or SPHERICAL) whose E-pass a kind's fits take."""
    if kind < MODEL_BASE:
        return kind
    code = kind - MODEL_BASE
    if code <= covariance_kernels.VVI:
        return DIAGONAL
    return TIED if code == covariance_kernels.EEE else FULL


# A fit's state in the compiled loop.
RUNNING, CONVERGED, EXHAUSTED, EJECTED, DROPPED, UNCOVERED, INVALID = range(7)

#: Compiled once per machine (cached beside the module); division by zero gives inf or nan,
#: as in NumPy, instead of an exception. Fused multiply-adds are allowed, reassociation is
#: not: it would break _exp's exact reduction (numba compiles a called function with its
#: caller's flags), and _dot vectorises sums without it.
_jit = nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "nsz"})
#: The loop's helpers allocate nothing and run without numba's reference counting (``_nrt``):
#: a call that LLVM does not inline counts a reference up and down on every array it passes,
#: about 14 ns an array (130 ns for a call with five), which at a few hundred rows is as much
#: as the work of the call. The loop owns every array they touch, scratch included.
_kernel = nb.njit(
    cache=True, nogil=True, error_model="numpy", fastmath={"contract", "nsz"}, _nrt=False
)

#: Rows of a chunk of the E-pass: its scratch holds at most this many floats (1 MiB), whatever n.
ROW_CHUNK_FLOATS = 1 << 17

_LOG_2PI = float(np.log(2.0 * np.pi))
_ULPS = COLLAPSE_ULPS * float(np.finfo(np.float64).eps)


_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log(2): k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13))
#: Below this, :func:`_exp` gives 0: from -708, 2^k with k >= -1021 keeps results normal.
EXP_FLOOR = -708.0
# fdlibm's __ieee754_log: its polynomial in s = f / (2 + f)
_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)


@intrinsic
def _float_bits(typingctx, x):
    """The bits of a float64 as an int64 (a bit cast, which vectorises)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, x):
    """The float64 whose bits are an int64."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


# Inlined by numba: LLVM did not inline it into the E-pass's loop, which then did not
# vectorise (24 against 12.5 ns per row and component, Old Faithful, K = 3).
@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "nsz"}, inline="always")
def _exp(g):
    """``exp(g)`` for ``g <= 0``, to 2 ulps; 0 below ``EXP_FLOOR``.

    Cody and Waite's reduction to ``|r| <= log(2)/2``, Taylor's polynomial of degree 12 (its
    error below 2e-16 there; Estrin's scheme was no faster and reached 3 ulps), and ``2^k``
    built from its bits, so that a loop along rows vectorises (libm's ``exp`` does not, and
    took a third of an E-pass): branch-free and without a table. Results that would be
    subnormal are 0: arithmetic on subnormals takes a microcode assist, and one such argument
    in a vector of four made the loop ten times slower (22 against 1.7 ns an element), while a
    responsibility below 1e-307 counts for nothing in any sum.
    """
    h = max(g, EXP_FLOOR)
    k = np.floor(h * 1.4426950408889634 + 0.5)
    r = (h - k * _LN2_HI) - k * _LN2_LO
    c = _EXP_TAYLOR
    p = c[12]
    p = p * r + c[11]
    p = p * r + c[10]
    p = p * r + c[9]
    p = p * r + c[8]
    p = p * r + c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + c[1]
    p = p * r + c[0]
    e = p * _bits_float((np.int64(k) + 1023) << 52)
    return e if g >= EXP_FLOOR else 0.0


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "nsz"}, inline="always")
def _log(x):
    """``log(x)`` for a finite normal ``x > 0``, to 1 ulp: fdlibm's algorithm (as musl has it).

    The exponent and the mantissa (scaled into ``[sqrt(2)/2, sqrt(2))``) come from the bits,
    so that a loop along rows vectorises, as :func:`_exp`.
    """
    bits = _float_bits(x)
    hx = (bits >> 32) + (0x3FF00000 - 0x3FE6A09E)
    k = (hx >> 20) - 0x3FF
    f = _bits_float((((hx & 0x000FFFFF) + 0x3FE6A09E) << 32) | (bits & 0xFFFFFFFF)) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    dk = np.float64(k)
    return s * (hfsq + (t2 + t1)) + dk * _LN2_LO - hfsq + f + dk * _LN2_HI


@_kernel
def _prepare(kind, cov, inv, log_norm, chol):
    """Inverse Cholesky factors and normalising constants of covariances ``(K, d, d)``.

    Returns False if a covariance is not positive definite (or not finite). ``chol`` ``(d, d)``
    is scratch.
    """
    K, d, _ = cov.shape
    for j in range(K):
        if kind == DIAGONAL or kind == SPHERICAL:
            total = 0.0
            for a in range(d):
                v = cov[j, a, a]
                if not (v > 0.0) or not np.isfinite(v):
                    return False
                for c in range(d):
                    inv[j, a, c] = 0.0
                inv[j, a, a] = 1.0 / np.sqrt(v)
                total += np.log(v)
            log_norm[j] = -0.5 * (total + d * _LOG_2PI)
            continue
        if kind == TIED and j > 0:
            for a in range(d):
                for c in range(d):
                    inv[j, a, c] = inv[0, a, c]
            log_norm[j] = log_norm[0]
            continue
        for a in range(d):
            for c in range(a + 1):
                s = cov[j, a, c]
                for m in range(c):
                    s -= chol[a, m] * chol[c, m]
                if a == c:
                    if not (s > 0.0) or not np.isfinite(s):
                        return False
                    chol[a, a] = np.sqrt(s)
                else:
                    chol[a, c] = s / chol[c, c]
        total = 0.0
        for a in range(d):
            total += np.log(chol[a, a])
            for c in range(d):
                inv[j, a, c] = 0.0
        # Forward substitution for the inverse of the lower factor, column by column.
        for c in range(d):
            inv[j, c, c] = 1.0 / chol[c, c]
            for a in range(c + 1, d):
                s = 0.0
                for m in range(c, a):
                    s -= chol[a, m] * inv[j, m, c]
                inv[j, a, c] = s / chol[a, a]
        log_norm[j] = -total - 0.5 * d * _LOG_2PI
    return True


#: Feature counts whose E-pass scores rows in one loop per component, compiled for each: 0.34
#: against 7.3 ns per row for the whitened distance at d = 2 (1.6 against 23 at d = 6).
FIXED_FEATURES = 8

#: Sums along rows may be reassociated: LLVM then vectorises them (a fixed order for a given
#: machine, so the same numbers on every run). Nothing here calls _exp or _log, whose
#: reductions need the order they are written in.
_sums = nb.njit(
    cache=True,
    nogil=True,
    error_model="numpy",
    fastmath={"contract", "nsz", "reassoc"},
    _nrt=False,
)


@_kernel
def _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, d):
    """:func:`_densities` for a number of features ``d`` known when compiling.

    Its loops over features unroll, so one loop along rows centres, whitens and scores them.
    It stores nothing else: with the centred rows stored as well, the loop at d = 6 no longer
    vectorised (11.5 against 1.0 us for three components on 200 rows). Signed indices
    ``lo + i`` made it two to four times slower: numba tests each for wrapping around.
    """
    d = literally(d)
    lo = np.uint64(lo)  # unsigned, so that no index below needs a test for wrapping around
    m = np.uint64(m)
    # Two loops, not one with the test inside: LLVM did not take the test out of the loop, and
    # the single loop made a default fit of Old Faithful 1.5 times slower.
    if axis:
        for i in range(m):
            q = 0.0
            for a in range(d):
                y = L[a, a] * (Xt[a, lo + i] - mu[a])
                q += y * y
            v = c0 - 0.5 * q
            lp[i] = v
            top[i] = max(top[i], v)
        return
    for i in range(m):
        q = 0.0
        for a in range(d):
            y = 0.0
            for e in range(a + 1):
                y += L[a, e] * (Xt[e, lo + i] - mu[e])
            q += y * y
        v = c0 - 0.5 * q
        lp[i] = v
        top[i] = max(top[i], v)


@_kernel
def _densities(Xt, lo, m, mu, L, c0, axis, z, lp, top, tot, cross):
    """One component's weighted log densities ``lp`` of rows ``lo .. lo + m``; ``top`` their max.

    ``mu`` is its mean and ``L`` its inverse Cholesky factor (diagonal if ``axis``); rows are
    centred on ``mu`` exactly before anything else. ``z`` ``(d, c)``, ``tot`` and ``cross``
    are scratch.
    """
    d = Xt.shape[0]
    if d == 1:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 1)
    if d == 2:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 2)
    if d == 3:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 3)
    if d == 4:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 4)
    if d == 5:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 5)
    if d == 6:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 6)
    if d == 7:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, 7)
    if d == FIXED_FEATURES:
        return _densities_fixed(Xt, lo, m, mu, L, c0, axis, lp, top, FIXED_FEATURES)
    # Wider rows: one loop along rows per feature pair.
    for a in range(d):
        ma = mu[a]
        za = z[a]
        xa = Xt[a, lo:]
        for i in range(m):
            za[i] = xa[i] - ma
    for i in range(m):
        tot[i] = 0.0  # the squared whitened distance
    for a in range(d):
        if axis:
            f = L[a, a]
            za = z[a]
            for i in range(m):
                y = f * za[i]
                tot[i] += y * y
            continue
        for i in range(m):
            cross[i] = 0.0  # row a of the whitened rows
        for e in range(a + 1):
            f = L[a, e]
            ze = z[e]
            for i in range(m):
                cross[i] += f * ze[i]
        for i in range(m):
            tot[i] += cross[i] * cross[i]
    for i in range(m):
        v = c0 - 0.5 * tot[i]
        lp[i] = v
        top[i] = max(top[i], v)


@_sums
def _moments(r, Xt, lo, mu, z, m, axis, nk, j, s1, s2):
    """Adds component ``j``'s sums of ``r``, ``r z`` and ``r z z^T`` (lower triangle).

    ``z`` ``(d, c)`` takes rows ``lo .. lo + m`` centred on the component's mean ``mu``.
    """
    d = z.shape[0]
    for a in range(d):
        ma = mu[a]
        za = z[a]
        xa = Xt[a, lo:]
        for i in range(m):
            za[i] = xa[i] - ma
    acc = 0.0
    for i in range(m):
        acc += r[i]
    nk[j] += acc
    for a in range(d):
        za = z[a]
        acc = 0.0
        for i in range(m):
            acc += r[i] * za[i]
        s1[a] += acc
        for e in range(a + 1):
            if axis and e != a:
                continue
            ze = z[e]
            acc = 0.0
            for i in range(m):
                acc += r[i] * za[i] * ze[i]
            s2[a, e] += acc


@_sums
def _row_sums(rw, top, log_t, cross, inv_t, m):
    """The chunk's log-likelihood and entropy from each row's max, log-sum and weights."""
    loglik = 0.0
    entropy = 0.0
    for i in range(m):
        loglik += rw[i] * (top[i] + log_t[i])
        entropy += rw[i] * (log_t[i] - cross[i] * inv_t[i])
    return loglik, entropy


@_kernel
def _e_pass(Xt, w, kind, means, inv, log_norm, weights, scratch, z, nk, s1, s2):
    """One fit's E-pass: loglik, entropy and whether a row is uncovered; fills nk, s1, s2.

    ``s1`` and ``s2`` are sums about each component's current mean; ``s2`` holds the lower
    triangle (full, tied) or the diagonal (diagonal, spherical). The rows go by chunks of
    ``c`` = ``z.shape[2]``: ``scratch`` ``(K + 5, c)`` and ``z`` ``(K, d, c)``. Loops run
    along rows, so that they vectorise.
    """
    d, n = Xt.shape
    K = means.shape[0]
    c = z.shape[2]
    lp = scratch[:K]
    top, tot, cross = scratch[K], scratch[K + 1], scratch[K + 2]
    rw, log_t = scratch[K + 3], scratch[K + 4]
    axis = kind == DIAGONAL or kind == SPHERICAL
    for j in range(K):
        nk[j] = 0.0
        for a in range(d):
            s1[j, a] = 0.0
            for e in range(a + 1):
                s2[j, a, e] = 0.0
    loglik = 0.0
    entropy = 0.0
    uncovered = False
    for lo in range(0, n, c):
        m = min(c, n - lo)
        for i in range(m):
            top[i] = -np.inf
        for j in range(K):
            if weights[j] > 0.0:
                c0 = log_norm[j] + np.log(weights[j])
                _densities(Xt, lo, m, means[j], inv[j], c0, axis, z[j], lp[j], top, tot, cross)
        finite = True
        wc = w[lo:]
        for i in range(m):
            finite &= np.isfinite(top[i])
            rw[i] = wc[i]
            tot[i] = 0.0
            cross[i] = 0.0
        if not finite:
            for i in range(m):
                if not np.isfinite(top[i]):
                    # No component gives the row a finite density (parameters that are not):
                    # it takes no weight.
                    uncovered |= rw[i] > 0.0
                    rw[i] = 0.0
                    top[i] = 0.0
                    for j in range(K):
                        lp[j, i] = -np.inf
        for j in range(K):
            if not (weights[j] > 0.0):
                continue
            lpj = lp[j]
            # Along rows, so that the exponential vectorises (a finite top: see above; g
            # is clamped, so that ex * g is 0 for a density of 0).
            for i in range(m):
                g = max(lpj[i] - top[i], EXP_FLOOR - 1.0)
                ex = _exp(g)
                lpj[i] = ex
                tot[i] += ex
                cross[i] += ex * g
        if not finite:
            for i in range(m):
                if rw[i] == 0.0 and not (tot[i] >= 1.0):
                    tot[i] = 1.0  # an uncovered row: log 1 = 0 below
        for i in range(m):
            t = tot[i]  # at least 1: the top component's term
            log_t[i] = _log(t)
            tot[i] = 1.0 / t
        ll, en = _row_sums(rw, top, log_t, cross, tot, m)
        loglik += ll
        entropy += en
        for i in range(m):
            tot[i] *= rw[i]
        for j in range(K):
            if not (weights[j] > 0.0):
                continue
            r = lp[j]
            for i in range(m):
                r[i] *= tot[i]
            _moments(r, Xt, lo, means[j], z[j], m, axis, nk, j, s1[j], s2[j])
    return loglik, entropy, uncovered


@_kernel
def _resp_statistics(Xt, w, kind, r, nk, mean, scatter):
    """Weights, means and centred scatter of the rows under responsibilities ``r`` ``(K, n)``.

    Means about a middle row, then the scatter about each mean (two passes): offsets cancel
    before anything is squared, as in :class:`~mixem.components.stats.GaussianStats`.
    """
    d, n = Xt.shape
    K = r.shape[0]
    ref = n // 2
    axis = kind == DIAGONAL or kind == SPHERICAL
    for j in range(K):
        acc = 0.0
        for i in range(n):
            acc += w[i] * r[j, i]
        nk[j] = acc
        safe = acc if acc > 0.0 else 1.0
        for a in range(d):
            x0 = Xt[a, ref]
            acc = 0.0
            for i in range(n):
                acc += w[i] * r[j, i] * (Xt[a, i] - x0)
            mean[j, a] = x0 + acc / safe if nk[j] > 0.0 else 0.0
        for a in range(d):
            for e in range(a + 1):
                if axis and e != a:
                    scatter[j, a, e] = 0.0
                    scatter[j, e, a] = 0.0
                    continue
                acc = 0.0
                for i in range(n):
                    acc += w[i] * r[j, i] * (Xt[a, i] - mean[j, a]) * (Xt[e, i] - mean[j, e])
                scatter[j, a, e] = acc
                scatter[j, e, a] = acc


@_kernel
def _centred(kind, means, nk, s1, s2, mean, scatter):
    """Weight-normalised statistics: each component's mean and centred scatter (full)."""
    K, d = means.shape
    axis = kind == DIAGONAL or kind == SPHERICAL
    for j in range(K):
        wt = nk[j]
        safe = wt if wt > 0.0 else 1.0
        for a in range(d):
            mean[j, a] = means[j, a] + s1[j, a] / safe if wt > 0.0 else 0.0
        for a in range(d):
            for c in range(a + 1):
                if axis and c != a:
                    scatter[j, a, c] = 0.0
                    scatter[j, c, a] = 0.0
                    continue
                v = s2[j, a, c] - s1[j, a] * s1[j, c] / safe
                scatter[j, a, c] = v
                scatter[j, c, a] = v


@_kernel
def _eigen_extremes(S, A):
    """The smallest and the largest eigenvalue of a small symmetric matrix (Jacobi rotations).

    Cyclic Jacobi rotations are accurate to a few ulps of the largest eigenvalue, as LAPACK's,
    and compile in a fraction of the time numba takes for ``np.linalg.eigvalsh``. ``A``
    ``(d, d)`` is scratch.
    """
    d = S.shape[0]
    for a in range(d):
        for c in range(d):
            A[a, c] = S[a, c]
    for _ in range(100):
        off = 0.0
        scale = 0.0
        for a in range(d):
            scale += A[a, a] * A[a, a]
            for c in range(a):
                off += A[a, c] * A[a, c]
        if off <= 1e-36 * scale or off == 0.0:
            break
        for p in range(d - 1):
            for q in range(p + 1, d):
                if A[q, p] == 0.0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2.0 * A[q, p])
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + np.sqrt(theta * theta + 1.0))
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                for m in range(d):
                    apm, aqm = A[p, m], A[q, m]
                    A[p, m] = c * apm - s * aqm
                    A[q, m] = s * apm + c * aqm
                for m in range(d):
                    amp, amq = A[m, p], A[m, q]
                    A[m, p] = c * amp - s * amq
                    A[m, q] = s * amp + c * amq
    small = large = A[0, 0]
    for a in range(1, d):
        small = min(small, A[a, a])
        large = max(large, A[a, a])
    return small, large


@_kernel
def _determinant(S, L):
    """Determinant of a symmetric matrix by Cholesky; 0 if it is not positive definite.

    ``L`` ``(d, d)`` is scratch.
    """
    d = S.shape[0]
    det = 1.0
    for a in range(d):
        for c in range(a + 1):
            s = S[a, c]
            for m in range(c):
                s -= L[a, m] * L[c, m]
            if a == c:
                if not (s > 0.0):
                    return 0.0
                L[a, a] = np.sqrt(s)
                det *= s
            else:
                L[a, c] = s / L[c, c]
    return det


@_kernel
def _degenerate(kind, own, nk, usable, need, mean, scatter, work):
    """Whether a component is too thin or collapsed (the families' ``collapsed`` tests).

    Collapses are looked for only where a component's own rows set its spread (``own``).
    ``work`` ``(2, d, d)`` is scratch.
    """
    K, d = mean.shape
    total = 0.0
    for j in range(K):
        total += nk[j]
    for j in range(K):
        if nk[j] * usable / total < need:
            return True
    if not own:
        return False
    corr = work[0]
    for j in range(K):
        wt = nk[j]
        if not (wt > 0.0):
            continue
        flat = False
        if kind == SPHERICAL:
            s = 0.0
            floor = 0.0
            for a in range(d):
                s += scatter[j, a, a]
                floor += (_ULPS * mean[j, a]) ** 2
            flat = s / wt <= floor
        else:
            for a in range(d):
                if scatter[j, a, a] / wt <= (_ULPS * mean[j, a]) ** 2:
                    flat = True
        if flat:
            return True
        if kind == FULL:
            # A singular correlation matrix: the smallest eigenvalue decides, as in
            # mixem.components.gaussian._collapsed_full.
            for a in range(d):
                for c in range(d):
                    corr[a, c] = scatter[j, a, c] / np.sqrt(scatter[j, a, a] * scatter[j, c, c])
            # The correlation's eigenvalues sum to d, so the smallest is at least
            # det / d^(d-1): a determinant (from a Cholesky factor) well above the threshold
            # clears the component without an eigendecomposition.
            if _determinant(corr, work[1]) > 2.0 * COLLAPSE_CORRELATION * d ** (d - 1):
                continue
            if _eigen_extremes(corr, work[1])[0] < COLLAPSE_CORRELATION:
                return True
    return False


@_kernel
def _mixing_weights(nk, weights):
    """The M-step's mixing weights, ``nk / sum(nk)``, into ``weights``."""
    total = 0.0
    for v in nk:
        total += v
    for j in range(nk.size):
        weights[j] = nk[j] / total


@_kernel
def _m_step(kind, nk, mean, scatter, reg_covar, cov):
    """Covariances from centred statistics; False where a weight is not positive."""
    K, d = mean.shape
    total = 0.0
    for j in range(K):
        if not (nk[j] > 0.0):
            return False
        total += nk[j]
    for j in range(K):
        if kind == FULL:
            for a in range(d):
                for c in range(d):
                    cov[j, a, c] = scatter[j, a, c] / nk[j]
                cov[j, a, a] += reg_covar
        elif kind == DIAGONAL or kind == SPHERICAL:
            s = 0.0
            for a in range(d):
                s += scatter[j, a, a]
            for a in range(d):
                for c in range(d):
                    cov[j, a, c] = 0.0
                if kind == DIAGONAL:
                    cov[j, a, a] = scatter[j, a, a] / nk[j] + reg_covar
                else:
                    cov[j, a, a] = s / (nk[j] * d) + reg_covar
    if kind == TIED:
        for a in range(d):
            for c in range(d):
                s = 0.0
                for j in range(K):
                    s += scatter[j, a, c]
                cov[0, a, c] = s / total
            cov[0, a, a] += reg_covar
        for j in range(1, K):
            for a in range(d):
                for c in range(d):
                    cov[j, a, c] = cov[0, a, c]
    return True


@_kernel
def _plausible(kind, own, cov, weights, total, reg_covar, work):
    """No spurious component (``Component.spurious`` of the Gaussian families).

    The count rule applies where a component's own rows set its spread (``own``). ``work``
    ``(2, d, d)`` is scratch.
    """
    K, d, _ = cov.shape
    for j in range(K):
        if own and weights[j] * total < d + 1:
            return False
        if kind == FULL or (kind == TIED and j == 0):
            small, large = _eigen_extremes(cov[j], work[0])
        elif kind == TIED:
            continue
        else:
            small, large = cov[j, 0, 0], cov[j, 0, 0]
            for a in range(1, d):
                small = min(small, cov[j, a, a])
                large = max(large, cov[j, a, a])
        if small - reg_covar <= max(reg_covar, 1e-10 * large):
            return False
    return True


@_jit
def _loop(
    Xt, W, kind, model, own, control, means, cov, weights, budgets, totals, usable,
    need, tol, reg_covar, groups, targets, protect, racing, min_iter, safety, max_ratio, R,
    status, n_iter, initial, logliks, loglik, entropy, nk, mean, scatter, plausible,
):  # fmt: skip
    """Run every fit of the batch; results in place (see :func:`run_compiled`).

    With ``R`` of shape ``(B, K, n)``, every fit starts from the M-step of those
    responsibilities (``means``, ``cov`` and ``weights`` are then outputs only); a start whose
    M-step fails is left ``INVALID``. ``plausible[b]`` says whether a fit that ended in the loop
    has no spurious component at its last parameters. ``kind`` is the layout; ``model`` is -1
    for the four classes, else a ``Gaussian`` model's code, whose M-step (iterative ones to a
    relative change of ``control[0]``, at most ``control[1]`` times) starts from the current
    covariances. ``control`` is None for the four classes: numba then prunes the models'
    M-steps from the loop it compiles for them (those take it about a minute to compile).
    """
    B, K, d = means.shape
    n = Xt.shape[1]
    c = max(1, min(n, ROW_CHUNK_FLOATS // ((d + 1) * K + 5)))
    scratch = np.empty((K + 5, c))
    z = np.empty((K, d, c))
    inv = np.empty((B, K, d, d))
    log_norm = np.empty((B, K))
    s1 = np.empty((B, K, d))
    s2 = np.zeros((B, K, d, d))
    new_cov = np.empty((K, d, d))
    new_inv = np.empty((K, d, d))
    new_norm = np.empty(K)
    work = np.empty((2, d, d))
    steps = np.empty((B, 3))
    for b in range(B):
        for m in range(3):
            steps[b, m] = np.nan
    reach = np.empty(B)
    bound = np.empty(B)
    lose = np.zeros(B, dtype=np.bool_)
    for b in range(B):
        wb = W[b if W.shape[0] > 1 else 0]
        if R.shape[0] == B:
            _resp_statistics(Xt, wb, kind, R[b], nk[b], mean[b], scatter[b])
            if control is None:
                ok = _m_step(kind, nk[b], mean[b], scatter[b], reg_covar, cov[b])
            else:
                ok = covariance_kernels.m_step(
                    model, nk[b], scatter[b], reg_covar, control[0], int(control[1]), cov[b],
                    False, cov[b],
                )  # fmt: skip
            if not ok:
                status[b] = INVALID
                continue
            _mixing_weights(nk[b], weights[b])
            for j in range(K):
                for a in range(d):
                    means[b, j, a] = mean[b, j, a]
            if not _prepare(kind, cov[b], inv[b], log_norm[b], work[0]):
                status[b] = INVALID
                continue
        elif not _prepare(kind, cov[b], inv[b], log_norm[b], work[0]):
            status[b] = EJECTED
            continue
        ll, en, unc = _e_pass(
            Xt, wb, kind, means[b], inv[b], log_norm[b], weights[b], scratch, z, nk[b], s1[b],
            s2[b],
        )  # fmt: skip
        initial[b] = ll
        loglik[b], entropy[b] = ll, en
        _centred(kind, means[b], nk[b], s1[b], s2[b], mean[b], scatter[b])
        status[b] = UNCOVERED if unc else RUNNING
    it = 0
    while True:
        active = 0
        for b in range(B):
            if status[b] != RUNNING:
                continue
            if budgets[b] <= it:
                status[b] = EXHAUSTED
                if racing and _plausible(kind, own, cov[b], weights[b], totals[b], reg_covar, work):
                    targets[groups[b]] = max(targets[groups[b]], loglik[b])
                continue
            active += 1
        if active == 0:
            break
        it += 1
        for b in range(B):
            if status[b] != RUNNING:
                continue
            if _degenerate(kind, own, nk[b], usable[b], need, mean[b], scatter[b], work):
                status[b] = EJECTED
                continue
            if control is None:
                ok = _m_step(kind, nk[b], mean[b], scatter[b], reg_covar, new_cov)
            else:
                ok = covariance_kernels.m_step(
                    model, nk[b], scatter[b], reg_covar, control[0], int(control[1]), cov[b],
                    True, new_cov,
                )  # fmt: skip
            if not ok:
                status[b] = EJECTED
                continue
            if not _prepare(kind, new_cov, new_inv, new_norm, work[0]):
                status[b] = EJECTED
                continue
            _mixing_weights(nk[b], weights[b])
            for j in range(K):
                log_norm[b, j] = new_norm[j]
                for a in range(d):
                    means[b, j, a] = mean[b, j, a]
                    for c in range(d):
                        cov[b, j, a, c] = new_cov[j, a, c]
                        inv[b, j, a, c] = new_inv[j, a, c]
            wb = W[b if W.shape[0] > 1 else 0]
            previous = loglik[b]
            ll, en, unc = _e_pass(
                Xt, wb, kind, means[b], inv[b], log_norm[b], weights[b], scratch, z, nk[b],
                s1[b], s2[b],
            )  # fmt: skip
            _centred(kind, means[b], nk[b], s1[b], s2[b], mean[b], scatter[b])
            loglik[b], entropy[b] = ll, en
            n_iter[b] = it
            logliks[b, it - 1] = ll
            if unc:
                status[b] = UNCOVERED
                continue
            change = (ll - previous) / totals[b]
            if abs(change) < tol or change == 0.0:  # tol=0: an exact fixed point
                status[b] = CONVERGED
                if racing and _plausible(kind, own, cov[b], weights[b], totals[b], reg_covar, work):
                    targets[groups[b]] = max(targets[groups[b]], ll)
                continue
            steps[b, 0], steps[b, 1], steps[b, 2] = steps[b, 1], steps[b, 2], change * totals[b]
        if not racing:
            continue
        # The race (mixem.em.batch._Batch._drop_losers), on the fits still running.
        top_ll = -np.inf
        for b in range(B):
            if status[b] != RUNNING:
                continue
            s0, s1b, s2b = steps[b, 0], steps[b, 1], steps[b, 2]
            ratio = max(s2b / s1b, s1b / s0)
            gain = np.inf
            if s0 > 0 and s1b > 0 and s2b > 0 and ratio <= max_ratio:
                gain = s2b * ratio / (1.0 - ratio)
            reach[b] = loglik[b] + safety * gain + tol * totals[b]
            if n_iter[b] < min_iter:
                reach[b] = np.inf
            top_ll = max(top_ll, loglik[b])
        for b in range(B):
            if status[b] == RUNNING:
                bound[b] = targets[groups[b]]
        for b in range(B):
            if status[b] != RUNNING or not (reach[b] < top_ll):
                continue
            g = groups[b]
            lead = -1
            for c in range(B):
                if status[c] == RUNNING and groups[c] == g:
                    if lead < 0 or loglik[c] > loglik[lead]:
                        lead = c
            if bound[lead] == targets[g] and loglik[lead] > targets[g]:
                if _plausible(kind, own, cov[lead], weights[lead], totals[lead], reg_covar, work):
                    for c in range(B):
                        if status[c] == RUNNING and groups[c] == g:
                            bound[c] = loglik[lead]
        for b in range(B):
            lose[b] = False
            if status[b] != RUNNING or not (reach[b] < bound[b]):
                continue
            if protect <= 1:  # no runners-up to keep: only the bar counts
                lose[b] = True
                continue
            better = 0  # the fit's rank among its group's running fits
            for c in range(B):
                if status[c] == RUNNING and groups[c] == groups[b]:
                    if loglik[c] > loglik[b] or (loglik[c] == loglik[b] and c < b):
                        better += 1
            lose[b] = better >= protect
        for b in range(B):
            if lose[b]:
                status[b] = DROPPED
    for b in range(B):
        if status[b] == CONVERGED or status[b] == EXHAUSTED or status[b] == DROPPED:
            plausible[b] = _plausible(kind, own, cov[b], weights[b], totals[b], reg_covar, work)


def compiled_kind(X: object, starts: Sequence[Start]) -> int | None:
    """The kind of the compiled loop that can run ``starts`` on rows ``X``, or None.

    The loop takes rows in memory, of fewer than ``BLAS_MIN_FEATURES`` features (wider rows
    go faster through BLAS's triangular products in the NumPy batch).
    """
    if not starts or any(len(comps) != 1 for _, comps in starts):
        return None
    family = starts[0][1][0].family
    kind = family_kind(X, (family,))
    if kind is None or any(comps[0].family != family for _, comps in starts):
        return None
    return kind


def family_kind(X: object, families: Sequence[Family]) -> int | None:
    """The kind of the compiled loop for a mixture of ``families`` on rows ``X``, or None."""
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] >= BLAS_MIN_FEATURES:
        return None
    if len(families) != 1:
        return None
    family = families[0]
    if not isinstance(family, Gaussian):
        return None
    name = _model_name(family)
    return KINDS.get(name, MODEL_BASE + covariance_kernels.MODEL_CODES[name])


def _model_name(family: Gaussian) -> str:
    """The family's three-letter model (one-column names E and V as EII and VII)."""
    return {"E": "EII", "V": "VII"}.get(family.model, family.model)


def run_compiled(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    starts: Sequence[Start],
    kind: int,
    budgets: np.ndarray,
    *,
    tol: float,
    reg_covar: float,
    chunk: int,
    race: Race | None = None,
    resp: tuple[Gaussian, np.ndarray] | None = None,
) -> list[EMRun | FitError]:
    """:func:`mixem.em.batch.run_many` for starts of one Gaussian family (see the module).

    A fit that needs a re-seed (or whose M-step fails) takes that iteration alone through
    :func:`mixem.em.loop.run_em`, its re-seed counts carried over, and goes back into a
    compiled batch with the others that did. With ``resp = (family, R)`` the fits start from
    the M-step of responsibilities ``R`` ``(B, K, n)`` instead of ``starts`` (which may then
    be empty); a start whose M-step fails is a :class:`~mixem.exceptions.FitError`.
    """
    B = len(starts) if resp is None else resp[1].shape[0]
    K = starts[0][0].size if resp is None else resp[1].shape[1]
    name = family_name(starts[0][1][0].family if resp is None else resp[0])
    budgets = np.asarray(budgets, dtype=np.int64)
    targets = np.full(1, -np.inf) if race is None else np.asarray(race.floors, dtype=float).copy()
    out: list[EMRun | FitError | None] = [None] * B
    reseeds = [np.zeros(K, dtype=int) for _ in range(B)]
    todo = np.arange(B)
    current: list[EMRun | None] = [None] * B  # each fit's chain so far, once it left a batch
    batch_starts = list(starts)
    first = resp
    while todo.size:
        w = sample_weight
        if w is not None and w.ndim == 2:
            w = w[todo]
        groups = None if race is None else race.groups[todo]
        left = budgets[todo] - np.array(
            [0 if current[i] is None else current[i].n_iter for i in todo]
        )
        status, runs = _batch(
            X, w, batch_starts, kind, left, tol, reg_covar, groups, targets,
            1 if race is None else race.protect, first,
        )  # fmt: skip
        first = None
        again, again_starts = [], []
        for i, st, run in zip(todo, status, runs, strict=True):
            if st == INVALID:
                out[i] = FitError(
                    f"initial parameters of {name} are invalid: the responsibilities "
                    "leave a component without weight or with a covariance that is not "
                    "positive definite"
                )
                continue
            if run is None:
                run = current[i]  # ejected before its first pass: from where it was
            elif isinstance(run, EMRun) and current[i] is not None:
                run = _joined(current[i], run)
            if st != EJECTED:
                out[i] = run
                continue
            if race is not None and not race.reseed:  # the race stops paying for it
                out[i] = (
                    replace(run, dropped=True)
                    if run is not None
                    else FitError(f"a start of {name} needs a re-seed before its first pass")
                )
                continue
            # One iteration alone: the re-seed (or the M-step's error), then back to a batch.
            try:
                if run is not None:
                    for comp in run.components:
                        _check(comp)
            except ValueError as err:
                # The loop's factorisation passed a covariance that NumPy's does not (rounding
                # of a nearly singular one), and the engine's Python is about to use it.
                out[i] = FitError(f"the parameters of {name} became invalid: {err}")
                continue
            try:
                more = run_em(
                    X, _fit_weights(sample_weight, i), run.weights, run.components,
                    max_iter=1, tol=tol, reg_covar=reg_covar, chunk=chunk,
                    first_pass=run.last_pass, reseeds=reseeds[i],
                ) if run is not None else run_em(
                    X, _fit_weights(sample_weight, i), *starts[i],
                    max_iter=int(budgets[i]), tol=tol, reg_covar=reg_covar, chunk=chunk,
                )  # fmt: skip
            except RunError as err:
                # The error carries the events of the whole chain, as a run alone would.
                out[i] = (
                    err
                    if run is None
                    else RunError(str(err), run.events + shifted(err.events, run.n_iter))
                )
                continue
            except FitError as err:
                out[i] = err
                continue
            if run is not None and run.n_iter:
                more = _joined(run, more)
            if more.converged or more.n_iter >= budgets[i] or run is None:
                out[i] = more
                continue
            current[i] = more
            again.append(i)
            again_starts.append((more.weights, more.components))
        todo = np.asarray(again, dtype=int)
        batch_starts = again_starts
    return out  # type: ignore[return-value]


def _owned(a: np.ndarray) -> np.ndarray:
    """``a`` as a writable C-contiguous float64 array (a copy only if it is not one).

    numba compiles the loop once per layout and writability of its arguments (about 15 s
    each): a read-only total or a transposed covariance stack would compile it again.
    """
    return np.require(a, dtype=np.float64, requirements=["C", "W"])


def _batch(
    X, sample_weight, starts, kind, budgets, tol, reg_covar, groups, targets, protect, resp
) -> tuple[np.ndarray, list[EMRun | FitError | None]]:  # fmt: skip
    """One call of the compiled loop: every fit's status and run (None: ejected at start).

    ``targets`` (the race's best plausible log-likelihood of every group) is updated in place.
    ``resp`` is None or ``(family, R)``: start from the M-step of responsibilities ``R``.
    """
    n, d = X.shape
    if resp is None:
        family = starts[0][1][0].family
        B = len(starts)
        K = starts[0][1][0].n_components
        means = _owned(np.stack([comps[0].means for _, comps in starts]))
        cov = _owned(np.stack([_matrices(comps[0]) for _, comps in starts]))
        weights = _owned(np.stack([wt for wt, _ in starts]))
        R = np.zeros((0, 1, 1))
    else:
        family, R = resp
        B, K = R.shape[:2]
        means, cov, weights = np.zeros((B, K, d)), np.zeros((B, K, d, d)), np.zeros((B, K))
    W = _owned(np.ones((1, n)) if sample_weight is None else np.atleast_2d(sample_weight))
    totals = _owned(np.broadcast_to(W.sum(axis=1) if sample_weight is not None else float(n), (B,)))
    # Rows counted in weight (frequency weights), as the NumPy loop's re-seed rule counts them.
    usable = _owned(np.broadcast_to(W.sum(axis=1), (B,)).astype(np.float64))
    need = float(family.min_count(d))
    layout = _layout(kind)
    if kind >= MODEL_BASE:
        model, own = kind - MODEL_BASE, family._variable(d)
        control = np.array([family.m_step_tol, family.m_step_max_iter], dtype=np.float64)
    else:
        model, own, control = -1, layout != TIED, None
    racing = groups is not None
    groups = np.zeros(B, dtype=np.int64) if groups is None else np.asarray(groups, np.int64)
    budgets = np.asarray(budgets, dtype=np.int64)
    status = np.zeros(B, dtype=np.int64)
    n_iter = np.zeros(B, dtype=np.int64)
    initial = np.full(B, np.nan)
    logliks = np.full((B, max(int(budgets.max(initial=0)), 1)), np.nan)
    loglik = np.full(B, np.nan)
    entropy = np.full(B, np.nan)
    nk = np.zeros((B, K))
    mean = np.zeros((B, K, d))
    scatter = np.zeros((B, K, d, d))
    plausible = np.zeros(B, dtype=np.bool_)
    started = time.perf_counter()
    _loop(
        _owned(X.T), W, layout, model, own, control, means, cov, weights, budgets,
        totals, usable, need,
        float(tol), float(reg_covar), groups, targets, int(protect),
        racing, RACE_MIN_ITER, RACE_SAFETY, RACE_MAX_RATIO, _owned(R),
        status, n_iter, initial, logliks, loglik, entropy, nk, mean, scatter, plausible,
    )  # fmt: skip
    per_iteration = (time.perf_counter() - started) / max(int(n_iter.sum()), 1)
    # Every fit's parameters and statistics as views of arrays made once for the batch (the
    # loop's outputs belong to this call): a search ranks and drops most runs unread.
    covariances, scatters = _gaussian_outputs(family, cov, scatter)
    pass_nk, stats_mean = nk.copy(), mean.copy()
    changes = np.diff(np.concatenate([initial[:, None], logliks], axis=1), axis=1)
    changes /= totals[:, None]
    seconds = np.full(logliks.shape[1], per_iteration)
    unmoved = np.zeros(logliks.shape[1], dtype=bool)
    runs: list[EMRun | FitError | None] = []
    for b in range(B):
        if status[b] == UNCOVERED:
            runs.append(UncoveredRowError(UNCOVERED_MESSAGE))
            continue
        if status[b] == INVALID or not np.isfinite(initial[b]):
            runs.append(None)  # an invalid start, or one not even prepared: it runs alone
            continue
        m = int(n_iter[b])
        total = float(totals[b])
        values = logliks[b, :m]
        events = []
        if reg_covar == 0:
            down = changes[b, :m] < -1e-9 * (1.0 + np.abs(values / total))
            for it in np.flatnonzero(down):
                events.append(decrease_event(float(-changes[b, it]), int(it) + 1))
        known = status[b] in (CONVERGED, EXHAUSTED, DROPPED)
        runs.append(
            EMRun(
                weights[b],
                (_components(family, means[b], covariances[b]),),
                float(loglik[b]),
                float(entropy[b]),
                m,
                bool(status[b] == CONVERGED),
                Trace(float(initial[b]), values, changes[b, :m], seconds[:m], unmoved[:m], rows=n),
                tuple(events),
                EPass(
                    float(loglik[b]),
                    float(entropy[b]),
                    pass_nk[b],
                    [GaussianStats(nk[b], stats_mean[b], scatters[b])],
                ),
                dropped=bool(status[b] == DROPPED),
                spurious_at=(total, float(reg_covar), not plausible[b]) if known else None,
            )
        )
    return status, runs


def _check(components: Components) -> None:
    """Raise ValueError if the loop's parameters are not valid for NumPy's factorisation."""
    components.family.check_params(components.params())


def _matrices(components: Components) -> np.ndarray:
    """Covariance matrices ``(k, d, d)`` of a start's components."""
    return components.moments()[1]


def _components(family: Gaussian, means: np.ndarray, covariances: np.ndarray) -> Components:
    """A fit's components from the loop's arrays (valid: they passed its factorisation)."""
    return Components(family, {"means": means, "covariances": covariances})


def _gaussian_outputs(
    family: Gaussian, cov: np.ndarray, scatter: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A ``Gaussian`` family's covariances as it stores them, and its statistics' scatters."""
    layout = family._layout
    if layout == "spherical":
        covariances = cov[:, :, 0, 0].copy()
    elif layout == "diagonal":
        covariances = np.ascontiguousarray(cov.diagonal(0, 2, 3))
    elif layout == "tied":
        covariances = cov[:, 0].copy()
    else:
        covariances = cov
    if layout in ("tied", "full"):
        return covariances, scatter
    return covariances, np.ascontiguousarray(scatter.diagonal(0, 2, 3))
