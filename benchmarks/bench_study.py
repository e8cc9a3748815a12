"""Prototype of a study-level search (issue 18's "share work inside a study"): hit rate and time.

Not the library's code path yet: it drives the engine's private search pieces
(:class:`mixem.em.search._Search`, ``_split_merge``, ``_compiled_starts``) to measure a design
before it is built into ``mixem.select``. For every family, K goes up 1..9, and then down:

* up: K's candidates are the hierarchical start and ``--starts`` k-means++ starts (the search's
  own), every split of one component of the K-1 fit along its principal axis, and (unless
  ``--no-share``) the responsibilities of the other families' fits at the same K; each gets
  ``--short`` iterations, the ``--keep`` best are continued, then split-and-merge rounds from
  ``--bases`` distinct fits, as the default search;
* down (``--down``): K's candidates are the ``--merges`` most overlapping pairs of the K+1 fit
  merged (and the other families' fits at K); they race against K's fit and replace it when
  better.

A cell is a hit when its fit is not spurious and reaches the cached reference of
``bench_select.py`` (the best plausible of 50 k-means++ fits) within 1e-6 relative. One warm-up
study runs first, so that the times leave out numba's loading.

Measured 2026-12-02 (2 seeds x 3 datasets = 214 cells, 1 BLAS thread): ``--starts 10 --down``
reached 98.6% of cells in 0.84 to 1.39 s per study (Faithful 1.1 s, iris 0.9 s, banknote 1.35
s); the same study without ``--down`` 93.0%; ``--no-share --down`` 97.7%; ``mixem.select`` as
it is 104/107 (97.2%) in 5.0 / 3.0 / 3.6 s. Over three seeds (321 cells): ``--down`` 97.8% (select:
97.8%), with ``--starts 5`` 97.5%, ``--no-share`` 96.6%, ``--short 10`` 95.3%. The compiled loop was
about 60% of a study.

    python benchmarks/bench_study.py --down
    python benchmarks/bench_study.py --down --starts 5 --seeds 3 --datasets faithful
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import mixem
from mixem.em.passes import log_sum_exp, weighted_log_prob
from mixem.em.plausible import run_is_spurious
from mixem.em.search import _compiled_starts, _Search, _split_merge
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Structure

REFERENCE = Path(__file__).resolve().parent / "reference_select.json"
FAMILIES = [mixem.GaussianFull, mixem.GaussianDiagonal, mixem.GaussianSpherical, mixem.GaussianTied]
DATASETS = {
    "faithful": mixem.datasets.load_faithful,
    "iris": mixem.datasets.load_iris,
    "banknote": mixem.datasets.load_banknote,
}


def responsibilities(X, run):
    logp = weighted_log_prob(X, np.log(run.weights), run.components)
    return np.exp(logp - log_sum_exp(logp)[:, None])


def splits(X, run):
    """``(n, K + 1)`` responsibilities: each component of ``run`` split along its main axis."""
    R = responsibilities(X, run)
    out = []
    for m in range(R.shape[1]):
        r = R[:, m]
        centre = r @ X / r.sum()
        diff = X - centre
        axis = np.linalg.eigh((diff * r[:, None]).T @ diff)[1][:, -1]
        side = diff @ axis > 0
        new = np.concatenate([R, (r * side)[:, None]], axis=1)
        new[:, m] = r * ~side
        out.append(new)
    return out


def merges(X, run, count):
    """``(n, K - 1)`` responsibilities: the ``count`` most overlapping pairs merged."""
    R = responsibilities(X, run)
    K = R.shape[1]
    overlap = R.T @ R
    pairs = sorted(((i, j) for i in range(K) for j in range(i + 1, K)), key=lambda p: -overlap[p])
    out = []
    for i, j in pairs[:count]:
        new = R.copy()
        new[:, i] += new[:, j]
        out.append(np.delete(new, j, axis=1))
    return out


def study(X, seed, args):
    rng = np.random.default_rng(seed)
    settings = Settings()
    tuning = SearchSettings(
        starts=args.starts,
        short_iter=args.short,
        keep=args.keep,
        split_merge_bases=args.bases,
        split_merge_rounds=args.rounds,
    )
    best = {}

    def shared(fam, K):
        if args.no_share:
            return []
        return [
            responsibilities(X, best[f, K]) for f in FAMILIES if f is not fam and (f, K) in best
        ]

    for K in range(1, 10):
        for fam in FAMILIES:
            s = _Search(X, None, Structure((fam,), (K,)), settings, tuning)
            resps = list(_compiled_starts(X, None, s.structure, tuning, rng).transpose(0, 2, 1))
            if K > 1:
                resps += splits(X, best[fam, K - 1])
            resps += shared(fam, K)
            short = [
                (0, r, None) for _, r in s.run_all_from(resps, args.short, groups=[0] * len(resps))
            ]
            (finals,) = s.best_continued(
                short, args.keep, None, None, args.bases if args.rounds else 1
            )
            found = finals[0]
            bases = []
            for f in finals if args.rounds else []:
                if all(abs(f.loglik - b.loglik) > settings.tol * s.n_obs for b in bases):
                    bases.append(f)
                if len(bases) == args.bases:
                    break
            for base in bases:
                moved = _split_merge(s, base)
                if s.rank(moved) > s.rank(found):
                    found = moved
            best[fam, K] = found
    for K in range(8, 0, -1) if args.down else ():
        for fam in FAMILIES:
            s = _Search(X, None, Structure((fam,), (K,)), settings, tuning)
            current = best[fam, K]
            mark = current.loglik + settings.tol * s.n_obs
            resps = merges(X, best[fam, K + 1], args.merges) + shared(fam, K)
            short = [(0, r, None) for _, r in s.run_all_from(resps, args.short, mark)]
            (finals,) = s.best_continued(short, args.keep, None, np.array([mark]), 1)
            if finals and s.rank(finals[0]) > s.rank(current):
                best[fam, K] = finals[0]
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--starts", type=int, default=10)
    p.add_argument("--short", type=int, default=20)
    p.add_argument("--keep", type=int, default=5)
    p.add_argument("--bases", type=int, default=1)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--merges", type=int, default=5)
    p.add_argument("--down", action="store_true")
    p.add_argument("--no-share", action="store_true")
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
    print(f"hit {hits}/{cells} = {100 * hits / cells:.1f}%")


if __name__ == "__main__":
    main()
