"""The EM engine: one entry point, :func:`fit`, and the pieces it is made of.

:func:`fit` runs every restart (a search, single starts or given starts) of one
:class:`Structure` on one data set under one :class:`Settings` and returns a
:class:`FitRecord`; it never warns (its events are data). The passes over the data, the
initialisations, the EM loop and the search live in the submodules.
"""

from mixem.em.engine import FitRecord, fit, fit_reweighted
from mixem.em.events import Event
from mixem.em.init import INIT_METHODS
from mixem.em.loop import EMRun, RunError, run_em
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Start, Structure
from mixem.em.trace import Trace, TraceRow

__all__ = [
    "INIT_METHODS",
    "EMRun",
    "Event",
    "FitRecord",
    "RunError",
    "SearchSettings",
    "Settings",
    "Start",
    "Structure",
    "Trace",
    "TraceRow",
    "fit",
    "fit_reweighted",
    "run_em",
]
