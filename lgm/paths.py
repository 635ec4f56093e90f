"""Where lgm writes: checkpoints, the classifier cache and results.

``LGM_CACHE`` sets the root; otherwise ``<repo>/runs`` in a source checkout, else
``~/.cache/lgm``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    """The folder lgm writes under (created on demand)."""
    env = os.environ.get("LGM_CACHE")
    if env:
        root = Path(env)
    elif (REPO_ROOT / "pyproject.toml").exists():
        root = REPO_ROOT / "runs"
    else:
        root = Path.home() / ".cache" / "lgm"
    root.mkdir(parents=True, exist_ok=True)
    return root
