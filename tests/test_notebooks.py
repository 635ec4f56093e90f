"""The book's notebooks execute end to end at the smoke preset.

Each ``notebooks/<name>.py`` is converted with jupytext into ``tmp_path`` and run with
papermill in the repository root, with its caches under ``tmp_path`` (``LGM_CACHE``), so a
test never reads or writes the developer's ``runs/``. Notebooks that train need real data:
they are skipped, with the reason, when the dataset is not found (no network, no
``../shared``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

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
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    jupytext.write(nb, staged, fmt="ipynb")
    params: dict[str, object] = {"preset": "smoke"}
    if re.search(r"^figure_dir = ", source, re.MULTILINE):
        params["figure_dir"] = str(folder / "figures" / name)
    try:
        papermill.execute_notebook(str(staged), str(out), parameters=params,
                                   kernel_name="python3", language="python", cwd=str(ROOT),
                                   progress_bar=False, log_output=False)
    except papermill.PapermillExecutionError:
        pass  # `out` holds the error; test_notebook_executes_at_smoke_preset reports it
    staged.unlink()
    # The page as `make book` publishes it: parameters once, setup collapsed, no stderr.
    defaults = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    tidy = load_script("render_notebook").tidy
    nbformat.write(tidy(nbformat.read(out, as_version=4), defaults, params), out)
    return out, ""


_SESSION: dict[str, object] = {}  # built once per test session, shared with other modules


def _errors(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def smoke_book_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Every notebook executed once at the smoke preset, in the order `make book` uses
    (summary last), sharing one result cache, as the book build does. Memoised for the
    session (a failure too), so that tests/test_book_browser.py reuses the same pages."""
    if isinstance(_SESSION.get("smoke_book"), BaseException):
        raise _SESSION["smoke_book"]
    if "smoke_book" not in _SESSION:
        try:
            _SESSION["smoke_book"] = _execute_all(tmp_path_factory)
        except BaseException as err:
            _SESSION["smoke_book"] = err
            raise
    return _SESSION["smoke_book"]  # type: ignore[return-value]


