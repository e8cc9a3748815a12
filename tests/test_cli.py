"""The mixem command line, end to end in a subprocess."""

import argparse
import json
import subprocess
import sys
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import mixem


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mixem", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def faithful_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "faithful.csv"
    mixem.datasets.load_faithful().to_csv(path, index=False)
    return path


def test_select_writes_a_report(faithful_csv, tmp_path):
    out = tmp_path / "report"
    proc = run("select", faithful_csv, "--k", "1-4", "--components", "full,tied", "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "table.csv")
    assert len(table) == 8 and set(table.family) == {"GaussianFull", "GaussianTied"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"] == {"family": "GaussianTied", "K": 3}
    best = table.loc[table.bic.idxmin()]
    assert summary["bic"] == pytest.approx(best.bic)
    model = mixem.load(out / "model.npz")
    assert model.n_components == 3 and model.feature_names == ("eruptions", "waiting")
    assert "Chosen: GaussianTied, K = 3" in (out / "summary.txt").read_text()
    check_report_figures(out)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])


def check_report_figures(out):
    """The PNGs are valid images of sensible size and index.html references every file."""
    for name in ("criterion.png", "density.png", "trace.png"):
        path = out / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = plt.imread(path)
        height, width = image.shape[:2]
        assert 300 <= width <= 2000 and 300 <= height <= 2000, (name, image.shape)
        assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas
        assert 10_000 < path.stat().st_size < 2_000_000
    parser = _Links()
    parser.feed((out / "index.html").read_text())
    assert sorted(parser.images) == ["criterion.png", "density.png", "trace.png"]
    assert {"table.csv", "model.npz", "summary.txt", "summary.json"} <= set(parser.links)
    for ref in parser.images + parser.links:
        assert (out / ref).is_file()


def test_report_of_many_features_shows_the_first_six(tmp_path):
    from mixem.cli import MAX_PAIRS, write_report

    X = np.random.default_rng(0).normal(size=(120, MAX_PAIRS + 2))
    study = mixem.select(X, [1], [mixem.GaussianDiagonal], progress=False)
    write_report(study, tmp_path, "random")
    check_report_figures(tmp_path)
    assert f"first {MAX_PAIRS} of {MAX_PAIRS + 2} features" in (tmp_path / "index.html").read_text()


def test_fit_and_demo(faithful_csv, tmp_path):
    proc = run("fit", faithful_csv, "--k", "2", "--components", "full", "--out", tmp_path / "f")
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(tmp_path / "f" / "table.csv")) == 1
    assert mixem.load(tmp_path / "f" / "model.npz").loglik == pytest.approx(-1130.264, abs=1e-3)
    check_report_figures(tmp_path / "f")
    proc = run("demo", "--k", "1-3")
    assert proc.returncode == 0 and "Old Faithful (bundled)" in proc.stdout
    proc = run("fit", faithful_csv, "--k", "1-3")
    assert proc.returncode == 2 and "fit takes one --k" in proc.stderr


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("missing.csv", None, "missing.csv: no such file"),
        ("empty.csv", "", "empty.csv: the file is empty"),
        ("header.csv", "x,y\n", "header.csv: no data rows"),
        (
            "text.csv",
            "x,y\n1,2\n3,abc\n",
            "text.csv: column 'y' is not numeric (value 'abc' on line 3)",
        ),
        ("nan.csv", "x,y\n1,2\n3,\n5,6\n", "nan.csv: line 3 has a missing value in column 'y'"),
        ("ragged.csv", "a,b\n1,2\n3,4,5\n", "ragged.csv: not a readable CSV file"),
        ("index.csv", ",x,y\n0,1,2\n1,3,4\n", "index.csv: column 1 has no header"),
        # A ';'-separated file is named by its header now (issue 17), before any column is read.
        ("semi.csv", "x;y\n1;2\n3;4\n", "semi.csv: the header is separated by ';'"),
        ("decimal.csv", "x;y\n1,5;2,3\n4,1;5,2\n", "decimal.csv: the header is separated by ';'"),
        (
            "extra.csv",
            "a,b\n1,2,3\n4,5,6\n",
            "extra.csv: line 2 has 3 fields, more than the header's 2",
        ),
        ("nohead.csv", "1,2\n3,4\n5,6\n", "nohead.csv: the first line ('1,2') holds numbers"),
    ],
)
def test_bad_files_get_one_line_and_exit_2(tmp_path, name, text, fragment):
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    proc = run("select", path, "--k", "1-2")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_too_few_rows_is_a_clear_error(tmp_path):
    path = write(tmp_path, "tiny.csv", "x,y\n1,2\n3,4.5\n")
    proc = run("select", path, "--k", "1-2", "--components", "full")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "nothing could be fitted" in lines[0] and "need at least 3" in lines[0]


def test_bad_arguments_exit_2(faithful_csv):
    bad = (
        ["--k", "0-3"],
        ["--k", "x"],
        ["--k", "3-1"],
        ["--k", "1-200000000"],
        ["--components", "round"],
        ["--seed", "-1"],
        ["--n-jobs", "0"],
        ["--n-init", "0"],
    )
    for args in bad:
        proc = run("select", faithful_csv, *args)
        # One line naming the error, not argparse's usage block (issue 17).
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("mixem select: error: ") and "--help" in lines[0]


def test_k_follows_one_rule():
    from mixem.cli import parse_k

    assert parse_k("1-3,7") == [1, 2, 3, 7]
    for text in ("2,1-1000", "5,200", "0-3"):
        with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 100"):
            parse_k(text)


def test_out_must_name_a_folder(faithful_csv):
    proc = run("fit", faithful_csv, "--k", "1", "--out", "")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "must name a folder" in lines[0]


def test_workers_are_capped_by_the_fits_and_the_cpus():
    from mixem.selection import _workers

    assert _workers(48, 2) <= 2
    assert _workers(-1, 1000) == _workers(10**6, 10**6) >= 1


def test_numeric_round_trip_of_written_csv(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 2))
    path = tmp_path / "x.csv"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(path, index=False)
    proc = run("fit", path, "--k", "1", "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["feature_names"] == ["a", "b"]


def test_out_must_be_a_folder(faithful_csv, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    proc = run("fit", faithful_csv, "--k", "1", "--out", target)
    assert proc.returncode == 2 and "exists and is not a folder" in proc.stderr
    assert target.read_text() == "keep me"


def test_components_take_mclusts_model_names_and_all(faithful_csv, tmp_path):
    from mixem.cli import parse_families

    assert parse_families("all") == "mclust"
    assert parse_families("full,VEV") == [mixem.GaussianFull, mixem.Gaussian("VEV")]
    with pytest.raises(Exception, match="mclust's model names .*EII, VII"):
        parse_families("VXV")
    out = tmp_path / "report"
    proc = run("select", faithful_csv, "--k", "1-2", "--components", "all", "--out", out)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "table.csv")
    assert len(table) == 28 and list(dict.fromkeys(table.family))[:3] == ["EII", "VII", "EEI"]
    assert (
        "VEV: variable volume, equal shape, variable orientation"
        in (out / "summary.txt").read_text()
    )
