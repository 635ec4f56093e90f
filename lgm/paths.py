"""Where lgm writes (checkpoints, the classifier cache, results), and how it writes safely.

``LGM_CACHE`` sets the root; otherwise ``<repo>/runs`` in a source checkout, else
``~/.cache/lgm``.

Every file lgm stores is written by :func:`atomic_write`: into a uniquely named temporary file
in the target's folder, then renamed over the target (``os.replace``), so a kill mid-write
leaves the previous file intact and concurrent writers never share a temporary file. A
temporary file names its writer (host and process id); one left behind by a killed writer is
removed at the next write of the same file (its process is gone, or it is older than
:data:`STALE_TMP_S`). Failures
to write raise :class:`CacheError` (an ``OSError``) whose message says what was being written,
where, and what to do; a full disk raises :class:`DiskFullError` and says "disk full". No
temporary file is left behind.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from lgm.errors import LgmError

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "LGM_CACHE"
STALE_TMP_S = 3600.0  # a temporary file this old is left over, whoever wrote it
HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


class CacheError(LgmError, OSError):
    """lgm could not read or write where it stores things (what, where, what to do).

    ``errno`` is the system's error number; ``str()`` is the one-line message alone."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


class DiskFullError(CacheError):
    """A write failed because the disk (or quota) is full."""


def _advice(where: Path) -> str:
    if where.absolute().is_relative_to(_configured_root().absolute()):
        return f"or set {CACHE_ENV} to another folder"
    return "or choose another path (e.g. another --out)"


def _configured_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "runs"
    return Path.home() / ".cache" / "lgm"


def store_error(err: OSError, path: Path, what: str) -> CacheError:
    """The :class:`CacheError` for ``err`` raised while writing ``what`` at ``path``."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(err.errno, f"disk full while writing {what} {path}: free some "
                             f"space, {_advice(path)}")
    if isinstance(err, PermissionError) or err.errno in (errno.EACCES, errno.EPERM,
                                                        errno.EROFS):
        return CacheError(err.errno, f"cannot write {what} {path}: permission denied "
                          f"(read-only?): make it writable, {_advice(path)}")
    if isinstance(err, (FileExistsError, NotADirectoryError)) or err.errno in (
            errno.EEXIST, errno.ENOTDIR):
        blocker = next((p for p in [path, *path.parents] if p.is_file()), path)
        return CacheError(err.errno, f"cannot write {what} {path}: {blocker} is a file, not a "
                          f"folder: remove it, {_advice(path)}")
    return CacheError(err.errno, f"cannot write {what} {path} ({err.strerror or err}); "
                      f"fix that, {_advice(path)}")


def ensure_folder(folder: Path, what: str = "files") -> Path:
    """Create ``folder`` (and parents) or raise a :class:`CacheError` saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise store_error(err, folder, what) from err
    if not folder.is_dir():
        raise store_error(NotADirectoryError(errno.ENOTDIR, "not a folder"), folder, what)
    return folder


def cache_root(*, create: bool = True) -> Path:
    """The folder lgm writes under (created on demand, :class:`CacheError` if it cannot be;
    ``create=False`` only names it, for reading)."""
    return ensure_folder(_configured_root(), "the cache folder") if create else _configured_root()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, under another user
        return True
    return True


def stale_temporaries(path: Path, now: float | None = None) -> list[Path]:
    """Temporary files of ``path`` left behind by writers that are gone: written on this host
    by a process that no longer exists, or older than :data:`STALE_TMP_S`."""
    now = time.time() if now is None else now
    own = re.compile(rf"^\.{re.escape(path.name)}\.{HOST}-(\d+)\.")
    stale = []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        match = own.match(tmp.name)
        try:
            old = now - tmp.stat().st_mtime > STALE_TMP_S
        except OSError:
            continue
        if old or (match is not None and not _alive(int(match.group(1)))):
            stale.append(tmp)
    return stale


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None], what: str) -> None:
    """Write ``path`` through ``write(file)`` into a unique temporary file in its folder, then
    rename it into place; temporary files of ``path`` left by killed writers are removed
    first. Raises :class:`CacheError` / :class:`DiskFullError` (no temporary file left) when
    the folder cannot be made or the write fails."""
    ensure_folder(path.parent, what)
    for stale in stale_temporaries(path):
        stale.unlink(missing_ok=True)
    tmp: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent,
                                         prefix=f".{path.name}.{HOST}-{os.getpid()}.",
                                         suffix=".tmp", delete=False) as f:
            tmp = Path(f.name)
            write(f)
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise store_error(err, path, what) from err
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes, what: str) -> None:
    """:func:`atomic_write` of ``data``."""
    atomic_write(path, lambda f: f.write(data), what)
