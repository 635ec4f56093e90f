"""The runner: compute what the plan says is missing, locally or on a Ray cluster.

Order: whole pages first, cheapest page first (:func:`lgm.experiments.plan.order_for_pages`).
Budget: a unit is started only if its estimate fits in what is left of ``budget_min``, so a GPU
window that ends mid-way loses at most the unit in flight; every finished unit is in the cache
at once.

Backends:

- ``local``: one process, units one after another on this machine's GPU or CPU;
- ``ray``: one Ray task per unit. ``ray.init()`` starts a local cluster, or joins the one named
  by ``RAY_ADDRESS`` (``ray start --head`` on a GPU node, workers on others). A unit on
  ``cuda`` asks for ``gpu_fraction`` of a GPU so that several small stacks share one. Each task
  computes into a private cache and sends back the result files it wrote; the driver writes
  them into its own cache (no shared file system needed).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lgm.experiments.cache import cached_runs
from lgm.experiments.config import LifelongConfig
from lgm.experiments.plan import Unit, make_plan, order_for_pages, run_kd
from lgm.experiments.spec import Experiment, ExperimentConfig
from lgm.paths import cache_root, write_bytes_atomic

BACKENDS = ("local", "ray")


def compute_unit(exp: Experiment, cfg: ExperimentConfig) -> Any:
    """Train one unit through the cache (a lifelong stack, or a KD experiment)."""
    if isinstance(cfg, LifelongConfig):
        return cached_runs(cfg.runs())
    return run_kd(exp, cfg)


def _result_files(root: Path) -> dict[str, bytes]:
    """Every result file under ``root/results`` (relative path -> bytes)."""
    base = root / "results"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*"))
            if p.is_file() and not p.name.startswith(".")} if base.exists() else {}


def compute_remote(exp_name: str, cfg_values: dict[str, Any]) -> dict[str, bytes]:
    """In a Ray worker: compute the unit in a private cache, return its result files."""
    from lgm.experiments.registry import get

    exp = get(exp_name)
    with tempfile.TemporaryDirectory(prefix="lgm-ray-") as private:
        os.environ["LGM_CACHE"] = private
        os.environ.setdefault("LGM_PROGRESS", "0")
        compute_unit(exp, exp.config(**cfg_values))
        return _result_files(Path(private))


def store_files(files: dict[str, bytes]) -> int:
    """Write result files sent back by a worker into this cache (atomic renames)."""
    base = cache_root() / "results"
    for rel, data in files.items():
        write_bytes_atomic(base / rel, data, "a result from a Ray worker")
    return len(files)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_grid(preset: str = "paper", pages: list[str] | None = None, backend: str = "local",
             budget_min: float | None = None, device: str | None = None,
             seeds: list[int] | None = None, dry_run: bool = False,
             gpu_fraction: float = 0.25, num_cpus: int | None = None) -> list[Unit]:
    """Compute the plan's missing units in page order within the budget; returns those run."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    units, by_page = make_plan(preset, pages, seeds, device)
    todo = order_for_pages(units, by_page)
    budget = budget_min * 60 if budget_min is not None else float("inf")
    chosen, planned = [], 0.0
    for unit in todo:
        if planned + unit.estimate_s > budget:
            log(f"grid: budget: {unit.exp.name} ({unit.estimate_s:.0f} s) would exceed "
                f"{budget_min} min; not started")
            continue
        planned += unit.estimate_s
        chosen.append(unit)
    log(f"grid: {len(chosen)} of {len(todo)} missing units, estimated {planned / 60:.1f} min "
        f"({backend})")
    if dry_run:
        for u in chosen:
            log(f"  would run {u.exp.name} seeds {list(u.cfg.seeds)} for {','.join(u.pages)}: "
                f"~{u.estimate_s:.0f} s")
        return chosen
    if backend == "local":
        started = time.time()
        for i, unit in enumerate(chosen, 1):
            t0 = time.time()
            compute_unit(unit.exp, unit.cfg)
            log(f"grid: {i}/{len(chosen)} {unit.exp.name} done in {time.time() - t0:.1f} s "
                f"(total {time.time() - started:.1f} s)")
        return chosen
    return _run_ray(chosen, gpu_fraction, num_cpus)


def _run_ray(units: list[Unit], gpu_fraction: float, num_cpus: int | None) -> list[Unit]:
    import ray

    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        forwarded = {k: os.environ[k] for k in ("LGM_DATA", "LGM_PROGRESS") if k in os.environ}
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "runtime_env": {"env_vars": forwarded}}
        if "RAY_ADDRESS" not in os.environ and num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        ray.init(**kwargs)
    task = ray.remote(compute_remote)
    pending = {}
    for unit in units:
        gpus = gpu_fraction if unit.cfg.device.startswith("cuda") else 0
        ref = task.options(num_gpus=gpus, num_cpus=1).remote(unit.exp.name,
                                                             unit.cfg.model_dump())
        pending[ref] = unit
    done = 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        unit = pending.pop(ready[0])
        n = store_files(ray.get(ready[0]))
        done += 1
        log(f"grid: {done}/{len(units)} {unit.exp.name} done on Ray ({n} result files)")
    return units
