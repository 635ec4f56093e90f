"""KD-based continual learning of a conditional ladder VAE (KD paper, section 4.4, Table 2).

Protocol (section 4.4 and the notes on the authors' code):

1. **Step 1.** A :class:`~lgm.models.conditional_ladder.ConditionalLadderVAE` is trained by the
   ELBO on task 0 with condition 0 (Adam, weight decay, linear KL warm-up over the first
   ``warmup_fraction`` of the steps). It is M_old.
2. **Step 2.** The student starts as a copy of M_old, the teacher is a frozen copy (eval
   mode). Every step draws a batch of new data (task 1) and a batch of shared noise, and the
   student minimises ``(1 - p) L_pre + p L_new``, p = the positive rate of the split (the
   fraction of task-1 images among the training images; the notes: "weights by the
   attribute's positive rate"). Every method has the same L_new, the ELBO of the new data
   with condition 1; they differ in the old-knowledge-preserving L_pre, always on condition 0:

   - **ours**: eq. 7 on the teacher's and the student's ancestral passes with shared noise:
     KL of the fixed-sigma image Gaussians + lambda (0.1) x the squared 2-Wasserstein
     distance of every latent Gaussian, averaged over its dimensions. z5's conditional prior
     is learned here, so it is distilled too (the unconditional ladder skips its shared prior).
   - **local**: the baseline of fig. 3d, every conditional of the student evaluated at the
     teacher's samples, KLs summed.
   - **lgm**: generative replay (Ramapuram et al.): the student's ELBO on the teacher's
     samples x_hat (decoder means) of condition 0.
   - **curl**: CURL (Rao et al. 2019, :mod:`lgm.models.curl`): one more mixture component for
     the new task and mixture generative replay: the unsupervised ELBO (sum over components,
     q(y|x) inferred) on the snapshot's samples of its old component.

   Each method gets ``task1_epochs`` passes over the new data.
3. **Metrics** (:mod:`lgm.metrics.two_sample`): "Old" compares ``n_eval`` generations with
   condition 0 to task 0's test images, "New" condition 1 to task 1's; FID (square root of the
   Fréchet distance, the paper's column), EMD, MMD, 1NN, in the features of a classifier
   trained on the split's training images (or Inception-v3 when ``inception_weights`` names a
   local file). Every model generates from the same evaluation noise. "Old" is also measured
   on M_old, which gives the change after learning the new task (the paper's ``A(+-B)``).

Splits (:data:`SPLITS`): CelebA attribute splits (Male, Beard, Eyeglasses; task 0 = the
majority group, task 1 = the minority, 32x32 images) when CelebA is at hand through
:mod:`lgm.data.images`, otherwise class-group splits of MNIST / FashionMNIST padded to 32x32
(:data:`STAND_INS`, one for each attribute, chosen by a similar positive rate). Each task's
training images are capped at ``n_train`` by a seed-independent random subset (drawn from the
first ``20 n_train`` images of the split, which also give the positive rate), so the seeds
differ in initialisation and noise only.

Results are cached (:func:`lgm.experiments.cache.cached_call`, group ``kd_continual``): M_old
with its weights per (split, seed), and each method's result per (split, seed), so pages share
them.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, PositiveInt, field_validator, model_validator
from torch import Tensor

from lgm.data.idx import DataNotFoundError
from lgm.data.images import ImageData, load_images
from lgm.device import cpu_threads, resolve_device, thread_count
from lgm.experiments.cache import cached_call
from lgm.experiments.experiment import Experiment
from lgm.experiments.spec import ExperimentConfig, Preset
from lgm.losses.distillation import local_distillation_loss, target_free_loss
from lgm.metrics.classifier import load_or_train_classifier
from lgm.metrics.two_sample import (
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    two_sample_metrics,
)
from lgm.models.conditional_ladder import ConditionalLadderVAE
from lgm.models.curl import CURL
from lgm.models.ladder import LadderELBO, num_parameters
from lgm.models.vae import frozen_copy
from lgm.paths import cache_root
from lgm.provenance import provenance
from lgm.training.distill import distill
from lgm.training.fit import float64_cpu
from lgm.training.model_fits import fit_elbo, load_state_arrays, state_arrays

GROUP = "kd_continual"
METHODS = ("ours", "local", "lgm", "curl")
Method = Literal["ours", "local", "lgm", "curl"]
EVAL_NOISE_SEED = 2023
SUBSET_SEED = 4_417  # the n_train cap: the same images for every seed


# --------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Split:
    """Task 0 -> task 1 of one row of Table 2: a CelebA attribute or a group of classes."""

    dataset: str                       # "celeba", "mnist" or "fashion"
    label: str                         # as the page writes it, "Female → Male"
    attribute: str | None = None       # CelebA: task 1 = images with attribute == new_value
    new_value: int = 1
    new_classes: tuple[int, ...] = ()  # stand-ins: task 1 = these classes, task 0 the rest

    def is_new(self, data: ImageData) -> Tensor:
        """Boolean mask of the task-1 images of ``data``."""
        if self.attribute is None:
            return torch.isin(data.labels, torch.tensor(self.new_classes,
                                                        device=data.labels.device))
        column = data.attribute_names.index(self.attribute)
        return data.attributes[:, column] == self.new_value


SPLITS: dict[str, Split] = {
    "male": Split("celeba", "Female → Male", "Male", 1),
    "beard": Split("celeba", "No Beard → Beard", "No_Beard", 0),
    "eyeglasses": Split("celeba", "No Eyeglasses → Eyeglasses", "Eyeglasses", 1),
    "mnist-5to9": Split("mnist", "MNIST digits 0–4 → 5–9", new_classes=(5, 6, 7, 8, 9)),
    "fashion-footwear": Split("fashion", "FashionMNIST no footwear → footwear",
                              new_classes=(5, 7, 9)),  # sandal, sneaker, ankle boot
    "fashion-bag": Split("fashion", "FashionMNIST no bag → bag", new_classes=(8,)),
}
PAPER_SPLITS = ("male", "beard", "eyeglasses")
STAND_INS = {"male": "mnist-5to9", "beard": "fashion-footwear", "eyeglasses": "fashion-bag"}
READ_FACTOR = 20  # with a cap n, read only the first 20 n images of a split (enough for a
#                   minority of 5 %; CelebA's JPEGs are slow to read, MNIST's are many)


def celeba_available(data_root: str | None = None) -> bool:
    """Whether CelebA's files are where :mod:`lgm.data.images` looks."""
    try:
        load_images("celeba", "test", root=data_root, image_size=32, limit=1)
    except DataNotFoundError:
        return False
    return True


