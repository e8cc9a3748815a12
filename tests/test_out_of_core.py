"""Out-of-core fits: memmaps, HDF5 datasets and zarr arrays give the in-memory fit's answer."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import zarr
from hypothesis import given
from hypothesis import strategies as st

import mixem
from mixem import _sources
from mixem.em import SearchSettings

from .conftest import FAMILIES, make_blobs, start_params

K = 3


@pytest.fixture(scope="module")
def data():
    X, _ = make_blobs(n=900, d=3, k=K, seed=0)
    return X


def write_memmap(path, X, dtype=np.float64):
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(path, dtype=dtype, mode="r", shape=X.shape)


@pytest.fixture(scope="module")
def sources(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    memmap = write_memmap(tmp / "x.dat", data)
    with h5py.File(tmp / "x.h5", "w") as f:
        f.create_dataset("x", data=data, chunks=(64, data.shape[1]))
    handle = h5py.File(tmp / "x.h5", "r")
    store = zarr.create_array(
        store=str(tmp / "x.zarr"), shape=data.shape, chunks=(77, 3), dtype="f8"
    )
    store[:] = data
    yield {"memmap": memmap, "hdf5": handle["x"], "zarr": store}
    handle.close()


def assert_same_fit(result, reference, rtol=1e-10):
    assert result.n_iter == reference.n_iter
    assert result.loglik == pytest.approx(reference.loglik, rel=rtol)
    np.testing.assert_allclose(result.weights, reference.weights, rtol=rtol)
    for a, b in zip(result.components, reference.components, strict=True):
        for name, value in b.params().items():
            scale = np.abs(value).max()
            np.testing.assert_allclose(a.params()[name], value, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("kind", ["memmap", "hdf5", "zarr"])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_same_start_same_fit_on_every_source(family, kind, data, sources):
    start = start_params(family, data, K)
    reference = mixem.MixtureModel(family, K).fit(data, init_params=start)
    result = mixem.MixtureModel(family, K, chunk_size=200).fit(sources[kind], init_params=start)
    assert_same_fit(result, reference)
    assert result.trace.rows == data.shape[0]
    assert np.all(result.trace.rows_per_second > 0)


# Ten EM iterations from a fixed start are enough to compare every pass; the fits stop short.
SHORT = {"max_iter": 10}
short_fits = pytest.mark.filterwarnings("ignore::mixem.ConvergenceWarning")


@short_fits
@given(chunk=st.integers(min_value=1, max_value=950))
def test_any_chunking_gives_the_same_fit(chunk, data, sources):
    # Chunks from a single row (fewer than K) to more than all rows; most leave a short last one.
    start = start_params(mixem.GaussianFull, data, K)
    reference = mixem.MixtureModel(mixem.GaussianFull, K, **SHORT).fit(data, init_params=start)
    model = mixem.MixtureModel(mixem.GaussianFull, K, chunk_size=chunk, **SHORT)
    assert_same_fit(model.fit(sources["memmap"], init_params=start), reference)


@short_fits
@pytest.mark.parametrize("chunk", [2, 63, 64, 65, 899])
def test_hdf5_and_zarr_with_chunks_across_their_storage_chunks(chunk, data, sources):
    # Chunks of 2 rows (fewer than K) cost a read each: fewer passes over fewer rows.
    rows = slice(0, 300) if chunk < 10 else slice(None)
    settings = {"max_iter": 3} if chunk < 10 else SHORT
    start = start_params(mixem.GaussianDiagonal, data[rows], K)
    reference = mixem.MixtureModel(mixem.GaussianDiagonal, K, **settings).fit(
        data[rows], init_params=start
    )
    model = mixem.MixtureModel(mixem.GaussianDiagonal, K, chunk_size=chunk, **settings)
    for kind in ("hdf5", "zarr"):
        assert_same_fit(model.fit(sources[kind][rows], init_params=start), reference)


def test_predictions_read_chunk_by_chunk(data, sources):
    result = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0).fit(data)
    for source in sources.values():
        np.testing.assert_allclose(result.score_samples(source), result.score_samples(data))
        np.testing.assert_allclose(result.predict_proba(source), result.predict_proba(data))
        np.testing.assert_array_equal(result.predict(source), result.predict(data))
        assert result.score(source) == pytest.approx(result.score(data), rel=1e-12)


def test_a_view_of_a_memmap_and_other_dtypes(data, tmp_path):
    memmap = write_memmap(tmp_path / "x.dat", data)
    start = start_params(mixem.GaussianFull, data[100:700], K)
    reference = mixem.MixtureModel(mixem.GaussianFull, K).fit(data[100:700], init_params=start)
    view = memmap[100:700]  # read from its own offset in the file
    assert_same_fit(
        mixem.MixtureModel(mixem.GaussianFull, K).fit(view, init_params=start), reference
    )
    single = write_memmap(tmp_path / "x32.dat", data, dtype=np.float32)
    as_float = mixem.MixtureModel(mixem.GaussianFull, K).fit(
        single.astype(np.float64), init_params=start_params(mixem.GaussianFull, data, K)
    )
    chunked = mixem.MixtureModel(mixem.GaussianFull, K).fit(
        single, init_params=start_params(mixem.GaussianFull, data, K)
    )
    assert_same_fit(chunked, as_float)


def test_default_start_is_searched_on_a_subsample(data, sources):
    model = mixem.MixtureModel(
        mixem.GaussianFull, K, random_state=0, tol=1e-10, search=SearchSettings(rows=300)
    )
    in_memory = model.fit(data)
    chunked = model.fit(sources["memmap"])
    assert chunked.converged
    assert chunked.loglik == pytest.approx(in_memory.loglik, rel=1e-9)  # the same maximum
    assert chunked._training is None  # the rows stay on disk


def test_bad_rows_on_disk_are_named(data, tmp_path):
    bad = data.copy()
    bad[777, 1] = np.nan
    memmap = write_memmap(tmp_path / "bad.dat", bad)
    with pytest.raises(ValueError, match="NaN at row 777, column 1"):
        mixem.MixtureModel(mixem.GaussianFull, K).fit(memmap)
    constant = data.copy()
    constant[:, 2] = 5.0
    with pytest.raises(ValueError, match="feature 2 is constant"):
        mixem.MixtureModel(mixem.GaussianFull, K).fit(write_memmap(tmp_path / "c.dat", constant))
    result = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0).fit(data)
    with pytest.raises(ValueError, match="has 2 features"):
        result.predict(write_memmap(tmp_path / "two.dat", data[:, :2]))


def test_trace_rows_survive_saving(data, tmp_path):
    result = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0).fit(data)
    result.save(tmp_path / "m.npz")
    loaded = mixem.load(tmp_path / "m.npz")
    assert loaded.trace.rows == result.trace.rows == data.shape[0]
    np.testing.assert_array_equal(loaded.trace.rows_per_second, result.trace.rows_per_second)
    assert "rows_per_second" in result.trace.to_dataframe()


def test_long_passes_show_a_progress_bar(data, sources, monkeypatch):
    bars = []

    class Bar:
        def __init__(self, total, **kwargs):
            self.total, self.done, self.closed = total, 0, False
            bars.append(self)

        def update(self, rows):
            self.done += rows

        def close(self):
            self.closed = True

    monkeypatch.setattr(_sources, "PROGRESS_ROWS", 500)
    monkeypatch.setattr("tqdm.auto.tqdm", Bar)
    start = start_params(mixem.GaussianFull, data, K)
    model = mixem.MixtureModel(mixem.GaussianFull, K, chunk_size=100, max_iter=2, tol=0.0)
    with pytest.warns(mixem.ConvergenceWarning):
        result = model.fit(sources["memmap"], init_params=start)
    # One bar per pass: the validating scan, the start's E-pass and one per iteration.
    assert len(bars) == 1 + 1 + result.n_iter
    assert all(b.total == b.done == data.shape[0] and b.closed for b in bars)


def test_rows_are_never_loaded_whole_behind_the_users_back(data, sources, tmp_path):
    rows = _sources.ChunkedRows(sources["memmap"])
    with pytest.raises(IndexError, match="out of range"):
        rows[900]
    np.testing.assert_array_equal(rows[-1], data[-1])
    np.testing.assert_array_equal(rows[[5, -1, 5, 2]], data[[5, -1, 5, 2]])
    with pytest.raises(TypeError, match="np.asarray"):
        np.asarray(rows)
    with pytest.raises(TypeError, match="np.asarray"):
        list(rows)
    result = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0).fit(data)
    for call in (
        lambda: result.diagnostics(X=sources["memmap"], draws=0),
        lambda: result.plot.density(X=sources["hdf5"]),
        lambda: result.to_arviz(X=sources["zarr"], draws=4),
    ):
        with pytest.raises(TypeError, match="needs the rows in memory"):
            call()
    # Standard errors and the summary work chunk by chunk.
    np.testing.assert_allclose(
        result.standard_errors("observed", X=sources["memmap"])["se"],
        result.standard_errors("observed")["se"],
        rtol=1e-6,
    )


def test_a_copy_on_write_memmap_is_read_as_edited(data, tmp_path):
    write_memmap(tmp_path / "x.dat", data)
    edited = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="c", shape=data.shape)
    edited[:300] += 100.0  # in the mapping only, not in the file
    rows = _sources.ChunkedRows(edited)
    np.testing.assert_array_equal(rows[0:900], np.asarray(edited))
    np.testing.assert_array_equal(rows[[3, 800]], np.asarray(edited)[[3, 800]])


def test_noise_box_of_an_out_of_core_fit_is_the_datas(tmp_path):
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, (600, 2)), rng.uniform(-12, 12, (60, 2))])
    memmap = write_memmap(tmp_path / "n.dat", X)
    model = mixem.MixtureModel(
        [mixem.GaussianFull, mixem.UniformNoise],
        [1, 1],
        random_state=0,
        tol=1e-10,
        search=SearchSettings(rows=200),
    )
    chunked, in_memory = model.fit(memmap), model.fit(X)
    noise = chunked.components[1].params()
    np.testing.assert_allclose(noise["lower"][0], X.min(axis=0))
    np.testing.assert_allclose(noise["upper"][0], X.max(axis=0))
    assert chunked.loglik == pytest.approx(in_memory.loglik, rel=1e-8)


def test_values_a_family_cannot_model_are_named_even_outside_the_subsample(tmp_path):
    rng = np.random.default_rng(0)
    counts = rng.poisson(4.0, (400, 2)).astype(float)
    counts[-1, 0] = 2.5  # within the column's range, almost surely not in the subsample
    memmap = write_memmap(tmp_path / "c.dat", counts)
    with pytest.raises(ValueError, match="Poisson"):
        mixem.MixtureModel(mixem.Poisson, 2, random_state=0, search=SearchSettings(rows=50)).fit(
            memmap
        )


def test_rows_per_second_is_nan_when_rows_are_unknown():
    trace = mixem.Trace(0.0, np.ones(2), np.zeros(2), np.ones(2), np.zeros(2, dtype=bool))
    assert np.isnan(trace.rows_per_second).all()
