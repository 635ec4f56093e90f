"""The KD paper's toy error-accumulation experiments (fig. 2, section 3.2; fig. 5, section 4.1).

For every depth L in a list and every method (``"ours"``: eq. 7; ``"local"``: fig. 3d), a
residual student chain (:mod:`lgm.models.chains`) is distilled data-free from the exact teacher
chain of depth L (:func:`lgm.training.distill.distill`), and the accumulated error
KL(teacher output || student output) is estimated from samples of the target y with the
density-ratio estimator (:func:`lgm.metrics.density_ratio.density_ratio_kl`; on log(1 + y)
for the binomial counts, where a polynomial log-ratio fits better). One run = one (L, method,
seed), cached with :func:`lgm.experiments.cache.cached_call`.

Settings the paper leaves out, and ours: Adam with learning rate 1e-2, lambda = 0.1 (the
value the reference code uses for its VAEs), a batch of fresh shared noise every step, one
residual tanh network of 16 hidden units per conditional, the same budget for both methods.
"""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lgm.device import cpu_threads, resolve_device
from lgm.experiments.cache import cached_call
from lgm.experiments.report import markdown_table
from lgm.metrics.density_ratio import density_ratio_kl
from lgm.models.chains import (
    BinomialChainStudent,
    BinomialChainTeacher,
    Chain,
    GaussianChainStudent,
    GaussianChainTeacher,
)
from lgm.provenance import provenance
from lgm.training.distill import METHODS, distill

CHAINS = ("gaussian", "binomial")
PRESETS = ("smoke", "quick", "paper")
DATA = {"gaussian": "synthetic: samples of the Gaussian toy chain of section 3.2 (no data set)",
        "binomial": "synthetic: samples of the binomial toy chain of section 4.1 (no data set)"}


