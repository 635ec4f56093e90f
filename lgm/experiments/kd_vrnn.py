"""Data-free compression of a VRNN over handwriting (KD paper, sections 3.6, 4.3, appendix G).

A teacher VRNN (:mod:`lgm.models.vrnn`) is trained on the ELBO of pen-stroke sequences
(:mod:`lgm.data.strokes`: IAM-OnDB when present, else the Hershey-font stand-in). Three students
of the smaller size, all from the same initial weights, are compared (Fig. 8):

- **ours**: eq. 7 on shared noise, no data. The teacher generates (z_t from its prior with eps_t,
  the pen bit by thresholding u_t, the offsets its mean); the student reruns the same eps_t
  through its own prior and decoder with the teacher's x_<t as recurrent input (eq. 4 takes
  y_<t from the teacher). L_sd = KL of the pen-bit Bernoullis + KL of the offset Gaussians
  (std 1: (mu_t - mu_s)^2 / 2 per axis); the latent term (eq. 6) is KL(teacher prior of z_t ||
  student prior of z_t); lambda = 1e-3; everything averaged over time (divided by T) and over
  the batch, as the authors' code does. The authors use BCE(student logit, teacher prob) for
  the pen bit: that is this KL plus the teacher's entropy, which has no gradient.
- **local**: the baseline of fig. 3d: every conditional of the student (z_t, pen_t, offset_t)
  evaluated at the teacher's samples, KLs summed (weight 1 on the z terms), divided by T.
- **scratch**: the student trained on the ELBO of the data, as the teacher was.

The paper judges Fig. 8 by eye only ("more readable and clearer strokes", the student of ours
"comparable" to the teacher). Numbers added here, for the teacher and every student:

- ``nll``: the negative ELBO (an upper bound on -log p(x)) of the held-out sequences, nats per
  step. The distilled students never see data, so their inference network q is untrained:
  every model (teacher and scratch too) first gets ``encoder_steps`` Adam steps on the
  training ELBO with only q's parameters free (the generative model frozen); the bound is then
  valid for the frozen model. ``nll_joint`` is the bound before that refit (teacher, scratch).
- ``mmd``: two-sample MMD (:func:`lgm.metrics.two_sample.mmd`: Gaussian kernel, bandwidth the
  mean squared real-real distance, biased, square-rooted) between ten summary features of
  generated and held-out sequences (:func:`lgm.data.strokes.stroke_features`: pen-up rate,
  mean and std of dx and dy, step length, lag-1 autocorrelations, drawn width and height),
  standardised with the held-out features' mean and std. Generated sequences are cut to
  lengths drawn from the held-out lengths. ``mmd`` of the row "data" compares training with
  held-out sequences: the floor set by sampling noise.
- ``kl_teacher``: eq. 4 per step on fresh shared noise, E sum_t KL(teacher || model) of the
  targets at the teacher's sequences: by Proposition 3.1 an upper bound on the per-step KL
  between the teacher's and the model's sequence distributions (ours minimises it).
- ``path_teacher``: how far the model's own strokes drift from the teacher's: both generate
  freely from the same noise (no teacher forcing) and the pen positions are compared, mean
  distance over steps and samples in the data's units (Hershey font units: lower-case
  letters are 9 high, 21 with an ascender). Fig. 8's columns, drawn from shared noise, show it.

Cost: the models run step by step (T Python-level steps per sequence), so a GPU is limited by
kernel launches, not arithmetic. Measured on one H100 at the paper's sizes, T = 300, batch 32:
0.56 s per ELBO step (teacher or student), 1.1 s per distillation step (ours), 1.2 s (local);
the ``paper`` preset (10,000 steps each, 1,000 refit steps per model) needs about 10 hours per
seed. The ``quick`` preset (small models, T = 32) takes about 20 s on one CPU core.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, NonNegativeInt, PositiveInt
from torch import Tensor

from lgm.data.strokes import StrokeBatch, StrokeData, load_strokes, stroke_features
from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.experiments.cache import cached_seed
from lgm.experiments.experiment import Experiment
from lgm.experiments.spec import ExperimentConfig, Preset
from lgm.losses.distillation import (
    DistillationLoss,
    local_distillation_loss,
    surrogate_loss,
    target_free_loss,
)
from lgm.metrics.two_sample import mmd
from lgm.models.semi_auxiliary import SemiAuxiliaryDGM
from lgm.models.vrnn import (
    STUDENT_SIZE,
    TEACHER_SIZE,
    VRNN,
    VRNNSize,
    evaluate_neg_elbo,
    stack_steps,
    targets_of,
)
from lgm.provenance import provenance
from lgm.training.distill import distill
from lgm.training.fit import float64_cpu
from lgm.training.model_fits import train_elbo

METHODS = ("ours", "local", "scratch")
Method = Literal["ours", "local", "scratch"]
MODELS = ("teacher", *METHODS)
GROUP = "kd_vrnn"
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Hidden = Annotated[tuple[PositiveInt, ...], Field(min_length=1)]


class KDVRNNConfig(ExperimentConfig):
    """Everything that determines the result (teacher + students) of each seed. Defaults: the
    paper's settings (sizes, optimiser and lambda from the notes on the authors' code)."""

    preset: Preset = "custom"
    source: Literal["iam", "hershey", "auto"] = "auto"  # "auto": IAM-OnDB if found
    n_train: PositiveInt = 10_000      # sequences (IAM: at most this many lines)
    n_test: PositiveInt = 1000
    max_len: int = Field(300, ge=2)    # steps kept per sequence (and generated)
    max_step: PositiveFloat = 3.0      # Hershey: densify segments to <= this (font units)
    teacher_hidden: Hidden = TEACHER_SIZE.hidden
    teacher_rnn: PositiveInt = TEACHER_SIZE.rnn
    student_hidden: Hidden = STUDENT_SIZE.hidden
    student_rnn: PositiveInt = STUDENT_SIZE.rnn
    z_dim: PositiveInt = 16
    teacher_steps: PositiveInt = 10_000  # Adam steps of batch ``batch`` (our choice: not stated)
    student_steps: PositiveInt = 10_000  # distillation (ours, local) and scratch
    batch: PositiveInt = 32
    lr: PositiveFloat = 1e-4
    weight_decay: float = Field(1e-4, ge=0, allow_inf_nan=False)
    clip_grad: PositiveFloat = 10.0    # gradient-norm clipping (our choice: LSTM training)
    lam: float = Field(1e-3, ge=0, allow_inf_nan=False)  # lambda of eq. 7
    methods: tuple[Method, ...] = Field(METHODS, min_length=1)
    encoder_steps: NonNegativeInt = 1000  # q refitted to each frozen model before the bound
    eval_samples: int = Field(1000, ge=2)  # generated sequences for the MMD and eq. 4
    n_figure: PositiveInt = 8          # generated sequences kept per model for the figure

    def size(self, who: str) -> VRNNSize:
        """The VRNN size of the ``"teacher"`` or the ``"student"``."""
        if who == "teacher":
            return VRNNSize(self.teacher_hidden, self.teacher_rnn, self.z_dim)
        return VRNNSize(self.student_hidden, self.student_rnn, self.z_dim)


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(source="hershey", n_train=48, n_test=16, max_len=12, max_step=6.0,
                  teacher_hidden=(16,), teacher_rnn=16, student_hidden=(8,), student_rnn=8,
                  teacher_steps=4, student_steps=3, batch=16, lr=3e-3, encoder_steps=2,
                  eval_samples=16, n_figure=2),
    "quick": dict(source="hershey", n_train=512, n_test=128, max_len=32, max_step=6.0,
                  teacher_hidden=(64,), teacher_rnn=128, student_hidden=(32,), student_rnn=64,
                  teacher_steps=150, student_steps=60, batch=32, lr=3e-3, encoder_steps=10,
                  eval_samples=256, n_figure=6),
    "paper": dict(),  # the config's defaults
}
PAPER_SEEDS = (0, 1, 2, 3, 4)  # the paper shows one run; five seeds, as the lifelong paper's


def kd_vrnn_config(preset: str = "quick", **overrides: Any) -> KDVRNNConfig:
    """The preset's config with any field overridden (:meth:`Experiment.make_config`)."""
    return VRNN_EXPERIMENT.make_config(preset, **overrides)  # type: ignore[return-value]


