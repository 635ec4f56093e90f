"""Command line: ``python -m lgm train --experiment fashion --method lifelong --seeds 0-4``.

``--seeds`` takes a list (``0,2,5``), a range (``0-4``) or both (``0-2,7``); the seeds train as
one stacked model and each gets its own result, the same as a lone run of that seed.

Every parameter of :class:`lgm.experiments.RunConfig` can be set with ``--set name=value``
(values parsed as JSON, else kept as strings). The run's result is written as JSON holding
the full config, the per-task metrics, the git commit, device, torch version and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lgm.experiments import ARCHS, EXPERIMENTS, METHODS, PRESETS, make_config


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
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0-4 or 0,2,5, got {text!r}")\
            from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lgm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="run one (experiment, method, seed)")
    train.add_argument("--experiment", choices=EXPERIMENTS, default="fashion")
    train.add_argument("--method", choices=METHODS, default="lifelong")
    seeds = train.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help="one seed (default 0)")
    seeds.add_argument("--seeds", type=parse_seeds, default=None,
                       help="several seeds, trained stacked: 0-4 or 0,2,5")
    train.add_argument("--preset", choices=PRESETS, default="quick")
    train.add_argument("--arch", choices=ARCHS, default="dense")
    train.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    train.add_argument("--data-root", default=None, help="data folder (default: $LGM_DATA, ...)")
    train.add_argument("--set", dest="overrides", type=parse_assignment, action="append",
                       default=[], metavar="NAME=VALUE", help="override any config field")
    train.add_argument("--out", type=Path, default=None,
                       help="also write the result JSON here (it is always cached)")
    train.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    sub.add_parser("params", help="print the parameter-count table of appendix 7.4.1")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from lgm.experiments.cache import cached_runs, result_key

    overrides = dict(args.overrides)
    seeds = args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]
    cfgs = [make_config(args.preset, experiment=args.experiment, method=args.method, seed=s,
                        arch=args.arch, device=args.device, data_root=args.data_root,
                        **overrides) for s in seeds]
    for cfg in cfgs:
        print(f"lgm: {result_key(cfg)}", file=sys.stderr)
    results = cached_runs(cfgs, resume=not args.no_resume)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results[0] if len(results) == 1 else results, indent=1))
    for result in results:
        prov = result["provenance"]
        print(f"seed {result['config']['seed']}: {result['cache']} ({result['data']}); device "
              f"{prov['device']}, {prov['wall_s']} s", file=sys.stderr)
        for rec in result["tasks"]:
            fd = f"  frechet {rec['frechet']:.2f}" if "frechet" in rec else ""
            print(f"  task {rec['task']}: -elbo {rec['neg_elbo']:.2f}{fd}  epochs "
                  f"{rec['epochs']}")
    return 0


def cmd_params() -> int:
    from lgm.models.networks import parameter_table

    print(f"{'method':10} {'arch':6} {'ours':>12} {'paper':>12}")
    for row in parameter_table():
        print(f"{row['method']:10} {row['arch']:6} {row['params_final']:>12,} "
              f"{row['paper_final']:>12,}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args)
        return cmd_params()
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"lgm: error: {err}", file=sys.stderr)
        return 2
