"""Where the two papers meet: the lifelong paper's consistency regulariser as a KD term.

*Lifelong Generative Modeling* (Ramapuram et al.) keeps a student's posterior over the discrete
latent close to its frozen teacher's on replayed data (its eq. 6):

    KL( Q_student(z_d | x_hat) || Q_teacher(z_d | x_hat) )           (reverse KL; appendix 7.9
                                                                      also tries the forward one)

The KD paper's latent distillation term (its eq. 6) is ``d(p_teacher(z_i | .), p_student(z_i |
.))`` with ``d`` a divergence, KL(teacher || student) by default. Read the guide Q(z_d | x_hat)
as one more conditional of a DGM whose input is the replayed image x_hat: the consistency
regulariser *is* that latent term, with ``d`` = the reverse KL (the lifelong paper's choice) or
the forward KL (the KD paper's). :func:`consistency_as_latent_loss` writes it with
:func:`lgm.losses.distillation.divergence` on two categorical
:class:`~lgm.models.semi_auxiliary.Conditional` objects, and :func:`equality_rows` checks
numerically that it equals :func:`lgm.losses.consistency.consistency_kl`, in both directions,
with and without the growth of the student's discrete latent (the teacher's categorical is
padded to the student's codes by :func:`lgm.losses.consistency.pad_teacher`).

The second half of the page (:func:`run_bridge`) puts the two *methods* side by side on one
sequential task; see its docstring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, PositiveInt, field_validator
from torch import Tensor

from lgm.data.tasks import EXPERIMENTS as TASK_SEQUENCES
from lgm.data.tasks import make_tasks
from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.experiments.cache import cached_call, cached_runs
from lgm.experiments.config import RunConfig
from lgm.experiments.experiment import Experiment
from lgm.experiments.presets import make_config as lifelong_config
from lgm.experiments.spec import ExperimentConfig
from lgm.losses.consistency import PAD_MASS, consistency_kl, pad_teacher
from lgm.losses.distillation import divergence, gaussian_kl, target_free_loss
from lgm.losses.elbo import elbo_terms
from lgm.metrics.elbo import negative_elbo
from lgm.models.semi_auxiliary import AncestralPass, Conditional, pick
from lgm.models.vae import DiscreteContinuousVAE, frozen_copy
from lgm.provenance import provenance
from lgm.training.fit import EpochBatches, Optimiser, fit, float64_cpu
from lgm.training.schedule import gumbel_temperature

DIRECTIONS = ("reverse", "forward")
EVAL_SEED = 1_000_003  # evaluation noise apart from training noise


def posterior_conditional(name: str, logits: Tensor) -> Conditional:
    """Q(z_d | x_hat) as a latent categorical conditional whose parent is the replayed image."""
    sample = F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return Conditional(name, "latent", "categorical", {"logits": logits}, sample,
                       parents=("x_hat",))


def consistency_as_latent_loss(student_logits: Tensor, teacher_logits: Tensor, *,
                               direction: str = "reverse", pad_mass: float = PAD_MASS
                               ) -> Tensor:
    """The consistency KL per replayed sample ([B]) as the KD paper's latent term d(., .).

    The teacher's log-probabilities, padded to the student's codes, are valid logits of a
    categorical conditional. ``"forward"`` is d(teacher, student) = KL(teacher || student), the
    KD paper's eq. 6 with its default d; ``"reverse"`` swaps the arguments: the lifelong
    paper's KL(student || teacher).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if student_logits.dim() != 2 or teacher_logits.dim() != 2:
        raise ValueError("logits must be [B, codes]; got student "
                         f"{tuple(student_logits.shape)}, teacher {tuple(teacher_logits.shape)}")
    padded = pad_teacher(teacher_logits, student_logits.shape[-1], pad_mass)
    teacher = posterior_conditional("z_d", padded)
    student = posterior_conditional("z_d", student_logits)
    if direction == "forward":
        return divergence(teacher, student, "kl", "sum")
    return divergence(student, teacher, "kl", "sum")