# --------------------------------------------------------------------------- the losses
def vrnn_distillation_loss(method: str, lam: float = 1e-3
                           ) -> Callable[..., Tensor | DistillationLoss]:
    """The per-step distillation loss of ``method``, for :func:`lgm.training.distill.distill`'s
    ``loss_fn``: eq. 7 (:func:`~lgm.losses.distillation.target_free_loss`: the student fed the
    teacher's x_<t) or the baseline of fig. 3d
    (:func:`~lgm.losses.distillation.local_distillation_loss`), divided by T, with the
    per-step conditionals stacked over time (:func:`lgm.models.vrnn.stack_steps`: same value,
    far fewer kernel calls)."""
    if method not in ("ours", "local"):
        raise ValueError(f"method must be 'ours' or 'local', got {method!r}")

    def loss(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM, noise: dict[str, Tensor],
             x: Tensor | None = None) -> Tensor | DistillationLoss:
        steps = noise["z"].shape[1]
        if method == "local":
            return local_distillation_loss(teacher, student, noise, view=stack_steps, steps=steps)
        return target_free_loss(teacher, student, noise, lam=lam, view=stack_steps, steps=steps)

    return loss


@torch.no_grad()
def kl_to_teacher(teacher: VRNN, model: VRNN, noise: dict[str, Tensor]) -> float:
    """Eq. 4 per step: sum_t KL(teacher || model) of the pen bit and the offsets, at the
    teacher's sequence, averaged over the noise draws and divided by T."""
    t_pass = teacher.ancestral(noise)
    m_pass = model.ancestral(noise, parents=targets_of(t_pass))
    return float(surrogate_loss(stack_steps(t_pass), stack_steps(m_pass))) / noise["z"].shape[1]


