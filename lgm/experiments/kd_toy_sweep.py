"""The toy figures' open choices as declared axes, run at the paper preset.

The KD paper's toy (Fig. 2, section 3.2; Fig. 5, section 4.1) leaves open lambda, the student's
form, the optimiser's learning rate and whether the teacher's samples are fresh every step. The
committed paper preset (the *literal* reading: eq. 7 with lambda = 0.1, the teacher's form plus a
residual, Adam at lr 1e-2, fresh samples) is the baseline; each reading here changes one of
those choices at the paper preset (L = 1..20, 5 seeds, 4000 steps of 1024):

- ``lam0``: lambda = 0, eq. 4 alone, as in section 3.2 (the latent term of eq. 6 is introduced
  only later, in section 3.3);
- ``lam0.01``: lambda = 0.01;
- ``mlp3``, ``mlp8``: a plain tanh MLP student of 3 / 8 units per conditional (no skip of the
  teacher's form);
- ``fixed``: a fixed set of ``FIXED_SAMPLES`` teacher samples per seed, drawn once, batches drawn
  from it with replacement (instead of fresh samples every step);
- ``lrtuned``: Adam's learning rate chosen per method from ``LR_GRID`` by the final *training
  loss* (never by the exact KL) of a reduced-budget run (:data:`LR_BUDGET`).

``python -m lgm.experiments.kd_toy_sweep queue --log runs/kd_toy_queue.log`` runs every reading
not yet found in the cache (committed ``results/`` or local ``runs/results/``), most decisive
first (:data:`QUEUE`), each in a fresh process (so a code change reaches the next reading), one
log line per finished reading; restarting it skips what is finished. ``python -m
lgm.experiments.kd_toy_sweep land`` then copies the finished ones into ``results/kd_toy/``
(a provenance row each in the kd_toy table of ``results/README.md``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from lgm.experiments.kd_toy import ToyConfig, paper_config, run_toy, toy_config

MODULE = "lgm.experiments.kd_toy_sweep"
FIXED_SAMPLES = 10_000
LR_GRID = (1e-3, 3e-3, 1e-2, 3e-2)
LR_BUDGET: dict[str, Any] = dict(layers=(1, 2, 5, 10, 20), steps=1000, batch=512,
                                 kl_samples=2000, seeds=(0, 1))
LR_SMOKE: dict[str, Any] = dict(layers=(1, 2), steps=10, batch=32, kl_samples=100, seeds=(0,))
LAST_FRACTION = 0.1  # the training loss judged: its mean over the last 10% of the records

PAPER_READINGS: list[tuple[str, str, dict[str, Any]]] = [
    ("literal", "eq. 7 with lambda = 0.1, residual student, lr 1e-2, fresh samples (the "
     "committed paper preset)", {}),
    ("lam0", "eq. 4 alone, as in section 3.2 (lambda = 0)", dict(lam=0.0)),
    ("lam0.01", "eq. 7 with lambda = 0.01", dict(lam=0.01)),
    ("mlp3", "plain MLP student, 3 tanh units per conditional", dict(student="mlp", hidden=3)),
    ("mlp8", "plain MLP student, 8 tanh units per conditional", dict(student="mlp", hidden=8)),
    ("fixed", f"a fixed set of {FIXED_SAMPLES:,} teacher samples per seed instead of fresh "
     "samples", dict(fixed_samples=FIXED_SAMPLES)),
    ("lrtuned", "Adam's lr tuned per method on {" + ", ".join(f"{x:g}" for x in LR_GRID)
     + "} by the final training loss", {}),
]
LABELS = tuple(r[0] for r in PAPER_READINGS)
# most decisive first: lambda = 0 in both chains, then 0.01, the weak students, fixed samples,
# the tuned learning rates (their small grid runs first, inside the reading)
QUEUE: tuple[tuple[str, str], ...] = tuple(
    (chain, label) for label in LABELS[1:] for chain in ("gaussian", "binomial"))


def describe(label: str) -> str:
    """The one-line description of reading ``label``."""
    for name, what, _ in PAPER_READINGS:
        if name == label:
            return what
    raise ValueError(f"unknown reading {label!r}; known: {', '.join(LABELS)}")


def result_name(chain: str, label: str) -> str:
    """The cache name of a paper-preset reading (the literal one is the paper preset's)."""
    return f"kd_toy_{chain}-paper" if label == "literal" else f"kd_toy_{chain}-paper-{label}"


def lr_grid_config(chain: str, lr: float, smoke: bool = False) -> ToyConfig:
    """One point of the learning-rate grid: both methods at ``lr``, reduced budget."""
    budget = LR_SMOKE if smoke else LR_BUDGET
    return ToyConfig(chain=chain, preset="custom", lr=lr, **budget)


def final_loss(result: dict[str, Any], method: str) -> float:
    """A method's training loss at the end of a run: the mean over seeds and depths of its
    loss records' last ``LAST_FRACTION`` (eq. 7 for ours, the local loss for local); inf for
    a diverged run."""
    if result.get("diverged"):
        return float("inf")
    loss = np.asarray(result["arrays"][f"loss_{method}"], dtype=float)  # [S, nL, T]
    tail = max(1, int(round(loss.shape[-1] * LAST_FRACTION)))
    return float(loss[..., -tail:].mean())


def lr_grid(chain: str, smoke: bool = False, recompute: bool = True
            ) -> dict[str, dict[float, float]]:
    """Per method, the final training loss at every lr of the grid (inf where it diverged)."""
    from lgm.experiments.cache import cached_call
    from lgm.experiments.kd_toy import params_of
    from lgm.experiments.kd_toy_engine import run_figure_or_diverged

    out: dict[str, dict[float, float]] = {"ours": {}, "local": {}}
    size = "smoke" if smoke else "lrgrid"
    for lr in LR_GRID:
        cfg = lr_grid_config(chain, lr, smoke)
        res = cached_call("kd_toy", f"kd_toy_{chain}-{size}-lr{lr:g}", params_of(cfg),
                          run_figure_or_diverged, recompute=recompute)
        for m in out:
            v = final_loss(res, m)
            out[m][lr] = v if np.isfinite(v) else float("inf")
    return out


def tuned_lrs(grid: dict[str, dict[float, float]]) -> dict[str, float]:
    """Per method, the lr of the lowest final training loss (the smaller lr on a tie)."""
    return {m: min(sorted(losses), key=lambda lr: losses[lr]) for m, losses in grid.items()}


def reading_config(chain: str, label: str, smoke: bool = False,
                   recompute: bool = True) -> ToyConfig:
    """The paper-preset config of reading ``label`` (``smoke``: the smoke preset's size).
    ``lrtuned`` reads (or, with ``recompute``, runs) its learning-rate grid first."""
    describe(label)  # unknown labels: one line naming the known ones
    overrides = dict(next(r for r in PAPER_READINGS if r[0] == label)[2])
    if label == "lrtuned":
        lrs = tuned_lrs(lr_grid(chain, smoke, recompute))
        overrides = dict(lr=lrs["ours"], lr_local=lrs["local"])
    if smoke:
        return toy_config("smoke", chain, seeds=(0, 1), **overrides)
    return paper_config(chain).model_copy(update=overrides) if overrides else paper_config(chain)


def run_reading(chain: str, label: str, smoke: bool = False, recompute: bool = True
                ) -> dict[str, Any]:
    """Reading ``label`` of ``chain`` through the cache (``recompute=False``: LookupError when
    it is not there)."""
    cfg = reading_config(chain, label, smoke, recompute)
    name = result_name(chain, label)
    if smoke:
        name = name.replace("-paper", "-smoke")
    return run_toy(ToyConfig(**cfg.model_dump()), name, recompute=recompute)


def run_readings(chain: str, smoke: bool = False) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every paper-preset reading of ``chain`` found in the cache, by label, and the labels not
    yet run (nothing is trained)."""
    found, missing = {}, []
    for label in LABELS:
        try:
            found[label] = run_reading(chain, label, smoke, recompute=False)
        except LookupError:
            missing.append(label)
    return found, missing


def next_missing(skip: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The first (chain, label) of :data:`QUEUE` not in the cache (nor in ``skip``, as
    ``chain/label``)."""
    for chain, label in QUEUE:
        if f"{chain}/{label}" in skip:
            continue
        try:
            run_reading(chain, label, recompute=False)
        except LookupError:
            return chain, label
    return None


def _log_line(chain: str, label: str, result: dict[str, Any], wall: float) -> str:
    """One line per finished reading: exact KLs at L = 5, 10, 20 (mean and median over seeds)."""
    layers = list(result["config"]["layers"])
    parts = [f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {chain} {label}",
             f"wall {wall:.0f} s (train {result.get('wall_train_s')} s, eval "
             f"{result.get('wall_eval_s')} s)", f"cache {result.get('cache', 'new')}"]
    for m in ("ours", "local"):
        kl = np.asarray(result[f"kl_exact_{m}"], dtype=float)
        for depth in (5, 10, 20):
            if depth in layers:
                col = kl[:, layers.index(depth)]
                parts.append(f"{m}@{depth} mean {col.mean():.3g} med {np.median(col):.3g}")
    return " | ".join(parts)


def run_one(chain: str, label: str, log: Path | None) -> None:
    """Run one reading (cached as soon as it finishes) and append its log line."""
    started = time.time()
    result = run_reading(chain, label)
    line = _log_line(chain, label, result, time.time() - started)
    print(line, flush=True)
    if log is not None:
        with log.open("a") as fh:
            fh.write(line + "\n")


def queue(log: Path) -> None:
    """Every missing reading, most decisive first, each in a fresh process; a reading that
    fails twice is skipped; stops when none is left."""
    failures: dict[str, int] = {}
    while True:
        skip = ",".join(k for k, n in failures.items() if n >= 2)
        probe = subprocess.run([sys.executable, "-m", MODULE, "next", "--skip", skip],
                               capture_output=True, text=True, check=True)
        todo = json.loads(probe.stdout.strip().splitlines()[-1])
        if todo is None:
            with log.open("a") as fh:
                fh.write("queue empty\n")
            return
        chain, label = todo
        rc = subprocess.run([sys.executable, "-m", MODULE, "one", chain, label,
                             "--log", str(log)]).returncode
        if rc != 0:
            key = f"{chain}/{label}"
            failures[key] = failures.get(key, 0) + 1
            with log.open("a") as fh:
                fh.write(f"{chain} {label} failed (exit {rc})\n")


def land(dry_run: bool = False) -> list[dict[str, Any]]:
    """Copy the finished paper-preset readings and lr-grid points of the local cache into
    ``results/kd_toy/`` (arrays first), each only when the cache would serve it
    (:func:`lgm.experiments.cache.stored_problem`) and not there yet; their provenance rows."""
    import shutil

    from lgm.experiments.cache import COMMITTED_RESULTS, read_json, stored_problem
    from lgm.paths import cache_root

    local = cache_root(create=False) / "results" / "kd_toy"
    rows = []
    for path in sorted(local.glob("kd_toy_*.json")) if local.exists() else []:
        if not any(f"-{kind}-" in path.name for kind in ("paper", "lrgrid")):
            continue
        target = COMMITTED_RESULTS / "kd_toy" / path.name
        problem = stored_problem(path, "kd_toy")
        if target.exists() or problem is not None:
            if problem is not None:
                print(f"refused {path.name}: {problem}", file=sys.stderr)
            continue
        record = read_json(path)
        rows.append({"file": path.name, **record["provenance"],
                     "wall_train_s": record.get("wall_train_s"),
                     "wall_eval_s": record.get("wall_eval_s")})
        if not dry_run:
            for src in (path.with_suffix(".npz"), path):
                shutil.copy2(src, target.with_suffix(src.suffix))
    return rows


TABLE_RULE = "| ---- | ------ | ------- | ----- | ------ | --------------------- | ------- |"


def readme_rows(rows: list[dict[str, Any]], readme: Path) -> None:
    """Append one row per landed file to the table of the kd_toy section of ``readme`` (the
    table under :data:`TABLE_RULE`; the rest of the file is kept)."""
    lines = readme.read_text().splitlines()
    at = lines.index(TABLE_RULE) + 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    new = []
    for r in rows:
        device = str(r.get("device", "?"))
        threads = device.split("(")[-1].split(" ")[0] if "thread" in device else "-"
        new.append(f"| `{r['file']}` | {device} | {threads} | {r.get('torch', '?')} | "
                   f"`{r.get('git_commit', '?')}` | {r.get('wall_s', '?')} "
                   f"({r.get('wall_train_s')} + {r.get('wall_eval_s')}) | "
                   f"{str(r.get('started', '?'))[:16]} |")
    readme.write_text("\n".join(lines[:at] + new + lines[at:]) + "\n")


def main(argv: list[str] | None = None) -> None:
    """``queue --log PATH`` | ``next`` | ``one CHAIN LABEL [--log PATH]`` | ``land
    [--dry-run]``."""
    parser = argparse.ArgumentParser(prog="python -m lgm.experiments.kd_toy_sweep")
    sub = parser.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queue")
    q.add_argument("--log", type=Path, default=Path("runs/kd_toy_queue.log"))
    nxt = sub.add_parser("next")
    nxt.add_argument("--skip", default="")
    one = sub.add_parser("one")
    one.add_argument("chain", choices=("gaussian", "binomial"))
    one.add_argument("label", choices=LABELS)
    one.add_argument("--log", type=Path, default=None)
    landing = sub.add_parser("land")
    landing.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "queue":
        args.log.parent.mkdir(parents=True, exist_ok=True)
        queue(args.log)
    elif args.cmd == "next":
        print(json.dumps(next_missing(tuple(k for k in args.skip.split(",") if k))))
    elif args.cmd == "land":
        rows = land(args.dry_run)
        for row in rows:
            print(json.dumps(row))
        if rows and not args.dry_run:
            from lgm.experiments.cache import COMMITTED_RESULTS

            readme_rows(rows, COMMITTED_RESULTS / "README.md")
    else:
        run_one(args.chain, args.label, args.log)


if __name__ == "__main__":
    main()
