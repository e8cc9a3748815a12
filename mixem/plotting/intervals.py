"""Parameter estimates with their intervals: one panel per parameter and feature."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mixem.plotting._common import colour, new_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["intervals"]


def _panel(axis: Axes, rows: pd.DataFrame, title: str) -> None:
    import pandas as pd

    y = np.arange(len(rows))[::-1]
    est = rows["estimate"].to_numpy(dtype=float)
    err = np.vstack([est - rows["lower"].to_numpy(float), rows["upper"].to_numpy(float) - est])
    comps = [None if pd.isna(k) else int(k) for k in rows["component"]]
    for i, (yi, k) in enumerate(zip(y, comps, strict=True)):
        axis.errorbar(
            est[i],
            yi,
            xerr=np.maximum(err[:, i : i + 1], 0.0),
            fmt="o",
            color="0.3" if k is None else colour(k),
            capsize=3,
            markersize=4,
            gid=f"interval-{rows.index[i]}",
        )
    axis.set_yticks(y, ["shared" if k is None else f"component {k}" for k in comps])
    axis.set_ylim(-0.6, len(rows) - 0.4)
    axis.set_title(title, fontsize="medium")
    axis.grid(axis="x", color="0.9")


def intervals(table: pd.DataFrame, *, parameter: Any = None, ax: Axes | None = None) -> Any:
    """Plot a standard-error table; see :meth:`mixem.plotting.ResultPlots.intervals`."""
    names = list(dict.fromkeys(table["name"]))
    if parameter is not None:
        if parameter not in names:
            raise ValueError(f"parameter must be one of {names}, got {parameter!r}")
        table = table[table["name"] == parameter]
    # Parameters of one name and feature share a scale: one panel each, components as rows.
    panels = list(dict.fromkeys(zip(table["name"], table["coordinate"], strict=True)))
    if ax is not None and len(panels) > 1:
        raise ValueError(
            f"{len(panels)} panels (one per parameter and feature) need a figure of their own: "
            "pass ax=None"
        )
    level = table.attrs.get("level", 0.95)
    method = table.attrs.get("method", "")
    heading = f"estimates with {level:.0%} {method} intervals".replace("  ", " ")
    if ax is not None or len(panels) == 1:
        axis = new_axes(ax)
        name, coordinate = panels[0]
        rows = table[(table["name"] == name) & (table["coordinate"] == coordinate)]
        _panel(axis, rows, f"{name} {coordinate}".strip() + f": {heading}")
        return axis
    import matplotlib.pyplot as plt

    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    tallest = max(int(((table["name"] == n) & (table["coordinate"] == c)).sum()) for n, c in panels)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.4 * ncols, (0.6 + 0.3 * tallest) * nrows + 0.6), squeeze=False
    )
    for axis, (name, coordinate) in zip(axes.flat, panels, strict=False):
        rows = table[(table["name"] == name) & (table["coordinate"] == coordinate)]
        _panel(axis, rows, f"{name} {coordinate}".strip())
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    fig.suptitle(heading)
    fig.tight_layout()
    return fig
