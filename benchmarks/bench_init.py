"""How often does a default fit find the best plausible maximum? Initialisation strategies compared.

For every (dataset, family, K) cell of the bundled real datasets, the reference is the best
non-spurious log-likelihood found by ``--restarts`` independent single-start k-means++ fits
(seeds 0, 1, ...). Each strategy is then fitted with ``--seeds`` different seeds, and a fit
counts as a hit when it is not spurious and its log-likelihood is within ``--rtol`` (relative)
of the reference, or above it. Printed per strategy: the share of hit cells for seed 0, the
share of hit (cell, seed) pairs, the number of cells where a fit was spurious, and the time.

    python benchmarks/bench_init.py                       # all strategies, about 10 minutes
    python benchmarks/bench_init.py --restarts 10 --k 1-4  # a quick look
"""

from __future__ import annotations

import argparse
import time
import warnings

import mixem
from mixem.em import SearchSettings

FAMILIES = {
    "full": mixem.GaussianFull,
    "diag": mixem.GaussianDiagonal,
    "spherical": mixem.GaussianSpherical,
    "tied": mixem.GaussianTied,
}
DATASETS = {
    "faithful": mixem.datasets.load_faithful,
    "iris": mixem.datasets.load_iris,
    "banknote": mixem.datasets.load_banknote,
}


def fit(X, family, k, seed, init, n_init=1, search=None):
    """Log-likelihood and spuriousness of one fit, or None when it fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mixem.MixtureModel(
                family, k, init=init, n_init=n_init, random_state=seed, search=search
            )
            result = model.fit(X)
        return result.loglik, bool(result.spurious.any())
    except mixem.FitError:
        return None


def short(
    starts, iters, keep=1, hierarchical=False, rounds=0, moves=10, sm_keep=3, bases=1, cosine=False
):
    return {
        "init": "short_em",
        "search": SearchSettings(
            starts=starts,
            short_iter=iters,
            keep=keep,
            hierarchical=hierarchical,
            split_merge_rounds=rounds,
            split_merge_moves=moves,
            split_merge_keep=sm_keep,
            split_merge_bases=bases,
            split_merge_cosine=cosine,
        ),
    }


STRATEGIES = {
    # name: keyword arguments of fit()
    "kmeans++ x1 (old MixtureModel default)": {"init": "kmeans++", "n_init": 1},
    "kmeans++ x3 (old select default)": {"init": "kmeans++", "n_init": 3},
    "hierarchical x1": {"init": "hierarchical", "n_init": 1},
    "short_em 10x10": short(10, 10),
    "short_em hc+10x10 keep 3": short(10, 10, keep=3, hierarchical=True),
    "short_em hc+20x20 keep 5": short(20, 20, keep=5, hierarchical=True),
    "short_em hc+50x20 keep 10": short(50, 20, keep=10, hierarchical=True),
    "short_em hc+10x10 keep 3 + sm 5x10 keep 3": short(10, 10, keep=3, hierarchical=True, rounds=5),
    "short_em hc+20x20 keep 5 + sm 5x10 keep 3": short(20, 20, keep=5, hierarchical=True, rounds=5),
    "short_em hc+20x20 keep 5 + sm 10x20 keep 3": short(
        20, 20, keep=5, hierarchical=True, rounds=10, moves=20
    ),
    "short_em hc+50x20 keep 10 + sm 5x10 keep 3": short(
        50, 20, keep=10, hierarchical=True, rounds=5
    ),
    "short_em hc+50x20 keep 10 + sm 10x30 keep 5 (1 base)": short(
        50, 20, keep=10, hierarchical=True, rounds=10, moves=30, sm_keep=5
    ),
    "short_em hc+20x20 keep 5 + sm 10x30 keep 5": short(
        20, 20, keep=5, hierarchical=True, rounds=10, moves=30, sm_keep=5
    ),
    "short_em hc+50x20 keep 10 + sm 20x60 keep 10": short(
        50, 20, keep=10, hierarchical=True, rounds=20, moves=60, sm_keep=10
    ),
    "short_em (default: sm from 3 bases)": short(
        50, 20, keep=10, hierarchical=True, rounds=10, moves=30, sm_keep=5, bases=3
    ),
    "default + cosine pairs": short(
        50, 20, keep=10, hierarchical=True, rounds=10, moves=30, sm_keep=5, cosine=True
    ),
    "default + both": short(
        50, 20, keep=10, hierarchical=True, rounds=10, moves=30, sm_keep=5, bases=3, cosine=True
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--k", default="1-9")
    parser.add_argument("--strategies", default="", help="comma-separated indices; all by default")
    args = parser.parse_args()
    lo, _, hi = args.k.partition("-")
    ks = range(int(lo), int(hi or lo) + 1)
    names = list(STRATEGIES)
    if args.strategies:
        names = [names[int(i)] for i in args.strategies.split(",")]

    cells = []
    t0 = time.perf_counter()
    for dname, load in DATASETS.items():
        X = load().to_numpy()
        for fname, family in FAMILIES.items():
            for k in ks:
                outcomes = [fit(X, family, k, s, "kmeans++") for s in range(args.restarts)]
                good = [ll for ll, spur in filter(None, outcomes) if not spur]
                every = [ll for ll, _ in filter(None, outcomes)]
                ref = max(good) if good else None
                cells.append((dname, fname, k, X, family, ref, max(every) if every else None))
    print(f"# reference: {args.restarts} k-means++ fits per cell, {time.perf_counter() - t0:.0f} s")
    print(f"# {len(cells)} cells; {sum(c[5] is None for c in cells)} without a plausible fit")

    print(
        f"{'strategy':42s} {'cells hit (seed 0)':>18s} {'fits hit':>9s} {'spurious':>9s} {'s':>6s}"
    )
    misses = {}
    for name in names:
        kwargs = STRATEGIES[name]
        hit0 = hits = total = spurious = 0
        start = time.perf_counter()
        for dname, fname, k, X, family, ref, _ in cells:
            if ref is None:
                continue
            for s in range(args.seeds):
                out = fit(X, family, k, 1000 + s, **kwargs)
                ok = out is not None and not out[1] and out[0] >= ref - args.rtol * abs(ref)
                spurious += bool(out is not None and out[1])
                hits += ok
                total += 1
                if s == 0:
                    hit0 += ok
                    if not ok:
                        misses.setdefault(name, []).append(
                            f"{dname}/{fname}/K={k}: {None if out is None else round(out[0], 3)} "
                            f"vs {ref:.3f}"
                        )
        n_cells = sum(c[5] is not None for c in cells)
        print(
            f"{name:42s} {hit0:>5d}/{n_cells:<4d} {100 * hit0 / n_cells:5.1f}% "
            f"{100 * hits / total:8.1f}% {spurious:>9d} {time.perf_counter() - start:6.0f}",
            flush=True,
        )
    for name, where in misses.items():
        print(f"\n# misses of {name} (seed 0):")
        for line in where:
            print("  " + line)


if __name__ == "__main__":
    main()
