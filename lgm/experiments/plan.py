"""The plan: for every page of the book, the runs it needs at a preset, and where they stand.

A *unit* is what one call computes: one experiment config (a lifelong stack trains its seeds
together). Units are deduplicated across pages (Fig. 3's lifelong runs are also Fig. 6's and
app. 7.6's lambda = 0.01 point). Each unit is ``committed`` (all its results under
``results/``), ``cached`` (in the local cache, some maybe committed), ``partial`` (some seeds
stored) or ``missing``, with an estimate of its GPU time. What a page needs is declared on its
experiments (:meth:`lgm.experiments.experiment.Experiment.page_configs`: the page's variants,
seeds and quick cut), so that ``grid --preset quick`` computes exactly the runs the quick book
reads; the plan only reads it there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lgm.experiments.experiment import Experiment
from lgm.experiments.registry import experiments, get
from lgm.experiments.spec import ConfigError, ExperimentConfig


@dataclass
class Unit:
    """One thing to compute: an experiment config, the pages that need it, its state."""

    exp: Experiment
    cfg: ExperimentConfig
    pages: list[str] = field(default_factory=list)
    status: str = "missing"
    estimate_s: float = 0.0
    cpu_s: float | None = None  # estimated CPU seconds on this machine (plan --device cpu)
    cpu_basis: str = ""         # how the CPU estimate is known: calibrated, measured, guess

    @property
    def key(self) -> str:
        return f"{self.exp.name}:{json.dumps(self.exp.key_params(self.cfg), sort_keys=True)}"

    def row(self) -> dict[str, Any]:
        overrides = {k: v for k, v in self.cfg.to_dict().items()
                     if k not in ("preset", "device", "data_root")
                     and v != self.exp.make_config(self.cfg.preset).to_dict().get(k)}
        row = {"experiment": self.exp.name, "pages": self.pages, "status": self.status,
               "estimate_s": round(self.estimate_s, 1), "seeds": list(self.cfg.seeds),
               "overrides": overrides, "preset": self.cfg.preset}
        if self.cpu_s is not None:
            row |= {"cpu_estimate_s": round(self.cpu_s, 1), "cpu_basis": self.cpu_basis}
        return row


def page_units(page: str, preset: str, seeds: list[int] | None = None,
               device: str | None = None) -> list[tuple[Experiment, ExperimentConfig]]:
    """The (experiment, config) pairs page ``page`` needs at ``preset``; an experiment whose
    data is not at hand hands its runs to its stand-in (fig. 5 without SVHN)."""
    extra = {"device": device} if device else {}
    units = []
    for exp in experiments().values():
        runner = get(exp.stand_in) if exp.stand_in and not exp.available() else exp
        units += [(runner, c) for c in exp.page_configs(page, preset, seeds, on=runner, **extra)]
    return units


def all_pages() -> list[str]:
    """Every page some experiment runs for."""
    return sorted({p for e in experiments().values() for p in e.pages
                   if e.page_variants(p)})


def page_seeds(page: str, preset: str) -> tuple[int, ...] | None:
    """The default seeds of page ``page`` at ``preset`` when they are the page's own, else
    None (the experiment's: :func:`lgm.experiments.spec.make_config`)."""
    return next((s for e in experiments().values() if (s := e.seeds_of(page, preset))), None)


def shown_preset(page: str) -> tuple[str, str]:
    """The preset ``make book`` shows page ``page`` at, and why: ``paper`` when every run it
    needs at the paper preset is stored, or (a page of per-seed stacks) when some are, shown
    as partial; ``quick`` otherwise."""
    if page not in all_pages():
        return "quick", "no paper-preset runs"
    units, _ = make_plan("paper", [page])
    states = {u.status for u in units}
    if states <= {"committed", "cached"}:
        return "paper", "all its paper-preset runs are stored"
    if states & {"committed", "cached", "partial"} and all(u.exp.shows_partial for u in units):
        return "paper", "some of its paper-preset runs are stored (shown as partial)"
    return "quick", "paper runs missing"


def make_plan(preset: str = "paper", pages: list[str] | None = None,
              seeds: list[int] | None = None, device: str | None = None,
              with_status: bool = True) -> tuple[list[Unit], dict[str, list[str]]]:
    """Deduplicated units for ``pages`` (default: every page) and page -> unit keys."""
    chosen = pages or all_pages()
    unknown = sorted(set(chosen) - set(all_pages()))
    if unknown:
        raise ConfigError(f"unknown page(s) {', '.join(unknown)}; pages with runs: "
                          f"{', '.join(all_pages())}")
    units: dict[str, Unit] = {}
    by_page: dict[str, list[str]] = {}
    for page in chosen:
        for exp, cfg in page_units(page, preset, seeds, device):
            unit = Unit(exp, cfg)
            unit = units.setdefault(unit.key, unit)
            unit.pages.append(page)
            by_page.setdefault(page, []).append(unit.key)
    for unit in units.values():
        unit.estimate_s = unit.exp.gpu_seconds(unit.cfg)
        if with_status:
            unit.status = unit.exp.status(unit.cfg)
    return list(units.values()), by_page


def add_cpu_estimates(units: list[Unit]) -> None:
    """Each unit's estimated CPU time on this machine at the current torch thread count
    (:mod:`lgm.experiments.cpu_estimate`: calibrated here for lifelong units, the first call
    per method and architecture measures for a few seconds)."""
    for unit in units:
        unit.cpu_s, unit.cpu_basis = unit.exp.cpu_seconds(unit.cfg)


def page_totals(units: list[Unit], by_page: dict[str, list[str]], attr: str = "estimate_s",
                states: tuple[str, ...] = ("missing", "partial")) -> dict[str, float]:
    """Per page, the estimated seconds (``attr``) of its units still to run (a unit shared by
    pages counts for each)."""
    by_key = {u.key: u for u in units}
    return {page: sum(getattr(by_key[k], attr) or 0.0 for k in keys
                      if by_key[k].status in states) for page, keys in by_page.items()}


def order_for_pages(units: list[Unit], by_page: dict[str, list[str]]) -> list[Unit]:
    """Missing units in an order that completes whole pages first, cheapest page first."""
    todo = {u.key: u for u in units if u.status in ("missing", "partial")}
    ordered: list[Unit] = []

    def cost(page: str) -> float:
        return sum(todo[k].estimate_s for k in by_page[page] if k in todo)

    pending = set(by_page)
    while pending:
        page = min(sorted(pending), key=cost)
        pending.discard(page)
        for k in by_page[page]:
            if k in todo:
                ordered.append(todo.pop(k))
    return ordered
