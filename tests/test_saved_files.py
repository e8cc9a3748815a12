"""Files saved by earlier versions load and predict exactly as they did when saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixem

V1 = Path(__file__).parent / "data" / "format_v1"
V2 = Path(__file__).parent / "data" / "format_v2"


@pytest.mark.parametrize("name", sorted(p.stem for p in V1.glob("*.npz") if "." not in p.stem))
def test_format_version_1_files_load_and_predict_identically(name):
    with np.load(V1 / f"{name}.npz") as archive:
        assert json.loads(str(archive["__meta__"]))["format_version"] == 1
    result = mixem.load(V1 / f"{name}.npz")
    with np.load(V1 / f"{name}.expected.npz") as expected:
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


@pytest.mark.parametrize("name", sorted(p.stem for p in V2.glob("*.npz") if "." not in p.stem))
def test_format_version_2_files_load_and_predict_identically(name):
    with np.load(V2 / f"{name}.npz") as archive:
        assert json.loads(str(archive["__meta__"]))["format_version"] == 2
    result = mixem.load(V2 / f"{name}.npz")
    with np.load(V2 / f"{name}.expected.npz") as expected:
        np.testing.assert_array_equal(result.predict_proba(expected["X"]), expected["proba"])
        np.testing.assert_array_equal(result.score_samples(expected["X"]), expected["score"])
