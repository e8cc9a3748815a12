"""The ``mixem`` command line: ``select``, ``fit`` and ``demo`` write a report folder.

A report folder holds ``table.csv`` (the criteria table), ``model.npz`` (the chosen model, see
:func:`mixem.load`), ``summary.txt``, ``summary.json``, three PNG figures (``criterion.png``,
the criterion against K; ``density.png``, the chosen model over the data; ``trace.png``, its
convergence trace) and ``index.html``, which shows them with the table. Bad data files end with
one line naming the file, row or column, and exit status 2; a study in which nothing could be
fitted exits with 1.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import mixem
from mixem.components.covariance_models import MODELS, ONE_DIMENSIONAL
from mixem.components.gaussian_models import (
    Gaussian,
    GaussianDiagonal,
    GaussianFull,
    GaussianSpherical,
    GaussianTied,
)
from mixem.exceptions import FitError
from mixem.selection import CRITERIA, SelectionResult, select

__all__ = ["main"]

FAMILIES = {
    "full": GaussianFull,
    "diag": GaussianDiagonal,
    "spherical": GaussianSpherical,
    "tied": GaussianTied,
}


#: Largest number of components the command line accepts.
MAX_K = 100


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder for the report")
    return Path(text)


def _jobs(text: str) -> int:
    value = int(text)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or -1, got {value}")
    return value


class DataError(Exception):
    """A data file that cannot be used; the message is the one line the user sees."""


def read_data(path: str) -> Any:
    """Read a CSV file with a header row into a numeric DataFrame, or raise DataError."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with file.open(encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
        # index_col=False: a row with more fields than the header would otherwise make the
        # first column an index, silently.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(file, index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = " ".join(str(err).split())
        raise DataError(f"{path}: not a readable CSV file ({reason})") from None
    if ";" in header and "," not in header:
        raise DataError(
            f"{path}: the header is separated by ';', and mixem reads comma-separated files "
            "(with '.' decimals); convert it, e.g. pandas.read_csv(path, sep=';', decimal=',')"
            ".to_csv(new_path, index=False)"
        )
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        line, fields = _first_long_line(file, frame.shape[1])
        raise DataError(
            f"{path}: line {line} has {fields} fields, more than the header's {frame.shape[1]}"
        )
    if frame.shape[1] > 0 and all(_is_number(str(c)) for c in frame.columns):
        raise DataError(
            f"{path}: the first line ({header.strip()[:40]!r}) holds numbers, not column names; "
            "add a header row"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: no data rows under the header")
    unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        raise DataError(
            f"{path}: column {frame.columns.get_loc(unnamed[0]) + 1} has no header (a saved "
            "row index?); remove it or name it"
        )
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            hint = " (is the file separated by ';'?)" if ";" in str(column) else ""
            raise DataError(
                f"{path}: column {column!r} is not numeric (value {frame[column].iloc[row]!r} "
                f"on line {row + 2}){hint}"
            )
        frame[column] = values.astype(float)
    missing = frame.isna().to_numpy()
    if missing.any():
        row, col = (int(i[0]) for i in missing.nonzero())
        raise DataError(
            f"{path}: line {row + 2} has a missing value in column {frame.columns[col]!r} "
            f"({int(missing.any(axis=1).sum())} rows with missing values); drop or impute them"
        )
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_long_line(file: Path, n_fields: int) -> tuple[int, int]:
    """The first line (1-based) with more than ``n_fields`` fields, and its field count."""
    import csv

    with file.open(newline="", encoding="utf-8", errors="replace") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if len(row) > n_fields:
                return number, len(row)
    return 0, n_fields


def parse_k(text: str) -> list[int]:
    """``"3"``, ``"1-9"`` or ``"1,2,5"`` into a list of component counts."""
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                low, high = (int(v) for v in part.split("-"))
                if high < low:
                    raise argparse.ArgumentTypeError(f"--k range {part!r} is reversed or empty")
                if low < 1 or high > MAX_K:
                    raise argparse.ArgumentTypeError(
                        f"--k needs component counts from 1 to {MAX_K}; {part!r} is outside"
                    )
                out.extend(range(low, high + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--k takes a number, a range such as 1-9, or a list such as 1,2,5; got {text!r}"
        ) from None
    if not out or min(out) < 1 or max(out) > MAX_K:
        raise argparse.ArgumentTypeError(
            f"--k needs component counts from 1 to {MAX_K}, got {text!r}"
        )
    return sorted(set(out))


def parse_families(text: str) -> list[Any] | str:
    """``"full,diag"`` or mclust's names (``"VEV,EEE"``) into families.

    ``"all"`` becomes ``"mclust"``, select's name for mclust's fourteen models.
    """
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["all"]:
        return "mclust"
    unknown = [n for n in names if n not in FAMILIES and n not in MODELS + ONE_DIMENSIONAL]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"--components takes all (mclust's fourteen models), or a list of "
            f"{', '.join(FAMILIES)} and mclust's model names ({', '.join(MODELS)}); got {text!r}"
        )
    return [FAMILIES[n] if n in FAMILIES else Gaussian(n) for n in names]


#: Figures of the report folder: file name, title.
FIGURES = {
    "criterion.png": "Criterion against K",
    "density.png": "Chosen model over the data",
    "trace.png": "Convergence trace of the chosen model",
}
#: Most features shown in the report's pairs grid (the first ones); the grid grows as d**2.
MAX_PAIRS = 6
DPI = 100


def write_figures(study: SelectionResult, out: Path) -> None:
    """Save the criterion, density and trace figures of ``study`` as PNG files in ``out``."""
    import matplotlib.pyplot as plt

    d = study.best.n_features
    features = list(range(MAX_PAIRS)) if d > MAX_PAIRS else None
    drawn = {
        "criterion.png": study.plot.criterion().figure,
        "density.png": study.plot.density(features=features),
        "trace.png": study.plot.trace(),
    }
    for name, fig in drawn.items():
        fig = getattr(fig, "figure", fig)  # an Axes' figure, or the Figure itself
        fig.savefig(out / name, dpi=DPI, bbox_inches="tight")
        plt.close(fig)


def _index_html(study: SelectionResult, source: str) -> str:
    family, k = study.best_key
    esc = html.escape
    titles = dict(FIGURES)
    d = study.best.n_features
    if d > MAX_PAIRS:
        titles["density.png"] += f" (its first {MAX_PAIRS} of {d} features)"
    figures = "".join(
        f"<figure><img src='{name}' alt='{esc(title)}'><figcaption>{esc(title)}</figcaption>"
        "</figure>"
        for name, title in titles.items()
    )
    table = study.table.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>mixem report: {esc(source)}</title>"
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}"
        "img{max-width:100%}figure{display:inline-block;margin:1em;vertical-align:top}"
        "table{border-collapse:collapse;font-size:90%}td,th{padding:2px 6px;"
        "border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>Model selection: {esc(source)}</h1>"
        f"<p>Chosen by {esc(study.criterion.upper())}: <b>{esc(family)}, K = {k}</b>. "
        "Files: <a href='table.csv'>table.csv</a>, <a href='model.npz'>model.npz</a> "
        "(<code>mixem.load</code>), <a href='summary.txt'>summary.txt</a>, "
        "<a href='summary.json'>summary.json</a>.</p>"
        f"{figures}<h2>Criteria</h2>{table}"
        f"<h2>Chosen model</h2><pre>{esc(str(study.best.summary()))}</pre>"
        f"<p><small>mixem {esc(mixem.__version__)}</small></p></body></html>\n"
    )


