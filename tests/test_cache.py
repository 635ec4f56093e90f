"""The result cache: same key -> stored result; new key or corrupt entry -> recompute."""

from __future__ import annotations

import pytest

import lgm.experiments.lifelong as methods
from lgm.experiments import cache, make_config
from tests.conftest import tiny_sequence


@pytest.fixture(autouse=True)
def _no_data(tmp_path, monkeypatch):
    """A data root without files: these tests never read the real data."""
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "no-data"))


@pytest.fixture
def counted_runs(monkeypatch):
    """Route run_experiments to tiny in-memory data and count the trainings (one per stack)."""
    calls = []

    def fake_run_experiments(cfgs, *, resume=True, checkpoint_dir=None):
        calls.append([c.key() for c in cfgs])
        return methods.run_stack(cfgs, tasks=[tiny_sequence(2) for _ in cfgs],
                                 checkpoint_dir=checkpoint_dir, resume=resume)

    monkeypatch.setattr(methods, "run_experiments", fake_run_experiments)
    return calls


def cfg(**kw):
    return make_config("smoke", method="vanilla", batch_size=16, **kw)


def test_same_key_is_computed_once(counted_runs):
    first = cache.cached_run(cfg())
    second = cache.cached_run(cfg())
    assert first["cache"] == "computed" and second["cache"] == "hit"
    assert len(counted_runs) == 1
    assert second["tasks"] == first["tasks"]
    assert second["fingerprint"] == cache.entry_fingerprint(cache.LIFELONG_ENTRY)


def test_new_key_recomputes_and_compute_false_refuses(counted_runs):
    cache.cached_run(cfg())
    cache.cached_run(cfg(info_gain_weight=0.5))
    assert len(counted_runs) == 2
    with pytest.raises(LookupError, match="no cached result"):
        cache.cached_run(cfg(seed=3), compute=False)


def test_corrupt_entry_is_reported_and_recomputed(counted_runs):
    cache.cached_run(cfg())
    path = cache.result_paths(cfg())[1]
    path.write_text("{ half a file")
    with pytest.warns(UserWarning, match="corrupt"):
        again = cache.cached_run(cfg())
    assert again["cache"] == "computed" and len(counted_runs) == 2


def test_committed_results_are_found_first(counted_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "COMMITTED_RESULTS", tmp_path / "committed")
    result = cache.cached_run(cfg())
    committed = cache.result_paths(cfg())[0]
    cache.save_result(committed, {**result, "tasks": [{"marker": 1}]})
    assert cache.cached_run(cfg())["tasks"] == [{"marker": 1}]


def test_code_version_ignores_docstrings_and_comments():
    src = 'def f(x):\n    """Doc\n    on two lines."""\n\n    return x + 1  # one more\n'
    bare = "def f(x):\n    return x + 1\n"
    changed = "def f(x):\n    return x + 2\n"
    text = [cache.normalised_source(s) for s in (src, bare, changed)]
    assert text[0] == text[1] != text[2]
    assert cache.normalised_source('s = "# not a comment"  # a comment') == 's = "# not a comment"'
    assert len(cache.code_version()) == 12


def test_images_round_trip_through_the_npz_sidecar(counted_runs):
    cfg_v = make_config("smoke", method="lifelong", batch_size=16, visuals=3, continuous=2)
    first = cache.cached_run(cfg_v)
    arrays = first["arrays"]
    assert arrays["samples_task0"].shape == (1, 3, 1, 28, 28)
    assert arrays["samples_task1"].shape == (2, 3, 1, 28, 28)
    assert arrays["reconstructions"].shape == (2, 2, 3, 1, 28, 28)
    assert arrays["interpolation"].shape == (2, 10, 10, 1, 28, 28)
    again = cache.cached_run(cfg_v)
    assert again["cache"] == "hit" and set(again["arrays"]) == set(arrays)
    assert (again["arrays"]["interpolation"] == arrays["interpolation"]).all()
    cache.result_paths(cfg_v)[1].with_suffix(".npz").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt"):
        assert cache.cached_run(cfg_v)["cache"] == "computed"


def test_seeds_missing_from_the_cache_train_as_one_stack(counted_runs):
    cache.cached_run(cfg(seed=1))
    results = cache.cached_runs([cfg(seed=0), cfg(seed=1), cfg(seed=2), cfg(seed=0, lr=2e-3)])
    assert [r["cache"] for r in results] == ["computed", "hit", "computed", "computed"]
    assert [len(c) for c in counted_runs] == [1, 2, 1]  # seed 1 alone; seeds 0+2; other lr
    assert [r["config"]["seed"] for r in results] == [0, 1, 2, 0]
    again = cache.cached_runs([cfg(seed=2), cfg(seed=0)])
    assert [r["cache"] for r in again] == ["hit", "hit"]
    assert again[1]["tasks"] == results[0]["tasks"]


def test_code_version_follows_imports_only():
    modules = cache.code_modules()
    assert "lgm.training.loop" in modules and "lgm.models.stacked" in modules
    assert not any("distillation" in m or "semi_auxiliary" in m for m in modules)
