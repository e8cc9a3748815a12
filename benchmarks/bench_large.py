"""Out-of-core EM: a memmapped file against the same data in memory, and scikit-learn.

Writes ``rows x 10`` float64 rows (default 2e7, 1.6 GB) from an 8-component mixture to a file,
chooses one start (k-means++ on a 20000-row subsample), then fits ``GaussianFull`` with K = 8
from that start for a fixed number of EM iterations (``tol=0``) three ways, each in a fresh
process so that its peak resident memory is its own:

- mixem on ``numpy.memmap`` of the file (read chunk by chunk; the file is in the page cache
  after it is written, so this measures the cost of chunked reading, not of the disk);
- mixem on the same rows loaded into memory;
- mixem on a Dask array of the file's blocks (each worker reads its own) on a
  ``LocalCluster`` of 2 worker processes (its peak memory is the client's, not the workers');
- scikit-learn's ``GaussianMixture`` on the rows in memory, started from the same parameters.

Prints seconds per iteration (median of mixem's trace; scikit-learn's total over iterations)
and peak resident memory (``VmHWM`` of the child process; pages of a file count while they
are mapped into it, not while they sit in the page cache).

    python benchmarks/bench_large.py                 # 2e7 x 10, K = 8: about 15 minutes
    python benchmarks/bench_large.py --rows 1e6      # a smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

D, K = 10, 8


def write_data(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(K, D))
    factors = rng.normal(scale=0.4, size=(K, D, D)) + np.eye(D)
    out = np.memmap(path, dtype=np.float64, mode="w+", shape=(rows, D))
    block = 1_000_000
    for start in range(0, rows, block):
        m = min(block, rows - start)
        labels = rng.integers(K, size=m)
        z = rng.standard_normal((m, D))
        out[start : start + m] = means[labels] + np.einsum("nij,nj->ni", factors[labels], z)
    out.flush()
    del out


def peak_mib() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_mixem(path: str, rows: int, start: dict, iters: int, in_memory: bool, queue) -> None:
    import mixem

    X = np.memmap(path, dtype=np.float64, mode="r", shape=(rows, D))
    if in_memory:
        X = np.fromfile(path, dtype=np.float64).reshape(rows, D)
    model = mixem.MixtureModel(mixem.GaussianFull, K, max_iter=iters, tol=0.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: never converges, by design
        t0 = time.perf_counter()
        result = model.fit(X, init_params=start)
        total = time.perf_counter() - t0
    queue.put(
        {
            "s_per_iter": float(np.median(result.trace.seconds)),
            "total": total,
            "loglik": result.loglik,
            "peak_mib": peak_mib(),
        }
    )


def _read_block(path: str, start: int, stop: int) -> np.ndarray:
    count = (stop - start) * D
    return np.fromfile(path, dtype=np.float64, count=count, offset=start * D * 8).reshape(-1, D)


def run_dask(path: str, rows: int, start: dict, iters: int, workers: int, queue) -> None:
    import warnings

    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    import mixem

    # Every worker reads its own blocks from the file: only statistics travel.
    block = 1_000_000
    parts = [
        da.from_delayed(
            dask.delayed(_read_block)(path, b, min(b + block, rows)),
            shape=(min(b + block, rows) - b, D),
            dtype=np.float64,
        )
        for b in range(0, rows, block)
    ]
    X = da.concatenate(parts)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        model = mixem.MixtureModel(mixem.GaussianFull, K, max_iter=iters, tol=0.0)
        t0 = time.perf_counter()
        result = model.fit(X, init_params=start)
        total = time.perf_counter() - t0
    queue.put(
        {
            "s_per_iter": float(np.median(result.trace.seconds)),
            "total": total,
            "loglik": result.loglik,
            "peak_mib": peak_mib(),
        }
    )


def run_sklearn(path: str, rows: int, start: dict, iters: int, queue) -> None:
    import warnings

    from sklearn.mixture import GaussianMixture

    X = np.fromfile(path, dtype=np.float64).reshape(rows, D)
    precisions = np.linalg.inv(start["covariances"])
    gm = GaussianMixture(
        K,
        covariance_type="full",
        max_iter=iters,
        tol=0.0,
        reg_covar=1e-6,
        weights_init=start["weights"],
        means_init=start["means"],
        precisions_init=precisions,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        gm.fit(X)
        total = time.perf_counter() - t0
    queue.put({"s_per_iter": total / iters, "total": total, "peak_mib": peak_mib()})


def in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=2e7)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--dask-workers", type=int, default=2, help="0 skips the Dask run")
    args = parser.parse_args()
    rows = int(args.rows)
    path = Path(args.dir) / f"mixem_bench_{rows}x{D}.f64"
    t0 = time.perf_counter()
    write_data(path, rows, args.seed)
    print(
        f"wrote {rows:,} x {D} float64 ({path.stat().st_size / 2**30:.2f} GiB) to {path} "
        f"in {time.perf_counter() - t0:.0f} s"
    )

    import mixem

    X = np.memmap(path, dtype=np.float64, mode="r", shape=(rows, D))
    rng = np.random.default_rng(args.seed)
    sub = np.asarray(X[np.sort(rng.choice(rows, min(rows, 20_000), replace=False))])
    found = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0).fit(sub)
    start = {"weights": found.weights, "means": found.means, "covariances": found.covariances}
    del X

    results = {
        "mixem, memmap": in_child(run_mixem, str(path), rows, start, args.iters, False),
        "mixem, in memory": in_child(run_mixem, str(path), rows, start, args.iters, True),
    }
    if args.dask_workers:
        name = f"mixem, Dask {args.dask_workers} workers"
        results[name] = in_child(run_dask, str(path), rows, start, args.iters, args.dask_workers)
    if not args.no_sklearn:
        results["scikit-learn, in memory"] = in_child(
            run_sklearn, str(path), rows, start, args.iters
        )
    base = results["mixem, in memory"]["s_per_iter"]
    print(f"\nGaussianFull, K = {K}, {rows:,} x {D}, {args.iters} iterations from one start")
    print(f"{'':26}{'s/iteration':>12}{'vs in-memory':>14}{'peak RSS MiB':>14}")
    for name, r in results.items():
        print(
            f"{name:26}{r['s_per_iter']:12.2f}{r['s_per_iter'] / base:14.2f}{r['peak_mib']:14.0f}"
        )
    a, b = results["mixem, memmap"]["loglik"], results["mixem, in memory"]["loglik"]
    print(f"\nlog-likelihood memmap vs in memory: relative difference {abs(a - b) / abs(b):.1e}")
    os.remove(path)


if __name__ == "__main__":
    main()
