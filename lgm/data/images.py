"""Image datasets of the KD paper (SVHN, CIFAR10, CelebA; section 4.2, appendix D) and the
stand-ins at hand (MNIST, FashionMNIST padded to 32x32).

:func:`load_images` returns an :class:`ImageData`: float32 images ``[N, C, H, W]`` in [0, 1]
(ToTensor, as the reference) and int64 labels ``[N]`` on the requested device, plus a
``source`` string naming the data actually used (dataset, split, size, files).

- ``svhn``: torchvision's ``{train,test}_32x32.mat`` under ``<root>/SVHN`` (read by
  :mod:`lgm.data.datasets`); 32x32x3; labels are digits.
- ``cifar10``: torchvision's python batches ``<root>/cifar-10-batches-py/{data_batch_1..5,
  test_batch}`` (pickles of ``data`` uint8 [N, 3072] and ``labels``); 32x32x3.
- ``celeba``: torchvision's layout ``<root>/celeba/{img_align_celeba/*.jpg,
  list_attr_celeba.txt, list_eval_partition.txt}``; the aligned 178x218 images resized to
  64x64 *without crop* (Table 1, as the reference) or 32x32 (continual learning, Table 2);
  splits by the official partition (0 train, 1 valid, 2 test); ``attributes`` [N, 40] in
  {0, 1}; labels ``2 * Male + Smiling`` (4 classes, for a feature classifier).
- stand-ins ``mnist`` and ``fashion``: 28x28 IDX images zero-padded by 2 pixels to 32x32
  (no resampling), grey copied to 3 channels by default so that the ladder VAE has the
  paper's input shape (and exactly the paper's parameter counts); ``channels=1`` keeps grey.

With ``download=True`` torchvision's downloader is tried when the files are missing (needs a
network); otherwise a missing dataset raises :class:`~lgm.data.idx.DataNotFoundError` listing
every path looked for. Nothing is read before the arguments are checked.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.data.datasets import load_uint8, search_roots
from lgm.data.fingerprint import note_read, relative_path
from lgm.data.idx import DataNotFoundError, IdxFormatError, data_roots, download_root, find_files

COLOUR = ("svhn", "cifar10", "celeba")
STAND_INS = ("mnist", "fashion")
IMAGE_DATASETS = COLOUR + STAND_INS
SPLITS = ("train", "test")
CELEBA_SIZES = (64, 32)
CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CELEBA_LISTS = ("list_attr_celeba.txt", "list_eval_partition.txt")
CELEBA_PARTITION = {"train": 0, "valid": 1, "test": 2}


@dataclass
class ImageData:
    """A split of an image dataset on a device, with what it was made from."""

    images: Tensor                       # float32 [N, C, H, W] in [0, 1]
    labels: Tensor                       # int64 [N]
    source: str                          # names the data actually used
    attributes: Tensor | None = None     # CelebA: [N, 40] in {0, 1}
    attribute_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.images.shape[0]


def image_size_of(name: str, image_size: int | None = None) -> int:
    """The side of ``name``'s images: 32, or CelebA's 64 (or 32 when asked)."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; known: {', '.join(IMAGE_DATASETS)}")
    allowed = CELEBA_SIZES if name == "celeba" else (32,)
    size = allowed[0] if image_size is None else image_size
    if size not in allowed:
        raise ValueError(f"{name}: image_size must be one of {allowed}, got {image_size}")
    return size


