"""The EM engine: chunked E-passes, initialisation, the loop and its trace."""

from mixem.em.init import INIT_METHODS
from mixem.em.loop import EMRun, run_em
from mixem.em.trace import Trace, TraceRow

__all__ = ["INIT_METHODS", "EMRun", "Trace", "TraceRow", "run_em"]
