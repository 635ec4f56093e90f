"""The plan: for every page of the book, the runs it needs at a preset, and where they stand.

A *unit* is what one call trains: a lifelong stack (one :class:`LifelongConfig`, its seeds
trained together) or one KD experiment config. Units are deduplicated across pages (Fig. 3's
lifelong runs are also Fig. 6's and app. 7.6's lambda = 0.01 point). Each unit is
``committed`` (all its results under ``results/``), ``cached`` (in the local cache, some maybe
committed), ``partial`` (some seeds stored) or ``missing``, with an estimate of its GPU time.

The lifelong pages' variants are declared here as data (:data:`LIFELONG_VARIANTS`): the
methods or settings each page compares, as its notebook asks for them. Some pages cut their
budget further at the quick preset (:data:`QUICK_CUTS`, read by the notebooks through
:func:`quick_cut`), so that ``grid --preset quick`` computes exactly the runs the quick book
reads. The KD pages run their experiment's preset config.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from lgm.data.datasets import DataNotFoundError, locate_dataset
from lgm.device import resolve_device
from lgm.experiments.cache import (
    COMMITTED_RESULTS,
    cached_call,
    call_paths,
    data_fingerprint,
    find,
)
from lgm.experiments.config import LifelongConfig
from lgm.experiments.registry import experiments, get
from lgm.experiments.spec import ConfigError, Experiment, ExperimentConfig, make_config
from lgm.provenance import provenance

RUNS_GROUP = "experiments"  # where the cache keeps a KD experiment's whole result

# page -> list of (experiment, overrides): each entry one lifelong stack
LIFELONG_VARIANTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "fig3": [("fashion", {"method": m, "visuals": 8})
             for m in ("lifelong", "ewc", "vanilla", "full", "upto")]
    + [("fashion", {"method": "ewc", "visuals": 8, "ewc_replay": False})],  # the paper's text?
    "fig6": [("fashion", {"method": "lifelong", "visuals": 8})],
    "fig9": [("fashion", {"method": "lifelong", "visuals": 8}),
             ("fashion", {"method": "lifelong", "visuals": 8,
                          "consistency_direction": "forward"})],
    "app73": [("fashion", {"method": "lifelong", "visuals": 8}),
              ("fashion", {"method": "lifelong", "visuals": 8, "likelihood_weight": 1.0})],
    "app76": [("fashion", {"method": "ewc", "visuals": 0, "ewc_gamma": g})
              for g in (1.0, 10.0, 100.0, 1000.0)]
    + [("fashion", {"method": "lifelong", "visuals": 0, "info_gain_weight": lam})
       for lam in (0.0, 0.01, 0.1, 1.0)],
    "fig1b": [("mnist", {"method": "full", "continuous": 2, "discrete": j,
                         "classifier_epochs": 0, "visuals": 8}) for j in (1, 10)],
    "app77": [("mnist", {"method": m}) for m in ("lifelong", "ewc")],
    "fig4": [("permuted", {"method": m}) for m in ("lifelong", "ewc", "vanilla", "full", "upto")],
    "fig5": [("svhn_mnist", {"method": "lifelong", "continuous": 2, "classifier_epochs": 0,
                             "visuals": 8})],
    "app75": [("fashion_mnist20", {"method": m, "visuals": 0}) for m in ("lifelong", "ewc")],
}
# page -> overrides applied to every variant at the quick preset only (budget cuts of the quick
# book; each page says so in its caveat)
QUICK_CUTS: dict[str, dict[str, Any]] = {
    "fig1b": {"max_per_task": 200},  # two runs within a minute of CPU
    "fig4": {"num_tasks": 3},        # unpermuted, G1, G2
    "app76": {"num_tasks": 5},       # eight settings
}


# page -> preset -> the seeds a page runs when none are given, where they differ from its
# experiment's (the paper's five at paper, one elsewhere): Fig. 9 reports ten trials, and its
# quick page compares two seeds' spread.
PAGE_SEEDS: dict[str, dict[str, tuple[int, ...]]] = {
    "fig9": {"paper": tuple(range(10)), "quick": (0, 1)},
}


def page_seeds(page: str, preset: str) -> tuple[int, ...] | None:
    """The default seeds of page ``page`` at ``preset`` when they are the page's own, else
    None (the experiment's: :func:`lgm.experiments.spec.make_config`)."""
    return PAGE_SEEDS.get(page, {}).get(preset)


def quick_cut(page: str, preset: str) -> dict[str, Any]:
    """The overrides page ``page`` applies to every run at ``preset`` (only quick has any)."""
    return dict(QUICK_CUTS.get(page, {})) if preset == "quick" else {}


# GPU seconds per 5-seed stack at the paper preset, measured (Fig. 3 on an H100, results/):
# lifelong 143, EWC 132, vanilla 155; other units are scaled from these by data size.
PAPER_STACK_S = {"fashion": 150.0, "mnist": 160.0, "permuted": 600.0, "svhn_mnist": 400.0,
                 "fashion_then_mnist": 300.0, "fashion_mnist20": 330.0}
KD_PAPER_S = {"kd_toy_gaussian": 800.0, "kd_toy_binomial": 1250.0, "kd_table1": 3600.0,
              "kd_lambda": 1800.0, "kd_hm": 30.0, "kd_vrnn": 1800.0, "kd_table2": 1800.0,
              "kd_bridge": 600.0}  # toy chains: measured on one CPU thread; others: guesses


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
        return f"{self.exp.name}:{json.dumps(kd_params(self.cfg), sort_keys=True)}"

    def row(self) -> dict[str, Any]:
        overrides = {k: v for k, v in self.cfg.to_dict().items()
                     if k not in ("preset", "device", "data_root")
                     and v != make_config(self.exp, self.cfg.preset).to_dict().get(k)}
        row = {"experiment": self.exp.name, "pages": self.pages, "status": self.status,
               "estimate_s": round(self.estimate_s, 1), "seeds": list(self.cfg.seeds),
               "overrides": overrides, "preset": self.cfg.preset}
        if self.cpu_s is not None:
            row |= {"cpu_estimate_s": round(self.cpu_s, 1), "cpu_basis": self.cpu_basis}
        return row


def page_units(page: str, preset: str, seeds: list[int] | None = None,
               device: str | None = None) -> list[tuple[Experiment, ExperimentConfig]]:
    """The (experiment, config) pairs page ``page`` needs at ``preset``."""
    extra = {"device": device} if device else {}
    seeds = seeds if seeds is not None else page_seeds(page, preset)
    if page in LIFELONG_VARIANTS:
        variants = LIFELONG_VARIANTS[page]
        if page == "fig5" and not _available("svhn"):
            variants = [("fashion_then_mnist", o) for _, o in variants]
        cut = quick_cut(page, preset)
        return [(get(e), make_config(get(e), preset, seeds=seeds, **{**o, **cut}, **extra))
                for e, o in variants]
    return [(e, make_config(e, preset, seeds=seeds, **extra))
            for e in experiments().values() if page in e.pages and e.paper == "kd"]


def _available(dataset: str) -> bool:
    try:
        locate_dataset(dataset, split="train")
        return True
    except (DataNotFoundError, ValueError):
        return False


def all_pages() -> list[str]:
    pages = set(LIFELONG_VARIANTS)
    for e in experiments().values():
        if e.paper == "kd":
            pages.update(e.pages)
    return sorted(pages)


def status_of(exp: Experiment, cfg: ExperimentConfig) -> str:
    """committed / cached / partial / missing, read from the cache without computing."""
    if isinstance(cfg, LifelongConfig):
        states = []
        for run in cfg.runs():
            try:
                fp = data_fingerprint(run)
            except (DataNotFoundError, OSError):
                fp = None
            found = find(run, fp)
            if found is None:
                states.append("missing")
            else:  # where it was found (without the data at hand: under any data's key)
                states.append("committed" if COMMITTED_RESULTS in found[0].parents
                              else "cached")
        if all(s == "committed" for s in states):
            return "committed"
        if "missing" not in states:
            return "cached"
        return "partial" if set(states) != {"missing"} else "missing"
    try:
        run_kd(exp, cfg, compute=False)
    except LookupError:
        return "missing"
    committed = call_paths(RUNS_GROUP, exp.name, kd_params(cfg))[0].exists()
    return "committed" if committed else "cached"


def shown_preset(page: str) -> tuple[str, str]:
    """The preset ``make book`` shows page ``page`` at, and why: ``paper`` when every run it
    needs at the paper preset is stored, or (a lifelong page) when some are, shown as
    partial; ``quick`` otherwise."""
    if page not in all_pages():
        return "quick", "no paper-preset runs"
    units, _ = make_plan("paper", [page])
    states = {u.status for u in units}
    if states <= {"committed", "cached"}:
        return "paper", "all its paper-preset runs are stored"
    if page in LIFELONG_VARIANTS and states & {"committed", "cached", "partial"}:
        return "paper", "some of its paper-preset runs are stored (shown as partial)"
    return "quick", "paper runs missing"


def kd_params(cfg: ExperimentConfig) -> dict[str, Any]:
    """The key of a KD experiment's whole result: its config but the device."""
    return {k: v for k, v in cfg.to_dict().items() if k != "device"}


def run_kd(exp: Experiment, cfg: ExperimentConfig, *, compute: bool = True) -> Any:
    """A KD experiment through the cache, with a completion record of the whole experiment
    (its parts are cached inside), so that the plan can tell a finished experiment without
    running it. Returns the experiment's result (its parts read back on a second call)."""
    holder: dict[str, Any] = {}

    def whole(_params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        holder["result"] = exp.run(cfg)
        prov = _provenance_of(holder["result"]) or provenance(resolve_device(cfg.device),
                                                              started)
        record = {"complete": True, "provenance": prov}
        numbers = getattr(importlib.import_module(exp.run.__module__), "record_numbers", None)
        if numbers is not None:  # the numbers a page shows, where the experiment names them
            record["numbers"] = numbers(holder["result"])
        return record

    record = cached_call(RUNS_GROUP, exp.name, kd_params(cfg), whole, recompute=compute,
                         entry=exp.run.__module__,  # the experiment's fingerprint guards it
                         guard=False)  # what it computes goes through guarded cached_calls
    if "result" in holder or not compute:
        return holder.get("result", record)
    return exp.run(cfg)  # recorded earlier: every part is a cache hit


def _provenance_of(result: Any) -> dict[str, Any]:
    """The first provenance found inside a result (its parts carry their own)."""
    if isinstance(result, dict):
        if "provenance" in result:
            return result["provenance"]
        items = list(result.values())
    elif isinstance(result, list | tuple):
        items = list(result)
    else:
        return {}
    for v in items:
        found = _provenance_of(v)
        if found:
            return found
    return {}


def estimate(exp: Experiment, cfg: ExperimentConfig) -> float:
    """Estimated GPU seconds of a unit at its preset (paper: from measured rates)."""
    scale = {"paper": 1.0, "quick": 0.05, "smoke": 0.005}.get(cfg.preset, 1.0)
    if isinstance(cfg, LifelongConfig):
        return PAPER_STACK_S.get(cfg.experiment, 300.0) * scale * max(1, len(cfg.seeds)) / 5
    return KD_PAPER_S.get(exp.name, 600.0) * scale


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
        unit.estimate_s = estimate(unit.exp, unit.cfg)
        if with_status:
            unit.status = status_of(unit.exp, unit.cfg)
    return list(units.values()), by_page


def add_cpu_estimates(units: list[Unit]) -> None:
    """Each unit's estimated CPU time on this machine at the current torch thread count
    (:mod:`lgm.experiments.cpu_estimate`: calibrated here for lifelong units, the first call
    per method and architecture measures for a few seconds)."""
    from lgm.experiments.cpu_estimate import unit_seconds

    for unit in units:
        unit.cpu_s, unit.cpu_basis = unit_seconds(unit.exp.name, unit.cfg)


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
