"""Run configuration: one (experiment, method, seed) with every knob, validated up front.

Bad input fails here, before any data is read or any step is taken.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from lgm.data.tasks import EXPERIMENTS  # one list, owned by the data layer

METHODS = ("lifelong", "vanilla", "full", "upto", "ewc")
ARCHS = ("dense", "conv")
DIRECTIONS = ("reverse", "forward")
PRESETS = ("smoke", "quick", "paper")


@dataclass
class RunConfig:
    """Everything that determines a run's result (and so its cache key)."""

    experiment: str = "fashion"
    method: str = "lifelong"
    seed: int = 0
    preset: str = "quick"
    arch: str = "dense"
    num_tasks: int | None = None          # None: all the experiment's tasks
    class_order: list[int] | None = None  # split experiments: which class is task t
    continuous: int = 7                   # dim z_c: the table's "14" counts mean + log-variance
    discrete: int | None = None           # J; None: 1 for lifelong (grows), num_tasks otherwise
    batch_size: int = 128
    lr: float = 1e-3
    max_epochs: int = 200
    min_epochs: int = 1                   # burn-in before early stopping may trigger
    patience: int = 50                    # epochs without validation improvement
    val_fraction: float = 0.1
    max_per_task: int | None = None       # subsample each task (quick presets)
    binarize: bool = False                # threshold images at 0.5 (reference: FashionMNIST)
    info_gain_weight: float = 0.01        # lambda of eq. 6
    consistency_weight: float = 1.0       # weight of the consistency KL (reference gamma 1.0)
    consistency_direction: str = "reverse"
    pad_mass: float = 1e-4                # mass given to a teacher's missing codes
    likelihood_weight: float = 0.0        # > 0: the with-LL ablation (appendix 7.3)
    ewc_gamma: float = 100.0
    fisher_samples: int = 10_000
    ewc_replay: bool = True               # EWC keeps the student-teacher replay (reference)
    tau0: float = 1.0                     # Gumbel temperature schedule
    tau_rate: float = 3e-5
    tau_min: float = 0.5
    frechet_samples: int = 4000
    classifier_epochs: int = 5
    iw_samples: int = 0                   # > 0: also report the importance-weighted bound
    visuals: int = 0                      # > 0: keep n images per code/task (metrics.visuals)
    device: str = "cpu"
    data_root: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def initial_discrete(self) -> int:
        """J at the first task: 1 for lifelong (grows by one per task), else one per task."""
        if self.discrete is not None:
            return self.discrete
        return 1 if self.method == "lifelong" else (self.num_tasks or 10)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Hash of every field that changes the result (not the device or data root)."""
        d = self.to_dict()
        for k in ("device", "data_root"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")


def _typed(cfg: RunConfig, name: str, kind: type | tuple[type, ...]) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) and kind is not bool and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    ):
        raise TypeError(f"{name} must be {kind}, got bool {value!r}")
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__} {value!r}")


def _at_least(name: str, value: float, low: float, *, strict: bool = False) -> None:
    bad = value <= low if strict else value < low
    if bad or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")


INT_FIELDS = ("seed", "continuous", "batch_size", "max_epochs", "min_epochs", "patience",
              "fisher_samples", "frechet_samples", "classifier_epochs", "iw_samples",
              "visuals")
FLOAT_FIELDS = ("lr", "val_fraction", "info_gain_weight", "consistency_weight", "pad_mass",
                "likelihood_weight", "ewc_gamma", "tau0", "tau_rate", "tau_min")


def validate(cfg: RunConfig) -> None:
    """Raise TypeError/ValueError naming the bad field; called by RunConfig.__init__."""
    _choice("experiment", cfg.experiment, EXPERIMENTS)
    _choice("method", cfg.method, METHODS)
    _choice("arch", cfg.arch, ARCHS)
    _choice("consistency_direction", cfg.consistency_direction, DIRECTIONS)
    _choice("preset", cfg.preset, (*PRESETS, "custom"))
    if not isinstance(cfg.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", cfg.device):
        raise ValueError(f"unknown device {cfg.device!r}; use cpu, cuda, cuda:N or auto")
    for name in INT_FIELDS:
        _typed(cfg, name, int)
    for name in FLOAT_FIELDS:
        _typed(cfg, name, (int, float))
    _at_least("seed", cfg.seed, 0)
    for name in ("continuous", "batch_size", "max_epochs", "min_epochs", "patience"):
        _at_least(name, getattr(cfg, name), 1)
    for name in ("fisher_samples", "iw_samples", "classifier_epochs", "visuals"):
        _at_least(name, getattr(cfg, name), 0)
    _at_least("frechet_samples", cfg.frechet_samples, 2)
    _at_least("lr", cfg.lr, 0.0, strict=True)
    for name in ("info_gain_weight", "consistency_weight", "likelihood_weight", "ewc_gamma",
                 "tau_rate"):
        _at_least(name, getattr(cfg, name), 0.0)
    _at_least("tau0", cfg.tau0, 0.0, strict=True)
    _at_least("tau_min", cfg.tau_min, 0.0, strict=True)
    if not 0.0 < cfg.val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {cfg.val_fraction!r}")
    if not 0.0 < cfg.pad_mass < 1.0:
        raise ValueError(f"pad_mass must be in (0, 1), got {cfg.pad_mass!r}")
    if cfg.num_tasks is not None:
        _typed(cfg, "num_tasks", int)
        _at_least("num_tasks", cfg.num_tasks, 1)
    if cfg.discrete is not None:
        _typed(cfg, "discrete", int)
        _at_least("discrete", cfg.discrete, 1)
    if cfg.max_per_task is not None:
        _typed(cfg, "max_per_task", int)
        _at_least("max_per_task", cfg.max_per_task, 2)
