"""Benchmark mixem against scikit-learn's GaussianMixture, side by side in one process.

Both libraries start from the same parameters and run the same fixed number of EM iterations
(``tol=0``) on the same synthetic data. For every (shape, family) the script reports:

* seconds per iteration: the marginal cost of ``--iters`` more iterations (a fit of 1 + iters
  iterations minus a fit of 1), measured the same way for both libraries (best of ``--repeat``
  runs), plus the whole-fit ratio and mixem's own per-iteration trace median
  (``result.trace.seconds``) as extra columns;
* peak extra memory during ``fit``, from ``tracemalloc`` (numpy reports its buffers to it), in a
  separate, shorter run so that tracing does not slow the timed runs;
* the relative difference of the final log-likelihoods, a check that both did the same work;
* pass/fail against the targets of the project issue.

BLAS and OpenMP pools are limited to ``--threads`` threads (default 1) for the whole run: numpy
and scipy wheels each bundle their own OpenBLAS, and on a small machine their spinning thread
pools fight each other, which makes timings slow and erratic (``--threads 0`` keeps the
libraries' defaults).

Run ``python benchmarks/bench_em.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_info, threadpool_limits

import mixem

Shape = tuple[int, int, int]

DEFAULT_SHAPES: list[Shape] = [(1_000_000, 10, 8), (100_000, 2, 3), (100_000, 100, 5)]
QUICK_SHAPES: list[Shape] = [(20_000, 10, 8), (5_000, 2, 3), (5_000, 20, 5)]

#: family name -> (mixem class, scikit-learn covariance_type)
FAMILIES: dict[str, tuple[mixem.Family | type[mixem.Family], str]] = {
    "full": (mixem.GaussianFull, "full"),
    "diag": (mixem.GaussianDiagonal, "diag"),
    "spherical": (mixem.GaussianSpherical, "spherical"),
    "tied": (mixem.GaussianTied, "tied"),
}

#: Targets of the project issue: time ratio (mixem / sklearn) per shape ...
TIME_TARGETS: dict[Shape, float] = {
    (1_000_000, 10, 8): 0.25,
    (100_000, 2, 3): 0.25,
    (100_000, 100, 5): 0.5,
}
#: ... and memory ratio for data of at least this many rows.
MEMORY_TARGET = 0.10
MEMORY_TARGET_MIN_ROWS = 1_000_000

REG_COVAR = 1e-6
MIB = 1024.0 * 1024.0


# -- data and starting parameters ---------------------------------------------------------
def make_data(n: int, d: int, K: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K Gaussian clusters with random covariances; returns the data and the true means."""
    rng = np.random.default_rng([seed, n, d, K])
    means = rng.normal(scale=5.0 / np.sqrt(d), size=(K, d))
    weights = rng.dirichlet(np.full(K, 5.0))
    counts = rng.multinomial(n, weights)
    X = np.empty((n, d))
    start = 0
    for k in range(K):
        A = rng.normal(size=(d, d)) / np.sqrt(d)
        cov = rng.uniform(0.5, 1.5) * (0.5 * A @ A.T + np.diag(rng.uniform(0.2, 1.0, size=d)))
        L = np.linalg.cholesky(cov)
        stop = start + counts[k]
        X[start:stop] = rng.standard_normal((counts[k], d)) @ L.T + means[k]
        start = stop
    X = X[rng.permutation(n)]
    return np.ascontiguousarray(X), means


def make_start(
    X: np.ndarray, true_means: np.ndarray, family: str, seed: int
) -> dict[str, np.ndarray]:
    """Uniform weights, perturbed true means, identity covariances scaled to the data."""
    K, d = true_means.shape
    rng = np.random.default_rng([seed, 1])
    scale = float(X.var(axis=0).mean())
    means = true_means + rng.normal(scale=0.5, size=(K, d))
    weights = np.full(K, 1.0 / K)
    if family == "full":
        cov: np.ndarray = np.repeat(scale * np.eye(d)[None], K, axis=0)
    elif family == "diag":
        cov = np.full((K, d), scale)
    elif family == "spherical":
        cov = np.full(K, scale)
    elif family == "tied":
        cov = scale * np.eye(d)
    else:
        raise ValueError(f"unknown family {family!r}")
    return {"weights": weights, "means": means, "covariances": cov}


def precisions_of(cov: np.ndarray, family: str) -> np.ndarray:
    """scikit-learn's ``precisions_init`` for covariances shaped like its ``covariances_``."""
    if family in ("full", "tied"):
        return np.linalg.inv(cov)
    return 1.0 / cov


