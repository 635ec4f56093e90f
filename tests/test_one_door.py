"""`Experiment` is the only door: a new experiment is one module, and the command line
(``experiments``, ``run``, ``plan``, ``grid``), the plan and a book page all see it without any
other file of the project being edited."""

from __future__ import annotations

import json
import textwrap

import pytest

from lgm.cli import EXIT_CODES, main
from lgm.experiments import registry

COIN = textwrap.dedent('''
    """A biased coin: the smallest experiment, declared in one module."""
    import time

    import torch

    from lgm.experiments.cache import cached_seed
    from lgm.experiments.experiment import Experiment
    from lgm.experiments.spec import ExperimentConfig
    from lgm.provenance import provenance


    class CoinConfig(ExperimentConfig):
        p: float = 0.5
        draws: int = 100


    def flip(cfg: CoinConfig, seed: int) -> dict:
        """The share of heads in ``cfg.draws`` flips (one seed)."""
        started = time.time()
        g = torch.Generator().manual_seed(seed)
        heads = torch.rand(cfg.draws, generator=g, dtype=torch.float64) < cfg.p
        return {"provenance": provenance(torch.device("cpu"), started),
                "heads": float(heads.double().mean())}


    def run(cfg: CoinConfig) -> dict:
        return {"config": cfg.to_dict(),
                "runs": [cached_seed("coin", "coin", cfg, s, flip) for s in cfg.seeds]}


    def fingerprint() -> list:
        return [flip(CoinConfig(), 0)["heads"]]


    EXPERIMENTS = [Experiment(
        name="coin", paper="kd", title="a biased coin", config=CoinConfig,
        presets={"smoke": {"draws": 10}, "quick": {"draws": 200}, "paper": {"draws": 10_000}},
        run=run, pages=("coin_page",), paper_gpu_s=1.0, paper_cpu_s=(2.0, "measured"))]
''')


@pytest.fixture
def coin(tmp_path, monkeypatch):
    """The module above in a temporary package on the path, named by ``LGM_EXPERIMENTS``."""
    package = tmp_path / "plugins"
    (package / "lab").mkdir(parents=True)
    (package / "lab" / "__init__.py").write_text("")
    (package / "lab" / "coin.py").write_text(COIN)
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setenv("LGM_EXPERIMENTS", "lab.coin")
    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LGM_PROGRESS", "0")
    registry.experiments.cache_clear()
    yield tmp_path
    registry.experiments.cache_clear()


def _plan(capsys, preset: str, *seeds: str) -> dict:
    capsys.readouterr()
    assert main(["plan", "--preset", preset, "--pages", "coin_page", "--json", *seeds]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_new_experiment_is_one_module(coin, capsys):
    assert main(["experiments"]) == 0
    assert "\ncoin " in capsys.readouterr().out

    plan = _plan(capsys, "smoke")
    assert [(u["experiment"], u["status"]) for u in plan["units"]] == [("coin", "missing")]
    assert main(["run", "coin", "--preset", "smoke"]) == 0
    assert [u["status"] for u in _plan(capsys, "smoke")["units"]] == ["cached"]

    two = ("--seeds", "0-1")
    assert main(["grid", "--preset", "quick", "--pages", "coin_page", *two]) == 0
    assert "1/1 coin done" in capsys.readouterr().err
    assert [u["status"] for u in _plan(capsys, "quick", *two)["units"]] == ["cached"]

    from lgm.report.page import begin

    page = begin("coin_page", preset="quick", seeds=[0, 1], device="cpu", show=False,
                 figure_dir=coin / "figures")
    results = page.run(registry.get("coin"), {"fair": {}, "biased": {"p": 0.2}})
    assert [r["cache"] for r in results["fair"]] == ["hit", "hit"]  # the grid's runs
    assert [r["params"]["seed"] for r in results["biased"]] == [0, 1]
    assert all(r["heads"] < 0.35 for r in results["biased"])
    assert all(0.35 < r["heads"] < 0.65 for r in results["fair"])


def test_a_module_that_is_not_there_is_one_line(coin, monkeypatch, capsys):
    monkeypatch.setenv("LGM_EXPERIMENTS", "lab.no_such_module")
    registry.experiments.cache_clear()
    assert main(["experiments"]) == EXIT_CODES["usage"]
    err = capsys.readouterr().err.strip()
    assert "LGM_EXPERIMENTS: no module 'lab.no_such_module'" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