def _execute_all(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Execute every notebook (summary last) into a fresh folder with its own cache."""
    folder = tmp_path_factory.mktemp("smoke_book")
    order = [n for n in ALL if n != "summary"] + [n for n in ALL if n == "summary"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LGM_CACHE", str(folder / "cache"))
        mp.setenv("LGM_PROGRESS", "0")
        # As scripts/render_notebook.py: the kernel imports lgm from the checkout, and
        # this environment's python3 kernelspec comes first.
        mp.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        mp.setenv("JUPYTER_PATH", os.pathsep.join(
            p for p in (str(Path(sys.prefix) / "share" / "jupyter"),
                        os.environ.get("JUPYTER_PATH", "")) if p))
        return folder, {name: execute(name, folder) for name in order}


def built_book_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path | None, str]:
    """The Jupyter Book built (warnings as errors) from the smoke-executed pages: (the
    source folder holding ``_build/html``, "") or (None, why it could not be built)."""
    if "built_book" not in _SESSION:
        folder, executed = smoke_book_once(tmp_path_factory)
        missing = [why for out, why in executed.values() if out is None]
        failed = [out.stem for out, _ in executed.values()
                  if out is not None and _errors(nbformat.read(out, as_version=4))]
        if missing or failed:
            why = "; ".join(missing + [f"{n} failed to execute (see test_notebook_executes_"
                                       f"at_smoke_preset[{n}])" for n in failed])
            _SESSION["built_book"] = (None, why)
            return _SESSION["built_book"]  # type: ignore[return-value]
        src = tmp_path_factory.mktemp("book_source")
        for item in ("_config.yml", "_toc.yml", "_vendor", "book"):
            (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, src / item)
        pages = src / "book" / "notebooks"
        shutil.rmtree(pages, ignore_errors=True)
        pages.mkdir()
        for out, _ in executed.values():
            shutil.copy(out, pages / out.name)
        jb = Path(sys.executable).parent / "jupyter-book"
        proc = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"],
                              capture_output=True, text=True, timeout=600)
        _SESSION["built_book"] = ((src, "") if proc.returncode == 0 else
                                  (None, "jupyter-book build failed:\n" + proc.stdout[-3000:]
                                   + proc.stderr[-3000:]))
    return _SESSION["built_book"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    return smoke_book_once(tmp_path_factory)


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


def test_book_builds_from_the_executed_notebooks(smoke_book, tmp_path_factory):
    """The Jupyter Book (warnings as errors) builds from the smoke-executed pages."""
    folder, executed = smoke_book
    missing = [why for out, why in executed.values() if out is None]
    if missing:
        pytest.skip("; ".join(missing))
    src, why = built_book_once(tmp_path_factory)
    assert src is not None, why
    html = src / "_build" / "html"
    for name in executed:
        assert (html / "book" / "notebooks" / f"{name}.html").is_file(), name


# ----------------------------------------------------------------------------- the renderer
@pytest.mark.parametrize("bad", ["12", [3.7], [True], "x", 12, [1, 1], [-1], []])
def test_page_parameters_are_validated_before_execution(bad):
    """Papermill coerced seeds="12" into [1, 2]; every bad value of seeds
    is refused, with a message naming seeds."""
    rn = load_script("render_notebook")
    with pytest.raises(rn.ParameterError, match="seeds"):
        rn.validate_parameters({"preset": "smoke", "seeds": bad},
                               ["preset", "seeds", "device", "data_root"], "fig3")


def test_page_parameters_name_the_culprit():
    rn = load_script("render_notebook")
    declared = ["preset", "seeds", "device", "data_root", "methods"]
    for params, culprit in (({"preset": "big"}, "preset"), ({"device": "gpu"}, "device"),
                            ({"epochs": 3}, "epochs")):
        with pytest.raises(rn.ParameterError, match=culprit):
            rn.validate_parameters(params, declared, "fig3")
    rn.validate_parameters({"preset": "paper", "seeds": [0, 3], "device": "cuda:1",
                            "methods": ["lifelong"]}, declared, "fig3")
    assert rn.parse_param('seeds=[0, 1]') == ("seeds", [0, 1])
    assert rn.parse_param("seeds=x") == ("seeds", "x")


def test_the_command_line_refuses_bad_seeds_before_running(capsys):
    rn = load_script("render_notebook")
    assert rn.main(["--preset", "smoke", "--seeds", "1,x", "notebooks/fig3.py"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --seeds must be comma-separated non-negative ints (got '1,x')")
    with pytest.raises(SystemExit, match=r"^error: fig3: seeds\.0: .*\(got 3\.7\)$"):
        rn.main(["--preset", "smoke", "-p", "seeds=[3.7]", str(NOTEBOOKS / "fig3.py")])


def test_the_parameters_are_shown_once_with_the_values_used():
    rn = load_script("render_notebook")
    default = 'preset = "quick"\nseeds = [\n    0,\n]\ndevice = "cpu"\nfigure_dir = "x"'
    merged = rn.merged_parameters(default, {"preset": "smoke", "seeds": [1, 2]})
    assert merged.splitlines()[1:] == ['preset = "smoke"  # set for this run',
                                       "seeds = [1, 2]  # set for this run",
                                       'device = "cpu"', 'figure_dir = "x"']


TINY = '''# %% [markdown]
# # A tiny page

# %% tags=["parameters"]
preset = "quick"
seeds = [0]

# %%
import sys

print("seed 0: hit", flush=True)

# %%
print("seed 1: computed", flush=True)
{fail}
'''


def _tiny_render(tmp_path, monkeypatch, fail: str):
    rn = load_script("render_notebook")
    monkeypatch.setattr(rn, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(rn, "OUT_DIR", tmp_path / "book")
    for var in ("PYTHONPATH", "JUPYTER_PATH", "LGM_PROGRESS"):
        monkeypatch.setenv(var, os.environ.get(var, ""))
    src = tmp_path / "tiny.py"
    src.write_text(TINY.format(fail=fail))
    return rn, src


def test_a_page_is_tidied_and_logged_in_one_line(tmp_path, monkeypatch, capsys):
    rn, src = _tiny_render(tmp_path, monkeypatch, "")
    assert rn.main(["--preset", "smoke", "--seeds", "0,1", str(src)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(r"tiny +preset=smoke +\d+\.\d s, 1 hits, 1 trainings", line), line
    nb = nbformat.read(tmp_path / "book" / "tiny.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tags = [c.metadata.get("tags", []) for c in code]
    assert "remove-cell" in tags[0] and "parameters" in tags[0]
    assert "injected-parameters" in tags[1] and "seeds = [0, 1]" in code[1].source
    assert "hide-input" in tags[2] and "hide-input" not in tags[3]
    assert not list((tmp_path / "build").glob("*.failed.ipynb"))


def test_a_failed_notebook_is_not_published(tmp_path, monkeypatch):
    """A notebook that failed must not stay in book/notebooks/."""
    rn, src = _tiny_render(tmp_path, monkeypatch, 'raise RuntimeError("boom")')
    with pytest.raises(SystemExit, match=r"^error: tiny failed after \d+ s: RuntimeError: boom"):
        rn.main(["--preset", "smoke", str(src)])
    assert not (tmp_path / "book" / "tiny.ipynb").exists()
    assert (tmp_path / "build" / "tiny.failed.ipynb").is_file()
    assert not (tmp_path / "build" / "tiny.executed.ipynb").exists()


def test_the_plan_lists_every_lifelong_run_the_book_trains(smoke_book, monkeypatch):
    """Every lifelong run a page of the smoke book trained is a run of a unit the plan lists
    at the smoke preset (the pages and ``lgm.experiments.registry.LIFELONG_VARIANTS`` agree; the
    bridge's lifelong runs belong to its unit), so ``python -m lgm grid`` computes what the
    book reads."""
    from lgm.experiments import kd_bridge, plan, registry
    from lgm.experiments.config import LifelongConfig

    folder, executed = smoke_book
    lifelong_pages = {p for e in registry.LIFELONG for p in e.pages}
    not_run = [why for name, (out, why) in executed.items()
               if name in lifelong_pages and out is None]
    if not_run:
        pytest.skip(not_run[0])
    monkeypatch.setenv("LGM_CACHE", str(folder / "cache"))
    units, _ = plan.make_plan("smoke", with_status=False)

    def key(config: dict) -> str:
        return json.dumps({k: v for k, v in config.items() if k not in ("device", "data_root")},
                          sort_keys=True)

    runs = [run for u in units if isinstance(u.cfg, LifelongConfig) for run in u.cfg.runs()]
    runs += [run for u in units if isinstance(u.cfg, kd_bridge.KDBridgeConfig)
             for rs in kd_bridge.lifelong_runs(u.cfg).values() for run in rs]
    planned = {key(run.to_dict()) for run in runs}
    trained = [json.loads(p.read_text())["config"]
               for p in (folder / "cache" / "results").glob("*.json")]
    assert trained, "the smoke book trained no lifelong run"
    unplanned = [f"{c['experiment']}/{c['method']} seed {c['seed']}" for c in trained
                 if key(c) not in planned]
    assert not unplanned, f"runs a page trains that the plan does not list: {unplanned}"
