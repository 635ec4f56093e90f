"""The former verdict-line format of the pages, kept for the KD toy pages (kd_fig2, kd_fig5):
``"N. **claim** (rule): verdict. detail"`` lines parsed into :class:`lgm.report.claims.Claim`
records. New pages record claims directly (:meth:`lgm.report.page.Page.check`)."""

from __future__ import annotations

from lgm.report.claims import Claim, record
from lgm.report.claims import load as _load

VERDICTS = ("holds", "does not hold", "cannot be tested")


def save_verdicts(page: str, preset: str, rows: list[dict[str, str]]) -> None:
    """Record rows of the former format (claim, paper, ours, verdict) as claims."""
    for row in rows:
        if set(row) != {"claim", "paper", "ours", "verdict"} or row["verdict"] not in VERDICTS:
            raise ValueError(f"bad verdict row {row!r}")
    record(page, preset, [
        Claim(page=page, preset=preset, text=r["claim"], paper_value=r["paper"], ours=r["ours"],
              status="cannot be tested at this budget" if r["verdict"] == "cannot be tested"
              else r["verdict"]) for r in rows])


def load_verdicts(preset: str) -> dict[str, list[dict[str, str]]]:
    """Every page's recorded claims at ``preset`` in the former row format."""
    return {page: [{"claim": c.text, "paper": c.paper_value, "ours": c.ours,
                    "verdict": c.status} for c in claims]
            for page, claims in _load(preset).items()}


def verdict_rows(lines: list[str], paper: str = "", *,
                 strict: bool = True) -> list[dict[str, str]]:
    """Rows for :func:`save_verdicts` from verdict lines ``"N. **claim** (rule): verdict.
    detail"`` (the former pages' format; pages now record :class:`Claim` directly)."""
    if not strict:
        lines = [ln for ln in lines if any(f": {v}" in ln for v in VERDICTS)]
    rows = []
    for line in lines:
        claim = line.split("**")[1] if line.count("**") >= 2 else line
        rest = line.split("**", 2)[-1]
        found = [(rest.find(f": {v}"), v) for v in VERDICTS if f": {v}" in rest]
        if not found:
            raise ValueError(f"no verdict in {line!r}")
        at, verdict = min(found)
        ours = (rest[:at] + rest[at + 2 + len(verdict):]).strip(" .:")
        rows.append({"claim": claim, "paper": paper, "ours": ours, "verdict": verdict})
    return rows
