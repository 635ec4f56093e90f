"""Shared fixtures: tiny task sequences built in memory (no network, no ../shared)."""

from __future__ import annotations

import os

import pytest
import torch

from lgm.data.tasks import Task, TaskSequence
from lgm.device import cpu_threads

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
