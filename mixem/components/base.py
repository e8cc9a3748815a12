"""The Component contract: what a component family must provide to be fitted by the EM engine."""

from __future__ import annotations

import copyreg
from abc import ABC, ABCMeta, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np

from mixem.components.stats import Stats

__all__ = ["Component", "component_class"]

_REGISTRY: dict[str, type[Component]] = {}


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def component_class(name: str) -> type[Component]:
    """Return the Component subclass registered under ``module.QualName``.

    Every subclass registers itself when its class statement runs, so a saved model whose family
    was defined by the user loads once that class has been defined or imported again. A name
    ``Base[config]`` names a variant that ``Base._variant(config)`` builds (families configured
    at class level, such as ``StudentT.with_dof(4.0)``, are named that way).
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    # A configured variant (``StudentT[dof=4.0]``, ``Product[...]``) is created on demand by its
    # base class, which parses the bracketed configuration that its name carries.
    base, bracket, config = name.partition("[")
    if bracket and config.endswith("]"):
        return component_class(base)._variant(config[:-1])
    # A family defined in a script is saved as ``__main__.Name``; elsewhere the same class is
    # imported under its module's name. Accept a unique match on the class name.
    qualname = name.rpartition(".")[2]
    matches = [cls for key, cls in _REGISTRY.items() if key.rpartition(".")[2] == qualname]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"unknown component class {name!r}; import or define it before loading"
        + (f" ({len(matches)} classes named {qualname!r} are defined)" if matches else "")
    )


class _Family(ABCMeta):
    """Metaclass of the component families; it only changes how a family class pickles."""


def _reduce_family(cls: _Family) -> str | tuple[Any, tuple[str]]:
    # A configured variant (``StudentT[dof=4.0]``) is no attribute of its module, so pickle
    # cannot find it by name: rebuild it from its name instead (process pools, e.g. select with
    # n_jobs > 1, send family classes and results to workers). Other classes pickle by name.
    if "[" in cls.__qualname__:
        return component_class, (_qualified_name(cls),)
    return cls.__qualname__


copyreg.pickle(_Family, _reduce_family)  # type: ignore[arg-type]


class Component(ABC, metaclass=_Family):
    """``k`` components of one family, their parameters stacked along a leading axis.

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
    def family(self) -> type[Component]:
        """The family of these components: for a legacy Component, its class."""
        return type(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[_qualified_name(cls)] = cls

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

    @classmethod
    def _stack(cls, components: Any) -> Any:
        """Several fits' components as one :class:`~mixem.components.stack.Stack`, or None.

        The default stacks families with ``stackable = True``; others run one fit at a time.
        """
        if not cls.stackable:
            return None
        from mixem.components.stack import Stack

        return Stack.of(components)

    @classmethod
    def _variant(cls, config: str) -> type[Component]:
        """The variant of this family named ``Name[config]`` (see :func:`component_class`)."""
        raise ValueError(f"{cls.__name__} has no variant {config!r}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_components={self.n_components}, n_features={self.n_features})"
        )
