"""Sequences of tasks (distributions) for the lifelong experiments of the paper.

Experiments (paper section 5 and appendix 7.5, 7.7):

- ``"fashion"`` (section 5.1): split Fashion-MNIST, one class per task, 10 tasks.
- ``"mnist"`` (appendix 7.7): split MNIST, one digit per task, 10 tasks.
- ``"permuted"`` (section 5.2): permuted MNIST, 5 tasks by default; task 0 is plain MNIST and
  task k > 0 applies one fixed pixel permutation to every image of the whole of MNIST.
- ``"svhn_mnist"`` (section 5.3): task 0 is SVHN, task 1 is MNIST resized to 32x32x3.
- ``"fashion_then_mnist"``: the same dataset-to-dataset transfer with the data at hand (task 0
  all of Fashion-MNIST, task 1 all of MNIST), the stand-in when SVHN is missing.
- ``"fashion_mnist20"`` (appendix 7.5): the 10 Fashion-MNIST classes, then the 10 MNIST digits.
  Its classes are numbered 0-9 (Fashion-MNIST class c) and 10-19 (MNIST digit c - 10).

Choices that the paper leaves open, made here:

- Validation data (for early stopping, section 5.1) is a seeded random ``val_fraction`` of each
  task's training images; the test images of each task are its part of the official test split.
  The split of a class depends only on ``(seed, dataset, class)``, not on the class order or the
  experiment, so e.g. Fashion-MNIST class 3 is split identically in "fashion" and
  "fashion_mnist20".
- Pixel permutations of "permuted" do not depend on ``seed``: permutation k is
  ``torch.randperm(H*W)`` under ``torch.Generator().manual_seed(PERMUTATION_SEED_BASE + k)``, so
  runs with different seeds (the paper's repetitions) see the same tasks and differ only in
  model initialisation, validation split and sampling.
- ``max_per_task`` (for quick presets) caps each task at ``max_per_task`` training images,
  ``max(1, round(max_per_task * val_fraction))`` validation images and ``max_per_task`` test
  images, each a seeded random subset of the full task's part (so train and val stay disjoint).
- ``binarize=True`` thresholds pixels at 0.5 (the reference binarised Fashion-MNIST).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from lgm.data.datasets import FASHION_CLASSES, load_uint8, locate_dataset, search_roots, to_float
from lgm.data.fingerprint import DataFingerprint, fingerprint_files, relative_path

EXPERIMENTS: tuple[str, ...] = (
    "fashion", "mnist", "permuted", "svhn_mnist", "fashion_mnist20", "fashion_then_mnist")
"""Names accepted by :func:`make_tasks`."""

PERMUTATION_SEED_BASE = 52_018
"""Permutation k of "permuted" is drawn with ``manual_seed(PERMUTATION_SEED_BASE + k)``."""

DEFAULT_PERMUTED_TASKS = 5

_DATASET_OF = {
    "fashion": "fashion",
    "mnist": "mnist",
    "permuted": "mnist",
    "svhn_mnist": "svhn+mnist32x3",
    "fashion_then_mnist": "fashion+mnist",
    "fashion_mnist20": "fashion+mnist",
}
_NUM_CLASSES = {"fashion": 10, "mnist": 10, "fashion_mnist20": 20}


@dataclass
class Task:
    """One distribution of the sequence; all tensors float32 ``[N, C, H, W]`` in [0, 1] (labels
    int64 ``[N]``, in the experiment's class numbering) on the sequence's device."""

    index: int
    name: str
    train: Tensor
    val: Tensor  # held-out part of the task's training data (for early stopping)
    test: Tensor  # this task's test images
    train_labels: Tensor | None = field(default=None, repr=False)
    val_labels: Tensor | None = field(default=None, repr=False)
    test_labels: Tensor | None = field(default=None, repr=False)


@dataclass
class TaskSequence:
    """The tasks of one experiment, in the order they are presented to the learner."""

    experiment: str
    dataset: str
    image_shape: tuple[int, int, int]
    tasks: list[Task]
    source: str  # human-readable: which files/data were used (for provenance)
    files: DataFingerprint | None = None  # the files read (None for in-memory data)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, t: int) -> Task:
        return self.tasks[t]

    def _upto(self, attr: str, t: int) -> Tensor:
        if not 0 <= t < len(self.tasks):
            raise IndexError(f"task index {t} out of range for {len(self.tasks)} tasks")
        return torch.cat([getattr(task, attr) for task in self.tasks[: t + 1]])

    def cumulative_test(self, t: int) -> Tensor:
        """Union of the test sets of tasks 0..t (the paper's growing test set, section 5.1)."""
        return self._upto("test", t)

    def train_upto(self, t: int) -> Tensor:
        """Union of the training sets of tasks 0..t (the "upto-vae" baseline)."""
        return self._upto("train", t)

    def val_upto(self, t: int) -> Tensor:
        """Union of the validation sets of tasks 0..t."""
        return self._upto("val", t)


@dataclass(frozen=True)
class _Config:
    val_fraction: float
    seed: int
    binarize: bool
    max_per_task: int | None
    device: torch.device


@dataclass(frozen=True)
class _Data:
    """uint8 train/test images and labels of one dataset, with the files they came from."""

    name: str
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    files: tuple[Path, ...]
    roots: tuple[Path, ...]  # the data roots searched (files are named relative to them)

    def describe(self) -> str:
        return f"{self.name}: " + ", ".join(relative_path(p, self.roots) for p in self.files)


def _load(name: str, root: str | os.PathLike | None, download: bool) -> _Data:
    train_x, train_y, train_files = load_uint8(name, root, split="train", download=download)
    test_x, test_y, test_files = load_uint8(name, root, split="test", download=download)
    return _Data(name, train_x, train_y, test_x, test_y, train_files + test_files,
                 tuple(search_roots(root)))


# ----------------------------------------------------------------------------- validation


def _check_args(
    experiment: str, val_fraction: float, max_per_task: int | None, class_order: object
) -> None:
    if experiment not in EXPERIMENTS:
        raise ValueError(
            f"unknown experiment {experiment!r}; known experiments: {', '.join(EXPERIMENTS)}"
        )
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    if max_per_task is not None and max_per_task < 1:
        raise ValueError(f"max_per_task must be at least 1, got {max_per_task}")
    if class_order is not None and experiment not in _NUM_CLASSES:
        raise ValueError(f"experiment {experiment!r} has no classes; class_order must be None")


def _class_order(order: Sequence[int] | None, num_classes: int) -> list[int]:
    if order is None:
        return list(range(num_classes))
    out = [int(c) for c in order]
    if not out or len(set(out)) != len(out) or any(not 0 <= c < num_classes for c in out):
        raise ValueError(
            f"class_order must list distinct classes from 0..{num_classes - 1}, got {list(order)}"
        )
    return out


def _num_tasks(num_tasks: int | None, default: int, available: int | None) -> int:
    if num_tasks is None:
        return default
    if num_tasks < 1 or (available is not None and num_tasks > available):
        limit = "" if available is None else f" and at most {available}"
        raise ValueError(f"num_tasks must be at least 1{limit}, got {num_tasks}")
    return int(num_tasks)


# ----------------------------------------------------------------------------- splitting


def _generator(seed: int, key: str) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def _split(idx: Tensor, val_fraction: float, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    n = len(idx)
    if n < 2:
        raise ValueError(f"a task needs at least 2 training images to hold some out, got {n}")
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    shuffled = idx[torch.randperm(n, generator=gen)]
    return shuffled[n_val:].sort().values, shuffled[:n_val].sort().values


def _cap(idx: Tensor, limit: int | None, gen: torch.Generator) -> Tensor:
    if limit is None or len(idx) <= limit:
        return idx
    return idx[torch.randperm(len(idx), generator=gen)[:limit]].sort().values


def pixel_permutation(k: int, num_pixels: int = 28 * 28) -> Tensor:
    """Pixel permutation of task k of "permuted" (identity for k = 0; seed-independent)."""
    if k == 0:
        return torch.arange(num_pixels)
    gen = torch.Generator().manual_seed(PERMUTATION_SEED_BASE + k)
    return torch.randperm(num_pixels, generator=gen)


def _permute(perm: Tensor) -> Callable[[Tensor], Tensor]:
    return lambda x: x.flatten(1).index_select(1, perm.to(x.device)).reshape(x.shape)


# ----------------------------------------------------------------------------- building


def _build_task(
    index: int,
    name: str,
    key: str,
    data: _Data,
    train_idx: Tensor,
    test_idx: Tensor,
    cfg: _Config,
    transform: Callable[[Tensor], Tensor] | None = None,
    label_offset: int = 0,
) -> Task:
    gen = _generator(cfg.seed, key)
    train_idx, val_idx = _split(train_idx, cfg.val_fraction, gen)
    if cfg.max_per_task is not None:
        train_idx = _cap(train_idx, cfg.max_per_task, gen)
        val_idx = _cap(val_idx, max(1, round(cfg.max_per_task * cfg.val_fraction)), gen)
        test_idx = _cap(test_idx, cfg.max_per_task, gen)

    def images(x: Tensor, idx: Tensor) -> Tensor:  # uint8 goes to the device, then float
        out = to_float(data.name, x[idx].to(cfg.device), transform)
        return (out > 0.5).to(torch.float32) if cfg.binarize else out

    def labels(y: Tensor, idx: Tensor) -> Tensor:
        return (y[idx] + label_offset).to(cfg.device)

    return Task(
        index=index,
        name=name,
        train=images(data.train_x, train_idx),
        val=images(data.train_x, val_idx),
        test=images(data.test_x, test_idx),
        train_labels=labels(data.train_y, train_idx),
        val_labels=labels(data.train_y, val_idx),
        test_labels=labels(data.test_y, test_idx),
    )


def _class_task(index: int, data: _Data, cls: int, offset: int, name: str, cfg: _Config) -> Task:
    train_idx = torch.nonzero(data.train_y == cls).flatten()
    test_idx = torch.nonzero(data.test_y == cls).flatten()
    return _build_task(
        index, name, f"{data.name}:{cls}", data, train_idx, test_idx, cfg, label_offset=offset
    )


def _class_name(dataset: str, cls: int) -> str:
    return FASHION_CLASSES[cls] if dataset == "fashion" else f"digit {cls}"


def _class_tasks(
    experiment: str,
    order: list[int],
    root: str | os.PathLike | None,
    download: bool,
    cfg: _Config,
) -> tuple[list[Task], list[_Data]]:
    """One task per class; classes >= 10 of "fashion_mnist20" are MNIST digits."""
    first = "mnist" if experiment == "mnist" else "fashion"
    names = [first if c < 10 else "mnist" for c in order]
    loaded = {n: _load(n, root, download) for n in dict.fromkeys(names)}
    tasks = []
    for i, (c, n) in enumerate(zip(order, names, strict=True)):
        offset = 10 if c >= 10 else 0
        name = _class_name(n, c - offset)
        if experiment == "fashion_mnist20":
            name = f"{n}/{name}"
        tasks.append(_class_task(i, loaded[n], c - offset, offset, name, cfg))
    return tasks, list(loaded.values())


def _permuted_tasks(
    num_tasks: int, root: str | os.PathLike | None, download: bool, cfg: _Config
) -> tuple[list[Task], list[_Data]]:
    data = _load("mnist", root, download)
    train_idx, test_idx = torch.arange(len(data.train_y)), torch.arange(len(data.test_y))
    num_pixels = data.train_x[0].numel()
    tasks = []
    for k in range(num_tasks):
        name = "mnist (unpermuted)" if k == 0 else f"mnist permutation {k}"
        transform = None if k == 0 else _permute(pixel_permutation(k, num_pixels))
        tasks.append(
            _build_task(k, name, f"permuted:{k}", data, train_idx, test_idx, cfg, transform)
        )
    return tasks, [data]


_DATASET_SEQUENCES = {"svhn_mnist": ("svhn", "mnist32x3"),
                      "fashion_then_mnist": ("fashion", "mnist")}


def _dataset_tasks(
    experiment: str, num_tasks: int, root: str | os.PathLike | None, download: bool,
    cfg: _Config,
) -> tuple[list[Task], list[_Data]]:
    """One whole dataset per task (section 5.3 and its stand-in at hand)."""
    names = _DATASET_SEQUENCES[experiment][:num_tasks]
    loaded = [_load(n, root, download) for n in names]
    tasks = [
        _build_task(
            i, d.name, d.name, d, torch.arange(len(d.train_y)), torch.arange(len(d.test_y)), cfg
        )
        for i, d in enumerate(loaded)
    ]
    return tasks, loaded


def make_tasks(
    experiment: str,
    *,
    root: str | os.PathLike | None = None,
    num_tasks: int | None = None,
    class_order: Sequence[int] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    binarize: bool = False,
    max_per_task: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
) -> TaskSequence:
    """Build the task sequence of ``experiment`` (one of :data:`EXPERIMENTS`).

    ``num_tasks`` truncates the sequence (default: all tasks; 5 for "permuted", which has no
    upper limit). ``class_order`` (class experiments only) picks and orders the classes.
    See the module docstring for how validation data, ``max_per_task`` and the permutations are
    drawn. All tensors are put on ``device`` once.
    """
    _check_args(experiment, val_fraction, max_per_task, class_order)
    cfg = _Config(val_fraction, seed, binarize, max_per_task, torch.device(device))
    if experiment in _NUM_CLASSES:
        order = _class_order(class_order, _NUM_CLASSES[experiment])
        order = order[: _num_tasks(num_tasks, len(order), len(order))]
        tasks, used = _class_tasks(experiment, order, root, download, cfg)
    elif experiment == "permuted":
        n = _num_tasks(num_tasks, DEFAULT_PERMUTED_TASKS, None)
        tasks, used = _permuted_tasks(n, root, download, cfg)
    else:
        tasks, used = _dataset_tasks(experiment, _num_tasks(num_tasks, 2, 2), root, download,
                                     cfg)
    shape = tuple(tasks[0].train.shape[1:])
    source = _describe(experiment, len(tasks), cfg, used)
    files = fingerprint_files([p for d in used for p in d.files], search_roots(root))
    return TaskSequence(experiment, _DATASET_OF[experiment], shape, tasks, source, files)


def experiment_datasets(experiment: str, *, num_tasks: int | None = None,
                        class_order: Sequence[int] | None = None) -> tuple[str, ...]:
    """The datasets :func:`make_tasks` reads for these arguments, in the order it reads them."""
    _check_args(experiment, 0.5, None, class_order)
    if experiment in _NUM_CLASSES:
        order = _class_order(class_order, _NUM_CLASSES[experiment])
        order = order[: _num_tasks(num_tasks, len(order), len(order))]
        first = "mnist" if experiment == "mnist" else "fashion"
        return tuple(dict.fromkeys(first if c < 10 else "mnist" for c in order))
    if experiment == "permuted":
        return ("mnist",)
    return _DATASET_SEQUENCES[experiment][: _num_tasks(num_tasks, 2, 2)]


def experiment_fingerprint(experiment: str, root: str | os.PathLike | None = None, *,
                           num_tasks: int | None = None,
                           class_order: Sequence[int] | None = None) -> DataFingerprint:
    """Sizes and sha256 of the files :func:`make_tasks` would read (train then test split of
    each dataset), with their paths relative to the data root, without decoding them.

    Raises :class:`~lgm.data.idx.DataNotFoundError` (listing every path looked for) when a
    file is missing. Hashes are computed once per file (:mod:`lgm.data.fingerprint`).
    """
    paths = [p for name in experiment_datasets(experiment, num_tasks=num_tasks,
                                               class_order=class_order)
             for split in ("train", "test") for p in locate_dataset(name, root, split=split)]
    return fingerprint_files(paths, search_roots(root))


def _describe(experiment: str, n: int, cfg: _Config, used: list[_Data]) -> str:
    settings = (
        f"experiment={experiment} tasks={n} seed={cfg.seed} val_fraction={cfg.val_fraction} "
        f"binarize={cfg.binarize} max_per_task={cfg.max_per_task}"
    )
    return "; ".join([settings] + [d.describe() for d in used])


__all__ = [
    "DEFAULT_PERMUTED_TASKS",
    "EXPERIMENTS",
    "PERMUTATION_SEED_BASE",
    "Task",
    "TaskSequence",
    "experiment_datasets",
    "experiment_fingerprint",
    "make_tasks",
    "pixel_permutation",
]
