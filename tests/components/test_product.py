"""mixem.Product: column groups of different families under local independence."""

import pickle

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import mixem
from mixem.model import INIT_CHOICES
from mixem.testing import check_component

# Gaussian columns 0 and 2, counts in column 1, binary columns 3 and 4: parts need not be
# contiguous.
MIXED = mixem.Product.of(
    (mixem.GaussianDiagonal, [0, 2]), (mixem.Poisson, [1]), (mixem.Bernoulli, [3, 4])
)
PARTS = (
    mixem.GaussianDiagonal().components(
        means=[[0.0, 0.0], [3.0, 2.0]], covariances=[[1.0, 2.0], [0.5, 1.0]]
    ),
    mixem.Poisson().components(rates=[[1.0], [6.0]]),
    mixem.Bernoulli().components(probabilities=[[0.2, 0.9], [0.7, 0.1]]),
)
TRUE = MIXED.components(
    part0_means=PARTS[0].means,
    part0_covariances=PARTS[0].covariances,
    part1_rates=PARTS[1].rates,
    part2_probabilities=PARTS[2].probabilities,
)
COUNTS = np.array([600, 400])


def _data(seed=0, counts=COUNTS):
    return TRUE.sample(counts, np.random.default_rng(seed))


def _start():
    return {"weights": COUNTS / COUNTS.sum(), **TRUE.params()}


def test_check_component():
    check_component(TRUE)


def test_check_component_with_parameter_dependent_part():
    family = mixem.Product.of((mixem.StudentT, [1, 2]), (mixem.Poisson, [0]))
    comp = family.components(
        part0_means=[[0.0, 0.0], [4.0, 1.0]],
        part0_covariances=[np.eye(2), [[2.0, 0.5], [0.5, 1.0]]],
        part0_dof=[4.0, 9.0],
        part1_rates=[[2.0], [7.0]],
    )
    check_component(comp)


def test_log_density_is_the_sum_of_the_parts():
    X = _data()
    X[0, 1] = -1.0  # impossible for the Poisson part: -inf for the product too
    expected = (
        PARTS[0].log_prob(X[:, [0, 2]]) + PARTS[1].log_prob(X[:, [1]]) + PARTS[2].log_prob(X[:, 3:])
    )
    got = TRUE.log_prob(X)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12, atol=1e-12)


def test_m_step_is_each_parts_m_step():
    X = _data()
    resp = np.random.default_rng(1).dirichlet(np.ones(2), size=X.shape[0])
    fitted = MIXED.from_statistics(MIXED.statistics(X, resp), reg_covar=1e-6)
    for part, (family, cols) in zip(fitted.components, MIXED.parts, strict=True):
        alone = family.from_statistics(family.statistics(X[:, list(cols)], resp), reg_covar=1e-6)
        for key, value in alone.params().items():
            np.testing.assert_array_equal(part.params()[key], value)


def test_class_attributes_and_parameter_count():
    assert MIXED == mixem.Product.of(
        (mixem.GaussianDiagonal, [0, 2]), (mixem.Poisson, [1]), (mixem.Bernoulli, [3, 4])
    )
    assert not MIXED.discrete
    assert mixem.Product.of((mixem.Poisson, [0]), (mixem.Bernoulli, [1])).discrete
    assert MIXED.start_smoothing == mixem.Poisson.start_smoothing
    assert MIXED.min_count(5) == 2.0  # GaussianDiagonal's
    assert TRUE.n_parameters() == 2 * 2 * 2 + 2 * 1 + 2 * 2  # the parts' sum
    assert TRUE.n_features == 5 and TRUE.n_components == 2


def test_fit_recovers_parameters_within_statistical_error():
    X = _data(2)
    res = mixem.MixtureModel(MIXED, 2, random_state=0).fit(X)
    assert res.n_parameters == TRUE.n_parameters() + 1
    order = np.argsort(res.components[0].components[1].rates[:, 0])
    n = COUNTS[:, None]
    gauss, poisson, binary = (part for part in res.components[0].components)
    var = PARTS[0].covariances
    assert np.all(np.abs(gauss.means[order] - PARTS[0].means) < 4 * np.sqrt(var / n))
    assert np.all(np.abs(gauss.covariances[order] - var) < 4 * var * np.sqrt(2 / n))
    rates = PARTS[1].rates
    assert np.all(np.abs(poisson.rates[order] - rates) < 4 * np.sqrt(rates / n))
    p = PARTS[2].probabilities
    assert np.all(np.abs(binary.probabilities[order] - p) < 4 * np.sqrt(p * (1 - p) / n))
    w = COUNTS / COUNTS.sum()
    assert np.all(np.abs(res.weights[order] - w) < 4 * np.sqrt(w * (1 - w) / COUNTS.sum()))


@pytest.mark.parametrize("init", INIT_CHOICES)
def test_every_init_finds_the_components(init):
    X = _data()
    res = mixem.MixtureModel(MIXED, 2, init=init, n_init=2, random_state=0).fit(X)
    truth = mixem.MixtureModel(MIXED, 2, max_iter=0).fit(X, init_params=_start())
    assert res.converged
    assert res.loglik >= truth.loglik
    assert adjusted_rand_score(truth.predict(X), res.predict(X)) > 0.9


