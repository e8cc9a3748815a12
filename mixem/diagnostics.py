"""Diagnostics of a fitted mixture: can its user trust it, and where not, why.

:func:`diagnose` (reached as :meth:`mixem.MixtureResult.diagnostics`) checks convergence, small
and degenerate components, ill-conditioned covariances, classification uncertainty, the
normality of every Gaussian cluster and the uncertainty of every parameter, and turns whatever
looks wrong into :class:`Finding` objects, each with a severity and a sentence.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from mixem.components.family import elliptical_of, moments_of
from mixem.em.passes import blocks
from mixem.exceptions import FitError

if TYPE_CHECKING:
    import pandas as pd

    from mixem.result import MixtureResult

__all__ = [
    "CONDITION_LIMIT",
    "NORMALITY_ALPHA",
    "OVERLAP_LIMIT",
    "SEVERITIES",
    "Diagnostics",
    "Finding",
    "diagnose",
    "mahalanobis_sq",
]

#: Severities, mildest first. A "note" is worth knowing, a "warning" weakens a conclusion,
#: a "problem" means a part of the fit should not be trusted.
SEVERITIES = ("note", "warning", "problem")
#: A covariance whose largest/smallest eigenvalue ratio exceeds this is near-singular.
CONDITION_LIMIT = 1e6
#: Family-wise level of the per-component normality tests (Bonferroni over components).
NORMALITY_ALPHA = 0.01
#: Mean classification uncertainty ``1 - max_k r_ik`` above which clusters overlap notably.
OVERLAP_LIMIT = 0.1
#: A component with fewer effective rows than this many per parameter rests on little data.
ROWS_PER_PARAMETER = 3.0
#: Bootstrap and observed-information errors disagreeing by more than this factor are flagged.
SE_DISAGREEMENT = 2.0
#: A group of identical rows is a point mass when it holds this many times the average
#: number of copies of a row (and more than ``d`` rows).
DUPLICATE_FACTOR = 10.0
#: Most point masses reported.
MAX_DUPLICATE_FINDINGS = 3
#: Fewest effective rows for which a component's normality is tested.
MIN_NORMALITY_ROWS = 20.0


@dataclass(frozen=True)
class Finding:
    """One thing the diagnostics found.

    Attributes
    ----------
    severity : {"note", "warning", "problem"}
    topic : str
        What it is about: ``"convergence"``, ``"degenerate"``, ``"duplicates"``,
        ``"near-singular"``, ``"small component"``, ``"overlap"``, ``"normality"`` or
        ``"standard errors"``.
    component : int or None
        The component concerned, if one.
    message : str
        A sentence for the user: what was seen and what to do about it.
    """

    severity: str
    topic: str
    component: int | None
    message: str

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message}"


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """The report of :meth:`mixem.MixtureResult.diagnostics`.

    Attributes
    ----------
    converged : bool
        Whether EM met its tolerance.
    n_iter : int
        EM iterations.
    monotone : bool
        Whether the log-likelihood never decreased (apart from re-seeded iterations).
    weights : ndarray of shape (K,)
        Mixing proportions.
    effective_rows : ndarray of shape (K,)
        ``weight * n_obs``: the rows each component stands on.
    smallest_weight : float
        The smallest mixing proportion.
    condition_numbers : ndarray of shape (K,) or None
        Condition number (largest over smallest eigenvalue) of every component's correlation
        matrix ``D^-1/2 Sigma D^-1/2``, which does not depend on the features' units: large
        when the component's rows lie close to a lower-dimensional subspace; 1 for diagonal
        and spherical covariances, ``inf`` for a singular one (Gaussian families; None when a
        family has no covariance).
    degenerate : ndarray of shape (K,) of bool
        Components flagged by :attr:`mixem.MixtureResult.spurious`: a spike on (near-)identical
        rows or on too few rows.
    near_singular : ndarray of shape (K,) of bool
        Components whose condition number exceeds :data:`CONDITION_LIMIT`.
    entropy : float
        Classification entropy ``-sum_i sum_k r_ik log r_ik`` of the rows.
    mean_uncertainty : float
        Mean of ``1 - max_k r_ik`` over the rows (weighted by ``sample_weight`` if any).
    normality : pandas.DataFrame or None
        Per Gaussian component with at least 20 effective rows: ``effective_rows`` (Kish's
        effective size of its responsibilities), ``statistic`` and ``p_value`` of a
        responsibility-weighted Kolmogorov-Smirnov test of the squared Mahalanobis distances
        against chi-squared(d), and ``rejected`` at :data:`NORMALITY_ALPHA` over all components
        (Bonferroni). The parameters are fitted to the same rows, so ``p_value`` is
        conservative: an upper bound in effect, small for real departures.
    standard_errors : pandas.DataFrame or None
        Per parameter: ``estimate``, bootstrap ``se``, ``lower`` and ``upper`` (percentile
        interval) and ``se_observed`` (observed information; missing, with a note, when
        unavailable), then the selector columns of :meth:`MixtureResult.standard_errors`. A fit
        with ``sample_weight`` gets observed-information errors and Wald intervals instead
        (``attrs["method"]`` says which). None when ``draws=0``.
    findings : tuple of Finding
        Everything flagged, most severe first; empty for a fit with nothing to flag.
    """

    converged: bool
    n_iter: int
    monotone: bool
    weights: np.ndarray
    effective_rows: np.ndarray
    smallest_weight: float
    condition_numbers: np.ndarray | None
    degenerate: np.ndarray
    near_singular: np.ndarray
    entropy: float
    mean_uncertainty: float
    normality: pd.DataFrame | None
    standard_errors: pd.DataFrame | None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing of severity "warning" or "problem" was found."""
        return all(f.severity == "note" for f in self.findings)

    def by_severity(self, severity: str) -> tuple[Finding, ...]:
        """The findings of one severity."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        return tuple(f for f in self.findings if f.severity == severity)

    def _numbers(self) -> pd.DataFrame:
        """The standard-error table without its selector columns."""
        assert self.standard_errors is not None
        return self.standard_errors[["estimate", "se", "lower", "upper", "se_observed"]]

    def _overview(self) -> list[tuple[str, str]]:
        conds = (
            "n/a"
            if self.condition_numbers is None
            else ", ".join(f"{c:.3g}" for c in self.condition_numbers)
        )
        return [
            ("Converged", f"{self.converged} ({self.n_iter} iterations)"),
            ("Log-likelihood monotone", str(self.monotone)),
            ("Smallest weight", f"{self.smallest_weight:.4g}"),
            ("Effective rows", ", ".join(f"{r:.1f}" for r in self.effective_rows)),
            ("Condition numbers", conds),
            ("Classification entropy", f"{self.entropy:.4g}"),
            ("Mean uncertainty", f"{self.mean_uncertainty:.4g}"),
        ]

    def __str__(self) -> str:
        lines = ["Mixture diagnostics", "=" * 60]
        overview = self._overview()
        width = max(len(k) for k, _ in overview)
        lines += [f"{k:<{width}}  {v}" for k, v in overview]
        if self.normality is not None:
            lines += [
                "-" * 60,
                "Normality of clusters (squared Mahalanobis vs chi2(d); StudentT: d F(d, dof))",
            ]
            lines.append(self.normality.to_string(float_format=lambda v: f"{v:.4g}"))
        if self.standard_errors is not None:
            lines += [
                "-" * 60,
                f"Parameters ({self.standard_errors.attrs.get('level', 0.95):g} "
                f"{self.standard_errors.attrs.get('method', 'bootstrap')} intervals)",
            ]
            lines.append(self._numbers().to_string(float_format=lambda v: f"{v:.4g}"))
        lines += ["-" * 60]
        if self.findings:
            lines += [str(f) for f in self.findings]
        else:
            lines.append("Nothing to flag.")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._overview()
        )
        parts = [f"<div><strong>Mixture diagnostics</strong><table>{rows}</table>"]
        if self.findings:
            items = "".join(
                f"<li><b>{html.escape(f.severity)}</b>: {html.escape(f.message)}</li>"
                for f in self.findings
            )
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>Nothing to flag.</p>")
        for title, frame in (
            ("Normality of clusters", self.normality),
            ("Parameters", None if self.standard_errors is None else self._numbers()),
        ):
            if frame is not None:
                table = frame.to_html(float_format=lambda v: f"{v:.4g}")
                parts.append(f"<p><b>{title}</b></p>{table}")
        return "".join(parts) + "</div>"


def mahalanobis_sq(result: MixtureResult, X: np.ndarray) -> np.ndarray | None:
    """Squared Mahalanobis distance of every row from every component, shape ``(n, K)``.

    Each in its component's shape matrix (the covariance of a Gaussian, the scale matrix of a
    Student t); None when a family is not elliptical (see :meth:`mixem.Family.elliptical`).
    """
    forms = [elliptical_of(c) for c in result.components]
    if any(f is None for f in forms):
        return None
    out = np.empty((X.shape[0], result.n_components))
    for block, (means, covs, _) in zip(
        blocks([c.n_components for c in result.components]), forms, strict=True
    ):
        for j, (mean, cov) in enumerate(zip(means, covs, strict=True)):
            chol = np.linalg.cholesky(cov)
            z = np.linalg.solve(chol, (X - mean).T)
            out[:, block.start + j] = np.einsum("ij,ij->j", z, z)
    return out


def radial_laws(result: MixtureResult) -> list[Any]:
    """Every component's law of its rows' squared Mahalanobis distance.

    Frozen :mod:`scipy.stats` distributions: chi-squared(d) for a Gaussian, ``d F(d, nu)`` for
    a Student t. The families must be elliptical.
    """
    return [law for c in result.components for law in c.elliptical()[2]]


def effective_size(resp: np.ndarray, freq: np.ndarray | None) -> float:
    """Kish's effective number of rows of a component: ``(sum f r)**2 / sum f r**2``.

    ``resp`` are the rows' responsibilities, ``freq`` their frequency weights (a weight of 2
    counts a row twice); 0 for a component without rows.
    """
    f = 1.0 if freq is None else freq
    total = float((resp * f).sum())
    return total**2 / float((resp * resp * f).sum()) if total > 0 else 0.0


def _weighted_ks(
    values: np.ndarray, resp: np.ndarray, freq: np.ndarray | None, cdf: Any
) -> tuple[float, float, float]:
    """Kolmogorov-Smirnov distance between a weighted sample and ``cdf``, its p-value and size.

    Every row counts with its responsibility ``resp`` (times its frequency weight ``freq``).
    Under the model the responsibility-weighted distribution of a component's squared
    distances is its radial law (chi-squared(d) for a Gaussian) exactly, overlap or not, so no
    rows are cut at a class boundary. The sample size is Kish's effective size
    ``(sum f r)**2 / sum f r**2`` (a frequency weight of 2 counts a row twice). The parameters
    are fitted to the same rows, so the p-value is conservative (too large), as Lilliefors
    showed for the plain test.
    """
    f = np.ones_like(resp) if freq is None else freq
    w = resp * f
    order = np.argsort(values)
    v, w = values[order], w[order]
    total = w.sum()
    upper = np.cumsum(w) / total
    lower = upper - w / total
    expected = cdf(v)
    distance = float(max(np.max(upper - expected), np.max(expected - lower)))
    n_eff = effective_size(resp, freq)
    p_value = float(stats.kstwo.sf(distance, max(int(round(n_eff)), 1)))
    return distance, p_value, n_eff


def _normality(
    result: MixtureResult, X: np.ndarray, resp: np.ndarray, sample_weight: np.ndarray | None
) -> pd.DataFrame | None:
    import pandas as pd

    d2 = mahalanobis_sq(result, X)
    if d2 is None:
        return None
    K = result.n_components
    laws = radial_laws(result)
    rows = []
    for k in range(K):
        r = resp[:, k]
        keep = r > 1e-12
        freq = None if sample_weight is None else sample_weight[keep]
        if keep.sum() < 2:
            continue
        distance, p_value, n_eff = _weighted_ks(d2[keep, k], r[keep], freq, laws[k].cdf)
        if n_eff < MIN_NORMALITY_ROWS:
            continue  # too few rows to tell
        rows.append((k, n_eff, distance, p_value, p_value < NORMALITY_ALPHA / K))
    frame = pd.DataFrame(
        rows, columns=["component", "effective_rows", "statistic", "p_value", "rejected"]
    )
    return frame.set_index("component")


def _duplicates(result: MixtureResult, X: np.ndarray, resp: np.ndarray) -> list[Finding]:
    """Point masses: groups of identical rows far larger than the data's ties.

    A group of more than ``d`` identical rows in continuous data is a point mass a Gaussian
    component can collapse onto with an unbounded likelihood; the engine re-seeds a component
    that does, so the fit itself may look fine. Rounded data tie everywhere, so a group counts
    only when it holds at least ``DUPLICATE_FACTOR`` times the average number of copies of a
    row (about 1 for continuous data). The largest ``MAX_DUPLICATE_FINDINGS`` are reported.
    """
    if any(moments_of(c) is None for c in result.components):
        return []  # repeated values are the rule for counts and categories
    n, d = X.shape
    values, first, counts = np.unique(X, axis=0, return_index=True, return_counts=True)
    threshold = max(d + 1, DUPLICATE_FACTOR * n / values.shape[0])
    groups = np.flatnonzero(counts >= threshold)
    groups = groups[np.argsort(-counts[groups], kind="stable")][:MAX_DUPLICATE_FINDINGS]
    out = []
    for i in groups:
        holder = int(resp[first[i]].argmax())
        where = ", ".join(f"{v:.6g}" for v in values[i])
        out.append(
            Finding(
                "warning",
                "duplicates",
                holder,
                f"{counts[i]} rows are identical ({where}), a point mass in continuous data: a "
                "Gaussian component can collapse onto it (EM re-seeds one that does); here "
                f"component {holder} holds them. Check how they were recorded (a default or "
                "rounded value?), or remove them",
            )
        )
    return out


def _standard_errors(
    result: MixtureResult,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    draws: int,
    level: float,
    random_state: Any,
) -> tuple[pd.DataFrame, list[Finding]]:
    from mixem.bootstrap import weighted_bootstrap
    from mixem.standard_errors import bootstrap_table, observed_table

    findings = []
    if sample_weight is not None:
        # The Dirichlet weights would count a weighted row as one observation.
        table = observed_table(result, X, sample_weight, level)
        table.insert(table.columns.get_loc("upper") + 1, "se_observed", table["se"])
        table.attrs["method"] = "observed"
        findings.append(
            Finding(
                "note",
                "standard errors",
                None,
                "a fit with sample_weight gets no bootstrap; the standard errors and Wald "
                "intervals are from the observed information",
            )
        )
        return table, findings
    boot = weighted_bootstrap(result, X, draws, random_state)
    table = bootstrap_table(result, boot, level)
    if boot.n_failed:
        findings.append(
            Finding(
                "note",
                "standard errors",
                None,
                f"{boot.n_failed} of {draws + boot.n_failed} bootstrap reweightings emptied a "
                "component and were redrawn: some components rest on few rows",
            )
        )
    try:
        observed = observed_table(result, X, None, level)
        table.insert(table.columns.get_loc("upper") + 1, "se_observed", observed["se"])
        ratio = table["se"] / observed["se"]
        off = table.index[(ratio > SE_DISAGREEMENT) | (ratio < 1.0 / SE_DISAGREEMENT)]
        if len(off):
            findings.append(
                Finding(
                    "warning",
                    "standard errors",
                    None,
                    f"bootstrap and observed-information standard errors differ by more than a "
                    f"factor {SE_DISAGREEMENT:g} for {len(off)} parameter(s), e.g. {off[0]}: the "
                    "likelihood has several maxima near this fit (components that trade rows, "
                    "or a badly specified family); trust neither error blindly, and compare "
                    "with fewer components or another family",
                )
            )
    except FitError as err:
        table.insert(table.columns.get_loc("upper") + 1, "se_observed", math.nan)
        findings.append(
            Finding("note", "standard errors", None, f"no observed-information errors: {err}")
        )
    return table, findings


def diagnose(
    result: MixtureResult,
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    draws: int = 200,
    level: float = 0.95,
    random_state: Any = None,
) -> Diagnostics:
    """Diagnose ``result`` on its training rows ``X``; see :meth:`MixtureResult.diagnostics`."""
    K, d = result.n_components, result.n_features
    findings: list[Finding] = []
    resp = result.predict_proba(X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    uncertainty = 1.0 - resp.max(axis=1)
    mean_uncertainty = float(w @ uncertainty / w.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = float(-(w @ np.where(resp > 0, resp * np.log(resp), 0.0)).sum())
    effective = result.weights * result.n_obs

    if not result.converged:
        last = f" (last change {result.trace.change[-1]:.3g} per row)" if len(result.trace) else ""
        findings.append(
            Finding(
                "warning",
                "convergence",
                None,
                f"EM stopped after {result.n_iter} iterations without meeting its tolerance"
                f"{last}: raise max_iter, or look at result.trace",
            )
        )
    if not result.trace.monotone:
        findings.append(
            Finding(
                "warning",
                "convergence",
                None,
                "the log-likelihood decreased during EM: reg_covar is not negligible against "
                "the variances, or the fit is numerically unstable; rescale the data",
            )
        )

    degenerate = result.spurious
    for k in np.flatnonzero(degenerate):
        findings.append(
            Finding(
                "problem",
                "degenerate",
                int(k),
                f"component {k} is degenerate: it sits on {effective[k]:.1f} effective rows "
                "that are (nearly) identical or too few for its parameters, a likelihood spike "
                "rather than a cluster; its likelihood, BIC and standard errors mean nothing. "
                "Remove duplicated rows, or use fewer components",
            )
        )

    counted = slice(None) if sample_weight is None else sample_weight > 0
    findings += _duplicates(result, X[counted], resp[counted])

    condition = None
    near_singular = np.zeros(K, dtype=bool)
    moments = [moments_of(c) for c in result.components]
    if all(m is not None for m in moments):
        covs = np.concatenate([m[1] for m in moments])  # type: ignore[index]
        sd = np.sqrt(np.diagonal(covs, axis1=1, axis2=2))
        eig = np.linalg.eigvalsh(covs / sd[:, :, None] / sd[:, None, :])
        with np.errstate(divide="ignore"):
            condition = np.where(eig[:, 0] > 0, eig[:, -1] / eig[:, 0], np.inf)
        near_singular = (condition > CONDITION_LIMIT) & ~degenerate
        for k in np.flatnonzero(near_singular):
            findings.append(
                Finding(
                    "warning",
                    "near-singular",
                    int(k),
                    f"component {k}'s covariance is near-singular (its correlation matrix has "
                    f"condition number {condition[k]:.3g}): its rows lie close to a "
                    "lower-dimensional subspace, some features nearly determined by others; "
                    "drop redundant features or use a diagonal family",
                )
            )

    per_component = sum(c.n_parameters() for c in result.components) / K + 1.0
    for k in np.flatnonzero((effective < ROWS_PER_PARAMETER * per_component) & ~degenerate):
        findings.append(
            Finding(
                "warning",
                "small component",
                int(k),
                f"component {k} has weight {result.weights[k]:.3g}, {effective[k]:.1f} effective "
                f"rows for about {per_component:.0f} parameters: its estimates are imprecise; "
                "consider fewer components",
            )
        )

    if mean_uncertainty > OVERLAP_LIMIT:
        findings.append(
            Finding(
                "note",
                "overlap",
                None,
                f"the clusters overlap: the mean classification uncertainty is "
                f"{mean_uncertainty:.3f} (1 - largest responsibility), so many rows cannot be "
                "assigned confidently; see result.plot.uncertainty()",
            )
        )

    normality = _normality(result, X, resp, sample_weight)
    if normality is not None:
        for k, row in normality.iterrows():
            if row["rejected"] and not degenerate[k]:
                findings.append(
                    Finding(
                        "warning",
                        "normality",
                        int(k),
                        f"component {k} does not look Gaussian: its squared Mahalanobis "
                        f"distances depart from chi-squared({d}) (KS p = {row['p_value']:.2g} "
                        f"on {row['effective_rows']:.0f} effective rows); a non-Gaussian "
                        "cluster may be split into several components; see result.plot.qq()",
                    )
                )

    table = None
    if draws and degenerate.any():
        findings.append(
            Finding(
                "note",
                "standard errors",
                None,
                "no standard errors: the fit has a degenerate component",
            )
        )
    elif draws:
        try:
            table, notes = _standard_errors(result, X, sample_weight, draws, level, random_state)
            findings += notes
        except FitError as err:
            findings.append(Finding("warning", "standard errors", None, str(err)))

    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: -rank[f.severity])
    return Diagnostics(
        converged=bool(result.converged),
        n_iter=int(result.n_iter),
        monotone=result.trace.monotone,
        weights=result.weights,
        effective_rows=effective,
        smallest_weight=float(result.weights.min()),
        condition_numbers=condition,
        degenerate=degenerate,
        near_singular=near_singular,
        entropy=entropy,
        mean_uncertainty=mean_uncertainty,
        normality=normality,
        standard_errors=table,
        findings=tuple(findings),
    )
