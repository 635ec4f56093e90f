# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Four forms of a deep DGM (KD paper, section 3.1, Fig. 1)
#
# *A Unified Knowledge Distillation Framework for Deep Directed Graphical Models* builds its
# loss on a rewriting of the model. Fig. 1 draws one toy DGM four ways (diamonds are
# deterministic variables, circles random ones):
#
# - **(a) original form**: the DAG of eq. 1, $p(y, z \mid x) = \prod_j p(y_j \mid
#   \mathrm{Pa}(y_j), x) \prod_i p(z_i \mid \mathrm{Pa}(z_i), x)$;
# - **(b) auxiliary form**: the reparameterisation trick for every random variable,
#   $v = g(\mathrm{Pa}(v), x, \epsilon_v)$ with a parameter-free root $\epsilon_v$;
# - **(c) semi-auxiliary form**: auxiliary roots for the latents $z$ only; the targets $y$
#   keep their distributions. "Latent variables $z_1$ and $z_2$ are deterministic when their
#   ancestors are given";
# - **(d) compact semi-auxiliary form**: the deterministic latents are omitted, so each target
#   depends directly on inputs, auxiliary variables and earlier targets,
#   $p(y \mid \epsilon, x) = \prod_j p(y_j \mid \epsilon_{\le j}, y_{<j}, x)$, tractable by
#   function composition.
#
# The paper's figure is an image whose edges are not given in the text; we draw a model with
# the same ingredients (`lgm.models.graph.ToyDGM`: an input, two Gaussian latents, two
# Gaussian targets, one target the parent of a latent): $x \to z_1$, $z_1 \to y_1$,
# $\{z_1, y_1\} \to z_2$, $z_2 \to y_2$. The four graphs are not drawn by hand: they are
# derived from the conditionals one ancestral pass of the model visits (each names its
# parents), so the same code draws any model of this book (the toy chains, the ladder VAE,
# the Helmholtz machine). Below the figure, the properties the paper states are checked on
# the model itself.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: none (a toy model; no data set)
import matplotlib.pyplot as plt
import torch

from lgm.models.graph import ToyDGM, dgm_forms, draw_forms
from lgm.report import diagrams
from lgm.report.kd_fig1 import identities
from lgm.report.page import begin

page = begin("kd_fig1", preset=preset, seeds=seeds, device=device, data_root=data_root,
             figure_dir=figure_dir, caveat="No training: the same at every preset.")
torch.manual_seed(seeds[0])
model = ToyDGM()
generator = torch.Generator().manual_seed(seeds[0])
x = torch.randn(256, 1, generator=generator)
noise = model.sample_noise(256, generator)
pass_ = model.ancestral(noise, x)
forms = dgm_forms(pass_)

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 2, figsize=(9.5, 5.6), constrained_layout=True)
axes = list(axes.flat)
draw_forms(axes, forms)
for ax, letter in zip(axes, "abcd", strict=True):
    ax.set_title(f"({letter}) {ax.get_title()} form")
page.figure(fig, "kd_fig1")

# %% [markdown]
# Shaded circle: the input $x$; dashed circles: auxiliary variables $\epsilon$; arrows that
# skip a column are bent. In (b) the targets too become deterministic functions of their own
# $\epsilon_{y}$; in (c) only $z_1, z_2$ do; in (d) $y_2$ depends on $x$, $\epsilon_{z_1}$,
# $\epsilon_{z_2}$ and $y_1$ directly.
#
# ## The paper's statements, checked on the model
#
# 1. Given the auxiliary variables and the input, the latents are deterministic: two passes
#    with the same $\epsilon_z$ and $x$ but fresh draws of the targets give identical latents.
# 2. The compact form contains only inputs, auxiliary variables and targets, and each target's
#    parents there are exactly its non-latent ancestors in the original form plus the
#    auxiliary roots of its latent ancestors.
# 3. The conditional $p(y \mid \epsilon, x)$ is computed by composition: the conditional of
#    $y_2$ in a pass equals $b_2 z_2$ with $z_2$ recomputed by hand from $\epsilon$, $x$ and
#    $y_1$.

