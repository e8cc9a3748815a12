"""A uniform background ("noise") component, as mclust's noise component.

Outliers scattered over the data pull Gaussian clusters towards them and inflate their
covariances. A component of constant density takes them instead: rows far from every cluster
have a higher density under it than under any Gaussian (Banfield and Raftery, 1993,
*Biometrics* 49, 803-821; Fraley and Raftery, 1998, *The Computer Journal* 41, 578-588).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from mixem.components.base import Component
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


class UniformNoise(Component):
    """One component of constant density over the data's bounding box.

    Use it beside other families, e.g. ``MixtureModel([GaussianFull, UniformNoise],
    n_components=[3, 1])``: it collects rows that fit no cluster. ``UniformNoise.with_volume(V)``
    is the variant of density ``1 / V`` everywhere (mclust's ``Vinv = 1 / V``).

    Parameters
    ----------
    lower, upper : array-like of shape (1, d)
        The box's corners, ``lower < upper`` in every feature. The density is ``1 / V`` inside
        the box (``V = prod(upper - lower)``, boundary included) and 0 outside.

    Notes
    -----
    The box is not estimated, it is the data's: ``n_parameters`` is 0 (the component's weight
    is counted by the model). Its statistics are the running minimum and maximum of rows
    (:class:`BoxStats`). At a start (:meth:`statistics`) they are taken over every row passed,
    whatever their responsibilities, because hard starting assignments (k-means++) say nothing
    about where background rows are. In EM (:meth:`expected_statistics`) they are taken over
    the rows with positive responsibility, which are all rows of positive sample weight: each
    lies inside the previous box, where the density is positive. So after the first M-step the
    box is the bounding box of the rows of positive weight and stays so: it never shrinks past
    a row, which would make that row's density 0. ``min_count`` is 0: the component needs no
    rows and is never re-seeded; its weight may go to 0 on data without outliers.

    New rows outside the box have density 0 under this component; the model's other components
    still give them a density, so ``predict`` assigns them to those.
    """

    #: Volume of a ``with_volume`` variant; None when the density is ``1 / box volume``.
    fixed_volume: ClassVar[float | None] = None

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "lower": ("component", "feature"),
        "upper": ("component", "feature"),
    }

    def __init__(self, lower: Any, upper: Any) -> None:
        self._lower = _param(lower, "lower", 2, (1, None))
        self._upper = _param(upper, "upper", 2, (1, self._lower.shape[1]))
        bad = np.flatnonzero(~(self._upper[0] > self._lower[0]))
        if bad.size:
            j = int(bad[0])
            raise ValueError(
                f"upper[0, {j}] must exceed lower[0, {j}] (the box has zero width in feature "
                f"{j}), got lower {self._lower[0, j]:g} and upper {self._upper[0, j]:g}"
            )
        box = float(np.log(self._upper - self._lower).sum())
        if self.fixed_volume is None and not np.isfinite(box):
            raise ValueError("the box's volume overflows float64: rescale the data")
        self._log_density = -(box if self.fixed_volume is None else np.log(self.fixed_volume))

    @classmethod
    def with_volume(cls, volume: float) -> type[UniformNoise]:
        """The noise family of density ``1 / volume`` everywhere, whatever the data's box.

        The class is named ``UniformNoise[volume=...]``; asking twice for the same value gives
        the same class, and saved models load it by that name. Its ``lower`` and ``upper`` are
        still the data's box, from which :meth:`sample` draws (a density constant everywhere
        cannot be sampled).

        Parameters
        ----------
        volume : float
            Positive, finite volume, in the data's units (the product of the feature ranges).
        """
        try:
            v = float(volume)
        except (TypeError, ValueError) as err:
            raise TypeError(f"volume must be a number, got {volume!r}") from err
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"volume must be positive and finite, got {volume!r}")
        from mixem.components.base import _REGISTRY

        name = f"UniformNoise[volume={v!r}]"
        key = f"{UniformNoise.__module__}.{name}"
        if key in _REGISTRY:
            return _REGISTRY[key]  # type: ignore[return-value]
        namespace = {
            "__qualname__": name,
            "__module__": UniformNoise.__module__,
            "__doc__": f"A noise component of density 1 / {v:g} everywhere.",
            "fixed_volume": v,
        }
        return type(name, (UniformNoise,), namespace)

    @classmethod
    def _variant(cls, config: str) -> type[Component]:
        key, _, value = config.partition("=")
        if cls is UniformNoise and key == "volume":
            return cls.with_volume(float(value))
        return super()._variant(config)

    @property
    def n_components(self) -> int:
        """Always 1: one background component per family."""
        return 1

    @property
    def n_features(self) -> int:
        """Number of features ``d``."""
        return self._lower.shape[1]

    @property
    def lower(self) -> np.ndarray:
        """The box's lower corner, shape ``(1, d)``."""
        return self._lower

    @property
    def upper(self) -> np.ndarray:
        """The box's upper corner, shape ``(1, d)``."""
        return self._upper

    @property
    def volume(self) -> float:
        """``V``: the density is ``1 / V`` (inside the box, unless the volume is fixed)."""
        return float(np.exp(-self._log_density))

    def params(self) -> dict[str, np.ndarray]:
        """Return ``{"lower": ..., "upper": ...}``."""
        return {"lower": self._lower, "upper": self._upper}

    def n_parameters(self) -> int:
        """0: the box is the data's, not estimated (the model counts the weight)."""
        return 0

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """``-log V`` for rows in the box (every row, for a fixed volume), ``-inf`` outside."""
        out = np.full((X.shape[0], 1), self._log_density)
        if self.fixed_volume is None:
            inside = ((X >= self._lower) & (X <= self._upper)).all(axis=1)
            out[~inside] = -np.inf
        return out

    @classmethod
    def statistics(cls, X: np.ndarray, resp: np.ndarray) -> BoxStats:
        """The box of every row passed, whatever the responsibilities (a start, see Notes)."""
        return BoxStats.from_data(X)

    def expected_statistics(self, X: np.ndarray, resp: np.ndarray) -> BoxStats:
        """The box of the rows with positive responsibility (see Notes)."""
        return BoxStats.from_data(X[resp[:, 0] > 0])

    @classmethod
    def from_statistics(cls, stats: BoxStats, *, reg_covar: float = 0.0) -> Self:
        """The box itself (``reg_covar`` does not apply)."""
        if not np.all(stats.upper >= stats.lower):
            raise ValueError("UniformNoise has no rows with positive responsibility")
        flat = np.flatnonzero(stats.upper[0] == stats.lower[0])
        if flat.size:
            raise ValueError(
                f"feature {int(flat[0])} is constant (every value {stats.lower[0, flat[0]]:g}); "
                "a uniform box has no volume in it: drop it"
            )
        return cls(stats.lower, stats.upper)

    @classmethod
    def min_count(cls, n_features: int) -> float:
        """0: the box needs no rows of its own, and the component is never re-seeded."""
        return 0.0

    @classmethod
    def check_data(cls, X: np.ndarray) -> None:
        """Reject constant features: the box would have no volume."""
        if X.shape[0] > 1:
            const = np.flatnonzero(np.ptp(X, axis=0) == 0)
            if const.size:
                raise ValueError(
                    f"X feature {int(const[0])} is constant (every value {X[0, const[0]]:g}); "
                    "a uniform noise box has no volume in it: drop it"
                )

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[0]`` rows uniformly from the box ``[lower, upper]``.

        Also for a fixed volume: a density that is constant everywhere cannot be sampled, and
        the data's box is where background rows were seen.
        """
        c = int(np.asarray(counts, dtype=int)[0])
        return rng.uniform(self._lower[0], self._upper[0], size=(c, self.n_features))
