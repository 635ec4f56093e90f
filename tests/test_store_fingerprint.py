"""Numerics fingerprints: validity follows the numbers, not the source.

A refactor that keeps the numbers keeps stored results (the committed paper results, computed
by the code of commit 25231c6, are still served); one that changes them makes them stale.
"""

from __future__ import annotations

import math

import pytest

import lgm.experiments.lifelong as lifelong
from lgm.experiments import cache, make_config
from lgm.experiments.fingerprints import lifelong_fingerprint
from tests.conftest import tiny_sequence


def small():
    """Two tasks of 32 band images (a quick in-memory run)."""
    return tiny_sequence(2, n_train=32, n_val=8, n_test=16)

COMMITTED = sorted((cache.COMMITTED_RESULTS / "fashion").glob("*.json"))


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """A data root without files: the tests never need the real data."""
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "no-data"))


@pytest.fixture
def counted_runs(monkeypatch, no_data):
    """Route run_experiments to tiny in-memory data and count the trainings."""
    calls = []

    def fake_run_experiments(cfgs, *, resume=True, checkpoint_dir=None):
        calls.append([c.seed for c in cfgs])
        return lifelong.run_stack(cfgs, tasks=[small() for _ in cfgs],
                                  checkpoint_dir=checkpoint_dir, resume=resume)

    monkeypatch.setattr(lifelong, "run_experiments", fake_run_experiments)
    return calls


def smoke(**kw):
    return make_config("smoke", method="vanilla", batch_size=16, max_epochs=1, **kw)


def test_committed_results_hold_the_fingerprint_of_the_current_code():
    """The refactor direction: the fingerprint of the code that computed the committed results
    (commit 25231c6, stamped by scripts/rekey_results.py) equals today's, float for float."""
    current = lifelong_fingerprint()
    assert len(current) > 20 and all(math.isfinite(v) for v in current)
    assert len(COMMITTED) == 15
    for path in COMMITTED:
        stored = cache.read_json(path)["fingerprint"]
        assert cache.same_fingerprint(stored, current), path.name


@pytest.mark.parametrize("method", ["lifelong", "ewc", "vanilla"])
def test_committed_results_are_served_after_the_refactor(method, no_data):
    for seed in range(5):
        cfg = make_config("paper", experiment="fashion", method=method, seed=seed, visuals=8)
        result = cache.cached_run(cfg, compute=False)
        assert result["cache"] == "hit" and len(result["tasks"]) == 10
        assert result["config"]["seed"] == seed and result["config"]["method"] == method


def test_a_change_of_numbers_makes_stored_results_stale(counted_runs, monkeypatch):
    first = cache.cached_run(smoke())
    stored = first["fingerprint"]
    changed = [v * (1 + 1e-7) for v in stored]
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: changed)
    with pytest.warns(UserWarning, match="numerics fingerprint changed"):
        again = cache.cached_run(smoke())
    assert again["cache"] == "computed" and len(counted_runs) == 2
    assert again["fingerprint"] == changed


def test_a_refactor_that_keeps_the_numbers_keeps_stored_results(counted_runs, monkeypatch):
    first = cache.cached_run(smoke())
    rounding = [v * (1 + 1e-12) for v in first["fingerprint"]]  # same numbers up to rounding
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: rounding)
    assert cache.cached_run(smoke())["cache"] == "hit"
    assert len(counted_runs) == 1


def test_the_key_holds_no_code_version(no_data):
    stem = cache.result_key(smoke())
    assert cache.code_version() not in stem and stem.endswith(f"-{cache.NO_DATA}")


def test_an_entry_module_without_fingerprint_falls_back_to_its_source_hash():
    assert cache.entry_fingerprint("lgm.data.idx") == cache.code_version("lgm.data.idx")


def test_fingerprints_compare_within_rounding_of_their_scale():
    assert cache.same_fingerprint([500.0, 0.3], [500.0 * (1 + 5e-10), 0.3 + 1e-10])
    assert not cache.same_fingerprint([500.0, 0.3], [500.0, 0.3 + 1e-5])
    assert not cache.same_fingerprint([500.0, 0.3], [500.0 * (1 + 1e-8), 0.3])
    assert not cache.same_fingerprint([500.0], [500.0, 0.3])
    assert not cache.same_fingerprint([True], [1.0]) and not cache.same_fingerprint(None, [1.0])
    assert cache.same_fingerprint("abc", "abc") and not cache.same_fingerprint([1.0], "abc")


def test_cached_call_takes_the_fingerprint_of_its_entry_module(monkeypatch):
    seen = []
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: seen.append(entry) or [1.0])

    def compute(params):
        return {"provenance": {}}

    cache.cached_call("g", "n", {}, compute)
    cache.cached_call("g", "m", {}, compute, entry="lgm.experiments.kd_hm")
    assert seen == [__name__, "lgm.experiments.kd_hm"]
