# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Model sizes (appendix 7.4.1)
#
# The appendix of *Lifelong Generative Modeling* lists, for the split Fashion-MNIST
# experiment (section 5.1), how many parameters each method keeps in memory, for the dense
# (`-D`) and the convolutional (`-C`) architecture, at the first task and after the last.
#
# - **Architectures.** Dense (`-D`): 512-unit layers with BatchNorm and ELU except on the
#   latent projection and the output layer. Convolutional (`-C`): the encoder and decoder
#   of the paper's equation 15. The latent code is a discrete $z_d$ (one-hot,
#   Gumbel-softmax) next to a Gaussian $z_c$.
# - **Growing code.** The lifelong model starts with $z_d$ of size 1 and grows it by one
#   per task up to 10, so its initial and final counts differ; the baselines get all 10
#   discrete dimensions from the start.
# - **What is counted.** Everything a method has to keep in memory: one model for
#   `vanilla` and `full`, student *and* teacher for the student–teacher methods, and for
#   EWC also the diagonal Fisher information, one entry per parameter. The list under the
#   table says what each row counts.
#
# The prose of the appendix leaves room for several architectures (how many hidden
# layers on each side, plain or gated convolutions, what the "$z_c$ dimension 14" column
# means). `lgm.models.networks` takes the reading that reproduces the paper's counts and
# documents why; its notes are printed at the end of this page. The numbers below are
# computed by building those models and counting their parameters (`nn.Parameter`
# tensors: BatchNorm's affine weights are counted, its running statistics are not). No
# training and no data are involved, so `seeds` and `data_root` are not used here.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from lgm.models import networks
from lgm.report import table741
from lgm.report.page import begin

page = begin("table741", preset=preset, seeds=seeds, device=device, data_root=data_root,
             caveat="No training: the counts are the same at every preset.")

# %% [markdown]
# ## Ours against the paper
#
# Counts that differ from the paper's are marked with †; the differences are listed below
# the table.

# %% tags=["hide-input"]
counts, summary = table741.table(page)
page.anchor()
display(Markdown(counts))
display(Markdown(summary))

# %% [markdown]
# ## Notes from `lgm.models.networks`
#
# How the architecture was read off the appendix, and where each remaining difference
# comes from (the module's docstring, printed as is).

# %% tags=["hide-output"]
print(networks.__doc__)

# %%
page.end(provenance=f"preset `{preset}` (no training) · device `{device}`")
