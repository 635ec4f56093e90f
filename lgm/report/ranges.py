"""Appendix 7.6 of the lifelong paper: ranges of EWC's γ and the lifelong model's λ. The
page's figure, table and claim rules; results are keyed by :func:`label`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lgm.report.figures import MAX_WIDTH, suptitle
from lgm.report.lifelong import untrained
from lgm.report.page import Page
from lgm.report.style import PALETTE
from lgm.report.tables import fmt, markdown_table, series

Results = Mapping[str, list[dict[str, Any]]]
DEFAULTS = {"ewc": 100.0, "lifelong": 0.01}
WITHIN = 0.01  # within 1 % of the best counts as best


def label(method: str, value: float) -> str:
    return f"{method} {'γ' if method == 'ewc' else 'λ'}={value:g}"


def last(results: Results, lab: str, key: str) -> np.ndarray:
    """Per-seed values at the last task of the runs that finished (empty if none)."""
    return series(results[lab], key)[:, -1] if lab in results else np.array([])


def figure(results: Results, grids: Mapping[str, Sequence[float]], diverged: Sequence[str],
           title: str) -> tuple[Any, dict[str, list[Any]]]:
    """Metrics after the last task per setting (dots: seeds, bar: mean), EWC's γ left and the
    lifelong λ right."""
    import matplotlib.pyplot as plt

    names = {"ewc": "EWC, penalty weight γ", "lifelong": "lifelong, information-gain weight λ"}
    panels = [("neg_elbo", "−ELBO"), ("log_frechet", "log-Fréchet")]
    fig, axes = plt.subplots(2, 2, figsize=(MAX_WIDTH, 7.5), constrained_layout=True)
    data: dict[str, list[Any]] = {"method": [], "value": [], "metric": [], "seed_index": [],
                                  "last_task": []}
    for col, (method, values) in enumerate(grids.items()):
        title_m, color = names[method], PALETTE[method]
        for row, (key, name) in enumerate(panels):
            ax = axes[row, col]
            for p, v in enumerate(values):
                vals = last(results, label(method, float(v)), key)
                ax.plot([p] * len(vals), vals, "o", color=color, alpha=0.5, ms=4)
                if len(vals):
                    ax.plot(p, np.mean(vals), "_", color="k", ms=16, mew=2)
                if label(method, float(v)) in diverged:
                    ax.annotate("diverged", (p, 0.5), xycoords=("data", "axes fraction"),
                                ha="center", color="C1", fontsize=12, rotation=90)
                for i, x in enumerate(vals):
                    data["method"].append(method)
                    data["value"].append(float(v))
                    data["metric"].append(key)
                    data["seed_index"].append(i)
                    data["last_task"].append(float(x))
            ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
            ax.set_xlim(-0.5, len(values) - 0.5)
            ax.set_ylabel(f"{name}, last task")
            if row == 0:
                ax.set_title(title_m)
            else:
                ax.set_xlabel("γ" if method == "ewc" else "λ")
    suptitle(fig, title)
    return fig, data


def table(results: Results, settings: Sequence[tuple[str, float]],
          diverged: Mapping[str, list[int]]) -> str:
    rows = []
    for method, value in settings:
        lab = label(method, value)
        ep = series(results[lab], "epochs") if lab in results else np.full((0, 1), np.nan)
        status = (f"diverged (seed {', '.join(map(str, diverged[lab]))})" if lab in diverged
                  else "ok")
        rows.append([method, f"{value:g}", fmt(last(results, lab, "neg_elbo")),
                     fmt(last(results, lab, "log_frechet"), 2), fmt(np.nansum(ep, axis=1)),
                     status])
    return markdown_table(["method", "γ / λ", "−ELBO", "log-Fréchet", "epochs, sum", "status"],
                          rows)


def claims(page: Page, results: Results, settings: Sequence[tuple[str, float]]) -> None:
    """(1, 2) each default (γ = 100, λ = 0.01) is the best of its range on both metrics (mean
    at the last task, within 1 %; a diverged setting counts as the worst); (3) the best
    lifelong setting has a lower log-Fréchet than the best EWC setting and a −ELBO at most 1 %
    above it. When every training of the settings compared ran to the epoch cap, a failed
    check cannot be tested at this budget."""
    def means(method: str, key: str) -> dict[float, float]:
        return {v: (float(np.mean(last(results, label(method, v), key)))
                    if len(last(results, label(method, v), key)) else np.inf)
                for m, v in settings if m == method}

    for method, default in DEFAULTS.items():
        sym = "γ" if method == "ewc" else "λ"
        text = f"App. 7.6: {method}, the default {sym} = {default:g} is the best of its range"
        if (method, default) not in settings:
            page.check(text, False, "", untestable=f"{sym} = {default:g} is not in the range")
            continue
        parts, ok = [], True
        for key, name, d in (("neg_elbo", "−ELBO", 1), ("log_frechet", "log-Fréchet", 2)):
            ms = means(method, key)
            best = min(ms, key=lambda v: ms[v])
            good = ms[default] <= ms[best] + WITHIN * abs(ms[best])
            ok &= good
            parts.append(f"{name}: {'best' if good else 'not best'} ({ms[default]:.{d}f}; "
                         f"best {sym} = {best:g} with {ms[best]:.{d}f})")
        page.check(text, ok, "; ".join(parts), rule="best on both metrics, within 1 %",
                   untrained=untrained(results, [label(m, v) for m, v in settings
                                                 if m == method]))
    best = {m: {k: min(means(m, k).values()) for k in ("neg_elbo", "log_frechet")}
            for m in DEFAULTS}
    text = "App. 7.6: the best lifelong setting beats the best EWC setting"
    if not all(np.isfinite(best[m][k]) for m in best for k in best[m]):
        page.check(text, False, "", untestable="every setting of one method diverged")
        return
    ok_f = best["lifelong"]["log_frechet"] < best["ewc"]["log_frechet"]
    ok_e = best["lifelong"]["neg_elbo"] <= best["ewc"]["neg_elbo"] * (1 + WITHIN)
    page.check(text, ok_f and ok_e,
               f"log-Fréchet {best['lifelong']['log_frechet']:.2f} vs "
               f"{best['ewc']['log_frechet']:.2f}; −ELBO {best['lifelong']['neg_elbo']:.1f} vs "
               f"{best['ewc']['neg_elbo']:.1f}", rule="lower log-Fréchet, −ELBO within 1 %",
               untrained=untrained(results, [label(m, v) for m, v in settings]))
