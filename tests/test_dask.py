"""Dask arrays: every pass on the Dask scheduler gives the in-memory fit's answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from hypothesis import given, settings
from hypothesis import strategies as st

import mixem

from .conftest import FAMILIES, make_blobs, start_params
from .test_out_of_core import assert_same_fit

K = 3


@pytest.fixture(scope="module")
def client():
    """A local cluster of two worker processes, shared by the tests that need one."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    X, _ = make_blobs(n=900, d=3, k=K, seed=0)
    return X


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_threaded_scheduler_gives_the_in_memory_fit(family, data):
    start = start_params(family, data, K)
    reference = mixem.MixtureModel(family, K).fit(data, init_params=start)
    X = da.from_array(data, chunks=(250, 2))  # a short last block; columns split (rechunked)
    with dask.config.set(scheduler="threads"):
        result = mixem.MixtureModel(family, K).fit(X, init_params=start)
    assert_same_fit(result, reference)


@pytest.mark.filterwarnings("ignore::mixem.ConvergenceWarning")
@settings(max_examples=8)
@given(rows=st.integers(min_value=2, max_value=1000))
def test_any_block_size_gives_the_same_fit(rows, data):
    # Blocks of 2 rows (fewer than K) up to one block, most with a short last one; a few
    # iterations compare every pass (each block is a task: small blocks cost many).
    start = start_params(mixem.GaussianFull, data, K)
    settings = {"max_iter": 2 if rows < 20 else 6}
    reference = mixem.MixtureModel(mixem.GaussianFull, K, **settings).fit(data, init_params=start)
    X = da.from_array(data, chunks=(rows, 3))
    result = mixem.MixtureModel(mixem.GaussianFull, K, **settings).fit(X, init_params=start)
    assert_same_fit(result, reference)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.__name__)
def test_local_cluster_gives_the_in_memory_fit(family, data, client):
    start = start_params(family, data, K)
    reference = mixem.MixtureModel(family, K).fit(data, init_params=start)
    X = da.from_array(data, chunks=(250, 3))
    with dask.config.set(scheduler=client.get):
        assert_same_fit(mixem.MixtureModel(family, K).fit(X, init_params=start), reference)


def test_lazy_predictions_on_a_local_cluster(data, client):
    start = start_params(mixem.GaussianFull, data, K)
    reference = mixem.MixtureModel(mixem.GaussianFull, K).fit(data, init_params=start)
    X = da.from_array(data, chunks=(200, 3))
    with dask.config.set(scheduler=client.get):
        result = mixem.MixtureModel(mixem.GaussianFull, K).fit(X, init_params=start)
        lazy = result.score_samples(X)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), reference.score_samples(data), rtol=1e-10)
        np.testing.assert_array_equal(result.predict(X).compute(), reference.predict(data))
        proba = result.predict_proba(X)
        assert isinstance(proba, da.Array) and proba.shape == (900, K)
        np.testing.assert_allclose(proba.compute(), reference.predict_proba(data), atol=1e-12)


def test_default_start_and_bad_blocks(data):
    X = da.from_array(data, chunks=(300, 3))
    model = mixem.MixtureModel(mixem.GaussianFull, K, random_state=0, tol=1e-10)
    result, in_memory = model.fit(X), model.fit(data)
    assert result.loglik == pytest.approx(in_memory.loglik, rel=1e-9)  # the same maximum
    bad = data.copy()
    bad[612, 2] = np.inf
    with pytest.raises(ValueError, match="infinite at row 612, column 2"):
        mixem.MixtureModel(mixem.GaussianFull, K).fit(da.from_array(bad, chunks=(300, 3)))


def test_numpy_works_without_the_optional_packages_and_dask_errors_name_the_extra():
    script = textwrap.dedent(
        """
        import sys
        for name in ("dask", "distributed", "h5py", "zarr"):
            sys.modules[name] = None  # as if not installed
        import numpy as np
        import mixem
        X = np.random.default_rng(0).normal(size=(200, 2))
        result = mixem.MixtureModel(mixem.GaussianFull, 2, random_state=0).fit(X)
        print("numpy fit", result.converged)

        class FakeDaskArray:  # what a Dask array looks like to mixem, without dask
            chunks = ((200,), (2,))
            shape = (200, 2)
            def compute(self):
                return X
        FakeDaskArray.__module__ = "dask.array.core"
        try:
            mixem.MixtureModel(mixem.GaussianFull, 2).fit(FakeDaskArray())
        except ImportError as err:
            print(err)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "numpy fit True" in out.stdout
    assert "pip install 'mixem-em[dask]'" in out.stdout


def test_select_on_a_cluster_gives_the_serial_table(client):
    X, _ = make_blobs(n=300, d=2, k=2, seed=4)
    settings = {"random_state": 3, "init": "kmeans++", "progress": False}
    families = [mixem.GaussianFull, mixem.GaussianSpherical]
    serial = mixem.select(X, range(1, 4), families, **settings)
    remote = mixem.select(X, range(1, 4), families, client=client, **settings)
    with pytest.raises(ValueError, match="either client"):
        mixem.select(X, [1], families, client=client, n_jobs=2)
    columns = [c for c in serial.table.columns if c != "seconds"]
    assert serial.table[columns].equals(remote.table[columns])
    assert remote.best_key == serial.best_key
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        mixem.select(X, [1], families, client=object())


def test_empty_blocks_and_error_rows_count_from_the_whole_array(data):
    X = da.from_array(data, chunks=((300, 0, 600), (3,)))  # an empty block, as after a mask
    assert 0 in X.chunks[0]
    start = start_params(mixem.GaussianFull, data, K)
    reference = mixem.MixtureModel(mixem.GaussianFull, K).fit(data, init_params=start)
    assert_same_fit(mixem.MixtureModel(mixem.GaussianFull, K).fit(X, init_params=start), reference)
    with dask.config.set(scheduler="threads"):
        default = mixem.MixtureModel(mixem.GaussianFull, K, init="kmeans++", random_state=0)
        assert default.fit(X).converged
    # A row impossible under the start is named by its place in the whole array.
    counts = np.zeros((900, 2))
    counts[750, 0] = 1.0
    start = {"weights": [1.0], "rates": [[0.0, 3.0]]}  # column 0 can only be 0
    with pytest.raises(mixem.FitError, match="row 750 of X"):
        mixem.MixtureModel(mixem.Poisson, 1, max_iter=1).fit(
            da.from_array(counts, chunks=(300, 2)), init_params=start
        )
