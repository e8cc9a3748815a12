"""Component families and the contract they implement."""

from mixem.components.base import Component, component_class
from mixem.components.gaussian import (
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.components.stats import AdditiveStats, GaussianStats, PooledGaussianStats, Stats

__all__ = [
    "AdditiveStats",
    "Component",
    "GaussianDiagonal",
    "GaussianFull",
    "GaussianSpherical",
    "GaussianStats",
    "GaussianTied",
    "PooledGaussianStats",
    "Stats",
    "component_class",
]
