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

import functools
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator
from torch import Tensor

from lgm.data.images import IMAGE_DATASETS, ImageData, image_size_of, load_images
from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.experiments.cache import cached_call
from lgm.experiments.experiment import Experiment
from lgm.experiments.spec import ExperimentConfig, Preset
from lgm.metrics.classifier import load_or_train_classifier
from lgm.metrics.two_sample import (
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    two_sample_metrics,
)
from lgm.models.ladder import TOP, LadderVAE, num_parameters
from lgm.paths import cache_root
from lgm.provenance import provenance
from lgm.training.distill import distill, distillation_loss_fn
from lgm.training.fit import float64_cpu
from lgm.training.model_fits import (
    fit_elbo,
    load_state_arrays,
    state_arrays,
    steps_per_epoch,
)

GROUP = "kd_compression"
METHODS = ("ours", "local", "scratch")
Method = Literal["ours", "local", "scratch"]
PAPER_DATASETS = ("svhn", "cifar10", "celeba")
DATA_FREE = "none: data-free distillation on the teacher's noise"
EVAL_NOISE_SEED = 2023  # one noise for every model's evaluation samples (paired -T columns)


class KDCompressionConfig(ExperimentConfig):
    """Everything that determines Table 1 (and the lambda study) for one dataset. Defaults:
    the authors' settings (the notes); ``seeds``: the students' seeds (the teacher has its
    own ``teacher_seed``)."""

    preset: Preset = "custom"
    dataset: str = "svhn"
    image_size: PositiveInt = 32
    channels: Literal[1, 3] = 3
    n_train: PositiveInt | None = None   # None: the whole training split
    n_eval: int = Field(1024, ge=2)      # test images vs generated samples
    teacher_width: PositiveInt = 128
    student_widths: tuple[PositiveInt, ...] = Field((16, 8, 4), min_length=1)
    methods: tuple[Method, ...] = Field(METHODS, min_length=1)
    lam: float = Field(0.1, ge=0, allow_inf_nan=False)  # lambda of eq. 7
    lambdas: tuple[Annotated[float, Field(ge=0, allow_inf_nan=False)], ...] = Field(
        (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0), min_length=1)  # Fig. 7 sweep
    lambda_width: PositiveInt = 8        # student width of the lambda study
    teacher_epochs: PositiveInt = 50
    student_epochs: PositiveInt = 50     # scratch epochs = distillation steps / steps per epoch
    warmup_fraction: float = Field(0.5, ge=0, le=1)  # KL warm-up: 25 of 50 epochs
    batch: PositiveInt = 128
    lr: float = Field(1e-4, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0, allow_inf_nan=False)
    beta: float = Field(0.1, gt=0, allow_inf_nan=False)  # likelihood sigma = sqrt(beta / 2)
    teacher_seed: NonNegativeInt = 0
    classifier_epochs: PositiveInt = 5
    inception_weights: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _paper_celeba(cls, values: Any) -> Any:
        """At the paper preset CelebA has 64x64 images and students 32/16/8 (Table 1), unless
        given."""
        if isinstance(values, dict) and values.get("preset") == "paper" and values.get(
                "dataset") == "celeba":
            values = dict(values)
            size = values.setdefault("image_size", 64)
            values.setdefault("student_widths", PAPER_WIDTHS.get(size, (16, 8, 4)))
            values.setdefault("lambda_width", PAPER_WIDTHS.get(size, (16, 8, 4))[1])
        return values

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v not in IMAGE_DATASETS:
            raise ValueError(f"unknown dataset {v!r}; known: {', '.join(IMAGE_DATASETS)}")
        return v

    @model_validator(mode="after")
    def _image_shape(self) -> KDCompressionConfig:
        image_size_of(self.dataset, self.image_size)
        if self.channels == 1 and self.dataset not in ("mnist", "fashion"):
            raise ValueError(f"channels: {self.dataset} has 3 channels (stand-ins 1 or 3), "
                             f"got 1")
        return self


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(dataset="fashion", n_train=64, n_eval=48, teacher_width=4,
                  student_widths=(2,), lambdas=(0.0, 0.1), lambda_width=2, teacher_epochs=1,
                  student_epochs=1, batch=32, lr=3e-3, classifier_epochs=1),
    # quick: one grey channel (3x fewer pixels) buys a teacher that draws (width 16, 320 Adam
    # steps on 2000 images) and students of 160 steps: enough for Table 1's orderings to show
    # on a CPU (measured: 134 s of one CPU thread for the teacher and three students).
    "quick": dict(dataset="fashion", channels=1, n_train=2000, n_eval=300, teacher_width=16,
                  student_widths=(4,), lambdas=(0.0, 0.1, 10.0), lambda_width=4,
                  teacher_epochs=10, student_epochs=5, batch=64, lr=3e-3, classifier_epochs=2),
    "paper": dict(),  # the authors' settings: the config's defaults
}
PAPER_WIDTHS = {32: (16, 8, 4), 64: (32, 16, 8)}  # Table 1's students (teacher 128)
PAPER_SEEDS = (0, 1, 2)  # "mean ± std over 3 seeds"


