"""Command line: every experiment of both papers, by name, through the result cache.

    python -m lgm experiments                      # every experiment, its presets and pages
    python -m lgm run fashion --preset paper --seeds 0-4 --set method=ewc --device cuda
    python -m lgm run kd_hm --preset quick --out hm.json
    python -m lgm train --experiment fashion --method lifelong --seeds 0-4   # alias of run
    python -m lgm params                           # appendix 7.4.1's parameter table
    python -m lgm plan --preset paper [--pages fig3,kd_table1] [--json]
    python -m lgm grid --preset paper [--backend local|ray] [--budget-min 12] [--dry-run]
    python -m lgm harvest [--budget-min 150] [--pages fig3,app77] [--dry-run]   # on a CPU

``--seeds`` takes a list (``0,2,5``), a range (``0-4``) or both (``0-2,7``); explicit seeds
mean exactly what they say, and without them the paper preset runs the paper's seeds. Every
config field can be set with ``--set name=value`` (values parsed as JSON, else kept as
strings). Bad input is refused before any compute with one line naming the culprit, and each
kind of failure has its own exit code (:data:`EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lgm.experiments.spec import PRESETS, ConfigError
from lgm.paths import CacheError, write_bytes_atomic

EXIT_CODES = {"usage": 2, "data": 3, "diverged": 4, "storage": 5, "checkpoint": 6}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``name=value`` -> (name, JSON value or the raw string)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        return name.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return name.strip(), raw


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,7-8"`` -> [0, 2, 7, 8]; each seed once, >= 0."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"seeds must look like 0-4 or 0,2,5, got {text!r}") from None
        if last < first:
            raise argparse.ArgumentTypeError(f"seed range {part.strip()!r} is empty or reversed "
                                             f"(write it low-high, e.g. {last}-{first})")
        seeds += range(first, last + 1)
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got {text!r}")
    return seeds


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=PRESETS, default="quick")
    p.add_argument("--seeds", type=parse_seeds, default=None,
                   help="seeds, trained stacked: 0-4 or 0,2,5 (default: the preset's)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--data-root", default=None, help="data folder (default: $LGM_DATA, ...)")
    p.add_argument("--set", dest="overrides", type=parse_assignment, action="append",
                   default=[], metavar="NAME=VALUE", help="override any config field")
    p.add_argument("--out", type=Path, default=None, help="also write the result JSON here")
    p.add_argument("--fresh", action="store_true",
                   help="discard this run's checkpoints and start it afresh (no resume)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lgm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("experiments", help="list every experiment, its presets and book pages")
    run = sub.add_parser("run", help="run one experiment through the result cache")
    run.add_argument("experiment", help="an experiment name (python -m lgm experiments)")
    _run_options(run)
    train = sub.add_parser("train", help="alias: run a lifelong experiment with one method")
    train.add_argument("--experiment", default="fashion")
    train.add_argument("--method", default="lifelong")
    train.add_argument("--arch", default="dense")
    train.add_argument("--seed", type=parse_seeds, default=None, help="one seed (= --seeds N)")
    _run_options(train)
    sub.add_parser("params", help="print the parameter-count table of appendix 7.4.1")
    plan = sub.add_parser("plan", help="the runs every page needs, and which are stored")
    grid = sub.add_parser("grid", help="run what the plan says is missing (local or Ray)")
    for p in (plan, grid):
        p.add_argument("--preset", choices=PRESETS, default="paper")
        p.add_argument("--pages", default=None, help="comma-separated pages (default: all)")
        p.add_argument("--seeds", type=parse_seeds, default=None)
        p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    grid.add_argument("--backend", choices=("local", "ray"), default="local")
    grid.add_argument("--budget-min", type=float, default=None,
                      help="start no unit whose estimate would exceed this many minutes")
    grid.add_argument("--dry-run", action="store_true", help="print what would run")
    grid.add_argument("--fresh", action="store_true",
                      help="discard the checkpoints of the runs it computes (no resume)")
    grid.add_argument("--gpu-fraction", type=float, default=0.25,
                      help="Ray: the share of a GPU one unit asks for")
    harvest = sub.add_parser("harvest", help="the missing paper runs on this CPU, seed by seed, "
                                             "at the lowest priority, most valuable first")
    harvest.add_argument("--pages", default=None, help="comma-separated pages (default: all)")
    harvest.add_argument("--budget-min", type=float, default=None,
                         help="start no seed whose CPU estimate would exceed what is left")
    harvest.add_argument("--threads", type=int, default=None,
                         help="torch threads (default: LGM_HARVEST_THREADS or 1)")
    harvest.add_argument("--dry-run", action="store_true", help="print what would run")
    return parser


def cmd_experiments() -> int:
    from lgm.experiments.registry import experiments

    print(f"{'experiment':20} {'paper':9} {'presets':18} {'pages':28} title")
    for e in experiments().values():
        print(f"{e.name:20} {e.paper:9} {','.join(e.presets):18} {','.join(e.pages):28} "
              f"{e.title}")
    return 0


def config_of(args: argparse.Namespace) -> tuple[Any, Any]:
    """The experiment and its validated config from the command line (no compute)."""
    from lgm.experiments.registry import get
    from lgm.experiments.spec import make_config

    overrides = dict(args.overrides)
    for name, flag in (("preset", "--preset"), ("seeds", "--seeds")):
        if name in overrides:
            raise ConfigError(f"{name} cannot be set with --set; use {flag} "
                              f"(e.g. {flag} {'paper' if name == 'preset' else '0-4'})")
    if args.command == "train":
        if args.seed is not None:
            if args.seeds is not None or len(args.seed) != 1:
                raise ConfigError("--seed takes one seed; use --seeds for several")
            args.seeds = args.seed
        overrides = {"method": args.method, "arch": args.arch, **overrides}
    exp = get(args.experiment)
    for name, value in (("device", args.device), ("data_root", args.data_root)):
        if value is not None:
            overrides[name] = value
    return exp, make_config(exp, args.preset, seeds=args.seeds, **overrides)


def without_arrays(result: Any) -> Any:
    """``result`` without its ``arrays`` entries (the JSON of ``--out`` holds the numbers)."""
    if isinstance(result, dict):
        return {k: without_arrays(v) for k, v in result.items() if k != "arrays"}
    if isinstance(result, list | tuple):
        return [without_arrays(v) for v in result]
    return result


def summarise(result: Any) -> None:
    """One line per run (cache hit or computed, device, wall time) and the lifelong metrics."""
    runs = result.get("runs", [result]) if isinstance(result, dict) else result
    for r in runs:
        prov = r.get("provenance", {})
        params = r.get("config", r.get("params", {}))
        seed = params.get("seed", params.get("seeds", ""))
        print(f"seed {seed}: {r.get('cache', '?')}; device {prov.get('device', '?')}, "
              f"{prov.get('wall_s', '?')} s", file=sys.stderr)
        for rec in r.get("tasks", []):
            if "neg_elbo" not in rec:
                continue
            fd = f"  frechet {rec['frechet']:.2f}" if "frechet" in rec else ""
            ep = f"  epochs {rec['epochs']}" if "epochs" in rec else ""
            print(f"  task {rec['task']}: -elbo {rec['neg_elbo']:.2f}{fd}{ep}")


def cmd_run(args: argparse.Namespace) -> int:
    exp, cfg = config_of(args)
    if args.out is not None:
        blocker = next((p for p in args.out.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise ConfigError(f"--out {args.out}: {blocker} is a file, not a folder")
    print(f"lgm: {exp.name} at preset {cfg.preset}, seeds {list(cfg.seeds)}", file=sys.stderr)
    from lgm.experiments.cache import fresh_checkpoints

    with fresh_checkpoints(args.fresh):
        result = exp.compute(cfg)
    if args.out:
        from lgm.experiments.cache import strict_json  # the store's one strict-JSON rule

        record = without_arrays(result)
        record = record if isinstance(record, dict) else {"runs": record}
        write_bytes_atomic(args.out, strict_json(record, "--out"), "the --out result")
    summarise(result)
    return 0


def _pages(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def cmd_plan(args: argparse.Namespace) -> int:
    from lgm.experiments.plan import add_cpu_estimates, make_plan, page_totals

    units, by_page = make_plan(args.preset, _pages(args.pages), args.seeds, args.device)
    cpu = args.device == "cpu"
    if cpu:
        add_cpu_estimates(units)
    attr, unit_name = ("cpu_s", "CPU") if cpu else ("estimate_s", "GPU")
    totals = page_totals(units, by_page, attr)
    todo = [u for u in units if u.status in ("missing", "partial")]
    grand = sum(getattr(u, attr) or 0.0 for u in todo)
    if args.json:
        print(json.dumps({"preset": args.preset, "units": [u.row() for u in units],
                          "pages": {p: [units_index(units, k) for k in ks]
                                    for p, ks in by_page.items()},
                          "estimate": unit_name, "page_totals_s": totals,
                          "total_s": round(grand, 1)}, indent=1))
        return 0
    print(f"{'page':10} {'experiment':18} {'status':10} {unit_name + ' s':>8}  seeds  overrides")
    for page, keys in by_page.items():
        for k in keys:
            u = units[units_index(units, k)]
            row = u.row()
            basis = f" ({u.cpu_basis})" if cpu and u.cpu_basis != "calibrated" else ""
            print(f"{page:10} {row['experiment']:18} {row['status']:10} "
                  f"{getattr(u, attr) or 0.0:8.0f}  {','.join(map(str, row['seeds'])):6} "
                  f"{json.dumps(row['overrides'])}{basis}")
    print("\nstill to run, per page (" + unit_name + " h): " + ", ".join(
        f"{p} {t / 3600:.1f}" for p, t in totals.items() if t))
    threads = f" at {torch_threads()} torch thread(s)" if cpu else ""
    print(f"{len(units)} units, {len(todo)} to run, about {grand / 60:.1f} {unit_name} min "
          f"at preset {args.preset}{threads}")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def units_index(units: list[Any], key: str) -> int:
    return next(i for i, u in enumerate(units) if u.key == key)


def cmd_grid(args: argparse.Namespace) -> int:
    from lgm.experiments.cache import fresh_checkpoints
    from lgm.experiments.grid import run_grid

    with fresh_checkpoints(args.fresh):  # Ray workers start from empty caches anyway
        run_grid(args.preset, _pages(args.pages), args.backend, args.budget_min, args.device,
                 args.seeds, args.dry_run, args.gpu_fraction)
    return 0


def cmd_harvest(args: argparse.Namespace) -> int:
    from lgm.experiments.harvest import run_harvest

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1 (got {args.threads})")
    run_harvest(args.budget_min, _pages(args.pages), args.dry_run, args.threads)
    return 0


def cmd_params() -> int:
    from lgm.models.networks import parameter_table

    print(f"{'method':10} {'arch':6} {'ours':>12} {'paper':>12}")
    for row in parameter_table():
        print(f"{row['method']:10} {row['arch']:6} {row['params_final']:>12,} "
              f"{row['paper_final']:>12,}")
    return 0


def project_errors() -> tuple[type[BaseException], ...]:
    """The errors the command line reports in one line: the project's own (bad input, missing
    or malformed data, a diverged run, a broken checkpoint, the cache) and the system's (disk,
    permissions). Anything else is a bug and shows its traceback."""
    from lgm.errors import LgmError

    return (LgmError, argparse.ArgumentTypeError, OSError)


def failure(err: BaseException) -> tuple[str, str]:
    """(kind, one-line message) of one of :func:`project_errors`."""
    from lgm.errors import DivergedError
    from lgm.training.checkpoint import CheckpointError

    if isinstance(err, DivergedError):
        return "diverged", str(err)
    if isinstance(err, CheckpointError):
        return "checkpoint", str(err)
    if isinstance(err, CacheError):
        return "storage", str(err)
    if isinstance(err, FileNotFoundError):
        return "data", str(err)
    if isinstance(err, OSError):
        what = "disk full" if getattr(err, "errno", None) == 28 else "cannot write"
        return "storage", f"{what}: {err}"
    return "usage", str(err)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "experiments":
            return cmd_experiments()
        if args.command == "params":
            return cmd_params()
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "grid":
            return cmd_grid(args)
        if args.command == "harvest":
            return cmd_harvest(args)
        return cmd_run(args)
    except Exception as err:
        if not isinstance(err, project_errors()):
            raise  # a bug: its traceback
        kind, message = failure(err)
        print(f"lgm: error: {message}", file=sys.stderr)
        return EXIT_CODES[kind]
