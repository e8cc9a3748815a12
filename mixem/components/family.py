"""Families as values: a family holds its hyperparameters; fitted parameters are a record.

A :class:`Family` is an immutable dataclass instance, ``StudentT(dof=4.0)`` or
``Gaussian("VEV")``; equal configurations are equal families. Its fitted parameters are a
:class:`Components` record: named arrays with a leading component axis, bound to the family
that reads them. A new family says only what it alone can say::

    log_prob(params, X) -> (n, k)              # log density of every row under every component
    statistics(X, resp, params=None) -> Stats  # weighted sufficient statistics
    m_step(stats, *, reg_covar=0.0, previous=None) -> dict of arrays   # the M-step
    n_parameters(params) -> int                # free parameters, for BIC and AIC

Everything else is derived here once: shapes from the record, the engine's calls (the record's
``log_prob(X)``, a family's ``from_statistics``), saving (a family is its name and its
configuration). Optional capabilities (:meth:`Family.sample`, :meth:`Family.moments`, data
checks, degeneracy tests) have defaults or raise an error that names the family.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from mixem.components.stats import Stats

__all__ = [
    "Components",
    "Family",
    "MissingCapability",
    "as_family",
    "family_from_spec",
    "family_name",
    "elliptical_of",
    "moments_of",
    "updated",
    "with_params",
]


class MissingCapability(NotImplementedError):
    """A family was asked for an optional capability it does not implement."""


@dataclasses.dataclass(frozen=True)
class Family(ABC):
    """Base class of component families; subclasses are frozen dataclasses of hyperparameters.

    Write a family as ``@dataclasses.dataclass(frozen=True) class MyFamily(Family): ...`` with
    its hyperparameters as fields (none at all is fine) and the four abstract methods. Run
    :func:`mixem.testing.check_component` on it.
    """

    #: Share of uniform responsibility mixed into the hard assignments that start a fit (see
    #: the discrete families, which need it: EM cannot move a probability away from 0).
    start_smoothing: ClassVar[float] = 0.0
    #: Whether the data are integers, so that plots draw the density at the integers.
    discrete: ClassVar[bool] = False
    #: Whether the family models category codes (a model holding it accepts pandas
    #: categorical columns).
    accepts_categories: ClassVar[bool] = False
    #: Dimension names of the parameter arrays (``"component"`` for the leading axis); arrays
    #: not named here get ``("component", "<name>_dim1", ...)``.
    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Attributes of a component record that the family derives from the arrays: record
    #: attribute name to the name of a family method taking the record
    #: (``components.n_levels`` calls ``family.n_levels(components)``).
    derived: ClassVar[dict[str, str]] = {}
    #: Whether components of several fits can be stacked into one record of this family
    #: (every parameter has a leading component axis and every component's statistics are
    #: its own), so that the engine runs many fits at once (:mod:`mixem.components.stack`).
    stackable: ClassVar[bool] = False
    #: Most components of the family one model may hold (None: no limit), such as the one
    #: background component of :class:`~mixem.UniformNoise`.
    max_components: ClassVar[int | None] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Family:
        """A new family; refuses parameter arrays, which belong to :meth:`components`."""
        params = cls.__dict__.get("__dataclass_params__")
        if params is None or not params.frozen:
            # Equality, hashing, labels and saved files read the dataclass fields: a subclass
            # that is not a frozen dataclass of its own would compare equal to any other.
            raise TypeError(
                f"{cls.__name__} must be a frozen dataclass: decorate it with "
                "@dataclasses.dataclass(frozen=True) (its fields are the family's settings)"
            )
        # Families took parameter arrays once (``GaussianFull(means, covariances)``).
        if any(_numeric_array(v) for v in (*args, *kwargs.values())):
            try:
                names = ", ".join(f"{name}=..." for name in cls().param_dims)
            except Exception:  # noqa: BLE001 (a family without a default: no names to show)
                names = "..."
            raise TypeError(
                f"{cls.__name__}(...) takes the family's settings, not parameter arrays; build "
                f"components with mixem.{cls.__name__}().components({names})"
            )
        return super().__new__(cls)

    # -- the contract ---------------------------------------------------------------------
    @abstractmethod
    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """Log density of every row of ``X`` under every component, shape ``(n, k)``."""

    @abstractmethod
    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> Stats:
        """Weighted sufficient statistics of rows ``X`` with responsibilities ``resp`` (n, k).

        ``params`` are the current parameters in EM's E-step, None at a start (families whose
        statistics do not depend on them ignore it). The result must merge:
        ``statistics(A ∪ B) == statistics(A) + statistics(B)``, also for an empty chunk.
        """

    @abstractmethod
    def m_step(
        self, stats: Stats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> Mapping[str, np.ndarray]:
        """The parameters that maximise the expected log-likelihood given ``stats``.

        ``reg_covar`` is the model's regulariser and ``previous`` the current parameters (a
        start for an M-step that iterates); families that need neither ignore them. Raise
        ``ValueError`` naming the component whose parameters are undefined.
        """

    @abstractmethod
    def n_parameters(self, params: Components) -> int:
        """Number of free parameters of all ``k`` components (for BIC and AIC)."""

    # -- optional capabilities --------------------------------------------------------------
    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``; rows of component 0 come first."""
        raise self._missing("sampling (sample)")

    def moments(self, params: Components) -> tuple[np.ndarray, np.ndarray]:
        """Every component's mean ``(k, d)`` and covariance matrix ``(k, d, d)``.

        Covariance ellipses and condition numbers need them.
        """
        raise self._missing("moments (means and covariance matrices)")

    def elliptical(self, params: Components) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Centres ``(k, d)``, shape matrices ``(k, d, d)`` and radial distributions.

        For an elliptical family, component ``j``'s squared Mahalanobis distance
        ``(x - c_j)' S_j^{-1} (x - c_j)`` of its own rows follows the ``j``-th distribution (a
        frozen :mod:`scipy.stats` distribution): chi-squared(d) for a Gaussian, ``d F(d, nu)``
        for a Student t. The QQ plot, Mahalanobis distances and the normality test need it.
        """
        raise self._missing("an elliptical form (centres, shape matrices, radial laws)")

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate parameter arrays given by a user (``init_params``, a loaded file).

        Return them (converted as needed) or raise ``ValueError`` naming the array at fault.
        The default checks that they are finite numeric arrays with one leading component
        axis.
        """
        out = {}
        k = None
        for name, value in arrays.items():
            try:
                arr = np.array(value, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(
                    f"{name} must be a numeric array, got {type(value).__name__}"
                ) from err
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinite values")
            out[name] = arr
            if not self._per_component(name):
                continue  # an array the components share (a tied covariance)
            if arr.ndim == 0 or arr.shape[0] == 0:
                raise ValueError(f"{name} must have a leading component axis, got {arr.shape}")
            if k is not None and arr.shape[0] != k:
                raise ValueError(f"{name} describes {arr.shape[0]} components, the others {k}")
            k = arr.shape[0]
        return out

    def _per_component(self, name: str) -> bool:
        """Whether array ``name`` has a leading component axis (per :attr:`param_dims`)."""
        dims = self.param_dims.get(name)
        return dims is None or (len(dims) > 0 and dims[0] == "component")

    def n_components(self, params: Components) -> int:
        """Components ``k`` the parameters describe.

        The leading axis of the first array that :attr:`param_dims` gives a component axis
        (an array it does not name has one).
        """
        for name, arr in params.params().items():
            if self._per_component(name):
                return int(arr.shape[0])
        raise ValueError(f"{self.label} parameters have no array with a component axis")

    def check_data(self, X: np.ndarray) -> None:  # noqa: B027 (optional, accepts everything)
        """Raise ``ValueError`` naming the problem if this family cannot model ``X``."""

    def min_count(self, n_features: int) -> float:
        """Fewest effective rows a component needs; below it the engine re-seeds it."""
        return 1.0

    def min_rows(self, n_features: int, k: int) -> float:
        """Fewest rows ``k`` components of the family need together.

        The default is ``k`` times :meth:`min_count`.
        """
        return k * self.min_count(n_features)

    def floats_per_row(self, n_features: int) -> int:
        """Float64 temporaries per row of ``log_prob`` and ``statistics`` (sizes chunks)."""
        return 2 * n_features

    def collapsed(self, stats: Stats) -> np.ndarray:
        """Which components' statistics describe a collapse (the engine re-seeds them)."""
        return np.zeros(next(iter(stats.arrays().values())).shape[0], dtype=bool)

    def spurious(self, params: Components, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Which components look like a spurious maximiser (model selection excludes them)."""
        return np.zeros(params.n_components, dtype=bool)

    def n_features(self, params: Components) -> int:
        """Data columns the parameters describe.

        The second axis of the first array with a component axis (see :meth:`n_components`),
        or 1.
        """
        arrays = params.params()
        first = next((a for name, a in arrays.items() if self._per_component(name)), None)
        if first is None:
            first = next(iter(arrays.values()))
        return int(first.shape[1]) if first.ndim > 1 else 1

    # -- derived -------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """Short name for tables and messages: the class name, and its non-default settings."""
        settings = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.init and getattr(self, f.name) != f.default
        )
        return f"{type(self).__name__}({settings})" if settings else type(self).__name__

    @property
    def name(self) -> str:
        """``module.QualName`` of the family's class, as a saved file names it."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def config(self) -> dict[str, Any]:
        """The hyperparameters, as the constructor's keyword arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def spec(self) -> dict[str, Any]:
        """The family as a saved file names it: ``{"name": ..., "config": ...}``."""
        return {"name": self.name, "config": self.config()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Family:
        """The family that :meth:`config` described (as a saved file holds it)."""
        return cls(**config)

    def components(self, **arrays: Any) -> Components:
        """A component stack of this family from parameter arrays (checked).

        For example ``mixem.Gaussian("VVI").components(means=m, covariances=v)``.
        """
        return Components(self, self.check_params(arrays))

    def from_statistics(
        self, stats: Stats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> Components:
        """The M-step's parameters as a component stack."""
        return Components(self, self.m_step(stats, reg_covar=reg_covar, previous=previous))

    def _stack(self, components: Any) -> Any:
        """Several fits' components as one stack of the engine's, or None (one at a time)."""
        if not self.stackable:
            return None
        from mixem.components.stack import Stack

        return Stack.of(components)

    def _derive(self, params: Components, name: str) -> Any:
        """Record attribute ``name`` that is no parameter array (see :attr:`derived`)."""
        method = self.derived.get(name)
        if method is None:
            raise AttributeError(
                f"{self.label} components have no parameter {name!r} "
                f"(they have {', '.join(params.params())})"
            )
        return getattr(self, method)(params)

    def _missing(self, what: str) -> MissingCapability:
        return MissingCapability(f"{self.label} does not implement {what}")


class Components:
    """``k`` fitted components of one family: its parameter arrays, bound to the family.

    The arrays are read-only and reachable as attributes (``components.means``); the family's
    methods are available bound to them (``components.log_prob(X)``). Build one from arrays
    with :meth:`Family.components`.

    Parameters
    ----------
    family : Family
    arrays : mapping of str to ndarray
        The parameters, each with a leading component axis (shared arrays, such as a tied
        covariance, may have none).
    """

    __slots__ = ("_arrays", "_cache", "family")

    def __init__(self, family: Family, arrays: Mapping[str, np.ndarray]) -> None:
        self.family = family
        frozen = {}
        for name, value in arrays.items():
            arr = np.asarray(value)
            if arr.dtype.kind not in "iu":  # integer arrays (category counts) stay integers
                arr = arr.astype(np.float64, copy=False)
            if arr.flags.writeable:
                arr = arr.view()
                arr.setflags(write=False)
            frozen[name] = arr
        self._arrays = frozen
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a parameter; and _arrays itself may not be set yet
            raise AttributeError(name)
        try:
            return self._arrays[name]
        except KeyError:
            return self.family._derive(self, name)

    def __getstate__(self) -> tuple[Family, dict[str, np.ndarray]]:
        return self.family, self._arrays

    def __setstate__(self, state: tuple[Family, dict[str, np.ndarray]]) -> None:
        self.family, self._arrays = state
        self._cache = {}

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per record (for factors that the family derives from arrays)."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute()
            return value

    def params(self) -> dict[str, np.ndarray]:
        """The named parameter arrays."""
        return dict(self._arrays)

    @property
    def n_components(self) -> int:
        """Number of components ``k`` (see :meth:`Family.n_components`)."""
        return self.cached("n_components", lambda: self.family.n_components(self))

    @property
    def n_features(self) -> int:
        """Number of data columns ``d``."""
        return self.family.n_features(self)

    @property
    def param_dims(self) -> dict[str, tuple[str, ...]]:
        """Dimension names of every parameter array."""
        named = self.family.param_dims
        return {
            name: named.get(name, ("component", *(f"{name}_dim{i}" for i in range(1, a.ndim))))
            for name, a in self._arrays.items()
        }

    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""
        return self.family.log_prob(self, X)

    def expected_statistics(self, X: np.ndarray, resp: np.ndarray) -> Stats:
        """The E-step's statistics at these parameters."""
        return self.family.statistics(X, resp, self)

    def n_parameters(self) -> int:
        """Free parameters of the ``k`` components."""
        return int(self.family.n_parameters(self))

    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """Draw ``counts[j]`` rows from component ``j``, component 0 first."""
        return self.family.sample(self, counts, rng)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Means ``(k, d)`` and covariance matrices ``(k, d, d)`` (if the family has them)."""
        return self.family.moments(self)

    def elliptical(self) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """Centres, shape matrices and radial distributions (if the family is elliptical)."""
        return self.family.elliptical(self)

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Which components look like a spurious maximiser."""
        return np.asarray(self.family.spurious(self, counts, reg_covar), dtype=bool)

    def __repr__(self) -> str:
        return (
            f"Components({self.family!r}, n_components={self.n_components}, "
            f"n_features={self.n_features})"
        )


def _numeric_array(value: Any) -> bool:
    """Whether ``value`` is an array of numbers (a parameter array, never a family setting)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if not isinstance(value, list):
        return False
    try:
        return np.asarray(value).dtype.kind in "biufc"
    except (TypeError, ValueError):  # ragged or mixed: not an array of numbers
        return False


def updated(family: Family, stats: Stats, reg_covar: float, previous: Any) -> Components:
    """The M-step of ``family``, starting from ``previous`` (the current components)."""
    return family.from_statistics(stats, reg_covar=reg_covar, previous=previous)


def with_params(components: Components, arrays: Mapping[str, np.ndarray]) -> Components:
    """Components of the same family as ``components`` with new parameter arrays (trusted)."""
    return Components(components.family, arrays)


def moments_of(components: Components) -> tuple[np.ndarray, np.ndarray] | None:
    """Means ``(k, d)`` and covariance matrices ``(k, d, d)``, or None if the family has none.

    The capability that ellipses, QQ plots and normality checks ask for.
    """
    try:
        return components.moments()
    except MissingCapability:
        return None


def elliptical_of(components: Components) -> tuple[np.ndarray, np.ndarray, list[Any]] | None:
    """:meth:`Family.elliptical` of ``components``, or None if their family has no such form."""
    try:
        return components.elliptical()
    except MissingCapability:
        return None


def family_name(family: Family) -> str:
    """The short name of a family, as tables and messages show it."""
    return family.label


def as_family(obj: Any, what: str = "component") -> Family:
    """A family value: ``obj`` itself, or a family class's default instance.

    A class written on the first contract (a :class:`~mixem.Component` subclass) becomes its
    :class:`~mixem.components.base.Legacy` adapter. Raise ``TypeError`` naming ``what``
    otherwise.
    """
    from mixem.components.base import Component, Legacy

    if isinstance(obj, Family):
        return obj
    if isinstance(obj, type) and issubclass(obj, Family | Component):
        if getattr(obj, "__abstractmethods__", None):
            raise TypeError(f"{what} {obj.__name__} is abstract; use a concrete family")
        if issubclass(obj, Component):
            return Legacy(obj)
        try:
            return obj()
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{what} {obj.__name__} has no default; pass a family value such as "
                f"{obj.__name__}(...): {err}"
            ) from err
    if isinstance(obj, Components | Component):
        label = obj.family.label
        raise TypeError(
            f"{what} must be a family, got components of {label}; pass the family itself, "
            f"e.g. {label}"
        )
    raise TypeError(f"{what} must be a family such as mixem.GaussianFull, got {obj!r}")


def family_from_spec(spec: Mapping[str, Any]) -> Family:
    """The family that :meth:`Family.spec` described.

    Its module is imported (installed or already imported code; nothing in a file runs).
    JSON turns tuples into lists: lists in the configuration become tuples again, so that the
    family stays hashable.
    """
    try:
        name, config = str(spec["name"]), dict(spec["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"a family entry must hold a name and a config, got {spec!r}") from err
    from mixem.components.base import component_class

    obj = component_class(name)
    if not issubclass(obj, Family):
        raise ValueError(f"{name!r} is not a component family")
    try:
        return obj.from_config({key: _tuples(value) for key, value in config.items()})
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid configuration of {name}: {config!r} ({err})") from err


def _tuples(value: Any) -> Any:
    """``value`` with every list (JSON's rendering of a tuple) made a tuple again."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value
