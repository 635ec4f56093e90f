# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Twenty sequential distributions: Fashion-MNIST then MNIST (appendix 7.5)
#
# Section 5.1 of *Lifelong Generative Modeling* measures, for each new distribution, the
# number of epochs until early stopping: a model that reuses what it has learnt should
# converge in fewer. On ten Fashion-MNIST classes the paper finds EWC converging faster at
# first and the lifelong model needing fewer and fewer epochs until it *matches* EWC
# ([Figure 3](fig3), panel c). Appendix 7.5 extends the sequence to **twenty distributions**:
# the ten Fashion-MNIST classes as in experiment 5.1, then the ten MNIST digits, one digit
# per distribution, and reports that "our lifelong model does actually beat ewc", i.e. that
# on the longer sequence the lifelong model eventually needs fewer epochs than EWC.
#
# Methods as on the Figure 3 page: **lifelong** (student–teacher VAE of eq. 6, $z_d$
# growing by one code per distribution, to twenty) and **ewc** (the same replay set-up with
# the EWC penalty instead of the consistency term; twenty discrete codes from the start).
# Each task trains until the validation loss has not improved for `patience` epochs, or
# until `max_epochs`. All twenty tasks are kept at every preset (the sequence's length is the
# point of the appendix); to save time no sample images are kept (`visuals = 0`).
#
# **Reading the figure.** The x axis is the number of distributions seen; the dotted line
# marks the switch from Fashion-MNIST to MNIST. (a) Epochs to early stopping (fewer: faster
# convergence), with the cap `max_epochs` dashed. (b) Negative test ELBO on the cumulative
# test set (lower is better). (c) log-Fréchet distance, features from a classifier trained
# on the experiment's (mixed) training data. Means over seeds, ±1 std bands.

# %% tags=["parameters"]
preset = "quick"
seeds = None  # None: the preset's (the paper's at paper, one seed otherwise)
device = "cpu"
data_root = None
methods = ["lifelong", "ewc"]
arch = "dense"
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: fashion, mnist
from IPython.display import Markdown, display

from lgm.experiments.registry import get
from lgm.report.figures import per_task_figure
from lgm.report.lifelong import app75_claims, epochs_table
from lgm.report.page import begin
from lgm.report.runs import preset_limits, resolve_seeds

page = begin("app75", preset=preset, seeds=resolve_seeds(preset, seeds), device=device,
             data_root=data_root, figure_dir=figure_dir,
             caveat=preset_limits(preset, len(resolve_seeds(preset, seeds))))
sequence = get("fashion_mnist20")
results = page.run(sequence, {m: dict(method=m, arch=arch, visuals=0) for m in methods})
methods = [m for m in methods if m in results]
max_epochs = sequence.make_config(preset).max_epochs
n_fashion = 10  # tasks 1..10 are Fashion-MNIST, 11..20 MNIST

# %% tags=["hide-input"]
fig, data = per_task_figure(
    results, methods, [("epochs", "(a) epochs to early stopping"),
                       ("neg_elbo", "(b) negative test ELBO"),
                       ("log_frechet", "(c) log-Fréchet distance")],
    title=f"Fashion-MNIST → MNIST, 20 distributions, {arch}, preset {preset}, "
          f"{page.seed_text} (mean ± std); dotted: first MNIST task")
for ax in fig.axes:
    ax.axvline(n_fashion + 0.5, color="0.4", lw=0.8, ls=":")
fig.axes[0].axhline(max_epochs, color="0.5", lw=0.8, ls="--")
page.figure(fig, "app75", data)

# %% [markdown]
# ## Epochs per task
#
# The paper shows a figure only. The table gives ours per task (mean over seeds, ± std
# with several seeds), and the −ELBO on the cumulative test set.

# %% tags=["hide-input"]
display(Markdown(epochs_table(results, methods, page.seeds, n_fashion)))

# %% [markdown]
# ## The paper's claim, checked on these results
#
# Appendix 7.5 (with section 5.1): on twenty distributions the lifelong model (1)
# *eventually* needs fewer epochs to converge than EWC. The rule used: over the last third
# of the sequence (tasks 15–20, all MNIST), lifelong's mean epochs per task are lower than
# EWC's. We also report (2) the test ELBO at the last task, which the appendix does not
# discuss but which says whether faster convergence comes at a cost. The test is void when
# (nearly) every task runs to `max_epochs`: then the epochs measure the cap, not
# convergence.

# %% tags=["hide-input"]
app75_claims(page, results, max_epochs, n_fashion)
page.show_claims()

# %%
# provenance (data paths relative to the data root), the rerun box, the verdicts recorded
page.end()