def reference_kl(student_logits: Tensor, teacher_logits: Tensor, direction: str,
                 pad_mass: float = PAD_MASS) -> Tensor:
    """The same KL by ``torch.distributions`` (an independent implementation), with the
    teacher padded as :func:`lgm.losses.consistency.pad_teacher` does."""
    extra = student_logits.shape[-1] - teacher_logits.shape[-1]
    probs = F.softmax(teacher_logits, -1) * (1 - pad_mass if extra else 1.0)
    if extra:
        probs = torch.cat([probs, probs.new_full((len(probs), extra), pad_mass / extra)], -1)
    teacher = torch.distributions.Categorical(probs=probs)
    student = torch.distributions.Categorical(logits=student_logits)
    pair = (teacher, student) if direction == "forward" else (student, teacher)
    return torch.distributions.kl_divergence(*pair)


def equality_rows(batch: int = 512, teacher_codes: int = 3, extra_codes: tuple[int, ...] = (0, 1),
                  seed: int = 0, scale: float = 3.0) -> list[dict[str, float | int | str]]:
    """Both forms of the regulariser on random posteriors, per direction and code growth.

    Each row: ``direction``, ``teacher_codes``, ``student_codes``, ``mean_kl`` (of
    :func:`consistency_kl`), ``max_abs_diff`` between it and
    :func:`consistency_as_latent_loss` over ``batch`` random logit pairs (N(0, scale^2)), and
    ``max_abs_diff_torch`` between the latter and :func:`reference_kl`.
    """
    if batch < 1 or teacher_codes < 1 or any(e < 0 for e in extra_codes):
        raise ValueError(f"need batch >= 1, teacher_codes >= 1, extra codes >= 0; got {batch}, "
                         f"{teacher_codes}, {extra_codes}")
    g = torch.Generator().manual_seed(seed)
    rows: list[dict[str, float | int | str]] = []
    for extra in extra_codes:
        teacher = scale * torch.randn(batch, teacher_codes, generator=g, dtype=torch.float64)
        student = scale * torch.randn(batch, teacher_codes + extra, generator=g,
                                      dtype=torch.float64)
        for direction in DIRECTIONS:
            lifelong = consistency_kl(student, teacher, direction=direction)
            kd = consistency_as_latent_loss(student, teacher, direction=direction)
            rows.append({"direction": direction, "teacher_codes": teacher_codes,
                         "student_codes": teacher_codes + extra,
                         "mean_kl": float(lifelong.mean()),
                         "max_abs_diff": float((lifelong - kd).abs().max()),
                         "max_abs_diff_torch": float((reference_kl(
                             student, teacher, direction) - kd).abs().max())})
    return rows


# =========================================================================== the two methods
# The lifelong VAE's generative model in semi-auxiliary form, given its discrete code:
#
#     z_c ~ N(0, I)                      latent, auxiliary noise eps = z_c (a fixed prior)
#     x | z_c, z_d ~ Bernoulli(sigmoid(decoder([z_c, one_hot(z_d)])))      the image target
#
# The code z_d is the input x of eq. 1 (integer codes; each model one-hots them at its own
# number of codes J, so a teacher with J codes and its grown student with J + 1 share a
# layout).
GROUP = "kd_bridge"
IMAGE = "x"


class LifelongGenerative(torch.nn.Module):
    """The decoder of a :class:`~lgm.models.vae.DiscreteContinuousVAE` as a semi-auxiliary
    DGM with the discrete code as input (comment above)."""

    def __init__(self, vae: DiscreteContinuousVAE) -> None:
        super().__init__()
        self.vae = vae

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        device = generator.device if generator is not None else next(
            self.vae.parameters()).device
        return {"z_c": torch.randn((n, self.vae.continuous), generator=generator,
                                   device=device)}

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        if x is None or x.dim() != 1:
            raise ValueError("the lifelong decoder needs its codes x as a 1-d integer tensor")
        z_c = noise["z_c"]
        pass_ = AncestralPass()
        z = pass_.add(Conditional("z_c", "latent", "gaussian", {"mu": torch.zeros_like(z_c),
                                  "std": torch.ones_like(z_c)}, z_c, parents=("eps:z_c",)))
        codes = F.one_hot(x.long(), self.vae.discrete).to(z_c.dtype)
        logits = self.vae.decode(pick(z, "z_c", parents), codes)
        pass_.add(Conditional(IMAGE, "target", "bernoulli", {"logits": logits},
                              torch.sigmoid(logits), parents=("z_c", "x")))
        return pass_


