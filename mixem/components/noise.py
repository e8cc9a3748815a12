"""A uniform background ("noise") component, as mclust's noise component.

Outliers scattered over the data pull Gaussian clusters towards them and inflate their
covariances. A component of constant density takes them instead: rows far from every cluster
have a higher density under it than under any Gaussian (Banfield and Raftery, 1993,
*Biometrics* 49, 803-821; Fraley and Raftery, 1998, *The Computer Journal* 41, 578-588).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, ClassVar

import numpy as np

from mixem.components.family import Components, Family
from mixem.components.gaussian import _param
from mixem.components.stats import Stats

__all__ = ["BoxStats", "UniformNoise"]


class BoxStats(Stats):
    """The bounding box of rows: per-feature running ``lower`` (min) and ``upper`` (max).

    Arrays have shape ``(1, d)``. An empty chunk has ``lower = +inf`` and ``upper = -inf``, the
    identities of min and max, so merging is exact, associative and commutative.
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)

    @classmethod
    def from_data(cls, X: np.ndarray) -> BoxStats:
        """The box of the rows ``X`` (n, d)."""
        if X.shape[0] == 0:
            return cls(np.full((1, X.shape[1]), np.inf), np.full((1, X.shape[1]), -np.inf))
        return cls(X.min(axis=0, keepdims=True), X.max(axis=0, keepdims=True))

    def merge(self, other: BoxStats) -> BoxStats:
        """The box of both chunks' rows."""
        return BoxStats(np.minimum(self.lower, other.lower), np.maximum(self.upper, other.upper))

    def arrays(self) -> dict[str, np.ndarray]:
        """Return ``lower`` and ``upper``."""
        return {"lower": self.lower, "upper": self.upper}


