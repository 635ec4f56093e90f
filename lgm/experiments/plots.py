"""The one plot most pages draw: a per-task metric, mean over seeds with a ±1 std band."""

from __future__ import annotations

from pathlib import Path
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


def finish_axis(ax: Any, title: str, xlabel: str, x: np.ndarray) -> None:
    """Title, x label, one tick per task, grid and legend: every per-task panel's frame."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_xticks(x if len(x) <= 10 else x[::2])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def sequential_figure(results: dict[str, list[dict[str, Any]]], methods: list[str], *,
                      max_epochs: int, xlabel: str, title: str, path: Path) -> Any:
    """Figure 3's layout: (a) -ELBO, (b) log-Fréchet per task for ``methods``, (c) epochs to
    early stopping for lifelong and EWC; saved to ``path``."""
    import matplotlib.pyplot as plt

    panels = [("neg_elbo", "(a) negative test ELBO", methods),
              ("log_frechet", "(b) log-Fréchet distance", methods),
              ("epochs", "(c) epochs to early stopping",
               [m for m in methods if m in ("lifelong", "ewc")])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for ax, (key, panel_title, shown) in zip(axes, panels, strict=True):
        for m in shown:
            x = curve_with_band(ax, results[m], key, label=m)
        finish_axis(ax, panel_title, xlabel, x)
    axes[2].axhline(max_epochs, color="0.5", lw=0.8, ls="--")
    axes[2].annotate(f"max_epochs = {max_epochs}", (1, max_epochs), xytext=(2, -10),
                     textcoords="offset points", fontsize=8, color="0.4")
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return fig
