"""Component families and the contract they implement."""

from mixem.components.base import Component, component_class
from mixem.components.discrete import Bernoulli, Categorical, Poisson
from mixem.components.exponential import Exponential
from mixem.components.gaussian import (
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.components.stats import (
    AdditiveStats,
    CategoricalStats,
    GaussianStats,
    PooledGaussianStats,
    Stats,
)

__all__ = [
    "AdditiveStats",
    "Bernoulli",
    "Categorical",
    "CategoricalStats",
    "Component",
    "Exponential",
    "GaussianDiagonal",
    "GaussianFull",
    "GaussianSpherical",
    "GaussianStats",
    "GaussianTied",
    "Poisson",
    "PooledGaussianStats",
    "Stats",
    "component_class",
]
