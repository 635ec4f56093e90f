"""Command line: ``python -m lgm train --experiment fashion --method lifelong --seed 0``.

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
from lgm.paths import cache_root


def parse_assignment(text: str) -> tuple[str, Any]:
    """``name=value`` -> (name, JSON value or the raw string)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        return name.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return name.strip(), raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lgm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="run one (experiment, method, seed)")
    train.add_argument("--experiment", choices=EXPERIMENTS, default="fashion")
    train.add_argument("--method", choices=METHODS, default="lifelong")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--preset", choices=PRESETS, default="quick")
    train.add_argument("--arch", choices=ARCHS, default="dense")
    train.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    train.add_argument("--data-root", default=None, help="data folder (default: $LGM_DATA, ...)")
    train.add_argument("--set", dest="overrides", type=parse_assignment, action="append",
                       default=[], metavar="NAME=VALUE", help="override any config field")
    train.add_argument("--out", type=Path, default=None, help="result JSON path")
    train.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    sub.add_parser("params", help="print the parameter-count table of appendix 7.4.1")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from lgm.device import resolve_device
    from lgm.metrics.scorer import build_scorer
    from lgm.training.methods import load_tasks, run

    overrides = dict(args.overrides)
    cfg = make_config(args.preset, experiment=args.experiment, method=args.method, seed=args.seed,
                      arch=args.arch, device=args.device, data_root=args.data_root, **overrides)
    device = resolve_device(cfg.device)
    tasks = load_tasks(cfg, device)
    name = f"{cfg.experiment}-{cfg.method}-seed{cfg.seed}-{cfg.preset}-{cfg.key()}"
    print(f"lgm: {name} on {device}; data: {tasks.source}", file=sys.stderr)
    scorer = build_scorer(tasks, key=f"{cfg.experiment}-{cfg.preset}-s{cfg.seed}",
                          epochs=cfg.classifier_epochs, device=device) \
        if cfg.classifier_epochs > 0 else None
    result = run(cfg, tasks=tasks, scorer=scorer, checkpoint_dir=cache_root() / "ckpt" / name,
                 resume=not args.no_resume)
    out = args.out or cache_root() / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    for rec in result["tasks"]:
        fd = f"  frechet {rec['frechet']:.2f}" if "frechet" in rec else ""
        print(f"task {rec['task']}: -elbo {rec['neg_elbo']:.2f}{fd}  epochs {rec['epochs']}")
    print(f"wrote {out}")
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
