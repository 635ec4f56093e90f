"""Data-free compression of a deep Helmholtz machine (KD paper, sections 3.6, 4.3, appendix H).

A teacher HM (hidden 8, 186 generative parameters; :mod:`lgm.models.helmholtz`) is trained on
the standardised Old Faithful data by wake-sleep. Three students of hidden size 2 (54
parameters) are compared:

- **ours**: eq. 7 on shared noise, no data. The student thresholds the teacher's uniforms
  ``u`` for its binary latents and its conditionals below the target y2 read the teacher's y2
  (eq. 4 takes y_<j from the teacher, as the authors' code does). L_sd = KL of the Gaussian
  targets y1, y2; the binary latents' hard samples pass no gradient, so the latent loss
  (eq. 6, KL of each Bernoulli conditional at the student's own parents) is what trains the
  layers above each target (section 3.3). **lambda = 1**: the authors' code sums the BCE of
  every layer and the two Gaussian KLs with equal weights (the BCE against the teacher's
  probabilities is the KL plus the teacher's entropy, which has no gradient).
- **local**: the baseline of fig. 3d: every conditional of the student evaluated at the
  teacher's samples, KLs summed (no data either).
- **scratch**: the student trained by wake-sleep on the data, as the teacher was.

The paper judges the students by KDE plots of 272 samples only (appendix H). Numbers added here
(the HM's marginal p(y1, y2) is exact by enumeration of the 4^4 latent states):

- ``kl_teacher``: KL(teacher || model) of the marginals over (y1, y2), Monte Carlo over
  ``eval_samples`` teacher draws of the exact log-density ratio (nats; standard error given);
- ``kl_teacher_dr``: the same KL estimated from samples only, by the density-ratio estimator
  of :mod:`lgm.metrics.density_ratio` (the paper's tool for fig. 2): a check of that estimator;
- ``nll_data``: the exact negative log-likelihood of the 272 rows (nats per row, in the
  standardised units; + log(1.13927 * 13.56996) = 2.736 for minutes);
- ``kl_data_dr``: KL(data || model) by density-ratio estimation from the 272 rows and
  ``dr_samples`` model samples.

Presets. ``paper``: the authors' settings (Adam lr 1e-2, weight decay 1e-4, full batch, 1000
steps for the teacher; the students get as many, on 272 noise draws per distillation step,
which the paper does not state). ``quick``: the teacher gets 300 wake-sleep steps (its data NLL
is then within 0.02 nats of the 1000-step value) and the students keep 1000: a conditional
with 2 ReLU units often loses both early in training (off on every input: the layer's output is
a constant), and Adam with weight decay revives them only after some 600-1000 steps, as its
second-moment estimate (beta2 = 0.999) forgets their earlier gradients; fewer steps would
compare stalls, not methods. ``smoke``: a few steps, to check the code runs.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt
from torch import Tensor

from lgm.data.faithful import load_faithful, unstandardise
from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.experiments.cache import cached_seed
from lgm.experiments.experiment import Experiment
from lgm.experiments.spec import ExperimentConfig, Preset
from lgm.losses.distillation import latent_loss, surrogate_loss
from lgm.metrics.density_ratio import density_ratio_kl
from lgm.models.helmholtz import (
    STUDENT_HIDDEN,
    TARGETS,
    TEACHER_HIDDEN,
    HelmholtzMachine,
)
from lgm.provenance import provenance
from lgm.training.distill import distill, distillation_loss_fn
from lgm.training.fit import float64_cpu
from lgm.training.model_fits import wake_sleep

METHODS = ("ours", "local", "scratch")
Method = Literal["ours", "local", "scratch"]
GROUP = "kd_hm"


class KDHMConfig(ExperimentConfig):
    """Everything that determines the result (teacher + students) of each seed. ``data_root``
    is unused: the data is packaged (``data_path`` names another CSV)."""

    preset: Preset = "custom"
    dataset: Literal["faithful"] = "faithful"
    data_path: str | None = None       # None: the packaged CSV
    teacher_hidden: PositiveInt = TEACHER_HIDDEN
    student_hidden: PositiveInt = STUDENT_HIDDEN
    y_std: float = Field(0.5, gt=0, allow_inf_nan=False)
    teacher_steps: PositiveInt = 1000  # wake-sleep, full batch
    scratch_steps: PositiveInt = 1000  # wake-sleep for the scratch student
    distill_steps: PositiveInt = 1000  # ours / local
    distill_batch: PositiveInt = 272   # shared-noise draws per distillation step
    lr: float = Field(1e-2, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0, allow_inf_nan=False)
    lam: float = Field(1.0, ge=0, allow_inf_nan=False)  # lambda of eq. 7 (equal weights)
    methods: tuple[Method, ...] = Field(METHODS, min_length=1)
    eval_samples: PositiveInt = 20_000  # teacher draws for the exact-density KL
    dr_samples: int = Field(2000, ge=50)  # model samples for the density-ratio estimates
    plot_samples: PositiveInt = 272     # samples kept for the scatter/KDE plots


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(teacher_steps=30, scratch_steps=20, distill_steps=20, distill_batch=128,
                  eval_samples=2000, dr_samples=200),
    "quick": dict(teacher_steps=300, scratch_steps=1000, distill_steps=1000, distill_batch=272,
                  eval_samples=20_000, dr_samples=1000),
    "paper": dict(),  # the authors' settings: the config's defaults
}
PAPER_SEEDS = (0, 1, 2, 3, 4)  # the paper shows one run; five seeds, as the lifelong paper's


def kd_hm_config(preset: str = "quick", **overrides: Any) -> KDHMConfig:
    """The preset's config with any field overridden (:meth:`Experiment.make_config`)."""
    return HM.make_config(preset, **overrides)  # type: ignore[return-value]


