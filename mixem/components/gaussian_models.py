"""``Gaussian(model)``: Gaussian components under any of mclust's fourteen covariance models.

The model's name says which of volume, shape and orientation the components share (see
:mod:`mixem.components.covariance_models`). The parameters are ``means`` ``(k, d)`` and
``covariances`` shaped by the model, as scikit-learn shapes its four: ``(k,)`` variances for
EII and VII (covariance ``variance * I``), ``(k, d)`` per-feature variances for EEI, VEI, EVI
and VVI, one ``(d, d)`` matrix for EEE, and ``(k, d, d)`` matrices for the other seven.
``Gaussian("VVV")``, ``Gaussian("VVI")``, ``Gaussian("VII")`` and ``Gaussian("EEE")`` are the
models of :class:`~mixem.GaussianFull`, :class:`~mixem.GaussianDiagonal`,
:class:`~mixem.GaussianSpherical` and :class:`~mixem.GaussianTied`.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from scipy.stats import chi2

from mixem.components.covariance_models import MODELS, ONE_DIMENSIONAL, CovarianceModel
from mixem.components.family import Components, Family
from mixem.components.gaussian import (
    DiagonalKernel,
    FullKernel,
    SphericalKernel,
    TiedKernel,
    _check_weights,
    _collapsed_full,
)
from mixem.components.stats import GaussianStats

__all__ = ["Gaussian", "GaussianDiagonal", "GaussianFull", "GaussianSpherical", "GaussianTied"]

#: How far (relative) given covariances may be from the model's constraints (init_params,
#: loaded files): rounding of a saved fit's parameters, not a different model.
CONSTRAINT_TOL = 1e-8


@dataclasses.dataclass(frozen=True)
class Gaussian(Family):
    """Gaussian components whose covariances follow one of mclust's models.

    Parameters
    ----------
    model : str, default "VVV"
        mclust's name: ``"EII"``, ``"VII"``, ``"EEI"``, ``"VEI"``, ``"EVI"``, ``"VVI"``,
        ``"EEE"``, ``"VEE"``, ``"EVE"``, ``"VVE"``, ``"EEV"``, ``"VEV"``, ``"EVV"``,
        ``"VVV"``; in one dimension also ``"E"`` and ``"V"`` (every name reduces to its volume
        letter on one column). The letters give volume, shape and orientation: ``E`` equal
        across components, ``V`` variable, ``I`` the identity.
    m_step_tol : float, default 1.5e-8
        The iterative M-steps (VEI, VEE, VEV, EVE, VVE) stop when their objective changes by
        at most this, relative (mclust's default, ``sqrt(eps)``).
    m_step_max_iter : int, default 1000
        Most iterations of an iterative M-step. Each starts from the current parameters, so
        even one iteration improves the fit: EM's log-likelihood never decreases.

    Notes
    -----
    ``reg_covar`` enters the M-step as ``n_k * reg_covar`` added to the diagonal of every
    component's scatter, which keeps the model's constraints; for VVV, VVI, VII and EEE this
    adds ``reg_covar`` to every variance, as the four classes do.
    """

    #: ``components.covariance_matrices``: every component's ``(d, d)`` matrix, as before.
    derived: ClassVar[dict[str, str]] = {"covariance_matrices": "covariance_matrices"}

    model: str = "VVV"
    m_step_tol: float = 1.5e-8
    m_step_max_iter: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or self.model not in MODELS + ONE_DIMENSIONAL:
            raise ValueError(
                f"model must be one of mclust's {', '.join(MODELS + ONE_DIMENSIONAL)}; "
                f"got {self.model!r}"
            )
        tol, its = self.m_step_tol, self.m_step_max_iter
        if isinstance(tol, bool) or not (isinstance(tol, numbers.Real) and tol >= 0):
            raise ValueError(f"m_step_tol must be a non-negative number, got {tol!r}")
        if isinstance(its, bool) or not (isinstance(its, numbers.Integral) and its >= 1):
            raise ValueError(
                f"m_step_max_iter must be a positive int, got {self.m_step_max_iter!r}"
            )
        # Plain Python numbers: equal settings give equal labels, and a saved file's JSON.
        object.__setattr__(self, "m_step_tol", float(tol))
        object.__setattr__(self, "m_step_max_iter", int(its))

    # -- what the name says ------------------------------------------------------------
    @property
    def covariance_model(self) -> CovarianceModel:
        """The covariance model (its parameter counts, M-step and description)."""
        return CovarianceModel(self.model)

    @property
    def description(self) -> str:
        """E.g. ``"VEV: variable volume, equal shape, variable orientation"``."""
        return f"{self.model}: {self.covariance_model.description}"

    @property
    def label(self) -> str:
        """The model's name as mclust gives it, ``"VEV"``, and any non-default M-step settings."""
        extra = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)[1:]
            if getattr(self, f.name) != f.default
        ]
        return f"{self.model}({', '.join(extra)})" if extra else self.model

    @property
    def _layout(self) -> str:
        """How ``covariances`` are stored: "spherical", "diagonal", "tied" or "full"."""
        if len(self.model) == 1 or self.model[1:] == "II":
            return "spherical"
        if self.model[2] == "I":
            return "diagonal"
        return "tied" if self.model == "EEE" else "full"

    @property
    def param_dims(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Dimension names of ``means`` and ``covariances``."""
        cov = {
            "spherical": ("component",),
            "diagonal": ("component", "feature"),
            "tied": ("feature", "feature_bis"),
            "full": ("component", "feature", "feature_bis"),
        }[self._layout]
        return {"means": ("component", "feature"), "covariances": cov}

    def _variable(self, d: int) -> bool:
        """Whether a component's own rows set its volume or shape (it can become a spike)."""
        return "V" in self.covariance_model.in_dimensions(d).name[:2]

    # -- the contract ---------------------------------------------------------------------
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        return _kernel(self, params).log_prob(X)

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> GaussianStats:
        """Weights, means and centred scatter (its diagonal for a diagonal model)."""
        return GaussianStats.from_data(X, resp, full=self._layout in ("tied", "full"))

    def m_step(
        self,
        stats: GaussianStats,
        *,
        reg_covar: float = 0.0,
        previous: Components | None = None,
    ) -> dict[str, np.ndarray]:
        """Means, and covariances from the covariance model's M-step."""
        _check_weights(stats)
        if not np.isfinite(stats.scatter).all():
            raise ValueError("the statistics' scatter contains NaN or infinite values")
        model = self.covariance_model
        start = None
        if previous is not None and model.in_dimensions(stats.mean.shape[1]).iterative:
            start = previous.cached("decomposition", lambda: model.decompose(_natural(previous)))
        dec = model.m_step(
            stats.weight,
            stats.scatter,
            reg=reg_covar,
            tol=self.m_step_tol,
            max_iter=self.m_step_max_iter,
            start=start,
        )
        return {"means": np.array(stats.mean), "covariances": _stored(self._layout, dec)}

    def n_parameters(self, params: Components) -> int:
        """Means plus the model's covariance parameters (mclust's ``nVarParams``)."""
        k, d = params.means.shape
        return k * d + self.covariance_model.n_parameters(k, d)

    # -- capabilities ------------------------------------------------------------------
    def _stack(self, components: Any) -> Any:
        """Several fits as one stack: where every component's covariance is its own, or EEE."""
        from mixem.components.stack import Stack, TiedStack

        name = self.covariance_model.in_dimensions(components[0].means.shape[1]).name
        if name in ("VVV", "VVI", "VII", "V"):
            return Stack.of(components)
        if self.model == "EEE":
            return TiedStack.of(components)
        return None

    def n_features(self, params: Components) -> int:
        """Columns of ``means``."""
        return int(params.means.shape[1])

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        return _kernel(self, params).sample(counts, rng)

    def moments(self, params: Components) -> tuple[np.ndarray, np.ndarray]:
        """Means and full covariance matrices ``(k, d, d)``."""
        return params.means, _kernel(self, params).covariance_matrices

    def elliptical(self, params: Components) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Means, covariance matrices, and chi-squared(d) for every component."""
        means, covs = self.moments(params)
        return means, covs, [chi2(means.shape[1])] * means.shape[0]

    def covariance_matrices(self, params: Components) -> np.ndarray:
        """Every component's full covariance matrix, ``(k, d, d)``."""
        return self.moments(params)[1]

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Means and covariances of the model's layout, positive definite, within its model."""
        if set(arrays) != {"means", "covariances"}:
            raise ValueError(
                f"{self.label} takes parameters means and covariances, got {sorted(arrays)}"
            )
        kernel = _KERNELS[self._layout]
        checked = kernel(arrays["means"], arrays["covariances"])  # shapes, symmetry, positivity
        out = {"means": checked.means, "covariances": checked.covariances}
        excess = self.covariance_model.violation(_natural_arrays(self._layout, out))
        if excess > CONSTRAINT_TOL:
            raise ValueError(
                f"covariances do not follow model {self.description} (relative distance "
                f"{excess:.2g} from the nearest that do)"
            )
        return out

    def check_data(self, X: np.ndarray) -> None:
        """Reject constant features: their variance is zero in every component."""
        FullKernel.check_data(X)

    def min_count(self, n_features: int) -> float:
        """Rows a component needs: ``d + 1`` for its own full shape, 2 for its own variances."""
        name = self.covariance_model.in_dimensions(n_features).name
        if len(name) == 3 and name[1] == "V" and name[2] != "I":
            return float(n_features + 1)
        return 2.0 if "V" in name[:2] else 1.0

    def min_rows(self, n_features: int, k: int) -> float:
        """Rows ``k`` components need together.

        A covariance the components share is estimated from the rows' scatter about their
        ``k`` means, which has ``n - k`` degrees of freedom: it needs ``n >= k + d`` rows as a
        full matrix (EEE), ``k + 1`` as shared variances (EEI, EII, E).
        """
        own = k * self.min_count(n_features)
        name = self.covariance_model.in_dimensions(n_features).name
        if name == "EEE":
            return float(max(own, k + n_features))
        if name in ("EEI", "EII", "E"):
            return float(max(own, k + 1))
        return float(own)

    def floats_per_row(self, n_features: int) -> int:
        """As :class:`~mixem.GaussianFull` for full matrices, else two per feature."""
        return (4 if self._layout == "full" else 2) * n_features

    def collapsed(self, stats: GaussianStats) -> np.ndarray:
        """Components on (near-)identical rows, where a component's own rows set its spread."""
        if not self._variable(stats.mean.shape[1]):
            return np.zeros(stats.weight.shape[0], dtype=bool)
        if stats.scatter.ndim == 3:
            return _collapsed_full(stats)
        return DiagonalKernel.collapsed(stats)

    def spurious(self, params: Components, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Flat components, and, where a component's rows set its spread, those on ``d`` rows.

        As the four classes decide: a covariance whose smallest eigenvalue is within the
        regulariser (or 1e-10 of its largest), or fewer than ``d + 1`` effective rows.
        """
        if self._variable(params.means.shape[1]):
            counts = np.asarray(counts, dtype=float)
        else:
            counts = np.full(params.n_components, np.inf)
        return _kernel(self, params).spurious(counts, reg_covar)


_KERNELS = {
    "spherical": SphericalKernel,
    "diagonal": DiagonalKernel,
    "tied": TiedKernel,
    "full": FullKernel,
}


def _kernel(family: Gaussian, params: Components) -> Any:
    """The log-density kernel of the parameters' layout (one of the four classes' objects)."""
    return params.cached(
        "kernel",
        lambda: (
            _KERNELS[family._layout]
            ._valid(np.array(params.means), np.array(params.covariances))
            ._checked()
        ),
    )


def _stored(layout: str, dec: Any) -> np.ndarray:
    """The decomposition as the layout stores covariances."""
    if layout == "spherical":
        return np.array(dec.scale)
    if layout == "diagonal":
        return dec.variances()
    matrices = dec.matrices()
    return matrices[0] if layout == "tied" else matrices


def _natural_arrays(layout: str, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Covariances as the covariance model reads them: ``(k, d)`` variances or matrices."""
    cov, (k, d) = arrays["covariances"], arrays["means"].shape
    if layout == "spherical":
        return np.repeat(cov[:, None], d, axis=1)
    if layout == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if layout == "full" and d == 1:
        return cov.reshape(k, 1)
    return cov


def _natural(params: Components) -> np.ndarray:
    return _natural_arrays(params.family._layout, params.params())


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class _Named(Gaussian):
    """One of mclust's models under the name mixem gave it first (``GaussianFull`` is VVV)."""

    def __init__(
        self, *arrays: Any, m_step_tol: float = 1.5e-8, m_step_max_iter: int = 1000
    ) -> None:
        if arrays:
            name = type(self).__name__
            raise TypeError(
                f"{name}() is mclust's model {type(self).model}, and takes only the M-step's "
                f"settings (use mixem.Gaussian(name) for another model); build components "
                f"with mixem.{name}().components(means=..., covariances=...)"
            )
        object.__setattr__(self, "model", type(self).model)
        object.__setattr__(self, "m_step_tol", m_step_tol)
        object.__setattr__(self, "m_step_max_iter", m_step_max_iter)
        self.__post_init__()

    @property
    def label(self) -> str:
        """The class name, and any non-default M-step settings."""
        return Family.label.fget(self)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return self.label


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class GaussianFull(_Named):
    """Gaussian components, each with its own full covariance: mclust's VVV.

    ``GaussianFull()`` (or the class) is ``Gaussian("VVV")`` under this name. Its components
    hold ``means`` ``(k, d)`` and ``covariances`` ``(k, d, d)``, symmetric positive definite;
    build them with ``GaussianFull().components(means=..., covariances=...)``. Free parameters:
    ``k (d + d (d + 1) / 2)``.
    """

    model: str = dataclasses.field(default="VVV", init=False)


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class GaussianTied(_Named):
    """Gaussian components that share one full covariance: mclust's EEE.

    ``GaussianTied()`` (or the class) is ``Gaussian("EEE")`` under this name. Its components
    hold ``means`` ``(k, d)`` and one ``covariances`` matrix ``(d, d)``. Free parameters:
    ``k d + d (d + 1) / 2``.
    """

    model: str = dataclasses.field(default="EEE", init=False)


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class GaussianDiagonal(_Named):
    """Gaussian components with their own per-feature variances: mclust's VVI.

    ``GaussianDiagonal()`` (or the class) is ``Gaussian("VVI")`` under this name. Its
    components hold ``means`` ``(k, d)`` and ``covariances`` ``(k, d)``, the positive
    variances. Free parameters: ``2 k d``.
    """

    model: str = dataclasses.field(default="VVI", init=False)


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class GaussianSpherical(_Named):
    """Gaussian components with one variance each, ``variance * I``: mclust's VII.

    ``GaussianSpherical()`` (or the class) is ``Gaussian("VII")`` under this name. Its
    components hold ``means`` ``(k, d)`` and ``covariances`` ``(k,)``, the positive variances.
    Free parameters: ``k (d + 1)``.
    """

    model: str = dataclasses.field(default="VII", init=False)
