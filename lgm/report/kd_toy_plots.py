"""Figures of the toy error-accumulation pages (KD paper, Fig. 2 and Fig. 5): the KL against the
depth L (exact and estimated, bands over seeds), the mechanism (per-layer errors, their sum and
the output KL), the output laws, and the readings side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lgm.experiments.kd_toy import READINGS
from lgm.report.figures import MAX_WIDTH, panel_grid, suptitle, wrapped
from lgm.report.kd_toy_verdicts import reading_verdict, summary
from lgm.report.style import MARKERS, PALETTE, spread, theme


def _curves(result: dict[str, Any], key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per method: the depths L and ``key`` per seed and depth."""
    return {m: (row["layers"], row["values"]) for m, row in summary(result, key).items()}


def toy_figure(result: dict[str, Any], title: str, path: Path) -> Any:
    """(a) exact KL(teacher y || student y) against L, mean ± sd over seeds; (b) the paper's
    density-ratio estimate, mean ± sd over seeds, the exact mean dashed; (c) the per-layer
    errors of the deepest students; (d) their sum (the joint KL) and the output KL against L;
    (e) the exact output laws of the deepest chain (first seed); (f) the training loss.
    Three rows of two panels, at most :data:`MAX_WIDTH` wide, under the book's theme (the
    toy pages have no :func:`lgm.report.page.begin`). Saved to ``path``."""
    theme()
    cfg, arrays = result["config"], result["arrays"]
    chain, deepest = cfg["chain"], max(cfg["layers"])
    exact, joint = summary(result, "kl_exact"), summary(result, "kl_joint")
    fig, axes = panel_grid(6, panel_width=MAX_WIDTH / 2, panel_height=4.1, max_cols=2)
    ax = axes[0]
    spread(ax, _curves(result, "kl_exact"), log=True)
    ax.set(xlabel="number of latent layers L", ylabel="exact KL(teacher y || student y), nats",
           title="(a) accumulated error, exact")
    ax = axes[1]
    spread(ax, _curves(result, "kl_est"), names={m: f"{m} (estimate)" for m in exact})
    for m, row in exact.items():
        ax.plot(row["layers"], row["mean"], color=PALETTE[m], ls="--", lw=1, label=f"{m} (exact)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel="number of latent layers L", ylabel="KL, nats",
           title="(b) as the paper measures it: density-ratio estimate")
    ax = axes[2]
    j = np.arange(1, deepest + 1)
    spread(ax, {m: (j, arrays[f"layer_error_{m}"][:, -1, :])  # [seed, J] at the largest L
                for m in cfg["methods"]}, log=True)
    ax.set(xlabel="conditional j (1 = z_2 | z_1, L = y | z_L)",
           ylabel="E_teacher KL(conditional), nats",
           title=f"(c) per-layer error of the L = {deepest} students")
    ax = axes[3]
    for m in cfg["methods"]:
        style = {"color": PALETTE[m], "marker": MARKERS[m], "ms": 3}
        ax.plot(joint[m]["layers"], joint[m]["mean"], ls=":", **style,
                label=f"{m}: sum of per-layer errors (joint KL)")
        ax.plot(exact[m]["layers"], exact[m]["mean"], **style, label=f"{m}: output KL")
    ax.set_yscale("log")
    ax.set(xlabel="number of latent layers L", ylabel="nats",
           title="(d) what accumulates (joint) and what reaches y")
    ax = axes[4]
    states = arrays["law_states"]
    if chain == "binomial":
        keep = arrays["law_teacher"] > 1e-12
        top = int(states[keep].max()) + 1 if keep.any() else 50
        sel = slice(0, min(top, len(states)))
        ax.set_yscale("log")
    else:
        mass = np.cumsum(arrays["law_teacher"]) / np.sum(arrays["law_teacher"])
        sel = slice(int(np.searchsorted(mass, 5e-3)), int(np.searchsorted(mass, 1 - 5e-3)) + 1)
    ax.plot(states[sel], arrays["law_teacher"][sel], color="0.3", lw=2.5, alpha=0.6,
            label="teacher")
    for m in cfg["methods"]:
        ax.plot(states[sel], arrays[f"law_{m}"][sel], color=PALETTE[m], lw=1.2, label=m)
    ax.set(xlabel="y", ylabel="pmf" if chain == "binomial" else "density",
           title=f"(e) exact output law at L = {deepest} (seed {cfg['seeds'][0]})")
    ax = axes[5]
    for m in cfg["methods"]:
        loss = arrays[f"loss_{m}"][0, -1]  # first seed, largest depth
        steps = np.linspace(0, cfg["steps"], len(loss) + 1)[1:]
        ax.plot(steps, loss, color=PALETTE[m], lw=1, label=m)
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="training loss", title=f"(f) its loss, L = {deepest}")
    for ax in axes:
        ax.set_title(wrapped(ax.get_title(), MAX_WIDTH / 2 - 0.5))
        ax.legend()
    suptitle(fig, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return fig


def readings_figure(readings: dict[str, dict[str, Any]], chain: str, path: Path) -> Any:
    """One panel per reading: exact KL against L for both methods, mean ± sd over seeds."""
    theme()
    described = {label: what for label, what, _ in READINGS[chain]}
    fig, axes = panel_grid(len(readings), panel_width=MAX_WIDTH / 2, panel_height=4.0,
                           max_cols=2)
    for ax, (label, result) in zip(axes, readings.items(), strict=True):
        spread(ax, _curves(result, "kl_exact"), log=True)
        verdict = {"holds": "reproduced", "does not hold": "not reproduced",
                   "cannot be tested": "untestable (one seed)"}[reading_verdict(result)]
        ax.set_title(wrapped(f"{label}: {verdict}\n{described[label]}", MAX_WIDTH / 2 - 0.5,
                             11), fontsize=11)
        ax.set(xlabel="L", ylabel="exact KL, nats")
        ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return fig
