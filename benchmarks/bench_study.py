"""Prototype of a study-level search (issue 18's "share work inside a study"): hit rate and time.

Times :func:`mixem.em.study.fit_study` (what ``mixem.select`` calls by default): for every
family, K goes up 1..9 (``--kmax``) and then down. Up, K's candidates are the hierarchical
start and ``--starts`` k-means++ starts, every split of one component of the K-1 fit along its
principal axis, and the other families' fits at K; each gets ``--short`` iterations, the
``--keep`` best are continued, then split-and-merge rounds (``--rounds``) from ``--bases``
distinct fits. Down, the most overlapping pairs of the K+1 fit merged (and the other families'
fits at K) race against K's fit.

A cell is a hit when its fit is not spurious and reaches the cached reference of
``bench_select.py`` (the best plausible of 50 k-means++ fits) within 1e-6 relative. One warm-up
study runs first, so that the times leave out numba's loading.

Measured 2026-12-02 on a prototype of the same design (2 seeds x 3 datasets = 214 cells, 1 BLAS
thread; its options ``--down`` and ``--no-share`` switched the downward pass and the other families'
fits): up and down reached 98.6% of cells in 0.84 to 1.39 s per study (Faithful 1.1 s, iris 0.9 s,
banknote 1.35 s); the same study without ``--down`` 93.0%; ``--no-share --down`` 97.7%;
``mixem.select`` as it is 104/107 (97.2%) in 5.0 / 3.0 / 3.6 s. Over three seeds (321 cells):
``--down`` 97.8% (select: 97.8%), with ``--starts 5`` 97.5%, ``--no-share`` 96.6%, ``--short 10``
95.3%. The compiled loop was about 60% of a study. ``fit_study`` itself, the same day: 314/321
(97.8%) in 1.2 to 2.0 s per study, beside ``mixem.select`` at 4.9 / 3.1 / 5.2 s (the machine was
slower than in the morning). The figures that chose today's ``STUDY_SEARCH`` are in
``benchmarks/README.md``.

    python benchmarks/bench_study.py
    python benchmarks/bench_study.py --starts 5 --seeds 3 --datasets faithful
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import mixem
from mixem.em.plausible import run_is_spurious
from mixem.em.settings import SearchSettings, Settings
from mixem.em.study import fit_study

REFERENCE = Path(__file__).resolve().parent / "reference_select.json"
FAMILIES = [mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied]
DATASETS = {
    "faithful": mixem.datasets.load_faithful,
    "iris": mixem.datasets.load_iris,
    "banknote": mixem.datasets.load_banknote,
}


def study(X, seed, args):
    tuning = SearchSettings(
        starts=args.starts,
        short_iter=args.short,
        keep=args.keep,
        split_merge_bases=args.bases,
        split_merge_rounds=args.rounds,
        split_merge_moves=args.moves,
        split_merge_keep=args.sm_keep,
        hierarchical=not args.no_hierarchical,
    )
    records = fit_study(
        X,
        FAMILIES,
        range(1, args.kmax + 1),
        Settings(),
        tuning,
        seed=np.random.SeedSequence(seed),
        scout=args.scout,
    )
    return {cell: record.best for cell, record in records.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--starts", type=int, default=10)
    p.add_argument("--short", type=int, default=20)
    p.add_argument("--keep", type=int, default=5)
    p.add_argument("--bases", type=int, default=1)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--moves", type=int, default=30)
    p.add_argument("--kmax", type=int, default=9, help="the grid's K: 1..kmax (9)")
    p.add_argument("--sm-keep", type=int, default=5)
    p.add_argument("--no-hierarchical", action="store_true")
    p.add_argument("--scout", action="store_true", help="fit a cell above the grid's top K")
    args = p.parse_args()
    reference = json.loads(REFERENCE.read_text())["datasets"]
    study(np.asarray(mixem.datasets.load_faithful(), dtype=float), 99, args)  # warm-up
    hits = cells = 0
    for name in args.datasets.split(","):
        X = np.asarray(DATASETS[name](), dtype=float)
        ref = reference[name]["cells"]
        for seed in range(args.seeds):
            start = time.perf_counter()
            best = study(X, seed, args)
            seconds = time.perf_counter() - start
            missed = []
            for (fam, K), run in best.items():
                r = ref[fam.__name__].get(str(K))
                if r is None or r["loglik"] is None:
                    continue
                cells += 1
                spurious = run_is_spurious(run, X.shape[0], 1e-6)
                if not spurious and run.loglik >= r["loglik"] - 1e-6 * abs(r["loglik"]):
                    hits += 1
                else:
                    missed.append(f"{fam.__name__} K={K} {run.loglik - r['loglik']:+.2f}")
            print(f"{name} seed {seed}: {seconds:.2f} s, missed: {', '.join(missed) or 'none'}")
    print(f"hit {hits}/{cells} = {100 * hits / cells:.1f}%; {vars(args)}")


if __name__ == "__main__":
    main()