def gradient_reach(teacher: HelmholtzMachine, student: HelmholtzMachine, n: int,
                   generator: torch.Generator | None = None) -> dict[str, dict[str, float]]:
    """Gradient norm that L_sd alone and sum_i L_z,i alone send to each generative
    conditional of the student (section 3.3: the hard binary samples cut L_sd's path)."""
    noise = teacher.sample_noise(n, generator)
    with torch.no_grad():
        t_pass = teacher.ancestral(noise)
    reach = {}
    for name, part in (("surrogate", surrogate_loss), ("latent", latent_loss)):
        student.zero_grad(set_to_none=True)
        part(t_pass, student.ancestral(noise, parents={y: t_pass[y].sample for y in TARGETS})
             ).backward()
        reach[name] = {layer: float(sum(p.grad.norm() for p in m.parameters()
                                        if p.grad is not None))
                       for layer, m in student.generative.items()}
    student.zero_grad(set_to_none=True)
    return reach


# --------------------------------------------------------------------------- metrics
def marginal_kl(p: HelmholtzMachine, q: HelmholtzMachine, n: int,
                generator: torch.Generator | None = None) -> tuple[float, float]:
    """KL(p || q) of the marginals over (y1, y2): mean and standard error of
    log p(y) - log q(y) over n draws y ~ p (both densities exact)."""
    with torch.no_grad():
        y = p.sample(n, generator)
        d = p.log_marginal(y) - q.log_marginal(y)
    return float(d.mean()), float(d.std() / math.sqrt(n))


def data_nll(model: HelmholtzMachine, data: Tensor) -> float:
    """-mean log p(y) of standardised rows (nats per row, exact)."""
    with torch.no_grad():
        return float(-model.log_marginal(data.to(model.device)).mean())


def evaluate(model: HelmholtzMachine, teacher: HelmholtzMachine, data: Tensor,
             cfg: KDHMConfig, generator: torch.Generator) -> dict[str, float]:
    """The numbers of one model against the teacher and the data (see the module doc)."""
    kl, kl_se = marginal_kl(teacher, model, cfg.eval_samples, generator)
    own, ref = model.sample(cfg.dr_samples, generator), teacher.sample(cfg.dr_samples, generator)
    dr_t = density_ratio_kl(ref, own, generator=generator)
    dr_d = density_ratio_kl(data, own, generator=generator)
    return {"kl_teacher": kl, "kl_teacher_se": kl_se, "kl_teacher_dr": dr_t.value,
            "kl_teacher_dr_se": dr_t.stderr, "nll_data": data_nll(model, data),
            "kl_data_dr": dr_d.value, "kl_data_dr_se": dr_d.stderr,
            "params": model.generative_parameter_count()}


# --------------------------------------------------------------------------- the runs
def train_student(method: str, init: HelmholtzMachine, teacher: HelmholtzMachine, data: Tensor,
                  cfg: KDHMConfig, generator: torch.Generator, device: torch.device
                  ) -> tuple[HelmholtzMachine, np.ndarray]:
    """A copy of the student ``init`` trained by ``method``; its loss history."""
    student = copy.deepcopy(init).to(device)
    if method == "scratch":
        history = wake_sleep(student, data, steps=cfg.scratch_steps, lr=cfg.lr,
                             weight_decay=cfg.weight_decay, generator=generator, desc="scratch")
        return student, np.asarray(history)
    loss_fn = distillation_loss_fn(method, lam=cfg.lam)
    history = distill(teacher, student, steps=cfg.distill_steps, batch=cfg.distill_batch,
                      lr=cfg.lr, weight_decay=cfg.weight_decay, generator=generator,
                      device=device, loss_fn=loss_fn, desc=method)
    return student, history.arrays()["loss"]


