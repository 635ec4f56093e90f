"""The KD paper's toy error-accumulation experiments (Fig. 2, section 3.2; Fig. 5, section 4.1).

For every depth L, every seed and both methods (``"ours"``: eq. 7; ``"local"``: fig. 3d), a
student chain (:class:`lgm.models.chains.StackedChainStudents`) is distilled data-free from the
exact teacher chain of depth L, all of them in one tensor program
(:mod:`lgm.experiments.kd_toy_engine`). The accumulated error KL(teacher y || student y) is
computed exactly (:mod:`lgm.metrics.chain_kl`) and estimated as the paper does, by density-ratio
estimation from samples (:mod:`lgm.metrics.density_ratio`); the per-layer errors of every student
are computed exactly too. One figure = one cached result (:func:`run_toy`).

Settings the paper leaves open, and ours (the *literal reading*): Adam with learning rate 1e-2,
lambda = 0.1 (the reference code's value for its VAEs), a batch of fresh shared noise every step,
the same budget for both methods, and a student of the teacher's form plus a residual tanh
network of 16 units per conditional. :data:`READINGS` varies what the paper leaves open (student
capacity, training budget, the binomial chain's initial law, the noise level).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, FiniteFloat, NonNegativeInt, PositiveInt, field_validator

from lgm.experiments.cache import cached_call
from lgm.experiments.experiment import Experiment
from lgm.experiments.kd_toy_engine import fingerprint as engine_fingerprint
from lgm.experiments.kd_toy_engine import run_figure
from lgm.experiments.spec import ExperimentConfig

CHAINS = ("gaussian", "binomial")
METHODS = ("ours", "local")
PAGES = {"gaussian": "kd_fig2", "binomial": "kd_fig5"}
PAPER_CPU_S = {"gaussian": 800.0, "binomial": 1250.0}  # a paper unit on one CPU thread, measured
FIGURES = {"gaussian": "Fig. 2", "binomial": "Fig. 5"}


class ToyConfig(ExperimentConfig):
    """One toy figure's runs: every depth in ``layers`` x every method x every seed."""

    chain: Literal["gaussian", "binomial"] = "gaussian"
    layers: tuple[PositiveInt, ...] = (1, 5, 10, 20)
    methods: tuple[Literal["ours", "local"], ...] = ("ours", "local")
    steps: PositiveInt = 200
    batch: PositiveInt = 1024
    lr: FiniteFloat = Field(1e-2, gt=0)
    lr_local: FiniteFloat | None = Field(None, gt=0)
    fixed_samples: NonNegativeInt = 0
    lam: FiniteFloat = Field(0.1, ge=0)
    hidden: PositiveInt = 16
    student: Literal["residual", "mlp"] = "residual"
    noise_std: FiniteFloat = Field(0.1, gt=0)
    root_high: FiniteFloat = Field(1.0, gt=0, le=1000)
    kl_samples: PositiveInt = 5000
    kl_degree: PositiveInt = 4
    kl_folds: NonNegativeInt = Field(5, ge=2)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON; the axes added later (``lr_local``, ``fixed_samples``) only when
        set, so the keys of the results made before them (completion records) still match."""
        values = super().to_dict()
        if values.get("lr_local") is None:
            values.pop("lr_local", None)
        if not values.get("fixed_samples"):
            values.pop("fixed_samples", None)
        return values

    @field_validator("layers")
    @classmethod
    def _layers(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or len(set(v)) != len(v) or max(v) > 50:
            raise ValueError(f"layers must be distinct depths in 1..50, got {list(v)}")
        return tuple(sorted(v))

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError(f"methods must be distinct and non-empty, got {list(v)}")
        return v

    @field_validator("kl_samples")
    @classmethod
    def _samples(cls, v: int) -> int:
        if v < 50:
            raise ValueError(f"kl_samples must be >= 50, got {v}")
        return v


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(layers=(1, 3), steps=20, batch=64, kl_samples=400),
    "quick": dict(layers=(1, 2, 5, 10, 20), steps=300, batch=256, kl_samples=4000),
    "paper": dict(layers=tuple(range(1, 21)), steps=4000, batch=1024, kl_samples=20000),
}
PAPER_SEEDS = (0, 1, 2, 3, 4)
PAPER: dict[str, Any] = {
    "gaussian": {"figure": "Fig. 2", "layers": [1, 20], "numbers": None,
                 "claims": ["the KL of local distillation grows linearly with L",
                            "ours increases slowly"]},
    "binomial": {"figure": "Fig. 5", "layers": [1, 20], "numbers": None,
                 "claims": ["the KL of local distillation grows with L",
                            "ours stays at a stable low level"]},
}

# The readings: what the paper leaves open, varied one thing at a time (label, what, overrides).
READING_BUDGET: dict[str, dict[str, Any]] = {
    "gaussian": dict(layers=(1, 2, 4, 7, 10, 15, 20), steps=1000, batch=512, kl_samples=8000,
                     seeds=(0, 1, 2)),
    # the binomial chain's integer draws cost more (inverse CDFs), so a smaller budget
    "binomial": dict(layers=(1, 2, 4, 7, 10, 15, 20), steps=500, batch=256, kl_samples=8000,
                     seeds=(0, 1, 2)),
}
READING_SMOKE: dict[str, Any] = dict(layers=(1, 3), steps=10, batch=64, kl_samples=400,
                                     seeds=(0,))
READINGS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "gaussian": [
        ("literal", "as printed: std 0.1, teacher form + residual (16 units)", {}),
        ("short", "literal, 100 training steps", dict(steps=100)),
        ("mlp8", "plain MLP student, 8 tanh units (no skip of the teacher's form)",
         dict(student="mlp", hidden=8)),
        ("mlp3", "plain MLP student, 3 tanh units", dict(student="mlp", hidden=3)),
        ("std0.01", "noise std 0.01 ('N(mu, 0.01 I)' read as the std)", dict(noise_std=0.01)),
        ("std0.01-mlp8", "noise std 0.01 and a plain MLP of 8 units",
         dict(noise_std=0.01, student="mlp", hidden=8)),
    ],
    "binomial": [
        ("literal", "as printed: z_1 ~ U[0, 1], teacher form + residual (16 units)", {}),
        ("short", "literal, 100 training steps", dict(steps=100)),
        ("mlp8", "plain MLP student on log(1 + z), 8 tanh units", dict(student="mlp", hidden=8)),
        ("root1000", "z_1 ~ U[0, 1000] (300 steps of 128: every chain stays alive, so each "
         "draw costs more)", dict(root_high=1000.0, steps=300, batch=128)),
        ("root1000-mlp8", "z_1 ~ U[0, 1000] and a plain MLP of 8 units (300 steps of 128)",
         dict(root_high=1000.0, student="mlp", hidden=8, steps=300, batch=128)),
    ],
}


def params_of(cfg: ToyConfig) -> dict[str, Any]:
    """The engine's parameters (the cache key) of ``cfg``."""
    keys = ("chain", "layers", "methods", "seeds", "steps", "batch", "lr", "lam", "hidden",
            "student", "noise_std", "root_high", "kl_samples", "kl_degree", "kl_folds",
            "device")
    values = cfg.to_dict()
    out = {k: values[k] for k in keys}
    for k in ("lr", "lam", "noise_std", "root_high"):
        out[k] = float(out[k])
    # axes added later enter the key only when set (earlier results keep their keys)
    if values.get("lr_local") is not None:
        out["lr_local"] = float(values["lr_local"])
    if values.get("fixed_samples"):
        out["fixed_samples"] = int(values["fixed_samples"])
    return out


