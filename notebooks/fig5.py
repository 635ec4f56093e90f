# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SVHN → MNIST, transfer across datasets (section 5.3, Figure 5)
#
# Section 5.3 of *Lifelong Generative Modeling* asks whether the lifelong model retains and
# transfers knowledge across completely different datasets: all of SVHN is the first
# distribution, all of MNIST (resized to 32×32×3) the second, irrespective of the digit.
# The lifelong student (eq. 6) starts with one discrete code and grows to two; after MNIST
# it has seen no real SVHN image since the first task, only the teacher's replay.
#
# Figure 5 shows (a) test images of both datasets and their reconstructions by the final
# model (the claim: it still reconstructs SVHN), and (b, c) the decoder over a linear grid
# of a 2-d $z_c \in [-3, 3]^2$ with $z_d$ fixed to each of the two codes (the claim: the
# model learns a common continuous structure for the two distributions, visible as the same
# development from top left to bottom right in both panels). The models are trained with
# `continuous=2` for this figure.
#
# **Data.** SVHN is not shipped with this repository and cannot be downloaded without a
# network. When it is found (see the README's data section), this page runs the real
# experiment `svhn_mnist`. When it is not, the page says so below and runs the closest
# dataset-to-dataset sequence that the data at hand allows, **Fashion-MNIST → MNIST**
# (experiment `fashion_then_mnist`: task 1 is all of Fashion-MNIST, task 2 all of MNIST,
# every class of each). Like the paper's it crosses from one whole dataset to another,
# but both are 28×28 grey images, so it is an easier transfer than SVHN's colour house
# numbers, and it is not a result on SVHN.
#
# **Reading the figure.** (a) For each task, the first row holds test images and the row
# below their reconstructions by the final model (hard $z_d$). (b), (c) For code 0 and
# code 1, the decoder's mean over a 10×10 grid of $z_c$: $z_{c,1}$ from −3 (left) to 3
# (right), $z_{c,2}$ from −3 (top) to 3 (bottom).

# %% tags=["parameters"]
preset = "quick"
seeds = None  # None: the preset's (the paper's at paper, one seed otherwise)
device = "cpu"
data_root = None
arch = "dense"
figure_dir = "build/figures"

# %% tags=["hide-input"]
# data: mnist, fashion
from IPython.display import Markdown, display

from lgm.data import DataNotFoundError, locate_dataset
from lgm.experiments.registry import get
from lgm.report.codes import transfer_claims, transfer_figure, transfer_table
from lgm.report.page import begin
from lgm.report.runs import preset_limits, resolve_seeds

try:
    for split in ("train", "test"):
        locate_dataset("svhn", data_root, split=split)
    have_svhn, missing = True, ""
except DataNotFoundError as err:
    have_svhn, missing = False, str(err).splitlines()[0].removesuffix(" Looked for:")
experiment = "svhn_mnist" if have_svhn else "fashion_then_mnist"
label = "SVHN → MNIST" if have_svhn else "Fashion-MNIST → MNIST (stand-in)"
page = begin("fig5", preset=preset, seeds=resolve_seeds(preset, seeds), device=device,
             data_root=data_root, figure_dir=figure_dir,
             caveat=preset_limits(preset, len(resolve_seeds(preset, seeds))) + (
                 " SVHN was found: this page runs the paper's experiment svhn_mnist."
                 if have_svhn else " SVHN is not available here, so this page does not show "
                 f"the paper's experiment ({missing}); it shows the stand-in "
                 "fashion_then_mnist, all of Fashion-MNIST followed by all of MNIST. Nothing "
                 "below is a result on SVHN."))
results = page.run(get(experiment), {"lifelong": dict(
    method="lifelong", arch=arch, continuous=2, classifier_epochs=0, visuals=8)})["lifelong"]

# %% tags=["hide-input"]
page.figure(transfer_figure(results[0], f"{label}, lifelong, 2-d z_c, {arch}, preset "
                                        f"{preset}, seed {page.seeds[0]}"), "fig5")

# %% [markdown]
# ## Numbers behind the picture
#
# The negative test ELBO after each task, on the test images seen so far (after task 2:
# both test sets together), and the epochs each task took. The paper gives no numbers
# for this experiment.

# %% tags=["hide-input"]
display(Markdown(transfer_table(results)))

# %% [markdown]
# ## The paper's claims, checked on these results
#
# (1) The final model, trained on real data of the second distribution only, still
# reconstructs the first: judged on panel (a), with the reconstruction error of the first
# task's images next to the second's as a number (rule: the first task's error at most
# twice the second's). (2) The two codes share a continuous structure: the same
# development across panels (b) and (c); this is for the eye only, no number is computed.

# %% tags=["hide-input"]
page.show_claims(transfer_claims(page, results, stand_in=not have_svhn))

# %%
# provenance (data paths relative to the data root), the rerun box, the verdicts recorded
page.end(extra=f"experiment `{experiment}`")
