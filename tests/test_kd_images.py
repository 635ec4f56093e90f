"""Image datasets of the KD experiments (lgm.data.images) on tiny fakes in the real formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from lgm.data.idx import DataNotFoundError, IdxFormatError, write_idx
from lgm.data.images import load_images

ATTRS = ["5_o_Clock_Shadow", "Male", "Smiling", "Eyeglasses"]


def fake_svhn(root: Path, n: int = 7) -> np.ndarray:
    from scipy.io import savemat

    x = np.random.default_rng(0).integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = np.array([10] + list(range(1, n))).reshape(n, 1)  # SVHN writes the digit 0 as 10
    (root / "SVHN").mkdir(parents=True)
    for split in ("train", "test"):
        savemat(root / "SVHN" / f"{split}_32x32.mat", {"X": x, "y": y})
    return x


def fake_cifar(root: Path, per_batch: int = 3) -> list[np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": list(range(per_batch))}, f)
        batches.append(data)
    return batches


def fake_celeba(root: Path) -> None:
    from PIL import Image

    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rows, parts = [], []
    for i in range(6):
        name = f"{i + 1:06d}.jpg"
        colour = (40 * i, 255 - 40 * i, 128)
        Image.new("RGB", (178, 218), colour).save(folder / "img_align_celeba" / name)
        male, smiling = i % 2, (i // 2) % 2
        rows.append(f"{name} -1 {2 * male - 1} {2 * smiling - 1} 1")
        parts.append(f"{name} {0 if i < 4 else 2}")
    (folder / "list_attr_celeba.txt").write_text(f"6\n{' '.join(ATTRS)}\n" + "\n".join(rows)
                                                 + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")


def fake_idx(root: Path, folder: str = "FashionMNIST/raw", n: int = 5) -> np.ndarray:
    images = np.random.default_rng(2).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    for prefix in ("train", "t10k"):
        write_idx(root / folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / folder / f"{prefix}-labels-idx1-ubyte.gz",
                  np.arange(n, dtype=np.uint8) % 10)
    return images


def test_svhn_from_the_mat_file(tmp_path) -> None:
    x = fake_svhn(tmp_path)
    data = load_images("svhn", "test", root=tmp_path)
    assert data.images.shape == (7, 3, 32, 32) and data.images.dtype == torch.float32
    assert torch.allclose(data.images[2, 1], torch.from_numpy(x[:, :, 1, 2]).float() / 255)
    assert data.labels[0] == 0  # label 10 is the digit 0
    assert "SVHN test" in data.source and str(tmp_path) not in data.source  # relative paths


def test_cifar10_from_python_batches(tmp_path) -> None:
    batches = fake_cifar(tmp_path)
    train = load_images("cifar10", "train", root=tmp_path)
    test = load_images("cifar10", "test", root=tmp_path, limit=2)
    assert train.images.shape == (15, 3, 32, 32) and test.images.shape == (2, 3, 32, 32)
    expected = torch.from_numpy(batches[5][1].reshape(3, 32, 32)).float() / 255
    assert torch.allclose(test.images[1], expected)
    assert train.labels.tolist() == [0, 1, 2] * 5
    assert "first 2 of 3" in test.source


def test_celeba_resized_without_crop_with_attributes(tmp_path) -> None:
    fake_celeba(tmp_path)
    train = load_images("celeba", "train", root=tmp_path)
    small = load_images("celeba", "test", root=tmp_path, image_size=32)
    assert train.images.shape == (4, 3, 64, 64) and small.images.shape == (2, 3, 32, 32)
    # a uniform image stays uniform: the whole frame was resized, colour kept
    assert torch.allclose(train.images[1, 0], torch.full((64, 64), 40 / 255), atol=2 / 255)
    assert train.attribute_names == tuple(ATTRS)
    assert train.attributes[:, 1].tolist() == [0, 1, 0, 1]          # Male
    assert train.labels.tolist() == [0, 2, 1, 3]                    # 2 * Male + Smiling
    assert "without crop" in train.source and "64x64" in train.source


def test_stand_ins_are_padded_to_32_with_three_or_one_channels(tmp_path) -> None:
    images = fake_idx(tmp_path)
    data = load_images("fashion", root=tmp_path)
    grey = load_images("fashion", root=tmp_path, channels=1, limit=3)
    assert data.images.shape == (5, 3, 32, 32) and grey.images.shape == (3, 1, 32, 32)
    assert torch.allclose(data.images[:, 0], data.images[:, 2])
    assert data.images[:, :, :2].abs().sum() == 0 and data.images[:, :, :, -2:].abs().sum() == 0
    assert torch.allclose(grey.images[0, 0, 2:30, 2:30],
                          torch.from_numpy(images[0]).float() / 255)
    assert "zero-padded to 32x32" in data.source and "3 channels" in data.source


def test_missing_data_lists_the_paths_looked_for(tmp_path) -> None:
    for name, expected in (("cifar10", "data_batch_1"), ("celeba", "list_attr_celeba.txt"),
                           ("svhn", "train_32x32.mat")):
        with pytest.raises(DataNotFoundError, match=expected) as err:
            load_images(name, root=tmp_path)
        assert any(str(tmp_path) in str(p) for p in err.value.searched)


def test_a_listed_celeba_image_that_is_missing_is_named(tmp_path) -> None:
    fake_celeba(tmp_path)
    (tmp_path / "celeba" / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataNotFoundError, match="000002.jpg"):
        load_images("celeba", root=tmp_path)


def test_corrupt_cifar_batch_is_reported(tmp_path) -> None:
    fake_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(IdxFormatError, match="test_batch"):
        load_images("cifar10", "test", root=tmp_path)


def test_bad_arguments_fail_before_reading(tmp_path) -> None:
    with pytest.raises(ValueError, match="known: svhn, cifar10, celeba, mnist, fashion"):
        load_images("imagenet", root=tmp_path)
    with pytest.raises(ValueError, match="image_size"):
        load_images("svhn", root=tmp_path, image_size=64)
    with pytest.raises(ValueError, match="channels"):
        load_images("cifar10", root=tmp_path, channels=1)
    with pytest.raises(ValueError, match="split"):
        load_images("mnist", "valid", root=tmp_path)
    with pytest.raises(ValueError, match="limit"):
        load_images("mnist", root=tmp_path, limit=0)
