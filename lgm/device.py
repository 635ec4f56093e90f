"""Device choice (CUDA when present, the CPU otherwise) and the thread rule.

**The thread rule.** Every experiment family (the lifelong runs through
``lifelong.run_experiments``, the KD studies through their ``compute`` functions) trains on
``LGM_THREADS`` torch CPU threads, **one by default**. The models of both papers are small
(dense VAEs, 28x28 conv nets, tiny MLPs and chains): a second thread buys little on an idle
machine and costs a lot on a busy one, where the threads of one process wait for each other
behind another job. The measurements behind the rule (one and two threads, with and without
another job, on a 2-core machine) are in ``lgm/report/thread_times.json``
(``scripts/measure_threads.py``). Parallelism comes from stacking seeds into one model and
from running processes side by side, not from threads inside a small model.
``LGM_THREADS=n`` (a positive integer) overrides the default, e.g. on a dedicated many-core
machine training the paper preset's conv networks. The numerics fingerprints ignore it: they
always compute on one thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from lgm.errors import LgmError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> cuda if available else cpu; an explicit ``"cuda"`` without a GPU errors."""
    device = torch.device("cuda" if name == "auto" and torch.cuda.is_available() else
                          "cpu" if name == "auto" else name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU here; "
                         "use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use cpu, cuda or auto")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # static shapes: let cuDNN pick conv kernels
    return device


_FLUSHING = [0]  # nesting depth of cpu_threads blocks that flush denormals


@contextmanager
def cpu_threads(n: int | None = 1, device: str | torch.device | None = None) -> Iterator[None]:
    """Run a block with ``n`` CPU threads (``None``: leave the setting) and denormal floats
    flushed to zero. Small models run faster on one thread and leave the other cores alone;
    denormals otherwise doubled the time of a conv step. Both are restored when the block
    ends. With ``device`` on a GPU the block runs unchanged."""
    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    torch.set_flush_denormal(True)
    _FLUSHING[0] += 1
    try:
        yield
    finally:
        _FLUSHING[0] -= 1
        torch.set_num_threads(before)
        if not _FLUSHING[0]:
            torch.set_flush_denormal(False)


ENV = "LGM_THREADS"
DEFAULT = 1


class ThreadsSettingError(LgmError, ValueError):
    """``LGM_THREADS`` is not a positive integer (bad input: one line, exit 2)."""


def thread_count(environ: dict[str, str] | None = None) -> int:
    """The rule's torch CPU thread count: ``$LGM_THREADS`` when set, else :data:`DEFAULT`.
    A value that is not a positive integer is refused with one line naming the variable."""
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not value:
        return DEFAULT
    if not value.isdigit() or int(value) < 1:
        raise ThreadsSettingError(f"{ENV}={value!r}: expected a positive integer (torch CPU "
                                  f"threads per experiment; unset means {DEFAULT})")
    return int(value)


@contextmanager
def rule_threads(n: int | None = None) -> Iterator[None]:
    """Run a block on ``n`` torch CPU threads (None: :func:`thread_count`), restoring the
    previous count after. Only the thread count changes (no other floating-point setting),
    so a run's numbers are those of a run started at that count."""
    before = torch.get_num_threads()
    torch.set_num_threads(thread_count() if n is None else n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
