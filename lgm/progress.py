"""Progress bars (tqdm) that can be silenced with ``LGM_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def progress(iterable: Iterable[Any], **kwargs: Any) -> tqdm:
    """tqdm over ``iterable``; off when LGM_PROGRESS=0, on otherwise (also without a tty)."""
    disable = os.environ.get("LGM_PROGRESS", "1") == "0"
    return tqdm(iterable, disable=disable, dynamic_ncols=True, **kwargs)
