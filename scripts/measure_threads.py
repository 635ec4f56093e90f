"""Measure the thread rule (``lgm/threads.py``) against its alternatives.

One EWC run of Figure 3's exercise 3 (quick preset, five distributions, seed 0, CPU) and one
lifelong run of Fig. 1b's exercise 1 are trained in a fresh process per condition: torch
CPU threads 1 (the rule) or 2 (torch's default here, one per core), with no other job of ours
or with one busy-loop job at normal priority beside it. The Frechet classifier is trained
once beforehand (cached), so the times are the run alone. The record (wall and CPU seconds,
machine, load, what else ran) is written as JSON:

    python scripts/measure_threads.py --out lgm/report/thread_times.json [--repeats 2]
        [--runs fig3] [--threads 1,2] [--background no,yes] [--append]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUNS = {
    "fig3 ex3: ewc, 5 distributions": (
        "make_config('quick', experiment='fashion', method='ewc', seed=0, device='cpu', "
        "num_tasks=5)"),
    "fig1b ex1: J = 5": (
        "make_config('quick', experiment='mnist', method='full', seed=0, continuous=2, "
        "discrete=5, classifier_epochs=0, visuals=8, max_per_task=200, device='cpu')"),
}

CHILD = """
import resource, time
from lgm.experiments import make_config
from lgm.experiments.lifelong import run_experiments
cfg = {config}
start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
run_experiments([cfg])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime - cpu)
"""


def child(config: str, threads: int, cache: str) -> tuple[float, float]:
    """Train ``config`` in a fresh process at ``threads``; its wall and CPU seconds."""
    env = {**os.environ, "LGM_THREADS": str(threads), "LGM_CACHE": cache, "LGM_PROGRESS": "0"}
    out = subprocess.run([sys.executable, "-c", CHILD.format(config=config)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"the run failed ({out.returncode}): {out.stderr[-2000:]}")
    wall, cpu = out.stdout.split()[-2:]
    return float(wall), float(cpu)


def busy_loop() -> subprocess.Popen[bytes]:
    """One other job at normal priority: a single-threaded busy loop."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def others() -> list[str]:
    """The other processes using CPU now (ps, top 5 by CPU)."""
    out = subprocess.run(["ps", "-eo", "pcpu,ni,args", "--sort=-pcpu"], capture_output=True,
                         text=True, check=False).stdout.splitlines()
    return [line.strip()[:120] for line in out[1:6]]


def measure(repeats: int, runs: list[str], counts: list[int],
            backgrounds: list[bool]) -> dict[str, Any]:
    """Every run x threads x background condition asked for, ``repeats`` times each (all
    values recorded)."""
    cache = tempfile.mkdtemp(prefix="lgm-threads-")
    rows = []
    for name, config in RUNS.items():
        if not any(r in name for r in runs):
            continue
        child(config, 1, cache)  # warm: the Frechet classifier and the data fingerprints
        for background in backgrounds:
            job = busy_loop() if background else None
            try:
                time.sleep(1.0)
                seen = others()
                for threads in counts:
                    times = [child(config, threads, cache) for _ in range(repeats)]
                    rows.append({"run": name, "threads": threads,
                                 "background": "one busy loop, nice 0" if background else "none",
                                 "wall_s": [round(w, 1) for w, _ in times],
                                 "cpu_s": [round(c, 1) for _, c in times],
                                 "ps": seen, "load": os.getloadavg()[0]})
                    print(json.dumps(rows[-1]), flush=True)
            finally:
                if job is not None:
                    job.kill()
                    job.wait()
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.node()}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows,
            "note": "each time is one fresh process training the run, Frechet classifier "
                    "cached; 'ps' lists what else used the CPU when the condition started"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--runs", default="fig3,fig1b", help="runs whose name contains these")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--background", default="no,yes", help="without and/or with the job")
    parser.add_argument("--append", action="store_true", help="add the rows to --out's")
    args = parser.parse_args()
    record = measure(args.repeats, args.runs.split(","),
                     [int(t) for t in args.threads.split(",")],
                     [b == "yes" for b in args.background.split(",")])
    if args.append and args.out.is_file():
        old = json.loads(args.out.read_text())
        record["rows"] = old["rows"] + record["rows"]
        record["date"] = f"{old['date']}; {record['date']}"
        record = {**old, **record}
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
