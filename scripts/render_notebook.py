"""Execute jupytext notebooks into the book.

For each ``notebooks/<name>.py`` (jupytext percent format, one cell tagged ``parameters``):

1. validate the page parameters before anything runs: ``preset`` is smoke, quick or paper;
   ``seeds`` a list of distinct non-negative ints; ``device`` auto, cpu or cuda[:n] (the typed
   :class:`lgm.experiments.spec.ExperimentConfig`, strict: ``"12"``, ``[3.7]``, ``[True]`` are
   refused, never coerced); any other ``--param`` must be a parameter the notebook declares;
2. convert it to ``build/notebooks/<name>.ipynb`` (never in place: papermill must not write
   into a file that jupytext pairs with the source);
3. execute that copy with papermill into ``build/notebooks/<name>.executed.ipynb`` with the
   repository root as working directory; only a notebook that ran to the end, with outputs,
   is moved to ``book/notebooks/<name>.ipynb`` (a failed one is kept as
   ``build/notebooks/<name>.failed.ipynb`` for reading, never where the book would publish it);
4. tidy the page: the parameters are shown once (the notebook's defaults with the values
   this run used, in papermill's injected cell; the original cell is tagged ``remove-cell``),
   and the setup cell (the first code cell after the parameters, or one starting with
   ``# setup``) is collapsed (``hide-input``).

On a terminal the cells' output and progress bars stream as they run; otherwise (``make book``
in CI or piped to a log) each notebook prints one line: name, preset, seconds, and the cache
hits and trainings when the notebook reports them (``seed N: hit`` / ``seed N: computed``).

Usage: ``python scripts/render_notebook.py [--preset quick] [--device cuda]
[--seeds 0,1] [-p NAME=JSON ...] notebooks/*.py``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "notebooks"
OUT_DIR = ROOT / "book" / "notebooks"
sys.path.insert(0, str(ROOT))
from lgm.report.parameters import (  # noqa: E402  (the checkout's lgm, as the kernel's)
    PRESETS,
    ParameterError,
    declared_parameters,
    validate_parameters,
)

CACHE_LINE = re.compile(r"seed \d+: (hit|computed)\b")


def _prepend(var: str, value: str) -> None:
    old = os.environ.get(var, "")
    if value not in old.split(os.pathsep):
        os.environ[var] = value + (os.pathsep + old if old else "")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _count_outputs(nb: Any) -> int:
    return sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


# ----------------------------------------------------------------------------- parameters
def parse_param(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` from the command line; VALUE is JSON (``[0, 1]``, ``"cpu"``, ``0.5``),
    or a bare string when it is not JSON."""
    name, sep, raw = item.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ParameterError(f"--param {item!r}: expected NAME=VALUE")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


# ----------------------------------------------------------------------------- the page
def _assignment_spans(lines: list[str | None]) -> dict[str, tuple[int, int]]:
    """``name -> (first, last+1)`` line span of each top-level assignment (continuations
    are the indented or closing-bracket lines that follow)."""
    spans: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(lines):
        m = re.match(r"^([A-Za-z_]\w*)\s*=", lines[i] or "")
        j = i + 1
        while j < len(lines) and (lines[j] or "")[:1] in (" ", "\t", "]", ")", "}"):
            j += 1
        if m:
            spans[m.group(1)] = (i, j)
        i = j
    return spans


def merged_parameters(default_src: str, params: dict[str, Any]) -> str:
    """The parameters cell as it acted: defaults, with the values passed to this run."""
    lines: list[str | None] = list(default_src.splitlines())
    spans = _assignment_spans(lines)
    extra = []
    for name, value in params.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
        line = f"{name} = {shown}  # set for this run"
        if name in spans:
            a, b = spans[name]
            lines[a:b] = [line] + [None] * (b - a - 1)  # keep the other spans' indices
        else:
            extra.append(line)
    body = "\n".join([x for x in lines if x is not None] + extra).rstrip()
    return "# Parameters of this page (to rerun with other values, see 'Reproducing')\n" + body


