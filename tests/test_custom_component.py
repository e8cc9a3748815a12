"""A family with non-additive statistics and zero densities: a uniform box (min/max merges)."""

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

import mixem
from mixem.testing import check_component


class BoxStats(mixem.Stats):
    def __init__(self, weight, low, high):
        self.weight, self.low, self.high = (np.asarray(a, dtype=float) for a in (weight, low, high))

    def merge(self, other):
        return BoxStats(
            self.weight + other.weight,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )

    def arrays(self):
        return {"weight": self.weight, "low": self.low, "high": self.high}


@dataclasses.dataclass(frozen=True)
class UniformBox(mixem.Family):
    """Uniform on an axis-aligned box per component; the MLE box is the range of its rows."""

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "low": ("component", "feature"),
        "high": ("component", "feature"),
    }

    def log_prob(self, params, X):
        low, high = params.low, params.high
        inside = np.all((X[:, None, :] >= low) & (X[:, None, :] <= high), axis=2)
        return np.where(inside, -np.log(high - low).sum(axis=1), -np.inf)

    def statistics(self, X, resp, params=None):
        member = resp > 0
        low = np.where(member[:, :, None], X[:, None, :], np.inf).min(axis=0, initial=np.inf)
        high = np.where(member[:, :, None], X[:, None, :], -np.inf).max(axis=0, initial=-np.inf)
        return BoxStats(resp.sum(axis=0), low, high)

    def m_step(self, stats, *, reg_covar=0.0, previous=None):
        return {"low": stats.low, "high": stats.high}

    def n_parameters(self, params):
        return 2 * params.low.size

    def sample(self, params, counts, rng):
        low, high = params.low, params.high
        return np.concatenate(
            [rng.uniform(low[j], high[j], size=(c, low.shape[1])) for j, c in enumerate(counts)]
        )

    def check_params(self, arrays):
        arrays = super().check_params(arrays)
        if arrays["low"].shape != arrays["high"].shape or np.any(arrays["high"] <= arrays["low"]):
            raise ValueError("low and high must have equal shapes (k, d) with high > low")
        return arrays


# The same family on the first contract (deprecated), which fits through its adapter.
with pytest.warns(DeprecationWarning, match="LegacyBox subclasses mixem.Component"):

    class LegacyBox(mixem.Component):
        """Uniform on an axis-aligned box per component; the MLE box is the range of its rows."""

        param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
            "low": ("component", "feature"),
            "high": ("component", "feature"),
        }

        def __init__(self, low, high):
            self.low, self.high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
            if self.low.shape != self.high.shape or np.any(self.high <= self.low):
                raise ValueError("low and high must have equal shapes (k, d) with high > low")

        n_components = property(lambda self: self.low.shape[0])
        n_features = property(lambda self: self.low.shape[1])

        def log_prob(self, X):
            inside = np.all((X[:, None, :] >= self.low) & (X[:, None, :] <= self.high), axis=2)
            log_volume = np.log(self.high - self.low).sum(axis=1)
            return np.where(inside, -log_volume, -np.inf)

        @classmethod
        def statistics(cls, X, resp):
            member = resp > 0
            low = np.where(member[:, :, None], X[:, None, :], np.inf).min(axis=0, initial=np.inf)
            high = np.where(member[:, :, None], X[:, None, :], -np.inf).max(axis=0, initial=-np.inf)
            return BoxStats(resp.sum(axis=0), low, high)

        @classmethod
        def from_statistics(cls, stats, *, reg_covar=0.0):
            return cls(stats.low, stats.high)

        def n_parameters(self):
            return 2 * self.low.size

        def sample(self, counts, rng):
            return np.concatenate(
                [
                    rng.uniform(self.low[j], self.high[j], size=(c, self.n_features))
                    for j, c in enumerate(counts)
                ]
            )

        def params(self):
            return {"low": self.low, "high": self.high}


BOXES = [UniformBox, LegacyBox]


def _box(family, low, high):
    return mixem.components.family.as_family(family).components(low=low, high=high)


@pytest.mark.parametrize("family", BOXES, ids=lambda f: f.__name__)
def test_box_passes_the_conformance_suite(family):
    box = _box(family, [[0.0, 0.0], [5.0, -1.0]], [[1.0, 2.0], [9.0, 1.0]])
    # The recovered box of a large sample sits just inside the true one.
    check_component(box, oracle=lambda X: box.log_prob(X), recovery_tol=0.01)


@pytest.mark.parametrize("family", BOXES, ids=lambda f: f.__name__)
def test_gaussian_plus_uniform_background(tmp_path, family):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal([3, 3], 0.3, (300, 2)), rng.uniform(0, 10, (100, 2))])
    model = mixem.MixtureModel([mixem.GaussianFull, family], n_components=[1, 1])
    start = {
        "weights": [0.5, 0.5],
        "components": [
            {"means": [[2.0, 2.0]], "covariances": [np.eye(2)]},
            {"low": X.min(axis=0)[None], "high": X.max(axis=0)[None]},
        ],
    }
    res = model.fit(X, init_params=start)
    assert res.n_parameters == 5 + 4 + 1
    np.testing.assert_allclose(res.weights, [0.75, 0.25], atol=0.03)
    np.testing.assert_allclose(res.components[0].means[0], [3, 3], atol=0.06)
    assert np.isfinite(res.icl)
    proba = res.predict_proba(np.array([[3.0, 3.0], [20.0, 20.0]]))
    assert proba[1, 1] == 0.0 and proba[1, 0] == 1.0  # outside the box: only the Gaussian
    res.save(tmp_path / "box.npz")
    np.testing.assert_array_equal(mixem.load(tmp_path / "box.npz").predict(X), res.predict(X))


