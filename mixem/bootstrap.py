"""Posterior draws by the weighted likelihood bootstrap, with labels aligned to the fit.

Each draw maximises the likelihood of the training rows reweighted by Dirichlet(1, ..., 1)
weights (scaled to sum to n), by EM from the fitted parameters and from a few fresh k-means++
starts (Newton and Raftery, 1994, *JRSS B* 56, 3-48).
Under a flat prior the draws approximate the posterior of the parameters to first order; they
are not MCMC draws and carry no prior. Component labels of every draw are matched to the fit's
by :func:`scipy.optimize.linear_sum_assignment` on the cross log-likelihood, so ``component 0``
means the same cluster in every draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from mixem._validation import check_positive_int, check_random_state
from mixem.components.family import Components, family_name, with_params
from mixem.em.engine import fit_reweighted
from mixem.em.passes import blocks, chunk_rows, iter_log_prob, log_sum_exp
from mixem.em.settings import SearchSettings, Settings
from mixem.em.structure import Structure
from mixem.exceptions import FitError

if TYPE_CHECKING:
    from mixem.result import MixtureResult

__all__ = ["BootstrapDraws", "weighted_bootstrap", "permute_components"]

#: Fresh Dirichlet weights tried for one draw whose EM run fails before giving up.
MAX_ATTEMPTS_PER_DRAW = 10
#: Every draw is the maximiser of its reweighted likelihood, searched from the fit (warm start)
#: and from this many fresh k-means++ starts: a superfluous component has several maxima of
#: similar height, and warm starts alone would keep it in one, understating its uncertainty.
#: A fresh start is continued to convergence only when, after ``RESTART_ITER`` iterations, its
#: log-likelihood is within ``RESTART_MARGIN`` of the warm start's.
RESTARTS_PER_DRAW = 2
RESTART_ITER = 20
RESTART_MARGIN = 2.0


@dataclass(frozen=True)
class BootstrapDraws:
    """Label-aligned draws of a mixture's parameters.

    Attributes
    ----------
    weights : ndarray of shape (draws, K)
        Mixing proportions of every draw.
    params : list of dict of str to ndarray
        One dict per family: every parameter of :meth:`Components.params` stacked over draws
        (leading axis ``draws``).
    pointwise : ndarray of shape (draws, n)
        Log-likelihood of every training row under every draw's parameters.
    loglik : ndarray of shape (draws,)
        Log-likelihood of the training data (unweighted) under every draw's parameters.
    n_iter : ndarray of shape (draws,)
        EM iterations of every draw.
    converged : ndarray of shape (draws,)
        Whether every draw's EM run converged.
    n_failed : int
        Draws whose EM run failed (degenerate components) and were redrawn.
    """

    weights: np.ndarray
    params: list[dict[str, np.ndarray]]
    pointwise: np.ndarray
    loglik: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    n_failed: int


def permute_components(component: Components, order: np.ndarray) -> Components:
    """The same family with its components reordered: new component ``i`` is old ``order[i]``.

    Parameters shared by all components (no leading ``"component"`` dimension, such as the tied
    covariance) are kept as they are.
    """
    dims = component.param_dims
    params = component.params()
    missing = set(params) - set(dims)
    if missing:
        raise TypeError(
            f"{family_name(component.family)}.param_dims does not name the dimensions of "
            f"{sorted(missing)}; label alignment needs to know which parameters have a "
            "component axis"
        )
    return with_params(
        component,
        {
            name: value[order] if dims[name][:1] == ("component",) else value
            for name, value in params.items()
        },
    )


def _alignment(
    X: np.ndarray, resp_fit: np.ndarray, components: tuple[Components, ...], chunk: int
) -> list[np.ndarray]:
    """Per family, the draw's component that matches each of the fit's components.

    The cost of matching fit component ``k`` with draw component ``j`` is minus the
    log-likelihood of the fit's rows of ``k`` (weighted by responsibility) under ``j``.
    """
    orders = []
    for block, comp in zip(blocks([c.n_components for c in components]), components, strict=True):
        cost = np.zeros((comp.n_components, comp.n_components))
        for start in range(0, X.shape[0], chunk):
            rows = slice(start, start + chunk)
            # A row far in a tail has log-density -inf under a light-tailed component; its
            # responsibility for the others is then ~0, so clip rather than let 0 * inf be NaN.
            logp = np.maximum(comp.log_prob(X[rows]), -1e300)
            cost -= resp_fit[rows, block].T @ logp
        orders.append(linear_sum_assignment(cost)[1])
    return orders


def weighted_bootstrap(
    result: MixtureResult,
    X: np.ndarray,
    draws: int,
    random_state: Any = None,
) -> BootstrapDraws:
    """Weighted likelihood bootstrap draws of ``result``'s parameters on its training rows ``X``.

    Parameters
    ----------
    result : MixtureResult
        The fit; its parameters start every draw's EM run and define the labels.
    X : ndarray of shape (n, d)
        The (validated) rows the result was fitted on.
    draws : int
        Number of draws.
    random_state : None, int or numpy.random.Generator
        Source of the Dirichlet weights.

    Returns
    -------
    BootstrapDraws
    """
    draws = check_positive_int(draws, "draws")
    rng = check_random_state(random_state)
    spec = result.spec
    n = X.shape[0]
    components = result.components
    chunk = chunk_rows(
        X.shape[1], [c.family for c in components], result.n_components, spec.get("chunk_size")
    )
    resp_fit = result.predict_proba(X)

    weights = np.empty((draws, result.n_components))
    per_family: list[list[dict[str, np.ndarray]]] = [[] for _ in components]
    pointwise = np.empty((draws, n))
    n_iter = np.empty(draws, dtype=np.int64)
    converged = np.empty(draws, dtype=bool)
    n_failed = 0
    settings = Settings(
        max_iter=spec.get("max_iter", 1000),
        tol=spec.get("tol", 1e-6),
        reg_covar=spec.get("reg_covar", 1e-6),
        chunk=chunk,
    )
    structure = Structure(
        tuple(c.family for c in components), tuple(c.n_components for c in components)
    )
    # The maximiser of the reweighted likelihood: the warm start, unless a fresh start that
    # comes within RESTART_MARGIN after RESTART_ITER iterations climbs higher. Labels align
    # within a family only: in a model of several families a fresh start can hand a cluster to
    # another family, which no relabelling undoes, so there warm starts only.
    search = SearchSettings(
        starts=RESTARTS_PER_DRAW if len(components) == 1 else 0,
        hierarchical=False,
        short_iter=RESTART_ITER,
        keep=RESTARTS_PER_DRAW,
        margin=RESTART_MARGIN,
        split_merge_rounds=0,
        rows=n,
    )
    warm = ((result.weights, components),)

    runs: list = [None] * draws
    pending = np.arange(draws)
    for _attempt in range(MAX_ATTEMPTS_PER_DRAW):
        # Every pending draw's Dirichlet weights, its fits batched with the others'; a draw
        # whose fits all fail is drawn again. A draw's re-seeds and convergence are recorded
        # per draw, not warned about.
        def draw() -> np.ndarray:
            u = rng.standard_exponential(n)
            return u * (n / u.sum())

        _, records = fit_reweighted(
            X,
            structure,
            settings,
            rng=rng,
            draw=draw,
            count=pending.size,
            starts=warm,
            search=search,
        )
        failed = []
        for b, record in zip(pending, records, strict=True):
            if record.best is None:
                failed.append(b)
            else:
                runs[b] = record.best
        n_failed += len(failed)
        pending = np.asarray(failed, dtype=int)
        if not pending.size:
            break
    else:
        raise FitError(
            f"the weighted bootstrap failed {MAX_ATTEMPTS_PER_DRAW} times in a row at draw "
            f"{int(pending[0])}: the model's components do not survive reweighting of the data; "
            "use fewer components"
        )
    for b, run in enumerate(runs):
        orders = _alignment(X, resp_fit, run.components, chunk)
        order = np.concatenate(
            [
                block.start + o
                for block, o in zip(
                    blocks([c.n_components for c in run.components]), orders, strict=True
                )
            ]
        )
        aligned = [permute_components(c, o) for c, o in zip(run.components, orders, strict=True)]
        weights[b] = run.weights[order]
        for f, comp in enumerate(aligned):
            per_family[f].append(comp.params())
        with np.errstate(divide="ignore"):
            log_w = np.log(weights[b])
        for rows, logp in iter_log_prob(X, log_w, aligned, chunk):
            pointwise[b, rows] = log_sum_exp(logp)
        n_iter[b] = run.n_iter
        converged[b] = run.converged
    params = [
        {name: np.stack([p[name] for p in draws_f]) for name in draws_f[0]}
        for draws_f in per_family
    ]
    return BootstrapDraws(
        weights=weights,
        params=params,
        pointwise=pointwise,
        loglik=pointwise.sum(axis=1),
        n_iter=n_iter,
        converged=converged,
        n_failed=n_failed,
    )