# -- the two fits -------------------------------------------------------------------------
def fit_mixem(X: np.ndarray, family: str, start: dict, iters: int) -> tuple[float, Any]:
    model = mixem.MixtureModel(
        FAMILIES[family][0],
        n_components=start["weights"].size,
        max_iter=iters,
        tol=0.0,
        reg_covar=REG_COVAR,
    )
    t0 = time.perf_counter()
    result = model.fit(X, init_params=start)
    return time.perf_counter() - t0, result


def fit_sklearn(X: np.ndarray, family: str, start: dict, iters: int) -> tuple[float, Any]:
    # With weights_init, means_init and precisions_init all given, recent scikit-learn skips its
    # initialisation; older releases still ran it (k-means on all the data by default) before
    # overriding it, so pick the cheapest one in case.
    gm = GaussianMixture(
        start["weights"].size,
        covariance_type=FAMILIES[family][1],
        weights_init=start["weights"],
        means_init=start["means"],
        precisions_init=precisions_of(start["covariances"], family),
        max_iter=iters,
        tol=0.0,
        reg_covar=REG_COVAR,
        n_init=1,
        init_params="random_from_data",
        random_state=0,
    )
    t0 = time.perf_counter()
    gm.fit(X)
    return time.perf_counter() - t0, gm


FITS = {"sklearn": fit_sklearn, "mixem": fit_mixem}


