"""What the core promises every family, checked on Poisson, Bernoulli, Categorical, Exponential.

Restarts and every initialisation, sample weights, criteria, save/load, predict and sample, the
monotone EM property, and a clear error for rows no component can explain.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mixem
from mixem.em import SearchSettings
from mixem.model import INIT_CHOICES

# Two well-separated components of every family, weights 0.4 / 0.6.
TRUE = {
    "Poisson": mixem.Poisson().components(rates=[[1.0, 4.0, 0.5], [9.0, 0.5, 6.0]]),
    "Bernoulli": mixem.Bernoulli().components(
        probabilities=[[0.9, 0.8, 0.1, 0.2, 0.7], [0.1, 0.3, 0.9, 0.7, 0.2]]
    ),
    "Categorical": mixem.Categorical().components(
        probabilities=[
            [[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.8, 0.0], [0.5, 0.25, 0.15, 0.1]],
            [[0.1, 0.1, 0.8, 0.0], [0.6, 0.3, 0.1, 0.0], [0.05, 0.15, 0.3, 0.5]],
        ],
        n_levels=[3, 3, 4],
    ),
    "Exponential": mixem.Exponential().components(rates=[[1.0, 0.2], [12.0, 3.0]]),
}
FAMILIES = sorted(TRUE)
COUNTS = np.array([400, 600])


def data(name, seed=0, counts=COUNTS):
    """Rows drawn from ``TRUE[name]`` and their labels."""
    comp = TRUE[name]
    X = comp.sample(counts, np.random.default_rng(seed))
    return X, np.repeat(np.arange(len(counts)), counts)


def true_start(name):
    return {"weights": COUNTS / COUNTS.sum(), **TRUE[name].params()}


def fit(name, X, **kw):
    fit_kw = {k: kw.pop(k) for k in ("sample_weight", "init_params") if k in kw}
    return mixem.MixtureModel(TRUE[name].family, n_components=2, **kw).fit(X, **fit_kw)


def agreement(labels, truth):
    """Share of rows whose label matches the truth, up to swapping the two labels."""
    same = np.mean(labels == truth)
    return max(same, 1.0 - same)


@pytest.mark.parametrize("init", INIT_CHOICES)
@pytest.mark.parametrize("name", FAMILIES)
def test_every_init_finds_the_components(name, init):
    X, _ = data(name)
    res = fit(name, X, init=init, n_init=2, random_state=0)
    assert res.converged
    # EM reaches a maximum above the truth's likelihood, classifying rows as the truth does.
    truth = fit(name, X, init_params=true_start(name), max_iter=0)
    assert res.loglik >= truth.loglik
    assert agreement(res.predict(X), truth.predict(X)) > 0.95


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("Poisson", 2 * 3 + 1),  # K d + K - 1
        ("Bernoulli", 2 * 5 + 1),  # K d + K - 1
        ("Categorical", 2 * (2 + 2 + 3) + 1),  # K sum_j (L_j - 1) + K - 1
        ("Exponential", 2 * 2 + 1),  # K d + K - 1
    ],
)
def test_result_parameter_counts_and_criteria(name, count):
    X, _ = data(name)
    res = fit(name, X, init="kmeans++", random_state=0)
    assert res.n_parameters == count
    assert res.bic == pytest.approx(-2 * res.loglik + count * np.log(X.shape[0]), rel=1e-12)
    assert res.aic == pytest.approx(-2 * res.loglik + 2 * count, rel=1e-12)


@pytest.mark.parametrize("name", FAMILIES)
def test_integer_sample_weights_equal_repeated_rows(name):
    X, _ = data(name, counts=np.array([60, 90]))
    w = np.random.default_rng(3).integers(0, 4, size=X.shape[0])
    w[:2] = 1  # rows 0 and 1 stay whatever the draw
    weighted = fit(name, X, sample_weight=w, init_params=true_start(name), tol=1e-10)
    repeated = fit(name, np.repeat(X, w, axis=0), init_params=true_start(name), tol=1e-10)
    assert weighted.n_obs == repeated.n_obs == w.sum()
    assert weighted.n_iter == repeated.n_iter
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-10)
    np.testing.assert_allclose(weighted.weights, repeated.weights, rtol=1e-9)
    for key, value in repeated.components[0].params().items():
        np.testing.assert_allclose(weighted.components[0].params()[key], value, rtol=1e-9)


@pytest.mark.parametrize("name", FAMILIES)
def test_save_load_round_trip(name, tmp_path):
    X, _ = data(name)
    res = fit(name, X, init="kmeans++", random_state=0)
    path = tmp_path / f"{name}.npz"
    res.save(path)
    loaded = mixem.load(path)
    assert loaded.components[0].family == TRUE[name].family
    np.testing.assert_array_equal(loaded.score_samples(X), res.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), res.predict(X))
    assert loaded.n_parameters == res.n_parameters
    for key, value in res.components[0].params().items():
        np.testing.assert_array_equal(loaded.components[0].params()[key], value)


@pytest.mark.parametrize("name", FAMILIES)
def test_predict_proba_and_sample(name):
    X, labels = data(name)
    res = fit(name, X, init="kmeans++", random_state=0)
    proba = res.predict_proba(X[:50])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=1), res.predict(X[:50]))
    draws, drawn_labels = res.sample(500, random_state=1)
    assert draws.shape == (500, X.shape[1])
    TRUE[name].family.check_data(draws)  # every draw lies in the family's support
    assert np.all(np.isfinite(res.score_samples(draws)))
    assert set(np.unique(drawn_labels)) <= {0, 1}


@pytest.mark.parametrize("name", FAMILIES)
def test_n_init_restarts_are_reproducible(name):
    X, _ = data(name)
    a = fit(name, X, init="random", n_init=3, random_state=5)
    b = fit(name, X, init="random", n_init=3, random_state=5)
    assert a.loglik == b.loglik
    np.testing.assert_array_equal(a.weights, b.weights)


@st.composite
def problems(draw, name):
    """Data from a random two- or three-component model of the family, and a seed."""
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    m = draw(st.integers(10, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if name == "Poisson":
        comp = mixem.Poisson().components(rates=rng.uniform(0.0, 10.0, size=(k, d)))
    elif name == "Bernoulli":
        comp = mixem.Bernoulli().components(probabilities=rng.uniform(0.0, 1.0, size=(k, d)))
    elif name == "Exponential":
        comp = mixem.Exponential().components(rates=rng.uniform(0.1, 10.0, size=(k, d)))
    else:
        comp = mixem.Categorical().components(probabilities=rng.dirichlet(np.ones(3), size=(k, d)))
    X = comp.sample(np.full(k, m), rng)
    return X, k, seed


@pytest.mark.parametrize("name", FAMILIES)
@given(data=st.data())
def test_loglik_never_decreases(name, data):
    X, k, seed = data.draw(problems(name))
    k = min(k, np.unique(X, axis=0).shape[0])  # the model needs k distinct rows
    model = mixem.MixtureModel(
        TRUE[name].family, n_components=k, init="random", max_iter=30, tol=0.0, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mixem.ConvergenceWarning)
        warnings.simplefilter("ignore", mixem.DegenerateComponentWarning)
        res = model.fit(X)
    ll = np.concatenate([[res.trace.initial_loglik], res.trace.loglik])
    steps = np.diff(ll)[~res.trace.reseeded]
    assert np.all(steps >= -1e-9 * (1 + np.abs(ll[1:][~res.trace.reseeded])))
    np.testing.assert_allclose(res.loglik, res.score_samples(X).sum(), rtol=1e-12)


def test_row_impossible_under_every_component_is_a_clear_error():
    X, _ = data("Bernoulli")
    start = true_start("Bernoulli")
    start["probabilities"] = start["probabilities"].copy()
    start["probabilities"][:, 0] = 0.0  # a 1 in feature 0 is impossible in both components
    with pytest.raises(mixem.FitError, match="under every component; the components do not"):
        fit("Bernoulli", X, init_params=start)


def test_search_on_a_subsample_covers_rows_it_never_saw():
    """A feature whose only 1 is outside the search's subsample must not end the fit.

    The search's components give that 1 probability 0 everywhere; the fit starts instead from
    one M-step on all rows (engine fix: ``cover_all_rows``).
    """
    comp = mixem.Bernoulli().components(probabilities=[[0.9, 0.8, 0.0], [0.1, 0.3, 0.0]])
    X = comp.sample(np.array([100, 100]), np.random.default_rng(1))
    for seed in range(6):  # without the fix, most of these seeds fail
        Y = X.copy()
        Y[7 * seed, 2] = 1.0
        res = mixem.MixtureModel(
            mixem.Bernoulli, n_components=2, random_state=seed, search=SearchSettings(rows=50)
        ).fit(Y)
        assert np.isfinite(res.loglik)
        assert res.components[0].probabilities[:, 2].sum() > 0


@pytest.mark.parametrize("name", FAMILIES)
def test_chunked_fit_equals_one_chunk(name):
    """Statistics merge exactly: chunks of 7 rows (Categorical: of different widths) change
    nothing but rounding."""
    X, _ = data(name, counts=np.array([60, 90]))
    one = fit(name, X, init_params=true_start(name), tol=1e-10)
    chunked = fit(name, X, init_params=true_start(name), tol=1e-10, chunk_size=7)
    assert chunked.n_iter == one.n_iter
    assert chunked.loglik == pytest.approx(one.loglik, rel=1e-12)
    for key, value in one.components[0].params().items():
        np.testing.assert_allclose(chunked.components[0].params()[key], value, rtol=1e-10)


@pytest.mark.parametrize("name", FAMILIES)
def test_zero_weight_component_in_the_m_step_is_named(name):
    cls = TRUE[name].family
    X, _ = data(name, counts=np.array([5, 5]))
    resp = np.zeros((X.shape[0], 2))
    resp[:, 0] = 1.0
    with pytest.raises(ValueError, match="component 1 has zero total responsibility"):
        cls.from_statistics(cls.statistics(X, resp))


@pytest.mark.parametrize("init", INIT_CHOICES)
def test_constant_binary_columns_work_with_every_init(init):
    """Ward's start whitens the rows; constant columns have no variance to whiten."""
    X, _ = data("Bernoulli")
    X = np.column_stack([X, np.zeros(X.shape[0]), np.ones(X.shape[0])])
    res = mixem.MixtureModel(mixem.Bernoulli, n_components=2, init=init, random_state=0).fit(X)
    # Exactly 0 and 1: the weight and the column sums come from the same product.
    np.testing.assert_array_equal(res.components[0].probabilities[:, -2:], [[0, 1], [0, 1]])
    assert np.isfinite(res.loglik)


