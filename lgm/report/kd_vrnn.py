"""Fig. 8 of the KD paper (data-free VRNN compression on handwriting): strokes, training
curves, the numbers and the claim rules. Results: one
:func:`lgm.experiments.kd_vrnn.run_kd_vrnn` result per seed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.data.strokes import offsets_to_strokes
from lgm.report.figures import MAX_WIDTH, suptitle
from lgm.report.page import Page
from lgm.report.tables import fmt, markdown_table

PAPER = {"teacher": "readable strokes", "ours": "comparable to the teacher",
         "local": "less readable", "scratch": "less readable"}
COMPARABLE = 1.25  # ours' MMD at most 25 % above the teacher's


def metric(results: Sequence[dict[str, Any]], model: str, key: str) -> np.ndarray:
    return np.array([r["metrics"][model].get(key, np.nan) for r in results], dtype=float)


def mean(results: Sequence[dict[str, Any]], model: str, key: str) -> float:
    return float(np.nanmean(metric(results, model, key)))


def strokes_figure(arrays: dict[str, np.ndarray], models: Sequence[str], title: str) -> Any:
    """Held-out data and each model's samples, the same noise in each column."""
    import matplotlib.pyplot as plt

    rows = [("data", "held-out data")] + [(m, m) for m in models]
    n_cols = arrays["samples_teacher"].shape[0]
    scale = min(1.0, MAX_WIDTH / (2.0 * n_cols))  # at most MAX_WIDTH wide
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.0 * n_cols * scale,
                                                         1.35 * len(rows) * scale + 0.6),
                             squeeze=False, constrained_layout=True)
    for r, (key, label) in enumerate(rows):
        for c in range(n_cols):
            seq = (arrays["data_examples"][c, : int(arrays["data_lengths"][c])]
                   if key == "data" else arrays[f"samples_{key}"][c])
            ax = axes[r, c]
            for stroke in offsets_to_strokes(seq):
                ax.plot(stroke[:, 0], stroke[:, 1], "k-", lw=1.2)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    suptitle(fig, title)
    return fig


def curves_figure(arrays: dict[str, np.ndarray]) -> tuple[Any, dict[str, list[Any]]]:
    """−ELBO per step of teacher and scratch; distillation losses of ours and local."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    data: dict[str, list[Any]] = {"model": [], "step": [], "loss": []}
    for ax, pairs in ((a1, (("teacher", "C0"), ("scratch", "C3"))),
                      (a2, (("ours", "C2"), ("local", "C1")))):
        for key, color in pairs:
            if f"loss_{key}" in arrays:
                loss = np.asarray(arrays[f"loss_{key}"], dtype=float)
                ax.plot(loss, color=color, label=key)
                data["model"] += [key] * len(loss)
                data["step"] += list(range(len(loss)))
                data["loss"] += loss.tolist()
    for ax, title in ((a1, "−ELBO per step (training)"), (a2, "distillation loss per step")):
        ax.set_title(title)
        ax.set_xlabel("Adam step")
        ax.legend()
    return fig, data


def numbers_table(results: Sequence[dict[str, Any]], models: Sequence[str],
                  seeds: Sequence[int]) -> str:
    rows = []
    for m in models:
        own_q = fmt(metric(results, m, "nll_joint"), 3) if m in ("teacher", "scratch") else "–"
        rows.append([m, PAPER[m], f"{int(metric(results, m, 'params')[0]):,}",
                     fmt(metric(results, m, "nll"), 3), own_q, fmt(metric(results, m, "mmd"), 3),
                     fmt(metric(results, m, "kl_teacher"), 4),
                     fmt(metric(results, m, "path_teacher"), 1)])
    rows.append(["data (train vs held-out)", "", "", "", "",
                 fmt(metric(results, "data", "mmd"), 3), "", ""])
    return (markdown_table(["model", "paper (Fig. 8)", "parameters", "NLL bound", "NLL, own q",
                            "MMD", "KL from teacher", "drift from teacher"], rows)
            + f"\n\nseeds {list(seeds)}.")


def claims(page: Page, results: Sequence[dict[str, Any]], models: Sequence[str]) -> None:
    """Ours against the baselines (MMD, NLL bound, drift and KL from the teacher: lower than
    every baseline) and against the teacher (MMD at most 25 % above)."""
    students = [m for m in ("ours", "local", "scratch") if m in models]
    if "ours" not in models or len(students) < 2:
        page.check("Fig. 8: ours against the baselines", False, "",
                   untestable="some students were not run")
        return
    others = [m for m in students if m != "ours"]
    checks = [("draws clearer strokes than the baselines", "lower MMD than every baseline",
               "mmd", 3),
              ("has a better likelihood than the baselines",
               "lower NLL bound than every baseline", "nll", 3),
              ("draws what the teacher draws", "smallest drift from the teacher among the "
               "students", "path_teacher", 1),
              ("is closest to the teacher on eq. 4", "lowest KL from the teacher among the "
               "students", "kl_teacher", 4)]
    for claim, rule, key, digits in checks[:2]:
        page.check(f"Fig. 8: ours {claim}",
                   all(mean(results, "ours", key) < mean(results, o, key) for o in others),
                   ", ".join(f"{m} {mean(results, m, key):.{digits}f}" for m in students),
                   rule=rule, paper_value=PAPER["ours"] if key == "mmd" else "")
    ratio = mean(results, "ours", "mmd") / mean(results, "teacher", "mmd")
    page.check("Fig. 8: ours is comparable to the teacher", ratio <= COMPARABLE,
               f"ours {mean(results, 'ours', 'mmd'):.3f} vs teacher "
               f"{mean(results, 'teacher', 'mmd'):.3f} (ratio {ratio:.2f})",
               rule=f"MMD at most {100 * (COMPARABLE - 1):.0f} % above the teacher's",
               paper_value=PAPER["ours"])
    for claim, rule, key, digits in checks[2:]:
        page.check(f"Fig. 8: ours {claim}",
                   all(mean(results, "ours", key) < mean(results, o, key) for o in others),
                   ", ".join(f"{m} {mean(results, m, key):.{digits}f}" for m in students),
                   rule=rule)
