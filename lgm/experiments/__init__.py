"""Experiment configurations, presets and the result cache."""

from lgm.experiments.cache import cached_run, cached_runs, code_version, result_key
from lgm.experiments.config import ARCHS, EXPERIMENTS, METHODS, PRESETS, RunConfig
from lgm.experiments.presets import PRESET_VALUES, make_config

__all__ = ["ARCHS", "EXPERIMENTS", "METHODS", "PRESETS", "PRESET_VALUES", "RunConfig",
           "cached_run", "cached_runs", "code_version", "make_config", "result_key"]