def guide_distillation(teacher: DiscreteContinuousVAE, student: DiscreteContinuousVAE,
                       x_hat: Tensor) -> Tensor:
    """Latent distillation of the guide on the teacher's samples, per sample [B]:
    KL(Q_teacher(z_d | x_hat) || Q_student(z_d | x_hat)) (the consistency regulariser in the
    KD paper's direction, :func:`consistency_as_latent_loss`) + the same KL for z_c."""
    with torch.no_grad():
        post_t = teacher.encode(x_hat)
    post_s = student.encode(x_hat)
    z_d = consistency_as_latent_loss(post_s.logits, post_t.logits, direction="forward")
    z_c = gaussian_kl(post_t.mu, torch.exp(0.5 * post_t.logvar), post_s.mu,
                      torch.exp(0.5 * post_s.logvar)).sum(-1)
    return z_d + z_c


LifelongPreset = Literal["smoke", "quick", "paper"]
Baseline = Literal["vanilla", "ewc", "upto", "full"]


class KDBridgeConfig(ExperimentConfig):
    """The sequential task and budgets of the comparison (the lifelong preset's by default).
    ``preset`` is a preset of the lifelong library's runs (no ``custom``)."""

    preset: LifelongPreset = "paper"
    experiment: str = "fashion"
    num_tasks: int | None = Field(None, ge=2)      # None: all the experiment's tasks
    lam: float = Field(0.1, ge=0, allow_inf_nan=False)  # lambda of eq. 7 (its latent term is
    #                                  0 here: z_c's prior is fixed; kept for the loss's form)
    max_epochs: PositiveInt | None = None          # None: the lifelong preset's
    max_per_task: int | None = Field(None, ge=2)   # None: the lifelong preset's
    baselines: tuple[Baseline, ...] = ("vanilla",)
    cpu_threads: PositiveInt | None = None  # torch CPU threads (None: the rule, LGM_THREADS)

    @field_validator("experiment")
    @classmethod
    def _known_experiment(cls, v: str) -> str:
        if v not in TASK_SEQUENCES:
            raise ValueError(f"unknown experiment {v!r}; known: {', '.join(TASK_SEQUENCES)}")
        return v


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(num_tasks=2, max_epochs=1, max_per_task=64, cpu_threads=1),
    "quick": dict(num_tasks=2, max_epochs=3, max_per_task=300, cpu_threads=1),
    "paper": dict(),  # the lifelong paper's split Fashion-MNIST (fig. 3): all ten tasks
}
PAPER_SEEDS = (0,)  # one seed: the lifelong side reuses the committed paper runs of seed 0


def kd_bridge_config(preset: str = "quick", **overrides: Any) -> KDBridgeConfig:
    """The preset's config with fields overridden (unknown fields are an error)."""
    return BRIDGE.make_config(preset, **overrides)  # type: ignore[return-value]


def run_config(cfg: KDBridgeConfig, method: str, seed: int) -> RunConfig:
    """The lifelong library's configuration of ``method`` on the bridge's task."""
    overrides = {k: getattr(cfg, k) for k in ("num_tasks", "max_epochs", "max_per_task")
                 if getattr(cfg, k) is not None}
    return lifelong_config(cfg.preset, experiment=cfg.experiment, method=method, seed=seed,
                           device=cfg.device, data_root=cfg.data_root, **overrides)


def lifelong_runs(cfg: KDBridgeConfig) -> dict[str, list[RunConfig]]:
    """The lifelong library's runs the bridge compares with: the lifelong method and each
    baseline, one :class:`RunConfig` per seed."""
    return {m: [run_config(cfg, m, s) for s in cfg.seeds] for m in ("lifelong", *cfg.baselines)}


class Schedule(Protocol):
    """What a fit of the bridge reads of the lifelong run's settings (a :class:`RunConfig`
    has them): Adam's learning rate, minibatches, epochs, the Gumbel temperature schedule."""

    lr: float
    batch_size: int
    max_epochs: int
    tau0: float
    tau_rate: float
    tau_min: float


