"""Input checks shared by the model, the result and the engine.

Every check raises ``TypeError`` or ``ValueError`` whose message names the argument, what was
expected and what was given.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

__all__ = [
    "check_array",
    "encode_categories",
    "check_positive_int",
    "check_random_state",
    "check_sample_weight",
    "check_nonnegative_float",
]


def _feature_names(X: Any) -> tuple[str, ...] | None:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "dtypes"):
        return None
    return tuple(str(c) for c in columns)


def _reject_non_numeric(X: Any, name: str, names: tuple[str, ...] | None) -> None:
    if names is not None:
        for col, dtype in zip(names, X.dtypes, strict=True):
            kind = getattr(dtype, "kind", "O")
            if kind not in "biuf":
                raise TypeError(
                    f"{name} must be numeric, but column {col!r} has dtype {dtype}; "
                    "convert or drop it before fitting"
                )


def too_large_message(arr: np.ndarray, name: str) -> str:
    """The error for finite rows whose squares overflow float64 (the statistics square them)."""
    return (
        f"{name} has values up to {np.abs(arr).max():.3g}, too large to square in float64; "
        "rescale the data"
    )


def check_array(
    X: Any,
    name: str = "X",
    *,
    n_features: int | None = None,
    min_rows: int = 1,
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Return ``X`` as a C-contiguous float64 array of shape ``(n, d)`` and its feature names.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Rows are observations. A 1-D input is one feature.
    name : str
        Argument name used in error messages.
    n_features : int, optional
        Required number of columns (for data scored by a fitted model).
    min_rows : int
        Smallest number of rows accepted.

    Returns
    -------
    X : ndarray of shape (n, d)
        The data as float64.
    feature_names : tuple of str or None
        Column names when ``X`` was a DataFrame.
    """
    if X is None:
        raise TypeError(f"{name} must be a numeric array of shape (n, d), got None")
    if isinstance(X, Mapping | Iterator | AbstractSet):
        raise TypeError(
            f"{name} must be an array of shape (n, d) (a NumPy array, a DataFrame or nested "
            f"lists), got a {type(X).__name__}"
        )
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, and mixem does not read masks: fill the masked entries "
            f"({name}.filled(value)) or drop their rows"
        )
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{name} is a scipy sparse {type(X).__name__}; mixem's statistics are dense: pass "
            f"{name}.toarray() ({X.shape[0]} x {X.shape[1]} floats)"
        )
    # Rows with holes cannot be fitted, nor scored by a fitted model.
    advice = (
        "drop or impute them before fitting"
        if n_features is None
        else ("drop or impute them: a fitted model scores complete rows only")
    )
    names = _feature_names(X)
    _reject_non_numeric(X, name, names)
    if isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a numeric array of shape (n, d), got a string")
    if names is not None and X.isna().to_numpy().any():
        rows, cols = np.nonzero(X.isna().to_numpy())
        raise ValueError(
            f"{name} contains {rows.size} non-finite values (first: NaN at row {int(rows[0])}, "
            f"column {names[cols[0]]!r}); {advice}"
        )
    try:
        arr = np.asarray(X, dtype=np.float64) if names is not None else np.asarray(X)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array of shape (n, d): {err}") from err
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric, got an array of dtype {arr.dtype}"
            + (" (strings or mixed objects)" if arr.dtype.kind in "OUS" else "")
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (one feature) or 2-D of shape (n, d), got {arr.ndim}-D "
            f"with shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}; at least one row and column needed")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    # One pass: a finite sum of squares proves every entry finite and squarable without an
    # (n, d) temporary; only a non-finite one pays for the element-wise search.
    if not np.isfinite(np.einsum("ij,ij->", arr, arr)):
        bad = ~np.isfinite(arr)
        if not bad.any():
            raise ValueError(too_large_message(arr, name))
        rows, cols = np.nonzero(bad)
        kind = "NaN" if np.isnan(arr[rows[0], cols[0]]) else "infinite"
        col = names[cols[0]] if names else int(cols[0])
        raise ValueError(
            f"{name} contains {bad.sum()} non-finite values (first: {kind} at row "
            f"{rows[0]}, column {col!r}); {advice}"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features, but the model was fitted with {n_features}"
        )
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows; at least {min_rows} are needed")
    return arr, names


def _is_categorical(dtype: Any) -> bool:
    # pandas' CategoricalDtype, recognised without importing pandas.
    return getattr(dtype, "name", None) == "category"


