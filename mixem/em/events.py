"""What happened during a fit, as data: the engine records events, it never warns.

Warning filters are process-global and not thread-safe, so the engine neither issues nor catches
warnings; the public entry points (:meth:`mixem.MixtureModel.fit`) turn the events of the kept
run into warnings once, at the caller's line, and studies turn them into notes of their table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["KINDS", "Event"]

#: ``"reseed"``: a degenerate component was re-seeded from the worst-fitted rows;
#: ``"recovery"``: a component that kept degenerating was re-seeded with half of the heaviest
#: component instead (see :func:`mixem.em.loop.m_step`);
#: ``"decrease"``: the log-likelihood decreased where EM cannot decrease it;
#: ``"not_converged"``: the run stopped at ``max_iter``; ``"run_failed"``: a restart failed and
#: another one was kept.
KINDS = ("reseed", "recovery", "decrease", "not_converged", "run_failed")


@dataclass(frozen=True)
class Event:
    """One thing worth knowing about a fit.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    message : str
        A sentence for the user (the text of the warning it becomes).
    iteration : int or None
        The EM iteration (of the run's trace) it happened in.
    component : int or None
        The component concerned.
    run : int or None
        The restart it belongs to, when a fit has several.
    """

    kind: str
    message: str
    iteration: int | None = None
    component: int | None = None
    run: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Event.kind must be one of {KINDS}, got {self.kind!r}")


def decrease_event(drop: float, iteration: int) -> Event:
    """The event of a log-likelihood that fell by ``drop`` per row in ``iteration``."""
    return Event(
        "decrease",
        f"the log-likelihood decreased by {drop:.3g} per row at iteration {iteration}; "
        "EM should never do this: please report it with the data and settings",
        iteration=iteration,
    )


def rounded_down(value: float) -> str:
    """``value`` to 3 significant digits, rounded down: never shown as the bound it is below."""
    if not value > 0:
        return "0"
    scale = 10.0 ** (2 - math.floor(math.log10(value)))
    return f"{math.floor(value * scale) / scale:g}"
