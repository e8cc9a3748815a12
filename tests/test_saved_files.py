"""Files saved by earlier versions load and predict exactly as they did when saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixem

V1 = Path(__file__).parent / "data" / "format_v1"
V2 = Path(__file__).parent / "data" / "format_v2"


FIXTURES = [
    (folder, version, p.stem)
    for folder, version in ((V1, 1), (V2, 2))
    for p in sorted(folder.glob("*.npz"))
    if "." not in p.stem
]


@pytest.mark.parametrize(
    ("folder", "version", "name"), FIXTURES, ids=[f"v{v}-{n}" for _, v, n in FIXTURES]
)
def test_files_of_earlier_versions_load_and_predict_identically(folder, version, name):
    with np.load(folder / f"{name}.npz") as archive:
        assert json.loads(str(archive["__meta__"]))["format_version"] == version
    result = mixem.load(folder / f"{name}.npz")
    with np.load(folder / f"{name}.expected.npz") as expected:
        np.testing.assert_array_equal(result.predict_proba(expected["X"]), expected["proba"])
        np.testing.assert_array_equal(result.score_samples(expected["X"]), expected["score"])


def test_files_are_saved_in_version_3_with_each_familys_name_configuration_and_checksum(tmp_path):
    X = mixem.datasets.load_faithful()
    result = mixem.MixtureModel(mixem.Gaussian("VEV"), 2, random_state=0).fit(X)
    result.save(tmp_path / "vev.npz")
    with np.load(tmp_path / "vev.npz") as archive:
        meta = json.loads(str(archive["__meta__"]))
    # Version 3 (issue 17) is version 2 with a checksum of the contents.
    assert meta["format_version"] == 3
    assert len(meta["checksum"]) == 64
    assert meta["families"][0]["family"] == {
        "name": "mixem.components.gaussian_models.Gaussian",
        "config": {"model": "VEV", "m_step_tol": 1.5e-8, "m_step_max_iter": 1000},
    }
