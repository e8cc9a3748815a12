"""Per-iteration cost of the Gaussian families at small n and d, old code against new.

At Old Faithful's size (272 x 2) one EM iteration takes well under a millisecond, and almost all
of it is Python and NumPy call overhead; a model-selection study runs tens of thousands of them.
This script times, for every Gaussian family, with BLAS and OpenMP pools pinned to one thread:

* ``faithful K=3``: one iteration of ``mixem.em.loop.run_em`` from a fixed k-means++ start
  (``tol=0``, ``--iters`` iterations, total time divided by the iterations);
* ``faithful K=150``: one iteration over a stack of 50 fits of 3 components (50 k-means++
  starts) held as one 150-component family, the E-step normalised per fit, as a batching engine
  would run it (``run_em`` itself normalises over all 150 components, which would starve them);
* ``iris K=3``: as the first, on iris (150 x 4).

``family`` columns time only the family's own calls of one iteration (``log_prob``,
``expected_statistics``, ``collapsed``, ``from_statistics``) at the start's parameters, so the
rest of a ``run_em`` iteration is the engine's.

The old code is the family and statistics modules of another revision (``--baseline``, default
``main``), read with ``git show`` and loaded under other module names; the engine is the same
for both, so the columns compare the families only. Old and new are timed alternately in one
process (best of ``--repeat``), because timings on a shared machine drift. ``rdiff`` is the
largest relative difference of the two runs' log-likelihoods over the iterations.

Run from the repository: ``python benchmarks/bench_small.py [--baseline REV] [--iters N]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import mixem
from mixem.em.init import initial_statistics
from mixem.em.loop import run_em

REPO = Path(__file__).resolve().parent.parent
FAMILIES = ["GaussianFull", "GaussianDiagonal", "GaussianSpherical", "GaussianTied"]
REG_COVAR = 1e-6
CHUNK = 4096


def load_baseline(revision: str | None, directory: str | None) -> types.ModuleType:
    """The Gaussian families of ``revision`` (or of ``directory``) as a fresh module."""

    def source(name: str) -> str:
        if directory is not None:
            return (Path(directory) / name).read_text()
        return subprocess.run(
            ["git", "-C", str(REPO), "show", f"{revision}:mixem/components/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    modules = {}
    for name, module in [("stats.py", "_baseline_stats"), ("gaussian.py", "_baseline_gaussian")]:
        code = source(name).replace("mixem.components.stats", "_baseline_stats")
        mod = types.ModuleType(module)
        sys.modules[module] = mod  # dataclasses and annotations look modules up by name
        exec(compile(code, f"<{revision or directory}:{name}>", "exec"), mod.__dict__)
        modules[name] = mod
    return modules["gaussian.py"]


def start(X: np.ndarray, family: type, k: int, seed: int) -> tuple[np.ndarray, dict]:
    """Weights and parameters of a k-means++ start (one M-step from hard assignments)."""
    nk, stats = initial_statistics(
        X, None, [family], [k], "kmeans++", np.random.default_rng(seed), CHUNK
    )
    return nk / nk.sum(), family.from_statistics(stats[0], reg_covar=REG_COVAR).params()


def stacked_start(X: np.ndarray, family: type, k: int, fits: int) -> tuple[np.ndarray, dict]:
    """``fits`` starts of ``k`` components held as one family of ``fits * k`` components."""
    starts = [start(X, family, k, seed) for seed in range(fits)]
    weights = np.concatenate([w for w, _ in starts])
    means = np.concatenate([p["means"] for _, p in starts])
    if family.__name__ == "GaussianTied":  # one covariance for the whole stack: the first's
        cov = starts[0][1]["covariances"]
    else:
        cov = np.concatenate([p["covariances"] for _, p in starts])
    return weights, {"means": means, "covariances": cov}


def em_iterations(X: np.ndarray, weights: np.ndarray, comp: Any, iters: int) -> np.ndarray:
    """``run_em`` for ``iters`` iterations; returns the log-likelihood trace."""
    run = run_em(
        X, None, weights, [comp], max_iter=iters, tol=0.0, reg_covar=REG_COVAR, chunk=CHUNK
    )
    return run.trace.loglik


def grouped_iterations(
    X: np.ndarray, weights: np.ndarray, comp: Any, iters: int, k: int
) -> np.ndarray:
    """EM on a stack of fits of ``k`` components each, normalised per fit; log-likelihoods."""
    cls = type(comp)
    n = X.shape[0]
    log_w = np.log(weights)
    out = np.empty(iters)
    for it in range(iters + 1):
        logp = (comp.log_prob(X) + log_w).reshape(n, -1, k)
        top = logp.max(axis=2, keepdims=True)
        resp = np.exp(logp - top)
        total = resp.sum(axis=2, keepdims=True)
        resp /= total
        if it:
            out[it - 1] = (top + np.log(total)).sum()
        if it == iters:
            break
        resp = resp.reshape(n, -1)
        stats = comp.expected_statistics(X, resp)
        cls.collapsed(stats)
        comp = cls.from_statistics(stats, reg_covar=REG_COVAR)
        nk = stats.weight.reshape(-1, k)
        log_w = np.log(nk / nk.sum(axis=1, keepdims=True)).ravel()
    return out


def family_calls(X: np.ndarray, comp: Any, resp: np.ndarray, iters: int) -> None:
    """The family's own calls of one iteration, ``iters`` times, at fixed parameters."""
    cls = type(comp)
    for _ in range(iters):
        comp.log_prob(X)
        stats = comp.expected_statistics(X, resp)
        cls.collapsed(stats)
        cls.from_statistics(stats, reg_covar=REG_COVAR)


