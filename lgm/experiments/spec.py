"""One shape for every experiment of both papers (Flax-examples style).

An experiment is a typed config declared once (:class:`ExperimentConfig` subclass, validated by
pydantic: a bad value names its field, the value and the allowed range), presets as data,
``run(config) -> result`` through the result cache, the paper's reported values as data, and the
book pages that show it. :func:`make_config` applies the one seed rule:

- explicit seeds mean exactly what they say (``seeds=[0]`` is seed 0 alone, at any preset);
- otherwise the paper preset uses the experiment's ``paper_seeds`` (the paper's repetitions) and
  the other presets use their own ``seeds`` entry (default ``(0,)``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    field_validator,
    model_validator,
)

from lgm.errors import LgmError

PRESETS = ("smoke", "quick", "paper")
Preset = Literal["smoke", "quick", "paper", "custom"]
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class TrainingForbiddenError(LgmError, RuntimeError):
    """Something would be computed where only stored results may be read (``LGM_NO_TRAIN``:
    a book page shown at the paper preset from committed results, on a CPU)."""


def may_train(preset: str | None = None) -> bool:
    """Whether a run at ``preset`` may be computed here: ``LGM_NO_TRAIN=1`` forbids every
    computation, ``LGM_NO_TRAIN=paper`` only the paper preset's (a book page that shows the
    paper-scale results that exist may still train its quick companion); an unknown preset
    counts as paper."""
    flag = os.environ.get("LGM_NO_TRAIN", "0")
    return flag == "0" or (flag == "paper" and preset not in (None, "paper"))


def check_may_train(what: str, preset: str | None = None) -> None:
    """Raise :class:`TrainingForbiddenError` when ``LGM_NO_TRAIN`` forbids computing ``what``
    (a run at ``preset``)."""
    if not may_train(preset):
        raise TrainingForbiddenError(f"{what} is not in the result cache, and LGM_NO_TRAIN="
                                     f"{os.environ.get('LGM_NO_TRAIN')} forbids computing it "
                                     "here (run it with python -m lgm grid or make harvest and "
                                     "commit the result)")


class ConfigError(LgmError, ValueError):
    """A config value is out of range or unknown; the message names the field and the value."""


class ExperimentConfig(BaseModel):
    """Base of every experiment's config: frozen, unknown fields rejected, no silent coercion
    (``"12"`` is not 12, ``True`` is not 1, ``3.7`` is not 3)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    preset: Preset = "quick"
    seeds: tuple[NonNegativeInt, ...] = (0,)
    device: str = Field("cpu", pattern=DEVICE_PATTERN)
    data_root: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, values: Any) -> Any:
        """JSON, YAML and notebook parameters give lists where configs hold tuples."""
        if isinstance(values, dict):
            return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return values

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("seeds must not be empty")
        if len(set(v)) != len(v):
            raise ValueError(f"each seed at most once, got {list(v)}")
        return v

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def describe(err: ValidationError) -> str:
    """A pydantic error as one line per field: ``name: message (got value)``."""
    parts = []
    for e in err.errors():
        name = ".".join(str(p) for p in e["loc"]) or "config"
        got = e.get("input")
        got = "" if isinstance(got, dict) else f" (got {got!r})"
        parts.append(f"{name}: {e['msg']}{got}")
    return "; ".join(parts)


def build(cls: type[ExperimentConfig], values: dict[str, Any]) -> ExperimentConfig:
    """``cls(**values)``, a :class:`ConfigError` naming the culprit on bad input."""
    try:
        return cls(**values)
    except ValidationError as err:
        raise ConfigError(f"{cls.__name__}: {describe(err)}") from None


PAPER_SEEDS = (0, 1, 2, 3, 4)  # the papers' five runs, unless an experiment says otherwise


def default_seeds(preset: str, paper_seeds: Sequence[int] = PAPER_SEEDS,
                  own: Sequence[int] | None = None) -> tuple[int, ...]:
    """The seed rule when no seeds are given: a page's ``own`` default where it declares one,
    else the paper's seeds at the paper preset and seed 0 elsewhere."""
    if own is not None:
        return tuple(own)
    return tuple(paper_seeds) if preset == "paper" else (0,)


def make_config(exp: Any, preset: str = "quick", seeds: Sequence[int] | None = None,
                **overrides: Any) -> ExperimentConfig:
    """The config of ``exp`` (an :class:`lgm.experiments.experiment.Experiment`) at ``preset``
    with ``overrides``; the seed rule of the module docstring."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    for name in ("preset", "seed", *exp.fixed):
        if name in overrides:
            hint = " (use --seeds)" if name == "seed" else ""
            raise ConfigError(f"{name} cannot be overridden for {exp.name}{hint}")
    unknown = sorted(set(overrides) - set(exp.config.model_fields))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)} for {exp.name}; known: "
                          f"{', '.join(sorted(set(exp.config.model_fields) - set(exp.fixed)))}")
    values = {**exp.presets.get(preset, {}), **exp.fixed, **overrides, "preset": preset}
    if seeds is not None:
        values["seeds"] = tuple(seeds) if isinstance(seeds, list | tuple) else seeds
    elif preset == "paper" or "seeds" not in values:
        values["seeds"] = default_seeds(preset, exp.paper_seeds)
    return build(exp.config, values)
