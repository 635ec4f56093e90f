"""A checkpoint after each task, so a killed run resumes without losing finished tasks.

The file holds the models, the EWC state, the finished tasks' metrics and every random
state, so that resuming ends with exactly the result of an uninterrupted run (CPU). It is
written to a uniquely named temporary file and renamed (:func:`lgm.paths.atomic_write`), so a
kill mid-write leaves the previous one intact and concurrent writers never collide.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from lgm.paths import atomic_write


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to another configuration."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` to ``path`` (serialised in memory first, so that a full disk
    is reported as :class:`~lgm.paths.DiskFullError`, not as a failure inside torch)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()), "checkpoint")


def load_checkpoint(path: Path, config_key: str) -> dict[str, Any] | None:
    """The saved state, None if there is none; a clear error if it is corrupt or foreign."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CheckpointError(f"checkpoint {path} is corrupt ({err.__class__.__name__}: {err}); "
                              "delete it to start the run afresh, or run with --no-resume")\
            from err
    if not isinstance(state, dict) or state.get("config_key") != config_key:
        raise CheckpointError(f"checkpoint {path} belongs to another configuration; delete it "
                              "or run with --no-resume")
    return state
