"""Nothing wrong is ever cached or served (strict results, entries checked against
their key, the data's fingerprint in the key)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import lgm.data.fingerprint as data_fp
import lgm.experiments.lifelong as lifelong
from lgm.data import write_idx
from lgm.errors import DivergedError
from lgm.experiments import cache, make_config
from tests.conftest import tiny_sequence


def small():
    """Two tasks of 32 band images (a quick in-memory run)."""
    return tiny_sequence(2, n_train=32, n_val=8, n_test=16)

FINGERPRINT = [1.0, 2.0, 3.0]


@pytest.fixture(autouse=True)
def _fixed_fingerprint(monkeypatch):
    """These tests are about the store, not the numerics: a constant fingerprint."""
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: list(FINGERPRINT))


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """Tiny Fashion-MNIST IDX files (10 classes) under a data root set by LGM_DATA."""
    root = tmp_path / "data"
    folder = root / "FashionMNIST" / "raw"
    g = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  g.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)
    monkeypatch.setenv("LGM_DATA", str(root))
    return root


@pytest.fixture
def runs(monkeypatch):
    """run_experiments on tiny in-memory data; each call's seeds are recorded. A test may set
    ``runs.poison`` to put a value into every result's first task."""
    calls: list[list[int]] = []

    def fake(cfgs, *, resume=True, checkpoint_dir=None):
        calls.append([c.seed for c in cfgs])
        results = lifelong.run_stack(cfgs, tasks=[small() for _ in cfgs],
                                     checkpoint_dir=checkpoint_dir, resume=resume)
        for r in results:
            r["tasks"][0].update(getattr(fake, "poison", {}))
        return results

    monkeypatch.setattr(lifelong, "run_experiments", fake)
    fake.calls = calls
    return fake


def cfg(**kw):
    return make_config("smoke", method="vanilla", batch_size=16, max_epochs=1, **kw)


def local_files() -> list[Path]:
    folder = cache.cache_root() / "results"
    return sorted(folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ 1. strict results


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 5e400])
def test_a_diverged_result_is_never_stored(runs, data_root, bad):
    runs.poison = {"neg_elbo": bad}
    with pytest.raises(DivergedError, match=r"tasks\[0\]\.neg_elbo is"):
        cache.cached_run(cfg())
    assert local_files() == []  # neither a result nor a temporary file


def test_non_finite_numpy_and_nested_values_are_named():
    with pytest.raises(DivergedError, match=r"a\.b\[1\] is nan"):
        cache.strict_json({"a": {"b": [1.0, np.float64("nan")]}}, "x")
    assert json.loads(cache.strict_json({"a": np.float32(0.5)}, "x")) == {"a": 0.5}


def test_a_stored_file_with_infinity_is_corrupt_not_served(runs, data_root):
    cache.cached_run(cfg())
    path = cache.result_paths(cfg())[1]
    path.write_text(path.read_text().replace('"neg_elbo": ', '"neg_elbo": Infinity, "x": ', 1))
    with pytest.warns(UserWarning, match="corrupt.*Infinity"):
        assert cache.cached_run(cfg())["cache"] == "computed"
    path.write_text(path.read_text().replace('"neg_elbo": ', '"neg_elbo": 1e999, "x": ', 1))
    with pytest.warns(UserWarning, match="corrupt.*1e999"):
        assert cache.cached_run(cfg())["cache"] == "computed"


# ------------------------------------------------------------------ 2. entries match their key


def test_a_result_copied_under_another_keys_name_is_rejected(runs, data_root):
    a, b = cfg(), cfg(info_gain_weight=0.5)
    cache.cached_run(a)
    shutil.copy(cache.result_paths(a)[1], cache.result_paths(b)[1])
    with pytest.warns(UserWarning, match="another configuration"):
        result = cache.cached_run(b)
    assert result["cache"] == "computed" and len(runs.calls) == 2
    assert result["config"]["info_gain_weight"] == 0.5
    assert cache.cached_run(b)["cache"] == "hit"


