"""mclust's fourteen models: ``mixem.select(X, components="mclust")`` beside ``Mclust(X)``.

Per bundled dataset (Old Faithful, iris, the Swiss banknotes), in one run and in alternating
order: the time of mixem's study over the fourteen models and K = 1..9 (one BLAS thread) and of
``Mclust(X, G = 1:9)`` inside R (``benchmarks/mclust_select.R``, task ``all``, one thread);
every cell's log-likelihood against mclust's (a hit: mixem's is at least mclust's, to
``RTOL``); and both choices by BIC, with mclust's margin over its runner-up.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_mclust_models.py [--repeat 3]

Targets (issue "mclust's fourteen Gaussian models"): at most twice mclust's time; hits on at
least 99% of cells; mclust's choice wherever its BIC margin exceeds 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_select import RTOL, r_available, run_r  # noqa: E402

import mixem  # noqa: E402
from mixem.components.covariance_models import CovarianceModel  # noqa: E402

DATASETS = {
    "faithful": mixem.datasets.load_faithful,
    "iris": mixem.datasets.load_iris,
    "banknote": mixem.datasets.load_banknote,
}


def n_parameters(model: str, k: int, d: int) -> int:
    return CovarianceModel(model).n_parameters(k, d) + k * d + k - 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="timings per side, best kept (3)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not r_available():
        print("Rscript with mclust is needed")
        return 1
    mixem.select(DATASETS["faithful"](), range(1, 3), components="mclust", progress=False)
    total_hits = total_cells = 0
    for name, load in DATASETS.items():
        X = load()
        n, d = X.shape
        with tempfile.TemporaryDirectory() as tmp:
            csv = str(Path(tmp) / f"{name}.csv")
            X.to_csv(csv, index=False)
            ours, theirs = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                study = mixem.select(
                    X, range(1, 10), components="mclust", random_state=args.seed, progress=False
                )
                ours.append(time.perf_counter() - t0)
                r = run_r(csv, 9, "all", 1)
                theirs.append(r["time_s"])
        table = study.table.set_index(["family", "K"])
        misses, hits = [], 0
        scored = 0
        for (model, k), r_ll in r["cells"].items():
            row = table.loc[(model, k)]
            scored += 1
            ll = float(row["loglik"])
            if math.isfinite(ll) and ll >= r_ll - RTOL * abs(r_ll) and not row["spurious"]:
                hits += 1
            else:
                misses.append((model, k, round(r_ll, 3), round(ll, 3), bool(row["spurious"])))
        total_hits += hits
        total_cells += scored
        bics = sorted(
            (-2 * ll + n_parameters(m, k, d) * np.log(n), m, k) for (m, k), ll in r["cells"].items()
        )
        margin = bics[1][0] - bics[0][0]
        print(
            f"{name}: mixem {min(ours):.2f} s, mclust {min(theirs):.2f} s "
            f"(ratio {min(ours) / min(theirs):.2f}); hits {hits}/{scored}; "
            f"mixem chose {study.best_key}, mclust {bics[0][1]},{bics[0][2]} "
            f"(BIC margin {margin:.2f})"
        )
        for miss in misses:
            model, k, r_ll, ll, spurious = miss
            print(f"  miss: {model} K={k} mclust {r_ll} mixem {ll} spurious {spurious}")
    print(f"hit rate {total_hits}/{total_cells} = {total_hits / total_cells:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
