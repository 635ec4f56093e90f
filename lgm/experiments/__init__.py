"""Experiment configurations and presets."""

from lgm.experiments.config import ARCHS, EXPERIMENTS, METHODS, PRESETS, RunConfig
from lgm.experiments.presets import PRESET_VALUES, make_config

__all__ = ["ARCHS", "EXPERIMENTS", "METHODS", "PRESETS", "PRESET_VALUES", "RunConfig",
           "make_config"]