@pytest.mark.parametrize("family", BOXES, ids=lambda f: f.__name__)
def test_rows_without_density_are_an_error_not_nan(family):
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (50, 2))
    res = mixem.MixtureModel(family, 1, random_state=0).fit(X)
    assert res.score_samples(np.array([[5.0, 5.0]]))[0] == -np.inf
    with pytest.raises(ValueError, match="density zero under every component"):
        res.predict_proba(np.array([[0.5, 0.5], [5.0, 5.0]]))
    with pytest.raises(ValueError, match="density zero under every component"):
        res.predict(np.array([[5.0, 5.0]]))


def test_defining_a_component_class_warns_at_its_class_statement():
    # The warning points at the user's class statement, so Python's default filters show it
    # for classes defined in a script.
    with pytest.warns(DeprecationWarning, match="Old subclasses mixem.Component") as caught:

        class Old(mixem.Component):
            pass

    assert caught[0].filename == __file__


@dataclasses.dataclass(frozen=True)
class SharedScale(mixem.Family):
    """Independent normal columns of one shared scale per column, listed before the means."""

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {
        "scale": ("feature",),
        "means": ("component", "feature"),
    }

    def log_prob(self, params, X):
        z = (X[:, None, :] - params.means[None]) / params.scale
        return (-0.5 * z**2 - np.log(params.scale) - 0.5 * np.log(2 * np.pi)).sum(axis=2)

    def statistics(self, X, resp, params=None):
        return mixem.GaussianStats.from_data(X, resp, full=False)

    def m_step(self, stats, *, reg_covar=0.0, previous=None):
        pooled = stats.scatter.sum(axis=0) / stats.weight.sum()
        return {"scale": np.sqrt(pooled + reg_covar), "means": np.array(stats.mean)}

    def n_parameters(self, params):
        return params.means.size + params.scale.size


def test_an_array_shared_by_the_components_may_come_first():
    comps = SharedScale().components(scale=[1.0, 2.0], means=np.zeros((3, 2)))
    assert (comps.n_components, comps.n_features) == (3, 2)
    with pytest.raises(ValueError, match="extra describes 3 components, the others 2"):
        SharedScale().components(scale=[1.0, 2.0], means=np.zeros((2, 2)), extra=np.zeros((3, 2)))
    # Its fit is the tied diagonal Gaussian's with equal scales per column (mclust's EEI):
    X = mixem.datasets.load_faithful().to_numpy()
    rng = np.random.default_rng(0)
    resp = rng.dirichlet(np.ones(3), X.shape[0])
    ours = mixem.MixtureModel(SharedScale(), 3, tol=1e-10).fit(X, init_params={"resp": resp})
    eei = mixem.MixtureModel(mixem.Gaussian("EEI"), 3, tol=1e-10).fit(X, init_params={"resp": resp})
    assert ours.loglik == pytest.approx(eei.loglik, rel=1e-9)
    assert ours.n_parameters == eei.n_parameters


def test_a_family_that_is_not_a_frozen_dataclass_is_refused():
    class Configured(mixem.Poisson):  # no @dataclass: its settings would not be compared
        def __init__(self, scale):
            self.scale = scale

    with pytest.raises(TypeError, match="must be a frozen dataclass"):
        Configured(2.0)


def test_a_product_takes_its_parts_as_lists():
    listed = mixem.Product([mixem.GaussianDiagonal(), [0, 1]], [mixem.Poisson(), [2]])
    assert listed == mixem.Product((mixem.GaussianDiagonal(), (0, 1)), (mixem.Poisson(), (2,)))


def test_a_legacy_class_keeps_its_moments_and_the_diagnostics_that_need_them():
    with pytest.warns(DeprecationWarning):

        class Spherical(mixem.Component):
            def __init__(self, means, variances):
                self.means, self.variances = np.asarray(means), np.asarray(variances)

            n_components = property(lambda self: self.means.shape[0])
            n_features = property(lambda self: self.means.shape[1])

            def log_prob(self, X):
                d2 = ((X[:, None, :] - self.means) ** 2).sum(axis=2) / self.variances
                d = self.n_features
                return -0.5 * (d2 + d * np.log(2 * np.pi * self.variances))

            @classmethod
            def statistics(cls, X, resp):
                return mixem.GaussianStats.from_data(X, resp, full=False)

            @classmethod
            def from_statistics(cls, stats, *, reg_covar=0.0):
                var = stats.scatter.sum(axis=1) / (stats.weight * stats.mean.shape[1])
                return cls(np.array(stats.mean), var + reg_covar)

            def n_parameters(self):
                return self.means.size + self.variances.size

            def sample(self, counts, rng):
                rows = [
                    rng.normal(m, np.sqrt(v), (c, m.size))
                    for m, v, c in zip(self.means, self.variances, counts, strict=True)
                ]
                return np.concatenate(rows)

            def params(self):
                return {"means": self.means, "variances": self.variances}

            def moments(self):
                d = self.n_features
                return self.means, self.variances[:, None, None] * np.eye(d)

    X = mixem.datasets.load_faithful().to_numpy()
    resp = np.random.default_rng(1).dirichlet(np.ones(2), X.shape[0])
    old = mixem.MixtureModel(Spherical, 2, tol=1e-10).fit(X, init_params={"resp": resp})
    vii = mixem.MixtureModel(mixem.GaussianSpherical, 2, tol=1e-10).fit(
        X, init_params={"resp": resp}
    )
    assert old.loglik == pytest.approx(vii.loglik, rel=1e-9)
    report = old.diagnostics(draws=0)
    np.testing.assert_allclose(
        report.normality["statistic"], vii.diagnostics(draws=0).normality["statistic"], rtol=1e-6
    )
