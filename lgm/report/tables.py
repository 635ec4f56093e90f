"""Numbers as pages show them: series over seeds, mean ± std, Markdown and HTML tables."""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np


def series(results: list[dict[str, Any]], key: str) -> np.ndarray:
    """Seeds x tasks array of one per-task metric (NaN where missing)."""
    n = max(len(r["tasks"]) for r in results)
    out = np.full((len(results), n), np.nan)
    for i, r in enumerate(results):
        for rec in r["tasks"]:
            out[i, rec["task"]] = rec.get(key, np.nan)
    return out


def band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds (std 0 with one seed, NaN with one value)."""
    with warnings.catch_warnings():  # a task only one seed reached has no spread
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
    return mean, std


def fmt(values: np.ndarray, digits: int = 1) -> str:
    """'mean ± std' over the non-NaN values ('–' if none)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return "–"
    text = f"{values.mean():.{digits}f}"
    return text + (f" ± {values.std(ddof=1):.{digits}f}" if len(values) > 1 else "")


def escape_cell(value: Any) -> str:
    """A Markdown table cell: ``|`` escaped and line breaks joined, so a cell stays a cell."""
    return str(value).replace("\\|", "|").replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (first column left-aligned, the others right-aligned); a ``|`` inside
    a cell is escaped."""
    lines = ["| " + " | ".join(escape_cell(h) for h in header) + " |",
             "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *,
               raw_columns: Sequence[int] = (), css_class: str = "lgm-table") -> str:
    """An HTML table; every cell escaped except those of ``raw_columns`` (already HTML)."""
    def cell(tag: str, i: int, value: Any) -> str:
        text = str(value) if i in raw_columns else html.escape(str(value))
        return f"<{tag}>{text}</{tag}>"

    head = "".join(cell("th", -1, h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
                   for row in rows)
    return (f'<div style="overflow-x:auto"><table class="{css_class}"><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")
