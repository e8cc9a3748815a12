"""Model-selection studies: mixem.select against scikit-learn and R's mclust, with hit rates.

The acceptance benchmark of the issue "Many fits at once: one engine entry point, and a
model-selection study faster than mclust's". In one run, for each dataset (Old Faithful, iris,
the Swiss banknotes and a synthetic 2-D set of 1e5 rows, see ``synthetic``):

* wall time of ``mixem.select(X, range(1, 10), random_state=SEED)``, the library's defaults
  otherwise (4 Gaussian families x K = 1..9 = 36 cells);
* wall time of scikit-learn's ``GaussianMixture`` over the same 36 cells (``covariance_type``
  full, diag, spherical, tied) with ``n_init=1`` and with ``n_init=10``, its defaults otherwise
  (``random_state=SEED``);
* where ``Rscript`` and mclust are installed, the time of ``Mclust(X, G=1:9,
  modelNames=c("VVV","VVI","VII","EEE"))`` and of ``Mclust(X, G=1:9)`` (all 14 models), timed
  inside R by ``benchmarks/mclust_select.R`` (R's start-up excluded; the whole subprocess is
  reported too);
* the hit rate: the share of (family, K) cells where the select's fit is not spurious and its
  log-likelihood is at least the cached reference minus 1e-6 relative. The reference of a cell
  is the best non-spurious log-likelihood of single-start k-means++ fits with seeds 0..R-1
  (``--reference``, recomputed with ``--recompute-reference``).

Then single-fit targets on Old Faithful: a default ``MixtureModel(GaussianFull, 3,
random_state=0).fit`` (median of repeats), ``to_arviz(draws=200, random_state=0)`` and
``diagnostics()`` of a GaussianTied K=3 fit, and mclust's ``MclustBootstrap(Mclust(X, G=3,
modelNames="EEE"), nboot=200, type="wlbs")``.

BLAS/OpenMP pools are limited to ``--threads`` threads (default 1) in this process
(threadpoolctl) and in R (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``).

    python benchmarks/bench_select.py                  # everything; about an hour on 2 cores
    python benchmarks/bench_select.py --quick          # smoke run: K = 1..3, no 1e5 set
    python benchmarks/bench_select.py --datasets faithful,iris --no-r
    python benchmarks/bench_select.py --recompute-reference   # rebuild the cached reference
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

import mixem

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "mclust_select.R"
DEFAULT_REFERENCE = HERE / "reference_select.json"

#: family name of mixem -> (class, scikit-learn covariance_type, mclust model name)
FAMILIES: dict[str, tuple[mixem.Family | type[mixem.Family], str, str]] = {
    "GaussianFull": (mixem.GaussianFull, "full", "VVV"),
    "GaussianDiagonal": (mixem.GaussianDiagonal, "diag", "VVI"),
    "GaussianSpherical": (mixem.GaussianSpherical, "spherical", "VII"),
    "GaussianTied": (mixem.GaussianTied, "tied", "EEE"),
}
#: mclust's names of the same models for 1-D data (only "V" and "E" exist there)
FAMILIES_1D = {
    "GaussianFull": "V",
    "GaussianDiagonal": "V",
    "GaussianSpherical": "V",
    "GaussianTied": "E",
}

K_MAX = 9  # the study is K = 1..9; the reference always covers 1..9
RTOL = 1e-6
REFERENCE_RESTARTS = 50

#: Targets of the issue.
TARGET_SELECT_S = 1.0  # per bundled dataset
TARGET_HIT_RATE = 0.96
TARGET_FIT_S = 0.015  # median of repeats
TARGET_ARVIZ_S = 1.5
TARGET_DIAGNOSTICS_S = 1.0


# -- data ---------------------------------------------------------------------------------
def synthetic() -> np.ndarray:
    """The synthetic set: 100 000 rows, 2-D, four Gaussian clusters, fixed seed.

    Weights 0.4, 0.25, 0.2, 0.15; means (0, 0), (4, 4), (-3, 5), (6, -2); covariances
    [[1, 0.5], [0.5, 1]], [[2, -0.6], [-0.6, 0.5]], diag(0.4, 1.5) and 0.8 I. Counts are
    multinomial, rows shuffled; generator ``numpy.random.default_rng(2024)``.
    """
    rng = np.random.default_rng(2024)
    n = 100_000
    weights = np.array([0.4, 0.25, 0.2, 0.15])
    means = np.array([[0.0, 0.0], [4.0, 4.0], [-3.0, 5.0], [6.0, -2.0]])
    covs = [
        np.array([[1.0, 0.5], [0.5, 1.0]]),
        np.array([[2.0, -0.6], [-0.6, 0.5]]),
        np.diag([0.4, 1.5]),
        0.8 * np.eye(2),
    ]
    counts = rng.multinomial(n, weights)
    parts = [
        rng.standard_normal((c, 2)) @ np.linalg.cholesky(cov).T + mean
        for c, mean, cov in zip(counts, means, covs, strict=True)
    ]
    X = np.concatenate(parts)
    return np.ascontiguousarray(X[rng.permutation(n)])


DATASETS: dict[str, Callable[[], np.ndarray]] = {
    "faithful": lambda: mixem.datasets.load_faithful().to_numpy(),
    "iris": lambda: mixem.datasets.load_iris().to_numpy(),
    "banknote": lambda: mixem.datasets.load_banknote().to_numpy(),
    "synthetic": synthetic,
    # not in the default run: 1-D, where mixem's four families are two models (V and E)
    "galaxies": lambda: mixem.datasets.load_galaxies().to_numpy(),
}
DEFAULT_DATASETS = ["faithful", "iris", "banknote", "synthetic"]
BUNDLED = {"faithful", "iris", "banknote", "galaxies"}  # the select-time target applies to these


def data_hash(X: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest()[:16]


# -- the reference ------------------------------------------------------------------------
def single_fit(X: np.ndarray, family: type, k: int, seed: int) -> tuple[float, bool] | None:
    """Log-likelihood and spuriousness of one k-means++ fit, None when it fails.

    The reference fit of benchmarks/bench_init.py (copied, not imported).
    """
    try:
        model = mixem.MixtureModel(family, k, init="kmeans++", random_state=seed)
        result = model.fit(X)
        return float(result.loglik), bool(result.spurious.any())
    except mixem.FitError:
        return None


def compute_reference(name: str, X: np.ndarray, restarts: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    cells: dict[str, dict[str, Any]] = {}
    for fname, (family, _, _) in FAMILIES.items():
        cells[fname] = {}
        for k in range(1, K_MAX + 1):
            outcomes = [single_fit(X, family, k, seed) for seed in range(restarts)]
            good = [ll for ll, spur in filter(None, outcomes) if not spur]
            cells[fname][str(k)] = {
                "loglik": max(good) if good else None,
                "plausible": len(good),
                "spurious": sum(1 for o in outcomes if o is not None and o[1]),
                "failed": sum(o is None for o in outcomes),
            }
        print(
            f"#   reference {name}/{fname} done, {time.perf_counter() - t0:.0f} s so far",
            flush=True,
        )
    return {
        "n": int(X.shape[0]),
        "d": int(X.shape[1]),
        "data_sha256_16": data_hash(X),
        "restarts": restarts,
        "seeds": f"0..{restarts - 1}",
        "fit": 'mixem.MixtureModel(family, k, init="kmeans++", random_state=seed).fit(X)',
        "mixem": mixem.__version__,
        "commit": git_commit(),
        "made": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "cells": cells,
    }


def load_reference(
    path: Path, names: list[str], data: dict[str, np.ndarray], args: argparse.Namespace
) -> dict[str, Any]:
    """The cached reference; entries missing, stale or asked for are computed and saved."""
    ref: dict[str, Any] = {
        "about": (
            "Reference log-likelihoods of benchmarks/bench_select.py: per dataset, family and "
            "K (1..9), the best non-spurious log-likelihood (result.spurious.any() false) of "
            "single-start k-means++ fits with seeds 0..restarts-1, mixem.FitError skipped; "
            "'plausible', 'spurious' and 'failed' count those fits. 50 restarts for every "
            "dataset (the 1e5-row synthetic set's take about 10 minutes on one core)."
        ),
        "datasets": {},
    }
    if path.exists():
        ref = {**json.loads(path.read_text()), "about": ref["about"]}
    changed = False
    for name in names:
        X = data[name]
        restarts = args.restarts
        entry = ref["datasets"].get(name)
        why = None
        if args.recompute_reference:
            why = "asked for"
        elif entry is None:
            why = "not in the file"
        elif entry["data_sha256_16"] != data_hash(X):
            why = "the data changed"
        elif entry["restarts"] != restarts:
            why = f"file has {entry['restarts']} restarts, asked for {restarts}"
        if why:
            print(f"# computing the reference of {name} ({why}): {restarts} restarts per cell")
            ref["datasets"][name] = compute_reference(name, X, restarts)
            changed = True
    if changed:
        path.write_text(json.dumps(ref, indent=1) + "\n")
        print(f"# reference written to {path}")
    return ref


# -- timed studies ------------------------------------------------------------------------
def time_mixem_select(X: np.ndarray, ks: range, seed: int) -> tuple[float, Any]:
    t0 = time.perf_counter()
    study = mixem.select(X, ks, random_state=seed)
    return time.perf_counter() - t0, study


def time_sklearn(X: np.ndarray, ks: range, n_init: int, seed: int) -> tuple[float, int]:
    from sklearn.mixture import GaussianMixture

    failed = 0
    t0 = time.perf_counter()
    for _, cov_type, _ in FAMILIES.values():
        for k in ks:
            try:
                GaussianMixture(k, covariance_type=cov_type, n_init=n_init, random_state=seed).fit(
                    X
                )
            except ValueError:  # ill-defined covariance
                failed += 1
    return time.perf_counter() - t0, failed


def r_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    if threads > 0:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def run_r(csv: str, gmax: int, task: str, threads: int) -> dict[str, Any]:
    """One task of mclust_select.R: its output parsed, plus the whole subprocess time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["Rscript", str(R_SCRIPT), csv, str(gmax), task],
        capture_output=True,
        text=True,
        env=r_env(threads),
        check=False,
    )
    total = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"], "total_s": total}
    out: dict[str, Any] = {"total_s": total, "cells": {}}
    for line in proc.stdout.splitlines():
        key, *values = line.split("\t")
        if key == "time":
            out["time_s"] = float(values[0])
        elif key == "best":
            out["best"] = f"{values[0]},{values[1]}"
        elif key == "cell":
            out["cells"][(values[0], int(values[1]))] = float(values[2])
        else:
            out[key] = values[0]
    return out


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(mclust)"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


