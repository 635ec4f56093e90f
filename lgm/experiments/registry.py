"""Every experiment of both papers, by name (``python -m lgm experiments`` lists them).

The lifelong paper's experiments are its task sequences (section 5, appendix 7.5 and 7.7); the
method (lifelong, vanilla, full, upto, EWC) and every other knob is a config field
(:class:`lgm.experiments.config.LifelongConfig`), and each page's runs are declared here as the
overrides of its variants. The KD paper's experiments are declared by their modules
(``EXPERIMENTS`` in ``lgm.experiments.kd_*``). A module of experiments outside this package is
found through ``LGM_EXPERIMENTS`` (comma-separated module names, importable from ``sys.path``):
one module is all a new experiment needs. Each is an
:class:`lgm.experiments.experiment.Experiment`.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

from lgm.data.tasks import EXPERIMENTS as TASK_SEQUENCES
from lgm.experiments.cache import cached_runs
from lgm.experiments.config import LifelongConfig
from lgm.experiments.experiment import Experiment, StackedExperiment
from lgm.experiments.presets import PRESET_VALUES
from lgm.experiments.spec import ConfigError

KD_MODULES = ("kd_toy", "kd_compression", "kd_hm", "kd_vrnn", "kd_continual", "kd_bridge")
PLUGINS = "LGM_EXPERIMENTS"  # extra modules defining EXPERIMENTS

LIFELONG_TITLES = {
    "fashion": "split Fashion-MNIST, one class per task (section 5.1, fig. 3)",
    "mnist": "split MNIST, one digit per task (appendix 7.7, fig. 1b)",
    "permuted": "permuted MNIST (section 5.2, fig. 4)",
    "svhn_mnist": "SVHN then MNIST (section 5.3, fig. 5)",
    "fashion_then_mnist": "Fashion-MNIST then MNIST (fig. 5's stand-in without SVHN)",
    "fashion_mnist20": "Fashion-MNIST classes then MNIST digits (appendix 7.5)",
}
LIFELONG_DATASETS = {"fashion": ("fashion",), "mnist": ("mnist",), "permuted": ("mnist",),
                     "svhn_mnist": ("svhn", "mnist"), "fashion_then_mnist": ("fashion", "mnist"),
                     "fashion_mnist20": ("fashion", "mnist")}
FIG3 = ("lifelong", "ewc", "vanilla", "full", "upto")
# experiment -> page -> the overrides of each lifelong stack the page asks for
LIFELONG_VARIANTS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "fashion": {
        "fig3": [{"method": m, "visuals": 8} for m in FIG3]
        + [{"method": "ewc", "visuals": 8, "ewc_replay": False}],  # the paper's text?
        "fig6": [{"method": "lifelong", "visuals": 8}],
        "fig9": [{"method": "lifelong", "visuals": 8},
                 {"method": "lifelong", "visuals": 8, "consistency_direction": "forward"}],
        "app73": [{"method": "lifelong", "visuals": 8},
                  {"method": "lifelong", "visuals": 8, "likelihood_weight": 1.0}],
        "app76": [{"method": "ewc", "visuals": 0, "ewc_gamma": g}
                  for g in (1.0, 10.0, 100.0, 1000.0)]
        + [{"method": "lifelong", "visuals": 0, "info_gain_weight": lam}
           for lam in (0.0, 0.01, 0.1, 1.0)]},
    "mnist": {
        "fig1b": [{"method": "full", "continuous": 2, "discrete": j, "classifier_epochs": 0,
                   "visuals": 8} for j in (1, 10)],
        "app77": [{"method": m} for m in ("lifelong", "ewc")]},
    "permuted": {"fig4": [{"method": m} for m in FIG3]},
    "svhn_mnist": {"fig5": [{"method": "lifelong", "continuous": 2, "classifier_epochs": 0,
                             "visuals": 8}]},
    "fashion_then_mnist": {"fig5": []},  # runs fig. 5's variant when SVHN is not at hand
    "fashion_mnist20": {"app75": [{"method": m, "visuals": 0} for m in ("lifelong", "ewc")]},
}
# experiment -> page -> overrides of every variant at the quick preset only (budget cuts of the
# quick book; each page says so in its caveat)
QUICK_CUTS = {"mnist": {"fig1b": {"max_per_task": 200}},  # two runs within a minute of CPU
              "permuted": {"fig4": {"num_tasks": 3}},     # unpermuted, G1, G2
              "fashion": {"app76": {"num_tasks": 5}}}     # eight settings
# Fig. 9 reports ten trials; its quick page compares two seeds' spread
PAGE_SEEDS = {"fashion": {"fig9": {"paper": tuple(range(10)), "quick": (0, 1)}}}
# GPU seconds per 5-seed stack at the paper preset, measured (Fig. 3 on an H100, results/):
# lifelong 143, EWC 132, vanilla 155; the others scaled from these by data size
PAPER_GPU_S = {"fashion": 150.0, "mnist": 160.0, "permuted": 600.0, "svhn_mnist": 400.0,
               "fashion_then_mnist": 300.0, "fashion_mnist20": 330.0}
STAND_IN = {"svhn_mnist": "fashion_then_mnist"}  # fig. 5 without SVHN


def run_lifelong(cfg: LifelongConfig) -> dict[str, Any]:
    """The runs of ``cfg`` (one per seed, trained stacked) through the result cache."""
    return {"experiment": cfg.experiment, "runs": cached_runs(cfg.runs())}


LIFELONG = [
    StackedExperiment(
        name=name, paper="lifelong", title=LIFELONG_TITLES[name], config=LifelongConfig,
        presets=PRESET_VALUES, run=run_lifelong, pages=tuple(LIFELONG_VARIANTS[name]),
        fixed={"experiment": name}, variants=LIFELONG_VARIANTS[name],
        quick_cuts=QUICK_CUTS.get(name, {}), page_seeds=PAGE_SEEDS.get(name, {}),
        paper_gpu_s=PAPER_GPU_S[name], stand_in=STAND_IN.get(name),
        datasets=LIFELONG_DATASETS[name])
    for name in TASK_SEQUENCES
]


def modules() -> list[str]:
    """The modules that declare experiments: the KD paper's, then ``LGM_EXPERIMENTS``'."""
    extra = [m.strip() for m in os.environ.get(PLUGINS, "").split(",") if m.strip()]
    return [f"lgm.experiments.{m}" for m in KD_MODULES] + extra


def _declared(module: str) -> list[Experiment]:
    """The ``EXPERIMENTS`` of ``module``; one named by ``LGM_EXPERIMENTS`` that cannot be
    imported or declares none is a usage error naming it (the project's own are not caught)."""
    if module.startswith("lgm.experiments."):
        return importlib.import_module(module).EXPERIMENTS
    try:
        return list(importlib.import_module(module).EXPERIMENTS)
    except ModuleNotFoundError as err:
        if err.name is None or not module.startswith(err.name):
            raise
        raise ConfigError(f"{PLUGINS}: no module {module!r} on the Python path") from None
    except AttributeError:
        raise ConfigError(f"{PLUGINS}: module {module!r} defines no EXPERIMENTS") from None


@functools.cache
def experiments() -> dict[str, Experiment]:
    """Name -> experiment, the lifelong paper's first, then the KD paper's."""
    found = {e.name: e for e in LIFELONG}
    for module in modules():
        for exp in _declared(module):
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
