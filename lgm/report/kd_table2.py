"""Table 2 of the KD paper (KD-based continual learning of a VAE): the page's figure, tables
and claims (section 4.4's four claims as data: :func:`table2_checks`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.experiments.kd_continual import (
    METHODS,
    PAPER_ROW_OF,
    PAPER_TABLE2,
    SPLITS,
    TABLE_METRICS,
)
from lgm.report.figures import MAX_WIDTH, shared_legend, suptitle
from lgm.report.page import Page
from lgm.report.tables import markdown_table

Values = dict[str, dict[str, tuple[float, float, float]]]


def table_rows(values: dict[str, dict[str, tuple[float, float, float]]],
               methods: tuple[str, ...] = METHODS) -> list[list[str]]:
    """Rows "method | FID Old(change) | FID New | EMD ... | 1NN New", as the paper prints."""
    rows = []
    for method in methods:
        if method not in values:
            continue
        cells = []
        for m in TABLE_METRICS:
            old, change, new = values[method][m]
            cells += [f"{old:.2f} ({change:+.2f})", f"{new:.2f}"]
        rows.append([method, *cells])
    return rows


TABLE_HEADER = ["method", "FID Old", "FID New", "EMD Old", "EMD New", "MMD Old", "MMD New",
                "1NN Old", "1NN New"]


def table2_checks(values: dict[str, dict[str, tuple[float, float, float]]]
                  ) -> list[dict[str, str]]:
    """Section 4.4's four claims on one split's :func:`summary`, as data: each a dict with
    ``claim``, ``rule``, ``status`` ("holds", "does not hold", or "cannot be tested at this
    budget" when a method it compares was not run) and ``detail`` (the numbers used)."""
    have = set(values)

    def check(claim: str, rule: str, needed: set[str], test: Any, detail: Any
              ) -> dict[str, str]:
        if not needed <= have:
            return {"claim": claim, "rule": rule, "status": "cannot be tested at this budget",
                    "detail": f"needs {', '.join(sorted(needed - have))}."}
        return {"claim": claim, "rule": rule,
                "status": "holds" if test() else "does not hold", "detail": detail()}

    def fid(method: str, k: int) -> float:
        return values[method]["fid"][k]

    def best_old() -> list[str]:
        return [m for m in TABLE_METRICS
                if values["ours"][m][0] <= min(values[o][m][0] for o in have)]

    replay = {"curl", "lgm"}
    return [
        check("Old: ours preserves the old distribution best of the four methods",
              "ours has the lowest Old value on at least 3 of the 4 metrics", set(METHODS),
              lambda: len(best_old()) >= 3,
              lambda: f"Lowest on {', '.join(best_old()) or 'none'}; Old FID " + ", ".join(
                  f"{m} {fid(m, 0):.3f}" for m in METHODS) + "."),
        check("Old: generative replay (CURL, LGM) degrades the old distribution more than "
              "ours", "ours' change of Old FID is below both CURL's and LGM's",
              {"ours"} | replay, lambda: all(fid("ours", 1) < fid(m, 1) for m in replay),
              lambda: "Change of Old FID " + ", ".join(
                  f"{m} {fid(m, 1):+.3f}" for m in ("ours", "curl", "lgm")) + "."),
        check("New: ours is comparable to LGM and CURL",
              "ours' New FID at most 10 % above the better of LGM and CURL",
              {"ours"} | replay, lambda: fid("ours", 2) <= 1.1 * min(fid(m, 2) for m in replay),
              lambda: "New FID " + ", ".join(f"{m} {fid(m, 2):.3f}"
                                             for m in ("ours", "curl", "lgm")) + "."),
        check("New: local distillation learns the new distribution worse than ours",
              "local's New FID above ours'", {"ours", "local"},
              lambda: fid("local", 2) > fid("ours", 2),
              lambda: f"New FID local {fid('local', 2):.3f}, ours {fid('ours', 2):.3f}."),
    ]


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
        ax_img.grid(False)
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
