"""Product families: rows whose columns have different types, each modelled by its own family.

Within a component the column groups are independent (local independence, as in latent-class
analysis), so the log density is the sum of the parts' log densities on their own columns, the
statistics are the parts' statistics side by side, and the M-step is each part's own.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from mixem.components.base import _REGISTRY, Component, _qualified_name, component_class
from mixem.components.stats import Stats

__all__ = ["Product", "ProductStats"]

Parts = tuple[tuple[type[Component], tuple[int, ...]], ...]


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


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets (part names may be variants with brackets)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _check_parts(parts: tuple[Any, ...]) -> Parts:
    if not parts:
        raise ValueError("Product.of needs at least one (family, columns) part")
    checked = []
    seen: dict[int, int] = {}
    for i, part in enumerate(parts):
        if not (isinstance(part, tuple | list) and len(part) == 2):
            raise TypeError(f"part {i} must be a (family, columns) pair, got {part!r}")
        family, columns = part
        if not (isinstance(family, type) and issubclass(family, Component)):
            raise TypeError(
                f"part {i}: the family must be a Component subclass such as mixem.Poisson, "
                f"got {family!r}"
            )
        if getattr(family, "__abstractmethods__", None):
            raise TypeError(f"part {i}: {family.__name__} is abstract; use a concrete family")
        if isinstance(columns, numbers.Integral):
            columns = [columns]
        cols = list(columns)
        if not cols:
            raise ValueError(f"part {i} ({family.__name__}) has no columns")
        for c in cols:
            if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
                raise ValueError(
                    f"part {i} ({family.__name__}): columns must be non-negative integers, "
                    f"got {c!r}"
                )
            if int(c) in seen:
                raise ValueError(
                    f"column {int(c)} is in part {seen[int(c)]} and in part {i} "
                    f"({family.__name__}); every column belongs to exactly one part"
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


class Product(Component):
    """Independent column groups, each modelled by its own family (local independence).

    Build a family with :meth:`Product.of`, e.g. ``Product.of((GaussianDiagonal, [0, 1]),
    (Poisson, [2]), (Bernoulli, [3, 4]))``, and use it as any other:
    ``MixtureModel(Mixed, n_components=3)``. Component ``j`` of the product has part ``i``'s
    component ``j`` on part ``i``'s columns.

    Parameters
    ----------
    **params : array-like
        Every part's parameters, part ``i``'s named ``part{i}_{name}`` (as :meth:`params`
        returns them), e.g. ``part0_means``, ``part1_rates``.

    Notes
    -----
    The log density is the sum of the parts' log densities on their columns; the statistics are
    the parts' (:class:`ProductStats`, parameter-dependent ones included); the M-step is each
    part's; ``n_parameters`` is the sum. Each part sees only its own columns: its data checks,
    ``min_count`` (the largest of the parts'), collapse and spurious flags (any part's) and
    start smoothing (the largest) are the parts'. The family is ``discrete`` when every part is.
    Parameter dimensions other than ``component`` carry the part's prefix (``part0_feature``):
    a part's feature ``j`` is its ``j``-th column, not the data's.
    """

    #: The parts: (family, columns) pairs. Empty on ``Product`` itself.
    parts: ClassVar[Parts] = ()

    def __init__(self, **params: Any) -> None:
        cls = type(self)
        if not cls.parts:
            raise TypeError("Product is a template: build a family with Product.of(...)")
        per_part: list[dict[str, Any]] = [{} for _ in cls.parts]
        for key, value in params.items():
            head, _, name = key.partition("_")
            index = head[4:] if head.startswith("part") else ""
            if not (index.isdigit() and int(index) < len(cls.parts) and name):
                raise TypeError(
                    f"{cls.__name__} got an unexpected parameter {key!r}; parameters are named "
                    f"part{{i}}_{{name}} for i < {len(cls.parts)}"
                )
            per_part[int(index)][name] = value
        comps = []
        for i, ((family, _), p) in enumerate(zip(cls.parts, per_part, strict=True)):
            try:
                comps.append(family(**p))
            except (TypeError, ValueError) as err:
                raise type(err)(f"part {i} ({family.__name__}): {err}") from err
        self._set_parts(comps)

    def _set_parts(self, comps: Sequence[Component]) -> None:
        k = {c.n_components for c in comps}
        if len(k) != 1:
            raise ValueError(
                f"the parts have different numbers of components {[c.n_components for c in comps]}"
            )
        for i, (comp, (family, cols)) in enumerate(zip(comps, type(self).parts, strict=True)):
            if comp.n_features != len(cols):
                raise ValueError(
                    f"part {i} ({family.__name__}) has {comp.n_features} features for its "
                    f"{len(cols)} columns {list(cols)}"
                )
        self._parts = tuple(comps)

    @classmethod
    def _from_parts(cls, comps: Sequence[Component]) -> Self:
        out = cls.__new__(cls)
        out._set_parts(comps)
        return out

    @classmethod
    def of(cls, *parts: tuple[type[Component], Sequence[int] | int]) -> type[Product]:
        """The product family of ``parts``, each a ``(family, columns)`` pair.

        Parameters
        ----------
        *parts : (Component subclass, sequence of int)
            A family and the data columns it models. Together the columns must cover ``0 ..
            D - 1`` exactly once.

        Returns
        -------
        type
            A :class:`Product` subclass. Its qualified name spells out the parts
            (``Product[module.Family:0,1;...]``), so the same parts give the same class and a
            saved model loads it by that name.

        Raises
        ------
        ValueError
            When columns overlap, are negative or leave a gap; ``TypeError`` when a part is not
            a family.
        """
        checked = _check_parts(parts)
        spelled = ";".join(
            f"{_qualified_name(f)}:{','.join(map(str, cols))}" for f, cols in checked
        )
        qualname = f"Product[{spelled}]"
        key = f"{Product.__module__}.{qualname}"
        if key in _REGISTRY:
            return _REGISTRY[key]  # type: ignore[return-value]
        dims = {}
        for i, (family, _) in enumerate(checked):
            for name, names in family.param_dims.items():
                dims[f"part{i}_{name}"] = tuple(
                    n if n == "component" else f"part{i}_{n}" for n in names
                )
        short = ", ".join(f"{f.__name__}{list(cols)}" for f, cols in checked)
        namespace = {
            "__qualname__": qualname,
            "__module__": Product.__module__,
            "__doc__": f"Independent column groups: {short}.",
            "parts": checked,
            "param_dims": dims,
            "start_smoothing": max(f.start_smoothing for f, _ in checked),
            "discrete": all(f.discrete for f, _ in checked),
            "accepts_categories": any(f.accepts_categories for f, _ in checked),
        }
        return type(f"Product({short})", (Product,), namespace)

    @classmethod
    def _variant(cls, config: str) -> type[Component]:
        if cls is not Product:
            return super()._variant(config)
        parts = []
        for text in _split_top_level(config, ";"):
            name, _, cols = text.rpartition(":")
            parts.append((component_class(name), [int(c) for c in cols.split(",")]))
        return cls.of(*parts)

    @classmethod
    def _columns(cls) -> list[slice | np.ndarray]:
        """Each part's columns: a slice when contiguous (a view, no copy)."""
        out: list[slice | np.ndarray] = []
        for _, cols in cls.parts:
            if list(cols) == list(range(cols[0], cols[0] + len(cols))):
                out.append(slice(cols[0], cols[0] + len(cols)))
            else:
                out.append(np.array(cols))
        return out

    @property
    def components(self) -> tuple[Component, ...]:
        """The parts' components, in the order of :attr:`parts`."""
        return self._parts

    @property
    def n_components(self) -> int:
        """Number of stacked components ``k``."""
        return self._parts[0].n_components

    @property
    def n_features(self) -> int:
        """Number of data columns ``D``, over all parts."""
        return sum(len(cols) for _, cols in type(self).parts)

    def params(self) -> dict[str, np.ndarray]:
        """Every part's parameters, part ``i``'s prefixed ``part{i}_``."""
        return {
            f"part{i}_{name}": value
            for i, comp in enumerate(self._parts)
            for name, value in comp.params().items()
        }

    def n_parameters(self) -> int:
        """The sum of the parts' free parameters."""
        return int(sum(c.n_parameters() for c in self._parts))

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """The sum of the parts' log densities on their columns, shape ``(n, k)``."""
        out = None
        for comp, cols in zip(self._parts, self._columns(), strict=True):
            logp = comp.log_prob(X[:, cols])
            out = logp if out is None else out + logp
        return out

    @classmethod
    def statistics(cls, X: np.ndarray, resp: np.ndarray) -> ProductStats:
        """The parts' statistics at a start, each on its own columns."""
        if not cls.parts:
            raise TypeError("Product is a template: build a family with Product.of(...)")
        return ProductStats(
            [
                f.statistics(X[:, c], resp)
                for (f, _), c in zip(cls.parts, cls._columns(), strict=True)
            ]
        )

    def expected_statistics(self, X: np.ndarray, resp: np.ndarray) -> ProductStats:
        """The parts' E-step statistics at their current parameters."""
        return ProductStats(
            [
                comp.expected_statistics(X[:, c], resp)
                for comp, c in zip(self._parts, self._columns(), strict=True)
            ]
        )

    @classmethod
    def from_statistics(cls, stats: ProductStats, *, reg_covar: float = 0.0) -> Self:
        """Each part's M-step on its statistics."""
        comps = []
        for i, ((family, _), s) in enumerate(zip(cls.parts, stats.parts, strict=True)):
            try:
                comps.append(family.from_statistics(s, reg_covar=reg_covar))
            except ValueError as err:
                raise ValueError(f"part {i} ({family.__name__}): {err}") from err
        return cls._from_parts(comps)

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``, each part filling its columns."""
        counts = np.asarray(counts, dtype=int)
        out = np.empty((int(counts.sum()), self.n_features))
        for comp, cols in zip(self._parts, self._columns(), strict=True):
            out[:, cols] = comp.sample(counts, rng)
        return out

    @classmethod
    def check_data(cls, X: np.ndarray) -> None:
        """The parts' checks, each on its own columns; the number of columns must match."""
        if not cls.parts:
            raise TypeError("Product is a template: build a family with Product.of(...)")
        d = sum(len(cols) for _, cols in cls.parts)
        if X.shape[1] != d:
            raise ValueError(f"{cls.__name__} models {d} columns, X has {X.shape[1]}")
        for i, ((family, cols), c) in enumerate(zip(cls.parts, cls._columns(), strict=True)):
            try:
                family.check_data(X[:, c])
            except ValueError as err:
                raise ValueError(
                    f"part {i} ({family.__name__}) on X columns {list(cols)} "
                    f"(its features 0 .. {len(cols) - 1}): {err}"
                ) from err

    @classmethod
    def min_count(cls, n_features: int) -> float:
        """The largest of the parts' minimum rows."""
        return max((f.min_count(len(cols)) for f, cols in cls.parts), default=1.0)

    @classmethod
    def floats_per_row(cls, n_features: int) -> int:
        """The parts' temporaries, plus a copy of the columns they see."""
        return sum(f.floats_per_row(len(cols)) + len(cols) for f, cols in cls.parts)

    @classmethod
    def collapsed(cls, stats: ProductStats) -> np.ndarray:
        """Components that any part flags as collapsed."""
        flags = [f.collapsed(s) for (f, _), s in zip(cls.parts, stats.parts, strict=True)]
        return np.logical_or.reduce(flags)

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Components that any part flags as spurious."""
        return np.logical_or.reduce([c.spurious(counts, reg_covar) for c in self._parts])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components})"
