"""Tests of the data layer on tiny files written here (no network, no shared data)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

import lgm.data.datasets as datasets_mod
from lgm.data import (
    DATASETS,
    EXPERIMENTS,
    DataNotFoundError,
    IdxFormatError,
    data_roots,
    load_dataset,
    make_tasks,
    pixel_permutation,
    read_idx,
    write_idx,
)

N_TRAIN_PER_CLASS = 20
N_TEST_PER_CLASS = 4


# ----------------------------------------------------------------------------- fixtures


def _fake_images(n: int, rng: np.random.Generator, offset: int = 0) -> np.ndarray:
    """Random uint8 [n, 28, 28] images whose first two pixels encode a unique id."""
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    ids = np.arange(offset, offset + n)
    images[:, 0, 0], images[:, 0, 1] = ids % 256, ids // 256
    return images


def _image_ids(x: torch.Tensor) -> set[int]:
    pixels = (x[:, 0, 0, :2] * 255).round().long()
    return set((pixels[:, 0] + 256 * pixels[:, 1]).tolist())


def _write_idx_dataset(folder: Path, seed: int, gz: bool) -> None:
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    for prefix, per_class, offset in (
        ("train", N_TRAIN_PER_CLASS, 0),
        ("t10k", N_TEST_PER_CLASS, 10_000),
    ):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        rng.shuffle(labels)
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte{suffix}", _fake_images(len(labels), rng, offset)
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST gz in torchvision's raw/ layout; FashionMNIST uncompressed, flat."""
    base = tmp_path_factory.mktemp("data")
    _write_idx_dataset(base / "MNIST" / "raw", seed=1, gz=True)
    _write_idx_dataset(base / "FashionMNIST", seed=2, gz=False)
    return base


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    floats = rng.standard_normal((3, 4)).astype(np.float32)
    for name, arr in (("images", images), ("labels", labels), ("floats", floats)):
        path = write_idx(tmp_path / f"{name}-idx{suffix}", arr)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
        back = read_idx(path)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)
        assert back.flags.writeable


def test_idx_header_is_big_endian(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.zeros((2, 3, 4), np.uint8))
    assert path.read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])


def test_corrupt_idx_files_name_the_file(tmp_path: Path) -> None:
    good = write_idx(tmp_path / "good", np.zeros((4, 28, 28), np.uint8)).read_bytes()
    cases = {
        "truncated": good[:-10],
        "trailing": good + b"\0",
        "badmagic": b"\1\2\3\4" + good[4:],
        "tiny": b"\0\0",
    }
    cases["truncated.gz"] = gzip.compress(good)[:-20]
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(IdxFormatError, match=str(path)):
            read_idx(path)
    with pytest.raises(IdxFormatError, match="dimensions"):
        read_idx(tmp_path / "good", expected_ndim=1)


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(IdxFormatError, match="3 images"):
        load_dataset("mnist", tmp_path, split="test")


# ----------------------------------------------------------------------------- lookup


def test_missing_data_lists_every_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", empty)
    assert isinstance(info.value, FileNotFoundError)
    expected = [
        empty / folder / f"{name}{ext}"
        for folder in ("MNIST/raw", "MNIST")
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
        for ext in ("", ".gz")
    ]
    assert info.value.searched == expected
    message = str(info.value)
    listed = [line.strip() for line in message.splitlines() if line.startswith(f"  {empty}")]
    assert listed == [str(p) for p in expected]
    assert "LGM_DATA" in message and "download=True" not in message  # the CLI has no such flag


def test_missing_fashion_mentions_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    debian = tmp_path / "debian"
    monkeypatch.setattr(datasets_mod, "DEBIAN_FASHION_DIR", debian)
    monkeypatch.delenv("LGM_DATA", raising=False)  # Debian's folder: only without a chosen root
    monkeypatch.setattr(datasets_mod, "data_roots", lambda root=None: [tmp_path / "empty"])
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("fashion", split="test")
    assert debian / "t10k-images-idx3-ubyte.gz" in info.value.searched
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_debian_fashion_dir_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    debian = tmp_path / "debian"
    _write_idx_dataset(debian, seed=3, gz=True)
    monkeypatch.setattr(datasets_mod, "DEBIAN_FASHION_DIR", debian)
    monkeypatch.delenv("LGM_DATA", raising=False)  # Debian's folder: only without a chosen root
    monkeypatch.setattr(datasets_mod, "data_roots", lambda root=None: [tmp_path / "empty"])
    x, y = load_dataset("fashion", split="test")
    assert x.shape == (10 * N_TEST_PER_CLASS, 1, 28, 28) and len(y) == len(x)


def test_failed_download_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object) -> None:
        raise OSError("no network")

    monkeypatch.setattr(datasets_mod, "_torchvision_download", offline)
    with pytest.raises(DataNotFoundError, match="no network"):
        load_dataset("mnist", tmp_path, download=True)