# --------------------------------------------------------------------------- metrics
def _features(x: Tensor, mask: Tensor, ref: np.ndarray | None = None) -> Tensor:
    """Stroke features standardised with the mean and std of ``ref`` (default: these)."""
    f = stroke_features(x, mask)
    ref = f if ref is None else ref
    return torch.as_tensor((f - ref.mean(0)) / (ref.std(0) + 1e-8))


def feature_mmd(real: StrokeBatch, fake: Tensor, fake_mask: Tensor) -> float:
    """MMD between the stroke features of ``real`` and of ``fake`` (see the module doc)."""
    ref = stroke_features(real.x, real.mask)
    return mmd(_features(real.x, real.mask, ref), _features(fake, fake_mask, ref))


def lengths_like(real: StrokeBatch, n: int, steps: int, generator: torch.Generator) -> Tensor:
    """[n, steps] masks with lengths drawn from ``real``'s lengths (capped at ``steps``)."""
    idx = torch.randint(len(real), (n,), generator=generator)
    lengths = real.lengths.cpu()[idx].clamp_max(steps)
    return (torch.arange(steps)[None] < lengths[:, None]).float()


def path_distance(data: StrokeData, teacher_x: Tensor, model_x: Tensor) -> float:
    """Mean distance between the pen positions of two sets of sequences [N, T, 3] drawn from
    the same noise, over samples and steps, in the data's units (positions: cumulative sums
    of the destandardised offsets, both starting at 0)."""
    pos = [np.cumsum(data.destandardise(x)[..., 1:], axis=1) for x in (teacher_x, model_x)]
    return float(np.linalg.norm(pos[0] - pos[1], axis=-1).mean())


