"""Export weighted-bootstrap draws as ArviZ data: InferenceData (ArviZ 0.x) or DataTree (1.x)."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from mixem._version import __version__
from mixem.bootstrap import BootstrapDraws
from mixem.components.base import Legacy
from mixem.components.family import family_name

if TYPE_CHECKING:
    from mixem.result import MixtureResult

__all__ = ["arviz_major", "family_labels", "to_arviz_data"]

#: Name of the observed variable, in ``observed_data`` and ``log_likelihood`` alike, so that
#: ArviZ's functions find the pointwise log-likelihood without a ``var_name``.
OBSERVED = "x"


def arviz_major() -> int:
    """Major version of the installed ArviZ (0 or 1)."""
    import arviz

    return int(arviz.__version__.split(".")[0])


def family_labels(result: MixtureResult) -> list[tuple[str, str]]:
    """Per family: (prefix for its parameter names, name of its component dimension)."""
    # Class names: identifiers, unlike a family value's label ("VEV(m_step_tol=0.001)"); a
    # class on the first contract is named by itself, not by its adapter.
    classes = [
        c.family.label if isinstance(c.family, Legacy) else type(c.family).__name__
        for c in result.components
    ]
    if len(classes) == 1:
        return [("", "component")]
    repeated = {name for name, count in Counter(classes).items() if count > 1}
    out = []
    for f, name in enumerate(classes):
        label = f"{name}{f}" if name in repeated else name
        out.append((f"{label}_", f"component_{label}"))
    return out


def to_arviz_data(result: MixtureResult, X: np.ndarray, draws: BootstrapDraws, chains: int) -> Any:
    """Build the ArviZ object of the installed line from ``draws`` of ``result`` on ``X``."""
    n, d = X.shape
    total = draws.weights.shape[0]
    per_chain = total // chains

    def shaped(a: np.ndarray) -> np.ndarray:
        return a.reshape((chains, per_chain) + a.shape[1:])

    features = list(result.feature_names) if result.feature_names else list(range(d))
    coords: dict[str, Any] = {
        "component": np.arange(result.n_components),
        "feature": features,
        "feature_bis": features,
        "obs_id": np.arange(n),
    }
    dims: dict[str, list[str]] = {"weights": ["component"], OBSERVED: ["obs_id", "feature"]}
    posterior: dict[str, np.ndarray] = {"weights": shaped(draws.weights)}
    start = 0
    for comp, params, (prefix, comp_dim) in zip(
        result.components, draws.params, family_labels(result), strict=True
    ):
        k = comp.n_components
        if comp_dim != "component":
            coords[comp_dim] = np.arange(start, start + k)
        for name, value in params.items():
            var = prefix + name
            posterior[var] = shaped(value)
            dims[var] = [comp_dim if dim == "component" else dim for dim in comp.param_dims[name]]
        start += k

    attrs = {
        "inference_library": "mixem",
        "inference_library_version": __version__,
        "method": "weighted likelihood bootstrap (EM on Dirichlet-reweighted rows, warm-started "
        "from the fit, labels aligned to it); approximates the posterior under a flat prior",
        "model": " + ".join(f"{family_name(c.family)}x{c.n_components}" for c in result.components),
        "spec": json.dumps(result.spec),
        "loglik": float(result.loglik),
        "n_parameters": int(result.n_parameters),
        "n_obs": float(result.n_obs),
        "bic": float(result.bic),
        "aic": float(result.aic),
        "icl": float(result.icl),
        "n_failed_draws": int(draws.n_failed),
    }
    groups = {
        "posterior": posterior,
        "log_likelihood": {OBSERVED: shaped(draws.pointwise)},
        "sample_stats": {
            "loglik": shaped(draws.loglik),
            "n_iter": shaped(draws.n_iter),
            "converged": shaped(draws.converged),
        },
        "observed_data": {OBSERVED: X},
    }
    if arviz_major() >= 1:
        from arviz_base import from_dict

        return from_dict(groups, coords=coords, dims=dims, attrs={"/": attrs, "posterior": attrs})
    import arviz as az

    return az.from_dict(**groups, coords=coords, dims=dims, attrs=attrs, posterior_attrs=attrs)