# -- hits ---------------------------------------------------------------------------------
def hits(study: Any, reference: dict[str, Any], ks: range) -> tuple[list[dict], int, int]:
    """Per cell: the select's fit against the reference. Returns cells, hits, scored cells."""
    table = study.table.set_index(["family", "K"])
    rows = []
    n_hit = n_scored = 0
    for fname in FAMILIES:
        for k in ks:
            ref = reference["cells"][fname][str(k)]["loglik"]
            row = table.loc[(fname, k)]
            ll = float(row["loglik"]) if np.isfinite(row["loglik"]) else None
            spurious = bool(row["spurious"])
            status = str(row["status"])
            if ref is None:
                hit = None
            else:
                hit = ll is not None and not spurious and ll >= ref - RTOL * abs(ref)
                n_scored += 1
                n_hit += hit
            rows.append(
                {
                    "family": fname,
                    "K": k,
                    "loglik": ll,
                    "reference": ref,
                    "spurious": spurious,
                    "status": status,
                    "hit": hit,
                }
            )
    return rows, n_hit, n_scored


def compare_mclust(cells: list[dict], mclust_cells: dict, d: int) -> dict[str, Any]:
    """Cells where mclust's log-likelihood and mixem's select differ by more than RTOL."""
    names = FAMILIES_1D if d == 1 else {f: v[2] for f, v in FAMILIES.items()}
    higher_r, higher_m = [], []
    for c in cells:
        r_ll = mclust_cells.get((names[c["family"]], c["K"]))
        if r_ll is None or c["loglik"] is None:
            continue
        gap = r_ll - c["loglik"]
        if abs(gap) > RTOL * abs(r_ll):
            (higher_r if gap > 0 else higher_m).append((c["family"], c["K"], gap))
    return {"mclust_higher": higher_r, "mixem_higher": higher_m}


