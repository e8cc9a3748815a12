"""Files of save format version 2 (mixem at commit 307a4d7, before the checksum of version 3).

Run with that version of mixem importable (``git worktree add /tmp/v2 307a4d7`` and
``PYTHONPATH=/tmp/v2 python tests/data/format_v2/make.py``). Each ``NAME.npz`` is a saved fit;
``NAME.expected.npz`` holds what that version's ``predict_proba`` and ``score_samples`` gave on
the rows it was fitted to, which the current version must reproduce exactly.
"""

from pathlib import Path

import numpy as np

import mixem

HERE = Path(__file__).parent
faithful = np.asarray(mixem.datasets.load_faithful())
cases = {
    "vev": (mixem.Gaussian("VEV"), 2, faithful),
    "full": (mixem.GaussianFull, 2, faithful),
    "student_t": (mixem.StudentT.with_dof(4.0), 2, faithful),
}
for name, (family, k, X) in cases.items():
    result = mixem.MixtureModel(family, k, random_state=0).fit(X)
    result.save(HERE / f"{name}.npz")
    np.savez(
        HERE / f"{name}.expected.npz",
        X=X,
        proba=result.predict_proba(X),
        score=result.score_samples(X),
    )
