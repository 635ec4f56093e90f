"""Appendix 7.4.1 of the lifelong paper: parameter counts of every network, ours beside the
paper's, each recorded as a parameter-count check (kind "count", apart from the claims)."""

from __future__ import annotations

from typing import Any

from lgm.models.networks import parameter_table
from lgm.report.page import Page

WHEN = ("initial", "final")


def _n(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def labels(rows: list[dict[str, Any]]) -> list[str]:
    """Row labels ("method-A"), numbered where a label repeats."""
    bases = [f"{r['method']}-{r['arch'][0].upper()}" if r.get("arch") else r["method"]
             for r in rows]
    return [f"{b} ({bases[:i].count(b) + 1})" if bases.count(b) > 1 else b
            for i, b in enumerate(bases)]


def table(page: Page | None = None) -> tuple[str, str]:
    """The table as Markdown with what each row counts, and a summary of the differences;
    every compared count recorded on ``page``."""
    rows = parameter_table()
    names = labels(rows)
    lines = ["| method | $z_d$ | $z_c$ built | initial, ours | initial, paper | final, ours "
             "| final, paper |", "| --- | :---: | ---: | ---: | ---: | ---: | ---: |"]
    counted, diffs, compared = [], [], []
    for name, r in zip(names, rows, strict=True):
        cells = []
        for w in WHEN:
            ours, paper = r[f"params_{w}"], r[f"paper_{w}"]
            mark = "\u00a0†" if ours is not None and paper is not None and ours != paper else ""
            cells += [_n(ours) + mark, _n(paper)]
            if ours is not None and paper is not None:
                compared.append(ours == paper)
                if ours != paper:
                    d = ours - paper
                    diffs.append(f"- {name}, {w}: {d:+,} ({100 * d / paper:+.3f} %)")
                if page is not None:
                    page.check(f"Table 7.4.1: parameters of {name}, {w}", ours == paper,
                               f"{ours:,}", rule="equal", kind="count", paper_value=f"{paper:,}")
        lines.append(f"| {name} | {r['zd_initial']}→{r['zd_final']} | {r['zc']} | "
                     + " | ".join(cells) + " |")
        counted.append(f"- **{name}**: {r['counts']}")
    summary = f"**{sum(compared)} of {len(compared)}** counts agree exactly with the paper."
    if diffs:
        summary += " Differences (ours minus the paper's):\n\n" + "\n".join(diffs)
    zcs = sorted({r["zc"] for r in rows})
    if zcs != [14]:
        summary += (f"\n\nThe paper prints $z_c$ = 14 in every column; the models here are built "
                    f"with $z_c$ = {', '.join(map(str, zcs))} (see the notes below for why).")
    return "\n".join(lines) + "\n\nWhat each row counts:\n\n" + "\n".join(counted), summary
