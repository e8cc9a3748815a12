"""Saving and loading fitted mixtures in a versioned, pickle-free format.

Format ``mixem.MixtureResult`` version 2: a NumPy ``.npz`` archive (zip of ``.npy`` arrays)
holding

- ``__meta__``: a JSON document (0-d unicode array) with ``format``, ``format_version``,
  ``mixem_version``, the scalar results (``loglik``, ``entropy``, ``n_obs``, ``n_iter``,
  ``converged``, ``initial_loglik``, ``trace_rows``; the last optional), ``feature_names``,
  the model ``spec``, ``events`` (the fit's events as objects of their fields; optional),
  ``categories``
  (the levels of categorical columns, or null; optional, read as null when absent), and
  ``families``: for each family ``family`` (its ``name``, the ``module.QualName`` of its class,
  and its ``config``, the keyword arguments that rebuild it), ``n_components`` and the names
  of its parameter arrays (version 1 named a family by ``class`` alone, a configured one as
  ``Name[config]``; both still load);
- ``weights``; ``family{i}.{name}`` for every parameter array of family ``i``;
- ``trace.loglik``, ``trace.change``, ``trace.seconds``, ``trace.reseeded`` and
  ``trace.moved`` (optional: read as all False when absent, as in files saved before it
  was recorded).

Arrays are read back with ``allow_pickle=False``: loading never executes code from the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from mixem.components.base import component_class
from mixem.components.family import Family, as_family, family_from_spec
from mixem.components.product import Product
from mixem.em.events import Event
from mixem.em.trace import Trace
from mixem.result import MixtureResult

__all__ = ["FORMAT", "FORMAT_VERSION", "save_result", "load"]

FORMAT = "mixem.MixtureResult"
FORMAT_VERSION = 2


def _legacy_components(name: str, arrays: dict[str, np.ndarray]) -> Any:
    """Components of a version-1 entry, which named its family by class."""
    return _legacy_family(name).components(**arrays)


def _legacy_family(name: str) -> Family:
    """The family a version-1 class name means.

    A family that is now a value is its default instance; a configured one was named
    ``Name[key=value]`` (``StudentT[dof=4.0]``, ``UniformNoise[volume=2.0]``), a product
    ``Product[module.Family:0,1;module.Other:2]``. The name is parsed, never run.
    """
    base, bracket, config = name.partition("[")
    cls = component_class(base)
    if not bracket:
        return as_family(cls)
    if not config.endswith("]") or not issubclass(cls, Family):
        raise ValueError(f"malformed family name {name!r}")
    config = config[:-1]
    if issubclass(cls, Product):
        parts = []
        for text in _split_top_level(config, ";"):
            part, _, cols = text.rpartition(":")
            try:
                columns = [int(c) for c in cols.split(",")]
            except ValueError as err:
                raise ValueError(f"malformed family name {name!r}") from err
            parts.append((_legacy_family(part), columns))
        return cls(*parts)
    key, eq, value = config.partition("=")
    try:
        number = float(value)
    except ValueError as err:
        raise ValueError(f"malformed family name {name!r}") from err
    if not (eq and key.isidentifier()):
        raise ValueError(f"malformed family name {name!r}")
    return cls(**{key: number})


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets (part names may be configured, with brackets)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def save_result(result: MixtureResult, path: str | Path) -> None:
    """Write ``result`` to ``path`` (see the module docstring for the format)."""
    from mixem import __version__

    arrays: dict[str, np.ndarray] = {"weights": result.weights}
    families = []
    for i, comp in enumerate(result.components):
        params = comp.params()
        families.append(
            {
                "family": comp.family.spec(),
                "n_components": comp.n_components,
                "params": sorted(params),
            }
        )
        for name, value in params.items():
            arrays[f"family{i}.{name}"] = np.asarray(value)
    for name in ("loglik", "change", "seconds", "reseeded", "moved"):
        arrays[f"trace.{name}"] = getattr(result.trace, name)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mixem_version": __version__,
        "loglik": result.loglik,
        "entropy": result.entropy,
        "n_obs": result.n_obs,
        "n_iter": result.n_iter,
        "converged": result.converged,
        "initial_loglik": result.trace.initial_loglik,
        "trace_rows": result.trace.rows,
        "feature_names": list(result.feature_names) if result.feature_names else None,
        "spec": result.spec,
        "events": [dataclasses.asdict(e) for e in result.events],
        "categories": (
            {col: list(levels) for col, levels in result.categories.items()}
            if result.categories
            else None
        ),
        "families": families,
    }
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load(path: str | Path) -> MixtureResult:
    """Load a result saved by :meth:`MixtureResult.save`.

    Parameters
    ----------
    path : str or Path
        File written by ``result.save(path)``.

    Returns
    -------
    MixtureResult
        Predicts exactly as the saved result did.

    Raises
    ------
    ValueError
        If the file is not a mixem result, has a newer format version, or names a component
        class that has not been defined or imported in this session.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path} is not a mixem result file (expected an .npz archive written by "
            "MixtureResult.save)"
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a mixem result file (a single .npy array, not .npz)")
    with archive:
        if "__meta__" not in archive.files:
            raise ValueError(f"{path} is not a mixem result file (no __meta__ entry)")
        meta = json.loads(str(archive["__meta__"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} holds {meta.get('format')!r}, not {FORMAT!r}")
        if meta["format_version"] > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format version {meta['format_version']}; this mixem reads up to "
                f"{FORMAT_VERSION}: upgrade mixem"
            )
        components = []
        for i, fam in enumerate(meta["families"]):
            arrays = {name: archive[f"family{i}.{name}"] for name in fam["params"]}
            if "family" in fam:
                components.append(family_from_spec(fam["family"]).components(**arrays))
            else:
                components.append(_legacy_components(str(fam["class"]), arrays))
        trace = Trace(
            meta["initial_loglik"],
            *(archive[f"trace.{name}"] for name in ("loglik", "change", "seconds", "reseeded")),
            rows=int(meta.get("trace_rows", 0)),
            moved=archive["trace.moved"] if "trace.moved" in archive.files else None,
        )
        names = meta["feature_names"]
        return MixtureResult(
            weights=archive["weights"],
            components=tuple(components),
            loglik=meta["loglik"],
            entropy=meta["entropy"],
            n_obs=meta["n_obs"],
            n_iter=meta["n_iter"],
            converged=meta["converged"],
            trace=trace,
            feature_names=tuple(names) if names else None,
            spec=meta["spec"],
            events=tuple(Event(**e) for e in meta.get("events", [])),
            categories=(
                {col: tuple(levels) for col, levels in meta["categories"].items()}
                if meta.get("categories")
                else None
            ),
        )
