"""The grid timing mode: wall time of the plan's grid against its parts run alone.

1. ``python -m lgm grid --preset P [--pages ...] --device D`` into a private, empty cache
   (``LGM_CACHE``): the wall time of the whole process, and each unit's time from the
   grid's log (``grid: i/n <experiment> done in X s``);
2. unless ``--no-parts``: every unit of the same plan once more, each in a process of its own
   with a fresh cache of its own (``--one-unit i``, what one separate run costs: start-up,
   imports, the plan, data, classifiers);
3. a table per unit (experiment, pages, seconds in the grid, alone, alone with the process)
   and the ratios: grid wall time vs the sum of the parts' process times (and compute times).

The plan is the one the grid prints with ``--dry-run`` (whole pages first, cheapest first,
within ``--budget-min``). At ``--preset smoke`` on one small page it takes seconds on a CPU;
``--no-parts`` times a real grid (the GPU window's paper grid) without repeating it.

    python benchmarks/bench_grid.py [--preset smoke] [--pages kd_hm fig6] [--device cpu]
        [--budget-min N] [--no-parts] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WOULD_RUN = re.compile(r"would run (\S+) seeds (\[.*?\]) for (\S+): ~(\d+) s")
DONE = re.compile(r"^grid: (\d+)/(\d+) (\S+) done in ([\d.]+) s")


@dataclass
class Part:
    experiment: str
    seeds: str
    pages: str
    estimate_s: float
    grid_s: float | None = None
    alone_s: float | None = None       # compute time of the unit run alone
    alone_wall_s: float | None = None  # the whole process of that run


def grid_args(args: argparse.Namespace) -> list[str]:
    out = ["--preset", args.preset, "--device", args.device]
    if args.pages:
        out += ["--pages", ",".join(args.pages)]
    if args.budget_min is not None:
        out += ["--budget-min", str(args.budget_min)]
    return out


def environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ, LGM_CACHE=str(cache), LGM_PROGRESS="0", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def plan(args: argparse.Namespace, cache: Path) -> list[Part]:
    """The units the grid would run, in its order (its ``--dry-run``)."""
    out = subprocess.run([sys.executable, "-m", "lgm", "grid", *grid_args(args), "--dry-run"],
                         env=environment(cache), cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bench_grid: the grid's dry run failed: {out.stderr.strip()[-400:]}")
    return [Part(m[1], m[2], m[3], float(m[4])) for m in WOULD_RUN.finditer(out.stderr)]


def run_grid(args: argparse.Namespace, cache: Path, parts: list[Part]) -> tuple[float, int]:
    """The grid as one process; its output passed through; returns (wall s, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lgm", "grid", *grid_args(args)],
                            env=environment(cache), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  | {line.rstrip()}", flush=True)
        m = DONE.match(line)
        if m and int(m[1]) <= len(parts):
            parts[int(m[1]) - 1].grid_s = float(m[4])
    code = proc.wait()
    return time.perf_counter() - start, code


def run_alone(args: argparse.Namespace, root: Path, index: int, part: Part) -> None:
    """Unit ``index`` in a process of its own with an empty cache of its own."""
    cache = root / f"unit-{index}"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--one-unit", str(index), *grid_args(args)],
                         env=environment(cache), cwd=ROOT, capture_output=True, text=True)
    part.alone_wall_s = time.perf_counter() - start
    if out.returncode:
        print(f"  unit {index + 1} ({part.experiment}) failed alone: "
              f"{out.stderr.strip().splitlines()[-1:]}", flush=True)
        return
    part.alone_s = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def one_unit(args: argparse.Namespace) -> int:
    """In the child: plan as the grid does (fresh cache), compute unit ``--one-unit`` only."""
    from lgm.experiments.grid import run_grid

    units = run_grid(args.preset, args.pages, "local", args.budget_min, args.device,
                     dry_run=True)
    unit = units[args.one_unit]
    start = time.perf_counter()
    unit.exp.compute(unit.cfg)
    print(json.dumps({"experiment": unit.exp.name, "seconds": time.perf_counter() - start}))
    return 0


def fmt(v: float | None) -> str:
    return f"{v:9.1f}" if v is not None else f"{'-':>9}"


def report(parts: list[Part], wall: float, args: argparse.Namespace) -> None:
    print(f"grid at preset {args.preset} on {args.device}"
          f"{' (pages ' + ','.join(args.pages) + ')' if args.pages else ''}: "
          f"{len(parts)} units")
    print(f"{'#':>3}  {'experiment':<20} {'pages':<26} {'est s':>7} {'grid s':>9} "
          f"{'alone s':>9} {'process s':>9}")
    for i, p in enumerate(parts, 1):
        print(f"{i:>3}  {p.experiment:<20} {p.pages[:26]:<26} {p.estimate_s:7.0f} "
              f"{fmt(p.grid_s)} {fmt(p.alone_s)} {fmt(p.alone_wall_s)}")
    in_grid = sum(p.grid_s or 0.0 for p in parts)
    print(f"grid wall time {wall:.1f} s (units {in_grid:.1f} s, the rest start-up, plan and "
          f"bookkeeping: {wall - in_grid:.1f} s)")
    if any(p.alone_wall_s is not None for p in parts):
        alone = sum(p.alone_s or 0.0 for p in parts)
        procs = sum(p.alone_wall_s or 0.0 for p in parts)
        print(f"parts alone: compute {alone:.1f} s, processes {procs:.1f} s")
        if wall > 0:
            print(f"ratio: grid x{procs / wall:.2f} faster than its parts run one by one "
                  f"(x{alone / wall:.2f} against their compute time alone)")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--pages", nargs="+", default=None, help="page names (default: all)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budget-min", type=float, default=None)
    ap.add_argument("--no-parts", action="store_true", help="time the grid only")
    ap.add_argument("--cache", default=None, help="the grid's cache (default: a temporary one)")
    ap.add_argument("--one-unit", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pages:
        args.pages = [p for arg in args.pages for p in arg.split(",") if p]
    if args.one_unit is not None:
        return one_unit(args)
    with tempfile.TemporaryDirectory(prefix="lgm-bench-grid-") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "grid"
        parts = plan(args, cache)
        print(f"bench_grid: {len(parts)} units to run into {cache}", flush=True)
        wall, code = run_grid(args, cache, parts)
        if code:
            print(f"bench_grid: the grid exited with {code}", flush=True)
        if not args.no_parts:
            for i, part in enumerate(parts):
                run_alone(args, Path(tmp), i, part)
        report(parts, wall, args)
        return code


if __name__ == "__main__":
    sys.exit(main())
