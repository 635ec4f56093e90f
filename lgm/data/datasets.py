"""Whole datasets as tensors: MNIST, Fashion-MNIST, SVHN and MNIST as 32x32x3.

These are the datasets of the paper's experiments: Fashion-MNIST (section 5.1, appendix 7.5),
MNIST (sections 5.2, 5.3, appendix 7.5, 7.7) and SVHN (section 5.3). For SVHN -> MNIST
(section 5.3) MNIST is resized to 32x32 (bilinear) and copied to three channels to match SVHN
("mnist32x3"), as the reference implementation did.

``load_dataset`` returns images as float32 ``[N, C, H, W]`` in [0, 1] and labels as int64
``[N]``. Decoded files are cached in memory as uint8 (keyed on dataset, file paths, file
sizes and modification times, and split), and every call returns fresh tensors, so callers may
modify what they get. Missing files raise :class:`~lgm.data.idx.DataNotFoundError` listing every
path searched; with ``download=True`` torchvision's downloader is tried first (needs a network).
With a data root chosen (``root`` or ``LGM_DATA``) only that root is searched; otherwise the
default roots and Debian's ``/usr/share/datasets/fashion-mnist``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.data.fingerprint import note_read
from lgm.data.idx import (
    ENV_VAR,
    DataNotFoundError,
    IdxFormatError,
    data_roots,
    download_root,
    find_files,
    read_idx,
)

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package installs the four (flat, gz) IDX files."""

SPLITS = ("train", "test")

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SVHN_FILES = {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)}


@dataclass(frozen=True)
class _Spec:
    folders: tuple[str, ...]  # sub-folders of a data root that may hold the files
    files: dict[str, tuple[str, ...]]  # split -> file names
    gz: bool  # whether ``<name>.gz`` is accepted
    torchvision_class: str  # for download=True
    hint: str  # extra line for the "not found" message


_SPECS: dict[str, _Spec] = {
    "mnist": _Spec(("MNIST/raw", "MNIST"), _IDX_FILES, True, "MNIST", ""),
    "fashion": _Spec(
        ("FashionMNIST/raw", "FashionMNIST"),
        _IDX_FILES,
        True,
        "FashionMNIST",
        f"  - on Debian/Ubuntu: `apt-get install dataset-fashion-mnist` (installs the IDX files "
        f"into {DEBIAN_FASHION_DIR}, which is searched when {ENV_VAR} is not set)\n",
    ),
    "svhn": _Spec(("SVHN", "svhn"), _SVHN_FILES, False, "SVHN", ""),
}
_SOURCE_OF = {"mnist": "mnist", "fashion": "fashion", "svhn": "svhn", "mnist32x3": "mnist"}

DATASETS: tuple[str, ...] = tuple(_SOURCE_OF)
"""Names accepted by :func:`load_dataset`."""


def _check_name_split(name: str, split: str) -> None:
    if name not in _SOURCE_OF:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def _explicit(root: str | os.PathLike | None) -> bool:
    """Whether the data root was chosen (``root`` or ``$LGM_DATA``): then only it is searched."""
    return root is not None or bool(os.environ.get(ENV_VAR))


def search_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The data roots searched (see :func:`~lgm.data.idx.data_roots`), plus the folder of
    Debian's package when no root was chosen: files are named relative to these."""
    roots = data_roots(root)
    return roots if _explicit(root) else [*roots, DEBIAN_FASHION_DIR.parent]


def _search_dirs(source: str, root: str | os.PathLike | None) -> list[Path]:
    spec = _SPECS[source]
    dirs = [r / folder for r in data_roots(root) for folder in spec.folders]
    if source == "fashion" and not _explicit(root):
        dirs.append(DEBIAN_FASHION_DIR)
    return dirs


# ----------------------------------------------------------------------------- lookup