def _add_tag(cell: Any, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def tidy(nb: Any, default_src: str, params: dict[str, Any]) -> Any:
    """Parameters shown once, setup collapsed, stderr (progress bars) dropped."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    original = next((c for c in code if "parameters" in c.metadata.get("tags", [])), None)
    injected = next((c for c in code if "injected-parameters" in c.metadata.get("tags", [])),
                    None)
    if original is not None and injected is not None:
        _add_tag(original, "remove-cell")
        injected.source = merged_parameters(default_src, params)
    anchor = injected or original
    if anchor is not None:
        after = code[code.index(anchor) + 1:]
        setup = [c for c in after if c.source.lstrip().startswith("# setup")] or after[:1]
        for cell in setup:
            _add_tag(cell, "hide-input")
    return drop_stderr(nb)


def drop_stderr(nb: Any) -> Any:
    """Remove stderr streams (training progress bars) from the page; the terminal had them."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


def cache_counts(nb: Any) -> tuple[int, int] | None:
    """(hits, trainings) the notebook printed, or None when it reports none."""
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")
    found = CACHE_LINE.findall(text)
    if not found:
        return None
    return found.count("hit"), found.count("computed")


# ----------------------------------------------------------------------------- execution
def prepare(src: Path, params: dict[str, Any]) -> tuple[Any, str]:
    """The notebook and its parameters cell's source; exits with one line on a bad parameter."""
    import jupytext

    nb = jupytext.read(src)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise SystemExit(f"error: {_rel(src)} has no cell tagged 'parameters'")
    try:
        validate_parameters(params, declared_parameters(cell.source), src.stem)
    except ParameterError as err:
        raise SystemExit(f"error: {err}") from None
    return nb, cell.source


def quiet_kernelspec(name: str) -> Path:
    """A folder holding kernelspec ``name``: this interpreter's ipykernel with its own log at
    ERROR, so that a log of the book holds one line per page and not the kernel's start-up
    warnings (a cell's error still reaches the notebook and this script)."""
    folder = ROOT / "build" / "jupyter"
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python 3 (lgm book)", "language": "python"}
    kernel_dir = folder / "kernels" / name
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


def render(src: Path, nb: Any, default_src: str, params: dict[str, Any], kernel: str,
           verbose: bool) -> float:
    """Execute one prepared notebook into the book; the seconds it took."""
    import jupytext
    import nbformat
    import papermill as pm

    name = src.stem
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    staged = BUILD_DIR / f"{name}.ipynb"
    running = BUILD_DIR / f"{name}.executed.ipynb"
    failed = BUILD_DIR / f"{name}.failed.ipynb"
    out = OUT_DIR / f"{name}.ipynb"
    jupytext.write(nb, staged, fmt="ipynb")
    failed.unlink(missing_ok=True)

    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    if verbose:
        print(f">>> executing {_rel(src)} ({shown}) -> {_rel(out)}", flush=True)

    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(staged), str(running), parameters=params, kernel_name=kernel,
            language="python", cwd=str(ROOT), progress_bar=verbose and sys.stderr.isatty(),
            log_output=verbose,  # a terminal sees what is computed or reused, and progress
        )
    except BaseException as err:
        if running.exists():
            os.replace(running, failed)
        where = f"; the failed notebook is {_rel(failed)}" if failed.exists() else ""
        if isinstance(err, pm.PapermillExecutionError):
            why = f"{err.ename}: {err.evalue} (cell {err.exec_count})"
        else:
            why = f"{type(err).__name__}: {err}".strip().splitlines()[0]
        raise SystemExit(f"error: {name} failed after {time.perf_counter() - t0:.0f} s: "
                         f"{why}{where}") from None
    dt = time.perf_counter() - t0

    executed = tidy(nbformat.read(running, as_version=4), default_src, params)
    n_out = _count_outputs(executed)
    if n_out == 0:
        os.replace(running, failed)
        raise SystemExit(f"error: {name} has no outputs after execution ({_rel(failed)})")
    nbformat.write(executed, running)
    os.replace(running, out)  # same folder tree: atomic; the page appears only when whole
    counts = cache_counts(executed)
    tail = f", {counts[0]} hits, {counts[1]} trainings" if counts else ""
    if verbose:
        print(f"    done in {dt:.1f} s, {n_out} outputs{tail}", flush=True)
    else:
        print(f"{name:<12} preset={params.get('preset', '?'):<6} {dt:7.1f} s{tail}", flush=True)
    return dt


