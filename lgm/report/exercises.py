"""The book's exercises as data, the runner that checks them, and their measured times.

An :class:`~lgm.report.exercise_data.Exercise` holds what a page shows (question, snippet,
solution) and what its solution asserts about the snippet's outcome
(:class:`~lgm.report.exercise_data.Expect`: a Python expression evaluated in the snippet's
namespace after it ran, the expected value and a tolerance); both, and the exercises
themselves, are in :mod:`lgm.report.exercise_data`.

``make exercises`` (``scripts/run_exercises.py``) runs each snippet as a student would: in a
fresh Python process, from an empty cache (``LGM_CACHE`` a new folder), then once more on that
cache (warm), checks the outcome against the solution, and records wall and CPU time, the
torch thread count, the machine and what else was running, in :data:`RECORD`. A page shows
those times (:func:`exercises_markdown`), so they are the runner's output, never typed in.
The smoke form (:func:`run_smoke`, in ``make test``) runs every snippet at the smoke preset in
one process and checks the outcomes that do not depend on training.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lgm.report.exercise_data import EXERCISES, Exercise, Expect

#: The committed record of the last ``make exercises`` (read by the pages).
RECORD = Path(__file__).with_name("exercise_times.json")

# ------------------------------------------------------------------------------ checking


def numbers(text: Any) -> list[float]:
    """The numbers written in ``text`` (``str(text)``), in order: for outcomes a function
    returns as a sentence."""
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", str(text))]


def _plain(value: Any) -> Any:
    """``value`` as JSON (numpy and torch scalars and arrays as floats and lists)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    return repr(value)


def mismatch(expect: Expect, measured: Any) -> str | None:
    """Why ``measured`` does not match ``expect`` (None when it does)."""
    if isinstance(measured, dict) and "error" in measured:
        return f"{expect.name}: {expect.expr} raised {measured['error']}"
    if isinstance(expect.value, bool):
        ok = measured is expect.value
    elif isinstance(expect.value, tuple):
        ok = (isinstance(measured, list) and len(measured) == len(expect.value)
              and all(isinstance(m, int | float) and abs(m - v) <= expect.tol
                      for m, v in zip(measured, expect.value, strict=True)))
    else:
        ok = (isinstance(measured, int | float) and not isinstance(measured, bool)
              and abs(measured - expect.value) <= expect.tol)
    if ok:
        return None
    within = f" ± {expect.tol:g}" if expect.tol and not isinstance(expect.value, bool) else ""
    return f"{expect.name}: expected {expect.value}{within}, got {measured}"


def check(exercise: Exercise, values: Mapping[str, Any], *, smoke: bool = False) -> list[str]:
    """The solution's outcomes that ``values`` (measured, by expectation name) contradict;
    at the smoke preset only those marked ``smoke`` are compared (every expression must still
    have been evaluated without an error)."""
    failures = []
    for e in exercise.expects:
        measured = values.get(e.name, {"error": "not evaluated"})
        if smoke and not e.smoke:
            if isinstance(measured, dict) and "error" in measured:
                failures.append(f"{e.name}: {e.expr} raised {measured['error']}")
            continue
        why = mismatch(e, measured)
        if why:
            failures.append(why)
    return failures


# ------------------------------------------------------------------------------ running

#: The child process: runs each job's snippet in a fresh namespace, with its own cache folder,
#: then evaluates the job's expectations there; writes {key: {name: value}} as JSON.
DRIVER = r"""
import json, os, sys, time
from lgm.report.exercises import numbers, _plain
jobs, out = json.load(open(sys.argv[1])), {}
for job in jobs:
    os.environ["LGM_CACHE"] = job["cache"]
    started = time.process_time()
    namespace = {"__name__": "__main__"}
    exec(compile(job["snippet"], job["key"] + ".py", "exec"), namespace)
    values = {}
    for name, expr in job["expects"]:
        try:
            values[name] = _plain(eval(expr, {**namespace, "numbers": numbers}))
        except Exception as err:  # recorded: a solution's outcome that cannot be read fails
            values[name] = {"error": repr(err)}
    values["__cpu_s__"] = round(time.process_time() - started, 2)
    out[job["key"]] = values
    json.dump(out, open(sys.argv[2], "w"))
"""


def smoke_snippet(exercise: Exercise) -> str:
    """The snippet at the smoke preset: every ``"quick"`` preset argument becomes ``"smoke"``,
    then the exercise's own ``smoke_swaps`` apply (each must be found)."""
    assert exercise.snippet is not None
    text = exercise.snippet.replace('"quick"', '"smoke"')
    for old, new in exercise.smoke_swaps:
        if old not in text:
            raise ValueError(f"{exercise.key}: smoke swap {old!r} not in the snippet")
        text = text.replace(old, new)
    return text