def kd_compression_config(preset: str = "quick", **overrides: Any) -> KDCompressionConfig:
    """The preset's config with fields overridden (:func:`lgm.experiments.spec.make_config`:
    ``seeds`` as given, else the paper's three at the paper preset); at the paper preset
    CelebA gets 64x64 images and the students 32/16/8 (Table 1), unless overridden."""
    return TABLE1.make_config(preset, **overrides)  # type: ignore[return-value]


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


# --------------------------------------------------------------------------- models
def new_model(cfg: KDCompressionConfig, width: int, seed: int) -> LadderVAE:
    """A freshly initialised ladder VAE (``seed`` fixes the weights) on the config's device."""
    torch.manual_seed(seed)
    return LadderVAE(cfg.image_size, width, cfg.channels, beta=cfg.beta).to(
        resolve_device(cfg.device))


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

    with cpu_threads(thread_count(), resolve_device(cfg.device)):
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
    with cpu_threads(thread_count(), resolve_device(cfg.device)):
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
    history = distill(teacher, student, steps=steps, batch=cfg.batch,
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
    with cpu_threads(thread_count(), resolve_device(cfg.device)):
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


def table1_runs(cfg: KDCompressionConfig) -> dict[str, Any]:
    """The ``kd_table1`` experiment's run: :func:`run_table1` as ``{"config", "runs"}``, every
    cached result once (each names its width, method and seed under ``params``)."""
    table = run_table1(cfg)
    runs = [r for rs in table["students"].values() for r in rs]
    return {"config": table["config"], "runs": [table["teacher"], *runs]}


def lambda_runs(cfg: KDCompressionConfig) -> dict[str, Any]:
    """The ``kd_lambda`` experiment's run: :func:`run_lambda` as ``{"config", "runs"}``."""
    sweep = run_lambda(cfg)
    runs = [r for group in ("ours", "baselines") for rs in sweep[group].values() for r in rs]
    return {"config": sweep["config"], "runs": [sweep["teacher"], *runs]}


def metric_values(results: list[dict[str, Any]], against: str, metric: str) -> np.ndarray:
    """One metric over seeds (``against`` "data" or "teacher")."""
    return np.array([r["metrics"][against][metric] for r in results], dtype=float)


# --------------------------------------------------------------------------- the paper's values
TABLE1_METRICS = ("fid", "emd", "mmd", "1nn")
# Table 1 (Inception-v3 features, mean ± std over 3 seeds): (dataset, method, student width,
# parameters in millions, (FID, EMD, MMD, 1NN) vs data, the same vs the teacher ("-T")); the
# teacher row has means only. Widths: 16/8/4 at 32x32, 32/16/8 for CelebA at 64x64.
PAPER_TABLE1_ROWS: tuple[tuple[Any, ...], ...] = (
    ("celeba", "teacher", None, 6.60, (4.95, 8.54, 0.24, 0.89), None),
    ("celeba", "ours", 32, 0.44, ((5.38, 0.10), (8.77, 0.06), (0.27, 0.01), (0.92, 0.01)),
     ((0.019, 0.002), (6.48, 0.04), (0.12, 0.00), (0.17, 0.01))),
    ("celeba", "local", 32, 0.44, ((6.23, 0.17), (9.25, 0.11), (0.33, 0.01), (0.95, 0.00)),
     ((0.052, 0.006), (8.32, 0.14), (0.26, 0.02), (0.82, 0.02))),
    ("celeba", "scratch", 32, 0.44, ((6.10, 0.31), (9.08, 0.16), (0.33, 0.02), (0.95, 0.01)),
     ((0.052, 0.016), (8.34, 0.36), (0.26, 0.05), (0.82, 0.05))),
    ("celeba", "ours", 16, 0.12, ((5.96, 0.12), (9.06, 0.09), (0.31, 0.01), (0.95, 0.00)),
     ((0.036, 0.005), (8.04, 0.11), (0.23, 0.01), (0.79, 0.02))),
    ("celeba", "local", 16, 0.12, ((8.95, 0.19), (11.24, 0.16), (0.50, 0.01), (0.99, 0.00)),
     ((0.157, 0.018), (10.82, 0.17), (0.47, 0.01), (0.99, 0.00))),
    ("celeba", "scratch", 16, 0.12, ((8.18, 0.15), (10.50, 0.14), (0.45, 0.01), (0.99, 0.00)),
     ((0.095, 0.007), (9.98, 0.03), (0.43, 0.00), (0.97, 0.00))),
    ("celeba", "ours", 8, 0.04, ((8.20, 0.12), (10.66, 0.12), (0.45, 0.01), (0.99, 0.00)),
     ((0.069, 0.004), (9.91, 0.06), (0.40, 0.00), (0.98, 0.00))),
    ("celeba", "local", 8, 0.04, ((11.08, 0.27), (12.79, 0.22), (0.62, 0.01), (1.00, 0.00)),
     ((0.139, 0.015), (12.80, 0.28), (0.64, 0.01), (1.00, 0.00))),
    ("celeba", "scratch", 8, 0.04, ((9.57, 0.14), (11.46, 0.11), (0.55, 0.01), (1.00, 0.00)),
     ((0.093, 0.004), (11.19, 0.13), (0.56, 0.02), (1.00, 0.00))),
    ("svhn", "teacher", None, 5.39, (4.19, 7.98, 0.17, 0.80), None),
    ("svhn", "ours", 16, 0.10, ((4.38, 0.05), (7.94, 0.04), (0.19, 0.00), (0.81, 0.00)),
     ((0.028, 0.006), (6.90, 0.05), (0.14, 0.01), (0.47, 0.02))),
    ("svhn", "local", 16, 0.10, ((5.93, 0.50), (8.66, 0.32), (0.30, 0.04), (0.95, 0.02)),
     ((0.108, 0.019), (9.29, 0.41), (0.40, 0.04), (0.98, 0.01))),
    ("svhn", "scratch", 16, 0.10, ((4.69, 0.16), (8.04, 0.12), (0.21, 0.01), (0.85, 0.01)),
     ((0.037, 0.006), (7.86, 0.10), (0.22, 0.01), (0.80, 0.02))),
    ("svhn", "ours", 8, 0.03, ((4.81, 0.06), (8.10, 0.03), (0.22, 0.01), (0.87, 0.01)),
     ((0.031, 0.012), (7.82, 0.08), (0.23, 0.01), (0.82, 0.03))),
    ("svhn", "local", 8, 0.03, ((6.95, 0.35), (9.40, 0.28), (0.37, 0.02), (0.98, 0.01)),
     ((0.153, 0.017), (10.39, 0.21), (0.49, 0.02), (1.00, 0.00))),
    ("svhn", "scratch", 8, 0.03, ((5.84, 0.32), (8.62, 0.18), (0.31, 0.02), (0.92, 0.01)),
     ((0.080, 0.009), (9.10, 0.22), (0.39, 0.03), (0.95, 0.01))),
    ("svhn", "ours", 4, 0.01, ((6.71, 0.38), (9.22, 0.31), (0.36, 0.03), (0.96, 0.01)),
     ((0.055, 0.011), (9.13, 0.11), (0.37, 0.02), (0.98, 0.00))),
    ("svhn", "local", 4, 0.01, ((8.26, 0.37), (10.40, 0.35), (0.45, 0.02), (1.00, 0.00)),
     ((0.170, 0.015), (11.25, 0.25), (0.55, 0.01), (1.00, 0.00))),
    ("svhn", "scratch", 4, 0.01, ((7.73, 0.28), (9.95, 0.25), (0.43, 0.01), (0.99, 0.00)),
     ((0.063, 0.015), (10.22, 0.18), (0.49, 0.01), (0.99, 0.00))),
    ("cifar10", "teacher", None, 5.39, (4.63, 7.57, 0.25, 0.89), None),
    ("cifar10", "ours", 16, 0.10, ((5.47, 0.23), (8.16, 0.20), (0.31, 0.02), (0.92, 0.01)),
     ((0.024, 0.006), (6.29, 0.08), (0.19, 0.01), (0.48, 0.01))),
    ("cifar10", "local", 16, 0.10, ((6.22, 0.05), (8.61, 0.06), (0.37, 0.00), (0.94, 0.00)),
     ((0.036, 0.003), (7.58, 0.08), (0.31, 0.01), (0.91, 0.01))),
    ("cifar10", "scratch", 16, 0.10, ((6.19, 0.25), (8.54, 0.15), (0.38, 0.02), (0.95, 0.01)),
     ((0.034, 0.005), (7.27, 0.12), (0.28, 0.03), (0.83, 0.03))),
    ("cifar10", "ours", 8, 0.03, ((6.11, 0.16), (8.59, 0.11), (0.36, 0.01), (0.95, 0.01)),
     ((0.036, 0.013), (7.29, 0.11), (0.28, 0.01), (0.82, 0.02))),
    ("cifar10", "local", 8, 0.03, ((7.55, 0.09), (9.66, 0.05), (0.45, 0.00), (0.97, 0.00)),
     ((0.052, 0.003), (9.08, 0.07), (0.44, 0.01), (0.99, 0.00))),
    ("cifar10", "scratch", 8, 0.03, ((6.74, 0.36), (8.95, 0.27), (0.42, 0.03), (0.96, 0.01)),
     ((0.037, 0.007), (7.84, 0.29), (0.35, 0.03), (0.93, 0.02))),
    ("cifar10", "ours", 4, 0.01, ((7.61, 0.91), (9.65, 0.79), (0.47, 0.05), (0.98, 0.01)),
     ((0.045, 0.016), (8.48, 0.78), (0.42, 0.05), (0.96, 0.02))),
    ("cifar10", "local", 4, 0.01, ((10.53, 0.74), (12.10, 0.71), (0.64, 0.03), (1.00, 0.00)),
     ((0.085, 0.015), (11.38, 0.69), (0.62, 0.02), (1.00, 0.00))),
    ("cifar10", "scratch", 4, 0.01, ((10.17, 1.13), (11.67, 1.01), (0.64, 0.06), (1.00, 0.00)),
     ((0.067, 0.023), (10.56, 0.99), (0.61, 0.05), (1.00, 0.00))),

)


def paper_table1() -> dict[str, dict[Any, dict[str, Any]]]:
    """Table 1 as ``{dataset: {"teacher": {"params_m", "data": {metric: mean}},
    (width, method): {"params_m", "data": {metric: (mean, std)}, "teacher": {...}}}}``."""
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for dataset, method, width, params, data, teacher in PAPER_TABLE1_ROWS:
        key = "teacher" if method == "teacher" else (width, method)
        row: dict[str, Any] = {"params_m": params,
                               "data": dict(zip(TABLE1_METRICS, data, strict=True))}
        if teacher is not None:
            row["teacher"] = dict(zip(TABLE1_METRICS, teacher, strict=True))
        out.setdefault(dataset, {})[key] = row
    return out


PAPER: dict[str, Any] = {
    "table1": paper_table1(),
    "parameters": {(32, 128): 5_387_000, (32, 16): 102_000, (32, 8): 30_000, (32, 4): 10_000,
                   (64, 128): 6_601_000, (64, 32): 443_000, (64, 16): 121_000,
                   (64, 8): 35_000},  # Table 1's sizes (3 channels): (image side, width)
    "datasets": PAPER_DATASETS,
    "lam": 0.1,
    "lambdas": (0.0, 1e-3, 1e-2, 0.1, 1.0, 10.0),  # Fig. 7 (no table: a plot)
}

TABLE1 = Experiment(
    name="kd_table1", paper="kd",
    title="Table 1: data-free compression of a 5-layer ladder VAE (ours, local, scratch)",
    config=KDCompressionConfig, presets=PRESETS, run=table1_runs, pages=("kd_table1",),
    paper_seeds=PAPER_SEEDS, paper_values={"table1": PAPER["table1"],
                                           "parameters": PAPER["parameters"]},
    paper_gpu_s=3600.0, paper_cpu_s=(200_000.0, "guess"))
LAMBDA = Experiment(
    name="kd_lambda", paper="kd", title="Fig. 7: the weight lambda of the latent loss (eq. 7)",
    config=KDCompressionConfig, presets=PRESETS, run=lambda_runs, pages=("kd_lambda",),
    paper_seeds=PAPER_SEEDS, paper_values={"lambdas": PAPER["lambdas"], "lam": PAPER["lam"]},
    paper_gpu_s=1800.0, paper_cpu_s=(100_000.0, "guess"))
EXPERIMENTS = [TABLE1, LAMBDA]


class PooledPixels:
    """Images average-pooled to 2x2 per channel, as features: the fingerprints' stand-in for a
    trained extractor (few features, so that 16 samples give a full-rank covariance)."""

    name = "2x2 pooled pixels"

    def __call__(self, images: Tensor) -> Tensor:
        return torch.nn.functional.avg_pool2d(images, images.shape[-1] // 2).flatten(1)


def fingerprint() -> list[float]:
    """Numerics of this module's path, float64 on one CPU thread: a width-1 teacher fitted by
    :func:`fit_elbo` (2 steps, KL warm-up), a student distilled from it by eq. 7 as Table 1
    does (W2 latents averaged, z5 skipped; 2 steps), both models' -ELBO on the images, and the
    student's :func:`evaluate` (FID, EMD, MMD, 1NN vs data and teacher on shared noise: an
    untrained decoder's clipped means are 0, so these are degenerate) and the same metrics
    between the images and a second, darker image set, in :class:`PooledPixels` features."""
    with float64_cpu():
        images = torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        torch.manual_seed(1)
        teacher = LadderVAE(32, 1, 1)
        losses = fit_elbo(teacher, images, epochs=1, batch=8, lr=1e-3, weight_decay=1e-4,
                          warmup_fraction=0.5, seed=2, desc="fingerprint")
        torch.manual_seed(3)
        student = LadderVAE(32, 1, 1)
        fn = distillation_loss_fn("ours", lam=0.1, latent_measure="w2",
                                  latent_reduction="mean", skip=(TOP,))
        kd = distill(teacher, student, steps=2, batch=4, lr=1e-3, weight_decay=1e-4,
                     loss_fn=fn, generator=torch.Generator().manual_seed(4), desc="fingerprint")
        with torch.no_grad():
            elbos = [float(m.neg_elbo(images).loss.mean()) for m in (teacher, student)]
        feats = PooledPixels()
        noise = teacher.sample_noise(16, torch.Generator().manual_seed(EVAL_NOISE_SEED))
        ref = Reference(feats, feats(images), feats(teacher.generate(16, noise=noise)), noise,
                        "fingerprint")
        metrics, _ = evaluate(student, ref)
        darker = torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(5)) ** 2
        metrics["darker"] = two_sample_metrics(ref.real, feats(darker))
    scores = [metrics[against][k] for against in ("data", "teacher", "darker")
              for k in sorted(metrics[against])]
    return [float(v) for v in losses] + kd.loss + elbos + scores