def write_report(study: SelectionResult, out: Path, source: str) -> None:
    """Write table.csv, model.npz, summary.txt, summary.json, the figures and index.html."""
    out.mkdir(parents=True, exist_ok=True)
    study.table.to_csv(out / "table.csv", index=False)
    study.best.save(out / "model.npz")
    text = f"{study.summary()}\n\n{study.best.summary()}\n"
    (out / "summary.txt").write_text(text, encoding="utf-8")
    best = study.best
    family, k = study.best_key
    summary = {
        "data": source,
        "criterion": study.criterion,
        "chosen": {"family": family, "K": k},
        "loglik": best.loglik,
        "n_obs": best.n_obs,
        "n_parameters": best.n_parameters,
        "bic": best.bic,
        "aic": best.aic,
        "icl": best.icl,
        "converged": best.converged,
        "n_iter": best.n_iter,
        "weights": best.weights.tolist(),
        "feature_names": list(best.feature_names) if best.feature_names else None,
        "mixem_version": mixem.__version__,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_figures(study, out)
    (out / "index.html").write_text(_index_html(study, source), encoding="utf-8")


def _study_args(parser: argparse.ArgumentParser, *, default_k: str, default_families: str) -> None:
    parser.add_argument(
        "--k",
        type=parse_k,
        default=parse_k(default_k),
        help=f"component counts: 3, 1-9 or 1,2,5 (default {default_k})",
    )
    parser.add_argument(
        "--components",
        type=parse_families,
        default=parse_families(default_families),
        help=f"families from {','.join(FAMILIES)} or mclust's model names (EII, ..., VVV); "
        f"all: mclust's fourteen models (default {default_families})",
    )
    parser.add_argument("--criterion", choices=sorted(CRITERIA), default="bic")
    parser.add_argument(
        "--n-init", type=_positive, default=1, help="runs per fit, each a short-EM search (1)"
    )
    parser.add_argument("--seed", type=_non_negative, default=0, help="seed of the study (0)")
    parser.add_argument("--n-jobs", type=_jobs, default=1, help="worker processes (1; -1: all)")
    parser.add_argument("--out", type=_folder, help="report folder to write")


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, ``mixem: error: ...`` (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mixem`` command."""
    parser = _Parser(
        prog="mixem", description="Finite mixture models fitted by EM: model-selection studies."
    )
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("select", help="fit a grid of families x K and choose by a criterion")
    p.add_argument("data", help="CSV file with a header row; every column numeric")
    _study_args(p, default_k="1-9", default_families=",".join(FAMILIES))
    p = sub.add_parser("fit", help="fit one family and K")
    p.add_argument("data", help="CSV file with a header row; every column numeric")
    _study_args(p, default_k="2", default_families="full")
    p = sub.add_parser("demo", help="a study on the bundled Old Faithful data")
    _study_args(p, default_k="1-6", default_families=",".join(FAMILIES))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv) or ["demo"])
    try:
        if args.command == "demo":
            data, source = mixem.datasets.load_faithful(), "Old Faithful (bundled)"
        else:
            data, source = read_data(args.data), args.data
    except DataError as err:
        print(f"mixem: error: {err}", file=sys.stderr)
        return 2
    one_family = isinstance(args.components, list) and len(args.components) == 1
    if args.command == "fit" and (len(args.k) != 1 or not one_family):
        print(
            "mixem: error: fit takes one --k and one --components; use select for a grid",
            file=sys.stderr,
        )
        return 2
    if args.out is not None and str(args.out).strip() in ("", "."):
        print("mixem: error: --out must name a folder for the report", file=sys.stderr)
        return 2
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"mixem: error: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    print(f"{source}: {data.shape[0]} rows, features {', '.join(map(str, data.columns))}")
    try:
        study = select(
            data,
            args.k,
            args.components,
            criterion=args.criterion,
            n_init=args.n_init,
            random_state=args.seed,
            n_jobs=args.n_jobs,
        )
    except (ValueError, TypeError) as err:
        print(f"mixem: error: {source}: {err}", file=sys.stderr)
        return 2
    except FitError as err:
        print(f"mixem: error: nothing could be fitted: {err}", file=sys.stderr)
        return 1
    print(study.summary())
    print()
    print(study.best.summary())
    if args.out is not None:
        try:
            write_report(study, args.out, source)
        except OSError as err:
            print(f"mixem: error: cannot write the report to {args.out}: {err}", file=sys.stderr)
            return 2
        print(f"\nReport written to {args.out}/: open {args.out / 'index.html'}")
    return 0
