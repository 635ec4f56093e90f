# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data-free compression of a hierarchical VAE (KD paper, section 4.2, Table 1)
#
# The first application of *A Unified Knowledge Distillation Framework for Deep Directed
# Graphical Models* (section 3.6, fig. 4a) compresses a 5-layer **ladder VAE** (Sønderby et
# al. 2016) without looking at any data. The generative model is a chain of Gaussians,
#
# $$
# z_5 \sim \mathcal{N}(0, I), \quad z_i \mid z_{i+1} \sim \mathcal{N}(\mu_i(z_{i+1}),
# \sigma_i(z_{i+1})^2)\ (i = 4..1), \quad y \mid z_1 \sim \mathcal{N}(m(z_1), 0.224^2 I),
# $$
#
# with 16 latent channels per layer (16×16×16 down to 16×1×1 at 32×32), residual
# convolutional stages of width $h$ (`lgm.models.ladder.LadderVAE`). A teacher of width 128
# is trained on the images; students of width 16, 8, 4 (32, 16, 8 on 64×64 CelebA) are made
# three ways, from the same initial weights:
#
# - **ours** (eq. 7, data-free): teacher and student share the auxiliary noise
#   $z_5, \epsilon_4, \dots, \epsilon_1$; the loss is the KL of the two image Gaussians
#   ($\sum (m_T - m_S)^2 / 2\sigma^2$) plus $\lambda = 0.1$ times the squared
#   2-Wasserstein distance of each latent Gaussian $z_4..z_1$, averaged over its dimensions
#   (the authors' code); the shared prior $z_5$ is not distilled;
# - **local** (fig. 3d, data-free): every conditional of the student evaluated at the
#   teacher's samples, KLs summed;
# - **scratch**: the student trained by the ELBO on the data, for as many Adam steps.
#
# Table 1 reports four two-sample metrics against 1024 test images (FID, the square root of
# the Fréchet distance; EMD; MMD; 1-NN accuracy; all in Inception-v3 features, lower is
# better) and the same four against the teacher's samples ("-T"). The paper finds that
# **ours beats local and scratch on every metric, at every student size, on SVHN, CIFAR10 and
# CelebA**, and that the data-free student beats the one trained from scratch on data.
#
# **Here.** SVHN, CIFAR10 and CelebA are read from torchvision's files under the data root
# when present (`lgm.data.images`). Where they are absent (this machine has no network), the
# page runs on the stand-in named below: **FashionMNIST, 28×28 padded to 32×32, grey copied
# to 3 channels** (so the models have the paper's input shape); at the paper preset with none
# of the three at hand, the stand-in runs with the paper's settings. Without a local
# Inception-v3 weights file the features come from a small classifier trained on the
# dataset (named in the provenance), so our metric values are in other units than the
# paper's: compare orderings, not magnitudes. At the quick preset the teacher has width 8
# and one student width 4, trained for 72 and 48 Adam steps on 768 images: the numbers show
# what this budget gives, not the paper's values.

# %% tags=["parameters"]
preset = "quick"
seeds = [0]
device = "cpu"
data_root = None
figure_dir = "build/figures"
datasets = None            # None: the preset's (quick/smoke: the stand-in; paper: Table 1's)
inception_weights = None   # a local state dict of torchvision's inception_v3, if any

# %%
# data: fashion (stand-in; svhn, cifar10, celeba at the paper preset when present)
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from lgm.data.idx import DataNotFoundError
from lgm.experiments.kd_compression import (
    PAPER_DATASETS,
    kd_compression_config,
    metric_values,
    run_table1,
)
from lgm.experiments.report import (
    fmt,
    markdown_table,
    results_provenance,
    save_verdicts,
    verdict_rows,
)
from lgm.models.ladder import LadderVAE, millions, num_parameters

started = time.perf_counter()
seeds = [0, 1, 2] if preset == "paper" and list(seeds) == [0] else list(seeds)
seeds = seeds[:1] if preset == "smoke" else seeds
if datasets is None:
    datasets = list(PAPER_DATASETS) if preset == "paper" else ["fashion"]
tables, missing = {}, {}
for ds in datasets:
    cfg = kd_compression_config(preset, dataset=ds, seeds=tuple(seeds), device=device,
                                data_root=data_root, inception_weights=inception_weights)
    t0 = time.perf_counter()
    try:
        tables[ds] = run_table1(cfg)
    except DataNotFoundError as err:
        missing[ds] = str(err).splitlines()[0]
        print(f"{ds}: not at hand ({missing[ds]})")
        continue
    print(f"{ds}: {time.perf_counter() - t0:.1f} s")
