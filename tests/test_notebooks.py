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
import sys
from pathlib import Path

import pytest

from lgm.data import DataNotFoundError, locate_dataset

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

jupytext = pytest.importorskip("jupytext")
papermill = pytest.importorskip("papermill")
nbformat = pytest.importorskip("nbformat")

ALL = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def needed_datasets(source: str) -> list[str]:
    """Datasets named on the notebook's ``# data: a, b`` line (checked before executing)."""
    found = re.search(r"^# data: (.+)$", source, re.MULTILINE)
    return [d.strip() for d in found.group(1).split(",")] if found else []


def _outputs(nb) -> int:
    return sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")


def test_notebooks_have_parameters_and_provenance():
    for name in ALL:
        source = (NOTEBOOKS / f"{name}.py").read_text()
        assert '# %% tags=["parameters"]' in source, name
        for param in ("preset", "seeds", "device", "data_root"):
            assert re.search(rf"^{param} = ", source, re.MULTILINE), (name, param)
        assert "provenance" in source, name


@pytest.mark.parametrize("name", ALL)
def test_notebook_executes_at_smoke_preset(name, tmp_path, monkeypatch):
    source = (NOTEBOOKS / f"{name}.py").read_text()
    for dataset in needed_datasets(source):
        try:
            locate_dataset(dataset, split="train")
            locate_dataset(dataset, split="test")
        except DataNotFoundError as err:
            pytest.skip(f"{name} trains on {dataset}, which is not available here: "
                        f"{str(err).splitlines()[0]}")

    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LGM_PROGRESS", "0")
    # As scripts/render_notebook.py: the kernel imports lgm from the checkout, and this
    # environment's python3 kernelspec comes first.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(
        p for p in (str(Path(sys.prefix) / "share" / "jupyter"),
                    os.environ.get("JUPYTER_PATH", "")) if p))

    staged, out = tmp_path / f"{name}.ipynb", tmp_path / f"{name}.out.ipynb"
    jupytext.write(jupytext.read(NOTEBOOKS / f"{name}.py"), staged, fmt="ipynb")
    params: dict[str, object] = {"preset": "smoke"}
    figure_dir = tmp_path / "figures"
    writes_figures = re.search(r"^figure_dir = ", source, re.MULTILINE) is not None
    if writes_figures:
        params["figure_dir"] = str(figure_dir)

    papermill.execute_notebook(str(staged), str(out), parameters=params,
                               kernel_name="python3", language="python", cwd=str(ROOT),
                               progress_bar=False, log_output=False)

    executed = nbformat.read(out, as_version=4)
    assert _outputs(executed) > 0
    errors = [o for c in executed.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    if writes_figures:
        pngs = list(figure_dir.glob("*.png"))
        assert pngs and all(p.stat().st_size > 1000 for p in pngs)