def fit_lifelong_vae(student: torch.nn.Module, loss_of: Callable[[Tensor, float], Tensor],
                     data: Tensor, rc: Schedule, generator: torch.Generator,
                     desc: str) -> list[float]:
    """``rc.max_epochs`` epochs of Adam (lr ``rc.lr``) on minibatches of ``data`` (a new order
    each epoch, a last partial minibatch kept) by the one loop :func:`lgm.training.fit.fit`;
    the Gumbel temperature follows the lifelong schedule (appendix 7.4.1). NaN/inf raises,
    naming the step."""
    batches = EpochBatches(len(data), rc.batch_size, generator, data.device, drop_last=False)

    def loss_at(step: int) -> Tensor:
        batch = data[batches(step)]
        return loss_of(batch, gumbel_temperature(step, rc.tau0, rc.tau_rate, rc.tau_min))

    return fit(student, loss_at, steps=rc.max_epochs * batches.per_epoch, opt=Optimiser(rc.lr),
               desc=desc).loss


def elbo_loss(vae: DiscreteContinuousVAE, x: Tensor, tau: float) -> Tensor:
    """Mean -ELBO of a minibatch (L_new of every task)."""
    return -elbo_terms(vae(x, tau), x).elbo.mean()


def distilled_task(teacher: DiscreteContinuousVAE, x_new: Tensor, rc: Schedule, t: int,
                   lam: float, generator: torch.Generator) -> tuple[DiscreteContinuousVAE,
                                                                    list[float]]:
    """Task t >= 1 by this paper's distillation: the grown student minimises
    (1/(t+1)) L_new + (t/(t+1)) [eq. 7 on the decoder, shared z_c noise, codes of the teacher
    + the guide's latent distillation on the teacher's samples]."""
    student = teacher.grown(1)
    gen_t, gen_s = LifelongGenerative(teacher), LifelongGenerative(student)
    w_new = 1.0 / (t + 1)

    def loss_of(x: Tensor, tau: float) -> Tensor:
        noise = gen_t.sample_noise(len(x), generator)
        noise = {k: v.to(x.device) for k, v in noise.items()}
        codes = torch.arange(len(x), device=x.device) % teacher.discrete
        kd = target_free_loss(gen_t, gen_s, noise, codes, lam=lam)
        with torch.no_grad():
            x_hat = gen_t.ancestral(noise, codes)[IMAGE].sample
        pre = kd.loss + guide_distillation(teacher, student, x_hat).mean()
        return w_new * elbo_loss(student, x, tau) + (1 - w_new) * pre

    losses = fit_lifelong_vae(student, loss_of, x_new, rc, generator, desc=f"kd task {t}")
    return student, losses


def distillation_run(cfg: KDBridgeConfig, seed: int) -> dict[str, Any]:
    """This paper's distillation on the lifelong task sequence, cached: per task the
    negative test ELBO on the union of the test sets seen so far (as the lifelong runs)."""
    rc = run_config(cfg, "lifelong", seed)

    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started, device = time.time(), resolve_device(cfg.device)
        tasks = make_tasks(rc.experiment, root=rc.data_root, num_tasks=rc.num_tasks,
                           class_order=rc.class_order, val_fraction=rc.val_fraction,
                           seed=rc.seed, binarize=rc.binarize, max_per_task=rc.max_per_task,
                           device=device)
        torch.manual_seed(seed)
        vae = DiscreteContinuousVAE(rc.arch, tasks.image_shape, rc.continuous, 1,
                                    seeds=(seed,)).to(device)
        generator = torch.Generator().manual_seed(30_000 + seed)
        losses = fit_lifelong_vae(vae, lambda x, tau: elbo_loss(vae, x, tau), tasks[0].train,
                                  rc, generator, desc="kd task 0")
        records = [{"task": 0, "epochs": rc.max_epochs, "neg_elbo": negative_elbo(
            vae, tasks.cumulative_test(0), seed=EVAL_SEED + 1000 * seed)}]
        for t in range(1, len(tasks)):
            teacher = frozen_copy(vae)
            vae, more = distilled_task(teacher, tasks[t].train, rc, t, cfg.lam, generator)
            losses += more
            records.append({"task": t, "epochs": rc.max_epochs, "neg_elbo": negative_elbo(
                vae, tasks.cumulative_test(t), seed=EVAL_SEED + 1000 * seed + t)})
        return {"provenance": provenance(device, started), "data": tasks.source,
                "tasks": records, "arrays": {"loss": np.asarray(losses)}}

    params = {**{k: v for k, v in rc.to_dict().items() if k not in ("device", "data_root")},
              "lam": cfg.lam, "what": "kd-distillation"}
    return cached_call(GROUP, f"kd-{cfg.experiment}-s{seed}", params, compute,
                       data_root=rc.data_root)


