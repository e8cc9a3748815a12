"""Printable summaries of fitted mixtures (text for terminals, HTML for notebooks)."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from mixem.components.family import family_name

if TYPE_CHECKING:
    import pandas as pd

    from mixem.result import MixtureResult

__all__ = ["Summary"]

_WIDTH = 78
_CELL = 12


class Summary:
    """Model header and a parameter table with standard errors, in the spirit of statsmodels.

    Attributes
    ----------
    result : MixtureResult
        The summarised fit.
    table : pandas.DataFrame
        One row per parameter: ``estimate`` and, when available, ``se``, ``lower`` and
        ``upper`` (see :meth:`MixtureResult.standard_errors`).
    note : str
        How the standard errors were obtained, or why there are none.
    """

    def __init__(self, result: MixtureResult, table: pd.DataFrame, note: str) -> None:
        self.result = result
        self.table = table
        self.note = note

    def _header(self) -> list[tuple[str, str]]:
        r = self.result
        fams = " + ".join(f"{family_name(c.family)} x {c.n_components}" for c in r.components)
        return [
            ("Model:", fams),
            ("Observations:", f"{r.n_obs:g}"),
            ("Features:", str(r.n_features)),
            ("Components:", str(r.n_components)),
            ("Parameters:", str(r.n_parameters)),
            ("Converged:", f"{r.converged} ({r.n_iter} iterations)"),
            ("Log-likelihood:", f"{r.loglik:.4f}"),
            ("BIC:", f"{r.bic:.4f}"),
            ("AIC:", f"{r.aic:.4f}"),
            ("ICL:", f"{r.icl:.4f}"),
        ]

    def _columns(self) -> list[tuple[str, str]]:
        level = self.table.attrs.get("level", 0.95)
        tail = (1.0 - level) / 2.0
        names = [("estimate", "estimate")]
        if "se" in self.table:
            names += [("se", "std err"), ("lower", f"[{tail:.3g}"), ("upper", f"{1 - tail:.3g}]")]
        return names

    def _rows(self) -> list[list[str]]:
        out = []
        for label, row in self.table.iterrows():
            cells = [str(label)]
            for col, _ in self._columns():
                value = row[col]
                cells.append("" if value is None or math.isnan(value) else f"{value:.4g}")
            out.append(cells)
        return out

    def __str__(self) -> str:
        head = self._header()
        model, head = head[0], head[1:]  # the model's name may be long: a line of its own
        half = (len(head) + 1) // 2
        left, right = head[:half], head[half:]
        lines = ["Mixture model fitted by EM".center(_WIDTH), "=" * _WIDTH]
        lines.append(f"{model[0]:<16}{model[1]}")
        for i, (k, v) in enumerate(left):
            text = f"{k:<16}{v:<23}"
            if i < len(right):
                text += f"{right[i][0]:<16}{right[i][1]}"
            lines.append(text.rstrip())
        columns = self._columns()
        rows = self._rows()
        first = max([len(r[0]) for r in rows] + [9])
        rule = max(_WIDTH, first + _CELL * len(columns))
        lines[1] = "=" * rule
        lines[0] = lines[0].strip().center(rule)
        lines.append("=" * rule)
        lines.append(" " * first + "".join(f"{name:>{_CELL}}" for _, name in columns))
        lines.append("-" * rule)
        for cells in rows:
            lines.append(f"{cells[0]:<{first}}" + "".join(f"{c:>{_CELL}}" for c in cells[1:]))
        lines.append("=" * rule)
        lines.append(self.note)
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._header()
        )
        columns = self._columns()
        titles = "".join(f"<th>{html.escape(name)}</th>" for _, name in columns)
        body = "".join(
            "<tr><th style='text-align:left'>"
            + html.escape(cells[0])
            + "</th>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells[1:])
            + "</tr>"
            for cells in self._rows()
        )
        return (
            "<div><strong>Mixture model fitted by EM</strong>"
            f"<table>{head}</table>"
            f"<table><tr><th></th>{titles}</tr>{body}</table>"
            f"<p><small>{html.escape(self.note)}</small></p></div>"
        )
