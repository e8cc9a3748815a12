"""Which runs are plausible: spurious components (likelihood spikes) and the order of runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mixem.components.family import Components
from mixem.em.loop import EMRun

__all__ = ["rank", "run_is_spurious", "spurious_flags"]


def spurious_flags(
    weights: np.ndarray, components: Sequence[Components], n_obs: float, reg_covar: float
) -> np.ndarray:
    """Which of all K components are spurious (see :meth:`Family.spurious`), ``(K,)``."""
    counts = np.asarray(weights) * n_obs
    parts, start = [], 0
    for comp in components:
        k = comp.n_components
        parts.append(np.asarray(comp.spurious(counts[start : start + k], reg_covar), dtype=bool))
        start += k
    return np.concatenate(parts)


def run_is_spurious(run: EMRun, n_obs: float, reg_covar: float) -> bool:
    """Whether any component of ``run`` is spurious."""
    known = run.spurious_at
    if known is not None and known[0] == n_obs and known[1] == reg_covar:
        return known[2]
    return bool(spurious_flags(run.weights, run.components, n_obs, reg_covar).any())


def rank(run: EMRun, n_obs: float, reg_covar: float) -> tuple[bool, float]:
    """Sort key of runs: plausible (non-spurious) ones first, then the highest log-likelihood."""
    return (not run_is_spurious(run, n_obs, reg_covar), run.loglik)
