"""Product families: rows whose columns have different types, each modelled by its own family.

Within a component the column groups are independent (local independence, as in latent-class
analysis), so the log density is the sum of the parts' log densities on their own columns, the
statistics are the parts' statistics side by side, and the M-step is each part's own.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mixem.components.family import (
    Components,
    Family,
    as_family,
    family_from_spec,
    family_name,
    updated,
)
from mixem.components.stats import Stats

__all__ = ["Product", "ProductStats"]

Parts = tuple[tuple[Any, tuple[int, ...]], ...]


class ProductStats(Stats):
    """The parts' statistics side by side; every operation acts part by part.

    ``arrays()`` names part ``i``'s arrays ``part{i}_{name}``.
    """

    def __init__(self, parts: Sequence[Stats]) -> None:
        self.parts = tuple(parts)

    def merge(self, other: ProductStats) -> ProductStats:
        """Merge part by part."""
        return ProductStats([a.merge(b) for a, b in zip(self.parts, other.parts, strict=True)])

    def replace(self, mask: np.ndarray, other: ProductStats) -> ProductStats:
        """Replace the masked components part by part."""
        return ProductStats(
            [a.replace(mask, b) for a, b in zip(self.parts, other.parts, strict=True)]
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Every part's arrays, prefixed ``part{i}_``."""
        return {
            f"part{i}_{name}": value
            for i, part in enumerate(self.parts)
            for name, value in part.arrays().items()
        }


def _check_parts(parts: tuple[Any, ...]) -> Parts:
    if not parts:
        raise ValueError("Product needs at least one (family, columns) part")
    checked = []
    seen: dict[int, int] = {}
    for i, part in enumerate(parts):
        if not (isinstance(part, tuple | list) and len(part) == 2):
            raise TypeError(f"part {i} must be a (family, columns) pair, got {part!r}")
        family, columns = part
        family = as_family(family, f"part {i}:")
        name = family_name(family)
        if isinstance(columns, numbers.Integral):
            columns = [columns]
        cols = list(columns)
        if not cols:
            raise ValueError(f"part {i} ({name}) has no columns")
        for c in cols:
            if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
                raise ValueError(
                    f"part {i} ({name}): columns must be non-negative integers, got {c!r}"
                )
            if int(c) in seen:
                raise ValueError(
                    f"column {int(c)} is in part {seen[int(c)]} and in part {i} ({name}); "
                    "every column belongs to exactly one part"
                )
            seen[int(c)] = i
        checked.append((family, tuple(int(c) for c in cols)))
    missing = sorted(set(range(len(seen))) - set(seen))
    if missing:
        raise ValueError(
            f"the parts' columns must cover 0 .. {len(seen) - 1} ({len(seen)} columns given); "
            f"missing {missing}, out of range {sorted(c for c in seen if c >= len(seen))}"
        )
    return tuple(checked)


