"""Fig. 7 of the KD paper (sensitivity to lambda in hierarchical VAE compression): the sweep's
figure, table and claim rule. ``sweep`` is :func:`lgm.experiments.kd_compression.run_lambda`'s
result: ``{"teacher", "ours": {lam: [per seed]}, "baselines": {method: [per seed]}}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lgm.experiments.kd_compression import metric_values
from lgm.report.claims import teacher_no_better_than_students
from lgm.report.figures import MAX_WIDTH, shared_legend, suptitle
from lgm.report.page import Page
from lgm.report.tables import fmt, markdown_table

METRICS = [("fid", "FID (√Fréchet)"), ("emd", "EMD"), ("mmd", "MMD"), ("1nn", "1-NN accuracy")]


def figure(sweep: dict[str, Any], lambdas: Sequence[float], title: str) -> tuple[Any, dict]:
    """Each metric of ours against λ (log axis, λ = 0 a decade below the smallest), local and
    scratch as dashed lines; one row per metric, against the data (left) and the teacher
    (right)."""
    import matplotlib.pyplot as plt

    positive = [lam for lam in lambdas if lam > 0]
    zero_at = min(positive) / 10 if positive else 1.0
    xs = np.array([lam if lam > 0 else zero_at for lam in lambdas])
    fig, axes = plt.subplots(len(METRICS), 2, figsize=(MAX_WIDTH, 2.9 * len(METRICS) + 0.8),
                             constrained_layout=True, squeeze=False)
    data: dict[str, list[Any]] = {"against": [], "metric": [], "model": [], "lambda": [],
                                  "mean": [], "std": []}
    for col, against in enumerate(("data", "teacher")):
        for ax, (key, name) in zip(axes[:, col], METRICS, strict=True):
            vals = [metric_values(sweep["ours"][lam], against, key) for lam in lambdas]
            mean = np.array([v.mean() for v in vals])
            std = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in vals])
            ax.errorbar(xs, mean, yerr=std, marker="o", color="C0", label="ours", capsize=3)
            for lam, m, s in zip(lambdas, mean, std, strict=True):
                data["against"].append(against)
                data["metric"].append(key)
                data["model"].append("ours")
                data["lambda"].append(lam)
                data["mean"].append(float(m))
                data["std"].append(float(s))
            for m, colour in (("local", "C3"), ("scratch", "C2")):
                base = metric_values(sweep["baselines"][m], against, key)
                ax.axhline(base.mean(), ls="--", color=colour, label=m)
                data["against"].append(against)
                data["metric"].append(key)
                data["model"].append(m)
                data["lambda"].append(float("nan"))
                data["mean"].append(float(base.mean()))
                data["std"].append(float(base.std(ddof=1)) if len(base) > 1 else 0.0)
            ax.set_xscale("log")
            ax.set_xticks(xs, [f"{lam:g}" for lam in lambdas])
            ax.set_title(f"{name}{' vs teacher' if against == 'teacher' else ' vs data'}")
            if key == METRICS[-1][0]:
                ax.set_xlabel("λ")
    shared_legend(fig, axes[0, 0])
    suptitle(fig, title)
    return fig, data


def table(sweep: dict[str, Any], lambdas: Sequence[float]) -> str:
    entries = [(f"ours, λ = {lam:g}", sweep["ours"][lam]) for lam in lambdas]
    entries += [(m, sweep["baselines"][m]) for m in ("local", "scratch")]
    rows = [[label, *[fmt(metric_values(runs, a, k), 2) for a in ("data", "teacher")
                      for k, _ in METRICS]] for label, runs in entries]
    return (markdown_table(["model", "FID", "EMD", "MMD", "1NN", "FID-T", "EMD-T", "MMD-T",
                            "1NN-T"], rows)
            + f"\n\nFeatures: {entries[0][1][0]['extractor']}.")


def claims(page: Page, sweep: dict[str, Any], lambdas: Sequence[float]) -> str:
    """Ours robust to λ: lower FID (against the data; against the teacher: FID-T) than local and
    scratch at every λ. Against the data it cannot be tested when the teacher generates no
    better than the scratch student. Returns a sentence on the teacher."""
    teacher_fid = sweep["teacher"]["metrics"]["data"]["fid"]
    scratch_fid = float(metric_values(sweep["baselines"]["scratch"], "data", "fid").mean())
    weak = teacher_no_better_than_students(teacher_fid, [scratch_fid])
    for against, name in (("data", "FID"), ("teacher", "FID-T")):
        ours = np.array([metric_values(sweep["ours"][lam], against, "fid").mean()
                         for lam in lambdas])
        best = min(metric_values(sweep["baselines"][m], against, "fid").mean()
                   for m in ("local", "scratch"))
        spread = (ours.max() - ours.min()) / ours.mean()
        page.check(f"Fig. 7: ours robust to λ ({name})", bool((ours < best).all()),
                   f"ours {', '.join(f'{v:.2f}' for v in ours)} at λ = {list(lambdas)} (range "
                   f"{100 * spread:.0f} % of the mean), best baseline {best:.2f}; lower at "
                   f"{int((ours < best).sum())} of {len(lambdas)} λ",
                   rule="lower than local and scratch at every λ",
                   untrained=weak if against == "data" else None)
    return (f"Teacher FID {teacher_fid:.2f} against scratch {scratch_fid:.2f}: "
            + ("the teacher generates better, so imitating it can pay off on the data."
               if not weak else "the teacher is no better than a student trained on the data, "
               "so the rule against the data cannot favour any λ here; the rule against the "
               "teacher is the informative one."))


def all_results(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    return [sweep["teacher"], *[r for runs in sweep["ours"].values() for r in runs],
            *[r for runs in sweep["baselines"].values() for r in runs]]