def resolve_splits(splits: tuple[str, ...], data_root: str | None = None
                   ) -> tuple[tuple[str, ...], str]:
    """The splits to run: CelebA ones replaced by their stand-ins when CelebA is missing;
    and a sentence saying which data is used."""
    labels = "; ".join(SPLITS[s].label for s in splits)
    if not any(SPLITS[s].dataset == "celeba" for s in splits):
        return splits, f"Stand-in split(s) of this preset, no CelebA needed: {labels}."
    if celeba_available(data_root):
        return splits, f"CelebA at hand: the paper's attribute splits ({labels})."
    out = tuple(dict.fromkeys(STAND_INS.get(s, s) for s in splits))
    return out, ("CelebA is not at hand (no files under the data roots), so each attribute "
                 "split is replaced by a class-group split of MNIST / FashionMNIST padded to "
                 "32x32: " + "; ".join(f"{SPLITS[s].label} → {SPLITS[STAND_INS[s]].label}"
                                       for s in splits if s in STAND_INS) + ".")


# --------------------------------------------------------------------------- config
class KDContinualConfig(ExperimentConfig):
    """Everything that determines Table 2 (defaults: the paper's settings)."""

    preset: Preset = "custom"
    splits: tuple[str, ...] = Field(PAPER_SPLITS, min_length=1)
    methods: tuple[Method, ...] = Field(METHODS, min_length=1)
    channels: Literal[1, 3] | None = None  # None: 3 for CelebA, 1 for the grey stand-ins
    n_train: int | None = Field(None, ge=2)  # cap on each task's training images (None: all)
    n_eval: int = Field(1024, ge=2)        # test images vs generations, per task
    width: PositiveInt = 64                # h of the ladder (notes: 64 for Table 2)
    task0_epochs: PositiveInt = 50
    task1_epochs: PositiveInt = 50         # step 2: passes over the new data
    warmup_fraction: float = Field(0.5, ge=0, le=1)  # KL warm-up of step 1 (25 of 50 epochs)
    batch: PositiveInt = 256
    lr: float = Field(1e-4, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0, allow_inf_nan=False)
    lam: float = Field(0.1, ge=0, allow_inf_nan=False)   # lambda of eq. 7
    beta: float = Field(0.1, gt=0, allow_inf_nan=False)  # likelihood sigma = sqrt(beta / 2)
    curl_width: PositiveInt = 32           # q(y|x) of CURL
    classifier_epochs: PositiveInt = 5
    inception_weights: str | None = None
    cpu_threads: PositiveInt | None = None  # torch CPU threads (None: the rule, LGM_THREADS);
    #                                         tiny models run fastest on one thread

    @field_validator("splits")
    @classmethod
    def _known_splits(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in SPLITS]
        if unknown:
            raise ValueError(f"unknown splits {unknown}; known: {', '.join(SPLITS)}")
        return v

    @model_validator(mode="after")
    def _celeba_is_colour(self) -> KDContinualConfig:
        if self.channels == 1 and any(SPLITS[s].dataset == "celeba" for s in self.splits):
            raise ValueError("channels: CelebA has 3 channels, got 1")
        return self


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(splits=("fashion-footwear",), n_train=64, n_eval=32, width=4,
                  task0_epochs=1, task1_epochs=1, batch=32, lr=2e-3, curl_width=4,
                  classifier_epochs=1, cpu_threads=1),
    "quick": dict(splits=("fashion-footwear",), n_train=320, n_eval=200, width=8,
                  task0_epochs=3, task1_epochs=1, batch=32, lr=2e-3, curl_width=8,
                  classifier_epochs=1, cpu_threads=1),
    "paper": dict(),  # the config's defaults
}
PAPER_SEEDS = (0, 1, 2)


