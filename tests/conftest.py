"""Shared fixtures: tiny task sequences built in memory (no network, no ../shared)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
import torch

from lgm.data.tasks import Task, TaskSequence
from lgm.device import cpu_threads

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (a fresh one each call), for the tests of the scripts."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

os.environ.setdefault("LGM_PROGRESS", "0")


def block_images(n: int, task: int, generator: torch.Generator, size: int = 28) -> torch.Tensor:
    """Binary 1 x size x size images: a bright horizontal band whose row depends on the task."""
    x = (torch.rand(n, 1, size, size, generator=generator) < 0.05).float()
    row = 4 + 6 * task
    x[:, :, row:row + 5, 4:24] = 1.0
    return x


def tiny_sequence(num_tasks: int = 3, n_train: int = 64, n_val: int = 16, n_test: int = 32,
                  seed: int = 0) -> TaskSequence:
    """A class-split-like sequence of band images, labels = task index."""
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for t in range(num_tasks):
        parts = [block_images(n, t, g) for n in (n_train, n_val, n_test)]
        labels = [torch.full((len(p),), t, dtype=torch.long) for p in parts]
        tasks.append(Task(t, f"band{t}", *parts, *labels))
    return TaskSequence("fashion", "synthetic bands", (1, 28, 28), tasks, "in-memory test data")


@pytest.fixture
def tiny_tasks() -> TaskSequence:
    return tiny_sequence()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test writes its caches under its own tmp_path."""
    monkeypatch.setenv("LGM_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Tiny models (RNN steps, small MLPs) run far faster on one torch thread."""
    with cpu_threads(1):
        yield


def write_mnist_family(root, per_class: int = 24, test_per_class: int = 12) -> None:
    """Tiny MNIST and Fashion-MNIST in torchvision's ``<Name>/raw/*.gz`` layout: class c's
    images are noise plus a band at a row that depends on c (so models have something to learn)."""
    import numpy as np

    from lgm.data.idx import write_idx

    rng = np.random.default_rng(0)
    for name in ("MNIST", "FashionMNIST"):
        for prefix, n in (("train", per_class), ("t10k", test_per_class)):
            labels = np.repeat(np.arange(10, dtype=np.uint8), n)
            images = (rng.random((len(labels), 28, 28)) < 0.05).astype(np.uint8) * 255
            for i, c in enumerate(labels):
                images[i, 2 + 2 * c: 5 + 2 * c, 4:24] = 255
            write_idx(root / name / "raw" / f"{prefix}-images-idx3-ubyte.gz", images)
            write_idx(root / name / "raw" / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.fixture(scope="session")
def fake_data_root(tmp_path_factory):
    """A data root with tiny MNIST and Fashion-MNIST (no network, no ../shared)."""
    root = tmp_path_factory.mktemp("data")
    write_mnist_family(root)
    return root
