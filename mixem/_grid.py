"""``select``'s default path: the grid fitted as one study, the cells sharing their work.

:func:`fit_grid` checks every (family, K) cell's data as :meth:`MixtureModel.fit` would, fits
the cells that pass with :func:`mixem.em.study.fit_study` (and, for ``criterion="cv"``, one more
study per fold), and turns each cell's record into the table's row and its result. Worker
processes or a Dask cluster run whole studies (the folds) side by side, or the cells' runs over
all rows after a subsampled study; nothing they do depends on how many there are.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from mixem.components.family import Family
from mixem.em.engine import FitRecord
from mixem.em.settings import SearchSettings, Settings
from mixem.em.study import STUDY_SEARCH, fit_study
from mixem.exceptions import FitError
from mixem.model import MixtureModel, _Data, _validated
from mixem.result import MixtureResult

Cell = tuple[Family, int]
Outcome = tuple[dict[str, Any], MixtureResult | None]


def studied(families: Sequence[Family], n_init: int, options: dict[str, Any]) -> bool:
    """Whether ``select`` fits the grid as one study: the default search, one run per cell."""
    return (
        n_init == 1
        and options.get("init", "short_em") == "short_em"
        and not any(f.accepts_categories for f in families)
    )


def fit_grid(
    X: np.ndarray,
    w: np.ndarray | None,
    names: tuple[str, ...] | None,
    families: Sequence[Family],
    ks: Sequence[int],
    options: dict[str, Any],
    *,
    entropy: int,
    cv_folds: int,
    pool: Executor | None,
    client: Any,
    tick: Callable[[], None],
) -> list[Outcome]:
    """Every cell's row and result, in the grid's order (families, then K)."""
    from mixem.selection import _failed_row, _row

    checked, failures = _checked(X, w, families, ks, options)
    if not checked:
        return [(_failed_row(f, k, failures[f, k], 0.0), None) for f in families for k in ks]
    first = next(iter(checked.values()))[0]
    chunk = min(data.chunk for _, data in checked.values())
    settings = first._settings(chunk)
    tuning = options.get("search") or STUDY_SEARCH
    jobs = [(X, w, set(failures), _seed(entropy, 0))]
    folds: list[tuple[np.ndarray, dict[Cell, Any]]] = []
    if cv_folds:
        rng = np.random.default_rng(_seed(entropy, 1))
        fold = rng.permutation(X.shape[0]) % cv_folds
        for f in range(cv_folds):
            train = fold != f
            Xf, wf = X[train], None if w is None else w[train]
            fold_checked, fold_failures = _checked(Xf, wf, families, ks, options)
            folds.append((~train, {**fold_checked, **fold_failures}))
            jobs.append((Xf, wf, set(failures) | set(fold_failures), _seed(entropy, 2 + f)))
    common = (families, ks, settings, tuning)
    studies = []
    if len(jobs) == 1 and client is None:
        studies.append(
            _study(*jobs[0], *common, tick=tick, mapper=map if pool is None else pool.map)
        )
    elif client is not None or pool is not None:
        if client is not None:
            futures = [
                client.submit(_study, client.scatter(job[0]), *job[1:], *common, pure=False)
                for job in jobs
            ]
        else:
            futures = [pool.submit(_study, *job, *common) for job in jobs]  # type: ignore[union-attr]
        for future in futures:
            studies.append(future.result())
            for _ in checked:
                tick()
    else:
        studies += [_study(*job, *common, tick=tick) for job in jobs]
    (records, seconds), fold_records = studies[0], [r for r, _ in studies[1:]]
    out: list[Outcome] = []
    for family in families:
        for k in ks:
            cell = (family, k)
            if cell in failures:
                out.append((_failed_row(family, k, failures[cell], 0.0), None))
                continue
            model, data = checked[cell]
            try:
                result = model._result(records[cell], data)
            except FitError as err:
                out.append((_failed_row(family, k, err, seconds.get(cell, 0.0)), None))
                continue
            result = dataclasses.replace(result, feature_names=names, _training=None)
            cv, cv_failure = np.nan, None
            if cv_folds:
                try:
                    cv = _held_out(X, w, cell, folds, fold_records)
                except (FitError, ValueError) as err:
                    cv_failure = f"cv failed: {err}"
            row = _row(family, k, result, records[cell].events, seconds[cell], cv, cv_failure)
            out.append((row, result))
    return out


def _seed(entropy: int, key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy, spawn_key=(key,))


def _checked(
    X: np.ndarray,
    w: np.ndarray | None,
    families: Sequence[Family],
    ks: Sequence[int],
    options: dict[str, Any],
) -> tuple[dict[Cell, tuple[MixtureModel, _Data]], dict[Cell, Exception]]:
    """Each cell's model and validated data, or why its data cannot be fitted."""
    checked, failures = {}, {}
    rng = np.random.default_rng(0)  # in-memory rows draw nothing while validated
    for family in families:
        for k in ks:
            model = MixtureModel(family, k, **options)
            try:
                checked[family, k] = (model, _validated(model, X, w, rng))
            except (FitError, ValueError) as err:
                failures[family, k] = err
    return checked, failures


def _study(
    rows: np.ndarray,
    w: np.ndarray | None,
    skip: set[Cell],
    seed: np.random.SeedSequence,
    families: Sequence[Family],
    ks: Sequence[int],
    settings: Settings,
    tuning: SearchSettings,
    *,
    tick: Callable[[], None] | None = None,
    mapper: Callable[..., Any] = map,
) -> tuple[dict[Cell, FitRecord], dict[Cell, float]]:
    """One study's records and the seconds each cell's own work took."""
    seconds: dict[Cell, float] = defaultdict(float)

    def on_work(cell: Cell, spent: float) -> None:
        if tick is not None and cell not in seconds:
            tick()
        seconds[cell] += spent

    records = fit_study(
        rows,
        families,
        ks,
        settings,
        tuning,
        seed=seed,
        sample_weight=w,
        skip=skip,
        on_work=on_work,
        mapper=mapper,
    )
    return records, dict(seconds)


def _held_out(
    X: np.ndarray,
    w: np.ndarray | None,
    cell: Cell,
    folds: list[tuple[np.ndarray, dict[Cell, Any]]],
    fold_records: list[dict[Cell, FitRecord]],
) -> float:
    """The cell's held-out mean log-likelihood per row (weighted) over the folds' studies.

    ``folds`` holds each fold's test rows and, per cell, its training rows' model and
    validated data, or why they could not be fitted.
    """
    total, weight = 0.0, 0.0
    for (test, checked), records in zip(folds, fold_records, strict=True):
        if isinstance(checked[cell], Exception):
            raise checked[cell]
        model, data = checked[cell]
        fit = model._result(records[cell], data)
        ll = fit.score_samples(X[test])
        wt = np.ones(ll.size) if w is None else w[test]
        total += float(wt @ ll)
        weight += float(wt.sum())
    return total / weight