def page_params(page: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` for one page; preset ``auto`` becomes ``paper`` when the paper-preset runs
    the page needs are stored, all of them or, for a lifelong page, some (it then shows them
    as partial: :func:`lgm.experiments.plan.shown_preset`), else ``quick``. A page shown at
    ``paper`` this way reads paper-preset results but never trains one: its kernel runs with
    ``LGM_NO_TRAIN=paper``."""
    if params.get("preset") != "auto":
        return params
    from lgm.experiments.plan import shown_preset

    preset, why = shown_preset(page)
    print(f"{page:<12} shows preset {preset} ({why})", flush=True)
    return {**params, "preset": preset}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path, help="notebooks/<name>.py files")
    ap.add_argument("--preset", default="quick",
                    help="smoke | quick | paper | auto (default: quick). auto: paper for a page "
                         "whose paper-preset runs are all committed, quick otherwise")
    ap.add_argument("--device", default=None, help="e.g. cpu or cuda (default: the notebook's)")
    ap.add_argument("--seeds", default=None,
                    help="comma-separated seeds, e.g. 0,1,2 (default: the preset's)")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME=JSON",
                    help="another page parameter, e.g. -p 'methods=[\"lifelong\"]'")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    args = ap.parse_args(argv)

    try:
        params: dict[str, Any] = dict(parse_param(p) for p in args.param)
        params["preset"] = args.preset
        if args.device:
            params["device"] = args.device
        if args.seeds is not None:
            try:
                params["seeds"] = [int(s) for s in args.seeds.split(",")]
            except ValueError:
                raise ParameterError(f"--seeds must be comma-separated non-negative ints "
                                     f"(got {args.seeds!r})") from None
        if params["preset"] not in (*PRESETS, "auto"):  # before any notebook starts
            raise ParameterError(f"preset must be one of {', '.join(PRESETS)} "
                                 f"(got {params['preset']!r})")
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sources = [s.resolve() for s in args.notebooks]
    for src in sources:
        if not src.is_file():
            print(f"error: no such notebook: {src}", file=sys.stderr)
            return 2

    # The kernel runs in the repository root and can import lgm even without the
    # editable install. JUPYTER_PATH puts our kernelspec first (this interpreter, i.e. this
    # virtualenv, with a quiet kernel log; a user-level one could otherwise start another
    # interpreter), then this environment's own.
    _prepend("PYTHONPATH", str(ROOT))
    _prepend("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    _prepend("JUPYTER_PATH", str(quiet_kernelspec(args.kernel)))
    verbose = sys.stdout.isatty()
    if not verbose:
        os.environ["LGM_PROGRESS"] = "0"  # no tqdm redraws in a log

    per_page = {src: page_params(src.stem, params) for src in sources}
    pages = [(src, *prepare(src, per_page[src])) for src in sources]  # every page checked first
    total = 0.0
    no_train = os.environ.get("LGM_NO_TRAIN", "0")
    for src, nb, default_src in pages:
        auto_paper = params["preset"] == "auto" and per_page[src]["preset"] == "paper"
        os.environ["LGM_NO_TRAIN"] = "paper" if auto_paper and no_train == "0" else no_train
        total += render(src, nb, default_src, per_page[src], args.kernel, verbose)
    print(f">>> executed {len(sources)} notebook(s) in {total:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
