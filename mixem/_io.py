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
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from mixem.components.base import component_class
from mixem.components.family import Components, Family
from mixem.em.events import Event
from mixem.em.trace import Trace
from mixem.result import MixtureResult

__all__ = ["FORMAT", "FORMAT_VERSION", "save_result", "load"]

FORMAT = "mixem.MixtureResult"
FORMAT_VERSION = 2


def family_from_spec(spec: dict[str, Any]) -> Family:
    """The family that :meth:`Family.spec` described.

    Its module is imported (installed or already imported code; nothing in the file runs).
    JSON turns tuples into lists: lists in the configuration become tuples again, so that the
    family stays hashable.
    """
    try:
        name, config = str(spec["name"]), dict(spec["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"a family entry must hold a name and a config, got {spec!r}") from err
    module, _, qualname = name.rpartition(".")
    if not module:
        raise ValueError(f"unknown component family {name!r} (expected module.ClassName)")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"unknown component family {name!r}; import or define it before loading"
        ) from err
    if not (isinstance(obj, type) and issubclass(obj, Family)):
        raise ValueError(f"{name!r} is not a component family")
    try:
        return obj(**{key: _tuples(value) for key, value in config.items()})
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid configuration of {name}: {config!r} ({err})") from err


def _tuples(value: Any) -> Any:
    """``value`` with every list (JSON's rendering of a tuple) made a tuple again."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def save_result(result: MixtureResult, path: str | Path) -> None:
    """Write ``result`` to ``path`` (see the module docstring for the format)."""
    from mixem import __version__

    arrays: dict[str, np.ndarray] = {"weights": result.weights}
    families = []
    for i, comp in enumerate(result.components):
        params = comp.params()
        named = (
            {"family": comp.family.spec()}
            if isinstance(comp, Components)
            else {"class": f"{type(comp).__module__}.{type(comp).__qualname__}"}
        )
        families.append({**named, "n_components": comp.n_components, "params": sorted(params)})
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
                components.append(component_class(fam["class"])(**arrays))
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