if not tables and preset == "paper":  # none of Table 1's data here: the stand-in, paper settings
    print("none of Table 1's datasets at hand: running the stand-in (fashion) at the paper's "
          "settings")
    cfg = kd_compression_config(preset, dataset="fashion", seeds=tuple(seeds), device=device,
                                data_root=data_root, inception_weights=inception_weights)
    tables["fashion"] = run_table1(cfg)
if not tables:
    raise RuntimeError(f"no dataset at hand among {datasets}: {missing}")
METRICS = [("fid", 2), ("emd", 2), ("mmd", 2), ("1nn", 2)]

# %% [markdown]
# ## Model sizes
#
# Table 1 gives the size of each model in millions of parameters (encoder + decoder). Our
# `LadderVAE` reproduces every count at the paper's widths (3 input channels): the image
# head has $2C$ outputs (mean and an unused log-scale, as in the authors' code) with a bias.

# %% tags=["hide-input"]
PAPER_SIZES = {(32, 128): "5.387M (5.39M)", (32, 16): "0.102M (0.10M)",
               (32, 8): "0.030M (0.03M)", (32, 4): "0.010M (0.01M)",
               (64, 128): "6.601M (6.60M)", (64, 32): "0.443M (0.44M)",
               (64, 16): "0.121M (0.12M)", (64, 8): "0.035M (0.04M)"}
size_rows, sizes_match = [], True
for (side, width), paper in PAPER_SIZES.items():
    count = num_parameters(LadderVAE(side, width))
    sizes_match &= paper.startswith(millions(count))
    size_rows.append([f"{side}×{side}", width, f"{count:,}", millions(count), paper])
display(Markdown(markdown_table(["input", "width h", "parameters", "ours", "paper (Table 1)"],
                                size_rows)))

# %% [markdown]
# ## Samples
#
# Sixteen samples of each model drawn with the *same* noise (so the columns pair up: a
# student sample is its teacher's "twin"), first seed, decoder means clipped to [0, 1].

# %% tags=["hide-input"]
fig_dir = Path(figure_dir)
fig_dir.mkdir(parents=True, exist_ok=True)


def image_row(grid: np.ndarray) -> np.ndarray:
    """[n, C, H, W] uint8 -> one [H, n*W, 3] strip."""
    grid = grid if grid.shape[1] == 3 else np.repeat(grid, 3, axis=1)
    return np.concatenate(list(grid.transpose(0, 2, 3, 1)), axis=1)


for ds, res in tables.items():
    cfg = res["config"]
    rows = [(f"teacher h={cfg['teacher_width']}", res["teacher"]["arrays"]["samples"])]
    rows += [(f"{m} h={w}", runs[0]["arrays"]["samples"])
             for (w, m), runs in res["students"].items()]
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 0.9 * len(rows) + 0.4),
                             constrained_layout=True)
    for ax, (label, grid) in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(image_row(grid[:16]))
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.suptitle(f"{ds}: samples on shared noise, preset {preset}")
    fig.savefig(fig_dir / f"kd_table1_samples_{ds}.png", dpi=110)
    plt.show()

# %% [markdown]
# ## Table 1, ours
#
# Mean ± standard deviation over seeds (one seed: no spread). Columns as in the paper; FID
# is the square root of the Fréchet distance. The teacher row has no "-T" columns.

# %% tags=["hide-input"]
header = ["dataset", "method", "#param", "FID", "EMD", "MMD", "1NN", "FID-T", "EMD-T",
          "MMD-T", "1NN-T"]
rows = []
for ds, res in tables.items():
    t = res["teacher"]
    rows.append([ds, "teacher", millions(t["parameters"]),
                 *[fmt(np.array([t["metrics"]["data"][k]]), d) for k, d in METRICS],
                 "–", "–", "–", "–"])
    for (w, m), runs in res["students"].items():
        rows.append([ds, f"{m} (h={w})", millions(runs[0]["parameters"]),
                     *[fmt(metric_values(runs, "data", k), d) for k, d in METRICS],
                     *[fmt(metric_values(runs, "teacher", k), d) for k, d in METRICS]])
display(Markdown(markdown_table(header, rows)))
extractors = sorted({r["extractor"] for res in tables.values()
                     for runs in res["students"].values() for r in runs})
display(Markdown("Features: " + "; ".join(extractors) + "."
                 + ("" if not missing else "\n\nNot at hand: " + "; ".join(
                     f"{k} ({v})" for k, v in missing.items()))))

