"""Where the two papers meet: the lifelong consistency regulariser as the KD paper's latent
distillation term (identities), and the two methods on the same task (an observation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lgm.experiments.kd_bridge import neg_elbo_curve
from lgm.report.figures import wrapped
from lgm.report.page import Page
from lgm.report.style import spread
from lgm.report.tables import band, fmt, markdown_table

STYLE = {"lifelong": "C0", "kd (ours)": "C3", "vanilla": "0.5", "ewc": "C2", "upto": "C4",
         "full": "C5"}
TOLERANCE = 1e-9


def equality_table(rows: Sequence[dict[str, Any]]) -> str:
    """The two implementations of the regulariser and torch.distributions, per row."""
    return markdown_table(
        ["direction", "teacher codes", "student codes", "mean KL (nats)",
         "largest difference, consistency_kl vs divergence",
         "largest difference, divergence vs torch.distributions"],
        [[r["direction"], r["teacher_codes"], r["student_codes"], f"{r['mean_kl']:.4f}",
          f"{r['max_abs_diff']:.1e}", f"{r['max_abs_diff_torch']:.1e}"] for r in rows])


def curves(runs: Mapping[str, list[dict[str, Any]]]) -> dict[str, np.ndarray]:
    """Seeds x tasks −ELBO of each method."""
    return {label: neg_elbo_curve(r) for label, r in runs.items()}


def curves_figure(found: Mapping[str, np.ndarray], title: str) -> tuple[Any, dict]:
    """−ELBO per task of each method, mean ± std; and the figure's data."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6), constrained_layout=True)
    data: dict[str, list[Any]] = {"method": [], "task": [], "neg_elbo_mean": [],
                                  "neg_elbo_std": []}
    for label, values in found.items():
        mean, std = band(values)
        data["method"] += [label] * len(mean)
        data["task"] += list(range(1, len(mean) + 1))
        data["neg_elbo_mean"] += mean.tolist()
        data["neg_elbo_std"] += std.tolist()
    spread(ax, {label: (np.arange(1, v.shape[1] + 1), v) for label, v in found.items()},
           colors=STYLE)
    ax.set_xticks(sorted(set(data["task"])))
    ax.set_xlabel("number of distributions seen")
    ax.set_ylabel("negative test ELBO (nats, cumulative test set)")
    ax.set_title(wrapped(title, fig.get_figwidth() - 0.4))
    ax.legend()
    return fig, data


def curves_table(found: Mapping[str, np.ndarray]) -> str:
    n_tasks = min(v.shape[1] for v in found.values())
    return markdown_table(["method"] + [f"task {t + 1}" for t in range(n_tasks)],
                          [[label] + [fmt(v[:, t]) for t in range(n_tasks)]
                           for label, v in found.items()])


def claims(page: Page, rows: Sequence[dict[str, Any]],
           found: Mapping[str, np.ndarray]) -> str:
    """Two identities (the regulariser is the latent term; the two directions differ), and the
    observation of part 2 (not a claim of either paper), returned as a sentence."""
    worst = max(max(r["max_abs_diff"], r["max_abs_diff_torch"]) for r in rows)
    page.check("The lifelong consistency regulariser is the KD paper's latent distillation "
               "term with d = reverse KL", worst < TOLERANCE, f"largest difference {worst:.1e}",
               rule=f"the two implementations and torch.distributions agree to {TOLERANCE:g}",
               kind="identity", paper_value="identity (both papers)")
    differ = all(abs(a["mean_kl"] - b["mean_kl"]) > 1e-3
                 for a, b in zip(rows[::2], rows[1::2], strict=True))
    page.check("Appendix 7.9's two directions are different regularisers", differ,
               "mean KLs of the two directions per row: " + ", ".join(
                   f"{a['mean_kl']:.3f}/{b['mean_kl']:.3f}"
                   for a, b in zip(rows[::2], rows[1::2], strict=True)),
               rule="their mean KLs differ by more than 1e-3 nats on every row",
               kind="identity", paper_value="identity (both papers)")
    last = {label: float(v[:, -1].mean()) for label, v in found.items()}
    side = "below" if last.get("kd (ours)", np.inf) < last.get("lifelong", np.inf) else "above"
    return ("Observation (part 2, no verdict): after the last task, negative test ELBO "
            + ", ".join(f"{k} {v:.1f}" for k, v in last.items())
            + f"; this paper's distillation is {side} the lifelong method on this task and "
            "budget.")
