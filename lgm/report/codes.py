"""Pages that show the lifelong model code by code: Fig. 5 (transfer across datasets, decoded
z_c grids per code) and Fig. 6 (samples per code after every task)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.report.figures import MAX_WIDTH, panel_grid, suptitle, tile, wrapped
from lgm.report.page import Page
from lgm.report.tables import fmt, markdown_table, series


# ------------------------------------------------------------------------------------ Fig. 5
def transfer_figure(result: dict[str, Any], title: str) -> Any:
    """(a) test images and reconstructions of the final model (top row); (b, c, ...) the
    decoder over a grid of z_c for each code (below, at most three a row)."""
    import matplotlib.pyplot as plt

    names = [rec["name"] for rec in result["tasks"]]
    recon, grids = result["arrays"]["reconstructions"], result["arrays"]["interpolation"]
    cols = max(1, min(len(grids), 3))
    grid_rows = -(-len(grids) // cols)
    fig = plt.figure(figsize=(MAX_WIDTH, 4.0 + 4.4 * grid_rows), constrained_layout=True)
    spec = fig.add_gridspec(1 + grid_rows, cols, height_ratios=[0.9] + [1.0] * grid_rows)
    top = fig.add_subplot(spec[0, :])
    stacked = np.concatenate([recon[t] for t in range(len(recon))])  # x_0, x̂_0, x_1, x̂_1
    top.imshow(tile(stacked), cmap="gray", vmin=0, vmax=255)
    h = stacked.shape[-2]
    top.set_yticks(np.arange(len(stacked)) * h + h / 2)
    top.set_yticklabels([f"{names[t][:14]}\n{'test' if r == 0 else 'recon.'}"
                         for t in range(len(recon)) for r in (0, 1)], fontsize=11)
    top.set_xticks([])
    top.grid(False)  # the theme's grid would cross the images
    top.set_title("(a) test images and reconstructions, final model")
    for j in range(len(grids)):
        ax = fig.add_subplot(spec[1 + j // cols, j % cols])
        ax.imshow(tile(grids[j]), cmap="gray", vmin=0, vmax=255)
        added = f" (added at task {j + 1}: {names[j]})" if j < len(names) else ""
        ax.set_title(wrapped(f"({'bcdefg'[j]}) z_d = code {j}{added}", MAX_WIDTH / cols - 0.3,
                             12) + "\nz_c over [-3, 3]²", fontsize=12)
        ax.axis("off")
    suptitle(fig, title)
    return fig


def reconstruction_errors(results: Sequence[dict[str, Any]]) -> np.ndarray:
    """Seeds x tasks mean squared pixel error (0–1 scale) of the final model's
    reconstructions."""
    return np.array([np.mean((r["arrays"]["reconstructions"][:, 0].astype(float)
                              - r["arrays"]["reconstructions"][:, 1].astype(float)) ** 2,
                             axis=(1, 2, 3, 4)) / 255**2 for r in results])


def transfer_table(results: Sequence[dict[str, Any]]) -> str:
    names = [rec["name"] for rec in results[0]["tasks"]]
    elbo, epochs = series(list(results), "neg_elbo"), series(list(results), "epochs")
    mse = reconstruction_errors(results).mean(axis=0)
    return (markdown_table(["after task", "−ELBO (tests seen so far)", "epochs"],
                           [[f"{t + 1}: {names[t]}", fmt(elbo[:, t]), fmt(epochs[:, t])]
                            for t in range(len(names))])
            + "\n\nMean squared pixel error (0–1 scale) of the final model's reconstructions "
            "in panel (a): " + ", ".join(f"{names[t]} {mse[t]:.4f}" for t in range(len(names)))
            + ".")


def transfer_claims(page: Page, results: Sequence[dict[str, Any]], stand_in: bool) -> str:
    """Fig. 5a: the final model still reconstructs the first dataset (its error at most twice
    the second's). Returns the observation on whether the codes differ (no verdict)."""
    mse = reconstruction_errors(results).mean(axis=0)
    where = " (stand-in Fashion-MNIST → MNIST)" if stand_in else ""
    page.check(f"Fig. 5a: the final model still reconstructs the first dataset{where}",
               mse[0] <= 2 * mse[-1], f"error {mse[0]:.4f} on task 1 vs {mse[-1]:.4f} on task 2",
               rule="at most twice")
    grids = results[0]["arrays"]["interpolation"]
    gap = np.abs(grids[0].astype(float) - grids[-1].astype(float)).mean() / 255
    return (f"Common continuous structure: compare panels (b) and (c) by eye. Do the codes "
            f"differ at all? Mean absolute pixel difference between the grids of code 0 and code "
            f"{len(grids) - 1}: {gap:.3f} (0 to 1). Near 0, the decoder ignores z_d and z_c "
            "alone separates the two distributions: the factorisation of section 4.2 is then "
            "not at work at this budget.")


# ------------------------------------------------------------------------------------ Fig. 6
def per_code_figure(result: dict[str, Any], title: str) -> Any:
    """One panel per task: the samples of every code (one row per code) after that task."""
    arrays, names = result["arrays"], [rec["name"] for rec in result["tasks"]]
    n_tasks = len(result["tasks"])
    per_task = [arrays[f"samples_task{t}"] for t in range(n_tasks)]
    j_max, n, _, h, _ = per_task[-1].shape
    cols = min(4, n_tasks)  # at most MAX_WIDTH wide: 2.85 in a panel
    fig, axes = panel_grid(n_tasks, panel_width=2.85, panel_height=3.1 * j_max / n + 0.2,
                           max_cols=cols)
    for t, (ax, s) in enumerate(zip(axes, per_task, strict=True)):
        padded = np.zeros((j_max, *s.shape[1:]), dtype=s.dtype)  # unused codes: black rows
        padded[: len(s)] = s
        ax.imshow(tile(padded), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"after task {t + 1} ({len(s)} code{'s' if len(s) > 1 else ''})",
                     fontsize=12)
        ax.set_xticks([])
        ax.set_yticks(np.arange(j_max) * h + h / 2)
        ax.set_yticklabels([f"{j}: {names[j][:9]}" if j < len(names) else str(j)
                            for j in range(j_max)] if t % cols == 0 else [], fontsize=10)
        ax.tick_params(length=0)
        ax.grid(False)  # the theme's grid would cross the images
    suptitle(fig, title)
    return fig


def code_drift(results: Sequence[dict[str, Any]]) -> str:
    """Per seed, how much each code's samples changed from the task that added it to the end
    (mean absolute pixel difference, 0 to 1)."""
    lines = []
    for result in results:
        arrays, names = result["arrays"], [rec["name"] for rec in result["tasks"]]
        last = len(result["tasks"]) - 1
        final = arrays[f"samples_task{last}"].astype(float) / 255
        drift = [np.abs(arrays[f"samples_task{j}"][j].astype(float) / 255 - final[j]).mean()
                 for j in range(last + 1)]
        lines.append(f"- seed {result['config']['seed']}: code (class of the task that added "
                     "it) → change from then to the end: "
                     + ", ".join(f"{j} ({names[j]}) {d:.3f}" for j, d in enumerate(drift)) + ".")
    return "\n".join(lines)