def evaluate(model: VRNN, teacher: VRNN, data: StrokeData, cfg: KDVRNNConfig,
             noise: dict[str, Tensor], generator: torch.Generator) -> dict[str, float]:
    """``nll_joint``, ``nll``, ``mmd``, ``kl_teacher`` and ``path_teacher`` of one model (see
    the module doc); refits the model's q first."""
    train, test = data.train.to(model.device), data.test.to(model.device)
    joint = evaluate_neg_elbo(model, test.x, test.mask, generator=generator)
    if cfg.encoder_steps:
        train_elbo(model, train.x, train.mask, steps=cfg.encoder_steps, batch=cfg.batch,
                   lr=cfg.lr, weight_decay=0.0, clip_grad=cfg.clip_grad, generator=generator,
                   parameters=model.encoder_parameters(), desc="refit q")
    fake = model.generate(len(noise["z"]), noise=noise).cpu()
    mask = lengths_like(data.test, len(fake), fake.shape[1], generator)
    return {"nll_joint": joint,
            "nll": evaluate_neg_elbo(model, test.x, test.mask, generator=generator),
            "mmd": feature_mmd(data.test, fake, mask),
            "kl_teacher": kl_to_teacher(teacher, model, noise),
            "path_teacher": path_distance(data, teacher.generate(len(fake), noise=noise), fake),
            "params": model.num_parameters()}


# --------------------------------------------------------------------------- the runs
def train_student(method: str, init: VRNN, teacher: VRNN, data: StrokeData,
                  cfg: KDVRNNConfig, generator: torch.Generator, device: torch.device
                  ) -> tuple[VRNN, np.ndarray]:
    """A copy of the student ``init`` trained by ``method``; its loss history."""
    student = copy.deepcopy(init).to(device)
    if method == "scratch":
        train = data.train.to(device)
        history = train_elbo(student, train.x, train.mask, steps=cfg.student_steps,
                             batch=cfg.batch, lr=cfg.lr, weight_decay=cfg.weight_decay,
                             clip_grad=cfg.clip_grad, generator=generator, desc="scratch")
        return student, np.asarray(history)
    out = distill(teacher, student, steps=cfg.student_steps, batch=cfg.batch, lr=cfg.lr,
                  weight_decay=cfg.weight_decay, clip_grad=cfg.clip_grad, generator=generator,
                  device=device, loss_fn=vrnn_distillation_loss(method, cfg.lam), desc=method)
    return student, out.arrays()["loss"]


@contextmanager
def timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[name]``."""
    t0 = time.time()
    yield
    seconds[name] = round(seconds.get(name, 0.0) + time.time() - t0, 2)


def train_teacher(cfg: KDVRNNConfig, data: StrokeData, generator: torch.Generator,
                  device: torch.device) -> tuple[VRNN, np.ndarray]:
    """The teacher VRNN trained on the ELBO of the training sequences; its loss history."""
    teacher = VRNN(cfg.size("teacher"), length=cfg.max_len).to(device)
    train = data.train.to(device)
    history = train_elbo(teacher, train.x, train.mask, steps=cfg.teacher_steps, batch=cfg.batch,
                         lr=cfg.lr, weight_decay=cfg.weight_decay, clip_grad=cfg.clip_grad,
                         generator=generator, desc="teacher")
    return teacher, np.asarray(history)


def compute_kd_vrnn(cfg: KDVRNNConfig, seed: int) -> dict[str, Any]:
    """Train the teacher and the students of ``cfg.methods``; evaluate them all (one seed).
    The result records the wall time of each phase under ``seconds``."""
    started, device, seconds = time.time(), resolve_device(cfg.device), {}
    with timed(seconds, "data"):
        data = load_strokes(cfg.source, cfg.data_root, n_train=cfg.n_train, n_test=cfg.n_test,
                            max_len=cfg.max_len, seed=seed, max_step=cfg.max_step)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    arrays: dict[str, np.ndarray] = {}
    with cpu_threads(thread_count()):  # step-by-step RNN: the thread rule (lgm/device.py)
        with timed(seconds, "teacher"):
            teacher, arrays["loss_teacher"] = train_teacher(cfg, data, generator, device)
        models = {"teacher": teacher}
        init = VRNN(cfg.size("student"), length=cfg.max_len)  # every student starts here
        for method in cfg.methods:
            with timed(seconds, method):
                models[method], arrays[f"loss_{method}"] = train_student(
                    method, init, teacher, data, cfg, generator, device)
        with timed(seconds, "evaluation"):
            noise = teacher.sample_noise(cfg.eval_samples, generator)
            metrics = {name: evaluate(m, teacher, data, cfg, noise, generator)
                       for name, m in models.items()}
            metrics["data"] = {"mmd": feature_mmd(data.test, data.train.x, data.train.mask)}
            figure_noise = {k: v[: cfg.n_figure] for k, v in noise.items()}
            arrays |= {f"samples_{name}": data.destandardise(
                m.generate(cfg.n_figure, noise=figure_noise)) for name, m in models.items()}
    arrays |= {"data_examples": data.destandardise(data.test.x[: cfg.n_figure]),
               "data_lengths": data.test.lengths[: cfg.n_figure].numpy()}
    return {"provenance": provenance(device, started), "data": data.source,
            "metrics": metrics, "arrays": arrays, "seconds": seconds,
            "stats": {"mean": data.mean.tolist(), "std": data.std.tolist()}}


def run_kd_vrnn(cfg: KDVRNNConfig, seed: int | None = None) -> dict[str, Any]:
    """One seed's result through the result cache (keyed without the device and the seed
    list); ``seed`` defaults to the config's only seed."""
    return cached_seed(GROUP, "kd_vrnn", cfg, seed, compute_kd_vrnn)


