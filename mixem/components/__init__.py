"""Component families and the contract they implement."""

from mixem.components.base import Component, component_class
from mixem.components.discrete import Bernoulli, Categorical, Poisson
from mixem.components.exponential import Exponential
from mixem.components.family import Components, Family
from mixem.components.gaussian_models import (
    Gaussian,
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.components.noise import BoxStats, UniformNoise
from mixem.components.product import Product, ProductStats
from mixem.components.stats import (
    AdditiveStats,
    CategoricalStats,
    GaussianStats,
    PooledGaussianStats,
    Stats,
)
from mixem.components.student_t import StudentT, StudentTStats

__all__ = [
    "AdditiveStats",
    "Bernoulli",
    "BoxStats",
    "Categorical",
    "CategoricalStats",
    "Component",
    "Components",
    "Exponential",
    "Family",
    "Gaussian",
    "GaussianDiagonal",
    "GaussianFull",
    "GaussianSpherical",
    "GaussianStats",
    "GaussianTied",
    "Poisson",
    "PooledGaussianStats",
    "Product",
    "ProductStats",
    "Stats",
    "StudentT",
    "StudentTStats",
    "UniformNoise",
    "component_class",
]