def _job(exercise: Exercise, cache: Path, smoke: bool) -> dict[str, Any]:
    assert exercise.snippet is not None
    return {"key": exercise.key, "cache": str(cache),
            "snippet": smoke_snippet(exercise) if smoke else exercise.snippet,
            "expects": [[e.name, e.expr] for e in exercise.expects]}


def run_process(jobs: list[dict[str, Any]], env: Mapping[str, str] | None = None,
                timeout: float | None = None) -> dict[str, Any]:
    """Run ``jobs`` in one fresh Python process (the working directory is the repository's
    root): their values, the process's wall and CPU seconds, its stdout lines and stderr."""
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="lgm-exercise-") as tmp:
        spec, result = Path(tmp) / "jobs.json", Path(tmp) / "values.json"
        spec.write_text(json.dumps(jobs))
        with open(Path(tmp) / "out", "w+") as out, open(Path(tmp) / "err", "w+") as err:
            start, cpu = time.perf_counter(), _cpu_usage()
            child = subprocess.Popen([sys.executable, "-c", DRIVER, str(spec), str(result)],
                                     cwd=root, stdout=out, stderr=err,
                                     env={**os.environ, **(env or {})})
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            wall, cpu = time.perf_counter() - start, _cpu_usage() - cpu
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        values = json.loads(result.read_text()) if result.is_file() else {}
    return {"values": values, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "returncode": child.returncode,
            "stdout": stdout.splitlines(), "stderr_tail": stderr.splitlines()[-20:]}


def _cpu_usage() -> float:
    """CPU seconds of this process's waited-for children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_exercise(exercise: Exercise, *, timeout: float | None = None,
                 phases: Sequence[str] = ("cold", "warm")) -> dict[str, Any]:
    """One exercise as a student runs it at the quick preset: a fresh process on an empty
    cache (cold), then a fresh process on that cache (warm); each with its outcome check."""
    out: dict[str, Any] = {"page": exercise.page, "title": exercise.title}
    with tempfile.TemporaryDirectory(prefix="lgm-exercise-cache-") as cache:
        for phase in phases:
            ran = run_process([_job(exercise, Path(cache), smoke=False)], timeout=timeout)
            values = ran.pop("values").get(exercise.key, {})
            failures = (check(exercise, values) if ran["returncode"] == 0
                        else [f"the snippet failed (exit {ran['returncode']})"])
            out[phase] = {**ran, "outcome": values, "failures": failures}
    out["matches"] = not any(out[p]["failures"] for p in phases)
    return out


def run_smoke(exercises: Sequence[Exercise], folder: Path,
              env: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Every runnable exercise at the smoke preset, in one fresh process, each on its own
    empty cache under ``folder``: {key: failures} (a snippet that raises fails them all)."""
    runnable = [e for e in exercises if e.snippet is not None]
    jobs = [_job(e, folder / e.key, smoke=True) for e in runnable]
    ran = run_process(jobs, env=env)
    failures = {}
    for e in runnable:
        if e.key in ran["values"]:
            failures[e.key] = check(e, ran["values"][e.key], smoke=True)
        else:
            failures[e.key] = [f"did not run (exit {ran['returncode']}): "
                               + " / ".join(ran["stderr_tail"][-3:])]
    return failures


#: A page rendered as ``make figure NB=<page> PRESET=quick`` renders it (jupytext, then
#: papermill), into a temporary folder instead of ``book/notebooks/``.
PAGE_SNIPPET = """
import jupytext, papermill
folder = {folder!r}
jupytext.write(jupytext.read("notebooks/{name}.py"), folder + "/{name}.py.ipynb", fmt="ipynb")
papermill.execute_notebook(folder + "/{name}.py.ipynb", folder + "/{name}.ipynb",
                           parameters={{"preset": "quick", "figure_dir": folder + "/figures"}},
                           kernel_name="python3", language="python", progress_bar=False)
"""