def warm_up(args: argparse.Namespace) -> None:
    """Small fits of every family in each library, so first-call costs land in no timing."""
    X = mixem.datasets.load_faithful().to_numpy()
    for family, cov_type, _ in FAMILIES.values():
        mixem.MixtureModel(family, 2, random_state=0).fit(X)
        if not args.no_sklearn:
            from sklearn.mixture import GaussianMixture

            GaussianMixture(2, covariance_type=cov_type, random_state=0).fit(X)


# -- single-fit targets -------------------------------------------------------------------
#: Later calls of to_arviz and diagnostics timed after the first ones.
LATER_CALLS = 3


def single_targets(repeats: int) -> dict[str, float]:
    import arviz  # noqa: F401  imported before timing: its import is not to_arviz's cost

    X = mixem.datasets.load_faithful().to_numpy()
    fits = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mixem.MixtureModel(mixem.GaussianFull, 3, random_state=0).fit(X)
        fits.append(time.perf_counter() - t0)
    tied = mixem.MixtureModel(mixem.GaussianTied, 3, random_state=0).fit(X)
    t0 = time.perf_counter()
    tied.to_arviz(draws=200, random_state=0)
    arviz_s = time.perf_counter() - t0
    tied = mixem.MixtureModel(mixem.GaussianTied, 3, random_state=0).fit(X)  # a fresh result
    t0 = time.perf_counter()
    tied.diagnostics()
    diag_s = time.perf_counter() - t0
    # The verdicts take the first calls, as a notebook sees them; later calls (fresh results,
    # no first-use costs) show how much of that is the bootstrap itself.
    later: dict[str, list[float]] = {"to_arviz": [], "diagnostics": []}
    for _ in range(LATER_CALLS):
        for name, call in (
            ("to_arviz", lambda r: r.to_arviz(draws=200, random_state=0)),
            ("diagnostics", lambda r: r.diagnostics()),
        ):
            fresh = mixem.MixtureModel(mixem.GaussianTied, 3, random_state=0).fit(X)
            t0 = time.perf_counter()
            call(fresh)
            later[name].append(time.perf_counter() - t0)
    return {
        "to_arviz_later_median_s": statistics.median(later["to_arviz"]),
        "diagnostics_later_median_s": statistics.median(later["diagnostics"]),
        "fit_median_s": statistics.median(fits),
        "fit_min_s": min(fits),
        "fit_repeats": repeats,
        "to_arviz_s": arviz_s,
        "diagnostics_s": diag_s,
    }


