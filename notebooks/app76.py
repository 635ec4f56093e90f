# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Ranges of baselines: EWC's $\gamma$ and the lifelong model's $\lambda$ (appendix 7.6)
#
# The comparisons of *Lifelong Generative Modeling* use one hyperparameter per method:
# EWC's penalty weight $\gamma$ in $\frac{\gamma}{2}(\xi - \Xi)^T F (\xi - \Xi)$, and the
# lifelong model's information-gain weight $\lambda$ of eq. 6 ($\lambda = 0.01$).
# Appendix 7.6 says that "a whole range of EWC baselines" was run, with the best performing
# ones used in the experiments, and lists them (its figure; "the number following is the
# hyperparameter for the EWC or Lifelong VAE"). This page reruns such a range on split
# Fashion-MNIST (experiment 5.1, dense models):
#
# - **ewc** over $\gamma \in \{1, 10, 100, 1000\}$ (100 is this package's default, from the
#   reference implementation);
# - **lifelong** over $\lambda \in \{0, 0.01, 0.1, 1\}$ (0.01 is the paper's; 0 switches the
#   information gain off).
#
# For each setting we report the negative test ELBO and the log-Fréchet distance after the
# last distribution, on the cumulative test set (lower is better for both).
#
# **Tasks.** At the quick preset each run sees only the **first five** Fashion-MNIST classes
# (`quick_num_tasks = 5`), to keep eight runs within the book's CPU budget; so "the last
# task" is the fifth and the numbers are not comparable with those of the Figure 3 page.
# The paper preset uses all ten.
#
# **Divergence.** The information-gain term is a lower bound that the student *minimises*;
# with a large $\lambda$ it can run away (see `lgm/losses/info_gain.py`). A run whose loss
# becomes non-finite is stopped and listed below, with its error, and marked in the figure
# and table: it is a result of the sweep, not left out silently.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None
arch = "dense"
ewc_gammas = [1.0, 10.0, 100.0, 1000.0]
lifelong_lambdas = [0.0, 0.01, 0.1, 1.0]
quick_num_tasks = 5
figure_dir = "build/figures"

# %%
# data: fashion
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from lgm.experiments import make_config
from lgm.experiments.report import (
    fmt,
    markdown_table,
    preset_limits,
    provenance_markdown,
    resolve_seeds,
    run_all,
    save_verdicts,
    series,
    verdict_rows,
)

seeds = resolve_seeds(preset, seeds)
tasks = {"num_tasks": int(quick_num_tasks)} if preset == "quick" and quick_num_tasks else {}
settings = {("ewc", float(g)): {"ewc_gamma": float(g)} for g in ewc_gammas}
settings |= {("lifelong", float(lam)): {"info_gain_weight": float(lam)}
             for lam in lifelong_lambdas}


def label(method, value):
    return f"{method} {'γ' if method == 'ewc' else 'λ'}={value:g}"


runs = run_all({label(*k): [make_config(preset, experiment="fashion", method=k[0], seed=s,
                                        arch=arch, device=device, data_root=data_root,
                                        visuals=0, **tasks, **extra)
                            for s in seeds] for k, extra in settings.items()})
results, failed = runs.results, runs.failed
if failed:
    display(Markdown("**Runs that diverged (non-finite loss), marked in the figure and "
                     "table:**\n\n" + "\n".join(f"- {m}, seed {s}: {e}" for m, s, e in failed)))
if not results:
    raise RuntimeError("every run failed; nothing to plot")
diverged = {m: sorted(s for mm, s, _ in failed if mm == m) for m, _, _ in failed}


def last(lab, key):
    """Per-seed values at the last task of the runs that finished (empty if none)."""
    return series(results[lab], key)[:, -1] if lab in results else np.array([])


# %% tags=["hide-input"]
METHODS = {"ewc": ("EWC, penalty weight γ", ewc_gammas, "C3"),
           "lifelong": ("lifelong, information-gain weight λ", lifelong_lambdas, "C0")}
panels = [("neg_elbo", "−ELBO"), ("log_frechet", "log-Fréchet")]
fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
for col, (method, (title, values, color)) in enumerate(METHODS.items()):
    for row, (key, name) in enumerate(panels):
        ax = axes[row, col]
        pos = np.arange(len(values))
        for p, v in zip(pos, values, strict=True):
            vals = last(label(method, float(v)), key)
            ax.plot([p] * len(vals), vals, "o", color=color, alpha=0.5, ms=4)
            if len(vals):
                ax.plot(p, np.mean(vals), "_", color="k", ms=16, mew=2)
            if label(method, float(v)) in diverged:
                ax.annotate("diverged", (p, 0.5), xycoords=("data", "axes fraction"),
                            ha="center", color="C1", fontsize=9, rotation=90)
        ax.set_xticks(pos, [f"{v:g}" for v in values])
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_ylabel(f"{name}, last task")
        ax.grid(alpha=0.3)
        if row == 0:
            ax.set_title(title)
        else:
            ax.set_xlabel("γ" if method == "ewc" else "λ")
