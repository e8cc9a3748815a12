"""Saving and loading fitted mixtures in a versioned, pickle-free format.

Format ``mixem.MixtureResult`` version 3: a NumPy ``.npz`` archive (zip of ``.npy`` arrays)
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
  ``Name[config]``; both still load), and ``checksum``, the SHA-256 of the rest of the
  metadata and of every array (new in version 3: a changed or damaged file is refused;
  version 2 files, without it, still load);
- ``weights``; ``family{i}.{name}`` for every parameter array of family ``i``;
- ``trace.loglik``, ``trace.change``, ``trace.seconds``, ``trace.reseeded`` and
  ``trace.moved`` (optional: read as all False when absent, as in files saved before it
  was recorded).

Arrays are read back with ``allow_pickle=False``: loading never executes code from the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mixem.components.base import component_class
from mixem.components.family import Family, as_family, family_from_spec
from mixem.components.product import Product
from mixem.em.events import Event
from mixem.em.trace import Trace
from mixem.exceptions import ResultFileError
from mixem.result import MixtureResult

__all__ = ["FORMAT", "FORMAT_VERSION", "save_result", "load"]

FORMAT = "mixem.MixtureResult"
FORMAT_VERSION = 3

#: Bounds on a result file, checked before anything is decompressed: what its members inflate
#: to, as its directory declares (decompression stops there; the CRC checks the rest). A fitted
#: mixture holds its parameters and its trace: a few MB for the largest models mixem fits (a
#: ratio bound would refuse Categorical probabilities, zero-padded to the widest column).
MAX_MEMBERS = 10_000
MAX_BYTES = 1 << 30
#: Levels of a categorical column a file may list.
MAX_LEVELS = 1 << 20


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
    meta = json.loads(json.dumps(meta))  # the form a load reads back, tuples as lists
    meta["checksum"] = _digest(meta, arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load(path: str | Path) -> MixtureResult:
    """Load a result saved by :meth:`MixtureResult.save`.

    Everything read is checked against the format before it is used: the archive's members
    and their sizes (before decompression), the metadata's fields and types, the arrays'
    shapes against the metadata, and the values (weights on the simplex, each family's own
    checks of its parameters, finite criteria, sane options). Loading never runs code from the
    file and never defines a class.

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
    FileNotFoundError
        If there is no such file.
    mixem.ResultFileError
        (a ``ValueError``) If the file is damaged, malformed or not a mixem result, has a newer
        format version, or names a component family that has not been imported in this
        session; the message names the file and the problem.
    """
    try:
        return _load(path)
    except (FileNotFoundError, ResultFileError):
        raise
    except Exception as err:  # noqa: BLE001 (whatever a damaged file makes a parser raise)
        # zipfile, zlib, JSON, NumPy's header parser (SyntaxError), the families' checks:
        # each names the problem its own way; the user gets one error class, naming the file.
        raise ResultFileError(f"{path} cannot be loaded: {_reason(err)}") from err


def _reason(err: BaseException) -> str:
    if isinstance(err, zipfile.BadZipFile | zlib.error | EOFError):
        return f"the archive is damaged ({err})"
    if isinstance(err, RecursionError):
        return "its metadata are nested too deeply"
    if isinstance(err, MemoryError):
        return "an array is larger than memory allows"
    return str(err) or type(err).__name__


def _fail(path: str | Path, what: str) -> ResultFileError:
    return ResultFileError(f"{path} cannot be loaded: {what}")


def _load(path: str | Path) -> MixtureResult:
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        raise _fail(
            path,
            "it is not a mixem result file (expected an .npz archive written by "
            f"MixtureResult.save; {err})",
        ) from err
    with zf:
        _check_members(zf, path)
    with np.load(path, allow_pickle=False) as archive:
        if "__meta__" not in archive.files:
            raise _fail(path, "it is not a mixem result file (no __meta__ entry)")
        raw = archive["__meta__"]
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise _fail(path, "its __meta__ entry is not a JSON text")
        meta = json.loads(str(raw))
        if not isinstance(meta, dict):
            raise _fail(path, "its metadata are not a JSON object")
        if meta.get("format") != FORMAT:
            raise _fail(path, f"it holds {meta.get('format')!r}, not {FORMAT!r}")
        version = meta.get("format_version")
        if not _is_int(version) or version < 1:
            raise _fail(path, f"its format_version is {version!r}")
        if version > FORMAT_VERSION:
            raise _fail(
                path,
                f"it has format version {version}; this mixem reads up to {FORMAT_VERSION}: "
                "upgrade mixem",
            )
        arrays = {name: archive[name] for name in archive.files if name != "__meta__"}
    if version >= 3:
        checksum = meta.pop("checksum", None)
        if checksum != _digest(meta, arrays):
            raise _fail(path, "its contents do not match its checksum (changed or damaged)")
    return _result(meta, arrays, path)


def _digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the metadata (canonical JSON) and of every array's name, dtype, shape, bytes."""
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _check_members(zf: zipfile.ZipFile, path: str | Path) -> None:
    """Bound the archive before anything is decompressed: members, sizes, ratios, headers."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _fail(path, f"it holds {len(infos)} members (at most {MAX_MEMBERS})")
    total = sum(info.file_size for info in infos)
    if total > MAX_BYTES:
        raise _fail(path, f"its members inflate to {total} bytes (at most {MAX_BYTES})")
    for info in infos:
        if not info.filename.endswith(".npy") or "/" in info.filename:
            raise _fail(path, f"it holds a member {info.filename!r} that is no array")
        with zf.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(member)
            if dtype.hasobject:
                raise _fail(path, f"member {info.filename!r} holds Python objects")
            size = math.prod(shape) * dtype.itemsize
            if size > info.file_size:
                raise _fail(
                    path,
                    f"member {info.filename!r} declares {size} bytes of data in "
                    f"{info.file_size} bytes",
                )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _result(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str | Path) -> MixtureResult:
    """The result that validated metadata and arrays describe."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise _fail(path, what)

    def array(name: str, kind: str, ndim: int | None = None) -> np.ndarray:
        need(name in arrays, f"it has no {name!r} array")
        arr = arrays[name]
        need(arr.dtype.kind in kind, f"{name} has dtype {arr.dtype}")
        need(ndim is None or arr.ndim == ndim, f"{name} has {arr.ndim} dimensions, not {ndim}")
        if arr.dtype.kind == "f":
            need(
                bool(np.all(np.isfinite(arr)) or name.startswith("trace.")), f"{name} is not finite"
            )
        return arr

    families = meta.get("families")
    need(isinstance(families, list) and len(families) >= 1, "its families are not a list")
    components = []
    for i, fam in enumerate(families):
        need(isinstance(fam, dict), f"family {i} is not an object")
        names = fam.get("params")
        need(
            isinstance(names, list) and all(isinstance(n, str) for n in names) and names,
            f"family {i}'s parameter names are not a list of names",
        )
        params = {name: array(f"family{i}.{name}", "biuf") for name in names}
        if "family" in fam:
            family = family_from_spec(fam["family"])
        else:
            need(isinstance(fam.get("class"), str), f"family {i} has no name")
            family = _legacy_family(str(fam["class"]))
        comps = family.components(**params)
        need(
            fam.get("n_components") == comps.n_components,
            f"family {i} says {fam.get('n_components')!r} components; its arrays hold "
            f"{comps.n_components}",
        )
        components.append(comps)
    d = components[0].n_features
    need(all(c.n_features == d for c in components), "its families disagree on the features")
    k = sum(c.n_components for c in components)
    weights = array("weights", "f", 1)
    need(weights.size == k, f"it has {weights.size} weights for {k} components")
    need(
        bool(np.all(weights >= 0)) and abs(float(weights.sum()) - 1.0) <= 1e-8,
        "its weights are not on the simplex (non-negative, summing to 1)",
    )
    for key in ("loglik", "entropy", "initial_loglik"):
        need(_is_number(meta.get(key)), f"its {key} is {meta.get(key)!r}")
    need(
        math.isfinite(meta["loglik"]) and math.isfinite(meta["entropy"]), "its loglik is not finite"
    )
    need(_is_number(meta.get("n_obs")) and meta["n_obs"] > 0, f"its n_obs is {meta.get('n_obs')!r}")
    need(
        _is_int(meta.get("n_iter")) and meta["n_iter"] >= 0, f"its n_iter is {meta.get('n_iter')!r}"
    )
    need(isinstance(meta.get("converged"), bool), f"its converged is {meta.get('converged')!r}")
    rows = meta.get("trace_rows", 0)
    need(_is_int(rows) and rows >= 0, f"its trace_rows is {rows!r}")
    trace_arrays = [
        array("trace.loglik", "f", 1),
        array("trace.change", "f", 1),
        array("trace.seconds", "f", 1),
        array("trace.reseeded", "b", 1),
    ]
    moved = array("trace.moved", "b", 1) if "trace.moved" in arrays else None
    length = trace_arrays[0].size
    need(
        all(a.size == length for a in [*trace_arrays, *([moved] if moved is not None else [])]),
        "its trace arrays differ in length",
    )
    names = meta.get("feature_names")
    need(
        names is None
        or (isinstance(names, list) and len(names) == d and all(isinstance(n, str) for n in names)),
        f"its feature_names are not {d} names",
    )
    spec = meta.get("spec")
    need(isinstance(spec, dict), "its spec is not an object")
    _check_spec(spec, need)
    events = meta.get("events", [])
    need(isinstance(events, list) and all(isinstance(e, dict) for e in events), "its events")
    categories = meta.get("categories")
    need(
        categories is None
        or (
            isinstance(categories, dict)
            and all(isinstance(v, list) and len(v) <= MAX_LEVELS for v in categories.values())
        ),
        "its categories are not lists of levels",
    )
    trace = Trace(meta["initial_loglik"], *trace_arrays, rows=rows, moved=moved)
    return MixtureResult(
        weights=weights,
        components=tuple(components),
        loglik=float(meta["loglik"]),
        entropy=float(meta["entropy"]),
        n_obs=meta["n_obs"],
        n_iter=meta["n_iter"],
        converged=meta["converged"],
        trace=trace,
        feature_names=tuple(names) if names else None,
        spec=spec,
        events=tuple(Event(**e) for e in events),
        categories=(
            {str(col): tuple(levels) for col, levels in categories.items()} if categories else None
        ),
    )


def _check_spec(spec: dict[str, Any], need: Any) -> None:
    """The model options a result reuses (chunk size, regulariser, EM settings) are sane."""
    chunk = spec.get("chunk_size")
    need(chunk is None or (_is_int(chunk) and chunk >= 1), f"its chunk_size is {chunk!r}")
    for key in ("tol", "reg_covar"):
        value = spec.get(key, 0.0)
        need(_is_number(value) and math.isfinite(value) and value >= 0, f"its {key} is {value!r}")
    for key, low in (("max_iter", 0), ("n_init", 1)):
        value = spec.get(key, 1)
        need(_is_int(value) and value >= low, f"its {key} is {value!r}")
    init = spec.get("init", "short_em")
    need(isinstance(init, str), f"its init is {init!r}")
    seed = spec.get("random_state")
    need(seed is None or _is_int(seed), f"its random_state is {seed!r}")
