"""Data-free compression of a 5-layer ladder VAE (KD paper, section 4.2, Table 1, Fig. 7).

A teacher :class:`~lgm.models.ladder.LadderVAE` of width ``teacher_width`` is trained on the
images by the ELBO (Adam, weight decay, linear KL warm-up over the first half of the epochs;
the notes: lr 1e-4, wd 1e-4, batch 128, 50 epochs, warm-up 25). Students of smaller widths
are then made three ways, per seed:

- **ours**: eq. 7 on shared noise, no data (:func:`lgm.training.distill.distill`): L_sd = KL
  of the fixed-sigma image Gaussians (sum over pixels of (mu_t - mu_s)^2 / 2 sigma^2) +
  lambda * sum over z4..z1 of the squared 2-Wasserstein distance of the latent Gaussians,
  *averaged* over each latent's dimensions (the authors' code); the shared top prior z5 is
  skipped; lambda = 0.1.
- **local**: the baseline of fig. 3d, every conditional of the student (z4..z1 and the image)
  evaluated at the teacher's samples, KLs summed; no data either.
- **scratch**: the student trained on the data by the ELBO, as the teacher was.

Distillation gets as many Adam steps as scratch training (``student_epochs`` x steps per
epoch), with the same learning rate and weight decay; the teacher is in eval mode throughout
(its BatchNorm frozen, unlike the authors' code).

Evaluation (:mod:`lgm.metrics.two_sample`): ``n_eval`` test images against ``n_eval``
samples of the model (decoder means clipped to [0, 1]), in the features of the extractor:
Inception-v3 pool features when ``inception_weights`` names a local file, else a classifier
trained on the training images (results say which). FID (square root of the Fréchet
distance, as the paper's column), EMD, MMD, 1NN vs the data; the same four against the
teacher's samples ("-T" columns). All models draw their evaluation samples from the *same*
noise, so a student sample and its teacher "twin" are paired: the 1NN-T values below 0.5 in
the paper's table (0.17 for ours on CelebA) can only arise from such pairing.

Results are cached (:func:`lgm.experiments.cache.cached_call`, group ``kd_compression``): the
teacher (with its weights) under its training parameters, each evaluation and each student
under everything that determines it, so the Table 1 and Fig. 7 pages share the teacher and
the students they have in common.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lgm.data.images import IMAGE_DATASETS, ImageData, image_size_of, load_images
from lgm.device import cpu_threads, resolve_device
from lgm.experiments.cache import cached_call
from lgm.metrics.classifier import load_or_train_classifier
from lgm.metrics.two_sample import (
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    two_sample_metrics,
)
from lgm.models.ladder import TOP, LadderVAE, num_parameters
from lgm.paths import cache_root
from lgm.progress import progress
from lgm.provenance import provenance
from lgm.training.distill import distill, distillation_loss_fn

GROUP = "kd_compression"
METHODS = ("ours", "local", "scratch")
PRESETS = ("smoke", "quick", "paper")
PAPER_DATASETS = ("svhn", "cifar10", "celeba")
DATA_FREE = "none: data-free distillation on the teacher's noise"
EVAL_NOISE_SEED = 2023  # one noise for every model's evaluation samples (paired -T columns)


class TrainingDivergedError(RuntimeError):
    """A NaN/inf ELBO; the message names the step."""


@dataclass(frozen=True)
class KDCompressionConfig:
    """Everything that determines Table 1 (and the lambda study) for one dataset."""

    preset: str = "paper"
    dataset: str = "svhn"
    image_size: int = 32
    channels: int = 3
    n_train: int | None = None          # None: the whole training split
    n_eval: int = 1024                  # test images vs generated samples
    teacher_width: int = 128
    student_widths: tuple[int, ...] = (16, 8, 4)
    methods: tuple[str, ...] = METHODS
    lam: float = 0.1                    # lambda of eq. 7
    lambdas: tuple[float, ...] = (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0)  # Fig. 7 sweep
    lambda_width: int = 8               # student width of the lambda study
    teacher_epochs: int = 50
    student_epochs: int = 50            # scratch epochs = distillation steps / steps per epoch
    warmup_fraction: float = 0.5        # KL warm-up: 25 of 50 epochs
    batch: int = 128
    lr: float = 1e-4
    weight_decay: float = 1e-4
    beta: float = 0.1                   # likelihood sigma = sqrt(beta / 2)
    seeds: tuple[int, ...] = (0, 1, 2)
    teacher_seed: int = 0
    classifier_epochs: int = 5
    inception_weights: str | None = None
    data_root: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


INT_FIELDS = ("n_eval", "teacher_width", "lambda_width", "teacher_epochs", "student_epochs",
              "batch", "teacher_seed", "classifier_epochs")


def _positive_int(name: str, value: Any, low: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _validate(cfg: KDCompressionConfig) -> None:
    """ValueError naming the bad field, before anything is read or computed."""
    if cfg.preset not in (*PRESETS, "custom"):
        raise ValueError(f"preset must be one of {PRESETS} or 'custom', got {cfg.preset!r}")
    if cfg.dataset not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; known: {', '.join(IMAGE_DATASETS)}")
    image_size_of(cfg.dataset, cfg.image_size)
    if cfg.channels not in ((1, 3) if cfg.dataset in ("mnist", "fashion") else (3,)):
        raise ValueError(f"channels: {cfg.dataset} has 3 channels (stand-ins 1 or 3), got "
                         f"{cfg.channels!r}")
    for name in INT_FIELDS:
        _positive_int(name, getattr(cfg, name), 0 if name == "teacher_seed" else 1)
    if cfg.n_eval < 2:
        raise ValueError(f"n_eval must be >= 2, got {cfg.n_eval}")
    if cfg.n_train is not None:
        _positive_int("n_train", cfg.n_train)
    for name in ("student_widths", "seeds", "methods", "lambdas"):
        if not isinstance(getattr(cfg, name), tuple) or not getattr(cfg, name):
            raise ValueError(f"{name} must be a non-empty tuple, got {getattr(cfg, name)!r}")
    for w in cfg.student_widths:
        _positive_int("student_widths", w)
    for s in cfg.seeds:
        _positive_int("seeds", s, 0)
    if any(m not in METHODS for m in cfg.methods):
        raise ValueError(f"methods must be among {METHODS}, got {cfg.methods!r}")
    for name, value in [("lam", cfg.lam), ("weight_decay", cfg.weight_decay),
                        *(("lambdas", v) for v in cfg.lambdas)]:
        if not isinstance(value, int | float) or isinstance(value, bool) or not (
                math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    for name in ("lr", "beta"):
        if not isinstance(getattr(cfg, name), int | float) or not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)!r}")
    if not 0 <= cfg.warmup_fraction <= 1:
        raise ValueError(f"warmup_fraction must be in [0, 1], got {cfg.warmup_fraction!r}")
    if not isinstance(cfg.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", cfg.device):
        raise ValueError(f"unknown device {cfg.device!r}; use cpu, cuda, cuda:N or auto")


PRESET_VALUES: dict[str, dict[str, Any]] = {
    "smoke": dict(dataset="fashion", n_train=64, n_eval=48, teacher_width=4,
                  student_widths=(2,), lambdas=(0.0, 0.1), lambda_width=2, teacher_epochs=1,
                  student_epochs=1, batch=32, lr=3e-3, seeds=(0,), classifier_epochs=1),
    "quick": dict(dataset="fashion", n_train=768, n_eval=300, teacher_width=8,
                  student_widths=(4,), lambdas=(0.0, 0.1, 10.0), lambda_width=4,
                  teacher_epochs=3, student_epochs=2, batch=32, lr=3e-3, seeds=(0,),
                  classifier_epochs=2),
    "paper": dict(),  # the authors' settings: the dataclass defaults
}
PAPER_WIDTHS = {32: (16, 8, 4), 64: (32, 16, 8)}  # Table 1's students (teacher 128)


def kd_compression_config(preset: str = "quick", **overrides: Any) -> KDCompressionConfig:
    """The preset's config with fields overridden; at the paper preset CelebA gets 64x64
    images and the students 32/16/8 (Table 1), unless overridden."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    names = {f.name for f in dataclasses.fields(KDCompressionConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted(names)}")
    values = {**PRESET_VALUES[preset], **overrides, "preset": preset}
    if preset == "paper" and values.get("dataset") == "celeba":
        size = values.setdefault("image_size", 64)
        values.setdefault("student_widths", PAPER_WIDTHS[size])
        values.setdefault("lambda_width", PAPER_WIDTHS[size][1])
    return KDCompressionConfig(**values)


