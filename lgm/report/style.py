"""The book's one figure theme (applied by :func:`lgm.report.page.begin`, and by the toy
figures, whose pages have none) and its curves over seeds, drawn with seaborn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Colour, dashes (seaborn's form, "" solid) and marker of a method, on every page.
PALETTE = {"lifelong": "C0", "ewc": "C3", "vanilla": "C2", "full": "0.3", "upto": "C1",
           "ours": "C0", "local": "C3"}
DASHES = {"vanilla": (3.7, 1.6), "full": (1, 1.65), "upto": (1, 1.65)}
MARKERS = {"ours": "o", "local": "s"}


def theme() -> None:
    """seaborn's white grid, tab10 colours ("C0" the same everywhere) and DejaVu Sans (the font
    :func:`lgm.report.figures.wrapped` measures); sizes are the page's ``FIGURE_FONTS``."""
    import seaborn as sns

    sns.set_style("whitegrid", {"font.sans-serif": ["DejaVu Sans"]})
    sns.set_palette("tab10")


def _log_sd(values: Any) -> tuple[float, float]:
    """Mean ± sd, the lower end kept above 1 % of the mean (for a log axis)."""
    mean, sd = values.mean(), values.std()
    return max(mean - sd, mean * 1e-2), mean + sd


def spread(ax: Any, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
           colors: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None,
           log: bool = False, **kwargs: Any) -> None:
    """Each label's mean over seeds against x with a ±1 sample sd band (none with one seed), on
    ``ax`` (log y if ``log``), from ``curves``: label -> (x [n], values [seed, n]). Colours:
    ``colors``, else :data:`PALETTE`, else tab10's in order. No legend is drawn:
    ``ax.legend()`` names a curve ``names[label]`` (default: its label)."""
    import seaborn as sns

    labels, given = list(curves), {**PALETTE, **(colors or {})}
    rows = [(label, xi, v) for label, (x, values) in curves.items()
            for row in np.atleast_2d(values) for xi, v in zip(x, row, strict=True)]
    hue, x, y = (list(column) for column in zip(*rows, strict=True))
    sns.lineplot(x=x, y=y, hue=hue, style=hue, hue_order=labels, style_order=labels,
                 palette={lb: given.get(lb, f"C{i}") for i, lb in enumerate(labels)},
                 dashes={lb: DASHES.get(lb, "") for lb in labels},
                 markers={lb: MARKERS.get(lb, "o") for lb in labels},
                 errorbar=_log_sd if log else "sd", err_kws={"linewidth": 0}, ax=ax,
                 **{"markersize": 4, "markeredgewidth": 0, **kwargs})
    if ax.get_legend():  # none when every value is missing
        ax.get_legend().remove()
    for handle in ax.get_legend_handles_labels()[0]:
        handle.set_label((names or {}).get(handle.get_label(), handle.get_label()))
    ax.set(xlabel="", ylabel="", yscale="log" if log else "linear")
