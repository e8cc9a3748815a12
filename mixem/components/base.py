"""The first component contract, kept for families written on it: :class:`Component`.

New families subclass :class:`mixem.Family` (a value holding its hyperparameters; see
"Writing a component"). A subclass of :class:`Component` still fits: the engine sees it through
:class:`Legacy`, a family value that holds the class and calls its class methods and
constructor. Such a class is found by its ``module.QualName`` when a file is loaded; nothing
is registered and nothing is looked up by its bare name.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from scipy.stats import chi2

from mixem.components.family import Components, Family
from mixem.components.stats import Stats

__all__ = ["Component", "Legacy", "component_class"]


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def component_class(name: str) -> type:
    """The family class (a :class:`~mixem.Family` or :class:`Component` subclass) ``name`` names.

    ``name`` is ``module.QualName``; the module is imported (installed or already imported
    code). There is no lookup by bare class name: a family defined in a script is saved as
    ``__main__.Name`` and loads where ``__main__`` defines it again.
    """
    module, _, qualname = name.rpartition(".")
    if "[" in name:
        raise ValueError(
            f"{name!r} names a configured family; families are values now, such as "
            "mixem.StudentT(dof=4.0) (mixem.load reads files that name them this way)"
        )
    try:
        if not module:
            raise ImportError(name)
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"unknown component class {name!r}; import or define it before loading"
        ) from err
    if not (isinstance(obj, type) and issubclass(obj, Family | Component)):
        raise ValueError(f"{name!r} is not a component family")
    return obj


class Component(ABC):
    """Deprecated: ``k`` components of one family on the first contract.

    Subclass :class:`mixem.Family` instead (see "Writing a component").

    A family states three things: its log density (:meth:`log_prob`), the weighted sufficient
    statistics it needs (:meth:`statistics`) and how to turn them into parameters
    (:meth:`from_statistics`). Initialisation, restarts, convergence, chunking and criteria are
    the engine's job. Objects are immutable: :meth:`from_statistics` returns a new one.

    Subclasses must also accept, as constructor keyword arguments, exactly the arrays that
    :meth:`params` returns, so that ``type(c)(**c.params())`` rebuilds ``c`` (this is how saved
    models load and how ``init_params`` start a fit). Run :func:`mixem.testing.check_component`
    on a new family.

    Attributes
    ----------
    param_dims : dict of str to tuple of str
        Dimension names of every array in :meth:`params` (``"component"`` for the leading axis),
        used by exporters and plots.
    """

    param_dims: ClassVar[dict[str, tuple[str, ...]]] = {}

    #: Share of uniform responsibility mixed into the hard assignments that start a fit (each
    #: row to its nearest seed, split-and-merge moves): row ``i`` gets ``(1 - s)`` to its own
    #: component and ``s / K`` to every component. Discrete families need ``s > 0``: a hard
    #: start gives them probabilities of exactly 0, and EM can never move a probability away
    #: from 0 (a row impossible under a component gets no responsibility for it).
    start_smoothing: ClassVar[float] = 0.0

    #: Whether the family's data are integers (counts, binary values, category codes), so
    #: that its density is a probability mass function: plots draw it at the integers.
    discrete: ClassVar[bool] = False

    #: Whether the family models integer codes of categories, so that a model holding it
    #: accepts pandas categorical columns (as their codes; the categories are kept in the result
    #: and new data are encoded against them).
    accepts_categories: ClassVar[bool] = False

    #: Whether components of several fits can be stacked into one stack of this family (every
    #: parameter has a leading component axis and every component's statistics are its own),
    #: so that the engine runs many fits at once (see :mod:`mixem.components.stack`).
    stackable: ClassVar[bool] = False

    @property
    def family(self) -> Legacy:
        """The family of these components: their class, as a family value."""
        return Legacy(type(self))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        warnings.warn(
            f"{cls.__name__} subclasses mixem.Component, whose contract is deprecated: write "
            "a mixem.Family (see 'Writing a component' in the docs); until then it fits "
            "through an adapter",
            DeprecationWarning,
            stacklevel=3,  # the class statement, past ABCMeta.__new__
        )

    @property
    @abstractmethod
    def n_components(self) -> int:
        """Number of stacked components ``k``."""

    @property
    @abstractmethod
    def n_features(self) -> int:
        """Number of data columns ``d``."""

    @abstractmethod
    def log_prob(self, X: np.ndarray) -> np.ndarray:
        """Log density of every row under every component, shape ``(n, k)``."""

    @classmethod
    @abstractmethod
    def statistics(cls, X: np.ndarray, resp: np.ndarray) -> Stats:
        """Weighted sufficient statistics of rows ``X`` with responsibilities ``resp`` (n, k).

        Must merge: ``statistics(A ∪ B) == statistics(A) + statistics(B)``, also for an empty
        chunk and for a column of zeros.
        """

    def expected_statistics(self, X: np.ndarray, resp: np.ndarray) -> Stats:
        """Statistics of the E-step at the current parameters (``self``).

        The EM engine calls this on the current components; initialisation calls the class
        method :meth:`statistics` (a start has no current parameters). The default returns
        ``statistics(X, resp)``. Families whose statistics depend on the current parameters
        override it: :class:`mixem.StudentT` weights rows by their expected latent scales, which
        come from the current means, scale matrices and degrees of freedom. It must merge like
        :meth:`statistics`, and its result must be accepted by :meth:`from_statistics`.
        """
        return type(self).statistics(X, resp)

    @classmethod
    @abstractmethod
    def from_statistics(cls, stats: Stats, *, reg_covar: float = 0.0) -> Self:
        """The M-step: parameters that maximise the expected log-likelihood given ``stats``.

        ``reg_covar`` is the model's regulariser; families without a covariance may ignore it.
        """

    @abstractmethod
    def n_parameters(self) -> int:
        """Number of free parameters of all ``k`` components (for BIC and AIC)."""

    @abstractmethod
    def sample(self, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw ``counts[j]`` rows from component ``j``; rows of component 0 come first."""

    @abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """Named parameter arrays; the constructor accepts them back as keyword arguments."""

    @classmethod
    def min_count(cls, n_features: int) -> float:
        """Fewest effective rows a component needs; below it the engine re-seeds the component.

        The default is one row. Families whose M-step needs more (a full covariance needs
        ``d + 1`` rows) override it.
        """
        return 1.0

    @classmethod
    def floats_per_row(cls, n_features: int) -> int:
        """Float64 temporaries per data row that ``log_prob`` and ``statistics`` allocate.

        The engine sizes its row chunks from it so that a chunk's working set stays in cache.
        The default, two per feature, suits kernels that hold a centred and a squared copy.
        """
        return 2 * n_features

    @classmethod  # noqa: B027 (an optional hook with a do-nothing default, not abstract)
    def check_data(cls, X: np.ndarray) -> None:
        """Raise ``ValueError`` naming the problem if this family cannot model ``X``.

        Called once per fit on the validated rows (finite floats, shape ``(n, d)``). The
        default accepts everything; e.g. a count family would reject negative values.
        """

    @classmethod
    def collapsed(cls, stats: Stats) -> np.ndarray:
        """Which components' statistics describe a collapse onto (near-)identical rows.

        Such a component's likelihood is a spike, not a fit; the engine re-seeds flagged
        components. The default flags nothing.
        """
        return np.zeros(next(iter(stats.arrays().values())).shape[0], dtype=bool)

    def spurious(self, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """Which components look like a spurious maximiser rather than a cluster.

        A spurious component sits on too few rows for its parameters (its likelihood is a
        spike on them); model selection excludes fits that have one. ``counts`` are the
        components' effective rows (weight times number of observations). The default flags
        nothing.
        """
        return np.zeros(self.n_components, dtype=bool)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_components={self.n_components}, n_features={self.n_features})"
        )


