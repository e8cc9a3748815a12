"""``Gaussian(model)`` fitted by the engine, against R mclust 6 (tests/reference/mclust_models.R).

From mclust's own initial partition, with no regulariser and tight tolerances on both sides,
EM must reach mclust's log-likelihood, except where mixem's guard against degenerate
components re-seeds one (mclust has none: it runs on with a component of fewer rows than its
covariance needs) and for VVE, whose M-step in mclust does not maximise (see
test_covariance_models.py): there mixem's EM, started at mclust's converged parameters, climbs
above mclust's log-likelihood.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixem
from mixem.components.covariance_models import MODELS
from mixem.components.family import Components
from mixem.components.gaussian_models import Gaussian
from tests.components.test_covariance_models import (
    _array,
    data,
    mclust_covariances,
    reference,
)

#: Cells (dataset, model, K) where mclust converged but mixem re-seeded a component, at most.
MOST_RESEEDED = 12


def _fit(name: str, model: str, k: int, **start):
    entry = reference()["datasets"][name]
    X = data(name)
    if not start:
        start = {"resp": np.eye(k)[np.array(entry["partitions"][k - 1]) - 1]}
    fitter = mixem.MixtureModel(
        Gaussian(model, m_step_tol=1e-14), k, tol=1e-13, reg_covar=0.0, max_iter=200_000
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fitter.fit(X, init_params=start)
    return result, [w for w in caught if issubclass(w.category, mixem.DegenerateComponentWarning)]


CELLS = [(name, m) for name, entry in reference()["datasets"].items() for m in entry["models"]]
_reseeded: list[tuple[str, str, int]] = []


@pytest.mark.parametrize(("name", "m"), [c for c in CELLS if c[1] != "VVE"])
def test_em_from_mclusts_partition_reaches_mclusts_log_likelihood(name, m):
    for cell in reference()["datasets"][name]["fits"][m]:
        if cell["loglik"] is None:  # mclust failed (a singular covariance)
            continue
        result, reseeds = _fit(name, m, cell["K"])
        assert result.n_parameters == cell["n_parameters"]
        if reseeds:
            _reseeded.append((name, m, cell["K"]))
            continue
        assert result.converged
        assert result.loglik == pytest.approx(cell["loglik"], rel=1e-8), cell["K"]
    assert len(_reseeded) <= MOST_RESEEDED, _reseeded


@pytest.mark.parametrize("name", ["faithful", "iris", "banknote"])
def test_em_climbs_above_mclusts_vve_fixed_points(name):
    entry = reference()["datasets"][name]
    d = entry["d"]
    for cell in entry["fits"]["VVE"]:
        if cell["loglik"] is None or cell["K"] == 1:  # one component: no volumes to weigh
            continue
        k = cell["K"]
        params = cell["parameters"]
        start = {
            "weights": np.atleast_1d(np.asarray(params["pro"], dtype=float)),
            "means": _array(params["mean"]).reshape(d, k).T,
            "covariances": mclust_covariances(params, k, d),
        }
        result, _ = _fit(name, "VVE", k, **start)
        assert result.n_parameters == cell["n_parameters"]
        assert result.loglik > cell["loglik"] + 1e-6 * abs(cell["loglik"]), k


def test_families_are_values():
    assert Gaussian("VEV") == Gaussian("VEV")
    assert hash(Gaussian("VEV")) == hash(Gaussian("VEV"))
    assert Gaussian("VEV") != Gaussian("VEV", m_step_tol=1e-10)
    assert Gaussian("VEV").label == "VEV"
    assert Gaussian("VEV", m_step_max_iter=5).label == "VEV(m_step_max_iter=5)"
    assert Gaussian("VEV").description == (
        "VEV: variable volume, equal shape, variable orientation"
    )
    assert pickle.loads(pickle.dumps(Gaussian("EVE"))) == Gaussian("EVE")
    with pytest.raises(ValueError, match="model must be one of mclust's EII, VII"):
        Gaussian("XYZ")
    with pytest.raises(ValueError, match="m_step_max_iter must be a positive int"):
        Gaussian("VEV", m_step_max_iter=0)


@pytest.mark.parametrize("m", MODELS)
def test_every_model_fits_saves_and_loads(m, tmp_path):
    X = data("iris")
    result = mixem.MixtureModel(Gaussian(m), 3, random_state=0).fit(X)
    (comps,) = result.components
    assert isinstance(comps, Components) and comps.family == Gaussian(m)
    means, covs = comps.moments()
    assert covs.shape == (3, 4, 4)
    assert np.all(np.linalg.eigvalsh(covs) > 0)
    assert (
        Gaussian(m).covariance_model.violation(covs.diagonal(0, 1, 2) if m[2] == "I" else covs)
        < 1e-10
    )
    path = tmp_path / f"{m}.npz"
    result.save(path)
    loaded = mixem.load(path)
    assert loaded.components[0].family == Gaussian(m)
    np.testing.assert_array_equal(loaded.predict_proba(X), result.predict_proba(X))
    assert loaded.loglik == result.loglik


def test_the_four_classes_models_agree_with_them():
    X = data("faithful")
    resp = np.eye(3)[np.array(reference()["datasets"]["faithful"]["partitions"][2]) - 1]
    for m, cls in [
        ("VVV", mixem.GaussianFull),
        ("VVI", mixem.GaussianDiagonal),
        ("VII", mixem.GaussianSpherical),
        ("EEE", mixem.GaussianTied),
    ]:
        new = mixem.MixtureModel(Gaussian(m), 3, tol=1e-10).fit(X, init_params={"resp": resp})
        old = mixem.MixtureModel(cls, 3, tol=1e-10).fit(X, init_params={"resp": resp})
        assert new.loglik == pytest.approx(old.loglik, rel=1e-10), m
        assert new.n_parameters == old.n_parameters
        np.testing.assert_allclose(
            new.components[0].covariances, old.components[0].covariances, rtol=1e-6
        )


def test_parameters_outside_the_model_are_refused():
    X = data("faithful")
    model = mixem.MixtureModel(Gaussian("EEI"), 2)
    start = {"weights": [0.5, 0.5], "means": [[2.0, 55.0], [4.5, 80.0]]}
    with pytest.raises(ValueError, match="do not follow model EEI: equal volume, equal shape"):
        model.fit(X, init_params={**start, "covariances": [[0.1, 30.0], [0.2, 30.0]]})
    result = model.fit(X, init_params={**start, "covariances": [[0.1, 30.0], [0.1, 30.0]]})
    assert result.converged


def test_one_column_reduces_every_name_to_its_volume():
    X = data("galaxies")
    equal = mixem.MixtureModel(Gaussian("E"), 3, random_state=0).fit(X)
    for m in ("EII", "EEE", "EVV"):
        other = mixem.MixtureModel(Gaussian(m), 3, random_state=0).fit(X)
        assert other.loglik == pytest.approx(equal.loglik, rel=1e-9)
        assert other.n_parameters == equal.n_parameters == 3 + 2 + 1
    variable = mixem.MixtureModel(Gaussian("V"), 3, random_state=0).fit(X)
    assert mixem.MixtureModel(Gaussian("VEV"), 3, random_state=0).fit(X).loglik == (
        pytest.approx(variable.loglik, rel=1e-9)
    )
    with pytest.raises(ValueError, match="'E' is for one column; got 2 features"):
        mixem.MixtureModel(Gaussian("E"), 2).fit(data("faithful"))


def test_moments_serve_the_plots_and_diagnostics_of_every_model():
    import matplotlib.pyplot as plt

    from mixem.diagnostics import mahalanobis_sq

    X = data("iris")
    result = mixem.MixtureModel(Gaussian("VEV"), 2, random_state=0).fit(X)
    means, covs = result.components[0].moments()
    d2 = mahalanobis_sq(result, X)
    diff = X - means[1]
    np.testing.assert_allclose(
        d2[:, 1], np.einsum("ij,jk,ik->i", diff, np.linalg.inv(covs[1]), diff), rtol=1e-10
    )
    np.testing.assert_array_equal(result.means, means)
    assert result.covariances.shape == (2, 4, 4)
    result.plot.qq()
    result.plot.density()
    plt.close("all")
    assert "Mixture diagnostics" in str(result.diagnostics())
    data_ = result.to_arviz(draws=40, random_state=0)
    assert "means" in data_.posterior
    lrt = mixem.bootstrap_lrt(X, Gaussian("EEE"), 2, n_boot=3, random_state=0)
    assert lrt["p_value"].notna().all() and (lrt["status"] == "ok").all()


def _rotation(seed: int, d: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def true_components(m: str, d: int = 3) -> Components:
    """Two components of model ``m``, their volumes, shapes and orientations as it says."""
    scale = {"E": [1.5, 1.5], "V": [0.8, 2.5]}[m[0]]
    base = np.array([4.0, 1.0, 0.25])[:d]
    shapes = {"I": [np.ones(d)] * 2, "E": [base] * 2, "V": [base, base[::-1] ** 0.5]}[m[1]]
    shapes = [s / np.exp(np.log(s).mean()) for s in shapes]
    axes = {"I": [np.eye(d)] * 2, "E": [_rotation(0, d)] * 2}.get(
        m[2], [_rotation(0, d), _rotation(1, d)]
    )
    covs = np.stack([lam * (D * a) @ D.T for lam, a, D in zip(scale, shapes, axes, strict=True)])
    means = np.array([np.zeros(d), np.full(d, 6.0)])
    family = Gaussian(m)
    layout = family._layout
    stored = {
        "spherical": covs[:, 0, 0],
        "diagonal": covs.diagonal(0, 1, 2),
        "tied": covs[0],
        "full": covs,
    }[layout]
    return family.components(means=means, covariances=stored)


@pytest.mark.parametrize("m", MODELS)
def test_every_model_passes_the_conformance_suite(m):
    from scipy.stats import multivariate_normal

    from mixem.testing import check_component

    comps = true_components(m)
    means, covs = comps.moments()

    def oracle(X):
        return np.stack(
            [multivariate_normal(mu, c).logpdf(X) for mu, c in zip(means, covs, strict=True)],
            axis=1,
        )

    check_component(comps, oracle=oracle, recovery_tol=0.05)


@settings(max_examples=40, deadline=None)
@given(
    m=st.sampled_from(MODELS),
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 4),
)
def test_em_never_decreases_the_log_likelihood(m, seed, k):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3)) * rng.uniform(0.5, 3.0, size=3)
    X[:20] += rng.uniform(-4, 4, size=3)
    model = mixem.MixtureModel(
        Gaussian(m), k, reg_covar=0.0, max_iter=60, tol=0.0, init="kmeans++", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
        try:
            result = model.fit(X)  # a decrease is a RuntimeWarning: an error here
        except mixem.FitError:
            return  # every restart degenerate: nothing to check
    steps = np.diff(np.concatenate([[result.trace.initial_loglik], result.trace.loglik]))
    moved = result.trace.reseeded | result.trace.moved
    assert np.all(steps[~moved] >= -1e-9 * np.abs(result.trace.loglik[~moved]))
    assert np.isclose(result.weights.sum(), 1.0) and np.all(result.weights > 0)


def test_settings_given_as_numpy_numbers_are_the_same_family(tmp_path):
    family = Gaussian("VEV", m_step_tol=np.float64(1e-9), m_step_max_iter=np.int64(50))
    assert family == Gaussian("VEV", m_step_tol=1e-9, m_step_max_iter=50)
    assert family.label == "VEV(m_step_tol=1e-09, m_step_max_iter=50)"
    result = mixem.MixtureModel(family, 2, random_state=0).fit(data("faithful"))
    result.save(tmp_path / "f.npz")
    assert mixem.load(tmp_path / "f.npz").components[0].family == family
    with pytest.raises(ValueError, match="m_step_tol must be a non-negative number"):
        Gaussian("VEV", m_step_tol=True)


@pytest.mark.filterwarnings("ignore::mixem.DegenerateComponentWarning")
@pytest.mark.parametrize("m", MODELS)
def test_the_core_works_for_every_model(m, tmp_path):
    import dask.array as da
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    X = data("faithful")
    n, k = X.shape[0], 3
    resp = np.eye(k)[np.array(reference()["datasets"]["faithful"]["partitions"][k - 1]) - 1]
    model = mixem.MixtureModel(Gaussian(m), k, tol=1e-8)
    fit = model.fit(X, init_params={"resp": resp})
    # Sample weights are frequencies: weight 2 on every other row is those rows twice.
    w = np.where(np.arange(n) % 2 == 0, 2.0, 1.0)
    twice = np.repeat(np.arange(n), w.astype(int))
    weighted = model.fit(X, sample_weight=w, init_params={"resp": resp})
    repeated = model.fit(X[twice], init_params={"resp": resp[twice]})
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-9)
    assert weighted.bic == pytest.approx(repeated.bic, rel=1e-9)
    # Out of core and Dask: the same start gives the in-memory fit.
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    chunked = mixem.MixtureModel(Gaussian(m), k, tol=1e-8, chunk_size=50)
    on_disk = chunked.fit(
        np.memmap(path, dtype=np.float64, mode="r", shape=X.shape), init_params={"resp": resp}
    )
    lazy = chunked.fit(da.from_array(X, chunks=(100, 2)), init_params={"resp": resp})
    for other in (on_disk, lazy):
        assert other.n_iter == fit.n_iter
        assert other.loglik == pytest.approx(fit.loglik, rel=1e-10)
    # Restarts and the default search run, and count the model's parameters.
    searched = mixem.MixtureModel(Gaussian(m), k, n_init=2, random_state=0).fit(X)
    assert np.isfinite(searched.loglik) and searched.n_parameters == fit.n_parameters
    # Predictions, draws, criteria, standard errors, diagnostics, ellipses, ArviZ.
    assert fit.predict(X).shape == (n,)
    rows, labels = fit.sample(40, random_state=0)
    assert rows.shape == (40, 2) and labels.shape == (40,)
    assert fit.icl >= fit.bic
    table = fit.standard_errors(draws=12, random_state=0)
    assert np.isfinite(table["se"]).all() and (table["se"] > 0).all()
    assert "Mixture diagnostics" in str(fit.diagnostics(draws=0))
    ax = fit.plot.density()
    assert sum(isinstance(p, Ellipse) for p in ax.patches) == 2 * k
    plt.close("all")
    assert "means" in fit.to_arviz(draws=40, random_state=0).posterior
