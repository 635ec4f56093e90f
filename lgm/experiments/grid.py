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
  them into its own cache (no shared file system needed). Like the local backend, the driver
  takes the per-key locks of a unit (:meth:`Experiment.lock_names`: a lifelong stack's result
  keys, a KD experiment's completion record) and looks it up again before dispatching it, and
  holds them until its files are stored: a local run of the same key waits and then reads
  the result, and a unit another process computed meanwhile is not dispatched. The driver never
  overwrites a result file that is already there (the first one stays).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from lgm.experiments.cache import try_key_locks
from lgm.experiments.plan import Unit, make_plan, order_for_pages
from lgm.paths import cache_root, write_bytes_atomic

BACKENDS = ("local", "ray")
LOCK_POLL_S = 1.0  # how often the Ray driver retries a unit whose keys another process holds


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
        exp.compute(exp.config(**cfg_values))
        return _result_files(Path(private))


def store_files(files: dict[str, bytes]) -> int:
    """Write result files sent back by a worker into this cache (atomic renames), arrays
    before the JSON that names them; a result already there is kept (never overwritten), with
    its arrays. Returns the number of files written."""
    base = cache_root() / "results"
    kept = {Path(rel).with_suffix("") for rel in files
            if rel.endswith(".json") and (base / rel).exists()}
    written = 0
    for rel in sorted(files, key=lambda r: (r.endswith(".json"), r)):
        if Path(rel).with_suffix("") in kept or (base / rel).exists():
            continue
        write_bytes_atomic(base / rel, files[rel], "a result from a Ray worker")
        written += 1
    for stem in sorted(kept):
        log(f"grid: {stem}.json was stored meanwhile by another process; kept that one")
    return written


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
            unit.exp.compute(unit.cfg)
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
    pending: dict[Any, tuple[Unit, ExitStack]] = {}
    waiting, dispatched, told = list(units), [], set()
    try:
        while waiting or pending:
            for unit in list(waiting):  # dispatch what no other process is computing
                held = try_key_locks(unit.exp.lock_names(unit.cfg))
                if held is None:
                    if id(unit) not in told:
                        told.add(id(unit))
                        log(f"grid: waiting for another process computing {unit.exp.name}")
                    continue
                waiting.remove(unit)
                if unit.exp.status(unit.cfg) in ("committed", "cached"):
                    held.close()
                    log(f"grid: {unit.exp.name} was computed by another process; not "
                        "dispatched")
                    continue
                gpus = gpu_fraction if unit.cfg.device.startswith("cuda") else 0
                ref = task.options(num_gpus=gpus, num_cpus=1).remote(unit.exp.name,
                                                                     unit.cfg.model_dump())
                pending[ref] = (unit, held)
                dispatched.append(unit)
                log(f"grid: {unit.exp.name} dispatched to Ray (its keys locked here)")
            if not pending:
                time.sleep(LOCK_POLL_S)
                continue
            ready, _ = ray.wait(list(pending), num_returns=1,
                                timeout=LOCK_POLL_S if waiting else None)
            for ref in ready:
                unit, held = pending.pop(ref)
                with held:  # the locks go once the unit's files are stored
                    n = store_files(ray.get(ref))
                log(f"grid: {unit.exp.name} done on Ray ({n} result files; "
                    f"{len(dispatched) - len(pending)}/{len(units)} units)")
    finally:
        for _, held in pending.values():
            held.close()
    return dispatched
