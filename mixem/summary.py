"""Printable summaries of fitted mixtures (text for terminals, HTML for notebooks)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mixem.result import MixtureResult

__all__ = ["Summary"]


class Summary:
    """Model header (family, n, d, K, log-likelihood, criteria, convergence) and parameters."""

    def __init__(self, result: MixtureResult) -> None:
        self.result = result

    def _header(self) -> list[tuple[str, str]]:
        r = self.result
        fams = " + ".join(f"{type(c).__name__} x {c.n_components}" for c in r.components)
        return [
            ("Model", fams),
            ("Observations", f"{r.n_obs:g}"),
            ("Features", str(r.n_features)),
            ("Components", str(r.n_components)),
            ("Parameters", str(r.n_parameters)),
            ("Log-likelihood", f"{r.loglik:.4f}"),
            ("BIC", f"{r.bic:.4f}"),
            ("AIC", f"{r.aic:.4f}"),
            ("ICL", f"{r.icl:.4f}"),
            ("Converged", f"{r.converged} ({r.n_iter} iterations)"),
        ]

    def _parameters(self) -> list[tuple[str, str]]:
        r = self.result
        rows = [(f"weight[{j}]", f"{w:.4f}") for j, w in enumerate(r.weights)]
        for f, comp in enumerate(r.components):
            prefix = f"family{f}." if len(r.components) > 1 else ""
            for name, value in comp.params().items():
                text = np.array2string(np.asarray(value), precision=4, suppress_small=True)
                rows.append((prefix + name, text))
        return rows

    def __str__(self) -> str:
        head = self._header()
        width = max(len(k) for k, _ in head)
        lines = ["Mixture model fitted by EM", "=" * 60]
        lines += [f"{k:<{width}}  {v}" for k, v in head]
        lines.append("-" * 60)
        for name, text in self._parameters():
            pad = "\n" + " " * (width + 2)
            lines.append(f"{name:<{width}}  {text.replace(chr(10), pad)}")
        return "\n".join(line.rstrip() for line in "\n".join(lines).splitlines())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def table(rows: list[tuple[str, str]]) -> str:
            body = "".join(
                f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                f"<td><pre style='margin:0'>{html.escape(v)}</pre></td></tr>"
                for k, v in rows
            )
            return f"<table>{body}</table>"

        return (
            "<div><strong>Mixture model fitted by EM</strong>"
            + table(self._header())
            + table(self._parameters())
            + "</div>"
        )