def _check_args(name: str, split: str, image_size: int | None, channels: int | None,
                limit: int | None) -> tuple[int, int]:
    size = image_size_of(name, image_size)
    if split not in SPLITS + (("valid",) if name == "celeba" else ()):
        raise ValueError(f"unknown split {split!r} for {name}; expected one of {SPLITS}")
    allowed = (3, 1) if name in STAND_INS else (3,)
    chans = allowed[0] if channels is None else channels
    if chans not in allowed:
        raise ValueError(f"{name}: channels must be one of {allowed}, got {channels}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    return size, chans


def load_images(name: str, split: str = "train", *, root: str | os.PathLike | None = None,
                image_size: int | None = None, channels: int | None = None,
                limit: int | None = None, device: str | torch.device = "cpu",
                download: bool = False) -> ImageData:
    """``split`` of image dataset ``name`` (module docstring), the first ``limit`` images."""
    size, chans = _check_args(name, split, image_size, channels, limit)
    if name == "cifar10":
        data = _cifar10(split, root, limit, download)
    elif name == "celeba":
        data = _celeba(split, root, size, limit, download)
    else:
        data = _from_datasets(name, split, root, limit, download)
    if data.images.shape[1] != chans:
        data.images = data.images.repeat(1, chans, 1, 1)
        data.source += f", grey copied to {chans} channels"
    data.images = data.images.to(device)
    data.labels = data.labels.to(device)
    if data.attributes is not None:
        data.attributes = data.attributes.to(device)
    return data


def _limited(n: int, limit: int | None) -> str:
    return f"first {limit} of {n}" if limit is not None and limit < n else f"all {n}"


# ----------------------------------------------------------------------------- SVHN, MNIST


def _from_datasets(name: str, split: str, root: str | os.PathLike | None, limit: int | None,
                   download: bool) -> ImageData:
    """SVHN as is; MNIST / FashionMNIST zero-padded from 28x28 to 32x32."""
    images, labels, paths = load_uint8(name, root, split=split, download=download)
    n = images.shape[0]
    images, labels = images[:limit], labels[:limit].clone()
    x = images.to(torch.float32).div(255.0)
    what = {"svhn": "SVHN", "mnist": "MNIST", "fashion": "FashionMNIST"}[name]
    where = relative_path(paths[0].parent, search_roots(root))
    source = f"{what} {split} ({_limited(n, limit)} images) from {where}"
    if name in STAND_INS:
        x = F.pad(x, (2, 2, 2, 2))
        source += ", 28x28 zero-padded to 32x32 (stand-in)"
    return ImageData(x, labels, source)


# ----------------------------------------------------------------------------- CIFAR10


def _cifar_dirs(root: str | os.PathLike | None) -> list[Path]:
    return [r / sub for r in data_roots(root)
            for sub in ("cifar-10-batches-py", "CIFAR10/cifar-10-batches-py",
                        "cifar10/cifar-10-batches-py")]


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch: uint8 [N, 3, 32, 32] and int64 [N]."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    except Exception as e:  # unpickling errors come in many types
        raise IdxFormatError(f"{path}: not a CIFAR10 python batch ({type(e).__name__}: {e})"
                             ) from e
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise IdxFormatError(f"{path}: expected data [N, 3072] and labels [N], found "
                             f"{data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar10(split: str, root: str | os.PathLike | None, limit: int | None,
             download: bool) -> ImageData:
    found, searched = find_files(_cifar_dirs(root), CIFAR_FILES[split], gz=False)
    if found is None and download:
        _try_torchvision("CIFAR10", download_root(root), train=split == "train")
        found, _ = find_files(_cifar_dirs(root), CIFAR_FILES[split], gz=False)
    if found is None:
        raise DataNotFoundError(_missing("cifar10", split, searched, "cifar-10-batches-py",
                                         root), searched)
    parts = [_read_cifar_batch(p) for p in found]
    note_read(found, data_roots(root))
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    n = len(data)
    x = torch.from_numpy(data[:limit]).to(torch.float32).div(255.0)
    where = relative_path(found[0].parent, data_roots(root))
    source = f"CIFAR10 {split} ({_limited(n, limit)} images) from {where}"
    return ImageData(x, torch.from_numpy(labels[:limit]), source)


# ----------------------------------------------------------------------------- CelebA


def _celeba_dirs(root: str | os.PathLike | None) -> list[Path]:
    return [r / sub for r in data_roots(root) for sub in ("celeba", "CelebA")]


def _read_attributes(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """list_attr_celeba.txt: count, 40 names, then 'file v1 .. v40' with v in {-1, 1}."""
    lines = path.read_text().split("\n")
    names = lines[1].split()
    files, rows = [], []
    for line in lines[2:]:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise IdxFormatError(f"{path}: a row has {len(parts) - 1} values, expected "
                                 f"{len(names)}: {line[:60]!r}")
        files.append(parts[0])
        rows.append([int(v) > 0 for v in parts[1:]])
    return names, files, np.asarray(rows, dtype=np.int64).reshape(len(files), len(names))


def _read_partition(path: Path) -> dict[str, int]:
    return {f: int(p) for f, p in (ln.split() for ln in path.read_text().split("\n") if ln)}


def _load_jpeg(path: Path, size: int) -> np.ndarray:
    """uint8 [3, size, size]: the whole aligned image resized (bilinear), no crop."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB").resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _celeba(split: str, root: str | os.PathLike | None, size: int, limit: int | None,
            download: bool) -> ImageData:
    found, searched = find_files(_celeba_dirs(root), CELEBA_LISTS, gz=False)
    if found is None and download:
        _try_torchvision("CelebA", download_root(root), split=split)
        found, _ = find_files(_celeba_dirs(root), CELEBA_LISTS, gz=False)
    if found is None:
        raise DataNotFoundError(_missing("celeba", split, searched, "celeba", root), searched)
    folder = found[0].parent
    names, files, attrs = _read_attributes(found[0])
    partition = _read_partition(found[1])
    keep = [i for i, f in enumerate(files) if partition.get(f) == CELEBA_PARTITION[split]]
    n = len(keep)
    keep = keep[:limit]
    missing = [folder / "img_align_celeba" / files[i] for i in keep
               if not (folder / "img_align_celeba" / files[i]).is_file()]
    if missing:
        raise DataNotFoundError(f"CelebA: {len(missing)} image(s) listed in {found[0]} are "
                                f"missing, e.g. {missing[0]}", missing[:10])
    x = np.stack([_load_jpeg(folder / "img_align_celeba" / files[i], size) for i in keep])
    a = torch.from_numpy(attrs[keep])
    labels = 2 * a[:, names.index("Male")] + a[:, names.index("Smiling")]
    note_read(found, data_roots(root))  # the lists; the many JPEGs are not hashed
    where = relative_path(folder, data_roots(root))
    source = (f"CelebA {split} ({_limited(n, limit)} images) from {where}, aligned 178x218 "
              f"resized to {size}x{size} without crop")
    return ImageData(torch.from_numpy(x).to(torch.float32).div(255.0), labels, source, a,
                     tuple(names))


# ----------------------------------------------------------------------------- errors


def _try_torchvision(cls_name: str, target: Path, **kwargs: object) -> None:
    """torchvision's downloader (needs a network); failures surface as the missing-files error."""
    try:
        import torchvision.datasets as tvd

        getattr(tvd, cls_name)(root=str(target), download=True, **kwargs)
    except Exception as e:  # no network, no torchvision, quota: report below
        print(f"download of {cls_name} into {target} failed: {type(e).__name__}: {e}")


def _missing(name: str, split: str, searched: list[Path], folder: str,
             root: str | os.PathLike | None) -> str:
    paths = "\n".join(f"  {p}" for p in searched)
    return (f"The {split} split of {name!r} was not found. Looked for:\n{paths}\n"
            f"Put torchvision's files in <root>/{folder}/ and pass root=<root> (or set "
            f"LGM_DATA=<root>), or with a network pass download=True (into "
            f"{download_root(root)}). Stand-ins at hand: {', '.join(STAND_INS)}.")