# %% [markdown]
# ## Table 1, the paper (Inception-v3 features, mean ± std over 3 seeds)
#
# | dataset | method | #param | FID | EMD | MMD | 1NN | FID-T | EMD-T | MMD-T | 1NN-T |
# | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
# | CelebA | teacher | 6.60M | 4.95 | 8.54 | 0.24 | 0.89 | – | – | – | – |
# | | our | 0.44M | 5.38 ± 0.10 | 8.77 ± 0.06 | 0.27 ± 0.01 | 0.92 ± 0.01 | 0.019 ± 0.002 | 6.48 ± 0.04 | 0.12 ± 0.00 | 0.17 ± 0.01 |
# | | local | 0.44M | 6.23 ± 0.17 | 9.25 ± 0.11 | 0.33 ± 0.01 | 0.95 ± 0.00 | 0.052 ± 0.006 | 8.32 ± 0.14 | 0.26 ± 0.02 | 0.82 ± 0.02 |
# | | scratch | 0.44M | 6.10 ± 0.31 | 9.08 ± 0.16 | 0.33 ± 0.02 | 0.95 ± 0.01 | 0.052 ± 0.016 | 8.34 ± 0.36 | 0.26 ± 0.05 | 0.82 ± 0.05 |
# | | our | 0.12M | 5.96 ± 0.12 | 9.06 ± 0.09 | 0.31 ± 0.01 | 0.95 ± 0.00 | 0.036 ± 0.005 | 8.04 ± 0.11 | 0.23 ± 0.01 | 0.79 ± 0.02 |
# | | local | 0.12M | 8.95 ± 0.19 | 11.24 ± 0.16 | 0.50 ± 0.01 | 0.99 ± 0.00 | 0.157 ± 0.018 | 10.82 ± 0.17 | 0.47 ± 0.01 | 0.99 ± 0.00 |
# | | scratch | 0.12M | 8.18 ± 0.15 | 10.50 ± 0.14 | 0.45 ± 0.01 | 0.99 ± 0.00 | 0.095 ± 0.007 | 9.98 ± 0.03 | 0.43 ± 0.00 | 0.97 ± 0.00 |
# | | our | 0.04M | 8.20 ± 0.12 | 10.66 ± 0.12 | 0.45 ± 0.01 | 0.99 ± 0.00 | 0.069 ± 0.004 | 9.91 ± 0.06 | 0.40 ± 0.00 | 0.98 ± 0.00 |
# | | local | 0.04M | 11.08 ± 0.27 | 12.79 ± 0.22 | 0.62 ± 0.01 | 1.00 ± 0.00 | 0.139 ± 0.015 | 12.80 ± 0.28 | 0.64 ± 0.01 | 1.00 ± 0.00 |
# | | scratch | 0.04M | 9.57 ± 0.14 | 11.46 ± 0.11 | 0.55 ± 0.01 | 1.00 ± 0.00 | 0.093 ± 0.004 | 11.19 ± 0.13 | 0.56 ± 0.02 | 1.00 ± 0.00 |
# | SVHN | teacher | 5.39M | 4.19 | 7.98 | 0.17 | 0.80 | – | – | – | – |
# | | our | 0.10M | 4.38 ± 0.05 | 7.94 ± 0.04 | 0.19 ± 0.00 | 0.81 ± 0.00 | 0.028 ± 0.006 | 6.90 ± 0.05 | 0.14 ± 0.01 | 0.47 ± 0.02 |
# | | local | 0.10M | 5.93 ± 0.50 | 8.66 ± 0.32 | 0.30 ± 0.04 | 0.95 ± 0.02 | 0.108 ± 0.019 | 9.29 ± 0.41 | 0.40 ± 0.04 | 0.98 ± 0.01 |
# | | scratch | 0.10M | 4.69 ± 0.16 | 8.04 ± 0.12 | 0.21 ± 0.01 | 0.85 ± 0.01 | 0.037 ± 0.006 | 7.86 ± 0.10 | 0.22 ± 0.01 | 0.80 ± 0.02 |
# | | our | 0.03M | 4.81 ± 0.06 | 8.10 ± 0.03 | 0.22 ± 0.01 | 0.87 ± 0.01 | 0.031 ± 0.012 | 7.82 ± 0.08 | 0.23 ± 0.01 | 0.82 ± 0.03 |
# | | local | 0.03M | 6.95 ± 0.35 | 9.40 ± 0.28 | 0.37 ± 0.02 | 0.98 ± 0.01 | 0.153 ± 0.017 | 10.39 ± 0.21 | 0.49 ± 0.02 | 1.00 ± 0.00 |
# | | scratch | 0.03M | 5.84 ± 0.32 | 8.62 ± 0.18 | 0.31 ± 0.02 | 0.92 ± 0.01 | 0.080 ± 0.009 | 9.10 ± 0.22 | 0.39 ± 0.03 | 0.95 ± 0.01 |
# | | our | 0.01M | 6.71 ± 0.38 | 9.22 ± 0.31 | 0.36 ± 0.03 | 0.96 ± 0.01 | 0.055 ± 0.011 | 9.13 ± 0.11 | 0.37 ± 0.02 | 0.98 ± 0.00 |
# | | local | 0.01M | 8.26 ± 0.37 | 10.40 ± 0.35 | 0.45 ± 0.02 | 1.00 ± 0.00 | 0.170 ± 0.015 | 11.25 ± 0.25 | 0.55 ± 0.01 | 1.00 ± 0.00 |
# | | scratch | 0.01M | 7.73 ± 0.28 | 9.95 ± 0.25 | 0.43 ± 0.01 | 0.99 ± 0.00 | 0.063 ± 0.015 | 10.22 ± 0.18 | 0.49 ± 0.01 | 0.99 ± 0.00 |
# | Cifar10 | teacher | 5.39M | 4.63 | 7.57 | 0.25 | 0.89 | – | – | – | – |
# | | our | 0.10M | 5.47 ± 0.23 | 8.16 ± 0.20 | 0.31 ± 0.02 | 0.92 ± 0.01 | 0.024 ± 0.006 | 6.29 ± 0.08 | 0.19 ± 0.01 | 0.48 ± 0.01 |
# | | local | 0.10M | 6.22 ± 0.05 | 8.61 ± 0.06 | 0.37 ± 0.00 | 0.94 ± 0.00 | 0.036 ± 0.003 | 7.58 ± 0.08 | 0.31 ± 0.01 | 0.91 ± 0.01 |
# | | scratch | 0.10M | 6.19 ± 0.25 | 8.54 ± 0.15 | 0.38 ± 0.02 | 0.95 ± 0.01 | 0.034 ± 0.005 | 7.27 ± 0.12 | 0.28 ± 0.03 | 0.83 ± 0.03 |
# | | our | 0.03M | 6.11 ± 0.16 | 8.59 ± 0.11 | 0.36 ± 0.01 | 0.95 ± 0.01 | 0.036 ± 0.013 | 7.29 ± 0.11 | 0.28 ± 0.01 | 0.82 ± 0.02 |
# | | local | 0.03M | 7.55 ± 0.09 | 9.66 ± 0.05 | 0.45 ± 0.00 | 0.97 ± 0.00 | 0.052 ± 0.003 | 9.08 ± 0.07 | 0.44 ± 0.01 | 0.99 ± 0.00 |
# | | scratch | 0.03M | 6.74 ± 0.36 | 8.95 ± 0.27 | 0.42 ± 0.03 | 0.96 ± 0.01 | 0.037 ± 0.007 | 7.84 ± 0.29 | 0.35 ± 0.03 | 0.93 ± 0.02 |
# | | our | 0.01M | 7.61 ± 0.91 | 9.65 ± 0.79 | 0.47 ± 0.05 | 0.98 ± 0.01 | 0.045 ± 0.016 | 8.48 ± 0.78 | 0.42 ± 0.05 | 0.96 ± 0.02 |
# | | local | 0.01M | 10.53 ± 0.74 | 12.10 ± 0.71 | 0.64 ± 0.03 | 1.00 ± 0.00 | 0.085 ± 0.015 | 11.38 ± 0.69 | 0.62 ± 0.02 | 1.00 ± 0.00 |
# | | scratch | 0.01M | 10.17 ± 1.13 | 11.67 ± 1.01 | 0.64 ± 0.06 | 1.00 ± 0.00 | 0.067 ± 0.023 | 10.56 ± 0.99 | 0.61 ± 0.05 | 1.00 ± 0.00 |
#
# The paper's FID-T values (0.02 to 0.17) are far smaller than its FID values and than its
# EMD-T values; the paper does not say how they were computed, so we do not try to match
# their scale. Its 1NN-T values below 0.5 (0.17 for ours on CelebA) mean that a student
# sample's nearest neighbour is often its own teacher twin: teacher and student samples were
# drawn with the same noise, as we do.

