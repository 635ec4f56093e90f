"""Device choice: CUDA when present, the CPU otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


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
