"""Component families and the contract they implement."""

from mixem.components.base import Component, component_class
from mixem.components.gaussian import (
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.components.stats import AdditiveStats, GaussianStats, Stats

__all__ = [
    "AdditiveStats",
    "Component",
    "GaussianDiagonal",
    "GaussianFull",
    "GaussianSpherical",
    "GaussianStats",
    "GaussianTied",
    "Stats",
    "component_class",
]
