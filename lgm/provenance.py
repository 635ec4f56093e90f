"""Provenance of a result: code version, device, library versions, wall time."""

from __future__ import annotations

import platform
import subprocess
import time
from typing import Any

import torch

from lgm.paths import REPO_ROOT


def git_commit() -> str:
    """Short commit of the source checkout, with ``+dirty`` for uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "lgm")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


#: The commit of the code this process imported: what a result records, since a run of hours
#: may end after the checkout has moved on (its numerics fingerprint still guards the result).
LOADED_COMMIT = git_commit()


def describe_device(device: torch.device) -> str:
    """'cpu (N threads)' or the CUDA device name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"


def provenance(device: torch.device, started: float) -> dict[str, Any]:
    """What a result file records about how it was made."""
    return {
        "git_commit": LOADED_COMMIT,  # the code that ran
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_s": round(time.time() - started, 2),
    }
