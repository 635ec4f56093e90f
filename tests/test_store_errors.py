"""A store that cannot be written gives one clear error of a named type
(what, where, what to do), a full disk says "disk full", and no temporary file is left."""

from __future__ import annotations

import errno
import os
import tempfile
import types
from pathlib import Path

import filelock
import pytest
import torch

import lgm.experiments.lifelong as lifelong
import lgm.paths as paths
from lgm.experiments import cache, make_config
from lgm.metrics.classifier import FeatureClassifier, _atomic_save
from lgm.paths import CacheError, DiskFullError, write_bytes_atomic
from lgm.training.checkpoint import save_checkpoint
from tests.conftest import tiny_sequence


def small():
    """Two tasks of 32 band images (a quick in-memory run)."""
    return tiny_sequence(2, n_train=32, n_val=8, n_test=16)


@pytest.fixture(autouse=True)
def _setup(tmp_path, monkeypatch):
    """No data, a constant fingerprint, runs on tiny in-memory data."""
    monkeypatch.setenv("LGM_DATA", str(tmp_path / "no-data"))
    monkeypatch.setattr(cache, "entry_fingerprint", lambda entry: [1.0])
    monkeypatch.setattr(lifelong, "run_experiments", lambda cfgs, resume=True, checkpoint_dir=None:
                        lifelong.run_stack(cfgs, tasks=[small() for _ in cfgs]))


def cfg():
    return make_config("smoke", method="vanilla", batch_size=16, max_epochs=1)


def failing_temp_files(monkeypatch, err: OSError, *, on_write: bool = True) -> None:
    """Temporary files whose creation (or first write) fails with ``err``."""

    class Failing:
        def __init__(self, **kw):
            if not on_write:
                raise err
            self.file = tempfile.NamedTemporaryFile(**kw)  # noqa: SIM115 - closed in __exit__
            self.name = self.file.name

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise err

    monkeypatch.setattr(paths, "tempfile", types.SimpleNamespace(NamedTemporaryFile=Failing))


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")] if folder.exists() else []


def test_a_cache_path_that_is_a_file(tmp_path, monkeypatch):
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LGM_CACHE", str(blocker))
    with pytest.raises(CacheError, match=rf"{blocker} is a file, not a folder.*LGM_CACHE"):
        cache.cached_run(cfg())


def test_a_read_only_cache(monkeypatch):
    failing_temp_files(monkeypatch, PermissionError(errno.EACCES, "Permission denied"),
                       on_write=False)
    with pytest.raises(CacheError, match="cannot write result .*permission denied.*LGM_CACHE"):
        cache.cached_run(cfg())
    assert leftovers(cache.cache_root()) == []


def test_a_read_only_lock_folder(monkeypatch):
    def denied(self, *args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    with pytest.raises(CacheError, match="cache lock .*permission denied"):
        cache.cached_run(cfg())


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_cache(tmp_path, monkeypatch):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    monkeypatch.setenv("LGM_CACHE", str(root))
    try:
        with pytest.raises(CacheError, match="permission denied"):
            cache.cached_run(cfg())
    finally:
        root.chmod(0o755)


def test_a_full_disk_while_storing_a_result(monkeypatch):
    failing_temp_files(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(DiskFullError, match="disk full while writing result"):
        cache.cached_run(cfg())
    assert leftovers(cache.cache_root()) == []
    assert not list((cache.cache_root() / "results").glob("*.json"))


def test_a_full_disk_while_writing_a_checkpoint(tmp_path, monkeypatch):
    failing_temp_files(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(DiskFullError, match=r"disk full while writing checkpoint .*last\.pt"):
        save_checkpoint(tmp_path / "ckpt" / "last.pt", {"x": torch.zeros(3)})
    assert leftovers(tmp_path) == [] and not (tmp_path / "ckpt" / "last.pt").exists()


def test_a_full_disk_while_saving_a_classifier(tmp_path, monkeypatch):
    failing_temp_files(monkeypatch, OSError(errno.EDQUOT, "Disk quota exceeded"))
    model = FeatureClassifier(1, 28, 28, 10)
    with pytest.raises(DiskFullError, match="disk full while writing classifier"):
        _atomic_save(model, tmp_path / "classifier-x.pt")
    assert leftovers(tmp_path) == []


def test_out_under_a_file(tmp_path):
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file")
    with pytest.raises(CacheError, match=rf"{blocker} is a file, not a folder.*another --out"):
        write_bytes_atomic(blocker / "out.json", b"{}", "the --out result")


def test_errors_are_os_errors_with_errno():
    err = paths.store_error(OSError(errno.ENOSPC, "full"), Path("/x/y.json"), "result")
    assert isinstance(err, DiskFullError) and isinstance(err, OSError)
    assert err.errno == errno.ENOSPC and str(err).startswith("disk full while writing result")
