"""Every experiment of both papers, by name (``python -m lgm experiments`` lists them).

The lifelong paper's experiments are its task sequences (section 5, appendix 7.5 and 7.7); the
method (lifelong, vanilla, full, upto, EWC) and every other knob is a config field
(:class:`lgm.experiments.config.LifelongConfig`). The KD paper's experiments are declared by
their modules (``EXPERIMENTS`` in ``lgm.experiments.kd_*``). Each is an
:class:`lgm.experiments.spec.Experiment`: typed config, presets as data, ``run`` through the
result cache, the paper's values and the book pages that show it.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from lgm.data.tasks import EXPERIMENTS as TASK_SEQUENCES
from lgm.experiments.cache import cached_runs
from lgm.experiments.config import LifelongConfig
from lgm.experiments.presets import PRESET_VALUES
from lgm.experiments.spec import ConfigError, Experiment

KD_MODULES = ("kd_toy", "kd_compression", "kd_hm", "kd_vrnn", "kd_continual", "kd_bridge")

LIFELONG_TITLES = {
    "fashion": "split Fashion-MNIST, one class per task (section 5.1, fig. 3)",
    "mnist": "split MNIST, one digit per task (appendix 7.7, fig. 1b)",
    "permuted": "permuted MNIST (section 5.2, fig. 4)",
    "svhn_mnist": "SVHN then MNIST (section 5.3, fig. 5)",
    "fashion_then_mnist": "Fashion-MNIST then MNIST (fig. 5's stand-in without SVHN)",
    "fashion_mnist20": "Fashion-MNIST classes then MNIST digits (appendix 7.5)",
}
LIFELONG_PAGES = {
    "fashion": ("fig3", "fig6", "fig9", "app73", "app76"),
    "mnist": ("fig1b", "app77"),
    "permuted": ("fig4",),
    "svhn_mnist": ("fig5",),
    "fashion_then_mnist": ("fig5",),
    "fashion_mnist20": ("app75",),
}


def run_lifelong(cfg: LifelongConfig) -> dict[str, Any]:
    """The runs of ``cfg`` (one per seed, trained stacked) through the result cache."""
    return {"experiment": cfg.experiment, "runs": cached_runs(cfg.runs())}


LIFELONG = [
    Experiment(name=name, paper="lifelong", title=LIFELONG_TITLES[name], config=LifelongConfig,
               presets=PRESET_VALUES, run=run_lifelong, pages=LIFELONG_PAGES[name],
               fixed={"experiment": name})
    for name in TASK_SEQUENCES
]


@functools.cache
def experiments() -> dict[str, Experiment]:
    """Name -> experiment, the lifelong paper's first, then the KD paper's."""
    found = {e.name: e for e in LIFELONG}
    for module in KD_MODULES:
        for exp in importlib.import_module(f"lgm.experiments.{module}").EXPERIMENTS:
            if exp.name in found:
                raise RuntimeError(f"two experiments are named {exp.name!r}")
            found[exp.name] = exp
    return found


def get(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name lists the known ones."""
    lifelong = {e.name: e for e in LIFELONG}
    if name in lifelong:  # without importing the KD paper's modules
        return lifelong[name]
    known = experiments()
    if name not in known:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(known)} "
                          "(python -m lgm experiments)")
    return known[name]


def by_page() -> dict[str, list[Experiment]]:
    """Book page -> the experiments it shows."""
    pages: dict[str, list[Experiment]] = {}
    for exp in experiments().values():
        for page in exp.pages:
            pages.setdefault(page, []).append(exp)
    return pages