def kd_continual_config(preset: str = "quick", **overrides: Any) -> KDContinualConfig:
    """The preset's config with fields overridden (:func:`lgm.experiments.spec.make_config`:
    ``seeds`` as given, else three at the paper preset; unknown fields are an error)."""
    return TABLE2.make_config(preset, **overrides)  # type: ignore[return-value]


# --------------------------------------------------------------------------- data
@dataclass
class ContinualData:
    """The two tasks of a split on the device; ``rate`` is the positive rate p."""

    train: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    classifier: tuple[Tensor, Tensor]   # training images and labels for the feature extractor
    rate: float
    source: str


def channels_of(cfg: KDContinualConfig, split: str) -> int:
    if cfg.channels is not None:
        return cfg.channels
    return 3 if SPLITS[split].dataset == "celeba" else 1


def _read(cfg: KDContinualConfig, split: str, part: str, cap: int | None) -> ImageData:
    return load_images(SPLITS[split].dataset, part, root=cfg.data_root, image_size=32,
                       channels=channels_of(cfg, split),
                       limit=None if cap is None else cap * READ_FACTOR,
                       device=resolve_device(cfg.device))


def _cap(idx: Tensor, cap: int | None, key: int) -> Tensor:
    if cap is None or len(idx) <= cap:
        return idx
    g = torch.Generator().manual_seed(SUBSET_SEED + key)
    return idx[torch.randperm(len(idx), generator=g)[:cap].to(idx.device)].sort().values


