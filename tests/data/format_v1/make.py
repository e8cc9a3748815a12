"""Files of save format version 1 (mixem at commit 90b6740), for tests/test_io_compat.py.

Run with that version of mixem importable (e.g. ``git worktree add /tmp/old 90b6740`` and
``PYTHONPATH=/tmp/old python tests/data/format_v1/make.py [NAME ...]``: every case, or the
named ones; the exponential case was added later, made the same way). Each ``NAME.npz`` is a
saved fit; ``NAME.expected.npz`` holds what that version's ``predict_proba`` and
``score_samples`` gave on the rows it was fitted to, which the current version must reproduce
exactly.
"""

import sys
from pathlib import Path

import numpy as np

import mixem

HERE = Path(__file__).parent
rng = np.random.default_rng(0)
faithful = np.asarray(mixem.datasets.load_faithful())
counts = rng.poisson([2.0, 9.0], size=(120, 2)).astype(float)
mixed = np.column_stack([faithful[:120], counts[:, :1]])
cases = {
    "full": (mixem.GaussianFull, 2, faithful),
    "tied": (mixem.GaussianTied, 3, faithful),
    "diagonal": (mixem.GaussianDiagonal, 2, faithful),
    "spherical": (mixem.GaussianSpherical, 2, faithful),
    "student_t": (mixem.StudentT.with_dof(4.0), 2, faithful),
    "noise": ([mixem.GaussianFull, mixem.UniformNoise], [2, 1], faithful),
    "product": (
        mixem.Product.of((mixem.GaussianDiagonal, [0, 1]), (mixem.Poisson, [2])),
        2,
        mixed,
    ),
    "poisson": (mixem.Poisson, 2, counts),
    "exponential": (
        mixem.Exponential,
        2,
        np.random.default_rng(1).exponential([[1.0, 5.0]], size=(150, 2)),
    ),
}
for name in sys.argv[1:] or cases:
    family, k, X = cases[name]
    result = mixem.MixtureModel(family, k, random_state=0).fit(X)
    result.save(HERE / f"{name}.npz")
    np.savez(
        HERE / f"{name}.expected.npz",
        X=X,
        proba=result.predict_proba(X),
        score=result.score_samples(X),
    )
    print(name, result.loglik)