@pytest.mark.parametrize("name", FAMILIES)
def test_rows_of_zero_weight_may_lie_outside_the_support(name):
    """Fitting validates rows of positive weight only, so the engine must ignore the others
    (before the fix: a FitError saying that no component covers the row)."""
    X, _ = data(name, counts=np.array([60, 90]))
    w = np.ones(X.shape[0])
    w[0] = 0.0
    outside = X.copy()
    outside[0, 0] = -1.0  # impossible for every family
    kept = fit(name, X[1:], init_params=true_start(name))
    ignored = fit(name, outside, sample_weight=w, init_params=true_start(name))
    assert ignored.loglik == pytest.approx(kept.loglik, rel=1e-12)
    assert ignored.n_obs == kept.n_obs


def test_zero_weight_row_outside_the_support_with_the_default_search():
    """Split-and-merge (K >= 3) scores every row, zero-weight ones included."""
    X, _ = data("Poisson", counts=np.array([50, 50]))
    X = np.concatenate([X, TRUE["Poisson"].sample(np.array([0, 50]), np.random.default_rng(9)) * 3])
    X[0, 0] = -1.0
    w = np.ones(X.shape[0])
    w[0] = 0.0
    res = mixem.MixtureModel(mixem.Poisson, n_components=3, random_state=0).fit(X, sample_weight=w)
    assert np.isfinite(res.loglik)
