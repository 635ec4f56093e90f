"""Paper scale without a GPU: pages that show what is stored, the CPU estimate, the harvest.

- A page that may only read stored runs (``LGM_NO_TRAIN``) reads the seeds that are there, lists
  the others with the command that computes them, and records a claim that needs a missing
  variant as *not yet run at paper scale*; a verdict on fewer seeds says so.
- The CPU estimate is the per-image costs of a calibration times the images a method trains on.
- The harvest runs missing seeds one at a time in value order within its budget, and a second
  harvest finds nothing to do.
"""

from __future__ import annotations

import pytest
import torch

from lgm.experiments import cpu_estimate, harvest, make_config, plan
from lgm.experiments.cache import cached_run
from lgm.experiments.registry import get
from lgm.experiments.spec import may_train
from lgm.report.claims import NOT_YET_RUN
from lgm.report.page import begin
from lgm.report.runs import missing_markdown

SMALL = dict(experiment="fashion", num_tasks=2, max_per_task=32, classifier_epochs=0,
             frechet_samples=16, device="cpu")


@pytest.fixture
def smoke_env(tmp_path, fake_data_root, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(fake_data_root))
    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LGM_PROGRESS", "0")
    threads = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(threads)


def test_no_train_paper_forbids_only_the_paper_preset(monkeypatch):
    monkeypatch.setenv("LGM_NO_TRAIN", "paper")
    assert may_train("quick") and may_train("smoke")
    assert not may_train("paper") and not may_train(None)  # unknown: as paper
    monkeypatch.setenv("LGM_NO_TRAIN", "1")
    assert not may_train("quick")
    monkeypatch.setenv("LGM_NO_TRAIN", "0")
    assert may_train("paper")


def test_no_train_paper_trains_a_quick_companion_but_no_paper_run(smoke_env, monkeypatch):
    from lgm.experiments.spec import TrainingForbiddenError

    monkeypatch.setenv("LGM_NO_TRAIN", "paper")
    assert cached_run(make_config("smoke", method="vanilla", **SMALL))["cache"] == "computed"
    with pytest.raises(TrainingForbiddenError, match="LGM_NO_TRAIN=paper forbids"):
        cached_run(make_config("paper", method="vanilla", **SMALL))
    assert len(list((smoke_env / "cache" / "results").glob("*.json"))) == 1


def test_a_page_that_may_not_train_shows_what_is_stored(smoke_env, monkeypatch, capsys):
    stored = make_config("smoke", method="lifelong", seed=0, **SMALL)
    cached_run(stored)
    monkeypatch.setenv("LGM_NO_TRAIN", "1")
    page = begin("fig3", preset="smoke", seeds=[0, 1], device="cpu", show=False,
                 figure_dir=smoke_env / "figures")
    variant = {k: v for k, v in SMALL.items() if k not in ("experiment", "device")}
    results = page.run(get("fashion"), {m: dict(variant, method=m) for m in ("lifelong", "ewc")})
    assert [r["config"]["seed"] for r in results["lifelong"]] == [0] and "ewc" not in results
    assert page.runs.missing == {"lifelong": [1], "ewc": [0, 1]}
    assert page.seed_text == "lifelong 1 of 2 seeds"
    box = missing_markdown(page.runs, "fig3", page.asked)
    assert "| lifelong | 1 of 2 | partial: 1 of 2 seeds (missing 1) |" in box
    assert "| ewc | 0 of 2 | not run yet |" in box and "make harvest PAGES=fig3" in box
    assert "<IPython.core.display.Markdown object>" in capsys.readouterr().out  # the box shown
    # a claim comparing lifelong with EWC waits for EWC; one on lifelong alone says it is partial
    assert page.not_yet_run(["lifelong", "ewc"], ["lifelong beats EWC"])
    assert page.claims[-1].status == NOT_YET_RUN and "ewc not stored" in page.claims[-1].ours
    assert not page.not_yet_run(["lifelong", "vanilla"], ["vanilla was never asked for"])
    claim = page.check("lifelong trains", True, "ok")
    assert claim.status == "holds" and "[partial: lifelong 1 of 2 seeds]" in claim.ours


def test_a_lifelong_page_with_some_paper_runs_is_shown_at_paper(monkeypatch):
    def fake_plan(preset, pages):
        units, by_page = real_plan(preset, pages, with_status=False)
        for i, u in enumerate(units):
            u.status = states[i % len(states)]
        return units, by_page

    real_plan = plan.make_plan
    monkeypatch.setattr(plan, "make_plan", fake_plan)
    states = ["missing", "committed"]  # fig3: six units, some stored; kd_table1: its one missing
    assert plan.shown_preset("fig3") == ("paper", "some of its paper-preset runs are stored "
                                                  "(shown as partial)")
    assert plan.shown_preset("kd_table1")[0] == "quick"
    states = ["missing"]
    assert plan.shown_preset("fig3")[0] == "quick"
    states = ["committed", "cached"]
    assert plan.shown_preset("kd_table1")[0] == "paper"