# %% [markdown]
# ## The paper's claims, checked on these results
#
# Table 1 supports two readings, checked separately: the student of ours **imitates its
# teacher** better (the four "-T" columns: "our method can help students better imitate
# their teachers"), and it **generates better images** (the four columns against the test
# data; against scratch this is the claim that the data-free student beats the one trained
# on data). Rule: at each dataset and student width, the seed means of ours are lower than
# the baseline's on all four columns ("consistently outperforms the baselines in all the
# metrics"); we count the columns. With one seed (quick preset) there is no spread: the
# verdict compares single runs. The data columns can only show a benefit when the teacher
# generates better than the students do on their own; the line after the verdicts says
# whether it does here. Claim 5: every parameter count of the table reproduced to its
# stated digits.

# %% tags=["hide-input"]
verdicts = []


def beats(ds: str, width: int, baseline: str, against: str) -> tuple[int, list[str]]:
    """On how many of the 4 columns ours is lower than ``baseline``, and those it is not."""
    runs = tables[ds]["students"]
    worse = [f"{k}{'-T' if against == 'teacher' else ''}" for k, _ in METRICS
             if not metric_values(runs[(width, "ours")], against, k).mean()
             < metric_values(runs[(width, baseline)], against, k).mean()]
    return len(METRICS) - len(worse), worse