@dataclasses.dataclass(frozen=True)
class Legacy(Family):
    """A :class:`Component` subclass as a family value: the engine's view of the first contract.

    ``Legacy(MyComponent)`` calls the class's methods (its statistics, ``from_statistics`` and
    constructor); the class keeps its own checks. ``as_family`` wraps such classes, so they
    are given to :class:`~mixem.MixtureModel` as before.
    """

    component: type[Component]

    def __post_init__(self) -> None:
        if not (isinstance(self.component, type) and issubclass(self.component, Component)):
            raise TypeError(f"Legacy wraps a Component subclass, got {self.component!r}")

    # The class's own settings, read where the base has class attributes.
    @property
    def start_smoothing(self) -> float:  # type: ignore[override]
        """The class's ``start_smoothing``."""
        return float(self.component.start_smoothing)

    @property
    def discrete(self) -> bool:  # type: ignore[override]
        """The class's ``discrete``."""
        return bool(self.component.discrete)

    @property
    def accepts_categories(self) -> bool:  # type: ignore[override]
        """The class's ``accepts_categories``."""
        return bool(self.component.accepts_categories)

    @property
    def param_dims(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """The class's ``param_dims``."""
        return dict(self.component.param_dims)

    @property
    def label(self) -> str:
        """The class's name."""
        return self.component.__name__

    def config(self) -> dict[str, Any]:
        """The class, by its ``module.QualName``."""
        return {"component": _qualified_name(self.component)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Family:
        """The adapter of the class that :meth:`config` named."""
        found = component_class(str(config["component"]))
        if not issubclass(found, Component):
            raise ValueError(f"{config['component']!r} is not a Component subclass")
        return cls(found)

    def _object(self, params: Components) -> Component:
        return params.cached("legacy", lambda: self.component(**params.params()))

    def _derive(self, params: Components, name: str) -> Any:
        """The object's own attributes (a property of the class) read through the record."""
        return getattr(self._object(params), name)

    def log_prob(self, params: Components, X: np.ndarray) -> np.ndarray:
        """The object's ``log_prob``."""
        return self._object(params).log_prob(X)

    def statistics(
        self, X: np.ndarray, resp: np.ndarray, params: Components | None = None
    ) -> Stats:
        """The class's ``statistics``, or the object's ``expected_statistics`` in an E-step."""
        if params is None:
            return self.component.statistics(X, resp)
        return self._object(params).expected_statistics(X, resp)

    def m_step(
        self, stats: Stats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> dict[str, np.ndarray]:
        """The class's ``from_statistics``, as arrays."""
        return self.component.from_statistics(stats, reg_covar=reg_covar).params()

    def from_statistics(
        self, stats: Stats, *, reg_covar: float = 0.0, previous: Components | None = None
    ) -> Components:
        """The class's ``from_statistics``; the object it builds serves the next E-step."""
        fitted = self.component.from_statistics(stats, reg_covar=reg_covar)
        out = Components(self, fitted.params())
        out.cached("legacy", lambda: fitted)
        return out

    def n_parameters(self, params: Components) -> int:
        """The object's ``n_parameters``."""
        return int(self._object(params).n_parameters())

    def sample(self, params: Components, counts: np.ndarray, rng: np.random.Generator) -> Any:
        """The object's ``sample``."""
        return self._object(params).sample(counts, rng)

    def check_params(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The arrays as the class's constructor checks and keeps them."""
        return self.component(**arrays).params()

    def check_data(self, X: np.ndarray) -> None:
        """The class's ``check_data``."""
        self.component.check_data(X)

    def min_count(self, n_features: int) -> float:
        """The class's ``min_count``."""
        return float(self.component.min_count(n_features))

    def floats_per_row(self, n_features: int) -> int:
        """The class's ``floats_per_row``."""
        return int(self.component.floats_per_row(n_features))

    def collapsed(self, stats: Stats) -> np.ndarray:
        """The class's ``collapsed``."""
        return self.component.collapsed(stats)

    def spurious(self, params: Components, counts: np.ndarray, reg_covar: float) -> np.ndarray:
        """The object's ``spurious``."""
        return self._object(params).spurious(counts, reg_covar)

    def n_features(self, params: Components) -> int:
        """The object's ``n_features``."""
        return int(self._object(params).n_features)

    def n_components(self, params: Components) -> int:
        """The object's ``n_components``."""
        return int(self._object(params).n_components)

    @property
    def stackable(self) -> bool:  # type: ignore[override]
        """The class's ``stackable``: several fits' components stack into one object."""
        return bool(self.component.stackable)

    def moments(self, params: Components) -> tuple[np.ndarray, np.ndarray]:
        """The object's ``moments()``, if its class has them."""
        moments = getattr(self._object(params), "moments", None)
        if moments is None:
            raise self._missing("moments (means and covariance matrices)")
        return moments()

    def elliptical(self, params: Components) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        """The object's moments with chi-squared(d) laws, as the first contract read them."""
        means, covs = self.moments(params)
        return means, covs, [chi2(means.shape[1])] * means.shape[0]