def test_the_cpu_estimate_is_the_calibrated_cost_of_the_images_trained_on(monkeypatch):
    cal = cpu_estimate.Calibration(train=1e-4, test=1e-5, feature=1e-3, classifier=2e-4,
                                   threads=1, machine="test")
    monkeypatch.setattr(cpu_estimate, "calibrate", lambda cfg: cal)
    cfg = make_config("paper", experiment="mnist", method="lifelong")
    per_task = [round(n * 0.9) for n in cpu_estimate.MNIST_TRAIN]
    assert cpu_estimate.train_images(cfg) == per_task
    upto = cpu_estimate.train_images(cfg.model_copy(update={"method": "upto"}))
    assert upto == [sum(per_task[:t + 1]) for t in range(10)]
    assert cpu_estimate.train_images(cfg.model_copy(update={"method": "full"})) == \
        [sum(per_task)] + [0] * 9
    cumulative = [sum(cpu_estimate.MNIST_TEST[:t + 1]) for t in range(10)]
    expected = (sum(per_task) * 200 * 1e-4
                + sum(n * 1e-5 + 2 * min(4000, n) * 1e-3 for n in cumulative)
                + 10 * 60000 * 2e-4)
    assert cpu_estimate.seed_seconds(cfg) == pytest.approx(expected)
    assert cpu_estimate.seed_seconds(cfg, classifier=False) == pytest.approx(
        expected - 10 * 60000 * 2e-4)


def test_a_calibration_is_measured_once_and_cached(smoke_env):
    cfg = make_config("smoke", **{**SMALL, "batch_size": 8})
    cpu_estimate.calibrate.cache_clear()
    first = cpu_estimate.calibrate(cfg)
    assert first.train > 0 and first.test > 0 and first.feature > 0 and first.classifier > 0
    assert first.threads == torch.get_num_threads()
    files = list((smoke_env / "cache" / "calibration").rglob("*.json"))
    assert len(files) == 1
    cpu_estimate.calibrate.cache_clear()
    assert cpu_estimate.calibrate(cfg) == first  # read back, not measured again


def test_harvest_order_puts_pages_it_can_finish_and_headlines_first():
    units, by_page = plan.make_plan("smoke", ["fig3", "app76", "kd_hm", "fig6"],
                                    with_status=False)
    for u in units:
        u.status, u.cpu_s = "missing", 100.0
    order = harvest.harvest_order(units, by_page, budget_s=450.0)
    pages = [u.pages[0] for u in order]
    # kd_hm (1 unit) fits and is a headline; fig3 (6 units, fig6's shared) does not fit;
    # app76 (8 units) neither fits nor is a headline
    assert pages.index("kd_hm") < pages.index("fig3") < pages.index("app76")


def test_harvest_runs_seed_by_seed_and_then_finds_nothing(smoke_env, monkeypatch, capsys):
    cpu_estimate.calibrate.cache_clear()
    monkeypatch.setattr(cpu_estimate, "seed_seconds", lambda cfg, classifier=True: 1.0)
    done = harvest.run_harvest(None, ["fig6"], preset="smoke", settle=False)
    assert [(j.cfg.method, j.cfg.seed) for j in done] == [("lifelong", 0)]
    err = capsys.readouterr().err
    assert "harvest: 1 job(s) missing" in err
    assert "harvest: done fig6: fashion lifelong seed 0" in err
    assert harvest.run_harvest(None, ["fig6"], preset="smoke", settle=False) == []
    # a budget smaller than a job's estimate starts nothing
    monkeypatch.setattr(cpu_estimate, "seed_seconds", lambda cfg, classifier=True: 600.0)
    assert harvest.run_harvest(1.0, ["fig6"], preset="smoke", settle=False, dry_run=True) == []


def test_a_log_line_per_finished_task_says_what_is_left(capsys, monkeypatch):
    """In a log, each finished unit prints its time and the mean-rate estimate of what is left
    (a resumed run counts only the units done since it started)."""
    from lgm import progress

    clock = iter([100.0, 110.0, 130.0, 160.0])
    monkeypatch.setattr(progress.time, "time", lambda: next(clock))
    list(progress.LogLines(range(2), desc="ewc seed 1", total=4, initial=2))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["ewc seed 1: 3/4 done (10.0 s; this one 10.0 s; about 10 s left)",
                     "ewc seed 1: 4/4 done (30.0 s; this one 20.0 s; about 0 s left)"]


def test_harvest_order_counts_only_the_seeds_still_missing():
    """Between two headline pages the one with less left to run comes first, whatever their
    whole units would cost (fig9 and app73 share Fig. 3's lifelong run)."""
    units, by_page = plan.make_plan("smoke", ["fig9", "app73"], with_status=False)
    for u in units:
        u.status, u.cpu_s = "partial", 1000.0
    forward, = (k for k in by_page["fig9"] if k not in by_page["app73"])
    with_ll, = (k for k in by_page["app73"] if k not in by_page["fig9"])
    for cheap, dear in ((forward, with_ll), (with_ll, forward)):
        left = {u.key: 10.0 for u in units} | {dear: 900.0}
        order = [u.key for u in harvest.harvest_order(units, by_page, float("inf"), left)]
        assert order.index(cheap) < order.index(dear)