def test_integer_sample_weights_equal_repeated_rows_and_chunks_change_nothing():
    X = _data(counts=np.array([60, 90]))
    w = np.random.default_rng(3).integers(0, 4, size=X.shape[0])
    w[:2] = 1
    model = mixem.MixtureModel(MIXED, 2, tol=1e-10)
    weighted = model.fit(X, sample_weight=w, init_params=_start())
    repeated = model.fit(np.repeat(X, w, axis=0), init_params=_start())
    chunked = mixem.MixtureModel(MIXED, 2, tol=1e-10, chunk_size=7).fit(
        X, sample_weight=w, init_params=_start()
    )
    assert weighted.n_iter == repeated.n_iter == chunked.n_iter
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-10)
    assert chunked.loglik == pytest.approx(weighted.loglik, rel=1e-12)
    for key, value in repeated.components[0].params().items():
        np.testing.assert_allclose(weighted.components[0].params()[key], value, rtol=1e-8)
        np.testing.assert_allclose(chunked.components[0].params()[key], value, rtol=1e-8)


def test_save_load_predict_sample(tmp_path):
    X = _data()
    res = mixem.MixtureModel(MIXED, 2, init="kmeans++", random_state=0).fit(X)
    path = tmp_path / "product.npz"
    res.save(path)
    loaded = mixem.load(path)
    assert loaded.components[0].family == MIXED
    np.testing.assert_array_equal(loaded.score_samples(X), res.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), res.predict(X))
    assert loaded.n_parameters == res.n_parameters
    draws, labels = res.sample(300, random_state=1)
    assert draws.shape == (300, 5)
    MIXED.check_data(draws)  # every column in its part's support
    assert np.all(np.isfinite(res.score_samples(draws)))


def test_restarts_are_reproducible():
    X = _data()
    a, b = (
        mixem.MixtureModel(MIXED, 2, init="random", n_init=3, random_state=5).fit(X)
        for _ in range(2)
    )
    assert a.loglik == b.loglik


def test_fit_with_a_parameter_dependent_part():
    """A StudentT part gets its E-step statistics at its current parameters inside a product."""
    family = mixem.Product.of((mixem.StudentT, [0, 1]), (mixem.Poisson, [2]))
    true = family.components(
        part0_means=[[0.0, 0.0], [5.0, 1.0]],
        part0_covariances=[np.eye(2), [[2.0, 0.5], [0.5, 1.0]]],
        part0_dof=[4.0, 9.0],
        part1_rates=[[2.0], [7.0]],
    )
    X = true.sample(np.array([300, 300]), np.random.default_rng(8))
    res = mixem.MixtureModel(family, 2, init="kmeans++", reg_covar=0.0, random_state=0).fit(X)
    assert res.trace.monotone
    t = res.components[0].components[0]
    assert np.all(np.abs(np.sort(t.dof) - [4.0, 9.0]) < [2.0, 6.0])


@pytest.mark.parametrize(
    ("parts", "error", "match"),
    [
        (((mixem.Poisson, [0, 1]), (mixem.Bernoulli, [1])), ValueError, "column 1 is in part 0"),
        (((mixem.Poisson, [0]), (mixem.Bernoulli, [2])), ValueError, r"missing \[1\]"),
        (((mixem.Poisson, [0, -1]),), ValueError, "non-negative integers"),
        (((mixem.Poisson, [0.5]),), ValueError, "non-negative integers"),
        (((mixem.Poisson, []),), ValueError, "has no columns"),
        (((np.mean, [0]),), TypeError, "must be a family"),
        (((mixem.Poisson,),), TypeError, r"\(family, columns\) pair"),
        ((), ValueError, "at least one"),
    ],
)
def test_bad_parts_are_named(parts, error, match):
    with pytest.raises(error, match=match):
        mixem.Product.of(*parts)


def test_bad_data_and_parameters_are_named():
    X = _data()
    X[5, 1] = -2.0
    with pytest.raises(ValueError, match=r"part 1 \(Poisson\) on X columns \[1\]"):
        mixem.MixtureModel(MIXED, 2).fit(X)
    with pytest.raises(ValueError, match="models 5 columns, X has 4"):
        mixem.MixtureModel(MIXED, 2).fit(_data()[:, :4])
    with pytest.raises(TypeError, match="unexpected parameter 'rates'"):
        MIXED.components(rates=[[1.0]])
    with pytest.raises(ValueError, match=r"part 1 \(Poisson\): rates\[0\] must lie"):
        MIXED.components(**{**TRUE.params(), "part1_rates": [[-1.0], [2.0]]})
    with pytest.raises(ValueError, match="different numbers of components"):
        MIXED.components(**{**TRUE.params(), "part1_rates": [[1.0], [2.0], [3.0]]})
    with pytest.raises(TypeError, match=r"pass a family value such as Product\(\.\.\.\)"):
        mixem.MixtureModel(mixem.Product, 2).fit(X)


def test_families_and_their_components_pickle_as_values():
    """Process pools (select with n_jobs > 1) pickle families and fitted components."""
    for family in (MIXED, mixem.StudentT.with_dof(4.0), mixem.UniformNoise.with_volume(2.0)):
        assert pickle.loads(pickle.dumps(family)) == family
    copy = pickle.loads(pickle.dumps(TRUE))
    assert copy.family == MIXED
    for key, value in TRUE.params().items():
        np.testing.assert_array_equal(copy.params()[key], value)
