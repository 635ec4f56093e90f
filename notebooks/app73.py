# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reconstruction (likelihood) regulariser: with-LL vs without-LL (appendix 7.3, Figures 7–8)
#
# Appendix 7.3 of *Lifelong Generative Modeling* considers constraining the student's
# decoder the way the consistency term constrains its encoder: on replayed data, add
# $\mathrm{KL}[P_\theta(\hat x_{<i} \mid z) \,\|\, P_\Theta(\hat x_{<i} \mid z)]$, the
# divergence between the student's and the teacher's reconstructions. The paper reports that
# this *hurts*: it repeats experiment 5.1 (split Fashion-MNIST, dense models) with
#
# - **without-LL**: the lifelong model of eq. 6 (consistency regulariser only), exactly the
#   `lifelong` run of the [Figure 3 page](fig3) (same configuration, so it comes from the
#   cache when that page has been run);
# - **with-LL**: the same plus the likelihood regulariser (`likelihood_weight`),
#
# and observes that with-LL is worse on both the negative test ELBO (Figure 7) and the
# log-Fréchet distance (Figure 8). Its explanation: the new term pulls the student's
# reconstructions towards the teacher's, against the ELBO's reconstruction term, which pulls
# them towards the data.
#
# **The weight.** The paper gives no weight for the likelihood regulariser; we use
# `likelihood_weight = 1.0`, the same weight as the consistency term (`consistency_weight`,
# 1.0 in the reference), i.e. the two cross-model terms enter the objective on an equal
# footing as written in the appendix. The parameter `ll_weight` below changes it.
#
# **Reading the figure.** As Figure 3: the x axis is the number of distributions seen,
# metrics on the cumulative test set of the distributions seen so far (lower is better),
# means over seeds with ±1 standard deviation bands.

# %% tags=["parameters"]
preset = "quick"
seeds = None  # None: the preset's (the paper's at paper, one seed otherwise)
device = "cpu"
data_root = None
arch = "dense"
ll_weight = 1.0
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: fashion
from IPython.display import Markdown, display

from lgm.experiments.registry import get
from lgm.report.figures import per_task_figure
from lgm.report.lifelong import per_task_values, worse_claims
from lgm.report.page import begin
from lgm.report.runs import preset_limits, resolve_seeds

page = begin("app73", preset=preset, seeds=resolve_seeds(preset, seeds), device=device,
             data_root=data_root, figure_dir=figure_dir,
             caveat=preset_limits(preset, len(resolve_seeds(preset, seeds)))
             + f" Likelihood weight {ll_weight} (our choice; the paper gives none).")


# without-LL is fig3's lifelong configuration, field for field (a cache hit)
lifelong = dict(method="lifelong", arch=arch, visuals=8)
results = page.run(get("fashion"), {
    "without-LL": lifelong, "with-LL": dict(lifelong, likelihood_weight=float(ll_weight))})
variants = [v for v in ("without-LL", "with-LL") if v in results]

# %% tags=["hide-input"]
fig, data = per_task_figure(
    results, variants, [("neg_elbo", "Figure 7: negative test ELBO"),
                        ("log_frechet", "Figure 8: log-Fréchet distance")],
    title=f"Split Fashion-MNIST, with/without likelihood regulariser (weight {ll_weight}), "
          f"{arch}, preset {preset}, {page.seed_text}",
    colors={"without-LL": "C0", "with-LL": "C1"}, legend={v: f"{v}-D" for v in variants})
page.figure(fig, "app73", data)

# %% [markdown]
# ## Values per task
#
# The paper gives its result as figures only; the table lists ours per task (mean over
# seeds, ± std with several seeds) and the with-LL minus without-LL difference (positive:
# with-LL is worse).

# %% tags=["hide-input"]
display(Markdown(per_task_values(results, variants)))

# %% [markdown]
# ## The paper's claim, checked on these results
#
# Appendix 7.3: with-LL performs worse than without-LL on (1) the test ELBO and (2) the
# log-Fréchet distance. The rule used for each metric: with-LL's mean is higher at the last
# task *and* at a majority of the tasks; with several seeds we also say whether the last
# task's difference exceeds the seeds' spread (the larger of the two standard deviations).

# %% tags=["hide-input"]
worse_claims(page, results, "with-LL", "without-LL", "App. 7.3", len(page.seeds))
page.show_claims()

# %% [markdown]
# ## Exercises
#
# Paste a snippet into a Python session started in the repository root (or save it as a file
# and run it with `.venv/bin/python`). Under each snippet: its time as `make exercises`
# measured it, in a fresh Python process from an empty cache, on the library's default of one
# torch thread (`LGM_THREADS`), and whether its outcome matched the solution.

# %% tags=["hide-input"]
from lgm.report.exercises import show_exercises

show_exercises("app73")

# %%
# provenance (data paths relative to the data root), the rerun box, the verdicts recorded
page.end()
