"""Data that are read chunk by chunk: numpy memmaps, HDF5 datasets (h5py) and zarr arrays.

The EM engine reads its data only through ``X.shape`` and row indexing (``X[a:b]`` for a chunk,
``X[indices]`` for a few rows), so a :class:`ChunkedRows` wrapper lets it run over data that
never sit in memory whole: every read returns a validated C-contiguous float64 block.
h5py and zarr are optional; they are never imported here (their objects arrive already made),
and the wrappers recognise them by their type's module.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

from mixem._validation import too_large_message

__all__ = ["PROGRESS_ROWS", "ChunkedRows", "as_chunked", "is_dask_array"]
#: Sources of at least this many rows show a progress bar for every pass over them (tqdm's
#: automatic bar: only on a terminal or in a notebook).
PROGRESS_ROWS = 1_000_000


#: Why rows read chunk by chunk are not turned into one array behind the user's back.
_WHOLE = (
    "these rows ({kind}) are read chunk by chunk and are not loaded whole implicitly; pass "
    "np.asarray(X), or a subsample, where an array in memory is needed"
)


def _row_index(key: Any, n: int) -> np.ndarray:
    """Row positions of an integer or boolean index, negatives resolved; IndexError if out."""
    index = np.asarray(key)
    if index.dtype == bool:
        if index.shape != (n,):
            raise IndexError(f"a boolean row index needs {n} values, got shape {index.shape}")
        return np.flatnonzero(index)
    if index.dtype.kind not in "iu":
        raise IndexError(f"rows are indexed by integers or slices, got {index.dtype}")
    index = index.astype(np.intp, copy=False)
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"row index out of range for {n} rows")
    return np.where(index < 0, index + n, index)


def _package(X: Any) -> str:
    return type(X).__module__.partition(".")[0]


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (recognised without importing dask)."""
    return _package(X) == "dask" and hasattr(X, "chunks") and hasattr(X, "compute")


def _is_chunked_source(X: Any) -> bool:
    if isinstance(X, np.memmap):
        return True
    return _package(X) in ("h5py", "zarr") and hasattr(X, "shape") and hasattr(X, "dtype")


def _root_memmap(X: np.memmap) -> tuple[str, int] | None:
    """File name and byte offset of ``X``'s first element, if its rows are contiguous there.

    Reading such a memmap with plain file reads keeps its pages out of the process's resident
    memory (mapped pages count as resident while they are mapped, read pages do not).
    """
    if not X.flags.c_contiguous:
        return None
    root = X
    while isinstance(root.base, np.memmap):
        root = root.base
    if not isinstance(root.base, mmap.mmap) or getattr(root, "filename", None) is None:
        return None
    if root.mode == "c":  # copy-on-write: edits live in the mapping, not in the file
        return None
    start = X.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return root.filename, int(root.offset) + int(start)


