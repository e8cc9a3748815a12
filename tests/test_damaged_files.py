"""Damaged, edited and hostile result files: each load reproduces the fit or says what is wrong."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixem
from mixem.components.base import Component
from mixem.components.family import Family


def _fits():
    rng = np.random.default_rng(0)
    faithful = mixem.datasets.load_faithful().to_numpy()
    counts = rng.poisson([2.0, 9.0], size=(120, 2)).astype(float)
    mixed = np.column_stack([faithful[:120], counts[:, :1]])
    binary = (rng.random((150, 3)) < [0.2, 0.5, 0.8]).astype(float)
    codes = rng.integers(0, 3, (150, 2)).astype(float)
    cases = {
        "full": (mixem.GaussianFull, 2, faithful),
        "vev": (mixem.Gaussian("VEV"), 2, faithful),
        "tied": (mixem.GaussianTied, 2, faithful),
        "student_t": (mixem.StudentT(dof=4.0), 2, faithful),
        "noise": ([mixem.GaussianFull, mixem.UniformNoise], [2, 1], faithful),
        "product": (
            mixem.Product((mixem.GaussianDiagonal(), [0, 1]), (mixem.Poisson(), [2])),
            2,
            mixed,
        ),
        "bernoulli": (mixem.Bernoulli, 2, binary),
        "categorical": (mixem.Categorical, 2, codes),
        "exponential": (mixem.Exponential, 2, rng.exponential([[1.0, 5.0]], size=(150, 2))),
    }
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (family, k, X) in cases.items():
            result = mixem.MixtureModel(family, k, random_state=0).fit(X)
            path = Path(folder) / f"{name}.npz"
            result.save(path)
            saved = path.read_bytes()
            out[name] = (saved, X, result.predict_proba(X), result.score_samples(X))
    return out


FITS = _fits()
NAMES = sorted(FITS)


def _family_classes():
    seen, todo = set(), [Family, Component]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return len(seen)


CLASSES_BEFORE = _family_classes()


def _loads_exactly_or_refuses(path, name):
    _, X, proba, score = FITS[name]
    try:
        result = mixem.load(path)
    except mixem.ResultFileError as err:
        assert str(path) in str(err)
        return False
    np.testing.assert_array_equal(result.predict_proba(X), proba)
    np.testing.assert_array_equal(result.score_samples(X), score)
    return True


FUZZ = settings(
    max_examples=700, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    position=st.floats(0.0, 1.0, exclude_max=True),
    bit=st.integers(0, 7),
)
def test_a_flipped_bit_is_refused_or_harmless(tmp_path, name, position, bit):
    data = bytearray(FITS[name][0])
    data[int(position * len(data))] ^= 1 << bit
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    _loads_exactly_or_refuses(path, name)


@FUZZ
@given(name=st.sampled_from(NAMES), position=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_file_is_refused(tmp_path, name, position):
    data = FITS[name][0]
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: int(position * len(data))])
    assert not _loads_exactly_or_refuses(path, name)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def _resaved(name, edit):
    """The file with its metadata or arrays changed by ``edit(meta, arrays)``, as a new zip."""
    with np.load(io.BytesIO(FITS[name][0]), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    edit(meta, arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __meta__=np.array(json.dumps(meta)), **arrays)
    return buffer.getvalue()


@FUZZ
@given(name=st.sampled_from(NAMES), choice=st.integers(0, 10**6), value=JSON_VALUES)
def test_an_edited_metadata_value_is_refused_or_harmless(tmp_path, name, choice, value):
    def edit(meta, arrays):
        paths = [p for p in _paths(meta) if p]
        where = paths[choice % len(paths)]
        target = meta
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = value

    path = tmp_path / "edited.npz"
    path.write_bytes(_resaved(name, edit))
    _loads_exactly_or_refuses(path, name)


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    choice=st.integers(0, 10**6),
    scale=st.floats(-10.0, 10.0) | st.just(float("nan")),
)
def test_an_edited_array_is_refused(tmp_path, name, choice, scale):
    def edit(meta, arrays):
        key = sorted(arrays)[choice % len(arrays)]
        arr = arrays[key]
        arrays[key] = arr.astype(float) * scale + 1.0 if arr.size else np.ones(3)

    path = tmp_path / "edited.npz"
    path.write_bytes(_resaved(name, edit))
    _loads_exactly_or_refuses(path, name)


def test_the_issues_cases_are_refused_naming_the_file(tmp_path):
    def edited(edit):
        path = tmp_path / "case.npz"
        path.write_bytes(_resaved("full", edit))
        return path

    cases = {
        "chunk_size": lambda m, a: m["spec"].__setitem__("chunk_size", -1),
        "weights length": lambda m, a: a.__setitem__("weights", np.full(3, 1 / 3)),
        "weights sum": lambda m, a: a.__setitem__("weights", a["weights"] * 5),
    }
    for what, edit in cases.items():
        with pytest.raises(mixem.ResultFileError, match="case.npz cannot be loaded"):
            mixem.load(edited(edit))

        # Written again with a consistent checksum, the checks of the contents refuse them.
        def consistent(meta, arrays, edit=edit):
            edit(meta, arrays)
            meta.pop("checksum")
            meta["format_version"] = 2

        with pytest.raises(mixem.ResultFileError, match=what.split()[0]):
            mixem.load(edited(consistent))
    # A member whose directory entry says it inflates to 4 GiB is refused before it is read.
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__meta__.npy", b"\0" * 1000)
    data = bytearray(bomb.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the central directory's entry of the member
    data[entry + 24 : entry + 28] = (2**32 - 1).to_bytes(4, "little")  # uncompressed size
    bomb.write_bytes(bytes(data))
    with pytest.raises(mixem.ResultFileError, match="inflate to 4294967295 bytes"):
        mixem.load(bomb)
    deep = tmp_path / "deep.npz"
    deep.write_bytes(_resaved("full", lambda m, a: m.__setitem__("spec", [[[[]]]] * 2)))
    with pytest.raises(mixem.ResultFileError):
        mixem.load(deep)


def test_loading_defines_no_class(tmp_path):
    before = _family_classes()
    fixtures = Path(__file__).parent / "data"
    paths = [p for p in fixtures.glob("format_v*/*.npz") if "expected" not in p.name]
    for name in NAMES:  # and every family's own file
        paths.append(tmp_path / f"{name}.npz")
        paths[-1].write_bytes(FITS[name][0])
    for path in paths:
        mixem.load(path)
    assert len(paths) >= 20
    assert _family_classes() == before == CLASSES_BEFORE


def test_valid_files_of_unusual_fits_load(tmp_path):
    # A fit of no iteration, and Categorical probabilities zero-padded to a wide column
    # (they deflate far more than floats do).
    X = mixem.datasets.load_faithful().to_numpy()
    start = mixem.MixtureModel(mixem.GaussianFull, 2, max_iter=0, random_state=0).fit(X)
    codes = np.random.default_rng(0).integers(0, 2, (300, 150)).astype(float)
    codes[:, -1] = np.arange(300) * 10  # an ID-like column: 2991 levels
    wide = mixem.MixtureModel(mixem.Categorical, 2, init="kmeans++", random_state=0).fit(codes)
    for result in (start, wide):
        path = tmp_path / "fit.npz"
        result.save(path)
        X_ = X if result is start else codes
        np.testing.assert_array_equal(mixem.load(path).score_samples(X_), result.score_samples(X_))