def timed(fn: Callable[[], Any], timings: list[float]) -> Any:
    """Call ``fn``, append its wall time to ``timings``, return its value."""
    t0 = time.perf_counter()
    value = fn()
    timings.append(time.perf_counter() - t0)
    return value


def measure(
    X: np.ndarray, k: int, fits: int, new_cls: type, old_cls: type, iters: int, repeat: int
) -> tuple[dict[str, float], dict[str, float], float]:
    """Milliseconds per EM iteration and per family-only iteration, old and new; rdiff."""
    if fits == 1:
        weights, params = start(X, new_cls, k, 0)
    else:
        weights, params = stacked_start(X, new_cls, k, fits)
    comps = {"old": old_cls(**params), "new": new_cls(**params)}
    resp = np.exp(comps["new"].log_prob(X) + np.log(weights))
    resp /= resp.sum(axis=1, keepdims=True)

    def run(c: Any) -> np.ndarray:
        if fits == 1:
            return em_iterations(X, weights, c, iters)
        return grouped_iterations(X, weights, c, iters, k)

    traces = {key: run(c) for key, c in comps.items()}  # also the warm-up
    em_t: dict[str, list[float]] = {"old": [], "new": []}
    fam_t: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(repeat):  # alternate old and new: drift hits both columns alike
        for key, c in comps.items():
            timed(lambda c=c: run(c), em_t[key])
            timed(lambda c=c: family_calls(X, c, resp, iters), fam_t[key])
    ms = {key: 1e3 * min(t) / iters for key, t in em_t.items()}
    fam = {key: 1e3 * min(t) / iters for key, t in fam_t.items()}
    return ms, fam, float(np.max(np.abs(traces["new"] / traces["old"] - 1.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main", help="git revision of the old code")
    parser.add_argument("--baseline-dir", help="directory with the old gaussian.py and stats.py")
    parser.add_argument("--iters", type=int, default=50, help="EM iterations per timed run")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per column (best)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()

    old_module = load_baseline(args.baseline, args.baseline_dir)
    faithful = mixem.datasets.load_faithful().to_numpy()
    iris = mixem.datasets.load_iris().to_numpy(dtype=float)
    cases = [("faithful K=3", faithful, 3, 1), ("faithful K=150", faithful, 3, 50)]
    cases.append(("iris K=3", iris, 3, 1))
    print(
        f"baseline: {args.baseline_dir or args.baseline}; {args.iters} iterations, best of "
        f"{args.repeat}; BLAS 1 thread; numpy {np.__version__}"
    )
    header = (
        f"{'case':<15} {'family':<18} {'old ms/it':>10} {'new ms/it':>10} {'speedup':>8} "
        f"{'old family':>11} {'new family':>11} {'rdiff':>9}"
    )
    print(header)
    print("-" * len(header))
    with threadpool_limits(1):
        for label, X, k, fits in cases:
            for name in args.families.split(","):
                ms, fam, rdiff = measure(
                    X,
                    k,
                    fits,
                    getattr(mixem, name),
                    getattr(old_module, name),
                    args.iters,
                    args.repeat,
                )
                print(
                    f"{label:<15} {name:<18} {ms['old']:>10.3f} {ms['new']:>10.3f} "
                    f"{ms['old'] / ms['new']:>7.2f}x {fam['old']:>11.3f} {fam['new']:>11.3f} "
                    f"{rdiff:>9.1e}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