@functools.lru_cache(maxsize=4)
def _split_data(cfg: KDContinualConfig, split: str) -> ContinualData:
    spec = SPLITS[split]
    train, test = _read(cfg, split, "train", cfg.n_train), _read(cfg, split, "test", cfg.n_eval)
    new_tr, new_te = spec.is_new(train), spec.is_new(test)
    train_idx = [_cap(torch.nonzero(m).flatten(), cfg.n_train, t)
                 for t, m in enumerate((~new_tr, new_tr))]
    test_idx = [torch.nonzero(m).flatten()[:cfg.n_eval] for m in (~new_te, new_te)]
    if min(len(i) for i in (*train_idx, *test_idx)) < 2:
        raise ValueError(f"split {split!r}: a task has fewer than 2 images")
    both = torch.cat(train_idx)
    source = (f"{spec.label}: task 0 {len(train_idx[0])} / task 1 {len(train_idx[1])} "
              f"training images, {len(test_idx[0])} / {len(test_idx[1])} test images; train: "
              f"{train.source}; test: {test.source}")
    return ContinualData((train.images[train_idx[0]], train.images[train_idx[1]]),
                         (test.images[test_idx[0]], test.images[test_idx[1]]),
                         (train.images[both], train.labels[both]),
                         float(new_tr.float().mean()), source)


def split_data(cfg: KDContinualConfig, split: str) -> ContinualData:
    """Task 0 / task 1 training and test images of ``split`` (memoised per process)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return _split_data(cfg, split)


# --------------------------------------------------------------------------- step 1
def new_model(cfg: KDContinualConfig, split: str, seed: int) -> ConditionalLadderVAE:
    torch.manual_seed(seed)
    return ConditionalLadderVAE(32, cfg.width, channels_of(cfg, split), 2,
                                beta=cfg.beta).to(resolve_device(cfg.device))


class _Given(torch.nn.Module):
    """The conditional VAE with its condition fixed: the interface of ``fit_elbo``."""

    def __init__(self, model: ConditionalLadderVAE, condition: int) -> None:
        super().__init__()
        self.model, self.condition = model, condition

    def neg_elbo(self, x: Tensor, kl_weight: float = 1.0) -> LadderELBO:
        cond = torch.full((len(x),), self.condition, dtype=torch.long, device=x.device)
        return self.model.neg_elbo(x, cond, kl_weight)


def step1_params(cfg: KDContinualConfig, split: str, seed: int) -> dict[str, Any]:
    keys = ("channels", "n_train", "width", "task0_epochs", "warmup_fraction", "batch", "lr",
            "weight_decay", "beta")
    return {"split": split, "seed": seed, **{k: getattr(cfg, k) for k in keys}}


def step1(cfg: KDContinualConfig, split: str, seed: int
          ) -> tuple[ConditionalLadderVAE, dict[str, Any]]:
    """M_old: trained on task 0 with condition 0 (or loaded from the cache), in eval mode."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        data = split_data(cfg, split)
        model = new_model(cfg, split, seed)
        losses = fit_elbo(_Given(model, 0), data.train[0], epochs=cfg.task0_epochs,
                          batch=cfg.batch, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          warmup_fraction=cfg.warmup_fraction, seed=seed, desc="step 1")
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": data.source, "parameters": num_parameters(model),
                "arrays": {"loss": losses, **state_arrays(model)}}

    record = cached_call(GROUP, f"step1-{split}-s{seed}", step1_params(cfg, split, seed),
                         compute)
    model = new_model(cfg, split, seed)
    load_state_arrays(model, record["arrays"])
    return model.eval(), record


# --------------------------------------------------------------------------- step 2
def _conditions(n: int, value: int, like: Tensor) -> Tensor:
    return torch.full((n,), value, dtype=torch.long, device=like.device)