def run_page(name: str, *, timeout: float | None = None) -> dict[str, Any]:
    """Page ``name`` rendered at the quick preset in a fresh process from an empty cache
    (cold), then again on that cache (warm): wall and CPU seconds of each."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lgm-page-") as folder:
        for phase in ("cold", "warm"):
            job = {"key": name, "cache": str(Path(folder) / "cache"), "expects": [],
                   "snippet": PAGE_SNIPPET.format(folder=folder, name=name)}
            ran = run_process([job], timeout=timeout)
            out[phase] = {k: ran[k] for k in ("wall_s", "cpu_s", "returncode", "stderr_tail")}
    return out


def page_time_text(name: str, record: Mapping[str, Any] | None = None) -> str | None:
    """The page's quick-preset times as ``make exercises --pages`` measured them (cold cache,
    and warm), for the "Rerun this page" box; None when the record has none."""
    record = load_record() if record is None else record
    entry = record.get("pages", {}).get(name)
    if not entry or entry["cold"]["returncode"] != 0:
        return None
    where = record.get("machine", {})
    date = entry.get("date", record.get("date", "?"))
    return (f"measured by make exercises ({date}, {where.get('cores')} cores, "
            f"{where.get('threads')} torch thread): {_seconds(entry['cold']['wall_s'])} from an "
            f"empty cache ({_seconds(entry['cold']['cpu_s'])} of CPU), "
            f"{_seconds(entry['warm']['wall_s'])} again on that cache")


# ------------------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    """The machine the times were measured on: CPU model, cores, torch threads of the rule,
    Python and torch versions."""
    import torch

    from lgm.device import thread_count

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    return {"cpu": model, "cores": os.cpu_count(), "threads": thread_count(),
            "python": platform.python_version(), "torch": torch.__version__}


def others() -> list[str]:
    """What else used the CPU now (``ps``: the five busiest processes, with their nice)."""
    out = subprocess.run(["ps", "-eo", "pcpu,ni,etime,args", "--sort=-pcpu"],
                         capture_output=True, text=True, check=False).stdout.splitlines()
    return [" ".join(line.split())[:140] for line in out[1:6]]


# ------------------------------------------------------------------------------ pages


def load_record(path: Path = RECORD) -> dict[str, Any]:
    """The committed record (empty when none was committed yet)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def times_sentence(exercise: Exercise, record: Mapping[str, Any]) -> str:
    """What the record says of ``exercise``: its cold (and warm, where it differs) wall and
    CPU time, threads and machine, and whether the outcome matched the solution."""
    entry = record.get("exercises", {}).get(exercise.key)
    if exercise.snippet is None:
        return ""
    if entry is None:
        return ("*Time: not measured yet (`make exercises` records it); the quick preset, "
                "one thread.*")
    cold, warm = entry["cold"], entry["warm"]
    where = record.get("machine", {})
    load_start = entry.get("load_start", record.get("load_start"))
    load = f", load average {load_start:.1f} at the start" if load_start is not None else ""
    date = entry.get("date", record.get("date", "?"))
    text = (f"*Measured by `make exercises` ({date}, {where.get('cores')}-core "
            f"{where.get('cpu', 'CPU')}, {where.get('threads')} torch thread{load}): "
            "from an empty cache "
            f"{_seconds(cold['wall_s'])} of wall time ({_seconds(cold['cpu_s'])} of CPU), "
            "in a fresh Python process")
    if warm["wall_s"] < 0.7 * cold["wall_s"]:
        text += f"; run again on that cache {_seconds(warm['wall_s'])}"
    busy = record.get("background", {}).get(exercise.key)
    if busy:
        text += (f"; from an empty cache beside one other busy job (nice 0) "
                 f"{_seconds(busy['cold']['wall_s'])}")
    verdict = ("the outcome matched the solution" if entry["matches"]
               else "**the outcome did not match the solution**: "
                    + "; ".join(cold["failures"] + warm["failures"]))
    return text + f"; {verdict}.*"


def exercise_markdown(exercise: Exercise, record: Mapping[str, Any]) -> str:
    """One exercise as a MyST admonition: question, snippet, measured time, what to guess,
    and the solution in a dropdown."""
    parts = [f"````{{admonition}} Exercise {exercise.number}: {exercise.title}\n:class: tip",
             exercise.question.strip()]
    if exercise.snippet is not None:
        parts.append(f"```python\n{exercise.snippet.strip()}\n```")
        parts.append(times_sentence(exercise, record))
    if exercise.after:
        parts.append(exercise.after.strip())
    parts.append(f"```{{admonition}} Solution\n:class: dropdown\n{exercise.solution.strip()}\n```")
    return "\n\n".join(parts) + "\n````"


def page_exercises(page: str) -> list[Exercise]:
    """The exercises of ``page``, in order."""
    return [e for e in EXERCISES if e.page == page]


def exercises_markdown(page: str, record: Mapping[str, Any] | None = None) -> str:
    """The Markdown of ``page``'s exercises, with the times of ``record`` (default: the
    committed :data:`RECORD`)."""
    record = load_record() if record is None else record
    return "\n\n".join(exercise_markdown(e, record) for e in page_exercises(page))


def show_exercises(page: str) -> None:
    """Display ``page``'s exercises (in a notebook)."""
    from IPython.display import Markdown, display

    display(Markdown(exercises_markdown(page)))
