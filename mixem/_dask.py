"""Dask arrays: every EM pass runs on the Dask scheduler in use, block by block.

An E-pass maps the fused E-step and statistics over the row blocks (one task each), merges the
blocks' statistics pairwise in a tree, and hands the total to the M-step on the client; only
parameters (to the tasks) and statistics (back) travel, ``O(K d^2)`` numbers per block. The
scheduler is whatever Dask would use: the threaded one by default, a ``dask.distributed``
cluster when a client is active. dask is optional and imported only when a Dask array arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mixem._sources import _WHOLE, _row_index
from mixem.components.family import Components
from mixem.em.passes import EPass, e_pass

__all__ = ["DaskRows", "require_dask"]


def require_dask() -> Any:
    """Import ``dask.array``, or raise an ImportError that names the extra to install."""
    try:
        import dask
        import dask.array
    except ImportError as err:
        raise ImportError(
            "X is a Dask array, but dask.array cannot be imported; install mixem's dask extra: "
            "pip install 'mixem-em[dask]'"
        ) from err
    return dask


def _check_block(block: np.ndarray, start: int, name: str) -> np.ndarray:
    block = np.ascontiguousarray(block, dtype=np.float64)
    if block.ndim == 1:
        block = block[:, None]
    if not np.isfinite(block).all():
        r, c = np.nonzero(~np.isfinite(block))
        kind = "NaN" if np.isnan(block[r[0], c[0]]) else "infinite"
        raise ValueError(
            f"{name} contains non-finite values (first: {kind} at row {start + int(r[0])}, "
            f"column {int(c[0])}); drop or impute them before fitting"
        )
    return block


def _block_pass(
    block: np.ndarray,
    weights: np.ndarray | None,
    start: int,
    name: str,
    log_weights: np.ndarray,
    components: Sequence[Components],
    chunk: int,
) -> EPass:
    block = _check_block(block, start, name)
    return e_pass(block, weights, log_weights, components, chunk, row_offset=start)


def _merge(a: EPass, b: EPass) -> EPass:
    # An empty block has no statistics (None): the other block's stand.
    return EPass(
        loglik=a.loglik + b.loglik,
        entropy=a.entropy + b.entropy,
        nk=a.nk + b.nk,
        stats=[
            y if x is None else x if y is None else x + y
            for x, y in zip(a.stats, b.stats, strict=True)
        ],
    )


def _block_scan(
    block: np.ndarray, start: int, name: str, picks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    block = _check_block(block, start, name)
    if block.shape[0] == 0:  # an empty block (after a selection by mask, say)
        inf = np.full(block.shape[1], np.inf)
        return inf, -inf, block
    return block.min(axis=0), block.max(axis=0), block[picks - start]


class DaskRows:
    """A Dask array's rows for the EM engine: distributed passes, indexing computed on demand.

    Parameters
    ----------
    X : dask.array.Array
        1-D (one feature) or 2-D ``(n, d)``, real numbers, chunked along rows (columns are
        put into one chunk).
    name : str
        Argument name used in error messages.
    """

    def __init__(self, X: Any, name: str = "X") -> None:
        require_dask()
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got a Dask array of dtype {X.dtype}")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(
                f"{name} must be 1-D (one feature) or 2-D of shape (n, d), got shape {X.shape}"
            )
        if any(np.isnan(s) for s in X.shape):
            raise ValueError(f"{name} has unknown chunk sizes; call X.compute_chunk_sizes() first")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"{name} is empty: shape {X.shape}; at least one row and column needed"
            )
        self.array = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
        self.name = name
        self.shape = (int(X.shape[0]), int(X.shape[1]))
        self.ndim = 2
        self.dtype = np.dtype(np.float64)
        self.starts = np.concatenate([[0], np.cumsum(self.array.chunks[0])]).astype(np.int64)

    def __len__(self) -> int:
        return self.shape[0]

    def _blocks(self) -> list[Any]:
        return list(self.array.to_delayed().ravel())

    def _weights_of(self, sample_weight: np.ndarray | None, i: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        return sample_weight[self.starts[i] : self.starts[i + 1]]

    def e_pass(
        self,
        sample_weight: np.ndarray | None,
        log_weights: np.ndarray,
        components: Sequence[Components],
        chunk: int,
    ) -> EPass:
        """One E-pass: a task per row block, statistics merged in a tree, computed."""
        import dask

        parts = [
            dask.delayed(_block_pass)(
                block,
                self._weights_of(sample_weight, i),
                int(self.starts[i]),
                self.name,
                log_weights,
                tuple(components),
                chunk,
            )
            for i, block in enumerate(self._blocks())
        ]
        while len(parts) > 1:
            pairs = [
                dask.delayed(_merge)(a, b) for a, b in zip(parts[::2], parts[1::2], strict=False)
            ]
            parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
        (result,) = dask.compute(parts[0])
        return result

    def chunks(self, size: int):
        """Yield ``(start, block)`` for every row block, computed one at a time."""
        for i, block in enumerate(self._blocks()):
            yield int(self.starts[i]), _check_block(block.compute(), int(self.starts[i]), self.name)

    def scan(self, chunk: int, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate every row; column extremes and the rows ``picks`` (sorted), in one pass."""
        import dask

        tasks = []
        for i, block in enumerate(self._blocks()):
            lo, hi = np.searchsorted(picks, [self.starts[i], self.starts[i + 1]])
            tasks.append(
                dask.delayed(_block_scan)(block, int(self.starts[i]), self.name, picks[lo:hi])
            )
        parts = dask.compute(*tasks)
        lowest = np.min([p[0] for p in parts], axis=0)
        highest = np.max([p[1] for p in parts], axis=0)
        rows = np.concatenate([p[2] for p in parts], axis=0)
        return lowest, highest, rows

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("DaskRows reads contiguous rows only")
            return _check_block(self.array[start:stop].compute(), start, self.name)
        index = _row_index(key, self.shape[0])
        if index.ndim == 0:
            i = int(index)
            return self[i : i + 1][0]
        unique, inverse = np.unique(index, return_inverse=True)
        rows = _check_block(self.array[unique].compute(), 0, self.name)
        return rows[inverse.reshape(-1)]

    def __iter__(self):
        raise TypeError(_WHOLE.format(kind="a Dask array"))

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(_WHOLE.format(kind="a Dask array"))

    def __repr__(self) -> str:
        return f"DaskRows(shape={self.shape}, blocks={len(self.array.chunks[0])})"
