"""Table 2 of the KD paper (KD-based continual learning of a VAE): the page's figure, tables
and claims (the rules are :func:`lgm.experiments.kd_continual.table2_checks`, structured)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.experiments.kd_continual import (
    PAPER_ROW_OF,
    PAPER_TABLE2,
    SPLITS,
    TABLE_HEADER,
    table2_checks,
    table_rows,
)
from lgm.report.figures import MAX_WIDTH, shared_legend, suptitle
from lgm.report.page import Page
from lgm.report.tables import markdown_table

Values = dict[str, dict[str, tuple[float, float, float]]]


def figure(result: dict[str, Any], values: dict[str, Values], splits: Sequence[str],
           methods: Sequence[str], title: str, seed: int) -> tuple[Any, dict[str, list[Any]]]:
    """Per split: samples of M_old and of each method (old task left, new task right), and
    the FIDs before and after step 2 as bars; returns the figure and the bars' data."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(splits), 2, figsize=(MAX_WIDTH, 3.6 * len(splits) + 0.8),
                             squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1]}, constrained_layout=True)
    data: dict[str, list[Any]] = {"split": [], "method": [], "fid_old_before": [],
                                  "fid_old_after": [], "fid_new_after": []}
    for (ax_img, ax_bar), s in zip(axes, splits, strict=True):
        res = result["splits"][s]
        rows = [("M_old", res["before"][0]["arrays"]["samples_old"], None)] + [
            (m, res["methods"][m][0]["arrays"]["samples_old"],
             res["methods"][m][0]["arrays"]["samples_new"]) for m in methods]
        tiles = []
        for _, old, new in rows:  # M_old never saw condition 1: a grey placeholder
            right = new[:8] if new is not None else np.full_like(old[:8], 128)
            tiles.append(np.concatenate([*old[:8], *right], axis=-1).transpose(1, 2, 0))
        grid = np.concatenate(tiles, axis=0)
        ax_img.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0,
                      vmax=255)
        ax_img.set_yticks([16 + 32 * i for i in range(len(rows))], [r[0] for r in rows])
        ax_img.set_xticks([128, 384], ["condition 0 (old task)", "condition 1 (new task)"])
        ax_img.set_title(f"{SPLITS[s].label}: samples (seed {seed})", fontsize=12)
        x = np.arange(len(methods))
        old = [values[s][m]["fid"][0] for m in methods]
        before = [values[s][m]["fid"][0] - values[s][m]["fid"][1] for m in methods]
        new = [values[s][m]["fid"][2] for m in methods]
        ax_bar.bar(x - 0.27, before, 0.27, color="0.7", label="Old, M_old")
        ax_bar.bar(x, old, 0.27, color="C0", label="Old, after step 2")
        ax_bar.bar(x + 0.27, new, 0.27, color="C1", label="New, after step 2")
        ax_bar.set_xticks(x, list(methods))
        ax_bar.set_ylabel("FID (classifier features;\nlower is better)")
        for m, b, o, n in zip(methods, before, old, new, strict=True):
            data["split"].append(s)
            data["method"].append(m)
            data["fid_old_before"].append(b)
            data["fid_old_after"].append(o)
            data["fid_new_after"].append(n)
    shared_legend(fig, axes[0, 1])
    suptitle(fig, title)
    return fig, data


def tables(values: dict[str, Values], splits: Sequence[str], methods: Sequence[str],
           seeds: Sequence[int]) -> str:
    """Ours per split, and the paper's Table 2 row beside it where there is one."""
    blocks = []
    for s in splits:
        row = PAPER_ROW_OF.get(s, s)
        blocks.append(f"**Ours: {SPLITS[s].label}** (seeds {list(seeds)})\n\n"
                      + markdown_table(TABLE_HEADER, table_rows(values[s], tuple(methods))))
        if row in PAPER_TABLE2:
            blocks.append(f"**Paper, Table 2: {SPLITS[row].label}** (CelebA)\n\n"
                          + markdown_table(TABLE_HEADER, table_rows(PAPER_TABLE2[row])))
    return "\n\n".join(blocks)


def claims(page: Page, values: dict[str, Values], splits: Sequence[str]) -> None:
    """Every check of :func:`table2_checks` on every split, as claims."""
    for s in splits:
        for c in table2_checks(values[s]):
            status = c["status"]
            untested = status == "cannot be tested at this budget"
            page.check(f"Table 2: {c['claim']} ({SPLITS[s].label})", status == "holds",
                       "" if untested else c["detail"], rule=c["rule"],
                       untestable=c["detail"].rstrip(".") if untested else None,
                       paper_value="Table 2 (CelebA)")