def run_toy(cfg: ToyConfig, name: str | None = None, *, recompute: bool = True
            ) -> dict[str, Any]:
    """Every run of ``cfg`` (one tensor program) through the result cache; the result has the
    config under ``config`` and [method][seed][depth] lists ``kl_exact_<m>``, ``kl_est_<m>``,
    ``kl_se_<m>``, ``kl_joint_<m>``, and ``arrays`` (see :func:`~lgm.experiments.
    kd_toy_engine.evaluate`)."""
    label = name or f"kd_toy_{cfg.chain}-{cfg.preset}"
    result = cached_call("kd_toy", label, params_of(cfg), run_figure, recompute=recompute)
    return {**result, "config": cfg.to_dict()}


def toy_config(preset: str = "quick", chain: str = "gaussian", **overrides: Any) -> ToyConfig:
    """The preset's config for ``chain`` with fields overridden (a thin wrapper of
    :func:`lgm.experiments.spec.make_config`; unknown fields, bad values: one-line errors)."""
    if chain not in CHAINS:
        raise ValueError(f"unknown chain {chain!r}; known: {', '.join(CHAINS)}")
    return EXPERIMENTS_BY_CHAIN[chain].make_config(preset, **overrides)  # type: ignore


def paper_config(chain: str) -> ToyConfig:
    """The paper preset of ``chain`` (five seeds)."""
    return toy_config("paper", chain)


