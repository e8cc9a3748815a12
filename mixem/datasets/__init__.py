"""Small datasets bundled with mixem."""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["load_banknote", "load_faithful", "load_galaxies", "load_iris"]


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


def load_iris(*, return_labels: bool = False) -> Any:
    """Fisher's (Anderson's) iris flowers: 150 rows, 4 columns, 3 species of 50.

    Columns are ``sepal_length``, ``sepal_width``, ``petal_length`` and ``petal_width`` (cm).
    Source: Anderson, E. (1935), The irises of the Gaspé Peninsula, *Bulletin of the American Iris
    Society* 59, 2-5; Fisher, R. A. (1936), The use of multiple measurements in taxonomic
    problems, *Annals of Eugenics* 7, 179-188. The values are those of R's ``datasets::iris``,
    taken from scikit-learn's bundled copy (``sklearn.datasets.load_iris``; checked identical to
    R's ``iris`` and ``iris3`` with scikit-learn 1.9.1). The UCI Machine Learning Repository copy
    has errors in two rows (1-based): row 35 reads 4.9, 3.1, 1.5, 0.1 where Fisher and R have
    4.9, 3.1, 1.5, 0.2, and row 38 reads 4.9, 3.1, 1.5, 0.1 where they have 4.9, 3.6, 1.4, 0.1;
    this file has R's values.

    Parameters
    ----------
    return_labels : bool, default False
        Also return the species of each row.

    Returns
    -------
    pandas.DataFrame or tuple of (pandas.DataFrame, pandas.Series)
        150 rows with float columns ``sepal_length``, ``sepal_width``, ``petal_length`` and
        ``petal_width``; with ``return_labels=True``, also a Series named ``species`` holding
        ``"setosa"``, ``"versicolor"`` or ``"virginica"`` (50 rows each, in that order).
    """
    return _read_labelled("iris.csv", "species", return_labels)


def load_banknote(*, return_labels: bool = False) -> Any:
    """Swiss banknotes: 200 rows, 6 columns, 100 genuine and 100 counterfeit notes.

    Measurements (mm) on old Swiss 1000-franc notes: ``Length`` (length of the note), ``Left``
    and ``Right`` (width of the left and right edges), ``Bottom`` and ``Top`` (widths of the bottom
    and top margins) and ``Diagonal`` (length of the image diagonal). Rows 1-100 are genuine and
    rows 101-200 counterfeit. Source: Flury, B. and Riedwyl, H. (1988) *Multivariate Statistics:
    A Practical Approach*, Chapman & Hall, Tables 1.1 and 1.2, pp. 5-8, as distributed with R
    (``mclust::banknote``; also ``alr4::banknote`` with a 0/1 status). This copy is the CSV
    ``banknote.csv`` of Luca Scrucca's ``slds-datasets`` repository on GitHub (commit 46ba593,
    2022), identical value for value to an independent CSV export of the R data in the
    ``seporaitis/hsaur-python`` repository.

    Parameters
    ----------
    return_labels : bool, default False
        Also return the status of each note.

    Returns
    -------
    pandas.DataFrame or tuple of (pandas.DataFrame, pandas.Series)
        200 rows with float columns ``Length``, ``Left``, ``Right``, ``Bottom``, ``Top`` and
        ``Diagonal``; with ``return_labels=True``, also a Series named ``Status`` holding
        ``"genuine"`` or ``"counterfeit"``.
    """
    return _read_labelled("banknote.csv", "Status", return_labels)


def load_galaxies() -> Any:
    """Velocities of 82 galaxies in the Corona Borealis region: 82 rows, 1 column.

    The column is ``velocity`` (recession velocity, km/s), from six well-separated conic
    sections of an unfilled survey; multimodality is evidence of voids and superclusters, and
    the data are a standard test of the number of components of a univariate mixture. Source:
    Roeder, K. (1990), Density estimation with confidence sets exemplified by superclusters and
    voids in the galaxies, *Journal of the American Statistical Association* 85, 617-624; from
    Postman, M., Huchra, J. P. and Geller, M. J. (1986), Probes of large-scale structures in the
    Corona Borealis region, *Astronomical Journal* 92, 1238-1247; as distributed with R
    (``MASS::galaxies``, MASS 7.3-58.2). The file was written by
    ``benchmarks/export_galaxies.R``: ``write.csv(data.frame(velocity =
    as.numeric(MASS::galaxies)), "galaxies.csv", row.names = FALSE)``.

    The values are MASS's, typo included: MASS's help page notes that the 78th value (1-based),
    26690, should be 26960; this file keeps 26690, so that fits agree with those of R code
    on ``MASS::galaxies``. Postman et al. have an 83rd velocity, 5607 km/s, omitted by Roeder and
    by MASS, and so here.

    Returns
    -------
    pandas.DataFrame
        82 rows with one float column ``velocity``, in increasing order.
    """
    import pandas as pd

    with resources.files(__package__).joinpath("galaxies.csv").open("r") as fh:
        return pd.read_csv(fh).astype(float)


def _read_labelled(filename: str, label: str, return_labels: bool) -> Any:
    """The float columns of a bundled CSV, and optionally its ``label`` column as strings."""
    import pandas as pd

    with resources.files(__package__).joinpath(filename).open("r") as fh:
        df = pd.read_csv(fh)
    X = df.drop(columns=label).astype(float)
    return (X, df[label].astype(str)) if return_labels else X