def test_a_committed_copy_under_another_name_is_rejected(runs, data_root, tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(cache, "COMMITTED_RESULTS", tmp_path / "committed")
    a, b = cfg(), cfg(seed=1)
    result = cache.cached_run(a)
    cache.save_result(cache.result_paths(b)[0], result)  # a's result under b's name
    with pytest.warns(UserWarning, match="another configuration"):
        assert cache.cached_run(b)["config"]["seed"] == 1


def test_results_of_other_data_are_not_served(runs, data_root):
    first = cache.cached_run(cfg())
    assert first["data_fingerprint"]["files"][1] == {
        "path": "FashionMNIST/raw/train-labels-idx1-ubyte", "size": 48,
        "sha256": first["data_fingerprint"]["files"][1]["sha256"]}
    labels = data_root / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(labels, (np.arange(40, dtype=np.uint8) + 1) % 10)  # corrupted labels
    again = cache.cached_run(cfg())
    assert again["cache"] == "computed" and len(runs.calls) == 2
    assert again["data_fingerprint"]["digest"] != first["data_fingerprint"]["digest"]
    assert len([p for p in local_files() if p.suffix == ".json"]) == 2  # both kept


def test_the_data_fingerprint_names_files_relative_to_the_root(data_root):
    fp = cache.data_fingerprint(cfg())
    assert [f.path for f in fp.files] == [
        "FashionMNIST/raw/train-images-idx3-ubyte", "FashionMNIST/raw/train-labels-idx1-ubyte",
        "FashionMNIST/raw/t10k-images-idx3-ubyte", "FashionMNIST/raw/t10k-labels-idx1-ubyte"]
    assert str(data_root) not in json.dumps(fp.to_dict())
    assert cache.result_key(cfg()).endswith(fp.digest[:12])


def test_each_data_file_is_hashed_once(data_root, monkeypatch):
    files = sorted((data_root / "FashionMNIST" / "raw").iterdir())
    data_fp.clear_memo()
    first = [data_fp.file_sha256(f) for f in files]

    def no_hashing(*args):
        raise AssertionError("hashed again")

    monkeypatch.setattr(data_fp.hashlib, "sha256", no_hashing)
    assert [data_fp.file_sha256(f) for f in files] == first  # memory
    data_fp.clear_memo()
    assert [data_fp.file_sha256(f) for f in files] == first  # the on-disk memo
    monkeypatch.undo()
    write_idx(files[0], np.zeros((3, 28, 28), dtype=np.uint8))  # a changed file: hashed again
    assert data_fp.file_sha256(files[0]) != first[0]


def test_without_the_data_a_stored_result_is_served_with_a_warning(runs, data_root,
                                                                  monkeypatch):
    result = cache.cached_run(cfg())
    monkeypatch.setenv("LGM_DATA", str(data_root.parent / "elsewhere"))
    with pytest.warns(UserWarning, match="not at hand"):
        served = cache.cached_run(cfg(), compute=False)
    assert served["tasks"] == result["tasks"]


# ------------------------------------------------------------------ cached_call


def square(params):
    return {"value": params["x"] ** 2, "provenance": {"by": "test"}}


def test_cached_call_checks_params_and_recorded_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "data"))
    data = tmp_path / "data" / "toy.bin"
    data.parent.mkdir()
    data.write_bytes(b"abc")

    def read_toy(params):
        fp = data_fp.fingerprint_files([data], [tmp_path / "data"])
        return {**square(params), "data_fingerprint": fp.to_dict()}

    read_toy.__module__ = __name__
    assert cache.cached_call("toy", "sq", {"x": 3}, read_toy)["cache"] == "computed"
    assert cache.cached_call("toy", "sq", {"x": 3}, read_toy)["cache"] == "hit"
    shutil.copy(cache.call_paths("toy", "sq", {"x": 3})[1],
                cache.call_paths("toy", "sq", {"x": 4})[1])
    with pytest.warns(UserWarning, match="another configuration"):
        assert cache.cached_call("toy", "sq", {"x": 4}, read_toy)["value"] == 16
    data.write_bytes(b"abd")
    with pytest.warns(UserWarning, match="data files changed"):
        assert cache.cached_call("toy", "sq", {"x": 3}, read_toy)["cache"] == "computed"
    stored = json.loads(cache.call_paths("toy", "sq", {"x": 3})[1].read_text())
    assert stored["data_fingerprint"]["files"][0]["path"] == "toy.bin"
    assert stored["fingerprint"] == FINGERPRINT and "code_version" not in stored


def test_the_cache_hands_each_stack_its_checkpoint_folder(runs, data_root):
    cache.cached_runs([cfg(seed=0), cfg(seed=1)])
    folders = sorted(p.name for p in (cache.cache_root() / "ckpt").iterdir())
    assert len(folders) == 1 and "-stack2-" in folders[0]
    assert (cache.cache_root() / "ckpt" / folders[0] / "last.pt").is_file()


def test_a_config_asked_for_twice_is_computed_once(runs, data_root):
    results = cache.cached_runs([cfg(), cfg(), cfg(seed=1)])
    assert [r["config"]["seed"] for r in results] == [0, 0, 1] and runs.calls == [[0, 1]]


def test_lookup_finds_the_data_fingerprint_itself(runs, data_root):
    cache.cached_run(cfg())
    assert cache.lookup(cfg())["config"]["seed"] == 0
    assert cache.lookup(cfg(), cache.data_fingerprint(cfg())) is not None
