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
fig, axes = plt.subplots(1, 4, figsize=(18, 5.2), constrained_layout=True)
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

# %%
page.end(provenance=f"preset `{preset}` (no training: the same at every preset) · seed "
                    f"{seeds[0]} · data: none (a toy model)")