def peak_memory(fit, X: np.ndarray, family: str, start: dict, iters: int) -> float:
    """Peak memory allocated during ``fit`` beyond what was held before it, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fit(X, family, start, iters)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del out
    return (peak - before) / MIB


# -- one benchmark case -------------------------------------------------------------------
@dataclass
class Record:
    n: int
    d: int
    K: int
    family: str
    iters: int
    repeat: int
    sklearn_s_per_iter: float
    mixem_s_per_iter: float
    mixem_trace_s_per_iter: float
    time_ratio: float
    time_target: float | None
    time_pass: bool | None
    sklearn_s_per_iter_median: float
    mixem_s_per_iter_median: float
    mem_iters: int
    sklearn_peak_mib: float | None
    mixem_peak_mib: float | None
    mem_ratio: float | None
    mem_target: float | None
    mem_pass: bool | None
    sklearn_loglik: float
    mixem_loglik: float
    loglik_rel_diff: float
    sklearn_whole_fit_s_per_iter: float
    mixem_whole_fit_s_per_iter: float
    sklearn_n_iter: int
    mixem_n_iter: int


def run_case(
    X: np.ndarray, shape: Shape, family: str, start: dict, args: argparse.Namespace
) -> Record:
    n, d, K = shape
    times: dict[str, list[float]] = {"sklearn": [], "mixem": []}
    whole: dict[str, list[float]] = {"sklearn": [], "mixem": []}
    trace_seconds: list[float] = []
    last: dict[str, Any] = {}
    for _ in range(args.repeat):
        for lib, fit in FITS.items():
            last.pop(lib, None)
            gc.collect()
            # Seconds per iteration = the marginal cost of `iters` more iterations: a fit of
            # 1 + iters iterations minus a fit of 1, so the fixed set-up of each library
            # (validation, first and last E-step) cancels out for both alike.
            one, _ = fit(X, family, start, 1)
            gc.collect()
            seconds, out = fit(X, family, start, 1 + args.iters)
            times[lib].append((seconds - one) / args.iters)
            whole[lib].append(seconds / (1 + args.iters))
            last[lib] = out
            if lib == "mixem":
                trace_seconds.extend(out.trace.seconds.tolist())
    gm, res = last["sklearn"], last["mixem"]
    sk_ll = float(gm.score(X) * n)
    mx_ll = float(res.loglik)
    sk_n_iter, mx_n_iter = int(gm.n_iter_), int(res.n_iter)
    last.clear()
    del gm, res

    sk_t, mx_t = min(times["sklearn"]), min(times["mixem"])
    time_target = TIME_TARGETS.get(shape)
    time_ratio = mx_t / sk_t
    sk_mem = mx_mem = mem_ratio = mem_target = None
    mem_pass = None
    if args.mem_iters > 0:
        sk_mem = peak_memory(fit_sklearn, X, family, start, args.mem_iters)
        mx_mem = peak_memory(fit_mixem, X, family, start, args.mem_iters)
        mem_ratio = mx_mem / sk_mem
        if n >= MEMORY_TARGET_MIN_ROWS:
            mem_target = MEMORY_TARGET
            mem_pass = mem_ratio <= mem_target
    return Record(
        n=n,
        d=d,
        K=K,
        family=family,
        iters=args.iters,
        repeat=args.repeat,
        sklearn_s_per_iter=sk_t,
        mixem_s_per_iter=mx_t,
        mixem_trace_s_per_iter=float(np.median(trace_seconds)),
        time_ratio=time_ratio,
        time_target=time_target,
        time_pass=None if time_target is None else time_ratio <= time_target,
        sklearn_whole_fit_s_per_iter=min(whole["sklearn"]),
        mixem_whole_fit_s_per_iter=min(whole["mixem"]),
        sklearn_s_per_iter_median=statistics.median(times["sklearn"]),
        mixem_s_per_iter_median=statistics.median(times["mixem"]),
        mem_iters=args.mem_iters,
        sklearn_peak_mib=sk_mem,
        mixem_peak_mib=mx_mem,
        mem_ratio=mem_ratio,
        mem_target=mem_target,
        mem_pass=mem_pass,
        sklearn_loglik=sk_ll,
        mixem_loglik=mx_ll,
        loglik_rel_diff=abs(mx_ll - sk_ll) / abs(sk_ll),
        sklearn_n_iter=sk_n_iter,
        mixem_n_iter=mx_n_iter,
    )


# -- reporting ----------------------------------------------------------------------------
def machine_context() -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "mixem": mixem.__version__,
    }
    if hasattr(os, "sched_getaffinity"):
        ctx["cpus_usable"] = len(os.sched_getaffinity(0))
    ctx["threadpools"] = [
        f"{p.get('internal_api')} {p.get('version') or ''} threads={p.get('num_threads')}"
        f" ({p.get('filepath', '').rsplit('/', 1)[-1]})".replace("  ", " ")
        for p in threadpool_info()
    ]
    return ctx


def _shape_label(shape: Shape) -> str:
    n, d, K = shape
    return f"n={n:.0e} d={d} K={K}".replace("e+0", "e")


def _verdict(value: float | None, target: float | None, passed: bool | None) -> str:
    if value is None or target is None:
        return "-"
    return f"{'PASS' if passed else 'FAIL'} <={target:g}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(records: list[Record]) -> None:
    header = [
        "shape",
        "family",
        "skl s/it",
        "mixem s/it",
        "mx trace",
        "ratio",
        "time target",
        "whole-fit ratio",
        "skl MiB",
        "mixem MiB",
        "mem ratio",
        "mem target",
        "loglik rdiff",
    ]
    rows = [
        [
            _shape_label((r.n, r.d, r.K)),
            r.family,
            f"{r.sklearn_s_per_iter:.4f}",
            f"{r.mixem_s_per_iter:.4f}",
            f"{r.mixem_trace_s_per_iter:.4f}",
            f"{r.time_ratio:.3f}",
            _verdict(r.time_ratio, r.time_target, r.time_pass),
            f"{r.mixem_whole_fit_s_per_iter / r.sklearn_whole_fit_s_per_iter:.3f}",
            _num(r.sklearn_peak_mib, ".1f"),
            _num(r.mixem_peak_mib, ".1f"),
            _num(r.mem_ratio, ".3f"),
            _verdict(r.mem_ratio, r.mem_target, r.mem_pass),
            f"{r.loglik_rel_diff:.1e}",
        ]
        for r in records
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    left = {0, 1}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


# -- command line -------------------------------------------------------------------------
def parse_shape(text: str) -> Shape:
    parts = text.replace("(", "").replace(")", "").split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"a shape is n,d,K (e.g. 1e5,2,3), got {text!r}")
    try:
        n, d, K = (int(float(p)) for p in parts)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: {err}") from err
    if min(n, d, K) < 1 or n < K:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: need n >= K >= 1, d >= 1")
    return n, d, K


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time and memory of mixem vs scikit-learn GaussianMixture (same start, "
        "same fixed number of EM iterations).",
    )
    p.add_argument("--iters", type=int, default=10, help="EM iterations per timed fit (10)")
    p.add_argument(
        "--shapes",
        nargs="+",
        metavar="N,D,K",
        help="shapes to run, e.g. --shapes 1e5,2,3 1e6,10,8 (separate with spaces or ';'); "
        "default: 1e6,10,8 1e5,2,3 1e5,100,5",
    )
    p.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help=f"comma-separated subset of {','.join(FAMILIES)} (default: all)",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="timed fits per library; best is reported (1)"
    )
    p.add_argument(
        "--mem-iters",
        type=int,
        default=3,
        help="EM iterations of the separate tracemalloc run (3); 0 skips memory",
    )
    p.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="limit BLAS/OpenMP pools to this many threads (1); 0 keeps library defaults",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of data and starts (0)")
    args = p.parse_args(argv)
    if args.iters < 1 or args.repeat < 1 or args.mem_iters < 0 or args.threads < 0:
        p.error("--iters and --repeat must be >= 1, --mem-iters and --threads >= 0")
    if args.shapes:
        texts = [s for item in args.shapes for s in item.replace(";", " ").split()]
        try:
            args.shapes = [parse_shape(t) for t in texts]
        except argparse.ArgumentTypeError as err:
            p.error(str(err))
    else:
        args.shapes = QUICK_SHAPES if args.quick else DEFAULT_SHAPES
    fams = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in fams if f not in FAMILIES]
    if unknown or not fams:
        p.error(f"--families: unknown {unknown}; choose from {', '.join(FAMILIES)}")
    args.families = fams
    return args


def warm_up(families: list[str]) -> None:
    """One tiny fit per library and family, so first-call costs do not land in a timing."""
    X, means = make_data(500, 3, 2, seed=12345)
    for family in families:
        start = make_start(X, means, family, seed=12345)
        fit_sklearn(X, family, start, 2)
        fit_mixem(X, family, start, 2)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=mixem.ConvergenceWarning)
    warnings.filterwarnings("ignore", category=SkConvergenceWarning)
    if args.threads > 0:
        threadpool_limits(args.threads)  # stays in force for the rest of the process

    ctx = machine_context()
    print("# mixem vs scikit-learn GaussianMixture")
    for key, value in ctx.items():
        if isinstance(value, list):
            for item in value:
                print(f"#   {key}: {item}")
        else:
            print(f"#   {key}: {value}")
    print(
        f"# iters={args.iters} repeat={args.repeat} (best) mem_iters={args.mem_iters} "
        f"seed={args.seed} reg_covar={REG_COVAR:g} tol=0 "
        f"threads={args.threads or 'library defaults'}"
    )
    print(
        "# s/it = (time of a fit of 1 + iters iterations - time of a 1-iteration fit) / iters, "
        "both libraries; whole-fit ratio = whole fit / (1 + iters), set-up included; "
        "mx trace = median of mixem's "
        "result.trace.seconds; ratio = mixem / sklearn; MiB = tracemalloc peak during fit "
        "minus memory held before it"
    )
    sys.stdout.flush()

    warm_up(args.families)
    t_start = time.perf_counter()
    records: list[Record] = []
    for shape in args.shapes:
        t0 = time.perf_counter()
        X, true_means = make_data(*shape, seed=args.seed)
        print(
            f"# {_shape_label(shape)}: data {X.nbytes / MIB:.0f} MiB made in "
            f"{time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        for family in args.families:
            t0 = time.perf_counter()
            start = make_start(X, true_means, family, seed=args.seed)
            rec = run_case(X, shape, family, start, args)
            records.append(rec)
            print(
                f"#   {family:<9} done in {time.perf_counter() - t0:5.1f}s  "
                f"(ratio {rec.time_ratio:.3f}, loglik rdiff {rec.loglik_rel_diff:.1e})",
                flush=True,
            )
        del X
        gc.collect()
    print(f"# total benchmark time {time.perf_counter() - t_start:.0f}s")
    print()
    print_table(records)
    bad_iters = [
        r for r in records if r.sklearn_n_iter != 1 + r.iters or r.mixem_n_iter != 1 + r.iters
    ]
    for r in bad_iters:
        print(
            f"# WARNING {_shape_label((r.n, r.d, r.K))} {r.family}: ran sklearn "
            f"{r.sklearn_n_iter}, mixem {r.mixem_n_iter} iterations, not {1 + r.iters}"
        )
    print()
    print("# json")
    print(json.dumps({"kind": "context", **ctx, **{"args": _jsonable_args(args)}}))
    for r in records:
        print(json.dumps({"kind": "result", **asdict(r)}))
    return 0


def _jsonable_args(args: argparse.Namespace) -> dict[str, Any]:
    out = dict(vars(args))
    out["shapes"] = [list(s) for s in args.shapes]
    return out


if __name__ == "__main__":
    sys.exit(main())