# -- reporting ----------------------------------------------------------------------------
def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_context(args: argparse.Namespace, r_ctx: dict[str, Any] | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "mixem": f"{mixem.__version__} (commit {git_commit()})",
    }
    if not args.no_sklearn:
        import sklearn

        ctx["sklearn"] = sklearn.__version__
    if hasattr(os, "sched_getaffinity"):
        ctx["cpus_usable"] = len(os.sched_getaffinity(0))
    ctx["threadpools"] = [
        f"{p.get('internal_api')} {p.get('version') or ''} threads={p.get('num_threads')}"
        f" ({p.get('filepath', '').rsplit('/', 1)[-1]})".replace("  ", " ")
        for p in threadpool_info()
    ]
    if r_ctx is None:
        ctx["R"] = "not installed" if not args.no_r else "skipped (--no-r)"
    else:
        ctx["R"] = r_ctx.get("R", "?")
        ctx["mclust"] = r_ctx.get("mclust", "?")
        ctx["R BLAS"] = r_ctx.get("BLAS", "?")
        ctx["R threads"] = (
            f"OMP_NUM_THREADS=OPENBLAS_NUM_THREADS={args.threads}"
            if args.threads
            else "environment defaults"
        )
    return ctx


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def verdict(value: float | None, target: float, larger_better: bool = False) -> str:
    if value is None:
        return "-"
    ok = value >= target if larger_better else value <= target
    return "PASS" if ok else "FAIL"


