"""mixem: finite mixture models fitted by expectation-maximisation.

>>> import mixem
>>> X = mixem.datasets.load_faithful()
>>> result = mixem.MixtureModel(mixem.GaussianFull, n_components=2, random_state=0).fit(X)
>>> result.n_components
2
"""

from mixem import datasets, testing
from mixem._io import load
from mixem._version import __version__
from mixem.components import (
    AdditiveStats,
    Bernoulli,
    Categorical,
    CategoricalStats,
    Component,
    Components,
    Exponential,
    Family,
    Gaussian,
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianStats,
    GaussianTied,
    Poisson,
    Product,
    Stats,
    StudentT,
    UniformNoise,
)
from mixem.em.trace import Trace
from mixem.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    FitError,
    ResultFileError,
)
from mixem.model import MixtureModel
from mixem.result import MixtureResult
from mixem.selection import SelectionResult, bootstrap_lrt, select

__all__ = [
    "AdditiveStats",
    "Bernoulli",
    "Categorical",
    "CategoricalStats",
    "Component",
    "Components",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "Exponential",
    "Family",
    "Gaussian",
    "FitError",
    "ResultFileError",
    "GaussianDiagonal",
    "GaussianFull",
    "GaussianSpherical",
    "GaussianStats",
    "GaussianTied",
    "MixtureModel",
    "MixtureResult",
    "Poisson",
    "Product",
    "SelectionResult",
    "Stats",
    "StudentT",
    "Trace",
    "UniformNoise",
    "__version__",
    "bootstrap_lrt",
    "datasets",
    "load",
    "select",
    "testing",
]