n_tasks_run = tasks.get("num_tasks") or make_config(preset).num_tasks or 10
fig.suptitle(f"Split Fashion-MNIST, {n_tasks_run} tasks, {arch}, preset {preset}: "
             f"metrics after the last task per setting (dots: seeds, bar: mean)")
Path(figure_dir).mkdir(parents=True, exist_ok=True)
figure_path = Path(figure_dir) / "app76.png"
fig.savefig(figure_path, dpi=120)
plt.show()

# %% [markdown]
# ## Values per setting
#
# The appendix's list of baselines gives no numbers we can read value by value; the table
# gives ours after the last task (mean ± std over seeds where several), the epochs summed
# over the tasks, and the runs that diverged.

# %% tags=["hide-input"]
rows = []
for method, value in settings:
    lab = label(method, value)
    ep = series(results[lab], "epochs") if lab in results else np.full((0, 1), np.nan)
    status = (f"diverged (seed {', '.join(map(str, diverged[lab]))})" if lab in diverged
              else "ok")
    rows.append([method, f"{value:g}", fmt(last(lab, "neg_elbo")),
                 fmt(last(lab, "log_frechet"), 2), fmt(np.nansum(ep, axis=1)), status])
display(Markdown(markdown_table(["method", "γ / λ", "−ELBO", "log-Fréchet", "epochs, sum",
                                 "status"], rows)
                 + f"\n\n({n_tasks_run} tasks, seeds {seeds}.)"))

# %% [markdown]
# ## The paper's claims, checked on these results
#
# Appendix 7.6 claims no numbers, only that the settings used in the main text were the
# best performing of the range. We test whether the defaults, (1) EWC $\gamma = 100$ and
# (2) lifelong $\lambda = 0.01$, are the best of their range on each metric (mean at the
# last task; within 1 % of the best counts as best), and (3) whether section 5.1's main
# comparison survives the range: the *best* lifelong setting has a lower log-Fréchet
# distance than the *best* EWC setting, and a −ELBO no more than 1 % above it. Diverged
# runs count as the worst of their range.


# %% tags=["hide-input"]
def means(method, key):
    return {v: (float(np.mean(last(label(method, v), key)))
                if len(last(label(method, v), key)) else np.inf)
            for m, v in settings if m == method}


verdicts = []
for i, (method, default) in enumerate((("ewc", 100.0), ("lifelong", 0.01)), start=1):
    sym = "γ" if method == "ewc" else "λ"
    if (method, default) not in settings:
        verdicts.append(f"{i}. {method}: the default {sym} = {default:g} is not in the range.")
        continue
    parts = []
    for key, name, d in (("neg_elbo", "−ELBO", 1), ("log_frechet", "log-Fréchet", 2)):
        ms = means(method, key)
        best_v = min(ms, key=ms.get)
        ok = ms[default] <= ms[best_v] + 0.01 * abs(ms[best_v])
        parts.append(f"{name}: {'best' if ok else 'not best'} ({ms[default]:.{d}f}; best "
                     f"{sym} = {best_v:g} with {ms[best_v]:.{d}f})")
    verdicts.append(f"{i}. **{method}, default {sym} = {default:g} best of its range**: "
                    + "; ".join(parts) + ".")
me = {m: {k: means(m, k) for k in ("neg_elbo", "log_frechet")} for m in ("ewc", "lifelong")}
best = {m: {k: min(v.values()) for k, v in d.items()} for m, d in me.items()}
if all(np.isfinite(best[m][k]) for m in best for k in best[m]):
    ok_f = best["lifelong"]["log_frechet"] < best["ewc"]["log_frechet"]
    ok_e = best["lifelong"]["neg_elbo"] <= best["ewc"]["neg_elbo"] * 1.01
    verdicts.append(
        f"3. **best lifelong vs best EWC** (lower log-Fréchet, −ELBO within 1 %): "
        f"{'holds' if ok_f and ok_e else 'does not hold'}. log-Fréchet "
        f"{best['lifelong']['log_frechet']:.2f} vs {best['ewc']['log_frechet']:.2f} "
        f"({'lower' if ok_f else 'not lower'}); −ELBO {best['lifelong']['neg_elbo']:.1f} vs "
        f"{best['ewc']['neg_elbo']:.1f} ({'within 1 % or better' if ok_e else 'worse'}).")
else:
    verdicts.append("3. Cannot be tested: every setting of one method diverged.")
save_verdicts("app76", preset, verdict_rows(verdicts, strict=False))
display(Markdown("\n".join(verdicts) + "\n\n" + preset_limits(preset, len(seeds))))

# %% [markdown]
# ## Provenance


# %%
display(Markdown(provenance_markdown(runs, preset, seeds, extra=f"figure `{figure_path}`")))