def test_env_var_is_honoured(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGM_DATA", str(root))
    assert data_roots() == [root]
    x, _ = load_dataset("mnist", split="test")
    assert len(x) == 10 * N_TEST_PER_CLASS
    assert data_roots("/elsewhere") == [Path("/elsewhere")]


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="mnist32x3"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="train"):
        load_dataset("mnist", split="valid")
    with pytest.raises(ValueError, match="fashion_mnist20"):
        make_tasks("cifar")
    assert set(DATASETS) == {"mnist", "fashion", "svhn", "mnist32x3"}


# ----------------------------------------------------------------------------- datasets


def test_load_dataset_values_and_cache(root: Path) -> None:
    x, y = load_dataset("fashion", root)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape == (10 * N_TRAIN_PER_CLASS, 1, 28, 28)
    raw = read_idx(root / "FashionMNIST" / "train-images-idx3-ubyte")
    assert torch.equal(x[:, 0], torch.from_numpy(raw).float() / 255)
    x.zero_()
    y.zero_()  # callers may modify what they get without corrupting the cache
    x2, y2 = load_dataset("fashion", root)
    assert torch.equal(x2[:, 0], torch.from_numpy(raw).float() / 255)
    assert y2.unique().tolist() == list(range(10))


def test_mnist32x3(root: Path) -> None:
    x, y = load_dataset("mnist32x3", root, split="test")
    assert x.shape == (10 * N_TEST_PER_CLASS, 3, 32, 32) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    _, y28 = load_dataset("mnist", root, split="test")
    assert torch.equal(y, y28)


def _write_fake_svhn(folder: Path, n: int, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    savemat = pytest.importorskip("scipy.io").savemat
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)  # 10 means digit 0
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / name, {"X": x, "y": y})
    return x, y


def test_svhn_fake_mat(tmp_path: Path) -> None:
    x_mat, y_mat = _write_fake_svhn(tmp_path / "SVHN", 7, 0, "test_32x32.mat")
    x, y = load_dataset("svhn", tmp_path, split="test")
    assert x.shape == (7, 3, 32, 32) and y.dtype == torch.int64
    expected = torch.from_numpy(np.transpose(x_mat, (3, 2, 0, 1)).copy()).float() / 255
    assert torch.equal(x, expected)
    assert torch.equal(y, torch.from_numpy(y_mat[:, 0].astype(np.int64) % 10))
    assert (y == 0).sum() == (y_mat == 10).sum()


def test_svhn_mnist_tasks(root: Path, tmp_path: Path) -> None:
    for split, n in (("train", 30), ("test", 6)):
        _write_fake_svhn(tmp_path / "svhn", n, 1, f"{split}_32x32.mat")
    (tmp_path / "MNIST").symlink_to(root / "MNIST")
    seq = make_tasks("svhn_mnist", root=tmp_path)
    assert len(seq) == 2 and seq.image_shape == (3, 32, 32)
    assert [len(t.test) for t in seq.tasks] == [6, 10 * N_TEST_PER_CLASS]
    assert seq.cumulative_test(1).shape == (6 + 10 * N_TEST_PER_CLASS, 3, 32, 32)


# ----------------------------------------------------------------------------- tasks


def test_class_split(root: Path) -> None:
    order = [3, 1, 4, 0, 9, 2, 6, 5, 8, 7]
    seq = make_tasks("fashion", root=root, class_order=order)
    assert len(seq) == 10 and seq.image_shape == (1, 28, 28) and seq.dataset == "fashion"
    assert str(root) not in seq.source and "FashionMNIST/train-images-idx3-ubyte" in seq.source
    assert [f.path for f in seq.files.files][0] == "FashionMNIST/train-images-idx3-ubyte"
    for task, cls in zip(seq.tasks, order, strict=True):
        for labels in (task.train_labels, task.val_labels, task.test_labels):
            assert labels.unique().tolist() == [cls]
        assert len(task.train) + len(task.val) == N_TRAIN_PER_CLASS
        assert len(task.test) == N_TEST_PER_CLASS
    sizes = [len(seq.cumulative_test(t)) for t in range(len(seq))]
    assert sizes == [N_TEST_PER_CLASS * (t + 1) for t in range(10)]
    assert len(seq.train_upto(2)) == sum(len(t.train) for t in seq.tasks[:3])
    assert len(seq.val_upto(9)) == sum(len(t.val) for t in seq.tasks)
    with pytest.raises(IndexError):
        seq.cumulative_test(10)


