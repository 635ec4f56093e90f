# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Split Fashion-MNIST, sequential generation (section 5.1, Figure 3)
#
# Section 5.1 of *Lifelong Generative Modeling* treats each of the ten Fashion-MNIST
# classes as one distribution and shows them to the model one after another. After each
# distribution the model is evaluated on the union of the test sets seen so far (at the
# second distribution, the test sets of the first and the second), so the numbers grow
# with the task index even for a model that forgets nothing: it has more to reconstruct
# and generate.
#
# The lifelong student maximises eq. 6: the ELBO on real and replayed data, minus the
# consistency KL between the student's and the teacher's posteriors over $z_d$ on replayed
# data, minus $\lambda$ times the information gain of $z_c$ ($\lambda = 0.01$):
#
# $$
# \mathbb{E}_{Q_\phi}[\log P_\theta(\hat x_{<i}, x_i \mid z_d, z_c)] -
# \mathrm{KL}[Q_\phi(z_d, z_c \mid \hat x_{<i}, x_i) \,\|\, P(z_c, z_d)] -
# \mathrm{KL}[Q_\phi(z_d \mid \hat x_{<i}) \,\|\, Q_\Phi(z_d \mid \hat x_{<i})] -
# \lambda \mathcal{L}_I(z_c; \hat x_{<i}, x_i)
# $$
#
# - **lifelong**: the student–teacher VAE of eq. 6. $z_d$ starts with one code and grows
#   by one per distribution; after each one the student becomes the frozen teacher, which
#   generates replay data for the previous distributions.
# - **ewc**: the same student–teacher set-up, with the EWC penalty
#   $\frac{\gamma}{2}(\xi - \Xi)^T F (\xi - \Xi)$ (diagonal Fisher estimated from the
#   ELBO) instead of the consistency term, and no BatchNorm (appendix 7.4.1). **This page
#   shows EWC with the teacher's generative replay** (`ewc_replay=True`), as the reference
#   code runs it; the paper's text ("the same student-teacher architecture ... instead of our
#   consistency regularizer") leaves replay open. The variant without replay is in the plan
#   (`python -m lgm plan --pages fig3`: `ewc_replay: false`) and is not committed yet.
# - **vanilla**: one VAE fine-tuned on each distribution in turn: no replay, no
#   regulariser (the forgetting baseline).
# - **upto**: one VAE trained at distribution $i$ on the real data of distributions
#   $1..i$; **full**: one VAE trained once on all ten. Both see past data, so they are
#   the best attainable performance, not lifelong learners.
#
# All methods use the same graphical model (discrete $z_d$ with ten codes, or growing to
# ten, next to a Gaussian $z_c$) and the dense architecture of appendix 7.4.1 by default.
# Training stops early when the validation loss has not improved for `patience` epochs.
#
# **Reading the figure.** The x axis is the number of distributions seen. (a) The negative
# test ELBO on the cumulative test set (lower is better). (b) The log of the Fréchet
# distance (appendix 7.10, eq. 20) between features of generated samples and of the
# cumulative test set, the features coming from a classifier trained on the experiment's
# training data (lower is better: realistic and diverse samples). (c) The epochs each task
# took to trigger early stopping, for lifelong and EWC as in the paper (fewer: the model
# reuses what it learnt). Lines are means over seeds, shaded bands ±1 standard deviation.

# %% tags=["parameters"]
preset = "quick"
seeds = None  # None: the preset's (the paper's at paper, one seed otherwise)
device = "cpu"
data_root = None
methods = ["lifelong", "ewc", "vanilla", "full", "upto"]
arch = "dense"
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: fashion
from IPython.display import Markdown, display

from lgm.experiments.registry import get
from lgm.report.early_stopping import decline_claim, stopping_table
from lgm.report.figures import per_task_table, sequential_figure
from lgm.report.lifelong import fig3_claims, final_table
from lgm.report.page import begin
from lgm.report.runs import preset_limits, resolve_seeds

page = begin("fig3", preset=preset, seeds=resolve_seeds(preset, seeds), device=device,
             data_root=data_root, figure_dir=figure_dir,
             caveat=preset_limits(preset, len(resolve_seeds(preset, seeds))))
fashion = get("fashion")
results = page.run(fashion, {m: dict(method=m, arch=arch, visuals=8) for m in methods})
variants = list(methods)  # as asked; `methods`: those with results
methods = [m for m in methods if m in results]
max_epochs = fashion.make_config(preset).max_epochs

# %% tags=["hide-input"]
fig = sequential_figure(results, methods, max_epochs=max_epochs,
                        xlabel="number of distributions seen",
                        title=f"Split Fashion-MNIST, {arch}, preset {preset}, "
                              f"{page.seed_text} (mean ± std)")
page.figure(fig, "fig3", per_task_table({m: results[m] for m in methods},
                                        ["neg_elbo", "log_frechet", "epochs"]))

# %% [markdown]
# ## Our values after the last distribution
#
# The paper gives no numbers for Figure 3 in its text, so there is nothing to compare value by
# value; the table lists ours (mean over seeds, ± std with several seeds), at the last task
# on the full cumulative test set. "epochs, sum" adds the epochs over all tasks (for `full`,
# trained once, that is its single training).

