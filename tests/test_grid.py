"""The plan of runs per page and the runner (local and a real local Ray cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

from lgm.cli import main
from lgm.device import cpu_threads
from lgm.experiments import plan
from lgm.experiments.grid import run_grid

ROOT = Path(__file__).resolve().parent.parent
PAGES_WITHOUT_RUNS = {"summary", "table741", "kd_fig1"}
TWO_PAGES = ["kd_hm", "fig6"]  # one KD experiment and one lifelong stack, seconds each at smoke


def test_the_plan_covers_every_page_of_both_papers():
    pages = {p.stem for p in (ROOT / "notebooks").glob("*.py")} - PAGES_WITHOUT_RUNS
    assert set(plan.all_pages()) == pages


def test_units_are_shared_between_pages():
    units, by_page = plan.make_plan("paper", ["fig3", "fig6", "fig9"], with_status=False)
    shared = [u for u in units if len(u.pages) == 2]  # Fig. 3's lifelong stack is Fig. 6's
    assert len(shared) == 1 and shared[0].cfg.method == "lifelong"
    assert shared[0].pages == ["fig3", "fig6"]
    assert shared[0].cfg.seeds == (0, 1, 2, 3, 4)  # the paper's seeds
    # fig3's five methods and EWC without replay; fig9's reverse and forward KL over the
    # paper's ten trials (its seeds 0-4 of reverse are fig3's runs: the cache keeps each seed)
    assert len(units) == 5 + 1 + 2
    assert [u.cfg.seeds for u in units if u.pages == ["fig9"]] == [tuple(range(10))] * 2


def test_committed_paper_results_show_as_committed():
    units, _ = plan.make_plan("paper", ["fig3"])
    status = {(u.cfg.method, u.cfg.ewc_replay): u.status for u in units}
    assert status == {("lifelong", True): "committed", ("ewc", True): "committed",
                      ("vanilla", True): "committed", ("full", True): "missing",
                      ("upto", True): "missing", ("ewc", False): "missing"}, status


def test_pages_are_ordered_cheapest_first():
    units, by_page = plan.make_plan("paper", ["kd_hm", "fig4", "kd_fig5"], with_status=False)
    order = [u.pages[0] for u in plan.order_for_pages(units, by_page)]
    assert order[0] == "kd_hm" and order[-1] == "fig4"


def test_unknown_pages_are_named(capsys):
    assert main(["plan", "--pages", "fig99"]) == 2
    assert "unknown page(s) fig99" in capsys.readouterr().err


def test_a_budget_starts_nothing_that_would_not_fit(capsys, monkeypatch):
    from lgm.experiments.experiment import Experiment

    monkeypatch.setattr(Experiment, "status", lambda self, cfg: "missing")  # whatever is stored
    chosen = run_grid("paper", ["kd_hm", "kd_table1"], budget_min=5, dry_run=True)
    assert [u.exp.name for u in chosen] == ["kd_hm"]
    assert "would exceed" in capsys.readouterr().err


def _results(cache: Path) -> dict[str, dict]:
    """Every stored result's numbers, by file name (provenance and timing left out)."""
    out = {}
    for p in sorted((cache / "results").rglob("*.json")):
        d = json.loads(p.read_text())
        for k in ("provenance", "stack", "wall_s"):
            d.pop(k, None)
        for t in d.get("tasks", []):
            t.pop("wall_s", None)
        out[p.name] = d
    return out


@pytest.fixture
def smoke_env(tmp_path, fake_data_root, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    monkeypatch.setenv("LGM_PROGRESS", "0")
    return tmp_path


def test_grid_local_then_ray_give_the_same_results(smoke_env, monkeypatch):
    """A smoke grid of two pages through the local backend and through a real local Ray
    cluster (2 CPUs): the same result files, the same numbers; a second grid runs nothing."""
    ray = pytest.importorskip("ray")
    local, remote = smoke_env / "local", smoke_env / "ray"
    monkeypatch.setenv("LGM_CACHE", str(local))
    with cpu_threads(1):  # a Ray task with one CPU computes on one thread: the same floats
        assert len(run_grid("smoke", TWO_PAGES, backend="local")) == 2
    assert run_grid("smoke", TWO_PAGES, backend="local") == []  # all cached now
    monkeypatch.setenv("LGM_CACHE", str(remote))
    try:
        assert len(run_grid("smoke", TWO_PAGES, backend="ray", num_cpus=2)) == 2
    finally:
        ray.shutdown()
    units, _ = plan.make_plan("smoke", TWO_PAGES)
    assert {u.status for u in units} == {"cached"}
    a, b = _results(local), _results(remote)
    assert a.keys() == b.keys() and len(a) >= 2
    for name in a:
        assert a[name] == b[name], name


def test_no_train_reads_but_never_trains(smoke_env, monkeypatch, capsys):
    """LGM_NO_TRAIN=1 (a book page shown at the paper preset on a CPU): a missing run is an
    error naming it, not a training."""
    monkeypatch.setenv("LGM_CACHE", str(smoke_env / "cache"))
    monkeypatch.setenv("LGM_NO_TRAIN", "1")
    assert main(["run", "fashion", "--preset", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "LGM_NO_TRAIN=1 forbids computing it" in err and "fashion lifelong" in err
    assert not (smoke_env / "cache" / "results").exists()


def test_commit_results_copies_paper_runs_only(tmp_path, monkeypatch):
    mod = load_script("commit_results")
    local = tmp_path / "cache" / "results"
    (local / "kd_hm").mkdir(parents=True)
    (local / "fashion-lifelong-seed0-paper-x.json").write_text(
        json.dumps({"config": {"experiment": "fashion", "preset": "paper"}}))
    (local / "fashion-lifelong-seed0-paper-x.npz").write_bytes(b"npz")
    (local / "fashion-lifelong-seed0-quick-y.json").write_text(
        json.dumps({"config": {"experiment": "fashion", "preset": "quick"}}))
    (local / "kd_hm" / "run-z.json").write_text(json.dumps({"params": {"preset": "paper"}}))
    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mod, "COMMITTED_RESULTS", tmp_path / "results")
    # which files are chosen and where they go (the checks of serving: test_bad_results.py)
    monkeypatch.setattr(mod, "stored_problem", lambda path, group: None)
    assert mod.main([]) == 0
    got = sorted(str(p.relative_to(tmp_path / "results"))
                 for p in (tmp_path / "results").rglob("*"))
    assert got == ["README.md", "fashion", "fashion/fashion-lifelong-seed0-paper-x.json",
                   "fashion/fashion-lifelong-seed0-paper-x.npz", "kd_hm", "kd_hm/run-z.json"]
