"""The KD toy figures' claims (Figs. 2 and 5), judged on results of
:mod:`lgm.experiments.kd_toy`: the per-depth summary over seeds, the growth slopes, the paper's
three claims and the figure's verdict, and the per-range comparison of ours with local under
the rule that one seed cannot decide."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lgm.experiments.kd_toy import METHODS


def summary(result: dict[str, Any], key: str = "kl_exact") -> dict[str, dict[str, np.ndarray]]:
    """Per method: ``layers``, ``mean``, ``sd`` (over seeds) and ``se`` (sd / sqrt(seeds), plus
    the estimator's standard error for ``kl_est``) of ``key`` against L."""
    cfg = result["config"]
    out = {}
    for m in cfg["methods"]:
        values = np.asarray(result[f"{key}_{m}"], dtype=float)  # [seed, depth]
        n = values.shape[0]
        sd = values.std(0, ddof=1) if n > 1 else np.zeros(values.shape[1])
        var = sd ** 2 / n
        if key == "kl_est":
            var = var + np.mean(np.asarray(result[f"kl_se_{m}"]) ** 2, 0) / n
        out[m] = {"layers": np.asarray(cfg["layers"]), "mean": values.mean(0), "sd": sd,
                  "se": np.sqrt(var), "values": values}
    return out


def growth_slope(layers: np.ndarray, kl: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares slope of KL against L (weights 1/se^2, se floored at 1e-3 of the
    mean KL and 1e-12) and its standard error."""
    if len(layers) < 2:
        raise ValueError("a slope needs at least two depths")
    floor = max(1e-12, 1e-3 * float(np.abs(kl).mean()))
    w = 1.0 / np.maximum(se, floor) ** 2
    x_bar = np.sum(w * layers) / w.sum()
    sxx = np.sum(w * (layers - x_bar) ** 2)
    slope = np.sum(w * (layers - x_bar) * kl) / sxx
    resid = kl - (np.sum(w * kl) / w.sum() + slope * (layers - x_bar))
    dof = max(1, len(layers) - 2)
    scale = max(1.0, float(np.sum(w * resid ** 2)) / dof)  # widen when the line misfits
    return float(slope), float(math.sqrt(scale / sxx))


def claims(result: dict[str, Any], key: str = "kl_exact") -> dict[str, Any]:
    """The paper's three claims about its toy figure, tested on ``key`` (the exact KL by
    default): local grows with L; ours is below local at the largest L; ours grows more slowly.
    Each: ``holds`` (bool) and the numbers behind it."""
    table = summary(result, key)
    if (set(table) != set(METHODS) or len(table["local"]["layers"]) < 2
            or table["local"]["values"].shape[0] < 2):  # no spread over seeds with one seed
        return {"testable": False}
    lo, ou = table["local"], table["ours"]
    s_lo, e_lo = growth_slope(lo["layers"], lo["mean"], lo["se"])
    s_ou, e_ou = growth_slope(ou["layers"], ou["mean"], ou["se"])
    diff, diff_se = lo["mean"][-1] - ou["mean"][-1], math.hypot(lo["se"][-1], ou["se"][-1])
    gap, gap_se = s_lo - s_ou, math.hypot(e_lo, e_ou)
    return {"testable": True, "depth": int(lo["layers"][-1]),
            "local_grows": s_lo > 2 * e_lo, "slope_local": s_lo, "slope_local_se": e_lo,
            "ours_below": diff > 2 * diff_se, "diff": diff, "diff_se": diff_se,
            "slower": gap > 2 * gap_se, "slope_ours": s_ou, "slope_ours_se": e_ou,
            "local_first": lo["mean"][0], "local_last": lo["mean"][-1],
            "ours_first": ou["mean"][0], "ours_last": ou["mean"][-1],
            "local_last_se": lo["se"][-1], "ours_last_se": ou["se"][-1]}


def reproduced(c: dict[str, Any]) -> bool:
    """The figure's claim as a whole: local grows with L and ours is below it at the largest L."""
    return bool(c.get("testable") and c["local_grows"] and c["ours_below"])


def reading_verdict(result: dict[str, Any]) -> str:
    """"holds" (the figure reproduced), "does not hold", or "cannot be tested" (one seed, one
    depth or one method)."""
    c = claims(result)
    if not c["testable"]:
        return "cannot be tested"
    return "holds" if reproduced(c) else "does not hold"


# The depth ranges judged apart: at L = 1 both methods train the same single
# conditional, so the shallow range starts at 2.
RANGES: dict[str, tuple[int, int]] = {"2 <= L <= 10": (2, 10), "L = 20": (20, 20)}
MIN_SEEDS = 3  # leaving one seed out must leave two to compare


def _direction(ours: np.ndarray, local: np.ndarray) -> tuple[str, float, float]:
    """Ours vs local on [seed, depth] exact KLs: ``below`` when both the median over seeds of
    the per-seed ratio (geometric mean over the depths) and the ratio of the means over seeds
    (geometric mean over the depths) are below 1, ``above`` when both are above, else
    ``split``; and those two ratios."""
    log_ratio = np.log(np.maximum(ours, 1e-300)) - np.log(np.maximum(local, 1e-300))
    median = float(np.exp(np.median(log_ratio.mean(1))))
    of_means = float(np.exp(np.mean(np.log(ours.mean(0)) - np.log(local.mean(0)))))
    if median < 1 and of_means < 1:
        return "below", median, of_means
    if median > 1 and of_means > 1:
        return "above", median, of_means
    return "split", median, of_means


def range_comparison(result: dict[str, Any], low: int, high: int) -> dict[str, Any]:
    """Ours vs local over the depths ``low`` <= L <= ``high`` of ``result`` (exact KL).

    The rule (one seed cannot decide): ``direction`` as :func:`_direction` on all seeds, and
    again with each seed left out; the verdict is ``"ours below"`` / ``"ours above"`` when the
    direction is the same on all seeds and on every leave-one-out subset, else ``"undecided"``
    (with the reason). Also the per-depth means, medians and per-seed values."""
    layers = list(result["config"]["layers"])
    cols = [i for i, n in enumerate(layers) if low <= n <= high]
    ours = np.asarray(result["kl_exact_ours"], float)[:, cols]
    local = np.asarray(result["kl_exact_local"], float)[:, cols]
    out: dict[str, Any] = {"depths": [layers[i] for i in cols], "seeds": ours.shape[0],
                           "ours": ours, "local": local}
    if not cols or ours.shape[0] < MIN_SEEDS:
        return {**out, "verdict": "untestable",
                "reason": f"needs depths in {low}..{high} and {MIN_SEEDS}+ seeds"}
    direction, median, of_means = _direction(ours, local)
    out.update(direction=direction, median_ratio=median, mean_ratio=of_means)
    if direction == "split":
        return {**out, "verdict": "undecided",
                "reason": "the median over seeds and the mean disagree"}
    seeds = list(result["config"]["seeds"])
    for k in range(ours.shape[0]):
        keep = [i for i in range(ours.shape[0]) if i != k]
        if _direction(ours[keep], local[keep])[0] != direction:
            return {**out, "verdict": "undecided",
                    "reason": f"leaving out seed {seeds[k]} turns it"}
    return {**out, "verdict": f"ours {direction}", "reason": ""}
