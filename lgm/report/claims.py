"""The paper's claims checked on our results, as data.

A page checks what the paper reports against its runs and records each check as a
:class:`Claim`: the claim's text, what kind of check it is (a *claim* about the results, an
*identity* that holds by construction or algebra, a parameter *count*), the paper's number
where it gives one, ours, the preset, and a status. The summary page reads these records;
nothing is formatted to text and parsed back.

Statuses:

- ``holds`` / ``does not hold``: the stated rule applied to our numbers;
- ``cannot be tested at this budget``: the model under test is not trained at this preset (every
  run stopped at the epoch cap, a teacher no better than noise, missing runs): a verdict either
  way would say nothing about the paper; the rule functions below say when;
- ``not yet run at paper scale``: a run the claim needs is not stored yet (a page that shows the
  paper-scale results that exist, :meth:`lgm.report.page.Page.not_yet_run`);
- ``no verdict recorded``: the page checks nothing (it shows a figure only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from lgm.paths import REPO_ROOT, cache_root

Kind = Literal["claim", "identity", "count"]
Status = Literal["holds", "does not hold", "cannot be tested at this budget",
                 "not yet run at paper scale", "no verdict recorded"]
STATUSES: tuple[str, ...] = ("holds", "does not hold", "cannot be tested at this budget",
                             "not yet run at paper scale", "no verdict recorded")
UNTESTED = "cannot be tested at this budget"
NOT_YET_RUN = "not yet run at paper scale"
NO_VERDICT = "no verdict recorded"
#: Where each page's verdict table is anchored (``<page>.html#verdicts``).
ANCHOR = "verdicts"
#: Committed verdicts (e.g. of the paper preset, made on a GPU), read after the local ones.
COMMITTED_VERDICTS = REPO_ROOT / "results" / "verdicts"


class Claim(BaseModel):
    """One check of the paper, recorded by a page for the summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page: str
    section_anchor: str = ANCHOR
    text: str
    kind: Kind = "claim"
    paper_value: str = ""
    ours: str = ""
    preset: str
    status: Status


def status_of(ok: bool | np.bool_, untestable: str | None = None) -> Status:
    """``holds``/``does not hold`` from a rule's outcome, unless ``untestable`` gives the
    reason the model is not trained at this budget."""
    if untestable:
        return UNTESTED
    return "holds" if bool(ok) else "does not hold"


# ------------------------------------------------------------- when a claim cannot be tested
def all_at_cap(epochs: Iterable[float], cap: int) -> str | None:
    """The reason, when every training ran to the epoch cap (early stopping never triggered:
    nothing can be said about how fast a model converges)."""
    values = np.asarray(list(epochs), dtype=float)
    values = values[~np.isnan(values)]
    if len(values) and bool(np.all(values >= cap)):
        return f"all {len(values)} trainings stopped at the cap of {cap} epochs"
    return None


def no_better_than_noise(score: float, noise_score: float, *, lower_is_better: bool = True,
                         what: str = "the teacher") -> str | None:
    """The reason, when ``score`` (e.g. a teacher's FID) is no better than that of noise or of
    an untrained model: a student cannot show a gain by imitating it."""
    worse = score >= noise_score if lower_is_better else score <= noise_score
    if worse:
        return f"{what} scores {score:.3g}, no better than noise ({noise_score:.3g})"
    return None


def teacher_no_better_than_students(teacher: float, students: Iterable[float]) -> str | None:
    """The reason, when the teacher (lower is better) does not beat its best student: at this
    budget it is not trained enough for imitation to help generation."""
    best = min(students)
    if teacher >= best:
        return f"the teacher ({teacher:.3g}) is no better than its best student ({best:.3g})"
    return None


def missing(required: Iterable[str], present: Iterable[str]) -> str | None:
    """The reason, when runs a claim needs are missing (diverged or not run)."""
    gone = sorted(set(required) - set(present))
    return f"runs missing: {', '.join(gone)}" if gone else None


# ------------------------------------------------------------------------- records on disk
def _file(folder: Path, page: str, preset: str) -> Path:
    return folder / f"{page}-{preset}.json"


def record(page: str, preset: str, claims: Sequence[Claim], *,
           wall_s: float | None = None, folder: Path | None = None) -> Path:
    """Write a page's claims at ``preset`` (a "no verdict recorded" row when there are none)
    to ``<cache root>/verdicts/<page>-<preset>.json``; returns the file."""
    for c in claims:
        if (c.page, c.preset) != (page, preset):
            raise ValueError(f"claim {c.text!r} is of page {c.page!r} at preset {c.preset!r}, "
                             f"not {page!r} at {preset!r}")
    if not claims:
        claims = [Claim(page=page, preset=preset, text="(this page checks no claim)",
                        status=NO_VERDICT, section_anchor="")]
    folder = folder or cache_root() / "verdicts"
    folder.mkdir(parents=True, exist_ok=True)
    path = _file(folder, page, preset)
    path.write_text(json.dumps({"page": page, "preset": preset, "wall_s": wall_s,
                                "claims": [c.model_dump() for c in claims]}, indent=1))
    return path


def _legacy(page: str, preset: str, rows: list[dict[str, str]]) -> list[Claim]:
    """Rows of the former format (claim, paper, ours, verdict) as claims."""
    return [Claim(page=page, preset=preset, text=r["claim"], paper_value=r.get("paper", ""),
                  ours=r.get("ours", ""),
                  status=UNTESTED if r["verdict"] == "cannot be tested" else r["verdict"])
            for r in rows]


def read(path: Path) -> list[Claim]:
    """The claims of one verdict file (the former list-of-rows format is converted)."""
    data: Any = json.loads(path.read_text())
    page, preset = path.stem.rsplit("-", 1)
    if isinstance(data, list):
        return _legacy(page, preset, data)
    return [Claim(**c) for c in data["claims"]]


def load(preset: str, folders: Sequence[Path] | None = None) -> dict[str, list[Claim]]:
    """Every page's recorded claims at ``preset``, by page; the first folder that has a page's
    file wins (default: the local cache, then the committed ``results/verdicts/``)."""
    if folders is None:
        folders = [cache_root() / "verdicts", COMMITTED_VERDICTS]
    pages: dict[str, list[Claim]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob(f"*-{preset}.json")):
            page = path.stem[: -len(preset) - 1]
            if page not in pages:
                pages[page] = read(path)
    return pages


def wall_time(page: str, preset: str, folders: Sequence[Path] | None = None) -> float | None:
    """The wall time a page recorded with its claims at ``preset`` (None if unknown)."""
    for folder in folders or [cache_root() / "verdicts", COMMITTED_VERDICTS]:
        path = _file(Path(folder), page, preset)
        if path.is_file():
            data = json.loads(path.read_text())
            return data.get("wall_s") if isinstance(data, dict) else None
    return None
