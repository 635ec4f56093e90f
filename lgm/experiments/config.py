"""The lifelong paper's run configuration, declared once (pydantic), validated up front.

:class:`LifelongKnobs` holds every knob of a lifelong run with its allowed range;
:class:`RunConfig` is one (experiment, method, seed) run, the unit that the cache stores and the
stacked trainer groups by seed; :class:`LifelongConfig` is the experiment-level config of the
command line and the book (several seeds, :mod:`lgm.experiments.spec`). Bad input fails here,
before any data is read or any step is taken, with a message naming the field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from lgm.data.tasks import EXPERIMENTS  # one list, owned by the data layer
from lgm.experiments.spec import (
    DEVICE_PATTERN,
    PRESETS,
    ConfigError,
    ExperimentConfig,
    Preset,
    describe,
)
from lgm.training.settings import ObjectiveWeights, Schedule

METHODS = ("lifelong", "vanilla", "full", "upto", "ewc")
ARCHS = ("dense", "conv")
DIRECTIONS = ("reverse", "forward")

__all__ = ["ARCHS", "DIRECTIONS", "EXPERIMENTS", "METHODS", "PRESETS", "ConfigError",
           "LifelongConfig", "LifelongKnobs", "RunConfig"]

class LifelongKnobs(BaseModel):
    """Everything that determines a lifelong run's result besides its seed (and so its key)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    experiment: Literal[EXPERIMENTS] = "fashion"  # type: ignore[valid-type]
    method: Literal[METHODS] = "lifelong"  # type: ignore[valid-type]
    arch: Literal[ARCHS] = "dense"  # type: ignore[valid-type]
    num_tasks: PositiveInt | None = None          # None: all the experiment's tasks
    class_order: tuple[NonNegativeInt, ...] | None = None  # split experiments: class of task t
    continuous: PositiveInt = 7                   # dim z_c: the table's "14" = mean + log-var
    discrete: PositiveInt | None = None           # J; None: 1 for lifelong (grows), else tasks
    batch_size: PositiveInt = 128
    lr: float = Field(1e-3, gt=0.0, allow_inf_nan=False)
    max_epochs: PositiveInt = 200
    min_epochs: PositiveInt = 1                   # burn-in before early stopping may trigger
    patience: PositiveInt = 50                    # epochs without validation improvement
    min_delta: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False)  # relative; 0: any
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0, allow_inf_nan=False)
    max_per_task: int | None = Field(None, ge=2)  # subsample each task (quick presets)
    binarize: bool = False                        # threshold images at 0.5
    info_gain_weight: float = Field(0.01, ge=0.0, allow_inf_nan=False)  # lambda of eq. 6
    consistency_weight: float = Field(1.0, ge=0.0, allow_inf_nan=False)  # reference gamma 1.0
    consistency_direction: Literal[DIRECTIONS] = "reverse"  # type: ignore[valid-type]
    pad_mass: float = Field(1e-4, gt=0.0, lt=1.0, allow_inf_nan=False)  # teacher's missing codes
    likelihood_weight: float = Field(0.0, ge=0.0, allow_inf_nan=False)  # with-LL, app. 7.3
    ewc_gamma: float = Field(100.0, ge=0.0, allow_inf_nan=False)
    fisher_samples: NonNegativeInt = 10_000
    ewc_replay: bool = True                       # EWC keeps the student-teacher replay
    tau0: float = Field(1.0, gt=0.0, allow_inf_nan=False)  # Gumbel temperature schedule
    tau_rate: float = Field(3e-5, ge=0.0, allow_inf_nan=False)
    tau_min: float = Field(0.5, gt=0.0, allow_inf_nan=False)
    frechet_samples: int = Field(4000, ge=2)
    classifier_epochs: NonNegativeInt = 5
    iw_samples: NonNegativeInt = 0                # > 0: also the importance-weighted bound
    visuals: NonNegativeInt = 0                   # > 0: keep n images per code/task

    @model_validator(mode="after")
    def _burn_in_fits(self) -> LifelongKnobs:
        if self.min_epochs > self.max_epochs:
            raise ValueError(f"min_epochs ({self.min_epochs}) must be <= max_epochs "
                             f"({self.max_epochs})")
        return self

    @property
    def initial_discrete(self) -> int:
        """J at the first task: 1 for lifelong (grows by one per task), else one per task."""
        if self.discrete is not None:
            return self.discrete
        return 1 if self.method == "lifelong" else (self.num_tasks or 10)

    @property
    def weights(self) -> ObjectiveWeights:
        """The objective's weights (eq. 6 / section 5): all that the loss needs to know."""
        return ObjectiveWeights(
            method=self.method, consistency_weight=self.consistency_weight,
            consistency_direction=self.consistency_direction, pad_mass=self.pad_mass,
            info_gain_weight=self.info_gain_weight, likelihood_weight=self.likelihood_weight,
            ewc_gamma=self.ewc_gamma, ewc_replay=self.ewc_replay)

    @property
    def schedule(self) -> Schedule:
        """Optimiser, batch, early stopping and temperature: all that the loop needs."""
        return Schedule(lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
                        min_epochs=self.min_epochs, patience=self.patience,
                        min_delta=self.min_delta, tau0=self.tau0,
                        tau_rate=self.tau_rate, tau_min=self.tau_min)


class RunConfig(LifelongKnobs):
    """One (experiment, method, seed) run: the unit of the result cache."""

    seed: NonNegativeInt = 0
    preset: Preset = "quick"
    device: str = Field("cpu", pattern=DEVICE_PATTERN)
    data_root: str | None = None

    def __init__(self, **values: Any) -> None:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise ConfigError(describe(err)) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def key(self) -> str:
        """Hash of every field that changes the result (not the device or data root)."""
        d = self.to_dict()
        for k in ("device", "data_root"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class LifelongConfig(ExperimentConfig, LifelongKnobs):
    """A lifelong experiment for the command line and the book: the knobs and several seeds."""

    def runs(self) -> list[RunConfig]:
        """One :class:`RunConfig` per seed (trained stacked by the cache)."""
        d = self.model_dump()
        seeds = d.pop("seeds")
        return [RunConfig(**d, seed=s) for s in seeds]
