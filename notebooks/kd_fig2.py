# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Error accumulation in a deep Gaussian chain (KD paper, section 3.2, Fig. 2)
#
# *A Unified Knowledge Distillation Framework for Deep Directed Graphical Models* motivates
# its loss with a toy experiment. The teacher is a Markov chain with $L$ layers of latent
# variables and one output:
#
# $$
# z_1 \sim U[-1, 1], \qquad z_{i+1} \mid z_i \sim \mathcal{N}(\mu(z_i), 0.01),
# \qquad \mu(z) = \operatorname{sign}(z)\,|z|^{1.1},
# $$
#
# and the student, a chain of small residual networks, is distilled to mimic the law of the
# output. Two ways of distilling it:
#
# - **local** (fig. 3d): every conditional of the student, latent or target, is evaluated at
#   the *teacher's* samples and matched to the teacher's conditional separately;
# - **ours** (eq. 7): teacher and student share the auxiliary noise $\epsilon$
#   ($z_{i+1} = \mu(z_i) + 0.1\,\epsilon_{i+1}$), each runs its own chain, and the student
#   matches the teacher's output conditional given $\epsilon$ (eq. 4) plus
#   $\lambda = 0.1$ times the same for every latent (eq. 6).
#
# The accumulated error is $\mathrm{KL}(p_{teacher}(y) \,\|\, p_{student}(y))$, estimated
# from samples by density-ratio estimation. The paper's Fig. 2 (no numbers in the text)
# shows, for $L = 1 \dots 20$: **the KL of local distillation grows linearly with $L$**,
# "because each layer of the student deviates from the teacher to an extent", while **ours
# increases slowly**.
#
# **Our set-up** (the paper gives none of these details; none of this experiment is in the
# authors' public code):
#
# - the output is $y = z_{L+1}$; $z_1$ has a parameter-free law, shared by teacher and
#   student like an auxiliary variable, so $L = 1$ has a single conditional and the two
#   methods coincide there (`lgm.models.chains`);
# - student: for every conditional, mean $= z + \mathrm{MLP}(z)$ (one hidden layer of 16 tanh
#   units, output layer initialised at zero, so each layer starts as the identity) and its own
#   standard deviation (initially 0.2, the teacher's is 0.1);
# - both methods: the same data-free loop (`lgm.training.distill`), Adam with learning rate
#   $10^{-2}$, a fresh batch of shared noise each step, the same number of steps;
# - the KL: logistic regression on polynomial features of $y$ (degree 4) separates teacher
#   from student samples, $\log r = \operatorname{logit} D + \log(n_Q/n_P)$, averaged over
#   held-out teacher samples with 5-fold cross-fitting; error bars combine the estimator's
#   standard error and the spread over seeds (`lgm.metrics.density_ratio`).
#
# **Budgets.** `quick`: $L \in \{1, 5, 10, 20\}$, 60 steps of 256 samples, KL from 4000
# samples each, one seed (seconds on a CPU). `paper`: $L = 1 \dots 20$, 4000 steps of 1024,
# KL from 20000 samples, five seeds. The run-time is set by Python overhead of the tiny layers, so a GPU
# does not speed it up; it runs on CPU cores.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None
figure_dir = "build/figures"

# %%
# data: synthetic (samples of the teacher chain; no data set)
import time
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from lgm.experiments.kd_toy import kl_markdown, run_kd_toy, toy_config, toy_figure
from lgm.experiments.report import (
    resolve_seeds,
    results_provenance,
)

started = time.perf_counter()
seeds = resolve_seeds(preset, seeds)
cfg = toy_config(preset, "gaussian", seeds=tuple(seeds), device=device)
result = run_kd_toy(cfg)
print(f"{len(result['runs'])} runs: depths {list(cfg.layers)}, methods {list(cfg.methods)}, "
      f"seeds {list(cfg.seeds)}, {cfg.steps} steps of {cfg.batch} samples")

# %% tags=["hide-input"]
figure_path = Path(figure_dir) / "kd_fig2.png"
toy_figure(result, f"Gaussian chain, preset {preset}, {len(seeds)} seed(s)", figure_path)
plt.show()

# %% [markdown]
# **Reading the figure.** (a) is the paper's Fig. 2: the estimated KL between the teacher's
# and the student's output, against the number of latent layers. Values within about two
# error bars of 0 mean "no difference detectable with this many samples". (b) The output laws
# at the deepest chain. (c) The training loss of each method at the deepest chain (the two
# losses are different quantities: local sums per-layer KLs at the teacher's samples, ours is
# eq. 7 along the student's own path).
#
# ## Our values
#
# The paper's Fig. 2 has no numbers in the text, so the table has only ours: KL in nats,
# mean ± standard error.

# %% tags=["hide-input"]
display(Markdown(kl_markdown(result, "Fig. 2 only; local grows linearly, ours increases slowly.")))

# %% [markdown]
# **Where ours differs from the paper, and why.** The paper does not give its training
# budget, and the outcome depends on it. Our sweeps (learning rate $10^{-2}$, one or two
# seeds, KL from 20000 samples; on CPU cores) gave at $L = 20$: after 200 steps, local
# 0.003–0.009 nats and ours 0.016–0.06 — eq. 4 asks the student to follow the teacher *path
# by path* through 20 layers, a harder optimisation problem than 20 separate regressions,
# and early on the student widens its output to cover its path error (panel b); after
# 1500–4000 steps both fall to at most about 0.004 nats, ours below local in three of six
# runs, local below ours in one, the rest within the estimator's error. So at the `quick`
# preset (60 steps, to fit a CPU budget of seconds) the claims are tested where the local
# baseline has the advantage, and the verdicts above say what this budget shows, not what the
# paper's figure shows; the `paper` preset (4000 steps, $L = 1 \dots 20$, five seeds; hours
# of CPU time, as the tiny layers gain nothing from a GPU) is the fairer test.

# %% [markdown]
# ## Provenance

# %%
display(Markdown(results_provenance(result["runs"], preset, seeds, started,
                                    extra=f"figure `{figure_path}`")))
