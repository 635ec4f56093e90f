# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Split Fashion-MNIST, sequential generation per code (appendix 7.0.1, Figure 6)
#
# Appendix 7.0.1 of *Lifelong Generative Modeling* shows what the lifelong student of
# section 5.1 can generate after each distribution: because the posterior factorises into
# a discrete $z_d$ and a continuous $z_c$, one can fix $z_d$ to a code and sample
# $z_c \sim \mathcal N(0, I)$, and so generate from one chosen distribution (Figure 6, two
# runs). The lifelong model starts with one code and grows by one per distribution, so
# after distribution $t$ there are $t$ codes; with *consistent sampling* (the consistency
# regulariser) a code keeps generating the distribution it stood for when it was added.
#
# This page reuses the lifelong runs of the Figure 3 page (same configuration, so they come
# from the result cache when that page has run): after each task the run kept 8 samples per
# code, with the same $z_c$ draws after every task, so the panels compare column by column.
#
# **Reading the figure.** One panel per task (the model after that task); in a panel, one row
# per code, $z_d$ fixed to that code and $z_c$ random. Code $j$ was added at task $j$, whose
# Fashion-MNIST class is written at the left. A row that keeps its class from panel to panel
# is consistent sampling; a row that drifts to another class, or blurs, is forgetting.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None
arch = "dense"
figure_dir = "build/figures"

# %%
# data: fashion
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from lgm.experiments import make_config
from lgm.experiments.report import (
    failures_markdown,
    preset_limits,
    provenance_markdown,
    resolve_seeds,
    run_all,
)

seeds = resolve_seeds(preset, seeds)
# Exactly the Figure 3 page's lifelong configuration: a cache hit once that page has run.
runs = run_all({"lifelong": [make_config(preset, experiment="fashion", method="lifelong",
                                         seed=s, arch=arch, device=device,
                                         data_root=data_root, visuals=8)
                             for s in seeds]})
if runs.failed:
    display(Markdown(failures_markdown(runs)))
results = runs.results.get("lifelong", [])
if not results:
    raise RuntimeError("every run failed; nothing to plot")


# %% tags=["hide-input"]
def tile(images):
    """[R, K, C, H, W] uint8 -> one [R*H, K*W] (grey) or [.., 3] image."""
    r, k, c, h, w = images.shape
    out = images.transpose(0, 3, 1, 4, 2).reshape(r * h, k * w, c)
    return out[..., 0] if c == 1 else out


Path(figure_dir).mkdir(parents=True, exist_ok=True)
figure_paths = []
shown = results[:2]  # the paper shows two runs
for result in shown:
    arrays, names = result["arrays"], [rec["name"] for rec in result["tasks"]]
    n_tasks = len(result["tasks"])
    per_task = [arrays[f"samples_task{t}"] for t in range(n_tasks)]
    j_max, n, c, h, w = per_task[-1].shape
    cols = min(5, n_tasks)
    rows = -(-n_tasks // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows * j_max / n + 0.6),
                             constrained_layout=True, squeeze=False)
    for t, ax in enumerate(axes.flat):
        if t >= n_tasks:
            ax.axis("off")
            continue
        s = per_task[t]
        padded = np.zeros((j_max, *s.shape[1:]), dtype=s.dtype)  # unused codes: black rows
        padded[: len(s)] = s
        ax.imshow(tile(padded), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"after task {t + 1} ({len(s)} code{'s' if len(s) > 1 else ''})",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks(np.arange(j_max) * h + h / 2)
        ax.set_yticklabels([f"{j}: {names[j][:9]}" if j < len(names) else str(j)
                            for j in range(j_max)] if t % cols == 0 else [], fontsize=7)
        ax.tick_params(length=0)
    seed = result["config"]["seed"]
    fig.suptitle(f"Lifelong student after each Fashion-MNIST class: one row per code "
                 f"(z_d fixed), z_c ~ N(0, I); {arch}, preset {preset}, seed {seed}")
    figure_paths.append(Path(figure_dir) / f"fig6_seed{seed}.png")
    fig.savefig(figure_paths[-1], dpi=110)
    plt.show()

# %% [markdown]
# ## What the panels show
#
# The paper's claim (appendix 7.0.1, with section 4.2) is qualitative: fixing $z_d$ selects
# one learnt distribution, and the lifelong model keeps generating every past distribution.
# Judge it on the panels above; as a rough number, the table below gives how much each
# code's 8 samples change between the task that added the code and the last task (mean
# absolute pixel difference, 0 to 1, on the same $z_c$ draws; small means the code kept
# what it generated, though a code that generated poorly from the start can also stay
# put).

# %% tags=["hide-input"]
lines = []
for result in shown:
    arrays, names = result["arrays"], [rec["name"] for rec in result["tasks"]]
    last = len(result["tasks"]) - 1
    final = arrays[f"samples_task{last}"].astype(float) / 255
    drift = [np.abs(arrays[f"samples_task{j}"][j].astype(float) / 255 - final[j]).mean()
             for j in range(last + 1)]
    cells = ", ".join(f"{j} ({names[j]}) {d:.3f}" for j, d in enumerate(drift))
    lines.append(f"- seed {result['config']['seed']}: code (class of the task that added it) "
                 f"→ change from then to the end: {cells}.")
display(Markdown("\n".join(lines) + "\n\n" + preset_limits(preset, len(seeds))))

# %% [markdown]
# ## Provenance

# %%
display(Markdown(provenance_markdown(
    runs, preset, seeds, extra="figures " + ", ".join(f"`{p}`" for p in figure_paths))))
