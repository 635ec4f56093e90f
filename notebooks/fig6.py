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
seeds = None  # None: the preset's (the paper's at paper, one seed otherwise)
device = "cpu"
data_root = None
arch = "dense"
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: fashion
from IPython.display import Markdown, display

from lgm.experiments.registry import get
from lgm.report.codes import code_drift, per_code_figure
from lgm.report.page import begin
from lgm.report.runs import preset_limits, resolve_seeds

page = begin("fig6", preset=preset, seeds=resolve_seeds(preset, seeds), device=device,
             data_root=data_root, figure_dir=figure_dir,
             caveat=preset_limits(preset, len(resolve_seeds(preset, seeds))))
results = page.run(get("fashion"), {"lifelong": dict(method="lifelong", arch=arch,
                                                      visuals=8)})["lifelong"]

# %% tags=["hide-input"]
for result in results[:2]:  # the paper shows two runs
    seed = result["config"]["seed"]
    page.figure(per_code_figure(result, f"Lifelong student after each Fashion-MNIST class: one "
                                        f"row per code (z_d fixed), z_c ~ N(0, I); {arch}, "
                                        f"preset {preset}, seed {seed}"), f"fig6_seed{seed}")

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
display(Markdown(code_drift(results[:2]) + "\n\nThis page records no verdict: its claim is "
                 "judged by eye."))

# %%
# provenance (data paths relative to the data root), the rerun box, the verdicts recorded
page.end()
