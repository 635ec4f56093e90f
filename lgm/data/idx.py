"""IDX files and where the data lives.

The experiments of the paper (section 5.1 split FashionMNIST, 5.2 permuted MNIST, 5.3 SVHN ->
MNIST; appendix 7.5 FashionMNIST then MNIST, 7.7 split MNIST) use MNIST and Fashion-MNIST, which
are distributed as IDX files: two zero bytes, a dtype code, the number of dimensions, one
big-endian uint32 per dimension, then the big-endian data. They are read here directly with
numpy (gzip-compressed or not) rather than through torchvision, whose downloader checks
checksums that the locally available gz files do not match.

Data roots, in order of precedence:

1. the explicit ``root`` argument;
2. the environment variable ``LGM_DATA``;
3. the defaults ``<repo>/data``, ``<repo>/../shared/data`` (only when this package is used from
   its source checkout, recognised by ``pyproject.toml``) and ``~/.lgm/data``.

Under a root the layout is torchvision's (``<root>/MNIST/raw/train-images-idx3-ubyte.gz``);
uncompressed files and files directly in ``<root>/MNIST`` are accepted too.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lgm.errors import LgmError

ENV_VAR = "LGM_DATA"

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(LgmError, ValueError):
    """An IDX file is corrupt, truncated or not an IDX file at all (the message names it)."""


class DataNotFoundError(LgmError, FileNotFoundError):
    """The data files of a dataset were found in none of the places searched.

    ``searched`` holds every path that was looked for, in the order it was looked for.
    """

    def __init__(self, message: str, searched: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.searched: list[Path] = list(searched)


# ----------------------------------------------------------------------------- reading


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw, detected from its first bytes).

    Returns a writable array in native byte order. Raises :class:`IdxFormatError` naming the
    file when the header is wrong or the data is truncated (or has trailing bytes).
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path, expected_ndim)


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise IdxFormatError(
            f"{path}: corrupt or truncated gzip data ({type(e).__name__}: {e})"
        ) from e


def _parse_idx(raw: bytes, path: Path, expected_ndim: int | None) -> np.ndarray:
    if len(raw) < 4:
        raise IdxFormatError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise IdxFormatError(f"{path}: bad IDX magic number 0x{raw[:4].hex()}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise IdxFormatError(f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxFormatError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    expected, found = count * dtype.itemsize, len(raw) - header
    if found != expected:
        raise IdxFormatError(
            f"{path}: IDX header announces shape {shape} ({expected} data bytes) but the file "
            f"holds {found} data bytes: the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=")
    if key not in codes:
        raise ValueError(f"dtype {array.dtype} cannot be stored in an IDX file")
    header = bytes([0, 0, codes[key], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(_IDX_DTYPES[codes[key]], copy=False).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


# ----------------------------------------------------------------------------- lookup


def repo_root() -> Path | None:
    """The source checkout this package lives in, or None when installed elsewhere."""
    candidate = Path(__file__).resolve().parents[2]
    return candidate if (candidate / "pyproject.toml").is_file() else None


def data_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """The data roots to search: ``root``, else ``$LGM_DATA``, else the defaults."""
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    roots = []
    repo = repo_root()
    if repo is not None:
        roots += [repo / "data", repo.parent / "shared" / "data"]
    roots.append(Path.home() / ".lgm" / "data")
    return roots


def download_root(root: str | os.PathLike | None = None) -> Path:
    """Where a download goes: ``root``, else ``$LGM_DATA``, else ``~/.lgm/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".lgm" / "data"


def find_files(
    directories: Sequence[Path], names: Sequence[str], *, gz: bool = True
) -> tuple[tuple[Path, ...] | None, list[Path]]:
    """Find all ``names`` together in the first directory of ``directories`` that has them all.

    Each name is accepted as is and, when ``gz``, with a ``.gz`` suffix (the uncompressed file
    wins when both exist). Returns ``(found, searched)``: the files found (None if no directory
    has them all) and every path looked at, in order, for error messages.
    """
    searched: list[Path] = []
    for directory in directories:
        hits = []
        for name in names:
            variants = [directory / name] + ([directory / f"{name}.gz"] if gz else [])
            searched += variants
            hits.append(next((v for v in variants if v.is_file()), None))
        if all(h is not None for h in hits):
            return tuple(hits), searched
    return None, searched