def test_val_split_disjoint_and_deterministic(root: Path) -> None:
    a = make_tasks("mnist", root=root, val_fraction=0.25, seed=0)
    b = make_tasks("mnist", root=root, val_fraction=0.25, seed=0)
    c = make_tasks("mnist", root=root, val_fraction=0.25, seed=1)
    for ta, tb in zip(a.tasks, b.tasks, strict=True):
        assert torch.equal(ta.train, tb.train) and torch.equal(ta.val, tb.val)
        assert len(ta.val) == round(N_TRAIN_PER_CLASS * 0.25)
        assert not _image_ids(ta.train) & _image_ids(ta.val)
        assert len(_image_ids(ta.train) | _image_ids(ta.val)) == N_TRAIN_PER_CLASS
    assert any(not torch.equal(ta.val, tc.val) for ta, tc in zip(a.tasks, c.tasks, strict=True))


def test_argument_validation(root: Path) -> None:
    bad = [
        dict(num_tasks=0),
        dict(num_tasks=11),
        dict(val_fraction=0.0),
        dict(val_fraction=1.0),
        dict(class_order=[0, 0]),
        dict(class_order=[10]),
        dict(class_order=[]),
        dict(max_per_task=0),
    ]
    for kwargs in bad:
        with pytest.raises(ValueError):
            make_tasks("fashion", root=root, **kwargs)
    with pytest.raises(ValueError, match="class_order"):
        make_tasks("permuted", root=root, class_order=[0, 1])
    with pytest.raises(ValueError):
        make_tasks("svhn_mnist", root=root, num_tasks=3)


def test_num_tasks_class_order_and_max_per_task(root: Path) -> None:
    seq = make_tasks("mnist", root=root, class_order=[7, 2, 5], num_tasks=2, max_per_task=5)
    assert [t.train_labels[0].item() for t in seq.tasks] == [7, 2]
    for task in seq.tasks:
        assert len(task.train) == 5 and len(task.val) == 1 and len(task.test) == 4
        assert not _image_ids(task.train) & _image_ids(task.val)


def test_binarize(root: Path) -> None:
    seq = make_tasks("fashion", root=root, num_tasks=2, binarize=True)
    values = torch.cat([seq.train_upto(1).flatten(), seq.cumulative_test(1).flatten()])
    assert set(values.unique().tolist()) <= {0.0, 1.0}


def test_permuted_tasks(root: Path) -> None:
    seq = make_tasks("permuted", root=root, num_tasks=3)
    again = make_tasks("permuted", root=root, num_tasks=3, seed=5)
    x_test, _ = load_dataset("mnist", root, split="test")
    assert torch.equal(seq.tasks[0].test, x_test)  # task 0 is unpermuted
    flat0 = seq.tasks[0].test.flatten(1)
    for k, task in enumerate(seq.tasks):
        assert len(task.train) + len(task.val) == 10 * N_TRAIN_PER_CLASS
        flat = task.test.flatten(1)
        assert torch.equal(flat.sort(dim=1).values, flat0.sort(dim=1).values)
        assert torch.equal(flat, flat0[:, pixel_permutation(k)])
        assert torch.equal(task.test, again.tasks[k].test)  # same permutations for any seed
    assert not torch.equal(seq.tasks[1].test, seq.tasks[2].test)
    assert torch.equal(pixel_permutation(0), torch.arange(784))
    assert torch.equal(pixel_permutation(2).sort().values, torch.arange(784))


def test_fashion_mnist20(root: Path) -> None:
    seq = make_tasks("fashion_mnist20", root=root, max_per_task=3)
    assert len(seq) == 20 and seq.dataset == "fashion+mnist"
    assert [t.test_labels[0].item() for t in seq.tasks] == list(range(20))
    assert seq.tasks[0].name.startswith("fashion/") and seq.tasks[10].name == "mnist/digit 0"
    x_mnist, y_mnist = load_dataset("mnist", root, split="test")
    assert _image_ids(seq.tasks[13].test) <= _image_ids(x_mnist[y_mnist == 3])


def test_experiment_names() -> None:
    assert EXPERIMENTS == ("fashion", "mnist", "permuted", "svhn_mnist", "fashion_mnist20",
                           "fashion_then_mnist")
    from lgm.experiments import EXPERIMENTS as RUNNABLE

    assert RUNNABLE == EXPERIMENTS


def test_fashion_then_mnist_is_one_dataset_per_task(root: Path) -> None:
    """The stand-in for SVHN -> MNIST: task 0 all of Fashion-MNIST, task 1 all of MNIST."""
    seq = make_tasks("fashion_then_mnist", root=root)
    assert [t.name for t in seq.tasks] == ["fashion", "mnist"]
    n_train = 10 * N_TRAIN_PER_CLASS
    assert len(seq[0].train) + len(seq[0].val) == n_train
    assert len(seq.cumulative_test(1)) == 2 * 10 * N_TEST_PER_CLASS
    assert set(seq[1].train_labels.tolist()) == set(range(10))
