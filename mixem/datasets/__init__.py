"""Small datasets bundled with mixem."""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["load_faithful"]


def load_faithful() -> Any:
    """Old Faithful geyser eruptions: 272 rows, 2 columns.

    Columns are ``eruptions`` (eruption time, minutes) and ``waiting`` (waiting time to the next
    eruption, minutes). Source: Härdle, W. (1991) *Smoothing Techniques with Implementation in S*,
    Springer, as distributed with R (``datasets::faithful``); see also Azzalini, A. and Bowman,
    A. W. (1990), A look at some data on the Old Faithful geyser, *Applied Statistics* 39,
    357-365.

    Returns
    -------
    pandas.DataFrame
        272 rows with float columns ``eruptions`` and ``waiting``.
    """
    import pandas as pd

    with resources.files(__package__).joinpath("faithful.csv").open("r") as fh:
        return pd.read_csv(fh).astype(float)