def print_table(header: list[str], rows: list[list[str]], left: int = 1) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))


# -- command line -------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--datasets",
        default=None,
        help=f"comma-separated subset of {','.join(DATASETS)} "
        f"(default: {','.join(DEFAULT_DATASETS)}; --quick drops synthetic)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: K = 1..3, no 1e5-row set, no 14-model mclust run",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (1); 0 keeps the libraries' defaults",
    )
    p.add_argument("--no-r", action="store_true", help="skip mclust")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    p.add_argument(
        "--reference",
        type=Path,
        default=DEFAULT_REFERENCE,
        help="cached reference log-likelihoods (benchmarks/reference_select.json)",
    )
    p.add_argument(
        "--recompute-reference",
        action="store_true",
        help="rebuild the reference of the datasets run",
    )
    p.add_argument(
        "--restarts",
        type=int,
        default=REFERENCE_RESTARTS,
        help=f"k-means++ fits per cell of a new reference ({REFERENCE_RESTARTS})",
    )
    p.add_argument("--seed", type=int, default=0, help="random_state of select and sklearn (0)")
    p.add_argument("--repeat", type=int, default=7, help="repeats of the single default fit (7)")
    args = p.parse_args(argv)
    if args.datasets is None:
        names = [n for n in DEFAULT_DATASETS if not (args.quick and n == "synthetic")]
    else:
        names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        p.error(f"--datasets: unknown {unknown}; choose from {', '.join(DATASETS)}")
    args.datasets = names
    if args.threads < 0 or args.restarts < 1 or args.repeat < 1:
        p.error("--threads must be >= 0, --restarts and --repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import arviz  # noqa: F401  loaded before the limits, so that they reach its libraries too

    if not args.no_sklearn:
        import sklearn.mixture  # noqa: F401  (loads OpenMP, which the limits must reach)
    if args.threads > 0:
        threadpool_limits(args.threads)  # stays in force for the rest of the process
    use_r = not args.no_r and r_available()
    r_ctx = run_r("-", 1, "context", args.threads) if use_r else None
    ks = range(1, 4 if args.quick else K_MAX + 1)
    ctx = machine_context(args, r_ctx)
    print("# model-selection study: mixem.select vs scikit-learn GaussianMixture vs mclust")
    for key, value in ctx.items():
        for item in value if isinstance(value, list) else [value]:
            print(f"#   {key}: {item}")
    print(
        f"# K = {ks.start}..{ks.stop - 1}, 4 Gaussian families ({4 * len(ks)} cells); "
        f"threads={args.threads or 'library defaults'} (this process and R); seed={args.seed}"
        f"{'; QUICK run' if args.quick else ''}"
    )
    sys.stdout.flush()
    t_start = time.perf_counter()

    data = {name: DATASETS[name]() for name in args.datasets}
    results: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        # the study's fits warn about non-convergence and degenerate components; the table
        # reports each cell's status instead
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
        if not args.no_sklearn:
            from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

            warnings.simplefilter("ignore", SkConvergenceWarning)
        t0 = time.perf_counter()
        reference = load_reference(args.reference, args.datasets, data, args)
        reference_s = time.perf_counter() - t0
        warm_up(args)

        tmp = tempfile.TemporaryDirectory(prefix="bench_select_")
        for name, X in data.items():
            rec: dict[str, Any] = {"dataset": name, "n": X.shape[0], "d": X.shape[1]}
            t0 = time.perf_counter()
            rec["select_s"], study = time_mixem_select(X, ks, args.seed)
            rec["select_best"] = "{},{}".format(*study.best_key)
            ref = reference["datasets"][name]
            rec["reference_restarts"] = ref["restarts"]
            rec["cells"], rec["hits"], rec["scored"] = hits(study, ref, ks)
            print(
                f"# {name}: mixem.select {rec['select_s']:.1f} s, best {rec['select_best']}, "
                f"hits {rec['hits']}/{rec['scored']}",
                flush=True,
            )
            if not args.no_sklearn:
                rec["sklearn1_s"], rec["sklearn1_failed"] = time_sklearn(X, ks, 1, args.seed)
                rec["sklearn10_s"], rec["sklearn10_failed"] = time_sklearn(X, ks, 10, args.seed)
                print(
                    f"#   sklearn n_init=1 {rec['sklearn1_s']:.1f} s, n_init=10 "
                    f"{rec['sklearn10_s']:.1f} s",
                    flush=True,
                )
            if use_r:
                csv = os.path.join(tmp.name, f"{name}.csv")
                cols = ",".join(f"x{j + 1}" for j in range(X.shape[1]))
                np.savetxt(csv, X, delimiter=",", fmt="%.17g", header=cols, comments="")
                four = run_r(csv, ks.stop - 1, "four", args.threads)
                rec["mclust4"] = {k: v for k, v in four.items() if k != "cells"}
                if "cells" in four:
                    rec["mclust_vs_mixem"] = compare_mclust(rec["cells"], four["cells"], X.shape[1])
                if not args.quick:
                    rec["mclust14"] = {
                        k: v
                        for k, v in run_r(csv, ks.stop - 1, "all", args.threads).items()
                        if k != "cells"
                    }
                print(
                    f"#   mclust 4 models {fmt_s(rec['mclust4'].get('time_s'))} s"
                    + (
                        f", 14 models {fmt_s(rec['mclust14'].get('time_s'))} s"
                        if "mclust14" in rec
                        else ""
                    ),
                    flush=True,
                )
            rec["dataset_s"] = time.perf_counter() - t0
            results.append(rec)

        print("# single-fit targets (Old Faithful)", flush=True)
        single = single_targets(args.repeat)
        if use_r:
            X = mixem.datasets.load_faithful().to_numpy()
            csv = os.path.join(tmp.name, "faithful_boot.csv")
            np.savetxt(csv, X, delimiter=",", fmt="%.17g", header="x1,x2", comments="")
            single["mclust_boot"] = run_r(csv, 3, "boot", args.threads)
            single["mclust_boot"].pop("cells", None)
        tmp.cleanup()
    total = time.perf_counter() - t_start

    # -- the tables
    print()
    header = [
        "dataset",
        "n",
        "d",
        "mixem select s",
        "target",
        "sklearn x1 s",
        "sklearn x10 s",
        "mclust 4 s",
        "(proc s)",
        "mclust 14 s",
        "(proc s)",
        "hit rate",
        "target",
        "ref restarts",
    ]
    rows = []
    for r in results:
        m4, m14 = r.get("mclust4", {}), r.get("mclust14", {})
        rate = r["hits"] / r["scored"] if r["scored"] else None
        rows.append(
            [
                r["dataset"],
                str(r["n"]),
                str(r["d"]),
                fmt_s(r["select_s"]),
                verdict(r["select_s"], TARGET_SELECT_S) if r["dataset"] in BUNDLED else "-",
                fmt_s(r.get("sklearn1_s")),
                fmt_s(r.get("sklearn10_s")),
                fmt_s(m4.get("time_s")) if use_r else "n/i",
                fmt_s(m4.get("total_s")),
                (fmt_s(m14.get("time_s")) if m14 else "skip") if use_r else "n/i",
                fmt_s(m14.get("total_s")),
                "-" if rate is None else f"{r['hits']}/{r['scored']} {100 * rate:.1f}%",
                verdict(rate, TARGET_HIT_RATE, larger_better=True),
                str(r["reference_restarts"]),
            ]
        )
    print_table(header, rows)
    if not use_r:
        print(f"# mclust: {'skipped (--no-r)' if args.no_r else 'not installed'} (n/i)")
    print(
        f"# targets: select <= {TARGET_SELECT_S:g} s per bundled dataset, hit rate >= "
        f"{100 * TARGET_HIT_RATE:g}%. Times are wall seconds of one run; mclust's inside R "
        "(system.time), (proc s) the whole Rscript process. sklearn x1/x10: n_init=1/10."
    )
    if any(r["reference_restarts"] != REFERENCE_RESTARTS for r in results):
        print(f"# a reference of fewer or more than {REFERENCE_RESTARTS} restarts is in use")

    print()
    boot = single.get("mclust_boot", {})
    header = ["single fit (faithful)", "mixem s", "target", "", "mclust s"]
    rows = [
        [
            f"MixtureModel(GaussianFull, 3).fit, median of {args.repeat}",
            fmt_s(single["fit_median_s"]),
            f"<= {TARGET_FIT_S:g}",
            verdict(single["fit_median_s"], TARGET_FIT_S),
            "-",
        ],
        [
            "GaussianTied K=3 to_arviz(draws=200)",
            fmt_s(single["to_arviz_s"]),
            f"<= {TARGET_ARVIZ_S:g}",
            verdict(single["to_arviz_s"], TARGET_ARVIZ_S),
            (fmt_s(boot.get("time_s")) if use_r else "n/i"),
        ],
        [
            "GaussianTied K=3 diagnostics()",
            fmt_s(single["diagnostics_s"]),
            f"<= {TARGET_DIAGNOSTICS_S:g}",
            verdict(single["diagnostics_s"], TARGET_DIAGNOSTICS_S),
            "-",
        ],
    ]
    print_table(header, rows)
    print(f"# single default fit: median of {args.repeat}, min {fmt_s(single['fit_min_s'])} s")
    print(
        "# to_arviz and diagnostics: first calls in this process (the verdicts); median of "
        f"{LATER_CALLS} later calls {fmt_s(single['to_arviz_later_median_s'])} s and "
        f"{fmt_s(single['diagnostics_later_median_s'])} s"
    )
    if use_r:
        print(
            '# mclust s beside to_arviz: MclustBootstrap(Mclust(X, G=3, modelNames="EEE"), '
            f'nboot=200, type="wlbs") inside R (the whole process {fmt_s(boot.get("total_s"))} s)'
        )

    for r in results:
        misses = [c for c in r["cells"] if c["hit"] is False]
        unscored = [c for c in r["cells"] if c["hit"] is None]
        if misses or unscored:
            print(f"\n# {r['dataset']}: cells missed by mixem.select (loglik vs reference)")
        for c in misses:
            ll = "failed" if c["loglik"] is None else f"{c['loglik']:.4f}"
            print(
                f"#   {c['family']} K={c['K']}: {ll} vs {c['reference']:.4f}"
                f"{' SPURIOUS' if c['spurious'] else ''}  [{c['status']}]"
            )
        for c in unscored:
            print(f"#   {c['family']} K={c['K']}: no plausible reference fit, not scored")
        cmp = r.get("mclust_vs_mixem")
        if cmp:
            print(
                f"# {r['dataset']}: mclust (4 models) best {r['mclust4'].get('best')}, mixem "
                f"best {r['select_best']}; loglik differs by more than {RTOL:g} relative in "
                f"{len(cmp['mclust_higher'])} cells with mclust higher, "
                f"{len(cmp['mixem_higher'])} with mixem higher"
            )
            for side in ("mclust_higher", "mixem_higher"):
                largest = sorted(cmp[side], key=lambda t: -abs(t[2]))[:5]
                if largest:
                    cells = ", ".join(f"{f} K={k} {abs(g):.3g}" for f, k, g in largest)
                    print(f"#   {side.replace('_', ' ')} by most: {cells}")
    print(
        f"\n# total benchmark time {total:.0f} s, of which {reference_s:.0f} s loading or "
        "computing the reference"
    )

    print()
    print("# json")
    print(
        json.dumps(
            {
                "kind": "context",
                **ctx,
                "args": {k: str(v) for k, v in vars(args).items()},
                "total_s": total,
            }
        )
    )
    for r in results:
        r = dict(r)
        if "mclust_vs_mixem" in r:
            r["mclust_vs_mixem"] = {
                k: [list(t) for t in v] for k, v in r["mclust_vs_mixem"].items()
            }
        print(json.dumps({"kind": "dataset", **r}))
    print(json.dumps({"kind": "single", **single}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