CLAIMS = [("teacher", "local", "ours imitates the teacher better than local distillation"),
          ("teacher", "scratch", "ours imitates the teacher better than the scratch student"),
          ("data", "local", "ours generates better than local distillation"),
          ("data", "scratch", "ours (data-free) generates better than scratch (on data)")]
for i, (against, baseline, claim) in enumerate(CLAIMS, start=1):
    cols = "-T columns" if against == "teacher" else "columns vs data"
    cells = [(ds, w, *beats(ds, w, baseline, against)) for ds, res in tables.items()
             for w in res["config"]["student_widths"]
             if (w, "ours") in res["students"] and (w, baseline) in res["students"]]
    if not cells:
        verdicts.append(f"{i}. **{claim}** (all 4 {cols} lower): cannot be tested. The runs "
                        f"of ours or {baseline} are missing.")
        continue
    ok = all(n == len(METRICS) for _, _, n, _ in cells)
    detail = "; ".join(f"{ds} h={w}: {n}/4" + (f" (not on {', '.join(bad)})" if bad else "")
                       for ds, w, n, bad in cells)
    verdicts.append(f"{i}. **{claim}** (all 4 {cols} lower, per dataset and width, "
                    f"{len(seeds)} seed(s)): {'holds' if ok else 'does not hold'}. {detail}.")
verdicts.append(f"5. **model sizes of Table 1** (all 8 counts to the stated digits): "
                f"{'holds' if sizes_match else 'does not hold'}. See the size table above.")
save_verdicts("kd_table1", preset, verdict_rows(verdicts))
context = []
for ds, res in tables.items():
    teacher_fid = res["teacher"]["metrics"]["data"]["fid"]
    best = min(metric_values(runs, "data", "fid").mean() for runs in res["students"].values())
    context.append(f"{ds}: teacher FID {teacher_fid:.2f}, best student {best:.2f} "
                   f"({'the teacher is better' if teacher_fid < best else 'the teacher is no better: its students cannot gain from imitating it'})")
display(Markdown("\n".join(verdicts) + "\n\nTeacher against its students on the data: "
                 + "; ".join(context) + "."))

# %% [markdown]
# **Where ours differs from the paper.** Data: the stand-in unless torchvision's files of
# SVHN, CIFAR10 and CelebA are under the data root. Features: a classifier trained on the
# dataset unless an Inception-v3 weights file is given (`inception_weights`). Budget: the
# quick preset trains a width-8 teacher (30k parameters, not 5.4M) for 72 Adam steps (lr
# 3e-3) and one width-4 student for 48; the paper preset runs the authors' settings (Adam
# 1e-4, weight decay 1e-4, batch 128, 50 epochs with 25 of KL warm-up, three seeds). The teacher's
# BatchNorm is in eval mode while distilling (the authors' code left it in training mode).
# Distillation gets as many Adam steps as scratch training (the paper does not say).

# %% [markdown]
# ## Provenance

# %%
all_results = [r for res in tables.values()
               for r in [res["teacher"], *[x for runs in res["students"].values() for x in runs]]]
display(Markdown(results_provenance(all_results, preset, seeds, started,
                                    extra=f"figures `{fig_dir}`")))
