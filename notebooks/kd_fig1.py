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

# %%
# data: none (a toy model; no data set)
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from lgm.experiments.cache import code_version
from lgm.experiments.report import save_verdicts, verdict_rows
from lgm.models.graph import ToyDGM, dgm_forms, draw_forms
from lgm.provenance import git_commit

started = time.perf_counter()
torch.manual_seed(seeds[0])
model = ToyDGM()
generator = torch.Generator().manual_seed(seeds[0])
x = torch.randn(256, 1, generator=generator)
noise = model.sample_noise(256, generator)
pass_ = model.ancestral(noise, x)
forms = dgm_forms(pass_)

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(16, 4.6), constrained_layout=True)
draw_forms(axes, forms)
for ax, letter in zip(axes, "abcd", strict=True):
    ax.set_title(f"({letter}) {ax.get_title()} form")
figure_path = Path(figure_dir) / "kd_fig1.png"
figure_path.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(figure_path, dpi=120)
plt.show()

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
fresh = {**noise, "y1": torch.randn(256, 1, generator=generator),
         "y2": torch.randn(256, 1, generator=generator)}
again = model.ancestral(fresh, x)
# the latents that do not depend on a redrawn target: z1 always; z2 reads y1, so compare it
# with the same y1 plugged in as its parent
local = model.ancestral(fresh, x, parents=pass_.samples())
same_z1 = torch.equal(again["z1"].sample, pass_["z1"].sample)
same_z2 = torch.equal(local["z2"].sample, pass_["z2"].sample)
lines = [f"1. **latents are deterministic given their auxiliary variables and inputs** (rule: "
         f"identical latents in two passes with the same eps and x): "
         f"{'holds' if same_z1 and same_z2 else 'does not hold'}. z1 identical: {same_z1}; z2 "
         "identical (same y1): " f"{same_z2}."]

original, _, _, compact = forms
latents = {c.name for c in pass_.latents}


def ancestors(name: str) -> set[str]:
    out: set[str] = set()
    for p in original.parents(name):
        out |= {p} | ancestors(p)
    return out


expected = {y.name: {a for a in ancestors(y.name) if a not in latents}
            | {f"eps:{a}" for a in ancestors(y.name) if a in latents} for y in pass_.targets}
found = {y.name: set(compact.parents(y.name)) for y in pass_.targets}
kinds = {compact.nodes[n] for n in compact.nodes}
ok = found == expected and "deterministic" not in kinds and not latents & set(compact.nodes)
lines.append("2. **the compact form keeps only inputs, auxiliary variables and targets** (rule: "
             "no latent node; each target's parents = its non-latent ancestors and the eps of "
             f"its latent ancestors): {'holds' if ok else 'does not hold'}. Parents of y2: "
             f"{sorted(found['y2'])}.")

a1, b1, a2, c2, b2 = model.weights.detach()
std = model.log_std.detach().exp()
z1 = a1 * x + std[0] * noise["z1"]
z2 = a2 * z1 + c2 * pass_["y1"].sample + std[2] * noise["z2"]
err = (pass_["y2"].params["mu"].detach() - b2 * z2).abs().max().item()
lines.append("3. **p(y | eps, x) is tractable by function composition** (rule: the pass's mean "
             "of y2 equals b2 z2(eps, x, y1) recomputed by hand, to 1e-6): "
             f"{'holds' if err < 1e-6 else 'does not hold'}. Largest difference {err:.1e}.")
save_verdicts("kd_fig1", preset, verdict_rows(lines))
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Provenance

# %%
display(Markdown(f"preset `{preset}` (no training: the same at every preset) · seed "
                 f"{seeds[0]} · commit {git_commit()} · code version {code_version()} · "
                 f"this page {time.perf_counter() - started:.1f} s · figure `{figure_path}`"
                 "\n\ndata: none (a toy model)"))
