"""The KD toy chains' pages (Figs. 2 and 5): verdict lines, KL and readings tables.

Computation is in :mod:`lgm.experiments.kd_toy`; this module only words and tabulates it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lgm.experiments.kd_toy import READINGS, claims, reproduced, summary
from lgm.report.tables import markdown_table


def verdict_lines(result: dict[str, Any], figure: str, reading: str) -> list[str]:
    """Verdict lines (``N. **claim** (rule): verdict. detail``) on the exact KL of ``result``."""
    c = claims(result)
    word = {True: "holds", False: "does not hold"}
    if not c["testable"]:
        return [f"1. **{figure} ({reading}): local grows with L, ours stays low** (needs both "
                "methods, two depths and two seeds): cannot be tested."]
    n = c["depth"]
    return [
        f"1. **{figure} ({reading}): the error of local distillation grows with L** (rule: "
        f"weighted slope of its exact KL against L above 0 by 2 standard errors over seeds): "
        f"{word[c['local_grows']]}. Slope {c['slope_local']:.2e} ± {c['slope_local_se']:.1e} "
        f"nats per layer; KL {c['local_first']:.2e} at L = 1, {c['local_last']:.2e} ± "
        f"{c['local_last_se']:.1e} at L = {n}.",
        f"2. **{figure} ({reading}): ours accumulates less error than local** (rule: at L = "
        f"{n}, ours' exact KL below local's by 2 combined standard errors): "
        f"{word[c['ours_below']]}. Ours {c['ours_last']:.2e} ± {c['ours_last_se']:.1e}, "
        f"local {c['local_last']:.2e} ± {c['local_last_se']:.1e}.",
        f"3. **{figure} ({reading}): ours' error grows more slowly in L than local's** (rule: "
        f"slope of local minus slope of ours above 0 by 2 standard errors): "
        f"{word[c['slower']]}. Slopes: ours {c['slope_ours']:.2e} ± "
        f"{c['slope_ours_se']:.1e}, local {c['slope_local']:.2e} ± {c['slope_local_se']:.1e}.",
    ]


def kl_markdown(result: dict[str, Any], paper: str) -> str:
    """Table: per depth and method, the exact KL and the density-ratio estimate (mean ± sd over
    seeds; the estimate's mean standard error in brackets), and the paper's claim."""
    exact, est = summary(result, "kl_exact"), summary(result, "kl_est")
    methods = list(exact)
    se = {m: np.mean(np.asarray(result[f"kl_se_{m}"]), 0) for m in methods}
    rows = []
    for i, n in enumerate(exact[methods[0]]["layers"]):
        row: list[Any] = [int(n)]
        for m in methods:
            row.append(f"{exact[m]['mean'][i]:.2e} ± {exact[m]['sd'][i]:.1e}")
            row.append(f"{est[m]['mean'][i]:+.4f} ± {est[m]['sd'][i]:.4f} "
                       f"({se[m][i]:.4f})")
        rows.append(row)
    header = ["L"] + [f"{m}: {k}" for m in methods for k in ("exact KL", "estimated KL")]
    return markdown_table(header, rows) + f"\n\n(paper: {paper})"


def readings_markdown(readings: dict[str, dict[str, Any]], chain: str) -> str:
    """The readings side by side: what varies, exact KL at L = 1 and the largest L for both
    methods, slopes, and the verdict (the figure reproduced: local grows and ours is below)."""
    rows = []
    described = {label: what for label, what, _ in READINGS[chain]}
    for label, result in readings.items():
        c = claims(result)
        if not c["testable"]:
            rows.append([f"`{label}`", described[label], "–", "–", "–", "–",
                         "cannot be tested (one seed)"])
            continue
        verdict = "holds" if reproduced(c) else "does not hold"
        rows.append([f"`{label}`", described[label],
                     f"{c['local_first']:.1e} → {c['local_last']:.1e}",
                     f"{c['ours_first']:.1e} → {c['ours_last']:.1e}",
                     f"{c['slope_local']:.1e} / {c['slope_ours']:.1e}",
                     ", ".join(k for k in ("local_grows", "ours_below", "slower") if c[k])
                     or "none", verdict])
    header = ["reading", "what differs from the literal one", "local KL, L = 1 → max",
              "ours KL, L = 1 → max", "slopes local / ours (nats per layer)",
              "claims that hold", "figure reproduced"]
    return markdown_table(header, rows)