def encode_categories(
    X: Any, categories: dict[str, tuple[Any, ...]] | None = None, name: str = "X"
) -> tuple[Any, dict[str, tuple[Any, ...]] | None]:
    """Replace categorical DataFrame columns by integer codes, for families that model codes.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        Data; anything but a DataFrame is returned unchanged.
    categories : dict of str to tuple, optional
        Column name to the levels found when fitting. Given (when scoring new data), a column
        listed here is encoded against these levels, whatever its own categories (or if it
        holds plain values); a value that is not one of them raises ``ValueError`` naming the
        column and the value. Not given (when fitting), every categorical column is encoded
        against its own categories.
    name : str
        Argument name used in error messages.

    Returns
    -------
    X : array-like or pandas.DataFrame
        ``X``, with encoded columns as float codes ``0 .. L - 1`` (missing values as NaN, which
        :func:`check_array` reports).
    categories : dict of str to tuple, or None
        The levels of every encoded column, in code order; None if none was encoded.
    """
    if _feature_names(X) is None:
        return X, categories
    if categories is None:
        found = {
            str(col): tuple(X[col].cat.categories.tolist())
            for col, dtype in zip(X.columns, X.dtypes, strict=True)
            if _is_categorical(dtype)
        }
        if not found:
            return X, None
        categories = found
    columns = {str(c): c for c in X.columns}
    encoded = {}
    for col, levels in categories.items():
        if col not in columns:
            continue  # check_array reports the mismatch of column names
        values = X[columns[col]]
        if values.dtype.kind in "biuf" and not _is_categorical(values.dtype):
            continue  # already codes
        lookup = {level: float(code) for code, level in enumerate(levels)}
        codes = values.astype(object).map(lookup)
        unknown = codes.isna() & values.notna()
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise ValueError(
                f"{name} column {col!r} has {int(unknown.sum())} values that are not among the "
                f"{len(levels)} categories seen when fitting (first: {values.iloc[row]!r} at "
                f"row {row}); known categories: {list(levels)}"
            )
        encoded[columns[col]] = codes.astype(np.float64)
    if encoded:
        X = X.copy()
        for col, codes in encoded.items():
            X[col] = codes
    return X, categories


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise naming ``name`` if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_nonnegative_float(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise naming ``name`` if it is not finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int or a ``numpy.random.Generator`` into a Generator."""
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.Generator):
        if isinstance(random_state, bool):
            raise TypeError(f"random_state must be None, an int or a Generator, got {random_state}")
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}"
    )


def check_seed(random_state: Any) -> int | None:
    """A study's seed: None or a non-negative int (a bool is refused, not read as 0 or 1)."""
    if random_state is None:
        return None
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"random_state must be None or an int >= 0, got {random_state!r:.60}")
    if random_state < 0:
        raise ValueError(f"random_state must be a non-negative int, got {random_state}")
    return int(random_state)


#: Largest total frequency weight: float64 counts whole observations exactly up to 2**53.
MAX_TOTAL_WEIGHT = float(2**53)


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """Validate per-row weights: shape ``(n,)``, finite, non-negative, not all zero."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"sample_weight must be numeric, got {sample_weight!r:.60}") from err
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},) to match X, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinite values")
    if np.any(w < 0):
        raise ValueError(
            f"sample_weight must be non-negative; row {int(np.argmin(w))} has {w.min():g}"
        )
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero for every row; at least one must be positive")
    with np.errstate(over="ignore"):  # an overflowing sum is the problem reported below
        total = float(np.sum(w))
    if not total <= MAX_TOTAL_WEIGHT:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, more observations than float64 counts exactly "
            f"({MAX_TOTAL_WEIGHT:.3g}); rescale the weights"
        )
    return np.ascontiguousarray(w)


def as_int_sequence(value: int | Sequence[int], name: str, length: int) -> tuple[int, ...]:
    """Broadcast an int or check a sequence of ints of the given length."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values: tuple[Any, ...] = (value,) * length
    else:
        try:
            values = tuple(value)  # type: ignore[arg-type]
        except TypeError as err:
            raise TypeError(f"{name} must be an int or a sequence of ints, got {value!r}") from err
        if len(values) != length:
            raise ValueError(
                f"{name} has {len(values)} entries but {length} component families were given"
            )
    return tuple(check_positive_int(v, name) for v in values)