def reading_config(chain: str, label: str, smoke: bool = False) -> ToyConfig:
    """The config of reading ``label`` at the readings' budget (or a smoke-sized one)."""
    found = [r for r in READINGS[chain] if r[0] == label]
    if not found:
        raise ValueError(f"unknown reading {label!r}; known: "
                         f"{', '.join(r[0] for r in READINGS[chain])}")
    budget = READING_SMOKE if smoke else READING_BUDGET[chain]
    values = {**budget, **found[0][2]}
    if smoke:
        values["steps"] = min(values["steps"], READING_SMOKE["steps"])
    return ToyConfig(chain=chain, preset="custom", **values)


def run_readings(chain: str, smoke: bool = False, device: str = "cpu",
                 recompute: bool = True) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every reading of ``chain`` through the cache, by label, and the labels of those not
    found (only when ``recompute`` is False: the book shows the committed ones)."""
    out, missing = {}, []
    for label, _, _ in READINGS[chain]:
        cfg = reading_config(chain, label, smoke).model_copy(update={"device": device})
        size = "smoke" if smoke else "reading"
        try:
            out[label] = run_toy(cfg, f"kd_toy_{chain}-{size}-{label}", recompute=recompute)
        except LookupError:
            missing.append(label)
    return out, missing


def cpu_seconds(result: dict[str, Any]) -> float:
    """A result's wall time (training + evaluation), seconds."""
    return float(result.get("wall_train_s", 0.0)) + float(result.get("wall_eval_s", 0.0))


def record_numbers(result: dict[str, Any]) -> dict[str, Any]:
    """What a completion record carries: the exact KLs [seed][depth] per method,
    the depths, seeds and wall times, so a reader of ``results/`` need not open the npz."""
    cfg = result.get("config") or result.get("params") or {}
    out: dict[str, Any] = {"layers": list(cfg.get("layers", [])),
                           "seeds": list(cfg.get("seeds", [])),
                           "wall_train_s": result.get("wall_train_s"),
                           "wall_eval_s": result.get("wall_eval_s")}
    for key in ("kl_exact", "kl_joint", "kl_est", "kl_se"):
        for m in METHODS:
            if f"{key}_{m}" in result:
                out[f"{key}_{m}"] = np.asarray(result[f"{key}_{m}"], float).tolist()
    return out


def fingerprint() -> list[float]:
    """A tiny float64 CPU run of both chains through the experiment's real code path."""
    return engine_fingerprint()


def _run(cfg: ExperimentConfig) -> dict[str, Any]:
    return run_toy(cfg)  # type: ignore[arg-type]


EXPERIMENTS: list[Experiment] = [
    Experiment(name=f"kd_toy_{chain}", paper="kd",
               title=f"KD paper {FIGURES[chain]}: error accumulation in a {chain} chain",
               config=ToyConfig, presets=PRESETS, run=_run, pages=(PAGES[chain],),
               paper_seeds=PAPER_SEEDS, paper_values=PAPER[chain], fixed={"chain": chain},
               paper_gpu_s=PAPER_CPU_S[chain], paper_cpu_s=(PAPER_CPU_S[chain], "measured"))
    for chain in CHAINS
]
EXPERIMENTS_BY_CHAIN = {e.fixed["chain"]: e for e in EXPERIMENTS}
