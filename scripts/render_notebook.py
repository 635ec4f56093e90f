"""Execute jupytext notebooks into the book.

For each ``notebooks/<name>.py`` (jupytext percent format, one cell tagged ``parameters``):

1. convert it to ``build/notebooks/<name>.ipynb`` (never in place: papermill must not
   write into a file that jupytext pairs with the source);
2. execute that copy with papermill into ``book/notebooks/<name>.ipynb``, passing only
   ``preset`` (and ``device`` when given), with the repository root as working directory;
3. fail when the executed notebook has no outputs (with execution off, Jupyter Book
   would otherwise publish an empty page without a warning).

Usage: ``python scripts/render_notebook.py [--preset quick] [--device cuda] notebooks/*.py``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "notebooks"
OUT_DIR = ROOT / "book" / "notebooks"


def _prepend(var: str, value: str) -> None:
    old = os.environ.get(var, "")
    if value not in old.split(os.pathsep):
        os.environ[var] = value + (os.pathsep + old if old else "")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _count_outputs(nb) -> int:
    return sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


def render(src: Path, preset: str, device: str | None, kernel: str) -> float:
    import jupytext
    import nbformat
    import papermill as pm

    name = src.stem
    nb = jupytext.read(src)
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        raise SystemExit(f"error: {src} has no cell tagged 'parameters'")

    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    staged = BUILD_DIR / f"{name}.ipynb"
    out = OUT_DIR / f"{name}.ipynb"
    jupytext.write(nb, staged, fmt="ipynb")

    params: dict[str, object] = {"preset": preset}
    if device:
        params["device"] = device
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    print(f">>> executing {_rel(src)} ({shown}) -> {_rel(out)}", flush=True)

    # The kernel runs in the repository root and can import lgm even without the
    # editable install. JUPYTER_PATH puts this environment's `python3` kernelspec first
    # (a user-level one could otherwise start another interpreter); jupyter_client runs
    # its "python" with sys.executable, i.e. this virtualenv.
    _prepend("PYTHONPATH", str(ROOT))
    _prepend("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))

    t0 = time.perf_counter()
    pm.execute_notebook(
        str(staged),
        str(out),
        parameters=params,
        kernel_name=kernel,
        language="python",
        cwd=str(ROOT),
        progress_bar=sys.stderr.isatty(),
        log_output=True,  # the terminal sees what is computed or reused, and progress bars
    )
    dt = time.perf_counter() - t0

    executed = drop_stderr(nbformat.read(out, as_version=4))
    nbformat.write(executed, out)
    n_out = _count_outputs(executed)
    if n_out == 0:
        raise SystemExit(f"error: {_rel(out)} has no outputs after execution")
    print(f"    done in {dt:.1f} s, {n_out} outputs", flush=True)
    return dt


def drop_stderr(nb: Any) -> Any:
    """Remove stderr streams (training progress bars) from the page; the terminal had them."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path, help="notebooks/<name>.py files")
    ap.add_argument("--preset", default="quick", help="smoke | quick | paper (default: quick)")
    ap.add_argument("--device", default=None, help="e.g. cpu or cuda (default: the notebook's)")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3)")
    args = ap.parse_args(argv)

    total = 0.0
    for src in args.notebooks:
        src = src.resolve()
        if not src.is_file():
            raise SystemExit(f"error: no such notebook: {src}")
        total += render(src, args.preset, args.device, args.kernel)
    print(f">>> executed {len(args.notebooks)} notebook(s) in {total:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