def preserve_loss(method: str, cfg: KDContinualConfig) -> Callable[..., Tensor]:
    """L_pre(teacher, student, noise) of ``method``, on condition 0 (module docstring)."""
    def ours(teacher: Any, student: Any, noise: dict[str, Tensor]) -> Tensor:
        old = _conditions(len(noise["z5"]), 0, noise["z5"])
        return target_free_loss(teacher, student, noise, old, lam=cfg.lam,
                                latent_measure="w2", latent_reduction="mean").loss

    def local(teacher: Any, student: Any, noise: dict[str, Tensor]) -> Tensor:
        return local_distillation_loss(teacher, student, noise,
                                       _conditions(len(noise["z5"]), 0, noise["z5"]))

    def lgm(teacher: Any, student: Any, noise: dict[str, Tensor]) -> Tensor:
        old = _conditions(len(noise["z5"]), 0, noise["z5"])
        with torch.no_grad():
            x_hat = teacher.decode_mean(old, noise).clamp(0.0, 1.0)
        return student.neg_elbo(x_hat, old).loss.mean()

    def curl(teacher: Any, student: Any, noise: dict[str, Tensor]) -> Tensor:
        old = torch.arange(len(noise["z5"]), device=noise["z5"].device) % teacher.num_active
        with torch.no_grad():
            x_hat = teacher.vae.decode_mean(old, noise).clamp(0.0, 1.0)
        return student.neg_elbo(x_hat).mean()

    fns = {"ours": ours, "local": local, "lgm": lgm, "curl": curl}
    if method not in fns:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return fns[method]


def new_task_loss(student: Any, x: Tensor) -> Tensor:
    """L_new: the ELBO of the new data with condition 1 (CURL: component 1, plus its
    cross-entropy -log q(y|x))."""
    new = _conditions(len(x), 1, x)
    if isinstance(student, CURL):
        return student.supervised_loss(x, new).mean()
    return student.neg_elbo(x, new).loss.mean()


def learners(method: str, cfg: KDContinualConfig, old: ConditionalLadderVAE, new_x: Tensor,
             seed: int) -> tuple[Any, Any]:
    """(teacher, student) of step 2: frozen copy and trainable copy of M_old (CURL: wrapped
    in its mixture, the student expanded by one component)."""
    if method != "curl":
        return frozen_copy(old), copy.deepcopy(old)
    torch.manual_seed(10_000 + seed)
    snapshot = CURL(copy.deepcopy(old), cfg.curl_width).to(new_x.device)
    student = copy.deepcopy(snapshot)
    student.expand(new_x[:cfg.batch])
    return frozen_copy(snapshot), student


def step2(method: str, cfg: KDContinualConfig, old: ConditionalLadderVAE, data: ContinualData,
          seed: int) -> tuple[ConditionalLadderVAE, np.ndarray]:
    """Train the student of ``method`` on (1 - p) L_pre + p L_new; returns its conditional
    VAE (eval mode) and the per-step losses."""
    new_x = data.train[1]
    teacher, student = learners(method, cfg, old, new_x, seed)
    pre, p = preserve_loss(method, cfg), data.rate

    def loss_fn(t: Any, s: Any, noise: dict[str, Tensor], x: Tensor | None) -> Tensor:
        assert x is not None
        return (1 - p) * pre(t, s, noise) + p * new_task_loss(s, x)

    def inputs(n: int, g: torch.Generator | None) -> Tensor:
        return new_x[torch.randint(len(new_x), (n,), generator=g).to(new_x.device)]

    steps = cfg.task1_epochs * math.ceil(len(new_x) / cfg.batch)
    history = distill(teacher, student, steps=steps, batch=cfg.batch, lr=cfg.lr,
                      weight_decay=cfg.weight_decay, loss_fn=loss_fn, inputs=inputs,
                      generator=torch.Generator().manual_seed(20_000 + seed),
                      device=resolve_device(cfg.device), desc=f"step 2 {method}")
    vae = student.vae if isinstance(student, CURL) else student
    return vae.eval(), history.arrays()["loss"]


