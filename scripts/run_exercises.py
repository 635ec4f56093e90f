"""Run the book's exercises as a student would, check their outcomes, record their times.

Each exercise of :mod:`lgm.report.exercise_data` runs in a fresh Python process from an empty
cache (cold), then once more on that cache (warm), at the quick preset; its outcome is checked
against its solution. The record (wall and CPU seconds, torch threads, machine, load and the
other busy processes, each exercise's printed lines and outcome) is written after every
exercise, so an interrupted run keeps what finished:

    python scripts/run_exercises.py [--only fig3.3,kd_hm.1] [--background fig3.3]
                                    [--pages kd_hm,fig1b]

``--background KEYS`` also runs those exercises cold beside one busy-loop job at normal
priority (the "laptop with one other job" case). ``--pages NAMES`` renders those pages at the
quick preset, cold and warm, for their "Rerun this page" box (alone, it runs no exercise).
Exit status 1 when an outcome does not match.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lgm.provenance import git_commit
from lgm.report import exercises as ex
from lgm.report.exercise_data import EXERCISES


def busy_loop() -> subprocess.Popen[bytes]:
    """One other job at normal priority: a single-threaded busy loop."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def with_background(exercise: ex.Exercise, timeout: float) -> dict[str, Any]:
    """``exercise`` cold beside one busy loop (its wall and CPU time, outcome)."""
    job = busy_loop()
    try:
        time.sleep(1.0)
        seen = ex.others()
        result = ex.run_exercise(exercise, timeout=timeout, phases=("cold",))
    finally:
        job.kill()
        job.wait()
    return {"cold": {k: result["cold"][k] for k in ("wall_s", "cpu_s", "failures")},
            "others": seen, "job": "python -c 'while True: pass' (nice 0)",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": round(os.getloadavg()[0], 2)}


def header(old: dict[str, Any]) -> dict[str, Any]:
    """The record's description of this run (machine, commit, load, what else ran)."""
    return {**old, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": git_commit(), "machine": ex.machine(), "preset": "quick",
            "load_start": round(os.getloadavg()[0], 2), "others_start": ex.others()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ex.RECORD)
    parser.add_argument("--only", default="", help="comma-separated keys (e.g. fig3.3)")
    parser.add_argument("--background", default="", help="keys to rerun beside a busy loop")
    parser.add_argument("--pages", default="",
                        help="pages to render cold and warm at the quick preset (the rerun box)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per process")
    args = parser.parse_args()
    only = {k for k in args.only.split(",") if k}
    everything = not only and not args.pages  # --pages alone times pages only
    chosen = [e for e in EXERCISES if e.snippet is not None and (everything or e.key in only)]
    unknown = only - {e.key for e in EXERCISES}
    if unknown:
        print(f"unknown exercises: {sorted(unknown)}", file=sys.stderr)
        return 2
    record = header(ex.load_record(args.out))
    record.setdefault("exercises", {})
    record.setdefault("background", {})
    failed = []
    for e in chosen:
        print(f"{e.key}: {e.title} ...", flush=True)
        load = round(os.getloadavg()[0], 2)
        entry = ex.run_exercise(e, timeout=args.timeout)
        entry.update(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load_start=load)
        record["exercises"][e.key] = entry
        if not entry["matches"]:
            failed.append(e.key)
        print(f"  cold {entry['cold']['wall_s']} s wall, {entry['cold']['cpu_s']} s CPU; warm "
              f"{entry['warm']['wall_s']} s; "
              f"{'matches' if entry['matches'] else entry['cold']['failures']}", flush=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    for key in [k for k in args.background.split(",") if k]:
        e = next(x for x in EXERCISES if x.key == key)
        record["background"][key] = with_background(e, args.timeout)
        print(f"{key} beside a busy loop: {record['background'][key]['cold']}", flush=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    record.setdefault("pages", {})
    for name in [k for k in args.pages.split(",") if k]:
        load = round(os.getloadavg()[0], 2)
        record["pages"][name] = ex.run_page(name, timeout=args.timeout)
        record["pages"][name].update(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     load_start=load)
        print(f"page {name}: {record['pages'][name]['cold']['wall_s']} s cold, "
              f"{record['pages'][name]['warm']['wall_s']} s warm", flush=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    record["load_end"] = round(os.getloadavg()[0], 2)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"record: {args.out}; {len(chosen) - len(failed)} of {len(chosen)} outcomes match"
          + (f"; not: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