def locate_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    download: bool = False,
) -> tuple[Path, ...]:
    """The files holding ``split`` of dataset ``name`` (images then labels for IDX datasets).

    With ``download=True`` and no files found, torchvision's downloader is tried once (into
    ``root``, else ``$LGM_DATA``, else ``~/.lgm/data``); files that exist are never handed to
    torchvision. Raises :class:`DataNotFoundError` listing every path looked for.
    """
    _check_name_split(name, split)
    source = _SOURCE_OF[name]
    spec = _SPECS[source]
    found, searched = find_files(_search_dirs(source, root), spec.files[split], gz=spec.gz)
    if found is not None:
        return found
    failure = ""
    if download:
        failure = _try_download(source, split, download_root(root))
        found, _ = find_files(_search_dirs(source, root), spec.files[split], gz=spec.gz)
        if found is not None:
            return found
    message = _not_found_message(name, split, searched, failure, download_root(root))
    raise DataNotFoundError(message, searched)


def _try_download(source: str, split: str, target: Path) -> str:
    """Try torchvision's downloader; return a line for the error message saying how it went."""
    try:
        _torchvision_download(source, split, target)
    except Exception as e:  # any failure (no network, no torchvision, bad checksum) is reported
        return f"The download attempt into {target} failed: {type(e).__name__}: {e}\n"
    return f"The download into {target} ran but the files are still missing.\n"


def _torchvision_download(source: str, split: str, target: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, _SPECS[source].torchvision_class)
    if source == "svhn":
        cls(root=str(target / "SVHN"), split=split, download=True)
    else:
        cls(root=str(target), train=split == "train", download=True)


def _not_found_message(
    name: str, split: str, searched: list[Path], failure: str, target: Path
) -> str:
    spec = _SPECS[_SOURCE_OF[name]]
    paths = "\n".join(f"  {p}" for p in searched)
    files = " and ".join(spec.files[split])
    gz = " (or their .gz)" if spec.gz else ""
    return (
        f"The {split} split of dataset {name!r} was not found. Looked for:\n{paths}\n"
        f"{failure}"
        "To get the data, either:\n"
        f"  - put {files}{gz} in <root>/{spec.folders[0]}/ and set {ENV_VAR}=<root> "
        f"(in Python: root=<root>; a chosen root is the only place searched);\n"
        f"{spec.hint}"
        f"  - or download them from the dataset's site (torchvision's {spec.torchvision_class} "
        f"downloader puts them in {target}/{spec.folders[0]})."
    )


# ----------------------------------------------------------------------------- decoding


def _stamp(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)


@functools.lru_cache(maxsize=16)
def _decode(
    name: str, paths: tuple[Path, ...], split: str, stamp: tuple[tuple[int, int], ...]
) -> tuple[Tensor, Tensor]:
    """Decoded uint8 images [N, C, H, W] and int64 labels [N]; cached, do not modify."""
    if name == "mnist32x3":
        images, labels = _decode("mnist", paths, split, stamp)
        return _to_32x32x3(images), labels
    if name == "svhn":
        return _read_svhn(paths[0])
    return _read_idx_pair(paths[0], paths[1])


NUM_CLASSES = 10  # every MNIST-family dataset and SVHN (after 10 -> 0)
IDX_IMAGE_SIZE = (28, 28)


def check_labels(labels: np.ndarray, path: Path, num_classes: int = NUM_CLASSES) -> None:
    """Labels are integers in ``0..num_classes-1``; else an :class:`IdxFormatError` naming the
    file, the first bad position and its value (a bad label would silently make a task of
    the wrong class, or none)."""
    if labels.dtype.kind not in "ui":
        raise IdxFormatError(f"{path}: labels must be integers, found {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise IdxFormatError(f"{path}: {len(bad)} label(s) outside 0..{num_classes - 1}, the "
                             f"first at index {bad[0]} ({labels[bad[0]]})")


def check_images(images: np.ndarray, path: Path, size: tuple[int, int] = IDX_IMAGE_SIZE
                 ) -> None:
    """uint8 images of ``size`` pixels, at least one; else an :class:`IdxFormatError`."""
    if images.dtype != np.uint8:
        raise IdxFormatError(f"{path}: expected uint8 images, found {images.dtype}")
    if tuple(images.shape[1:]) != size or len(images) == 0:
        raise IdxFormatError(f"{path}: expected images of {size[0]}x{size[1]} pixels, found "
                             f"an array of shape {tuple(images.shape)}")