def run(cfg: KDVRNNConfig) -> dict[str, Any]:
    """Every seed of ``cfg``: ``{"config", "runs": [one seed's result per seed]}``."""
    return {"config": cfg.to_dict(), "runs": [run_kd_vrnn(cfg, s) for s in cfg.seeds]}


# --------------------------------------------------------------------------- the record
# Fig. 8 is judged by eye: the paper's values are its words, and the model sizes of the notes.
PAPER: dict[str, Any] = {
    "claims": {"teacher": "readable strokes", "ours": "comparable to the teacher",
               "local": "less readable", "scratch": "less readable"},
    "parameters": {"teacher": 14_412_227, "student": 2_416_643},  # notes: ~14.4M, ~2.4M
    "lam": 1e-3,
}
VRNN_EXPERIMENT = Experiment(
    name="kd_vrnn", paper="kd",
    title="Fig. 8: data-free compression of a VRNN over handwriting",
    config=KDVRNNConfig, presets=PRESETS, run=run, pages=("kd_vrnn",),
    paper_seeds=PAPER_SEEDS, paper_values=PAPER, paper_gpu_s=1800.0,
    paper_cpu_s=(100_000.0, "guess"))
EXPERIMENTS = [VRNN_EXPERIMENT]


def fingerprint() -> list[float]:
    """Numerics of this module's path, float64 on one CPU thread: a tiny teacher VRNN fitted
    by :func:`train_elbo` (2 steps) on fixed random strokes, students by ours, local and
    scratch (:func:`train_student`, 2 steps each), and each model's -ELBO of the strokes and
    eq. 4's KL from the teacher on shared noise (:func:`kl_to_teacher`)."""
    with float64_cpu():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(6, 5, 3, generator=g)
        x[..., 0] = (x[..., 0] > 0).to(x.dtype)
        mask = torch.ones(6, 5)
        batch = StrokeBatch(x, mask, mask.sum(1).long())
        data = StrokeData(batch, batch, np.zeros(2), np.ones(2), "fingerprint")
        cfg = kd_vrnn_config("smoke", max_len=5, teacher_hidden=(6,), teacher_rnn=6,
                             student_hidden=(4,), student_rnn=4, z_dim=2, student_steps=2,
                             batch=3)
        torch.manual_seed(1)
        teacher = VRNN(cfg.size("teacher"), length=cfg.max_len)
        out = train_elbo(teacher, x, mask, steps=2, batch=cfg.batch, lr=cfg.lr,
                         weight_decay=cfg.weight_decay, clip_grad=cfg.clip_grad, generator=g,
                         desc="fingerprint")
        init = VRNN(cfg.size("student"), length=cfg.max_len)
        for method in METHODS:
            student, losses = train_student(method, init, teacher, data, cfg, g,
                                            torch.device("cpu"))
            noise = teacher.sample_noise(4, g)
            out += [float(v) for v in losses] + [
                evaluate_neg_elbo(student, x, mask, generator=g),
                kl_to_teacher(teacher, student, noise)]
        return out + [evaluate_neg_elbo(teacher, x, mask, generator=g)]
