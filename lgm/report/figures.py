"""The book's shared figures: per-task curves, Figure 3's layout, image tilers, and every
figure saved with its data (PNG + CSV side by side, the CSV downloadable from the page)."""

from __future__ import annotations

import base64
import csv
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lgm.report.style import spread
from lgm.report.tables import band, series

DPI = 150
#: The widest a book figure may be, in inches. A figure fills the book's text
#: column, 772 px wide in a 1400 px window, so ``pt``-point text shows as
#: ``pt * 772 / (72 * width)`` px: at 11.5 in, matplotlib's default 10 pt shows 9.3 px, above
#: the 9 px that ``tests/test_book_browser.py`` asks for.
MAX_WIDTH = 11.5
#: Width (px) of the book's text column at a 1400 px window.
COLUMN_PX = 772
#: CSVs larger than this are saved but not embedded in the page.
EMBED_LIMIT = 1_500_000


def text_px(pt: float, width_in: float) -> float:
    """On-screen height (px) of ``pt``-point text in a figure ``width_in`` inches wide shown
    across the text column (the PNG's dpi cancels)."""
    return pt * COLUMN_PX / (72 * width_in)


def wrapped(text: str, width_in: float, pt: float | str | None = None) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``pt`` points (default: the
    axes title size), each line of an already multi-line text wrapped on its own. A character
    of DejaVu Sans is at most about 0.6 em wide on average."""
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=rcParams["axes.titlesize"] if pt is None else pt
                          ).get_size_in_points()
    chars = max(12, int(width_in * 72 / (0.6 * size)))
    return "\n".join("\n".join(textwrap.wrap(line, chars)) or line
                     for line in text.split("\n"))


def suptitle(fig: Any, title: str) -> None:
    """``fig``'s title, wrapped to its width (a title wider than the figure would widen the
    shown image and shrink its text)."""
    from matplotlib import rcParams

    fig.suptitle(wrapped(title, fig.get_figwidth() - 0.4, rcParams["figure.titlesize"]))


def panel_grid(n: int, *, panel_width: float, panel_height: float, max_cols: int = 3,
               **kwargs: Any) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels, at most ``max_cols`` a row and at most :data:`MAX_WIDTH`
    inches wide (panels narrower than ``panel_width`` when needed); unused slots removed.
    Returns the figure and its ``n`` axes, row by row."""
    import matplotlib.pyplot as plt

    cols = max(1, min(n, max_cols))
    rows = math.ceil(n / cols)
    width = min(MAX_WIDTH, panel_width * cols)
    height = panel_height * max(0.85, width / (panel_width * cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows + 0.4), squeeze=False,
                             constrained_layout=True, **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        fig.delaxes(ax)
    for i in range(max(0, n - cols), n):  # the last panel of each column keeps its x ticks
        flat[i].xaxis.set_tick_params(labelbottom=True)
    return fig, flat[:n]


def bottom_panels(n: int, cols: int) -> list[int]:
    """Indices of the last panel of each column of :func:`panel_grid`'s ``n`` panels."""
    return list(range(max(0, n - min(n, cols)), n))


def shared_legend(fig: Any, ax: Any, **kwargs: Any) -> None:
    """One legend for the figure, under its panels, from ``ax``'s curves (instead of
    ``ax``'s own legend)."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend():
        ax.get_legend().remove()
    if handles:
        kwargs.setdefault("ncol", min(len(labels), 5))
        fig.legend(handles, labels, loc="outside lower center", frameon=False, **kwargs)


def per_task_panel(ax: Any, results: Mapping[str, list[dict[str, Any]]], labels: Sequence[str],
                   key: str, title: str, xlabel: str, **kwargs: Any) -> None:
    """Metric ``key`` per task (x = 1..T, one tick per task, every other beyond 10) of each
    label's runs, mean ± std over seeds (``kwargs`` to :func:`lgm.report.style.spread`)."""
    curves = {lb: (np.arange(1, v.shape[1] + 1), v)
              for lb in labels for v in [series(results[lb], key)]}
    spread(ax, curves, markersize=3.5, **kwargs)
    x = max((x for x, _ in curves.values()), key=len)
    ax.set(title=title, xlabel=xlabel, xticks=x if len(x) <= 10 else x[::2])


def per_task_table(results: Mapping[str, list[dict[str, Any]]],
                   keys: Sequence[str]) -> dict[str, list[Any]]:
    """The data of a per-task figure as columns: method, task, and mean/std of each key."""
    cols: dict[str, list[Any]] = {"method": [], "task": []}
    for key in keys:
        cols[f"{key}_mean"], cols[f"{key}_std"] = [], []
    for method, runs in results.items():
        stats = {key: band(series(runs, key)) for key in keys}
        n = len(next(iter(stats.values()))[0])
        for t in range(n):
            cols["method"].append(method)
            cols["task"].append(t + 1)
            for key in keys:
                cols[f"{key}_mean"].append(float(stats[key][0][t]))
                cols[f"{key}_std"].append(float(stats[key][1][t]))
    return cols


def sequential_figure(results: dict[str, list[dict[str, Any]]], methods: list[str], *,
                      max_epochs: int, xlabel: str, title: str, path: Path | None = None) -> Any:
    """Figure 3's layout: (a) -ELBO, (b) log-Fréchet per task for ``methods``, (c) epochs to
    early stopping for lifelong and EWC, in one row over one legend; saved to ``path`` (if
    given) with its data as CSV beside it."""
    panels = [("neg_elbo", "(a) negative test ELBO", methods),
              ("log_frechet", "(b) log-Fréchet distance", methods),
              ("epochs", "(c) epochs to early stopping",
               [m for m in methods if m in ("lifelong", "ewc")])]
    fig, axes = panel_grid(3, panel_width=5.0, panel_height=4.0)
    for ax, (key, panel_title, shown) in zip(axes, panels, strict=True):
        per_task_panel(ax, results, shown, key, panel_title, xlabel)
    shared_legend(fig, axes[0])
    axes[2].axhline(max_epochs, color="0.5", lw=0.8, ls="--")
    axes[2].annotate(f"max_epochs = {max_epochs}", (1, max_epochs), xytext=(2, -10),
                     textcoords="offset points", color="0.4")
    suptitle(fig, title)
    if path is not None:
        save_figure(fig, path, per_task_table({m: results[m] for m in methods},
                                              ["neg_elbo", "log_frechet", "epochs"]))
    return fig


# ------------------------------------------------------------------------------ image tilers
def tile(images: np.ndarray) -> np.ndarray:
    """``[R, K, C, H, W]`` uint8 -> one ``[R*H, K*W]`` (grey) or ``[R*H, K*W, 3]`` image."""
    r, k, c, h, w = images.shape
    out = images.transpose(0, 3, 1, 4, 2).reshape(r * h, k * w, c)
    return out[..., 0] if c == 1 else out


def image_row(grid: np.ndarray) -> np.ndarray:
    """``[n, C, H, W]`` uint8 -> one ``[H, n*W, 3]`` RGB strip (grey images repeated)."""
    grid = grid if grid.shape[1] == 3 else np.repeat(grid, 3, axis=1)
    return np.concatenate(list(grid.transpose(0, 2, 3, 1)), axis=1)


# ------------------------------------------------------------------------- figures with data
def write_csv(path: Path, columns: Mapping[str, Sequence[Any]]) -> Path:
    """Columns of equal length as a CSV file (a clear error naming a short column)."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"CSV columns of unequal length: {lengths}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{v:.6g}" if isinstance(v, float | np.floating) else v
                             for v in row])
    return path


def download_link(path: Path, label: str | None = None) -> str:
    """An HTML link that downloads the file from the page itself (a data URI: it works from
    ``file://`` and needs no copy in the built book); too large a file is only named."""
    data = path.read_bytes()
    label = label or f"Download the data of this figure ({path.name})"
    if len(data) > EMBED_LIMIT:
        return f"<p>Data of this figure: <code>{path.name}</code> (too large to embed).</p>"
    b64 = base64.b64encode(data).decode()
    return (f'<p><a download="{path.name}" href="data:text/csv;base64,{b64}">'
            f"⬇ {label}</a></p>")


def save_figure(fig: Any, path: Path, data: Mapping[str, Sequence[Any]] | None = None) -> Path:
    """Save ``fig`` as PNG at :data:`DPI` and its ``data`` as a CSV of the same stem beside
    it; returns the CSV path (or the PNG's when there is no data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    if data is None:
        return path
    return write_csv(path.with_suffix(".csv"), data)


def per_task_figure(results: Mapping[str, list[dict[str, Any]]], labels: Sequence[str],
                    panels: Sequence[tuple[str, str]], *, title: str,
                    xlabel: str = "number of distributions seen",
                    colors: Mapping[str, str] | None = None,
                    legend: Mapping[str, str] | None = None) -> tuple[Any, dict[str, list[Any]]]:
    """One panel per ``(metric key, panel title)``, one curve with its ±1 std band per label;
    returns the figure and its data (for :func:`save_figure`). At most three panels a row,
    over one legend; ``fig.axes`` are the panels in order."""
    fig, axes = panel_grid(len(panels), panel_width=5.6, panel_height=4.0)
    for ax, (key, panel_title) in zip(axes, panels, strict=True):
        per_task_panel(ax, results, labels, key, panel_title, xlabel, names=legend,
                       colors=colors)
    shared_legend(fig, axes[0])
    suptitle(fig, title)
    return fig, per_task_table({lb: results[lb] for lb in labels}, [k for k, _ in panels])