# --------------------------------------------------------------------------- data
@functools.lru_cache(maxsize=8)
def _images(dataset: str, split: str, size: int, channels: int, limit: int | None,
            root: str | None, device: str) -> ImageData:
    return load_images(dataset, split, root=root, image_size=size, channels=channels,
                       limit=limit, device=device)


def train_data(cfg: KDCompressionConfig) -> ImageData:
    device = str(resolve_device(cfg.device))
    return _images(cfg.dataset, "train", cfg.image_size, cfg.channels, cfg.n_train,
                   cfg.data_root, device)


def test_data(cfg: KDCompressionConfig) -> ImageData:
    device = str(resolve_device(cfg.device))
    return _images(cfg.dataset, "test", cfg.image_size, cfg.channels, cfg.n_eval,
                   cfg.data_root, device)


# --------------------------------------------------------------------------- ELBO training
def steps_per_epoch(n: int, batch: int) -> int:
    """Full minibatches per epoch (a last partial one is dropped: BatchNorm cannot normalise
    the 1x1 top maps of a single image)."""
    return max(1, n // batch)


def fit_elbo(model: LadderVAE, images: Tensor, *, epochs: int, batch: int, lr: float,
             weight_decay: float, warmup_fraction: float, seed: int,
             desc: str = "elbo") -> np.ndarray:
    """Adam on the mean -ELBO over minibatches; the KL weight rises linearly from 0 to 1 over
    the first ``warmup_fraction`` of the steps. Returns the per-step losses; a NaN/inf raises
    :class:`TrainingDivergedError` naming the step (checked after every epoch). Leaves the
    model in eval mode."""
    n = images.shape[0]
    per_epoch = steps_per_epoch(n, batch)
    steps, warmup = epochs * per_epoch, warmup_fraction * epochs * per_epoch
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    order = torch.Generator().manual_seed(seed)
    losses = torch.full((steps,), math.nan, device=images.device)
    model.train()
    for step in progress(range(steps), desc=desc, leave=False):
        if step % per_epoch == 0:
            perm = torch.randperm(n, generator=order).to(images.device)
        idx = perm[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
        kl_weight = min(1.0, step / warmup) if warmup > 0 else 1.0
        loss = model.neg_elbo(images[idx], kl_weight).loss.mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses[step] = loss.detach()
        if (step + 1) % per_epoch == 0:
            _check_finite(losses[:step + 1], desc)
    model.eval()
    return losses.cpu().numpy()


def _check_finite(losses: Tensor, desc: str) -> None:
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        step = int(bad[0, 0])
        raise TrainingDivergedError(f"non-finite -ELBO ({float(losses[step])}) at step {step} "
                                    f"of {desc}; try a smaller learning rate")


def new_model(cfg: KDCompressionConfig, width: int, seed: int) -> LadderVAE:
    """A freshly initialised ladder VAE (``seed`` fixes the weights) on the config's device."""
    torch.manual_seed(seed)
    return LadderVAE(cfg.image_size, width, cfg.channels, beta=cfg.beta).to(
        resolve_device(cfg.device))


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The full state dict (weights and BatchNorm statistics) as arrays ``w:<name>``."""
    return {f"w:{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_state_arrays(model: torch.nn.Module, arrays: dict[str, np.ndarray]) -> None:
    model.load_state_dict({k[2:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()
                           if k.startswith("w:")})


# --------------------------------------------------------------------------- the teacher
def teacher_params(cfg: KDCompressionConfig) -> dict[str, Any]:
    """What determines the teacher's weights (its cache key)."""
    keys = ("dataset", "image_size", "channels", "n_train", "teacher_width", "teacher_epochs",
            "warmup_fraction", "batch", "lr", "weight_decay", "beta", "teacher_seed")
    return {k: getattr(cfg, k) for k in keys}


def train_teacher(cfg: KDCompressionConfig) -> tuple[LadderVAE, dict[str, Any]]:
    """The teacher (trained, or loaded from the cache) in eval mode, and its cached record."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        data = train_data(cfg)
        model = new_model(cfg, cfg.teacher_width, cfg.teacher_seed)
        losses = fit_elbo(model, data.images, epochs=cfg.teacher_epochs, batch=cfg.batch,
                          lr=cfg.lr, weight_decay=cfg.weight_decay,
                          warmup_fraction=cfg.warmup_fraction, seed=cfg.teacher_seed,
                          desc="teacher")
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": data.source, "parameters": num_parameters(model),
                "final_neg_elbo": float(losses[-max(1, len(losses) // 10):].mean()),
                "arrays": {"loss": losses, **state_arrays(model)}}

    with cpu_threads(1, resolve_device(cfg.device)):
        record = cached_call(GROUP, f"teacher-{cfg.dataset}", teacher_params(cfg), compute)
    model = new_model(cfg, cfg.teacher_width, cfg.teacher_seed)
    load_state_arrays(model, record["arrays"])
    return model.eval(), record


# --------------------------------------------------------------------------- evaluation
def eval_params(cfg: KDCompressionConfig) -> dict[str, Any]:
    keys = ("n_eval", "classifier_epochs", "inception_weights")
    return {k: getattr(cfg, k) for k in keys}


def extractor(cfg: KDCompressionConfig) -> FeatureExtractor:
    """Inception-v3 features from the local weights file, else a classifier trained on the
    training images (cached), fed 32x32 images (CelebA 64x64 is average-pooled)."""
    device = resolve_device(cfg.device)
    if cfg.inception_weights:
        return InceptionFeatures(cfg.inception_weights, device)
    data = train_data(cfg)
    images = data.images
    if images.shape[-1] != 32:
        images = torch.nn.functional.avg_pool2d(images, images.shape[-1] // 32)
    model = load_or_train_classifier(
        f"kd-{cfg.dataset}-{cfg.channels}ch", images, data.labels,
        cache_dir=cache_root() / "classifiers", epochs=cfg.classifier_epochs, device=device)
    return ClassifierFeatures(model, f"classifier trained on {cfg.dataset} "
                              f"({cfg.classifier_epochs} epoch(s), 512-d penultimate layer)")


@dataclass
class Reference:
    """What every model is compared with: test-image features, the teacher's sample features
    on the shared evaluation noise, and that noise."""

    extractor: FeatureExtractor
    real: Tensor
    teacher: Tensor
    noise: dict[str, Tensor]
    data: str


_REFERENCES: dict[str, Reference] = {}


def reference(cfg: KDCompressionConfig, teacher: LadderVAE) -> Reference:
    """The evaluation reference of ``cfg`` (memoised in the process)."""
    key = repr((teacher_params(cfg), eval_params(cfg), cfg.data_root, cfg.device))
    if key not in _REFERENCES:
        feats = extractor(cfg)
        noise = teacher.sample_noise(cfg.n_eval, torch.Generator().manual_seed(EVAL_NOISE_SEED))
        test = test_data(cfg)
        _REFERENCES[key] = Reference(feats, feats(test.images), feats(teacher.generate(
            cfg.n_eval, noise=noise)), noise, test.source)
    return _REFERENCES[key]


def evaluate(model: LadderVAE, ref: Reference, with_teacher: bool = True
             ) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Metrics vs the test images (and vs the teacher's paired samples) and 16 samples."""
    samples = model.generate(ref.real.shape[0], noise=ref.noise)
    feats = ref.extractor(samples)
    metrics = {"data": two_sample_metrics(ref.real, feats)}
    if with_teacher:
        metrics["teacher"] = two_sample_metrics(ref.teacher, feats)
    grid = (samples[:16] * 255).round().to(torch.uint8).cpu().numpy()
    return metrics, grid


def teacher_evaluation(cfg: KDCompressionConfig) -> dict[str, Any]:
    """The teacher row of Table 1 (metrics vs data), cached."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        teacher, record = train_teacher(cfg)
        ref = reference(cfg, teacher)
        metrics, grid = evaluate(teacher, ref, with_teacher=False)
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": f"evaluation: {ref.data}", "extractor": ref.extractor.name,
                "parameters": record["parameters"], "metrics": metrics,
                "arrays": {"samples": grid}}

    params = {"teacher": teacher_params(cfg), "eval": eval_params(cfg)}
    with cpu_threads(1, resolve_device(cfg.device)):
        return cached_call(GROUP, f"teacher-eval-{cfg.dataset}", params, compute)


# --------------------------------------------------------------------------- students
def student_params(cfg: KDCompressionConfig, width: int, method: str, lam: float,
                   seed: int) -> dict[str, Any]:
    """What determines one student's result (its cache key)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return {"teacher": teacher_params(cfg), "eval": eval_params(cfg), "width": width,
            "method": method, "lam": lam if method == "ours" else None, "seed": seed,
            "student_epochs": cfg.student_epochs}


def train_student(cfg: KDCompressionConfig, teacher: LadderVAE, width: int, method: str,
                  lam: float, seed: int) -> tuple[LadderVAE, np.ndarray, str]:
    """One student: eq. 7 (ours) or local on shared noise without data, or the ELBO on data
    (scratch), for the same number of Adam steps. Returns it, its losses and the data used."""
    data = train_data(cfg)
    student = new_model(cfg, width, 1000 + seed)
    if method == "scratch":
        losses = fit_elbo(student, data.images, epochs=cfg.student_epochs, batch=cfg.batch,
                          lr=cfg.lr, weight_decay=cfg.weight_decay,
                          warmup_fraction=cfg.warmup_fraction, seed=seed,
                          desc=f"scratch h={width}")
        return student, losses, data.source
    steps = cfg.student_epochs * steps_per_epoch(len(data), cfg.batch)
    loss_fn = (distillation_loss_fn("ours", lam=lam, latent_measure="w2",
                                    latent_reduction="mean", skip=(TOP,))
               if method == "ours" else distillation_loss_fn("local", skip=(TOP,)))
    history = distill(teacher, student, method=method, steps=steps, batch=cfg.batch,
                      lr=cfg.lr, weight_decay=cfg.weight_decay, loss_fn=loss_fn,
                      generator=torch.Generator().manual_seed(seed),
                      device=resolve_device(cfg.device), desc=f"{method} h={width}")
    return student, history.arrays()["loss"], DATA_FREE


def student_result(cfg: KDCompressionConfig, width: int, method: str, lam: float,
                   seed: int) -> dict[str, Any]:
    """One student's metrics vs data and vs teacher, cached."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        teacher, _ = train_teacher(cfg)
        student, losses, used = train_student(cfg, teacher, width, method, lam, seed)
        ref = reference(cfg, teacher)
        metrics, grid = evaluate(student, ref)
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": used,
                "extractor": ref.extractor.name, "parameters": num_parameters(student),
                "metrics": metrics, "arrays": {"samples": grid, "loss": losses}}

    params = student_params(cfg, width, method, lam, seed)
    with cpu_threads(1, resolve_device(cfg.device)):
        return cached_call(GROUP, f"student-{cfg.dataset}-{method}-w{width}-s{seed}", params,
                           compute)


def run_table1(cfg: KDCompressionConfig) -> dict[str, Any]:
    """Table 1 for ``cfg.dataset``: the teacher row and every (width, method, seed) student
    (``{"teacher": result, "students": {(width, method): [results per seed]}}``)."""
    teacher = teacher_evaluation(cfg)
    students = {(w, m): [student_result(cfg, w, m, cfg.lam, s) for s in cfg.seeds]
                for w in cfg.student_widths for m in cfg.methods}
    return {"config": cfg.to_dict(), "teacher": teacher, "students": students}


def run_lambda(cfg: KDCompressionConfig) -> dict[str, Any]:
    """Fig. 7: ours at width ``lambda_width`` for each lambda in ``cfg.lambdas`` (per seed),
    with local and scratch at that width as references."""
    teacher = teacher_evaluation(cfg)
    ours = {lam: [student_result(cfg, cfg.lambda_width, "ours", lam, s) for s in cfg.seeds]
            for lam in cfg.lambdas}
    refs = {m: [student_result(cfg, cfg.lambda_width, m, cfg.lam, s) for s in cfg.seeds]
            for m in ("local", "scratch")}
    return {"config": cfg.to_dict(), "teacher": teacher, "ours": ours, "baselines": refs}


def metric_values(results: list[dict[str, Any]], against: str, metric: str) -> np.ndarray:
    """One metric over seeds (``against`` "data" or "teacher")."""
    return np.array([r["metrics"][against][metric] for r in results], dtype=float)