@dataclasses.dataclass(frozen=True, init=False)
class Product(Family):
    """Independent column groups, each modelled by its own family (local independence).

    ``Product((GaussianDiagonal(), [0, 1]), (Poisson(), [2]), (Bernoulli(), [3, 4]))`` is a
    family value, used as any other: ``MixtureModel(mixed, n_components=3)``. A part's family
    may be given as a class (its default instance). Component ``j`` of the product has part
    ``i``'s component ``j`` on part ``i``'s columns. :meth:`Product.of` is the same
    constructor.

    Parameters
    ----------
    *parts : (family, sequence of int)
        A family and the data columns it models. Together the columns must cover ``0 .. D -
        1`` exactly once; a part's feature ``j`` is its ``j``-th column.

    Raises
    ------
    ValueError
        When columns overlap, are negative or leave a gap; ``TypeError`` when a part is not a
        family.

    Notes
    -----
    The components' arrays are every part's, part ``i``'s named ``part{i}_{name}`` (e.g.
    ``part0_means``, ``part1_rates``); ``components.components`` holds each part's own
    components. The log density is the sum of the parts' log densities on their columns; the
    statistics are the parts' (:class:`ProductStats`, parameter-dependent ones included); the
    M-step is each part's; ``n_parameters`` is the sum. Each part sees only its own columns: its
    data checks, ``min_count`` (the largest of the parts'), collapse and spurious flags (any
    part's) and start smoothing (the largest) are the parts'. The family is ``discrete`` when
    every part is. Parameter dimensions other than ``component`` carry the part's prefix
    (``part0_feature``).
    """

    parts: Parts
    derived = {"components": "part_components"}  # noqa: RUF012 (a ClassVar of the base)

    def __init__(self, *parts: tuple[Any, Sequence[int] | int]) -> None:
        object.__setattr__(self, "parts", _check_parts(parts))

    @classmethod
    def of(cls, *parts: tuple[Any, Sequence[int] | int]) -> Product:
        """The product family of ``parts``, each a ``(family, columns)`` pair (the constructor)."""
        return cls(*parts)

    # -- naming and saving -------------------------------------------------------------
    @property
    def label(self) -> str:
        """``Product(GaussianDiagonal[0, 1], Poisson[2])``."""
        return "Product(" + ", ".join(f"{family_name(f)}{list(c)}" for f, c in self.parts) + ")"

    def config(self) -> dict[str, Any]:
        """The parts, each as its family's spec and its columns."""
        return {"parts": [[f.spec(), list(cols)] for f, cols in self.parts]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Product:
        """The product that :meth:`config` described."""
        if set(config) != {"parts"}:
            raise ValueError(f"a Product's configuration holds parts, got {sorted(config)}")
        return cls(*((family_from_spec(spec), cols) for spec, cols in config["parts"]))

    def __repr__(self) -> str:
        return self.label

    # -- what the parts say ------------------------------------------------------------
    @property
    def param_dims(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Every part's dimension names, prefixed as its arrays are."""
        dims = {}
        for i, (family, _) in enumerate(self.parts):
            for name, names in family.param_dims.items():
                dims[f"part{i}_{name}"] = tuple(
                    n if n == "component" else f"part{i}_{n}" for n in names
                )
        return dims

    @property
    def start_smoothing(self) -> float:  # type: ignore[override]
        """The largest of the parts'."""
        return max(f.start_smoothing for f, _ in self.parts)

    @property
    def discrete(self) -> bool:  # type: ignore[override]
        """Whether every part is discrete."""
        return all(f.discrete for f, _ in self.parts)

    @property
    def accepts_categories(self) -> bool:  # type: ignore[override]
        """Whether any part models category codes."""
        return any(f.accepts_categories for f, _ in self.parts)

    def _columns(self) -> list[slice | np.ndarray]:
        """Each part's columns: a slice when contiguous (a view, no copy)."""
        out: list[slice | np.ndarray] = []
        for _, cols in self.parts:
            if list(cols) == list(range(cols[0], cols[0] + len(cols))):
                out.append(slice(cols[0], cols[0] + len(cols)))
            else:
                out.append(np.array(cols))
        return out

    def _split(self, arrays: Mapping[str, Any]) -> list[dict[str, Any]]:
        per_part: list[dict[str, Any]] = [{} for _ in self.parts]
        for key, value in arrays.items():
            head, _, name = key.partition("_")
            index = head[4:] if head.startswith("part") else ""
            if not (index.isdigit() and int(index) < len(self.parts) and name):
                raise TypeError(
                    f"{self.label} got an unexpected parameter {key!r}; parameters are named "
                    f"part{{i}}_{{name}} for i < {len(self.parts)}"
                )
            per_part[int(index)][name] = value
        return per_part

    def part_components(self, params: Components) -> tuple[Any, ...]:
        """Each part's components, in the order of :attr:`parts`."""

        def build() -> tuple[Any, ...]:
            per_part = self._split(params.params())
            return tuple(Components(f, p) for (f, _), p in zip(self.parts, per_part, strict=True))

        return params.cached("parts", build)

    # -- the contract ---------------------------------------------------------------------
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """The sum of the parts' log densities on their columns, shape ``(n, k)``."""
        out = None
        for comp, cols in zip(self.part_components(params), self._columns(), strict=True):
            logp = comp.log_prob(X[:, cols])
            out = logp if out is None else out + logp
        return out

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> ProductStats:
        """The parts' statistics, each on its own columns (at ``params`` in the E-step)."""
        if params is None:
            return ProductStats(
                [
                    f.statistics(X[:, c], resp)
                    for (f, _), c in zip(self.parts, self._columns(), strict=True)
                ]
            )
        return ProductStats(
            [
                comp.expected_statistics(X[:, c], resp)
                for comp, c in zip(self.part_components(params), self._columns(), strict=True)
            ]
        )

    def m_step(
        self,
        stats: ProductStats,
        *,
        reg_covar: float = 0.0,
        previous: Components | None = None,
    ) -> dict[str, np.ndarray]:
        """Each part's M-step on its statistics (from its current parameters, if any)."""
        before = (
            self.part_components(previous) if previous is not None else (None,) * len(stats.parts)
        )
        out = {}
        for i, ((family, _), s, prev) in enumerate(
            zip(self.parts, stats.parts, before, strict=True)
        ):
            try:
                comp = updated(family, s, reg_covar, prev)
            except ValueError as err:
                raise ValueError(f"part {i} ({family_name(family)}): {err}") from err
            out.update({f"part{i}_{name}": v for name, v in comp.params().items()})
        return out

    def n_parameters(self, params: Components) -> int:
        """The sum of the parts' free parameters."""
        return int(sum(c.n_parameters() for c in self.part_components(params)))

    # -- capabilities ------------------------------------------------------------------
    def n_features(self, params: Components) -> int:
        """Number of data columns ``D``, over all parts."""
        return sum(len(cols) for _, cols in self.parts)

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every part's check on its arrays; the parts must agree on ``k`` and their columns."""
        comps = []
        for i, ((family, cols), p) in enumerate(zip(self.parts, self._split(arrays), strict=True)):
            name = family_name(family)
            try:
                comp = family.components(**p)
            except (TypeError, ValueError) as err:
                raise type(err)(f"part {i} ({name}): {err}") from err
            if comp.n_features != len(cols):
                raise ValueError(
                    f"part {i} ({name}) has {comp.n_features} features for its "
                    f"{len(cols)} columns {list(cols)}"
                )
            comps.append(comp)
        k = [c.n_components for c in comps]
        if len(set(k)) != 1:
            raise ValueError(f"the parts have different numbers of components {k}")
        return {
            f"part{i}_{name}": value
            for i, comp in enumerate(comps)
            for name, value in comp.params().items()
        }

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, each part filling its columns."""
        counts = np.asarray(counts, dtype=int)
        out = np.empty((int(counts.sum()), self.n_features(params)))
        for comp, cols in zip(self.part_components(params), self._columns(), strict=True):
            out[:, cols] = comp.sample(counts, rng)
        return out

    def check_data(self, X: np.ndarray) -> None:
        """The parts' checks, each on its own columns; the number of columns must match."""
        d = sum(len(cols) for _, cols in self.parts)
        if X.shape[1] != d:
            raise ValueError(f"{self.label} models {d} columns, X has {X.shape[1]}")
        for i, ((family, cols), c) in enumerate(zip(self.parts, self._columns(), strict=True)):
            try:
                family.check_data(X[:, c])
            except ValueError as err:
                raise ValueError(
                    f"part {i} ({family_name(family)}) on X columns {list(cols)} "
                    f"(its features 0 .. {len(cols) - 1}): {err}"
                ) from err

    def min_count(self, n_features: int) -> float:
        """The largest of the parts' minimum rows."""
        return max((f.min_count(len(cols)) for f, cols in self.parts), default=1.0)

    def floats_per_row(self, n_features: int) -> int:
        """The parts' temporaries, plus a copy of the columns they see."""
        return sum(f.floats_per_row(len(cols)) + len(cols) for f, cols in self.parts)

    def collapsed(self, stats: ProductStats) -> np.ndarray:
        """Components that any part flags as collapsed."""
        flags = [f.collapsed(s) for (f, _), s in zip(self.parts, stats.parts, strict=True)]
        return np.logical_or.reduce(flags)

    def spurious(self, params: Components, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components that any part flags as spurious."""
        return np.logical_or.reduce(
            [c.spurious(counts, reg_covar) for c in self.part_components(params)]
        )