def run_bridge(cfg: KDBridgeConfig) -> dict[str, Any]:
    """Per seed: the lifelong method and the baselines (``cached_runs``) and this paper's
    distillation (:func:`distillation_run`) on the same task sequence:
    ``{"config", "runs": {label: [result per seed]}}``, each result with
    ``tasks[i]["neg_elbo"]``."""
    lifelong = lifelong_runs(cfg)
    with cpu_threads(cfg.cpu_threads or thread_count()):  # None: the thread rule
        runs: dict[str, list[dict[str, Any]]] = {
            "lifelong": cached_runs(lifelong["lifelong"]),
            "kd (ours)": [distillation_run(cfg, s) for s in cfg.seeds]}
        for b in cfg.baselines:
            runs[b] = cached_runs(lifelong[b])
    return {"config": cfg.to_dict(), "runs": runs}


def bridge_runs(cfg: KDBridgeConfig) -> dict[str, Any]:
    """The ``kd_bridge`` experiment's run: :func:`run_bridge` as ``{"config", "runs"}``, every
    cached result once (the lifelong runs name their method in ``config``, ours in
    ``params``)."""
    out = run_bridge(cfg)
    return {"config": out["config"], "runs": [r for rs in out["runs"].values() for r in rs]}


def neg_elbo_curve(results: list[dict[str, Any]]) -> np.ndarray:
    """Seeds x tasks negative test ELBO."""
    return np.array([[rec["neg_elbo"] for rec in r["tasks"]] for r in results], dtype=float)


# --------------------------------------------------------------------------- the record
PAPER: dict[str, Any] = {
    "identity": "the lifelong consistency KL (its eq. 6) is the KD paper's latent term (its "
                "eq. 6) with d = the reverse KL; the forward KL is the KD paper's default d",
    "max_abs_diff": 0.0,  # exact up to float64 rounding (tests: < 1e-12)
}
BRIDGE = Experiment(
    name="kd_bridge", paper="kd",
    title="The bridge: the lifelong consistency regulariser as a KD latent term, and the two "
          "methods on one task sequence",
    config=KDBridgeConfig, presets=PRESETS, run=bridge_runs, pages=("kd_bridge",),
    paper_seeds=PAPER_SEEDS, paper_values=PAPER, paper_gpu_s=600.0,
    # about one lifelong Fashion seed: its distillation trains the ten tasks at the paper
    # budget; its lifelong and vanilla runs are Figure 3's committed ones
    paper_cpu_s=(3_000.0, "guess"))
EXPERIMENTS = [BRIDGE]


def fingerprint() -> list[float]:
    """Numerics of this module's path, float64 on one CPU thread: the lifelong VAE of the
    smoke preset fitted on 8 fixed binary images (:func:`fit_lifelong_vae`, 2 steps), a grown
    student by :func:`distilled_task` (2 steps), both models' -ELBO, and the consistency KL in
    both forms (:func:`equality_rows`' mean KL)."""
    with float64_cpu():
        cfg = kd_bridge_config("smoke", max_epochs=2)
        rc = run_config(cfg, "lifelong", 0)
        x = (torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).double()
        torch.manual_seed(1)
        vae = DiscreteContinuousVAE(rc.arch, (1, 28, 28), rc.continuous, 1, seeds=(0,))
        g = torch.Generator().manual_seed(2)
        out = fit_lifelong_vae(vae, lambda b, tau: elbo_loss(vae, b, tau), x, rc, g,
                               desc="fingerprint")
        student, more = distilled_task(frozen_copy(vae), x, rc, 1, cfg.lam, g)
        out += more + [negative_elbo(m, x, seed=EVAL_SEED) for m in (vae, student)]
        return out + [float(r["mean_kl"]) for r in equality_rows(batch=8, seed=3)]
