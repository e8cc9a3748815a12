"""Run every script in examples/ and test the Poisson component written there."""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mixem
from mixem.testing import check_component

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
DOC_PAGES = sorted((ROOT / "docs").glob("*.rst"))


def _load_poisson():
    name = "mixem_example_poisson_component"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / "poisson_component.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # inspect.getsource needs the module registered
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def poisson():
    return _load_poisson()


def test_examples_exist():
    assert {p.name for p in SCRIPTS} >= {"poisson_component.py", "quickstart_faithful.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script, capsys, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("the script called plt.show"))
    plt.close("all")
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out  # every example reports something
    if script.name.startswith("plot_"):  # gallery scripts leave their figures open
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert figures and all(f.axes for f in figures)


def test_poisson_class_is_short(poisson):
    lines = inspect.getsource(poisson.PoissonFamily).splitlines()
    assert len(lines) < 60


def test_poisson_passes_check_component(poisson):
    rates = np.array([[0.5, 3.0, 12.0], [7.0, 1.5, 40.0]])
    comp = poisson.PoissonFamily().components(rates=rates)

    def oracle(X):
        return np.stack([stats.poisson.logpmf(X, r).sum(axis=1) for r in rates], axis=1)

    check_component(comp, oracle=oracle)
    check_component(comp, oracle=poisson.poisson_oracle(rates))


@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 3), (4, 2)])
def test_poisson_n_parameters(poisson, k, d):
    comp = poisson.PoissonFamily().components(rates=np.ones((k, d)))
    assert comp.n_parameters() == k * d
    assert (comp.n_components, comp.n_features) == (k, d)
    assert comp.params()["rates"].shape == (k, d)


@pytest.mark.parametrize(
    "rates", [[1.0, 2.0], [[1.0, 0.0]], [[1.0, -1.0]], [[np.nan, 1.0]], [[np.inf, 1.0]], [[]]]
)
def test_poisson_rejects_bad_rates(poisson, rates):
    with pytest.raises(ValueError, match="rates"):
        poisson.PoissonFamily().components(rates=rates)


def test_poisson_zero_rate_is_floored(poisson):
    X = np.array([[0.0, 3.0], [0.0, 5.0]])
    family = poisson.PoissonFamily()
    fitted = family.from_statistics(family.statistics(X, np.ones((2, 1))))
    assert fitted.params()["rates"][0, 0] == poisson.MIN_RATE
    assert np.all(np.isfinite(fitted.log_prob(X)))


TRUE_RATES = np.array([[1.0, 1.0], [8.0, 8.0], [25.0, 25.0]])
TRUE_WEIGHTS = np.array([0.2, 0.3, 0.5])


@pytest.fixture(scope="module")
def poisson_fit(poisson):
    rng = np.random.default_rng(0)
    counts = rng.multinomial(3000, TRUE_WEIGHTS)
    X = poisson.PoissonFamily().components(rates=TRUE_RATES).sample(counts, rng)
    model = mixem.MixtureModel(poisson.PoissonFamily, n_components=3, random_state=0)
    return X, model.fit(X)


def test_poisson_fit_recovers_parameters(poisson_fit):
    _, result = poisson_fit
    assert result.converged
    assert result.trace.monotone
    rates = result.components[0].params()["rates"]
    order = np.argsort(rates[:, 0])
    np.testing.assert_allclose(result.weights[order], TRUE_WEIGHTS, atol=0.03)
    np.testing.assert_allclose(rates[order], TRUE_RATES, rtol=0.10)
    assert result.n_parameters == 3 * 2 + 2


def test_poisson_fit_score_samples_matches_naive(poisson_fit):
    X, result = poisson_fit
    rates = result.components[0].params()["rates"]
    dens = np.stack([stats.poisson.pmf(X, r).prod(axis=1) for r in rates], axis=1)
    naive = np.log(dens @ result.weights)
    np.testing.assert_allclose(result.score_samples(X), naive, rtol=1e-10)
    assert result.loglik == pytest.approx(naive.sum(), rel=1e-10)


def test_poisson_result_saves_and_loads(poisson_fit, tmp_path):
    X, result = poisson_fit
    path = tmp_path / "poisson.npz"
    result.save(path)
    loaded = mixem.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), result.score_samples(X))


# ArviZ's diagnosis of influential rows in the leave-one-out examples; shown to readers as is.
@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning")
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values")
@pytest.mark.parametrize("page", DOC_PAGES, ids=[p.name for p in DOC_PAGES])
def test_doc_page_examples(page, monkeypatch):
    """The ``>>>`` examples in the docs run and print what the page says."""
    monkeypatch.syspath_prepend(str(EXAMPLES))  # writing_a_component imports poisson_component
    monkeypatch.delitem(sys.modules, "poisson_component", raising=False)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    outcome = doctest.testfile(
        str(page), module_relative=False, optionflags=flags, encoding="utf-8", verbose=False
    )
    sys.modules.pop("poisson_component", None)
    assert outcome.failed == 0, f"{outcome.failed} doctest example(s) failed in {page.name}"


GALLERY_SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))


def test_gallery_shows_every_plot_script():
    page = (ROOT / "docs" / "gallery.rst").read_text(encoding="utf-8")
    assert GALLERY_SCRIPTS
    for script in GALLERY_SCRIPTS:
        assert f".. plot:: ../examples/{script.name}" in page


def test_a_family_with_a_hyperparameter_fits_saves_loads_in_a_fresh_process(tmp_path):
    """The docs' negative binomial family: saved here, loaded and predicting in new processes."""
    import subprocess

    setup = f"import sys; sys.path.insert(0, {str(EXAMPLES)!r}); import numpy as np, mixem; "
    files = [str(tmp_path / name) for name in ("nb.npz", "X.npy", "proba.npy")]

    def python(code):
        return subprocess.run(
            [sys.executable, "-c", setup + code, *files], capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip

    fit = (
        "from negative_binomial_family import NegativeBinomial; "
        "f = NegativeBinomial(dispersion=2.0); "
        "X = f.components(means=[[2.0, 10.0], [15.0, 1.0]]).sample(np.array([300, 200]), "
        "np.random.default_rng(0)); np.save(sys.argv[2], X); "
        "r = mixem.MixtureModel(f, 2, random_state=0).fit(X); r.save(sys.argv[1]); "
        "np.save(sys.argv[3], r.predict_proba(X)); "
        "s = mixem.select(X, range(1, 4), components=[f], n_jobs=2, random_state=0, "
        "progress=False); print(s.best_key)"
    )
    run = python(fit)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "('NegativeBinomial(dispersion=2.0)', 2)"
    # A fresh process finds the family by its module's name: nothing imports it beforehand.
    run = python(
        "r = mixem.load(sys.argv[1]); X = np.load(sys.argv[2]); "
        "np.testing.assert_array_equal(r.predict_proba(X), np.load(sys.argv[3])); "
        "print(r.components[0].family)"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "NegativeBinomial(dispersion=2.0)"


def test_the_negative_binomial_family_passes_the_conformance_suite():
    name = "mixem_example_negative_binomial"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "negative_binomial_family.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve the annotations through it
    spec.loader.exec_module(module)
    family = module.NegativeBinomial(dispersion=2.0)
    comps = family.components(means=[[2.0, 10.0], [15.0, 1.0]])
    r = 2.0

    def oracle(X):
        return np.stack(
            [stats.nbinom.logpmf(X, r, r / (r + mu)).sum(axis=1) for mu in comps.means], axis=1
        )

    check_component(comps, oracle=oracle, recovery_tol=0.05)
