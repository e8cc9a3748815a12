"""Warnings and errors raised by mixem."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "DegenerateComponentWarning", "FitError", "ResultFileError"]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood change fell below ``tol``.

    The fit is still returned; inspect ``result.trace`` to judge how far it was from converging.
    It is not a subclass of scikit-learn's ``ConvergenceWarning``: scikit-learn is optional, so
    mixem cannot derive from its classes; a filter written for scikit-learn needs this class too.
    """


class DegenerateComponentWarning(UserWarning):
    """A component became empty or collapsed during EM; the message says what the engine did."""


class FitError(RuntimeError):
    """EM could not produce a valid fit (for example, components kept collapsing)."""


class ResultFileError(ValueError):
    """A file that :func:`mixem.load` cannot trust: damaged, malformed, or not a mixem result.

    The message names the file and what is wrong with it. Loading never runs code from a file
    and never defines a class.
    """