# --------------------------------------------------------------------------- evaluation
def extractor(cfg: KDContinualConfig, split: str) -> FeatureExtractor:
    """Inception-v3 features from a local weights file, else a classifier trained on the
    split's training images (both tasks; class labels, CelebA: 2 Male + Smiling)."""
    device = resolve_device(cfg.device)
    if cfg.inception_weights:
        return InceptionFeatures(cfg.inception_weights, device)
    images, labels = split_data(cfg, split).classifier
    model = load_or_train_classifier(f"kd-continual-{split}-{images.shape[1]}ch", images,
                                     labels, cache_dir=cache_root() / "classifiers",
                                     epochs=cfg.classifier_epochs, device=device)
    return ClassifierFeatures(model, f"classifier trained on the {split} split's training "
                              f"images ({cfg.classifier_epochs} epoch(s), 512-d features)")


@dataclass
class Reference:
    """Test features per task, the shared evaluation noise and the extractor."""

    extractor: FeatureExtractor
    real: tuple[Tensor, Tensor]
    noise: dict[str, Tensor]


_REFERENCES: dict[str, Reference] = {}


def reference(cfg: KDContinualConfig, split: str, model: ConditionalLadderVAE) -> Reference:
    key = repr((split, cfg.n_train, cfg.n_eval, cfg.channels, cfg.classifier_epochs,
                cfg.inception_weights, cfg.data_root, cfg.device))
    if key not in _REFERENCES:
        feats, data = extractor(cfg, split), split_data(cfg, split)
        n = min(len(t) for t in data.test)
        noise = model.sample_noise(n, torch.Generator().manual_seed(EVAL_NOISE_SEED))
        _REFERENCES[key] = Reference(feats, (feats(data.test[0]), feats(data.test[1])), noise)
    return _REFERENCES[key]


def generate(model: ConditionalLadderVAE, condition: int, noise: dict[str, Tensor]) -> Tensor:
    """Decoder means with ``condition`` on the shared evaluation noise, clipped to [0, 1]."""
    device = model.top_prior.device
    noise = {k: v.to(device) for k, v in noise.items()}
    model.eval()
    with torch.no_grad():
        cond = _conditions(len(noise["z5"]), condition, noise["z5"])
        return model.decode_mean(cond, noise).clamp(0.0, 1.0)