def _read_idx_pair(image_path: Path, label_path: Path) -> tuple[Tensor, Tensor]:
    images = read_idx(image_path, expected_ndim=3)
    labels = read_idx(label_path, expected_ndim=1)
    check_images(images, image_path)
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels"
        )
    check_labels(labels, label_path)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _read_svhn(path: Path) -> tuple[Tensor, Tensor]:
    """torchvision's SVHN format: X uint8 [32, 32, 3, N], y [N, 1] with 10 meaning digit 0."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=["X", "y"])
        x, y = mat["X"], mat["y"]
    except Exception as e:  # scipy raises assorted errors for corrupt files
        raise IdxFormatError(f"{path}: cannot read SVHN .mat file ({type(e).__name__}: {e})") from e
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or y.size != x.shape[3]:
        raise IdxFormatError(
            f"{path}: expected X [32, 32, 3, N] and y [N, 1], found {x.shape} and {y.shape}"
        )
    if x.dtype != np.uint8:
        raise IdxFormatError(f"{path}: expected uint8 images X, found {x.dtype}")
    raw = y.reshape(-1)
    if raw.dtype.kind not in "uif" or (raw.dtype.kind == "f" and not np.all(raw == np.round(raw))):
        raise IdxFormatError(f"{path}: labels y must be integers, found {raw.dtype}")
    raw = raw.astype(np.int64)
    bad = np.flatnonzero((raw < 0) | (raw > 10))  # SVHN writes the digit 0 as 10
    if len(bad):
        raise IdxFormatError(f"{path}: {len(bad)} label(s) outside 0..10, the first at index "
                             f"{bad[0]} ({raw[bad[0]]})")
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)))
    labels = raw % 10  # label 10 is the digit 0
    return torch.from_numpy(images), torch.from_numpy(labels)


def _to_32x32x3(images: Tensor) -> Tensor:
    """uint8 [N, 1, 28, 28] -> uint8 [N, 1, 32, 32], bilinear (channels are copied later)."""
    resized = F.interpolate(images.float(), size=(32, 32), mode="bilinear", align_corners=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def _channels(name: str) -> int:
    return 3 if name == "mnist32x3" else 1


# ----------------------------------------------------------------------------- public API


def load_uint8(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    download: bool = False,
) -> tuple[Tensor, Tensor, tuple[Path, ...]]:
    """Images as uint8 ``[N, C, H, W]`` (shared with the cache: do not modify in place),
    int64 labels ``[N]`` and the files they came from. For "mnist32x3" C is 1 here; use
    :func:`to_float` to get the three channels."""
    paths = locate_dataset(name, root, split=split, download=download)
    images, labels = _decode(name, paths, split, _stamp(paths))
    note_read(paths, search_roots(root))
    return images, labels, paths


def to_float(
    name: str, images: Tensor, transform: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """uint8 images from :func:`load_uint8` -> float32 in [0, 1], with the dataset's channels."""
    if transform is not None:
        images = transform(images)
    out = images.to(torch.float32).div_(255.0)
    reps = _channels(name) // out.shape[1]
    return out.repeat(1, reps, 1, 1) if reps > 1 else out


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    download: bool = False,
) -> tuple[Tensor, Tensor]:
    """Whole ``split`` of dataset ``name``: float32 images ``[N, C, H, W]`` in [0, 1] and
    int64 labels ``[N]``. Names: "mnist", "fashion", "svhn", "mnist32x3"."""
    images, labels, _ = load_uint8(name, root, split=split, download=download)
    return to_float(name, images), labels.clone()


def image_shape(name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of dataset ``name``."""
    _check_name_split(name, "train")
    return {"mnist": (1, 28, 28), "fashion": (1, 28, 28)}.get(name, (3, 32, 32))


def clear_cache() -> None:
    """Forget all decoded datasets."""
    _decode.cache_clear()
