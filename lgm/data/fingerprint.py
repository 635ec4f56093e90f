"""Fingerprints of data files: which files a result was computed from, and their contents.

A result is only as good as the data it read, so the result cache keys results on the data
too: the size and sha256 of every file actually read. Hashing the ~30 MB of
Fashion-MNIST takes a fraction of a second, and is done once per file: hashes are remembered
in memory and in ``<cache root>/data-hashes.json``, keyed by the file's absolute path, size
and modification time, so an edited (or replaced) file is hashed again.

Paths are recorded relative to the data root they were found under (``FashionMNIST/raw/
train-images-idx3-ubyte.gz``), never as the absolute paths of the machine that ran, so a
result and its provenance read the same on every machine. The fingerprint's digest depends on
the files' names, sizes and hashes, not on where they were found.

The readers of :mod:`lgm.data` report the files they read (:func:`note_read`); inside
:func:`recording_reads` those reports are collected, so that the result cache learns which data
files a computation actually read (:func:`fingerprint_reads`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgm.paths import REPO_ROOT, cache_root, write_bytes_atomic

HASHES_FILE = "data-hashes.json"
_CHUNK = 1 << 20
_memo: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()
PACKAGE_ROOT = REPO_ROOT
"""Files shipped inside the package (``lgm/data/files/...``) are named relative to this."""
Read = tuple[Path, tuple[Path, ...]]  # a file read and the roots to name it relative to
_recorders: list[list[Read]] = []


@dataclass(frozen=True)
class DataFile:
    """One file read: its path relative to its data root (absolute when outside every root),
    its size in bytes and the sha256 of its bytes."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class DataFingerprint:
    """The files a data set reads, in the order it reads them."""

    files: tuple[DataFile, ...]

    @property
    def digest(self) -> str:
        """sha256 over every file's name, size and hash (not its folder): the data's key."""
        lines = "".join(f"{Path(f.path).name} {f.size} {f.sha256}\n" for f in self.files)
        return hashlib.sha256(lines.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a result file."""
        return {"digest": self.digest,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                          for f in self.files]}


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _disk_memo() -> Path:
    return cache_root() / HASHES_FILE


def _load_disk_memo() -> dict[str, Any]:
    try:
        data = json.loads(_disk_memo().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember(stamp: tuple[str, int, int], digest: str) -> None:
    """Add a hash to the on-disk memo (best effort: a read-only cache only loses the memo)."""
    memo = _load_disk_memo()
    memo[stamp[0]] = {"size": stamp[1], "mtime_ns": stamp[2], "sha256": digest}
    try:
        write_bytes_atomic(_disk_memo(), json.dumps(memo, indent=0).encode(), "data hash memo")
    except OSError:
        pass


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, computed once per (path, size, modification time)."""
    path = Path(path)
    stamp = _stamp(path)
    with _lock:
        if stamp in _memo:
            return _memo[stamp]
    stored = _load_disk_memo().get(stamp[0])
    if isinstance(stored, dict) and (stored.get("size"), stored.get("mtime_ns")) == stamp[1:]:
        digest = str(stored["sha256"])
    else:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        digest = h.hexdigest()
        _remember(stamp, digest)
    with _lock:
        _memo[stamp] = digest
    return digest


def relative_path(path: str | os.PathLike, roots: Iterable[Path]) -> str:
    """``path`` relative to the first of ``roots`` that holds it, else absolute (posix)."""
    resolved = Path(path).resolve()
    for root in roots:
        try:
            return resolved.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            continue
    return resolved.as_posix()


def fingerprint_files(paths: Sequence[str | os.PathLike], roots: Iterable[Path]
                      ) -> DataFingerprint:
    """The fingerprint of ``paths`` (each hashed once, see :func:`file_sha256`), recorded
    relative to ``roots``."""
    roots = list(roots)
    return DataFingerprint(tuple(
        DataFile(relative_path(p, roots), Path(p).stat().st_size, file_sha256(p))
        for p in paths))


def note_read(paths: Iterable[str | os.PathLike], roots: Iterable[Path]) -> None:
    """Report that ``paths`` were read (named relative to ``roots`` or the package)."""
    if _recorders:
        named_by = (*roots, PACKAGE_ROOT)
        for recorder in _recorders:
            recorder.extend((Path(p), named_by) for p in paths)


@contextmanager
def recording_reads() -> Iterator[list[Read]]:
    """Collect the files read by :mod:`lgm.data` inside the ``with`` block."""
    reads: list[Read] = []
    _recorders.append(reads)
    try:
        yield reads
    finally:  # by identity: nested recorders can hold equal lists
        _recorders[:] = [r for r in _recorders if r is not reads]


def fingerprint_reads(reads: Sequence[Read]) -> DataFingerprint | None:
    """The fingerprint of the files collected by :func:`recording_reads` (each once, in the
    order first read); None when nothing was read."""
    seen: dict[str, DataFile] = {}
    for path, roots in reads:
        key = str(path.resolve())
        if key not in seen and path.is_file():
            seen[key] = DataFile(relative_path(path, roots), path.stat().st_size,
                                 file_sha256(path))
    return DataFingerprint(tuple(seen.values())) if seen else None


def clear_memo() -> None:
    """Forget the in-memory hashes (the on-disk memo stays)."""
    with _lock:
        _memo.clear()