def _samples(model: HelmholtzMachine, n: int, generator: torch.Generator) -> np.ndarray:
    """n samples in minutes (eruptions, waiting), for the plots."""
    return unstandardise(model.sample(n, generator)).cpu().numpy()


def compute_kd_hm(cfg: KDHMConfig, seed: int) -> dict[str, Any]:
    """Train the teacher, the students of ``cfg.methods``, and evaluate them all (one seed)."""
    started, device = time.time(), resolve_device(cfg.device)
    faithful = load_faithful(cfg.data_path)
    data = faithful.standardised.to(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    with cpu_threads(thread_count()):  # tiny MLPs: the thread rule (lgm/device.py)
        teacher = HelmholtzMachine(cfg.teacher_hidden, cfg.y_std).to(device)
        teacher_loss = wake_sleep(teacher, data, steps=cfg.teacher_steps, lr=cfg.lr,
                                  weight_decay=cfg.weight_decay, generator=generator,
                                  desc="teacher")
        models = {"teacher": teacher}
        arrays = {"data": faithful.raw.numpy(), "loss_teacher": np.asarray(teacher_loss)}
        init = HelmholtzMachine(cfg.student_hidden, cfg.y_std)  # every student starts here
        reach = gradient_reach(teacher, copy.deepcopy(init).to(device), cfg.distill_batch,
                               generator)
        for method in cfg.methods:
            models[method], arrays[f"loss_{method}"] = train_student(
                method, init, teacher, data, cfg, generator, device)
        metrics = {name: evaluate(m, teacher, data, cfg, generator) for name, m in models.items()}
        arrays |= {f"samples_{name}": _samples(m, cfg.plot_samples, generator)
                   for name, m in models.items()}
        made = provenance(device, started)  # inside: it records the thread count used
    return {"provenance": made, "data": faithful.source, "metrics": metrics,
            "gradient_reach": reach, "arrays": arrays}


def run_kd_hm(cfg: KDHMConfig, seed: int | None = None) -> dict[str, Any]:
    """One seed's result through the result cache (keyed without the device, the seed list and
    the unused data root); ``seed`` defaults to the config's only seed."""
    return cached_seed(GROUP, "kd_hm", cfg, seed, compute_kd_hm,
                       skip=("device", "seeds", "data_root"))


def run(cfg: KDHMConfig) -> dict[str, Any]:
    """Every seed of ``cfg``: ``{"config", "runs": [one seed's result per seed]}``."""
    return {"config": cfg.to_dict(), "runs": [run_kd_hm(cfg, s) for s in cfg.seeds]}


# --------------------------------------------------------------------------- the record
# Appendix H judges the students by KDE plots only: the paper's values are its words.
PAPER: dict[str, Any] = {
    "claims": {"teacher": "–", "ours": "as good as the teacher (4.3)",
               "local": "worse than ours (abstract)", "scratch": "worse than ours (abstract)"},
    "parameters": {"teacher": 186, "student": 54},
    "lam": 1.0,
}
HM = Experiment(
    name="kd_hm", paper="kd",
    title="Appendix H: data-free compression of a deep Helmholtz machine (Old Faithful)",
    config=KDHMConfig, presets=PRESETS, run=run, pages=("kd_hm",), paper_seeds=PAPER_SEEDS,
    paper_values=PAPER, paper_gpu_s=30.0, paper_cpu_s=(54.0, "measured"))
EXPERIMENTS = [HM]


def fingerprint() -> list[float]:
    """Numerics of this module's path, float64 on one CPU thread: a hidden-4 teacher fitted
    by :func:`wake_sleep` (3 steps) on 20 packaged rows, students by ours and local
    (:func:`train_student`, 2 steps each), and each model's exact data NLL and Monte Carlo KL
    from the teacher (:func:`marginal_kl`; the density-ratio estimates, an iterative fit, are
    left out: their last digits need not agree between machines)."""
    with float64_cpu():
        data = load_faithful(None).standardised[:20].to(torch.float64)
        cfg = kd_hm_config("smoke", teacher_hidden=4, scratch_steps=2, distill_steps=2,
                           distill_batch=8)
        generator = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        teacher = HelmholtzMachine(cfg.teacher_hidden, cfg.y_std)
        out = wake_sleep(teacher, data, steps=3, lr=cfg.lr, weight_decay=cfg.weight_decay,
                         generator=generator, desc="fingerprint")
        init = HelmholtzMachine(cfg.student_hidden, cfg.y_std)
        for method in ("ours", "local", "scratch"):
            student, losses = train_student(method, init, teacher, data, cfg, generator,
                                            torch.device("cpu"))
            kl, kl_se = marginal_kl(teacher, student, 100, generator)
            out += [float(v) for v in losses] + [data_nll(student, data), kl, kl_se]
        return out + [data_nll(teacher, data)]
