"""Device choice: CUDA when present, the CPU otherwise."""

from __future__ import annotations

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
