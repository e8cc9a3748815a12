import os

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import mixem

matplotlib.use("Agg")  # tests draw figures; no display on CI

# CI runs a fixed, derandomised set of examples so that a run is reproducible; set
# MIXEM_HYPOTHESIS_PROFILE=thorough to explore many more.
settings.register_profile(
    "ci",
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("MIXEM_HYPOTHESIS_PROFILE", "ci"))


FAMILIES = [
    mixem.GaussianFull,
    mixem.GaussianDiagonal,
    mixem.GaussianSpherical,
    mixem.GaussianTied,
]
SKLEARN_TYPE = {
    mixem.GaussianFull: "full",
    mixem.GaussianDiagonal: "diag",
    mixem.GaussianSpherical: "spherical",
    mixem.GaussianTied: "tied",
}


def make_blobs(n=600, d=2, k=3, seed=0, spread=6.0):
    """Well-separated Gaussian clusters with random full covariances."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=spread, size=(k, d))
    X, labels = [], []
    for j in range(k):
        A = rng.normal(size=(d, d)) * 0.5
        cov = A @ A.T + 0.5 * np.eye(d)
        m = n // k
        X.append(rng.multivariate_normal(means[j], cov, size=m))
        labels.append(np.full(m, j))
    return np.concatenate(X), np.concatenate(labels)


def start_params(family, X, k, seed=1):
    """Reasonable starting parameters for ``family`` on ``X``, in scikit-learn's shapes."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    means = X[rng.choice(n, size=k, replace=False)]
    var = X.var(axis=0)
    weights = np.full(k, 1.0 / k)
    if family is mixem.GaussianFull:
        cov = np.stack(
            [
                np.diag(var * (1 + 0.1 * j))
                + 0.1 * np.sqrt(np.outer(var, var)) * (1 - np.eye(d)) * (j % 2)
                for j in range(k)
            ]
        )
    elif family is mixem.GaussianDiagonal:
        cov = np.stack([var * (1 + 0.2 * j) for j in range(k)])
    elif family is mixem.GaussianSpherical:
        cov = var.mean() * (1 + 0.2 * np.arange(k))
    else:
        cov = np.cov(X.T).reshape(d, d)
    return {"weights": weights, "means": means, "covariances": cov}


@pytest.fixture(params=FAMILIES, ids=lambda f: f.__name__)
def family(request):
    return request.param


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew, so figures do not pile up across the suite."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
