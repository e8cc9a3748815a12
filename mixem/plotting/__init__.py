"""Matplotlib figures of fitted mixtures and model-selection studies.

Reached as ``result.plot.<name>()`` and ``selection.plot.<name>()``. Every plot takes an
optional ``ax``, returns the Axes (or the Figure, for plots with several panels) and never
calls ``plt.show()``; colours follow matplotlib's property cycle (component ``k`` is ``"Ck"``),
so style sheets apply. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mixem.result import MixtureResult
    from mixem.selection import SelectionResult

__all__ = ["ResultPlots", "SelectionPlots"]


class ResultPlots:
    """Plots of one fitted mixture: ``result.plot.density()``, ``result.plot.trace()``, ...

    Plots of the data (``density``, ``uncertainty``, ``qq``) use the rows the result was
    fitted on; a result loaded from disk needs them as ``X=``.
    """

    def __init__(self, result: MixtureResult) -> None:
        self._result = result

    def _rows(self, X: Any, name: str) -> tuple[Any, Any]:
        """Rows to draw and their weights.

        The training rows come with the fit's ``sample_weight`` (a weighted fit is drawn over
        its weighted data); rows given as ``X`` are unweighted.
        """
        rows = self._result._training_rows(X, f"plot.{name}")
        training = self._result._training
        weights = training[1] if X is None and training is not None else None
        return rows, weights

    def density(
        self, X: Any = None, *, features: Any = None, ax: Axes | None = None
    ) -> Axes | Figure:
        """The fitted density over the data.

        One feature: a histogram with the mixture density and every weighted component
        ``pi_k p_k(x)``. Two features: the rows coloured by their most probable component, the
        mixture's log-density contours and, for Gaussian families, every component's 1- and
        2-sd covariance ellipses. More: a pairs grid (scatter and ellipses off the diagonal,
        histograms with marginal densities on it).

        Parameters
        ----------
        X : array-like of shape (n, d), optional
            Rows to show; by default the training rows.
        features : sequence of str or int, optional
            Features to show (names or positions). One or two give a single panel of the
            marginal density (Gaussian families); more give a pairs grid of those features.
        ax : matplotlib Axes, optional
            Where to draw a single panel; a pairs grid makes its own figure.

        Returns
        -------
        matplotlib.axes.Axes or matplotlib.figure.Figure
            The Axes of a single panel, the Figure of a pairs grid.
        """
        from mixem.plotting.density import density

        return density(self._result, *self._rows(X, "density"), features=features, ax=ax)

    def trace(self, *, ax: Sequence[Axes] | None = None) -> Figure:
        """The convergence trace of the fit's EM run.

        Top: the log-likelihood after every iteration (iteration 0 is the start; re-seeded
        iterations are marked). Bottom: the absolute change of the mean log-likelihood per row
        on a log scale, with the tolerance. With the default ``init="short_em"`` the run is the
        one from the search's winning start.

        Parameters
        ----------
        ax : pair of matplotlib Axes, optional
            Where to draw the two panels.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from mixem.plotting.trace import trace

        return trace(self._result, ax=ax)

    def uncertainty(self, X: Any = None, *, ax: Axes | None = None) -> Axes:
        """Classification uncertainty ``1 - max_k r_ik``, one point per observation.

        Two features: the data, with uncertain rows larger and darker (as mclust's uncertainty
        plot). One feature: uncertainty against the value. More: the uncertainties sorted,
        coloured by class.

        Parameters
        ----------
        X : array-like of shape (n, d), optional
            Rows to show; by default the training rows.
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        from mixem.plotting.uncertainty import uncertainty

        return uncertainty(self._result, *self._rows(X, "uncertainty"), ax=ax)

    def qq(self, X: Any = None, *, ax: Axes | None = None) -> Axes:
        """QQ plot of every component's squared Mahalanobis distances against chi-squared(d).

        Every row counts with its responsibility for the component (its quantiles are those of
        the responsibility-weighted distances, one point per effective row), as in the
        normality test of :meth:`MixtureResult.diagnostics`: under the model they are
        chi-squared(d) whether or not clusters overlap. Drawn by statsmodels'
        :class:`~statsmodels.graphics.gofplots.ProbPlot`; points on the identity line mean a
        Gaussian cluster. A uniform cluster bends below it at the top (light tails), a
        heavy-tailed one above. Gaussian families only.

        Parameters
        ----------
        X : array-like of shape (n, d), optional
            Rows to show; by default the training rows (with the fit's ``sample_weight``).
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        from mixem.plotting.qq import qq

        return qq(self._result, *self._rows(X, "qq"), ax=ax)

    def intervals(
        self,
        parameter: str | None = None,
        *,
        table: pd.DataFrame | None = None,
        draws: int = 200,
        level: float = 0.95,
        random_state: Any = None,
        ax: Axes | None = None,
    ) -> Axes | Figure:
        """Every parameter's estimate with its weighted-bootstrap interval.

        Parameters
        ----------
        parameter : str, optional
            One parameter to show, e.g. ``"means"``; by default all, one panel each.
        table : pandas.DataFrame, optional
            A table of :meth:`MixtureResult.standard_errors` (or
            ``result.diagnostics().standard_errors``) to show instead of drawing anew.
        draws, level, random_state
            As in :meth:`MixtureResult.standard_errors` with ``method="bootstrap"``.
        ax : matplotlib Axes, optional
            Where to draw a single parameter's panel.

        Returns
        -------
        matplotlib.axes.Axes or matplotlib.figure.Figure
            The Axes of one panel, the Figure of several.
        """
        from mixem.plotting.intervals import intervals

        if table is None:
            table = self._result.standard_errors(
                "bootstrap", level=level, draws=draws, random_state=random_state
            )
        return intervals(table, parameter=parameter, ax=ax)


class SelectionPlots(ResultPlots):
    """Plots of a model-selection study: ``criterion``, and every plot of the chosen fit."""

    def __init__(self, selection: SelectionResult) -> None:
        super().__init__(selection.best)
        self._selection = selection

    def criterion(self, criterion: str | None = None, *, ax: Axes | None = None) -> Axes:
        """Criterion against K, one line per family, the chosen model circled.

        As mclust's BIC plot, except that mixem's criteria are lower-is-better (mclust's BIC
        has the opposite sign); the axis label says which. Cells excluded as spurious are
        drawn as crosses, failed cells are left out.

        Parameters
        ----------
        criterion : {"bic", "aic", "icl", "cv"}, optional
            By default the study's own criterion. The best cell of another criterion is
            circled.
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib.axes.Axes
        """
        from mixem.plotting.criteria import criterion as plot_criterion

        return plot_criterion(self._selection, criterion, ax=ax)
