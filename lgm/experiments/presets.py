"""Presets: how much compute one run gets.

- ``smoke``: seconds on a CPU; for the tests and for checking that a notebook runs.
- ``quick``: a few minutes per figure on a laptop CPU; small subsets, few epochs. Its numbers
  show the trends, not the paper's values.
- ``paper``: the paper's settings (all data, early stopping with patience, Frechet distance on
  4000 samples); meant for a GPU.
"""

from __future__ import annotations

from typing import Any

from lgm.experiments.config import PRESETS, ConfigError, RunConfig

PRESET_VALUES: dict[str, dict[str, Any]] = {
    "smoke": dict(max_per_task=64, max_epochs=2, patience=1, batch_size=32, num_tasks=2,
                  frechet_samples=64, classifier_epochs=1, fisher_samples=32),
    "quick": dict(max_per_task=500, max_epochs=6, patience=2, batch_size=64,
                  frechet_samples=500, classifier_epochs=2, fisher_samples=300),
    "paper": dict(max_epochs=200, patience=50, min_epochs=20, batch_size=128,
                  frechet_samples=4000, classifier_epochs=10, fisher_samples=10_000),
}


def make_config(preset: str = "quick", **overrides: Any) -> RunConfig:
    """A RunConfig from a preset, with any field overridden (unknown fields are an error)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    names = set(RunConfig.model_fields)
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(names))}")
    values = {**PRESET_VALUES[preset], **overrides, "preset": preset}
    return RunConfig(**values)
