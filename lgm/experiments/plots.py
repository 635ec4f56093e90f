"""The one plot most pages draw: a per-task metric, mean over seeds with a ±1 std band."""

from __future__ import annotations

from typing import Any

import numpy as np

from lgm.experiments.report import band, series

METHOD_STYLE = {"lifelong": ("C0", "-"), "ewc": ("C3", "-"), "vanilla": ("C2", "--"),
                "full": ("0.3", ":"), "upto": ("C1", ":")}


def curve_with_band(ax: Any, results: list[dict[str, Any]], key: str, *, label: str,
                    color: str | None = None, ls: str | None = None) -> np.ndarray:
    """Plot metric ``key`` per task (x = 1..T) of ``results``; returns x.

    The style of a method name comes from :data:`METHOD_STYLE` unless given.
    """
    default_color, default_ls = METHOD_STYLE.get(label, (None, "-"))
    color, ls = color or default_color, ls or default_ls
    mean, std = band(series(results, key))
    x = np.arange(1, len(mean) + 1)
    ax.plot(x, mean, ls, color=color, marker="o", ms=3.5, label=label)
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, lw=0)
    return x
