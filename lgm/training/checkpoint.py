"""A checkpoint after each task, so a killed run resumes without losing finished tasks.

The file holds the models, the EWC state, the finished tasks' metrics and every random
state, so that resuming ends with exactly the result of an uninterrupted run (CPU). It is
written to a uniquely named temporary file and renamed (:func:`lgm.paths.atomic_write`), so a
kill mid-write leaves the previous one intact and concurrent writers never collide.

A checkpoint says what it belongs to (:class:`CheckpointMeta`: the run's config key, the
numerics fingerprint of the code that wrote it, the run's number of tasks, and how many
tasks' records it holds) and carries the sha256 of its contents. It is validated before use
(:func:`load_checkpoint`): a damaged, foreign, stale or inconsistent one raises
:class:`CheckpointError` naming the file and what is wrong with it, in one line, and the run
is not resumed from it (``--fresh`` discards it). Errors while restoring a model from it (a
tensor of the wrong shape, a missing key) are reported the same way
(:func:`restoring_from`). Checkpoints of the first format (a bare state dict, no checksum)
are still read, with the checks their contents allow.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lgm.errors import LgmError
from lgm.paths import atomic_write

FORMAT = 2
FRESH_ADVICE = "run again with --fresh to discard it and start the run afresh"


class CheckpointError(LgmError, RuntimeError):
    """A checkpoint that cannot be read, is damaged, or belongs to another run or code."""


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint belongs to: checked against the run that wants to resume from it.
    ``code`` defaults to the tag of :func:`checkpoint_code` (the result cache sets it)."""

    config_key: str
    code: str = ""      # hash of the numerics fingerprint of the code ("" : not checked)
    num_tasks: int = 0  # tasks of the whole run (0: not checked)

    def __post_init__(self) -> None:
        if not self.code:
            object.__setattr__(self, "code", _CODE.get())


_CODE: contextvars.ContextVar[str] = contextvars.ContextVar("lgm_checkpoint_code", default="")


@contextmanager
def checkpoint_code(tag: str) -> Iterator[None]:
    """Inside the block, checkpoints are written with, and checked against, the code tag
    ``tag`` (the result cache passes a hash of the numerics fingerprint: a checkpoint of
    code with other numbers is never resumed)."""
    token = _CODE.set(tag)
    try:
        yield
    finally:
        _CODE.reset(token)


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any], meta: CheckpointMeta | None = None
                    ) -> None:
    """Atomically write ``state`` to ``path`` with ``meta``, the number of task records it
    holds and its checksum (serialised in memory first, so that a full disk is reported as
    :class:`~lgm.paths.DiskFullError`, not as a failure inside torch)."""
    inner = io.BytesIO()
    torch.save(state, inner)
    payload = inner.getvalue()
    meta = meta or CheckpointMeta(str(state.get("config_key", "")))
    record = {"lgm_checkpoint": FORMAT, "meta": asdict(meta),
              "tasks_done": tasks_done(state), "sha256": _digest(payload), "payload": payload}
    buffer = io.BytesIO()
    torch.save(record, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()), "checkpoint")


def tasks_done(state: dict[str, Any]) -> int | None:
    """The number of finished tasks a state's records say (None: it keeps no records)."""
    records = state.get("records")
    if not isinstance(records, list) or not records:
        return None
    return len(records[0]) if isinstance(records[0], list) else None


def _fail(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} {why}; {FRESH_ADVICE}")


def _read(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise _fail(path, f"is corrupt ({err.__class__.__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from err


def _unwrap(path: Path, record: dict[str, Any], meta: CheckpointMeta) -> dict[str, Any]:
    """The state inside a format-2 checkpoint, after checking its checksum and its meta."""
    payload = record.get("payload")
    if not isinstance(payload, bytes) or record.get("sha256") != _digest(payload):
        raise _fail(path, "is damaged (its contents do not match its checksum)")
    stored = record.get("meta") or {}
    if stored.get("config_key") != meta.config_key:
        raise _fail(path, "belongs to another configuration")
    if meta.code and stored.get("code") != meta.code:
        raise _fail(path, "was written by code whose numbers differ from the current code's "
                          "(numerics fingerprint changed)")
    if meta.num_tasks and stored.get("num_tasks") != meta.num_tasks:
        raise _fail(path, f"is for a run of {stored.get('num_tasks')} tasks, not "
                          f"{meta.num_tasks}")
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    if not isinstance(state, dict):
        raise _fail(path, "does not hold a training state")
    if tasks_done(state) != record.get("tasks_done"):
        raise _fail(path, f"holds {tasks_done(state)} task record(s) where it says "
                          f"{record.get('tasks_done')}")
    return state


def check_records(path: Path, state: dict[str, Any], meta: CheckpointMeta) -> None:
    """Every seed holds the records of tasks 0..n-1, in order, with n <= the run's tasks."""
    records = state.get("records")
    if not isinstance(records, list) or not records or not all(
            isinstance(r, list) for r in records):
        raise _fail(path, "holds no task records")
    n = len(records[0])
    if any(len(r) != n for r in records):
        raise _fail(path, f"holds different numbers of task records per seed "
                          f"({[len(r) for r in records]})")
    for seed_records in records:
        tasks = [r.get("task") if isinstance(r, dict) else None for r in seed_records]
        if tasks != list(range(n)):
            raise _fail(path, f"holds task records {tasks}, expected {list(range(n))}")
    if meta.num_tasks and n > meta.num_tasks:
        raise _fail(path, f"holds {n} task records for a run of {meta.num_tasks} tasks")
    if n == 0:
        raise _fail(path, "holds no finished task")


def load_checkpoint(path: Path, meta: CheckpointMeta | str) -> dict[str, Any] | None:
    """The saved state, None if there is none; :class:`CheckpointError` (one line naming the
    file and what is wrong) if it is corrupt, damaged, foreign, stale or inconsistent."""
    if not path.exists():
        return None
    meta = CheckpointMeta(meta) if isinstance(meta, str) else meta
    record = _read(path)
    if isinstance(record, dict) and record.get("lgm_checkpoint") == FORMAT:
        state = _unwrap(path, record, meta)
    elif isinstance(record, dict) and "lgm_checkpoint" not in record:
        state = record  # the first format: a bare state
        if state.get("config_key") != meta.config_key:
            raise _fail(path, "belongs to another configuration")
    else:
        raise _fail(path, "is not an lgm checkpoint (or one of a newer format)")
    if state.get("config_key") != meta.config_key:
        raise _fail(path, "belongs to another configuration")
    check_records(path, state, meta)
    return state


@contextmanager
def restoring_from(path: Path) -> Iterator[None]:
    """Errors while rebuilding a run from the checkpoint at ``path`` (a tensor of the wrong
    shape, a missing or extra key, a wrong number of codes) as one :class:`CheckpointError`
    line naming the file."""
    try:
        yield
    except CheckpointError:
        raise
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        first = lines[0] if lines else ""
        if isinstance(err, KeyError):
            what = f"lacks the entry {err}"
        elif "state_dict" in first:  # torch: a header line, then one line per problem
            what = f"does not fit the model ({'; '.join(lines[1:3])[:300]})"
        else:
            what = f"cannot be restored ({err.__class__.__name__}: {first[:300]})"
        raise _fail(path, what) from err
