"""The CPU harvest: the paper-scale runs that are still missing, computed on this machine's CPU
beside other work, seed by seed, most valuable first.

Order (:func:`harvest_order`): pages whose missing runs all fit in the budget first, then the
headline pages (:data:`HEADLINE`) before the others, then the cheapest page first. Each unit
is split into its seeds (a lifelong unit) so that every seed lands in the result cache as it
finishes; a seed whose CPU estimate (:mod:`lgm.experiments.cpu_estimate`) does not fit in what
is left of the budget is not started. The process runs at the lowest priority at one torch
thread unless told otherwise (``LGM_HARVEST_THREADS``): on two cores, two torch processes of
two threads each run 4-18 times slower than one of one thread. A kill loses at most the task
in flight on the same machine (the lifelong loop checkpoints after every task) and at most the
seed in flight elsewhere. One line per finished seed: its wall time, its estimate, what is left.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from lgm.experiments.plan import Unit, add_cpu_estimates, make_plan

#: The pages the books' readers look at first (the issue's value order).
HEADLINE = ("fig3", "app77", "fig1b", "kd_hm", "kd_bridge", "fig9", "app73")


@dataclass
class Job:
    """One thing the harvest computes at once: a lifelong seed, or a whole KD unit
    (:meth:`lgm.experiments.experiment.Experiment.jobs`)."""

    unit: Unit
    cfg: Any
    estimate_s: float

    @property
    def label(self) -> str:
        seed = f" seed {self.cfg.seed}" if hasattr(self.cfg, "seed") else ""
        method = f" {self.cfg.method}" if hasattr(self.cfg, "method") else ""
        return f"{'/'.join(self.unit.pages)}: {self.unit.exp.name}{method}{seed}"


def log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} harvest: {text}", file=sys.stderr, flush=True)


def jobs_of(unit: Unit) -> list[Job]:
    """A lifelong unit's missing seeds (each its own job), or the whole KD unit."""
    return [Job(unit, job, unit.exp.job_cpu_seconds(job)) for job in unit.exp.jobs(unit.cfg)]


def harvest_order(units: list[Unit], by_page: dict[str, list[str]], budget_s: float,
                  left_s: dict[str, float] | None = None) -> list[Unit]:
    """The units still to run, page by page in value order (see the module docstring); a unit
    shared by pages comes with the first of them. ``left_s``: each unit's CPU seconds still to
    run, by key (default its whole estimate)."""
    todo = {u.key: u for u in units if u.status in ("missing", "partial")}
    left = left_s or {}

    def cost(page: str) -> float:
        return sum(left.get(k, todo[k].cpu_s or 0.0) for k in by_page[page] if k in todo)

    pages = [p for p in by_page if any(k in todo for k in by_page[p])]
    pages.sort(key=lambda p: (cost(p) > budget_s, p not in HEADLINE, cost(p), p))
    ordered: list[Unit] = []
    for page in pages:
        for k in by_page[page]:
            if k in todo:
                ordered.append(todo.pop(k))
    return ordered


def compute(job: Job) -> None:
    """Train one job through the result cache (a lifelong seed resumes its checkpoint)."""
    job.unit.exp.compute_job(job.cfg)


def settle_process(threads: int | None = None) -> int:
    """Lowest priority and ``threads`` torch threads (default ``LGM_HARVEST_THREADS`` or 1)."""
    import torch

    n = threads or int(os.environ.get("LGM_HARVEST_THREADS", "1"))
    torch.set_num_threads(n)
    try:
        os.nice(19 - os.nice(0))
    except OSError:
        pass
    return n


def run_harvest(budget_min: float | None = None, pages: list[str] | None = None,
                dry_run: bool = False, threads: int | None = None, *, preset: str = "paper",
                settle: bool = True) -> list[Job]:
    """Compute the missing runs of ``pages`` (default: every page) at ``preset`` on the CPU
    within ``budget_min`` minutes; returns the jobs done (or, with ``dry_run``, those it would
    do). ``settle``: lower this process's priority and set its threads first."""
    import torch

    n_threads = settle_process(threads) if settle else torch.get_num_threads()
    budget = budget_min * 60 if budget_min is not None else float("inf")
    units, by_page = make_plan(preset, pages, None, "cpu")
    add_cpu_estimates(units)
    per_unit = {u.key: jobs_of(u) for u in units if u.status in ("missing", "partial")}
    left = {k: sum(j.estimate_s for j in js) for k, js in per_unit.items()}
    jobs = [j for u in harvest_order(units, by_page, budget, left) for j in per_unit[u.key]]
    log(f"{len(jobs)} job(s) missing, about {sum(j.estimate_s for j in jobs) / 3600:.1f} CPU h "
        f"at {n_threads} thread(s); budget {budget_min or 'none'} min")
    started, planned, done = time.time(), 0.0, []
    for i, job in enumerate(jobs):
        left = budget - (planned if dry_run else time.time() - started)
        if job.estimate_s > left:
            log(f"skip {job.label}: ~{job.estimate_s / 60:.0f} min would overrun the budget "
                f"({left / 60:.0f} min left)")
            continue
        if dry_run:
            log(f"would run {job.label}: ~{job.estimate_s / 60:.0f} min")
            planned += job.estimate_s
            done.append(job)
            continue
        t0 = time.time()
        compute(job)
        wall = time.time() - t0
        done.append(job)
        rest = sum(j.estimate_s for j in jobs[i + 1:] if j.unit is job.unit)
        log(f"done {job.label} in {wall / 60:.1f} min (estimate {job.estimate_s / 60:.1f}); "
            f"unit left ~{rest / 60:.0f} min; budget left "
            f"{(budget - (time.time() - started)) / 60:.0f} min")
    return done
