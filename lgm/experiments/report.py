"""What every notebook does around the runs: ask the cache, gather series, state provenance.

Notebooks hold the narrative and the plots; this module holds the bookkeeping they share,
so that each page reads the same way and none repeats another's code.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lgm.experiments.cache import cached_run, cached_runs, code_version
from lgm.experiments.config import RunConfig
from lgm.experiments.presets import PRESET_VALUES
from lgm.paths import cache_root
from lgm.provenance import git_commit
from lgm.training.loop import NonFiniteLossError

PAPER_SEEDS = [0, 1, 2, 3, 4]


def resolve_seeds(preset: str, seeds: Iterable[int]) -> list[int]:
    """The paper's five seeds at the paper preset (unless others are given), one at smoke."""
    seeds = [int(s) for s in seeds]
    if preset == "paper" and seeds == [0]:
        return list(PAPER_SEEDS)
    if preset == "smoke":
        return seeds[:1]
    return seeds


@dataclass
class Runs:
    """Results of a page's runs, by label, with the failures and the page's start time."""

    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def all(self) -> list[dict[str, Any]]:
        return [r for runs in self.results.values() for r in runs]


def run_all(configs: dict[str, list[RunConfig]], runs: Runs | None = None) -> Runs:
    """``cached_runs`` every label's configs (its seeds train as one stacked model), printing
    per run whether it was cached or computed.

    A run whose loss diverged is recorded in ``runs.failed`` (a result too, shown on the
    page) instead of stopping the page: when a stack diverges its seeds are re-run one by one,
    so the others still count. Any other error stops the page.
    """
    runs = runs or Runs()
    for label, cfgs in configs.items():
        t0 = time.perf_counter()
        try:
            results = cached_runs(cfgs)
        except NonFiniteLossError:
            results = []
            for cfg in cfgs:
                try:
                    results.append(cached_run(cfg))
                except NonFiniteLossError as err:
                    runs.failed.append((label, cfg.seed, str(err)))
                    print(f"{label:>14} seed {cfg.seed}: FAILED: {err}")
        took = time.perf_counter() - t0
        for result in results:
            seed, wall = result["config"]["seed"], result["provenance"]["wall_s"]
            print(f"{label:>14} seed {seed}: {result['cache']:<8} (run {wall:.1f} s)", flush=True)
            runs.results.setdefault(label, []).append(result)
        print(f"{label:>14}: {len(results)} run(s) in {took:.1f} s", flush=True)
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
        raise RuntimeError("every run failed; nothing to plot")
    return kept


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


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (first column left-aligned, the others right-aligned)."""
    lines = ["| " + " | ".join(header) + " |",
             "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def preset_limits(preset: str, n_seeds: int) -> str:
    """One sentence on what the preset computes, and a warning when it is not the paper's."""
    v = PRESET_VALUES[preset]
    text = (f"Preset `{preset}`: {v.get('max_per_task') or 'all'} training images per task, at "
            f"most {v['max_epochs']} epochs (patience {v['patience']}), Fréchet distance on "
            f"{v['frechet_samples']} samples with a classifier trained "
            f"{v['classifier_epochs']} epoch(s), {n_seeds} seed(s).")
    if preset != "paper":
        text += (" Far smaller than the paper's (all data, up to 200 epochs, five seeds): "
                 "the values show trends at this budget, not a test of the paper's numbers.")
    return text


def provenance_markdown(runs: Runs, preset: str, seeds: list[int], extra: str = "") -> str:
    """The page's provenance line: preset, seeds, device, commits, code version, times, data."""
    if runs.failed:
        extra = f"**{len(runs.failed)} run(s) diverged** (listed above)" + (
            f" · {extra}" if extra else "")
    return results_provenance(runs.all(), preset, seeds, runs.started, extra)


def results_provenance(results: list[dict[str, Any]], preset: str, seeds: list[int],
                       started: float, extra: str = "") -> str:
    """Provenance line for any cached results (``cached_run`` or ``cached_call``) of a page
    that started at ``time.perf_counter()`` = ``started``."""
    devices = sorted({r["provenance"]["device"] for r in results}) or ["–"]
    commits = sorted({r["provenance"]["git_commit"] for r in results}) or ["–"]
    hits = sum(r.get("cache") == "hit" for r in results)
    run_wall = sum(r["provenance"]["wall_s"] for r in results)
    sources = sorted({str(r["data"]) for r in results if r.get("data")})
    text = (f"preset `{preset}` · seeds {seeds} · device {', '.join(devices)} · "
            f"commit {git_commit()} (results made at {', '.join(commits)}) · code version "
            f"{code_version()} · {len(results)} runs ({hits} from the cache), summed run wall "
            f"time {run_wall:.1f} s · this page {time.perf_counter() - started:.1f} s")
    if extra:
        text += f" · {extra}"
    return text + ("\n\ndata: " + "; ".join(sources) if sources else "")


VERDICTS = ("holds", "does not hold", "cannot be tested")


def save_verdicts(page: str, preset: str, rows: list[dict[str, str]]) -> None:
    """Record a page's checks of the paper (for the reproduction summary page).

    Each row: ``claim`` (what the paper says), ``paper`` (its number, or "" for a qualitative
    claim), ``ours`` (what we measured) and ``verdict`` (one of :data:`VERDICTS`).
    """
    for row in rows:
        if set(row) != {"claim", "paper", "ours", "verdict"} or row["verdict"] not in VERDICTS:
            raise ValueError(f"bad verdict row {row!r}")
    folder = cache_root() / "verdicts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{page}-{preset}.json").write_text(json.dumps(rows, indent=1))


def load_verdicts(preset: str) -> dict[str, list[dict[str, str]]]:
    """Every page's recorded checks at ``preset``, by page name."""
    folder = cache_root() / "verdicts"
    return {p.name[: -len(f"-{preset}.json")]: json.loads(p.read_text())
            for p in sorted(folder.glob(f"*-{preset}.json"))}


def verdict_rows(lines: list[str], paper: str = "", *,
                 strict: bool = True) -> list[dict[str, str]]:
    """Rows for :func:`save_verdicts` from a page's verdict lines.

    A line reads ``"N. **claim** (rule): verdict. detail"``, with verdict one of
    :data:`VERDICTS` (as the pages print them); ``ours`` keeps the rule and the detail.
    Lines without a verdict raise, or with ``strict=False`` are left out (observations).
    """
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
