"""Criterion curves of a model-selection study against K, one line per family."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixem.plotting._common import colour, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from mixem.selection import SelectionResult

__all__ = ["criterion"]

#: Markers of the families' lines: with more families than colours (ten), marker and colour
#: together tell each line apart, as mclust's BIC plot does for its fourteen models.
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p", "d", "8")
#: From this many families on, the legend goes beside the axes in two columns.
MANY_FAMILIES = 6


def criterion(
    selection: SelectionResult, name: str | None = None, *, ax: Axes | None = None
) -> Axes:
    """Plot criterion curves; see :meth:`mixem.plotting.SelectionPlots.criterion`."""
    from mixem.selection import CRITERIA

    name = selection.criterion if name is None else name
    table = selection.table
    if name not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {name!r}")
    if name not in table.columns or table[name].isna().all():
        raise ValueError(f"the study has no {name!r} values; run select(criterion={name!r})")
    larger_better = CRITERIA[name]
    created = ax is None
    ax = new_axes(ax)
    usable = table["status"].str.startswith("ok") & table[name].notna()
    families = list(dict.fromkeys(table["family"]))
    for f, family in enumerate(families):
        rows = table[(table["family"] == family) & usable].sort_values("K")
        ax.plot(
            rows["K"],
            rows[name],
            marker=MARKERS[f % len(MARKERS)],
            linestyle="-" if f < 10 else "--",
            color=colour(f),
            label=family,
            gid=f"family-{family}",
        )
        excluded = table[(table["family"] == family) & ~usable & table[name].notna()]
        if len(excluded):
            ax.plot(
                excluded["K"],
                excluded[name],
                "x",
                color=colour(f),
                markersize=8,
                gid=f"excluded-{family}",
            )
    values = table.loc[usable, name]
    best = table.loc[values.idxmax() if larger_better else values.idxmin()]
    ax.plot(
        best["K"],
        best[name],
        "o",
        markersize=16,
        markerfacecolor="none",
        markeredgecolor="black",
        markeredgewidth=1.5,
        gid="best",
        label=f"best: {best['family']}, K = {best['K']}",
    )
    ks = np.unique(table["K"])
    ax.set_xticks(ks)
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{name.upper()} ({'higher' if larger_better else 'lower'} is better)")
    if len(families) >= MANY_FAMILIES:
        ax.legend(
            frameon=False, ncol=2, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0)
        )
        if created:  # room for the legend beside the axes
            width, height = ax.figure.get_size_inches()
            ax.figure.set_size_inches(max(width, 9.0), height)
    else:
        ax.legend(frameon=False)
    return ax
