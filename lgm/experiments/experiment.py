"""The one door: an experiment declared once, and everything the project does with it.

An :class:`Experiment` is data (a typed config, presets, the book pages that show it with the
runs each page asks for, the page seeds and quick cuts, the paper's values, its estimated cost)
and one ``run(config)`` that computes through the result cache. The command line (``python -m
lgm experiments | run | plan | grid | harvest``), the plan, the runner and the book's pages
(:meth:`lgm.report.page.Page.run`) all reach an experiment through these methods, never through
its module or its config's type:

- :meth:`Experiment.make_config`: the config at a preset, the seed rule of
  :func:`lgm.experiments.spec.make_config`;
- :meth:`Experiment.page_configs`: the configs a page needs (its variants, seeds, quick cut);
- :meth:`Experiment.compute`, :meth:`Experiment.status`, :meth:`Experiment.lock_names`: compute
  through the cache, look up without computing, the cache locks a computation takes;
- :meth:`Experiment.jobs` and :meth:`Experiment.compute_job`: the pieces the CPU harvest lands
  one by one; :meth:`Experiment.gpu_seconds` and :meth:`Experiment.cpu_seconds`: estimates.

Two ways of storing a result exist. The default (the KD paper's experiments) is one completion
record for the whole experiment, its parts cached inside by the module. A
:class:`StackedExperiment` (the lifelong paper's task sequences) is a stack of per-seed runs,
each its own cache entry (``config.runs()``), so that a partial stack is visible and each seed
lands as it finishes. A new experiment is one module that defines ``EXPERIMENTS``
(:mod:`lgm.experiments.registry` finds it).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lgm.errors import DivergedError
from lgm.experiments.cache import (
    COMMITTED_RESULTS,
    cached_call,
    cached_run,
    cached_runs,
    call_paths,
    data_fingerprint,
    find,
    lookup,
    result_key,
)
from lgm.experiments.spec import PAPER_SEEDS, ExperimentConfig, make_config

RECORDS = "experiments"  # the cache group of a whole experiment's completion record
PRESET_SCALE = {"paper": 1.0, "quick": 0.05, "smoke": 0.005}  # of the paper preset's cost
Overrides = Mapping[str, Any]


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
    return next((found for v in items if (found := _provenance_of(v))), {})


@dataclass
class SeedResults:
    """What a page reads of one config: its results (one per seed where the experiment keeps
    them so, else the whole result), the seeds not stored (where it may not compute) and the
    seeds whose run diverged, with the error."""

    results: list[dict[str, Any]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """One experiment of one paper, runnable by name; its result is one completion record."""

    shows_partial: ClassVar[bool] = False  # whether a page may show it with some seeds missing

    name: str
    paper: str  # "lifelong" | "kd"
    title: str
    config: type[ExperimentConfig]
    presets: Mapping[str, Mapping[str, Any]]
    run: Callable[[Any], Any]
    pages: tuple[str, ...] = ()
    paper_seeds: tuple[int, ...] = PAPER_SEEDS
    paper_values: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # fields this experiment pins
    # page -> the overrides of each run the page asks for (default: one run, no overrides)
    variants: Mapping[str, Sequence[Overrides]] = field(default_factory=dict)
    quick_cuts: Mapping[str, Overrides] = field(default_factory=dict)  # page -> quick-only cut
    page_seeds: Mapping[str, Mapping[str, tuple[int, ...]]] = field(default_factory=dict)
    paper_gpu_s: float = 600.0  # GPU seconds of the paper preset's unit (measured or guessed)
    paper_cpu_s: tuple[float, str] = (10_000.0, "guess")  # one CPU thread, and how it is known
    stand_in: str | None = None  # the experiment its pages run when its data is not at hand

    # ------------------------------------------------------------------ declaring the runs
    def make_config(self, preset: str = "quick", seeds: Sequence[int] | None = None, *,
                    seed: int | None = None, **overrides: Any) -> ExperimentConfig:
        """The config at ``preset`` with ``overrides`` (the seed rule of ``spec``); ``seed=s``
        (one seed, as a per-seed call passes it) means ``seeds=(s,)``."""
        return make_config(self, preset, (seed,) if seed is not None else seeds, **overrides)

    def page_variants(self, page: str) -> list[dict[str, Any]]:
        """The overrides of each run page ``page`` asks of this experiment ([] if none)."""
        if page in self.variants:
            return [dict(v) for v in self.variants[page]]
        return [{}] if page in self.pages else []

    def quick_cut(self, page: str, preset: str) -> dict[str, Any]:
        """The overrides page ``page`` applies to every run at ``preset`` (only quick has any:
        budget cuts of the quick book, each page says so in its caveat)."""
        return dict(self.quick_cuts.get(page, {})) if preset == "quick" else {}

    def seeds_of(self, page: str, preset: str) -> tuple[int, ...] | None:
        """The default seeds of ``page`` at ``preset`` where the page has its own, else None."""
        return self.page_seeds.get(page, {}).get(preset)

    def page_configs(self, page: str, preset: str, seeds: Sequence[int] | None = None, *,
                     on: Experiment | None = None, **extra: Any) -> list[ExperimentConfig]:
        """The configs page ``page`` needs at ``preset`` (``extra``: device, data root), of
        this experiment or of the one that runs them ``on`` (a stand-in)."""
        seeds = seeds if seeds is not None else self.seeds_of(page, preset)
        cut = self.quick_cut(page, preset)
        return [(on or self).make_config(preset, seeds, **{**v, **cut, **extra})
                for v in self.page_variants(page)]

    def available(self) -> bool:
        """Whether this experiment's data is at hand (or can be fetched)."""
        return True

    # ------------------------------------------------------------------ through the cache
    def key_params(self, cfg: ExperimentConfig) -> dict[str, Any]:
        """The key of the whole result: the config but the device."""
        return {k: v for k, v in cfg.to_dict().items() if k != "device"}

    def compute(self, cfg: ExperimentConfig, *, compute: bool = True) -> Any:
        """The experiment's result through the cache, with a completion record of the whole
        experiment (its parts are cached inside), so that a finished experiment is known
        without running it; ``compute=False`` raises LookupError when it is not stored."""
        holder: dict[str, Any] = {}

        def whole(_params: dict[str, Any]) -> dict[str, Any]:
            from lgm.device import resolve_device
            from lgm.provenance import provenance

            started = time.time()
            holder["result"] = self.run(cfg)
            prov = _provenance_of(holder["result"]) or provenance(resolve_device(cfg.device),
                                                                  started)
            record = {"complete": True, "provenance": prov}
            module = importlib.import_module(self.run.__module__)
            numbers = getattr(module, "record_numbers", None)
            if numbers is not None:  # the numbers a page shows, where the module names them
                record["numbers"] = numbers(holder["result"])
            return record

        record = cached_call(RECORDS, self.name, self.key_params(cfg), whole, recompute=compute,
                             entry=self.run.__module__,  # its module's fingerprint guards it
                             guard=False)  # what it computes goes through guarded cached_calls
        if "result" in holder or not compute:
            return holder.get("result", record)
        return self.run(cfg)  # recorded earlier: every part is a cache hit

    def status(self, cfg: ExperimentConfig) -> str:
        """committed / cached / missing, read from the cache without computing."""
        try:
            self.compute(cfg, compute=False)
        except LookupError:
            return "missing"
        committed = call_paths(RECORDS, self.name, self.key_params(cfg))[0].exists()
        return "committed" if committed else "cached"

    def lock_names(self, cfg: ExperimentConfig) -> list[str]:
        """The cache locks computing ``cfg`` takes (its completion record's)."""
        return [f"{RECORDS}-{call_paths(RECORDS, self.name, self.key_params(cfg))[1].stem}"]

    def seed_results(self, cfg: ExperimentConfig, *, may_compute: bool = True) -> SeedResults:
        """``cfg``'s results for a page: computed where missing if ``may_compute``, else only
        what is stored (the rest listed as missing); a divergence is listed, not raised."""
        if not may_compute and self.status(cfg) == "missing":
            return SeedResults(missing=list(cfg.seeds))
        try:
            result = self.compute(cfg)
        except DivergedError as err:
            return SeedResults(failed=[(s, str(err)) for s in cfg.seeds])
        runs = result.get("runs") if isinstance(result, dict) else None
        return SeedResults(results=list(runs) if isinstance(runs, list) else [result])

    def jobs(self, cfg: ExperimentConfig) -> list[Any]:
        """The pieces the harvest computes one at a time: the whole experiment."""
        return [cfg]

    def compute_job(self, job: Any) -> Any:
        """Compute one of :meth:`jobs` through the cache."""
        return self.compute(job)

    # ------------------------------------------------------------------ what it costs
    def gpu_seconds(self, cfg: ExperimentConfig) -> float:
        """Estimated GPU seconds at ``cfg``'s preset, scaled from the paper preset's."""
        return self.paper_gpu_s * PRESET_SCALE.get(cfg.preset, 1.0)

    def cpu_seconds(self, cfg: ExperimentConfig) -> tuple[float, str]:
        """Estimated seconds on one CPU thread and how that is known (measured or guess)."""
        return self.paper_cpu_s

    def job_cpu_seconds(self, job: Any) -> float:
        """Estimated CPU seconds of one of :meth:`jobs`."""
        return self.cpu_seconds(job)[0]