def evaluate(model: ConditionalLadderVAE, ref: Reference, tasks: tuple[int, ...] = (0, 1)
             ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """"old" (condition 0 vs task-0 test) and "new" (condition 1 vs task-1 test) metrics,
    and 16 samples of each as uint8."""
    metrics, grids = {}, {}
    for t in tasks:
        name = ("old", "new")[t]
        samples = generate(model, t, ref.noise)
        metrics[name] = two_sample_metrics(ref.real[t], ref.extractor(samples))
        grids[f"samples_{name}"] = (samples[:16] * 255).round().to(torch.uint8).cpu().numpy()
    return metrics, grids


# --------------------------------------------------------------------------- runs
def eval_params(cfg: KDContinualConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in ("n_eval", "classifier_epochs", "inception_weights")}


def before_result(cfg: KDContinualConfig, split: str, seed: int) -> dict[str, Any]:
    """M_old's "Old" metrics (the reference for the change after step 2), cached."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        model, record = step1(cfg, split, seed)
        metrics, grids = evaluate(model, reference(cfg, split, model), tasks=(0,))
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": record["data"], "extractor": reference(cfg, split, model).extractor.name,
                "parameters": record["parameters"], "metrics": metrics, "arrays": grids}

    params = {"step1": step1_params(cfg, split, seed), "eval": eval_params(cfg)}
    return cached_call(GROUP, f"before-{split}-s{seed}", params, compute)


def method_result(cfg: KDContinualConfig, split: str, method: str, seed: int) -> dict[str, Any]:
    """One method's Old/New metrics after step 2 on ``split`` for ``seed``, cached."""
    def compute(params: dict[str, Any]) -> dict[str, Any]:
        started = time.time()
        old, record = step1(cfg, split, seed)
        data = split_data(cfg, split)
        model, losses = step2(method, cfg, old, data, seed)
        ref = reference(cfg, split, old)
        metrics, grids = evaluate(model, ref)
        return {"provenance": provenance(resolve_device(cfg.device), started),
                "data": record["data"], "extractor": ref.extractor.name, "rate": data.rate,
                "metrics": metrics, "arrays": {"loss": losses, **grids}}

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    params = {"step1": step1_params(cfg, split, seed), "eval": eval_params(cfg),
              "method": method, "task1_epochs": cfg.task1_epochs, "lr": cfg.lr,
              "lam": cfg.lam if method == "ours" else None,
              "curl_width": cfg.curl_width if method == "curl" else None}
    return cached_call(GROUP, f"{method}-{split}-s{seed}", params, compute)


def run_table2(cfg: KDContinualConfig) -> dict[str, Any]:
    """Table 2: per split, M_old's "Old" metrics and each method's Old/New, per seed:
    ``{"config", "splits": {split: {"before": [...], "methods": {m: [...]}}}}``."""
    out: dict[str, Any] = {"config": cfg.to_dict(), "splits": {}}
    with threads(cfg.cpu_threads):
        for split in cfg.splits:
            out["splits"][split] = {
                "label": SPLITS[split].label,
                "before": [before_result(cfg, split, s) for s in cfg.seeds],
                "methods": {m: [method_result(cfg, split, m, s) for s in cfg.seeds]
                            for m in cfg.methods}}
    return out


def table2_runs(cfg: KDContinualConfig) -> dict[str, Any]:
    """The ``kd_table2`` experiment's run: :func:`run_table2` as ``{"config", "runs"}``, every
    cached result once (M_old's, then each method's; each names its split and seed)."""
    table = run_table2(cfg)
    runs = [r for split in table["splits"].values()
            for r in (*split["before"], *(r for rs in split["methods"].values() for r in rs))]
    return {"config": table["config"], "runs": runs}


def threads(n: int | None) -> AbstractContextManager[None]:
    """``n`` torch CPU threads for a block (restored after); None: the thread rule."""
    return cpu_threads(n or thread_count())


def metric_values(results: list[dict[str, Any]], task: str, metric: str) -> np.ndarray:
    """One metric over seeds (``task`` "old" or "new")."""
    return np.array([r["metrics"][task][metric] for r in results], dtype=float)


# --------------------------------------------------------------------------- the table
TABLE_METRICS = ("fid", "emd", "mmd", "1nn")

# Table 2 of the paper (CelebA): split -> method -> metric -> (Old, change, New).
PAPER_TABLE2: dict[str, dict[str, dict[str, tuple[float, float, float]]]] = {
    "male": {
        "ours": {"fid": (4.39, -0.25, 4.19), "emd": (7.76, -0.13, 7.58),
                 "mmd": (0.23, -0.02, 0.21), "1nn": (0.89, -0.01, 0.84)},
        "local": {"fid": (4.73, 0.09, 4.25), "emd": (7.93, 0.03, 7.58),
                  "mmd": (0.25, 0.01, 0.21), "1nn": (0.93, 0.02, 0.86)},
        "curl": {"fid": (5.57, 0.99, 4.18), "emd": (8.37, 0.53, 7.60),
                 "mmd": (0.32, 0.08, 0.21), "1nn": (0.96, 0.05, 0.84)},
        "lgm": {"fid": (5.56, 0.92, 4.12), "emd": (8.37, 0.48, 7.51),
                "mmd": (0.32, 0.07, 0.20), "1nn": (0.96, 0.06, 0.83)}},
    "beard": {
        "ours": {"fid": (4.27, -0.15, 4.05), "emd": (7.68, -0.07, 7.42),
                 "mmd": (0.21, -0.01, 0.20), "1nn": (0.89, 0.01, 0.85)},
        "local": {"fid": (4.63, 0.21, 4.42), "emd": (7.86, 0.11, 7.56),
                  "mmd": (0.24, 0.02, 0.23), "1nn": (0.90, 0.03, 0.90)},
        "curl": {"fid": (5.24, 0.81, 4.14), "emd": (8.16, 0.40, 7.44),
                 "mmd": (0.29, 0.07, 0.21), "1nn": (0.93, 0.06, 0.86)},
        "lgm": {"fid": (5.19, 0.77, 4.12), "emd": (8.13, 0.38, 7.44),
                "mmd": (0.29, 0.06, 0.20), "1nn": (0.93, 0.06, 0.88)}},
    "eyeglasses": {
        "ours": {"fid": (4.43, -0.02, 4.50), "emd": (7.75, -0.03, 7.85),
                 "mmd": (0.23, -0.00, 0.24), "1nn": (0.87, -0.01, 0.88)},
        "local": {"fid": (6.51, 2.06, 4.56), "emd": (8.89, 1.11, 7.79),
                  "mmd": (0.37, 0.14, 0.24), "1nn": (0.98, 0.09, 0.92)},
        "curl": {"fid": (5.31, 0.85, 4.76), "emd": (8.22, 0.44, 7.98),
                 "mmd": (0.30, 0.07, 0.25), "1nn": (0.93, 0.04, 0.90)},
        "lgm": {"fid": (5.28, 0.83, 4.73), "emd": (8.21, 0.43, 7.96),
                "mmd": (0.29, 0.06, 0.25), "1nn": (0.93, 0.05, 0.90)}},
}
PAPER_ROW_OF = {v: k for k, v in STAND_INS.items()}  # a stand-in split -> its attribute


def summary(split_result: dict[str, Any]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """method -> metric -> (Old, change of Old since M_old, New), means over seeds (the
    change is taken seed by seed, against that seed's M_old)."""
    before = {m: metric_values(split_result["before"], "old", m) for m in TABLE_METRICS}
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for method, results in split_result["methods"].items():
        out[method] = {}
        for m in TABLE_METRICS:
            old, new = metric_values(results, "old", m), metric_values(results, "new", m)
            out[method][m] = (float(old.mean()), float((old - before[m]).mean()),
                              float(new.mean()))
    return out


# --------------------------------------------------------------------------- the record
PAPER: dict[str, Any] = {"table2": PAPER_TABLE2, "splits": PAPER_SPLITS, "lam": 0.1}
TABLE2 = Experiment(
    name="kd_table2", paper="kd",
    title="Table 2: KD-based continual learning of a conditional ladder VAE (ours, local, "
          "LGM, CURL)",
    config=KDContinualConfig, presets=PRESETS, run=table2_runs, pages=("kd_table2",),
    paper_seeds=PAPER_SEEDS, paper_values=PAPER, paper_gpu_s=1800.0,
    paper_cpu_s=(100_000.0, "guess"))
EXPERIMENTS = [TABLE2]


def fingerprint() -> list[float]:
    """Numerics of this module's path, float64 on one CPU thread: step 1 (:func:`fit_elbo` on
    condition 0, 2 steps) of a width-1 conditional ladder, step 2 of ours and of CURL
    (:func:`step2`, 2 steps each, the new data drawn by the loop), and each model's -ELBO of
    the images under condition 0 and 1."""
    with float64_cpu():
        x = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        cfg = kd_continual_config("smoke", width=1, batch=4, task1_epochs=1, curl_width=2)
        torch.manual_seed(1)
        old = ConditionalLadderVAE(32, 1, 1, 2)
        losses = fit_elbo(_Given(old, 0), x, epochs=2, batch=4, lr=1e-3, weight_decay=1e-4,
                          warmup_fraction=0.5, seed=2, desc="fingerprint")
        data = ContinualData((x, x), (x, x), (x, torch.zeros(6, dtype=torch.long)), 0.3, "")
        out = [float(v) for v in losses]
        for method in ("ours", "curl"):
            model, step_losses = step2(method, cfg, old, data, 0)
            with torch.no_grad():
                out += [float(v) for v in step_losses] + [
                    float(model.neg_elbo(x, _conditions(len(x), c, x)).loss.mean())
                    for c in (0, 1)]
    return out