@dataclass(frozen=True)
class ToyConfig:
    """One figure's runs: every depth in ``layers`` x every method x every seed."""

    chain: str = "gaussian"
    layers: tuple[int, ...] = (1, 5, 10, 20)
    methods: tuple[str, ...] = ("ours", "local")
    seeds: tuple[int, ...] = (0,)
    steps: int = 200
    batch: int = 1024
    lr: float = 1e-2
    lam: float = 0.1
    hidden: int = 16
    kl_samples: int = 5000
    kl_degree: int = 4
    kl_folds: int = 5
    device: str = "cpu"
    preset: str = "quick"

    def __post_init__(self) -> None:
        if self.chain not in CHAINS:
            raise ValueError(f"unknown chain {self.chain!r}; known: {', '.join(CHAINS)}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}")
        for name in ("layers", "methods", "seeds"):
            if not isinstance(getattr(self, name), tuple) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty tuple, got "
                                 f"{getattr(self, name)!r}")
        if any(not _is_int(v) or v < 1 for v in self.layers):
            raise ValueError(f"layers must be ints >= 1, got {self.layers}")
        if any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be among {METHODS}, got {self.methods}")
        if any(not _is_int(s) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be ints >= 0, got {self.seeds}")
        for name in ("steps", "batch", "hidden", "kl_degree", "kl_folds"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if not _is_int(self.kl_samples) or self.kl_samples < 5 * self.kl_folds:
            raise ValueError(f"kl_samples must be an int >= 5 * kl_folds, got "
                             f"{self.kl_samples!r}")
        if not (isinstance(self.lr, float) and self.lr > 0):
            raise ValueError(f"lr must be a float > 0, got {self.lr!r}")
        if not (isinstance(self.lam, float) and self.lam >= 0):
            raise ValueError(f"lam must be a float >= 0, got {self.lam!r}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device must be cpu, cuda or auto, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


PRESET_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {"gaussian": dict(layers=(1, 3), steps=20, batch=128, kl_samples=400),
              "binomial": dict(layers=(1, 3), steps=20, batch=128, kl_samples=400)},
    "quick": {"gaussian": dict(layers=(1, 5, 10, 20), steps=60, batch=256, kl_samples=4000),
              "binomial": dict(layers=(1, 5, 10, 20), steps=25, batch=128, kl_samples=4000)},
    "paper": {c: dict(layers=tuple(range(1, 21)), steps=4000, batch=1024, kl_samples=20000,
                      seeds=(0, 1, 2)) for c in CHAINS},
}


def toy_config(preset: str = "quick", chain: str = "gaussian", **overrides: Any) -> ToyConfig:
    """The preset's config for ``chain``, with fields overridden (unknown ones are an error)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if chain not in CHAINS:
        raise ValueError(f"unknown chain {chain!r}; known: {', '.join(CHAINS)}")
    names = {f.name for f in dataclasses.fields(ToyConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {sorted(names)}")
    return ToyConfig(**{**PRESET_VALUES[preset][chain], **overrides, "chain": chain,
                        "preset": preset})


def make_pair(chain: str, layers: int, hidden: int) -> tuple[Chain, Chain]:
    """(teacher, student) chains of depth ``layers``."""
    if chain == "gaussian":
        return GaussianChainTeacher(layers), GaussianChainStudent(layers, hidden=hidden)
    return BinomialChainTeacher(layers), BinomialChainStudent(layers, hidden=hidden)


def output_features(chain: str, y: torch.Tensor) -> torch.Tensor:
    """What the density-ratio classifier sees: y itself, or log(1 + y) for counts."""
    return torch.log1p(y) if chain == "binomial" else y


def one_run(params: dict[str, Any]) -> dict[str, Any]:
    """Distil one student (depth ``layers``, ``method``, ``seed``) and estimate its KL."""
    started = time.time()
    device = resolve_device(params["device"])
    seed, layers = params["seed"], params["layers"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the student's initial weights
        teacher, student = make_pair(params["chain"], layers, params["hidden"])
    noise_gen = torch.Generator().manual_seed(1000 * seed + layers)
    with cpu_threads(1) if device.type == "cpu" else nullcontext():
        history = distill(teacher, student, method=params["method"], steps=params["steps"],
                          batch=params["batch"], lr=params["lr"], lam=params["lam"],
                          generator=noise_gen, device=device,
                          desc=f"{params['method']} L={layers}")
        eval_gen = torch.Generator().manual_seed(2000 * seed + layers)
        y_teacher = teacher.sample_output(params["kl_samples"], eval_gen).cpu()
        y_student = student.sample_output(params["kl_samples"], eval_gen).cpu()
    est = density_ratio_kl(output_features(params["chain"], y_teacher),
                           output_features(params["chain"], y_student),
                           degree=params["kl_degree"], folds=params["kl_folds"],
                           generator=eval_gen)
    return {"provenance": provenance(device, started), "data": DATA[params["chain"]],
            "kl": est.value, "kl_stderr": est.stderr, "kl_folds": est.folds,
            "final_loss": float(np.mean(history.loss[-20:])),
            "arrays": {**history.arrays(), "y_teacher": y_teacher[:2000].numpy(),
                       "y_student": y_student[:2000].numpy()}}


def run_params(cfg: ToyConfig, layers: int, method: str, seed: int) -> dict[str, Any]:
    """The cache key of one run: the config without the lists, plus this run's choices."""
    params = {k: v for k, v in cfg.to_dict().items()
              if k not in ("layers", "methods", "seeds", "preset")}
    return {**params, "layers": layers, "method": method, "seed": seed}


def run_kd_toy(cfg: ToyConfig) -> dict[str, Any]:
    """Every (L, method, seed) run of ``cfg`` through the cache; returns the config and the
    runs (each a cached result with ``params``, ``kl``, ``kl_stderr``, ``final_loss``)."""
    runs = [cached_call("kd_toy", f"{cfg.chain}-{method}-L{layers}-seed{seed}",
                        run_params(cfg, layers, method, seed), one_run)
            for seed in cfg.seeds for method in cfg.methods for layers in cfg.layers]
    return {"config": cfg.to_dict(), "runs": runs}


def kl_markdown(result: dict[str, Any], paper: str) -> str:
    """The pages' table: KL in nats per depth and method, mean ± standard error, and a line
    on what the paper's figure shows (``paper``)."""
    table = kl_table(result)
    methods = list(table)
    rows = [[int(n)] + [f"{table[m]['kl'][i]:.4f} ± {table[m]['se'][i]:.4f}" for m in methods]
            for i, n in enumerate(table[methods[0]]["layers"])]
    return markdown_table(["L", *methods], rows) + f"\n\n(paper: {paper})"


def kl_table(result: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Per method: ``layers``, ``kl`` (mean over seeds) and ``se`` (its standard error: the
    estimator's and the seeds' spread combined) of KL(teacher y || student y)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for method in result["config"]["methods"]:
        layers = result["config"]["layers"]
        kl, se = [], []
        for n in layers:
            runs = [r for r in result["runs"]
                    if r["params"]["method"] == method and r["params"]["layers"] == n]
            values = np.array([r["kl"] for r in runs])
            est_var = np.mean([r["kl_stderr"] ** 2 for r in runs]) / len(runs)
            seed_var = values.var(ddof=1) / len(runs) if len(runs) > 1 else 0.0
            kl.append(values.mean())
            se.append(math.sqrt(est_var + seed_var))
        out[method] = {"layers": np.array(layers), "kl": np.array(kl), "se": np.array(se)}
    return out


def growth_slope(layers: np.ndarray, kl: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares slope of KL against L (weights 1/se^2) and its standard error."""
    if len(layers) < 2:
        raise ValueError("a slope needs at least two depths")
    w = 1.0 / np.maximum(se, 1e-6) ** 2
    x_bar = np.sum(w * layers) / w.sum()
    sxx = np.sum(w * (layers - x_bar) ** 2)
    slope = np.sum(w * (layers - x_bar) * kl) / sxx
    return float(slope), float(1.0 / math.sqrt(sxx))


def deepest_runs(result: dict[str, Any], method: str) -> list[dict[str, Any]]:
    """The runs of ``method`` at the largest depth of ``result`` (all seeds)."""
    deepest = max(result["config"]["layers"])
    return [r for r in result["runs"]
            if r["params"]["method"] == method and r["params"]["layers"] == deepest]


def toy_figure(result: dict[str, Any], title: str, path: Any) -> Any:
    """Fig. 2 / fig. 5 and two diagnostics: (a) KL(teacher y || student y) against L, mean over
    seeds with +-1 standard-error bars; (b) the teacher's and the students' output y at the
    largest L (first seed); (c) the training loss at the largest L. Saved to ``path``."""
    import matplotlib.pyplot as plt

    table, chain = kl_table(result), result["config"]["chain"]
    style = {"ours": ("C0", "o"), "local": ("C3", "s")}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for method, row in table.items():
        color, marker = style[method]
        axes[0].errorbar(row["layers"], row["kl"], yerr=row["se"], color=color, marker=marker,
                         ms=4, capsize=3, label=method)
    axes[0].axhline(0, color="0.5", lw=0.8)
    axes[0].set(xlabel="number of latent layers L", ylabel="KL(teacher || student), nats",
                title="(a) accumulated error")
    deepest = max(result["config"]["layers"])
    first = {m: deepest_runs(result, m)[0] for m in table}
    y_t = next(iter(first.values()))["arrays"]["y_teacher"]
    bins = (np.arange(-0.5, max(y_t.max(), 1) + 1.5) if chain == "binomial"
            else np.linspace(np.quantile(y_t, 0.002), np.quantile(y_t, 0.998), 50))
    axes[1].hist(y_t, bins=bins, density=True, color="0.6", alpha=0.6, label="teacher")
    for method, run in first.items():
        axes[1].hist(run["arrays"]["y_student"], bins=bins, density=True, histtype="step",
                     color=style[method][0], lw=1.5, label=method)
    if chain == "binomial":
        axes[1].set_yscale("log")
    axes[1].set(xlabel="y", title=f"(b) output y at L = {deepest}")
    for method, run in first.items():
        axes[2].plot(run["arrays"]["loss"], color=style[method][0], lw=1, label=method)
    axes[2].set_yscale("log")
    axes[2].set(xlabel="step", ylabel="training loss", title=f"(c) its loss, L = {deepest}")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return fig


def toy_verdicts(result: dict[str, Any], figure: str) -> list[str]:
    """The paper's claims about its toy figure, tested on ``result`` (verdict lines)."""
    table = kl_table(result)
    if set(table) != {"ours", "local"}:
        return [f"1. **{figure}: local grows with L, ours stays low** (needs both methods): "
                "cannot be tested. Only " + ", ".join(table) + " was run."]
    lo, ou = table["local"], table["ours"]
    if len(lo["layers"]) < 2:
        return [f"1. **{figure}: the error of local distillation grows with L** (needs two "
                "depths): cannot be tested. One depth only."]
    s_lo, e_lo = growth_slope(lo["layers"], lo["kl"], lo["se"])
    s_ou, e_ou = growth_slope(ou["layers"], ou["kl"], ou["se"])
    diff, diff_se = lo["kl"][-1] - ou["kl"][-1], math.hypot(lo["se"][-1], ou["se"][-1])
    slope_gap, slope_se = s_lo - s_ou, math.hypot(e_lo, e_ou)
    n = int(lo["layers"][-1])
    return [
        f"1. **{figure}: the error of local distillation grows with L** (rule: weighted "
        f"least-squares slope of its KL against L above 0 by 2 standard errors): "
        f"{'holds' if s_lo > 2 * e_lo else 'does not hold'}. Slope {s_lo:.2e} ± {e_lo:.1e} "
        f"nats per layer; KL {lo['kl'][0]:.4f} at L = {int(lo['layers'][0])}, "
        f"{lo['kl'][-1]:.4f} ± {lo['se'][-1]:.4f} at L = {n}.",
        f"2. **{figure}: ours accumulates less error than local** (rule: at L = {n}, ours' KL "
        f"below local's by 2 combined standard errors): "
        f"{'holds' if diff > 2 * diff_se else 'does not hold'}. Ours {ou['kl'][-1]:.4f} ± "
        f"{ou['se'][-1]:.4f}, local {lo['kl'][-1]:.4f} ± {lo['se'][-1]:.4f} "
        f"(difference {diff:+.4f} ± {diff_se:.4f}).",
        f"3. **{figure}: ours' error grows more slowly in L than local's** (rule: slope of "
        f"local minus slope of ours above 0 by 2 standard errors): "
        f"{'holds' if slope_gap > 2 * slope_se else 'does not hold'}. Slopes: ours "
        f"{s_ou:.2e} ± {e_ou:.1e}, local {s_lo:.2e} ± {e_lo:.1e}.",
    ]