@dataclass(frozen=True)
class StackedExperiment(Experiment):
    """An experiment whose config is a stack of per-seed runs (``config.runs()``), trained
    together and each stored under its own key: a stack can be partly stored, and the harvest
    lands it seed by seed. ``datasets``: what its data needs (for :meth:`available`)."""

    datasets: tuple[str, ...] = ()
    shows_partial: ClassVar[bool] = True

    def available(self) -> bool:
        from lgm.data.datasets import DataNotFoundError, locate_dataset

        try:
            for name in self.datasets:
                locate_dataset(name, split="train")
        except (DataNotFoundError, ValueError):
            return False
        return True

    def compute(self, cfg: Any, *, compute: bool = True) -> Any:
        """Every seed's run through the cache: ``{"experiment", "runs": [per seed]}``."""
        return {"experiment": self.name, "runs": cached_runs(cfg.runs(), compute=compute)}

    def status(self, cfg: Any) -> str:
        """committed / cached / partial (some seeds stored) / missing."""
        states = [_run_state(run) for run in cfg.runs()]
        if all(s == "committed" for s in states):
            return "committed"
        if "missing" not in states:
            return "cached"
        return "partial" if set(states) != {"missing"} else "missing"

    def lock_names(self, cfg: Any) -> list[str]:
        return [result_key(run, data_fingerprint(run)) for run in cfg.runs()]

    def seed_results(self, cfg: Any, *, may_compute: bool = True) -> SeedResults:
        """One result per seed. When the stack diverges its seeds are re-run one by one, so
        that the others still count."""
        out, runs = SeedResults(), cfg.runs()
        if not may_compute:
            out.missing = [r.seed for r in runs if lookup(r) is None]
            runs = [r for r in runs if r.seed not in out.missing]
            if not runs:
                return out
        try:
            out.results = cached_runs(runs)
        except DivergedError:
            for run in runs:
                try:
                    out.results.append(cached_run(run))
                except DivergedError as err:
                    out.failed.append((run.seed, str(err)))
        return out

    def jobs(self, cfg: Any) -> list[Any]:
        """The seeds not stored yet, each its own job."""
        return [run for run in cfg.runs() if lookup(run) is None]

    def compute_job(self, job: Any) -> Any:
        return cached_runs([job])

    def gpu_seconds(self, cfg: Any) -> float:
        return super().gpu_seconds(cfg) * max(1, len(cfg.seeds)) / len(self.paper_seeds)

    def cpu_seconds(self, cfg: Any) -> tuple[float, str]:
        return sum(self.job_cpu_seconds(run) for run in cfg.runs()), "calibrated"

    def job_cpu_seconds(self, job: Any) -> float:
        from lgm.experiments.cpu_estimate import seed_seconds

        return seed_seconds(job)


def _run_state(run: Any) -> str:
    """Where one run is stored: committed, cached (the local cache) or missing (without the
    data at hand, a stored result under any data's key counts)."""
    from lgm.data.datasets import DataNotFoundError

    try:
        fp = data_fingerprint(run)
    except (DataNotFoundError, OSError):
        fp = None
    found = find(run, fp)
    if found is None:
        return "missing"
    return "committed" if COMMITTED_RESULTS in found[0].parents else "cached"
