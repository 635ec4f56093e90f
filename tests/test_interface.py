"""One experiment interface for both papers: the registry, the command line, the layers."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from lgm.cli import EXIT_CODES, main
from lgm.experiments.registry import by_page, experiments, get
from lgm.experiments.spec import ConfigError, ExperimentConfig, make_config

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("data", "models", "losses", "training", "metrics", "experiments", "report")
BASE = ("lgm.device", "lgm.errors", "lgm.paths", "lgm.provenance", "lgm.progress")
PAGES_WITHOUT_RUNS = {"summary", "table741", "kd_fig1"}  # tables, figures and the dashboard


def test_every_experiment_of_both_papers_is_listed(capsys):
    assert main(["experiments"]) == 0
    out = capsys.readouterr().out
    names = experiments()
    assert {e.paper for e in names.values()} == {"lifelong", "kd"}
    for name in names:
        assert f"\n{name} " in out
    pages = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    assert set(by_page()) | PAGES_WITHOUT_RUNS >= pages, pages - set(by_page())
    assert set(by_page()) <= pages  # every page an experiment names exists


@pytest.mark.parametrize("name", sorted(experiments()))
def test_every_experiment_has_the_one_shape(name):
    exp = experiments()[name]
    assert issubclass(exp.config, ExperimentConfig)
    assert {"smoke", "quick", "paper"} <= set(exp.presets), exp.presets.keys()
    for preset in ("smoke", "quick", "paper"):
        cfg = make_config(exp, preset)
        assert cfg.preset == preset
        assert cfg.seeds == (exp.paper_seeds if preset == "paper" else cfg.seeds)
    # the one seed rule: explicit seeds mean what they say, at every preset
    assert make_config(exp, "paper", seeds=[0]).seeds == (0,)
    assert type(cfg).model_validate(cfg.to_dict()) == cfg  # a stored config reads back equal


def _imports(path: Path) -> set[str]:
    """Every ``lgm`` module that ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "lgm" or n.startswith("lgm.")}


def _layer(module: str) -> int:
    parts = module.split(".")
    if module in BASE or len(parts) < 2:
        return -1
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else len(LAYERS)


def test_no_module_imports_a_higher_layer():
    """data < models < losses < training < metrics < experiments < report; lgm.device, errors,
    paths, provenance and progress are below them all."""
    bad = []
    for path in sorted((ROOT / "lgm").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if _layer(module) < 0 and module not in BASE:
            continue  # lgm, lgm.cli, lgm.__main__: the top
        for target in _imports(path):
            if _layer(target) > _layer(module):
                bad.append(f"{module} -> {target}")
    assert not bad, bad


def test_the_import_graph_has_no_circle():
    """No module imports, directly or through others, a module that imports it."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "lgm").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = _imports(path) - {module}
    done: set[str] = set()

    def visit(m: str, trail: tuple[str, ...]) -> None:
        if m in trail:
            raise AssertionError("import circle: " + " -> ".join([*trail[trail.index(m):], m]))
        if m in done or m not in graph:
            return
        for t in sorted(graph[m]):
            visit(t, (*trail, m))
        done.add(m)

    for m in sorted(graph):
        visit(m, ())


# ------------------------------------------------------------------ the command line
BAD_RUNS = [
    (["run", "cifar"], "unknown experiment 'cifar'"),
    (["run", "fashion", "--set", "info_gain_weight=-1"], "info_gain_weight"),
    (["run", "fashion", "--set", "lr=Infinity"], "lr"),
    (["run", "fashion", "--set", "no_such=1"], "unknown parameter(s) no_such"),
    (["run", "fashion", "--set", "seed=3"], "use --seeds"),
    (["run", "fashion", "--set", "experiment=mnist"], "experiment cannot be overridden"),
    (["run", "fashion", "--set", "extras=5"], "unknown parameter(s) extras"),
    (["run", "fashion", "--set", "method=magic"], "method"),
    (["run", "fashion", "--set", "batch_size=12.5"], "batch_size"),
    (["run", "fashion", "--set", "max_epochs=true"], "max_epochs"),
    (["run", "fashion", "--set", "min_epochs=9", "--set", "max_epochs=3"], "min_epochs"),
    (["run", "fashion", "--device", "tpu"], "device"),
    (["run", "kd_hm", "--set", "lr=-1"], "lr"),
    (["train", "--method", "magic"], "method"),
    (["train", "--seed", "1-3"], "--seed takes one seed"),
]


@pytest.mark.parametrize("argv,culprit", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_input_is_one_line_naming_the_culprit(argv, culprit, capsys):
    assert main(argv) == EXIT_CODES["usage"]
    err = capsys.readouterr().err.strip()
    assert culprit in err and "Traceback" not in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("seeds,why", [("3-1", "empty or reversed"), ("1,1", "distinct"),
                                       ("x", "0-4"), ("-1", "0-4")])
def test_bad_seed_lists_are_refused(seeds, why, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "fashion", "--seeds", seeds])
    assert stop.value.code == 2 and why in capsys.readouterr().err


def test_missing_data_names_the_files_and_exits_3(tmp_path, capsys):
    code = main(["run", "fashion", "--preset", "smoke", "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == EXIT_CODES["data"] and "train-images-idx3-ubyte" in err, err


def test_out_under_a_file_is_refused_before_compute(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["run", "kd_hm", "--out", str(tmp_path / "f" / "r.json")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_make_config_refuses_unknown_presets():
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config(get("kd_hm"), "huge")


@pytest.mark.parametrize("name", sorted(experiments()))
def test_every_experiment_runs_at_the_smoke_preset(name, tmp_path, fake_data_root, monkeypatch):
    """``python -m lgm run NAME --preset smoke`` through the cache; a second run is a hit."""
    if name == "svhn_mnist":
        pytest.skip("needs SVHN; its missing-data message is checked below")
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    out = tmp_path / "r.json"
    assert main(["run", name, "--preset", "smoke", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result
    again = tmp_path / "again.json"
    assert main(["run", name, "--preset", "smoke", "--out", str(again)]) == 0
    text = again.read_text()
    assert '"cache": "hit"' in text and '"cache": "computed"' not in text


def test_svhn_is_named_when_missing(tmp_path, fake_data_root, monkeypatch, capsys):
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    assert main(["run", "svhn_mnist", "--preset", "smoke"]) == EXIT_CODES["data"]
    assert "svhn" in capsys.readouterr().err.lower()


def test_a_diverged_run_is_not_cached_as_a_success(tmp_path, monkeypatch, capsys):
    """A run whose loss blows up exits 4 with one line, and nothing is
    stored as complete (a second call fails the same way instead of serving a result)."""
    import lgm.experiments.lifelong as lifelong
    from tests.conftest import tiny_sequence

    monkeypatch.setattr(lifelong, "load_tasks", lambda cfg, device: tiny_sequence(2))
    argv = ["run", "fashion", "--preset", "smoke", "--set", "lr=1e10", "--set",
            "classifier_epochs=0"]
    for _ in range(2):
        assert main(argv) == EXIT_CODES["diverged"]
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "task 0" in err and "kept: nothing" in err and "Traceback" not in err, err
    cache = Path(str(tmp_path / "cache"))
    stored = list((cache / "results").rglob("*.json")) if (cache / "results").exists() else []
    assert not stored, stored
