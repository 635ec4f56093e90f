"""A page's runs through the result cache: seeds, failures, provenance.

Pages ask the cache for results (``lgm.experiments.cache``); this module gathers them, keeps
the runs that diverged apart, and states where the numbers come from.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgm.experiments import cache, spec
from lgm.experiments.experiment import Experiment
from lgm.experiments.plan import page_seeds
from lgm.experiments.presets import PRESET_VALUES
from lgm.experiments.spec import ExperimentConfig, may_train
from lgm.paths import REPO_ROOT
from lgm.provenance import git_commit


def resolve_seeds(preset: str, seeds: Iterable[int] | None, page: str | None = None
                  ) -> list[int]:
    """The seeds a page runs. Given ``seeds`` mean exactly what they say; ``None`` (every
    page's default) means the preset's: ``page``'s own default where the plan declares one
    (:func:`lgm.experiments.plan.page_seeds`), else the paper's five at the paper preset and
    one seed elsewhere (the seed rule of :func:`lgm.experiments.spec.make_config`)."""
    if seeds is not None:
        return [int(s) for s in seeds]
    return list(spec.default_seeds(preset, own=page_seeds(page, preset) if page else None))


@dataclass
class Runs:
    """Results of a page's runs, by label, with the failures, the seeds not stored yet (where
    the page may only read stored results) and the page's start time."""

    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    missing: dict[str, list[int]] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def all(self) -> list[dict[str, Any]]:
        return [r for runs in self.results.values() for r in runs]


def run_all(experiment: Experiment, configs: Mapping[str, ExperimentConfig],
            runs: Runs | None = None) -> Runs:
    """Every label's config of ``experiment`` through the cache
    (:meth:`lgm.experiments.experiment.Experiment.seed_results`), printing per run whether it
    was cached or computed. A run whose loss diverged is recorded in ``runs.failed`` instead of
    stopping the page. Where runs at this preset may not be computed here (``LGM_NO_TRAIN``,
    :func:`lgm.experiments.spec.may_train`), only the stored ones are read and the other seeds
    are listed in ``runs.missing``. Any other error stops the page."""
    runs = runs or Runs()
    for label, cfg in configs.items():
        t0 = time.perf_counter()
        got = experiment.seed_results(cfg, may_compute=may_train(cfg.preset))
        if got.missing:
            runs.missing[label] = got.missing
        for seed, err in got.failed:
            runs.failed.append((label, seed, err))
            print(f"{label:>14} seed {seed}: FAILED: {err}")
        for result in got.results:
            seed = result.get("config", result.get("params", {})).get("seed", "all")
            wall = result.get("provenance", {}).get("wall_s", 0.0)
            print(f"{label:>14} seed {seed}: {result.get('cache', 'stored'):<8} (run {wall:.1f} s)",
                  flush=True)
            runs.results.setdefault(label, []).append(result)
        took = time.perf_counter() - t0
        state = "not stored yet" if not got.results and got.missing else \
            f"{len(got.results)} run(s) in {took:.1f} s"
        print(f"{label:>14}: {state}", flush=True)
    return runs


def failures_markdown(runs: Runs) -> str:
    """The page's warning about runs whose loss diverged ("" when none did)."""
    if not runs.failed:
        return ""
    return ("**Warning: runs that diverged, left out of the figures and tables:**\n\n"
            + "\n".join(f"- {label}, seed {seed}: {err}" for label, seed, err in runs.failed))


def surviving(runs: Runs, labels: list[str]) -> list[str]:
    """The labels that have at least one result; an error if none has (nothing to show)."""
    kept = [label for label in labels if label in runs.results]
    if not kept:
        raise RuntimeError("every run failed or is not stored yet; nothing to plot")
    return kept


def _seed_list(seeds: Sequence[int]) -> str:
    return ", ".join(str(s) for s in seeds)


def missing_markdown(runs: Runs, page: str, asked: Mapping[str, Sequence[int]]) -> str:
    """The box that says which runs of a paper-scale page are not stored yet and how to compute
    them ("" when nothing is missing). ``asked``: the seeds the page asked for, by label."""
    if not runs.missing:
        return ""
    rows = []
    for label, seeds in asked.items():
        have = len(runs.results.get(label, []))
        gone = runs.missing.get(label, [])
        state = ("complete" if not gone else "not run yet" if not have
                 else f"partial: {have} of {len(seeds)} seeds (missing {_seed_list(gone)})")
        rows.append(f"| {label} | {have} of {len(seeds)} | {state} |")
    return ("**Paper-scale runs still missing.** This page shows the paper-preset runs that are "
            "stored; a partial variant is drawn from its stored seeds only, and a claim that "
            "needs a variant not run yet says *not yet run at paper scale*.\n\n"
            "| variant | seeds stored | state |\n| --- | --- | --- |\n" + "\n".join(rows)
            + f"\n\nCompute the rest on this machine's CPU with `make harvest PAGES={page}` "
            f"(seed by seed, at the lowest priority; `python -m lgm plan --preset paper "
            f"--device cpu --pages {page}` estimates the time), or on a GPU with "
            f"`python -m lgm grid --preset paper --pages {page} --device cuda`; then "
            "`python scripts/commit_results.py`.")


