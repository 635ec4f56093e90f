"""The book's notebooks execute end to end at the smoke preset.

Each ``notebooks/<name>.py`` is converted with jupytext into ``tmp_path`` and run with
papermill in the repository root, with its caches under ``tmp_path`` (``LGM_CACHE``), so a
test never reads or writes the developer's ``runs/``. Notebooks that train need real data:
they are skipped, with the reason, when the dataset is not found (no network, no
``../shared``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lgm.data import DATASETS, DataNotFoundError, locate_dataset

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

jupytext = pytest.importorskip("jupytext")
papermill = pytest.importorskip("papermill")
nbformat = pytest.importorskip("nbformat")

ALL = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def needed_datasets(source: str) -> list[str]:
    """Datasets named on the notebook's ``# data: a, b`` line (checked before executing);
    packaged data (Old Faithful, the Hershey fonts) and notes are not looked up."""
    found = re.search(r"^# data: (.+)$", source, re.MULTILINE)
    names = [d.strip().split(" ")[0] for d in found.group(1).split(",")] if found else []
    return [d for d in names if d in DATASETS]


def _outputs(nb) -> int:
    return sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


def test_notebooks_have_parameters_and_provenance():
    for name in ALL:
        source = (NOTEBOOKS / f"{name}.py").read_text()
        assert '# %% tags=["parameters"]' in source, name
        for param in ("preset", "seeds", "device", "data_root"):
            assert re.search(rf"^{param} = ", source, re.MULTILINE), (name, param)
        assert "provenance" in source, name


def execute(name: str, folder: Path) -> tuple[Path | None, str]:
    """Execute one notebook at the smoke preset into ``folder``: (path, "") or (None, why)."""
    source = (NOTEBOOKS / f"{name}.py").read_text()
    for dataset in needed_datasets(source):
        try:
            locate_dataset(dataset, split="train")
            locate_dataset(dataset, split="test")
        except DataNotFoundError as err:
            return None, (f"{name} trains on {dataset}, which is not available here: "
                          f"{str(err).splitlines()[0]}")
    staged, out = folder / f"{name}.py.ipynb", folder / f"{name}.ipynb"
    jupytext.write(jupytext.read(NOTEBOOKS / f"{name}.py"), staged, fmt="ipynb")
    params: dict[str, object] = {"preset": "smoke"}
    if re.search(r"^figure_dir = ", source, re.MULTILINE):
        params["figure_dir"] = str(folder / "figures" / name)
    papermill.execute_notebook(str(staged), str(out), parameters=params,
                               kernel_name="python3", language="python", cwd=str(ROOT),
                               progress_bar=False, log_output=False)
    staged.unlink()
    return out, ""


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every notebook executed once at the smoke preset, in the order `make book` uses
    (summary last), sharing one result cache, as the book build does."""
    folder = tmp_path_factory.mktemp("smoke_book")
    order = [n for n in ALL if n != "summary"] + [n for n in ALL if n == "summary"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LGM_CACHE", str(folder / "cache"))
        mp.setenv("LGM_PROGRESS", "0")
        # As scripts/render_notebook.py: the kernel imports lgm from the checkout, and this
        # environment's python3 kernelspec comes first.
        mp.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        mp.setenv("JUPYTER_PATH", os.pathsep.join(
            p for p in (str(Path(sys.prefix) / "share" / "jupyter"),
                        os.environ.get("JUPYTER_PATH", "")) if p))
        return folder, {name: execute(name, folder) for name in order}


@pytest.mark.parametrize("name", ALL)
def test_notebook_executes_at_smoke_preset(name, smoke_book):
    folder, executed = smoke_book
    out, why = executed[name]
    if out is None:
        pytest.skip(why)
    nb = nbformat.read(out, as_version=4)
    assert _outputs(nb) > 0
    errors = [o for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    figures = folder / "figures" / name
    if figures.exists() or re.search(r"^figure_dir = ", (NOTEBOOKS / f"{name}.py").read_text(),
                                     re.MULTILINE):
        pngs = list(figures.glob("*.png"))
        assert pngs and all(p.stat().st_size > 1000 for p in pngs)


def test_book_builds_from_the_executed_notebooks(smoke_book, tmp_path):
    """The Jupyter Book (warnings as errors) builds from the smoke-executed pages."""
    folder, executed = smoke_book
    missing = [why for out, why in executed.values() if out is None]
    if missing:
        pytest.skip("; ".join(missing))
    for item in ("_config.yml", "_toc.yml", "_vendor", "book"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    pages = tmp_path / "book" / "notebooks"
    shutil.rmtree(pages, ignore_errors=True)
    pages.mkdir()
    for out, _ in executed.values():
        shutil.copy(out, pages / out.name)
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    for name in executed:
        assert (html / "book" / "notebooks" / f"{name}.html").is_file(), name
