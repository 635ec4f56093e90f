"""The data root rule, the missing-data message, relative data paths, and the data
files a computation reads recorded and checked by the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lgm.data.datasets as datasets_mod
from lgm.data import DataNotFoundError, load_dataset, locate_dataset, make_tasks, write_idx
from lgm.data.fingerprint import fingerprint_reads, recording_reads
from lgm.data.tasks import experiment_datasets, experiment_fingerprint
from lgm.experiments import cache


def write_mnist(root: Path, shift: int = 0) -> Path:
    """Tiny MNIST IDX files (10 classes) under ``root/MNIST/raw``."""
    folder = root / "MNIST" / "raw"
    g = np.random.default_rng(1)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  g.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte",
                  (np.arange(n, dtype=np.uint8) + shift) % 10)
    return folder


def test_with_lgm_data_set_only_it_is_searched(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    monkeypatch.setattr(datasets_mod, "DEBIAN_FASHION_DIR", debian)
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "mine"))
    with pytest.raises(DataNotFoundError) as info:
        locate_dataset("fashion")
    assert info.value.searched and all(
        p.is_relative_to(tmp_path / "mine") for p in info.value.searched)


def test_the_missing_data_message_names_every_file_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "mine"))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("fashion", split="test")
    message = str(info.value)
    for path in info.value.searched:
        assert f"  {path}\n" in message
    assert "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte" in message
    assert "LGM_DATA=<root>" in message and "FashionMNIST/raw" in message
    assert "download=True" not in message  # the command line has no such flag


def test_the_files_an_experiment_reads_relative_to_the_root(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data")
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "data"))
    fp = experiment_fingerprint("mnist")
    assert [f.path for f in fp.files] == [
        "MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte",
        "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"]
    seq = make_tasks("mnist", num_tasks=2)
    assert seq.files == fp and str(tmp_path) not in seq.source
    assert experiment_datasets("fashion_mnist20", class_order=[12, 3]) == ("mnist", "fashion")
    assert experiment_datasets("svhn_mnist", num_tasks=1) == ("svhn",)


def test_the_digest_does_not_depend_on_where_the_data_is(tmp_path, monkeypatch):
    write_mnist(tmp_path / "a")
    write_mnist(tmp_path / "b")
    digests = [experiment_fingerprint("permuted", tmp_path / r).digest for r in "ab"]
    assert digests[0] == digests[1]
    write_mnist(tmp_path / "b", shift=1)  # other labels, other data
    assert experiment_fingerprint("permuted", tmp_path / "b").digest != digests[0]


def test_reads_are_recorded(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data")
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "data"))
    with recording_reads() as reads:
        load_dataset("mnist", split="test")
        load_dataset("mnist", split="test")  # the decoded copy is cached; still one file each
    fp = fingerprint_reads(reads)
    assert [f.path for f in fp.files] == ["MNIST/raw/t10k-images-idx3-ubyte",
                                          "MNIST/raw/t10k-labels-idx1-ubyte"]
    assert fingerprint_reads([]) is None


def mnist_mean(params):
    x, y = load_dataset("mnist", split="test")
    return {"mean_label": float(y.double().mean()), "provenance": {}}


def test_cached_call_records_the_data_it_read_and_sees_it_change(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: [1.0])
    write_mnist(tmp_path / "data")
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "data"))
    cache.cached_call("toy", "mean", {"n": 1}, mnist_mean)
    stored = json.loads(cache.call_paths("toy", "mean", {"n": 1})[1].read_text())
    assert [f["path"] for f in stored["data_fingerprint"]["files"]] == [
        "MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"]
    assert cache.cached_call("toy", "mean", {"n": 1}, mnist_mean)["cache"] == "hit"
    write_mnist(tmp_path / "data", shift=3)  # corrupted labels
    with pytest.warns(UserWarning, match="data files changed"):
        again = cache.cached_call("toy", "mean", {"n": 1}, mnist_mean)
    assert again["cache"] == "computed"
    assert again["data_fingerprint"]["digest"] != stored["data_fingerprint"]["digest"]


def test_nested_recorders_each_see_the_reads_inside_them(tmp_path, monkeypatch):
    write_mnist(tmp_path / "data")
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "data"))
    with recording_reads() as outer:
        with recording_reads() as inner:  # equal (empty) lists: removed by identity
            pass
        with recording_reads() as inner:
            load_dataset("mnist", split="test")
    assert len(inner) == 2 and len(outer) == 2