class ChunkedRows:
    """Rows of an on-disk array, read on demand as validated float64 blocks.

    Parameters
    ----------
    source : numpy.memmap, h5py.Dataset or zarr.Array
        1-D (one feature) or 2-D ``(n, d)``, real numbers.
    name : str
        Argument name used in error messages.
    """

    def __init__(self, source: Any, name: str = "X") -> None:
        if source.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got an array of dtype {source.dtype}")
        if len(source.shape) not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D (one feature) or 2-D of shape (n, d), got shape "
                f"{tuple(source.shape)}"
            )
        n = int(source.shape[0])
        d = int(source.shape[1]) if len(source.shape) == 2 else 1
        if n == 0 or d == 0:
            raise ValueError(f"{name} is empty: shape {(n, d)}; at least one row and column needed")
        self.source = source
        self.name = name
        self.shape = (n, d)
        self.ndim = 2
        self.dtype = np.dtype(np.float64)
        self._file = _root_memmap(source) if isinstance(source, np.memmap) else None
        self._bar: Any = None

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self):
        raise TypeError(_WHOLE.format(kind=type(self.source).__name__))

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(_WHOLE.format(kind=type(self.source).__name__))

    def _raw(self, start: int, stop: int) -> np.ndarray:
        if self._file is not None:
            path, offset = self._file
            itemsize = self.source.dtype.itemsize
            block = np.fromfile(
                path,
                dtype=self.source.dtype,
                count=(stop - start) * self.shape[1],
                offset=offset + start * self.shape[1] * itemsize,
            )
            return block.reshape(stop - start, self.shape[1])
        return np.asarray(self.source[start:stop])

    def _checked(self, block: np.ndarray, rows: np.ndarray | int) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float64).reshape(-1, self.shape[1])
        if not np.isfinite(block).all():
            r, c = np.nonzero(~np.isfinite(block))
            first = int(rows + r[0]) if isinstance(rows, int) else int(rows[r[0]])
            kind = "NaN" if np.isnan(block[r[0], c[0]]) else "infinite"
            raise ValueError(
                f"{self.name} contains non-finite values (first: {kind} at row {first}, column "
                f"{int(c[0])}); drop or impute them before fitting"
            )
        if not np.isfinite(np.einsum("ij,ij->", block, block)):  # as check_array, per chunk
            raise ValueError(too_large_message(block, self.name))
        return block

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("ChunkedRows reads contiguous rows only")
            block = self._checked(self._raw(start, max(start, stop)), start)
            self._progress(start, stop)
            return block
        index = _row_index(key, self.shape[0])
        if index.ndim == 0:
            i = int(index)
            return self[i : i + 1][0]
        # h5py reads increasing indices only, and repeated reads of one row are wasted.
        unique, inverse = np.unique(index, return_inverse=True)
        if _package(self.source) == "zarr":  # zarr selects arbitrary rows through oindex
            raw = self.source.oindex[unique]
        else:
            raw = np.asarray(self.source[unique])
        return self._checked(raw, unique)[inverse.reshape(-1)]

    def _progress(self, start: int, stop: int) -> None:
        """Advance the bar of the pass under way; a read from row 0 starts a new pass."""
        if self.shape[0] < PROGRESS_ROWS:
            return
        if start == 0:
            from tqdm.auto import tqdm

            if self._bar is not None:
                self._bar.close()
            self._bar = tqdm(
                total=self.shape[0],
                desc="mixem pass",
                unit="row",
                unit_scale=True,
                leave=False,
                disable=None,  # only on a terminal or in a notebook
            )
        if self._bar is not None:
            self._bar.update(stop - start)
            if stop >= self.shape[0]:
                self._bar.close()
                self._bar = None

    def chunks(self, size: int):
        """Yield ``(start, block)`` over all rows in blocks of ``size`` rows."""
        for start in range(0, self.shape[0], size):
            yield start, self[start : start + size]

    def scan(self, chunk: int, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass: validate every row, and collect column extremes and the rows ``picks``.

        Parameters
        ----------
        chunk : int
            Rows per read.
        picks : ndarray of int, sorted
            Rows to copy into memory (a subsample).

        Returns
        -------
        lowest, highest : ndarray of shape (d,)
            Column minima and maxima.
        rows : ndarray of shape (len(picks), d)
            The picked rows.
        """
        lowest = np.full(self.shape[1], np.inf)
        highest = np.full(self.shape[1], -np.inf)
        rows = np.empty((picks.size, self.shape[1]))
        for start, block in self.chunks(chunk):
            np.minimum(lowest, block.min(axis=0), out=lowest)
            np.maximum(highest, block.max(axis=0), out=highest)
            lo, hi = np.searchsorted(picks, [start, start + block.shape[0]])
            rows[lo:hi] = block[picks[lo:hi] - start]
        return lowest, highest, rows

    def __repr__(self) -> str:
        return f"ChunkedRows({type(self.source).__name__}, shape={self.shape})"


def as_chunked(X: Any, name: str = "X") -> Any:
    """Wrap an on-disk array (ChunkedRows) or a Dask array (DaskRows); None for the rest."""
    if isinstance(X, ChunkedRows) or type(X).__name__ == "DaskRows":
        return X
    if is_dask_array(X):
        from mixem._dask import DaskRows

        return DaskRows(X, name)
    if _is_chunked_source(X):
        return ChunkedRows(X, name)
    return None
