"""The summary page as a dashboard: every page of both papers, its claims kept apart from its
identities and parameter counts, the paper's number where it gives one, and a column per
preset. Built as HTML from the recorded :class:`~lgm.report.claims.Claim` records, so no cell
content can break the table."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence

from lgm.report import claims as claims_mod
from lgm.report.claims import NO_VERDICT, STATUSES, Claim
from lgm.report.page import status_badge
from lgm.report.pages import PAGES, PAPER_TITLES
from lgm.report.tables import html_table

Records = Mapping[str, Mapping[str, Sequence[Claim]]]  # preset -> page -> claims
NOT_RUN = "not run at this preset"


def load_records(presets: Sequence[str] = ("quick", "paper")) -> dict[str, dict[str, list[Claim]]]:
    """The recorded claims of every page at each preset (local cache, then committed)."""
    return {p: claims_mod.load(p) for p in presets}


def counts(records: Records, paper: str, preset: str) -> dict[str, Counter[str]]:
    """Per kind ("claim", "identity", "count"), the statuses of ``paper``'s pages at
    ``preset``; "pages without a verdict" counts pages recording none or not run."""
    out: dict[str, Counter[str]] = {"claim": Counter(), "identity": Counter(),
                                    "count": Counter(), "pages": Counter()}
    recorded = records.get(preset, {})
    for page in (p for p in PAGES if p.paper == paper):
        claims = [c for c in recorded.get(page.name, []) if c.status != NO_VERDICT]
        if page.name not in recorded:
            out["pages"][NOT_RUN] += 1
        elif not claims:
            out["pages"][NO_VERDICT] += 1
        for c in claims:
            out[c.kind][c.status] += 1
    return out


def _count_cell(counter: Counter[str]) -> str:
    parts = [f"{counter[s]} {status_badge(s)}" for s in STATUSES if counter[s]]
    return " · ".join(parts) or "–"


def counts_html(records: Records, presets: Sequence[str]) -> str:
    """The counts per paper and preset, at the top of the summary."""
    rows = []
    for paper, title in PAPER_TITLES.items():
        for preset in presets:
            c = counts(records, paper, preset)
            pages = " · ".join(f"{n} {html.escape(s)}" for s, n in c["pages"].items()) or "–"
            rows.append([f"<i>{html.escape(title)}</i>", f"<code>{preset}</code>",
                         _count_cell(c["claim"]), _count_cell(c["identity"]),
                         _count_cell(c["count"]), pages])
    return html_table(["paper", "preset", "claims", "identities", "parameter counts",
                       "pages without verdicts"], rows, raw_columns=range(6))


def _cell(claim: Claim | None, missing: str) -> str:
    if claim is None:
        return f'<span style="color:#57606a">{html.escape(missing)}</span>'
    ours = f"<br><small>{html.escape(claim.ours)}</small>" if claim.ours else ""
    return status_badge(claim.status) + ours


def _link(page: str, anchor: str) -> str:
    target = f"{page}.html" + (f"#{anchor}" if anchor else "")
    return f'<a href="{html.escape(target)}">{html.escape(page)}</a>'


def rows_for(records: Records, paper: str, kinds: Sequence[str],
             presets: Sequence[str]) -> list[list[str]]:
    """One row per (page, claim text) of ``kinds`` over the presets; a page with no claim of
    any kind gets one "no verdict recorded" row (when ``"claim"`` is among ``kinds``)."""
    rows = []
    for page in (p for p in PAGES if p.paper == paper):
        keys: dict[str, Claim] = {}
        for preset in presets:
            for c in records.get(preset, {}).get(page.name, []):
                if c.kind in kinds and c.status != NO_VERDICT:
                    keys.setdefault(c.text, c)
        any_claim = any(c.status != NO_VERDICT for preset in presets
                        for c in records.get(preset, {}).get(page.name, []))
        if not keys:
            if "claim" in kinds and not any_claim:
                cells = [NO_VERDICT if page.name in records.get(p, {}) else NOT_RUN
                         for p in presets]
                ran = any(page.name in records.get(p, {}) for p in presets)
                rows.append([_link(page.name, ""), html.escape(page.title),
                             f"<i>{NO_VERDICT if ran else 'no record yet: the page has not run'}"
                             "</i>", "–",
                             *[f'<span style="color:#57606a">{c}</span>' for c in cells]])
            continue
        for text, first in keys.items():
            by_preset = {p: next((c for c in records.get(p, {}).get(page.name, [])
                                  if c.text == text), None) for p in presets}
            paper_value = next((c.paper_value for c in by_preset.values()
                                if c is not None and c.paper_value), "")
            rows.append([_link(page.name, first.section_anchor), html.escape(page.title),
                         html.escape(text), html.escape(paper_value or "(qualitative)"),
                         *[_cell(by_preset[p], NOT_RUN if page.name not in
                                 records.get(p, {}) else "not checked at this preset")
                           for p in presets]])
    return rows


def dashboard(records: Records | None = None,
              presets: Sequence[str] = ("quick", "paper")) -> str:
    """The whole summary as HTML: counts, then per paper the claims, then the identities and
    parameter counts."""
    records = load_records(presets) if records is None else records
    parts = ["<h2>Counts</h2>", counts_html(records, presets)]
    header = ["page", "figure", "claim", "paper's value", *[f"ours, {p}" for p in presets]]
    for paper, title in PAPER_TITLES.items():
        parts += [f"<h2>{html.escape(title)}: claims</h2>",
                  html_table(header, rows_for(records, paper, ("claim",), presets),
                             raw_columns=range(len(header)))]
    for paper, title in PAPER_TITLES.items():
        rows = rows_for(records, paper, ("identity", "count"), presets)
        if rows:
            parts += [f"<h2>{html.escape(title)}: identities and parameter counts</h2>",
                      html_table(header, rows, raw_columns=range(len(header)))]
    return "\n".join(parts)
