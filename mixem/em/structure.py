"""The structure of a mixture: which families, how many components of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mixem.components.family import Components, Family, as_family, family_name
from mixem.components.stats import Stats
from mixem.exceptions import FitError

__all__ = ["Start", "Structure"]

#: Starting parameters: mixing weights ``(K,)`` and one component stack per family.
Start = tuple[np.ndarray, tuple[Components, ...]]


@dataclass(frozen=True)
class Structure:
    """Families and their numbers of components; components are numbered in this order.

    Attributes
    ----------
    families : tuple of Component classes
    sizes : tuple of int
        Components of each family.
    """

    families: tuple[Family, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        # A Family class means its default instance, as everywhere in the public API.
        object.__setattr__(self, "families", tuple(as_family(f) for f in self.families))

    @property
    def n_components(self) -> int:
        """K, the number of components over all families."""
        return int(sum(self.sizes))

    @property
    def per_component(self) -> list[Family]:
        """The family of every one of the K components."""
        return [f for f, k in zip(self.families, self.sizes, strict=True) for _ in range(k)]

    def min_rows(self, n_features: int) -> float:
        """Fewest rows the K components need together."""
        return sum(
            f.min_rows(n_features, k) for f, k in zip(self.families, self.sizes, strict=True)
        )

    def start(self, nk: np.ndarray, stats: Sequence[Stats], reg_covar: float) -> Start:
        """Weights and components from initial statistics (one M-step)."""
        comps = []
        for cls, s in zip(self.families, stats, strict=True):
            try:
                comps.append(cls.from_statistics(s, reg_covar=reg_covar))
            except ValueError as err:
                raise FitError(
                    f"initial parameters of {family_name(cls)} are invalid: {err}"
                ) from err
        return nk / nk.sum(), tuple(comps)

    def __str__(self) -> str:
        return " + ".join(
            f"{family_name(f)} x{k}" for f, k in zip(self.families, self.sizes, strict=True)
        )