@dataclasses.dataclass(frozen=True)
class UniformNoise(Family):
    """One component of constant density over the data's bounding box.

    Use it beside other families, e.g. ``MixtureModel([GaussianFull, UniformNoise],
    n_components=[3, 1])``: it collects rows that fit no cluster. ``UniformNoise(volume=V)``
    (or ``UniformNoise.with_volume(V)``) has density ``1 / V`` everywhere (mclust's
    ``Vinv = 1 / V``).

    Parameters
    ----------
    volume : float, optional
        Positive, finite volume in the data's units (the product of the feature ranges). By
        default the density is ``1 / V`` inside the box, ``V = prod(upper - lower)``, boundary
        included, and 0 outside.

    Notes
    -----
    Its components hold the box's corners ``lower`` and ``upper``, shape ``(1, d)``,
    ``lower < upper`` in every feature (build them with
    ``UniformNoise().components(lower=..., upper=...)``); ``components.volume`` is ``V``.
    The box is not estimated, it is the data's: ``n_parameters`` is 0 (the component's weight
    is counted by the model). Its statistics are the running minimum and maximum of rows
    (:class:`BoxStats`). At a start (``params=None``) they are taken over every row passed,
    whatever their responsibilities, because hard starting assignments (k-means++) say nothing
    about where background rows are. In EM (at the current parameters) they are taken over the
    rows with positive responsibility, which are all rows of positive sample weight: each lies
    inside the previous box, where the density is positive. So after the first M-step the box
    is the bounding box of the rows of positive weight and stays so: it never shrinks past a
    row, which would make that row's density 0. ``min_count`` is 0: the component needs no
    rows and is never re-seeded; its weight may go to 0 on data without outliers.

    New rows outside the box have density 0 under this component; the model's other components
    still give them a density, so ``predict`` assigns them to those. With a fixed volume,
    :meth:`sample` still draws from the data's box (a density constant everywhere cannot be
    sampled).
    """

    volume: float | None = None

    param_dims = {  # noqa: RUF012 (a ClassVar of the base)
        "lower": ("component", "feature"),
        "upper": ("component", "feature"),
    }
    derived = {"volume": "density_volume"}  # noqa: RUF012

    #: One background component: several would be the same box, and unidentifiable.
    max_components: ClassVar[int | None] = 1

    def __post_init__(self) -> None:
        v = self.volume
        if v is None:
            return
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"volume must be a number, got {v!r}")
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"volume must be positive and finite, got {v!r}")
        object.__setattr__(self, "volume", float(v))

    @classmethod
    def with_volume(cls, volume: float) -> UniformNoise:
        """``UniformNoise(volume=volume)``: density ``1 / volume`` everywhere."""
        return cls(volume=volume)

    def _log_density(self, params: Components) -> float:
        if self.volume is not None:
            return -float(np.log(self.volume))
        return -float(np.log(params.upper - params.lower).sum())

    def density_volume(self, params: Components) -> float:
        """``V``: the density is ``1 / V`` (inside the box, unless the volume is fixed)."""
        return float(np.exp(-self._log_density(params)))

    # -- the contract ---------------------------------------------------------------------
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """``-log V`` for rows in the box (every row, for a fixed volume), ``-inf`` outside."""
        out = np.full((X.shape[0], 1), self._log_density(params))
        if self.volume is None:
            inside = ((X >= params.lower) & (X <= params.upper)).all(axis=1)
            out[~inside] = -np.inf
        return out

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> BoxStats:
        """The box of every row passed at a start, of rows with responsibility in EM."""
        if params is None:
            return BoxStats.from_data(X)
        return BoxStats.from_data(X[resp[:, 0] > 0])

    def m_step(
        self, stats: BoxStats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> dict[str, np.ndarray]:
        """The box itself (``reg_covar`` does not apply)."""
        if not np.all(stats.upper >= stats.lower):
            raise ValueError("UniformNoise has no rows with positive responsibility")
        flat = np.flatnonzero(stats.upper[0] == stats.lower[0])
        if flat.size:
            raise ValueError(
                f"feature {int(flat[0])} is constant (every value {stats.lower[0, flat[0]]:g}); "
                "a uniform box has no volume in it: drop it"
            )
        return self.check_params({"lower": stats.lower, "upper": stats.upper})

    def n_parameters(self, params: Components) -> int:
        """0: the box is the data's, not estimated (the model counts the weight)."""
        return 0

    # -- capabilities ------------------------------------------------------------------
    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Corners of shape ``(1, d)`` with ``lower < upper``, of a finite volume."""
        if set(arrays) != {"lower", "upper"}:
            raise ValueError(f"UniformNoise takes parameters lower and upper, got {sorted(arrays)}")
        lower = _param(arrays["lower"], "lower", 2, (1, None))
        upper = _param(arrays["upper"], "upper", 2, (1, lower.shape[1]))
        bad = np.flatnonzero(~(upper[0] > lower[0]))
        if bad.size:
            j = int(bad[0])
            raise ValueError(
                f"upper[0, {j}] must exceed lower[0, {j}] (the box has zero width in feature "
                f"{j}), got lower {lower[0, j]:g} and upper {upper[0, j]:g}"
            )
        if self.volume is None and not np.isfinite(float(np.log(upper - lower).sum())):
            raise ValueError("the box's volume overflows float64: rescale the data")
        return {"lower": lower, "upper": upper}

    def min_count(self, n_features: int) -> float:
        """0: the box needs no rows of its own, and the component is never re-seeded."""
        return 0.0

    def check_data(self, X: np.ndarray) -> None:
        """Reject constant features: the box would have no volume."""
        if X.shape[0] > 1:
            const = np.flatnonzero(np.ptp(X, axis=0) == 0)
            if const.size:
                raise ValueError(
                    f"X feature {int(const[0])} is constant (every value {X[0, const[0]]:g}); "
                    "a uniform noise box has no volume in it: drop it"
                )

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[0]`` rows uniformly from the box ``[lower, upper]``."""
        c = int(np.asarray(counts, dtype=int)[0])
        return rng.uniform(params.lower[0], params.upper[0], size=(c, params.lower.shape[1]))