def seeds_text(runs: Runs, asked: Mapping[str, Sequence[int]]) -> str:
    """"5 seeds", or per variant where some are partial: "lifelong 2, ewc 1 of 5 seeds"."""
    counts = {label: len(runs.results.get(label, [])) for label in asked if
              runs.results.get(label)}
    total = max((len(s) for s in asked.values()), default=0)
    if all(n == total for n in counts.values()):
        return f"{total} seed(s)"
    return ", ".join(f"{label} {n}" for label, n in counts.items()) + f" of {total} seeds"


def preset_limits(preset: str, n_seeds: int) -> str:
    """One sentence on what a lifelong preset computes, and a warning when it is not the
    paper's."""
    v = PRESET_VALUES[preset]
    text = (f"Preset `{preset}`: {v.get('max_per_task') or 'all'} training images per task, at "
            f"most {v['max_epochs']} epochs (patience {v['patience']}), Fréchet distance on "
            f"{v['frechet_samples']} samples with a classifier trained "
            f"{v['classifier_epochs']} epoch(s), {n_seeds} seed(s).")
    if preset != "paper":
        text += (" Far smaller than the paper's (all data, up to 200 epochs, five seeds): "
                 "the values show trends at this budget, not a test of the paper's numbers.")
    return text


def data_roots(data_root: str | os.PathLike | None = None) -> list[Path]:
    """Folders that data paths are shown relative to, most specific first."""
    roots = [data_root, os.environ.get("LGM_DATA"), REPO_ROOT / "data",
             REPO_ROOT.parent / "shared" / "data", REPO_ROOT / ".gpu-data"]
    return [Path(r).resolve() for r in roots if r]


_ABSOLUTE = re.compile(r"(?:^|(?<=[\s(='\"`]))/[^\s,;:)`'\"]+", re.MULTILINE)
DATA_LABEL = "DATA_ROOT"


def relative_data(text: str, roots: Sequence[Path] | None = None) -> str:
    """``text`` with every absolute path shown relative to the data root it lies in
    (``DATA_ROOT/FashionMNIST/raw/...``), to the repository, or by its last three parts, so that
    a page does not print the build machine's folders."""
    roots = data_roots() if roots is None else roots

    def short(match: re.Match[str]) -> str:
        path = Path(match.group(0))
        if path.is_relative_to(REPO_ROOT) and not any(path.is_relative_to(r) for r in roots):
            return path.relative_to(REPO_ROOT).as_posix()
        for root in roots:
            try:
                return f"{DATA_LABEL}/" + path.relative_to(root).as_posix()
            except ValueError:
                continue
        return "…/" + "/".join(path.parts[-3:])

    return _ABSOLUTE.sub(short, text)


def _code_version() -> str:
    """"code version X · " where the cache still names one ("" once it does not)."""
    version = getattr(cache, "code_version", None)
    return f"code version {version()} · " if callable(version) else ""


def provenance_markdown(runs: Runs, preset: str, seeds: list[int], extra: str = "") -> str:
    """The page's provenance line: preset, seeds, device, commits, code version, times, data."""
    if runs.failed:
        extra = f"**{len(runs.failed)} run(s) diverged** (listed above)" + (
            f" · {extra}" if extra else "")
    return results_provenance(runs.all(), preset, seeds, runs.started, extra)


def results_provenance(results: list[dict[str, Any]], preset: str, seeds: list[int],
                       started: float, extra: str = "") -> str:
    """Provenance line for any cached results (``cached_run`` or ``cached_call``) of a page
    that started at ``time.perf_counter()`` = ``started``; data paths relative to the data
    root."""
    devices = sorted({r["provenance"]["device"] for r in results}) or ["–"]
    commits = sorted({r["provenance"]["git_commit"] for r in results}) or ["–"]
    hits = sum(r.get("cache") == "hit" for r in results)
    run_wall = sum(r["provenance"]["wall_s"] for r in results)
    sources = sorted({relative_data(str(r["data"])) for r in results if r.get("data")})
    text = (f"preset `{preset}` · seeds {seeds} · device {', '.join(devices)} · "
            f"commit {git_commit()} (results made at {', '.join(commits)}) · "
            f"{_code_version()}{len(results)} runs ({hits} from the cache), summed run wall "
            f"time {run_wall:.1f} s · this page {time.perf_counter() - started:.1f} s")
    if extra:
        text += f" · {extra}"
    return text + ("\n\ndata: " + "; ".join(sources) if sources else "")