# %% tags=["hide-input"]
display(Markdown(final_table(results, methods)))

# %% [markdown]
# ## The paper's claims, checked on these results
#
# Section 5.1 makes qualitative claims only: (a) the lifelong model does at least as well
# as EWC on the test ELBO; (b) it does clearly better on the log-Fréchet distance; (c) EWC
# converges faster at first (fewer epochs to early stopping), the lifelong model needing
# fewer and fewer epochs until it matches EWC; and `full` and `upto`, which see the past
# data, are the best attainable. Each is tested on our means over seeds with the rule stated
# beside it (`lgm.report.lifelong.fig3_claims`). When every training of lifelong and EWC ran
# to the epoch cap, the models are not trained at this budget: a claim that fails is then
# recorded as *cannot be tested at this budget*, and (c), which is about the epochs
# themselves, cannot be tested at all.

# %% tags=["hide-input"]
fig3_claims(page, results, max_epochs)
decline_claim(page, results, max_epochs)
page.show_claims()

# %% [markdown]
# ## The course budget: Figure 3 at the quick preset
#
# When the page above shows the paper preset, here is the same experiment at the quick preset
# (the budget of the exercises below, on a laptop CPU), with its own verdicts.
# Compare the two: at this budget every training runs to its epoch cap, and EWC's −ELBO is
# the lower one (exercise 3 finds out why).

# %% tags=["hide-input"]
if preset == "paper":
    quick = begin("fig3", preset="quick", seeds=resolve_seeds("quick", None), device=device,
                  data_root=data_root, figure_dir=figure_dir, show=False)
    quick_results = quick.run(fashion, {m: dict(method=m, arch=arch, visuals=8)
                                        for m in variants})
    quick_max = fashion.make_config("quick").max_epochs
    fig = sequential_figure(quick_results, list(quick_results), max_epochs=quick_max,
                            xlabel="number of distributions seen",
                            title=f"Split Fashion-MNIST, {arch}, preset quick, {quick.seed_text}")
    quick.figure(fig, "fig3-quick", per_task_table(quick_results,
                                                   ["neg_elbo", "log_frechet", "epochs"]))
    fig3_claims(quick, quick_results, quick_max)
    decline_claim(quick, quick_results, quick_max)
    quick.show_claims()
    quick.record(show=True)
else:
    display(Markdown("*The figure at the top of this page is the quick preset.*"))

# %% [markdown]
# ## Fig. 3c: why the lifelong student trains to the epoch cap
#
# **The rule.** After every epoch the validation −ELBO is measured on the task's held-out
# images (for lifelong and EWC also on fixed teacher samples, in the replay proportion); a
# seed stops once `patience` epochs pass without a decrease (after a burn-in of `min_epochs`)
# and gets its best weights back, else at `max_epochs`. Any decrease counts. The paper preset
# uses patience 50, burn-in 20 and a cap of 200. The reference code used patience 50 on the
# held-out loss (a later branch: burn-in 20, patience 30), also without a threshold, and caps of
# 200 to 500 epochs. So ours is the reference's rule.
#
# **The evidence.** At the paper preset (committed H100 runs), 46 of the 50 lifelong trainings
# ran to the cap of 200 epochs, with best epochs around 185. **Vanilla behaves the same**, and it
# validates on real held-out images only. So the teacher samples in the validation set are not
# what keeps training going. The validation −ELBO of a VAE at learning rate 1e-3 keeps falling
# slowly for more than 200 epochs on about 5,400 images per task, and with no threshold every
# small decrease resets the patience. EWC's penalty stops its improvement earlier, so EWC stops
# (the first half of Fig. 3c holds). The second half, "fewer and fewer epochs", cannot be
# tested while the cap decides the length of most trainings. The table below counts this on
# the runs this page shows.
#
# **What would change it.** Raising the cap (the reference's 500) lets the rule trigger.
# Requiring a relative improvement (`--set min_delta=1e-3`: a decrease of less than 0.1 % does
# not reset the patience) makes early stopping end the slow tail. Runs now keep every epoch's
# validation −ELBO (`training.val_curve`), so `lgm.report.early_stopping.replay_rule` can
# replay the rule with other settings without retraining. No paper-preset run with either
# setting is committed yet: `python -m lgm run fashion --preset paper --set min_delta=1e-3
# --device cuda`.

# %% tags=["hide-input"]
display(Markdown(stopping_table(results, max_epochs)))

# %% [markdown]
# ## Exercises
#
# Paste a snippet into a Python session started in the repository root (or save it as a file
# and run it with `.venv/bin/python`). Under each snippet: its time as `make exercises`
# measured it, in a fresh Python process from an empty cache, on the library's default of one
# torch thread (`LGM_THREADS`), and whether its outcome matched the solution.

# %% tags=["hide-input"]
from lgm.report.exercises import show_exercises

show_exercises("fig3")

# %%
# provenance (data paths relative to the data root), the rerun box, the verdicts recorded
page.end()