# %% tags=["hide-input"]
identities(page, model, pass_, forms, noise, x, generator)
page.show_claims()

# %% [markdown]
# ## Which conditionals each distillation method pairs (Fig. 3)
#
# Fig. 3 colours, for five methods, the pairs of teacher and student conditionals that form one
# independent distillation component. Here the pairs are not drawn by hand: each panel runs the
# library's loss once on a small teacher and student (`lgm.losses.pairs.compared_pairs`
# records every divergence the loss computes, and which parent values the student's
# conditional was given), and the figure colours what was recorded:
#
# - **(a) vanilla network**: `target_free_loss` on $x \to y$ with no latent; it is eq. 2, one
#   pair, $p(y \mid x)$;
# - **(b) GAN** (eq. 9): a shared code $z$ (a parameter-free prior: not distilled), features
#   $f$ and the output $y$; the features enter the latent loss with the 2-Wasserstein distance,
#   the output the surrogate loss (a Gaussian with the teacher's fixed spread, whose KL is the
#   squared distance of the means up to a constant);
# - **(c) fully-visible autoregressive** (eq. 3): $y_2$'s conditional is compared at the
#   *teacher's* $y_1$ (red dashed arrow);
# - **(d) local** (`local_distillation_loss`) on fig. 1's model: every conditional, latent or
#   target, is compared at the teacher's samples of its parents;
# - **(e) ours** (`target_free_loss`, eq. 4, 6, 7): in the semi-auxiliary form the targets'
#   conditionals are compared (terms `sd`, eq. 4) with the student's own latents, made from the
#   shared auxiliary $\epsilon$, and the latents' conditionals enter the latent loss
#   (terms `z`, eq. 6) weighted by $\lambda$; only the teacher's targets are handed to the
#   student ($y_1$ as the parent of $z_2$, the chain rule of the KL over $y$).

# %% tags=["hide-input"]
panels = diagrams.distillation_panels(seed=seeds[0])
page.figure(diagrams.draw_distillation(panels), "kd_fig3",
            {"panel": [f"({p.label}) {p.title}" for p in panels],
             "pairs": [diagrams.pair_summary(p) for p in panels]})

# %% [markdown]
# Each row of the figure's CSV lists the pairs as `name [term, measure] | parent(source)`:
# source `teacher` is the teacher's sample handed to the student, `shared` an input or an
# auxiliary variable both passes use, `student` the student's own (deterministic given the
# shared $\epsilon$). Local distillation and ours differ exactly where the paper says: (d)
# pairs every latent at the teacher's parents, (e) pairs the targets at the student's own
# latents, so a student latent that drifts is penalised through the targets it feeds.
#
# ## The structures of the four deep DGMs of the experiments (Fig. 4)
#
# The same derivation as Fig. 1, from one ancestral pass (one sample) of each real model
# class built tiny: (a) the 5-layer hierarchical (ladder) VAE of `lgm.models.ladder`, (b) the
# VRNN of `lgm.models.vrnn` over $T = 3$ steps ($p_t$ the pen bit and $o_t$ the offset of
# $x_t$; the LSTM state that carries $z_{<t}$ and $x_{<t}$ forward is not a variable, so each
# step's conditionals name the previous step's variables as parents), (c) the Helmholtz
# machine of `lgm.models.helmholtz` (binary latents, two targets), (d) the conditional ladder
# VAE of the continual-learning experiment, `lgm.models.conditional_ladder` (the task
# condition $c$ is the input $x$ of eq. 1). All are drawn in semi-auxiliary form: every latent
# a diamond driven by its auxiliary root, the form that the distillation losses compare.

# %% tags=["hide-input"]
page.figure(diagrams.draw_structures(diagrams.structure_graphs(
    diagrams.model_structures(seed=seeds[0]))), "kd_fig4")

# %%
page.end(provenance=f"preset `{preset}` (no training: the same at every preset) · seed "
                    f"{seeds[0]} · data: none (a toy model)")
