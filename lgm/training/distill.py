"""Data-free distillation of one deep DGM into another (KD paper, Algorithm 1 of appendix C).

Any teacher/student pair in semi-auxiliary form (:class:`~lgm.models.semi_auxiliary.
SemiAuxiliaryDGM`, section 3.1) with the same layout of conditionals is distilled by the same
loop: every step draws *fresh* auxiliary noise ``eps ~ p(eps)`` from the teacher
(``teacher.sample_noise``), both models run ancestral sampling with that shared noise, and the
student takes one Adam step on

- ``method="ours"``: L_our = L_sd + lambda * sum_i L_z,i (eq. 7; eq. 4 and eq. 6), or
- ``method="local"``: the local baseline of fig. 3d, every conditional (latent and target)
  of the student evaluated at the *teacher's* samples.

No data is read (``x = empty``, the data-free case of section 3.4) unless ``inputs`` is given:
then ``x ~ p_data(x)`` is drawn by ``inputs(batch, generator)`` each step, as eq. 4 takes the
expectation over inputs too.

The hook ``loss_fn(teacher, student, noise, x)`` replaces the loss that ``method`` selects, for
model-specific options (latent measure and reduction, conditionals to ``skip``, extra terms); it
returns a scalar tensor or a :class:`~lgm.losses.distillation.DistillationLoss` (whose parts are
then recorded). :func:`distillation_loss_fn` builds the standard ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lgm.device import resolve_device
from lgm.losses.distillation import (
    DistillationLoss,
    local_distillation_loss,
    target_free_loss,
)
from lgm.models.semi_auxiliary import SemiAuxiliaryDGM
from lgm.training.fit import Optimiser, fit

METHODS = ("ours", "local")

LossFn = Callable[[SemiAuxiliaryDGM, SemiAuxiliaryDGM, dict[str, Tensor], Tensor | None],
                  Tensor | DistillationLoss]
InputSampler = Callable[[int, torch.Generator | None], Tensor]


@dataclass
class DistillHistory:
    """Per-step values of the loss and, when the loss reports them, its eq. 7 parts
    (``surrogate`` = L_sd, ``latent`` = sum_i L_z,i; NaN for the local baseline)."""

    loss: list[float] = field(default_factory=list)
    surrogate: list[float] = field(default_factory=list)
    latent: list[float] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The three series as float arrays (for a result's ``arrays``)."""
        return {k: np.asarray(getattr(self, k), dtype=float)
                for k in ("loss", "surrogate", "latent")}


def distillation_loss_fn(method: str = "ours", *, lam: float = 0.1, latent_measure: str = "kl",
                         latent_reduction: str = "sum", target_reduction: str = "sum",
                         skip: tuple[str, ...] = ()) -> LossFn:
    """The loss of ``method``: eq. 7 (``"ours"``) or the local baseline (``"local"``)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")

    def ours(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM, noise: dict[str, Tensor],
             x: Tensor | None) -> DistillationLoss:
        return target_free_loss(teacher, student, noise, x, lam=lam,
                                latent_measure=latent_measure,
                                latent_reduction=latent_reduction,
                                target_reduction=target_reduction, skip=skip)

    def local(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM, noise: dict[str, Tensor],
              x: Tensor | None) -> Tensor:
        return local_distillation_loss(teacher, student, noise, x, reduction=target_reduction,
                                       skip=skip)

    return ours if method == "ours" else local


def _student_parameters(student: SemiAuxiliaryDGM) -> list[torch.nn.Parameter]:
    if not isinstance(student, torch.nn.Module):
        raise ValueError(f"the student must be a torch.nn.Module, got {type(student).__name__}")
    params = [p for p in student.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the student has no trainable parameters")
    return params


def _split(out: Tensor | DistillationLoss) -> dict[str, Tensor]:
    """loss, surrogate and latent of a loss_fn's output; NaN parts for a bare tensor."""
    if isinstance(out, DistillationLoss):
        return {"loss": out.loss, "surrogate": out.surrogate, "latent": out.latent}
    if not isinstance(out, Tensor) or out.dim() != 0:
        raise ValueError("loss_fn must return a scalar tensor or a DistillationLoss, got "
                         f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    nan = torch.full((), math.nan, device=out.device)
    return {"loss": out, "surrogate": nan, "latent": nan}


def distill(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM, *, method: str | None = None,
            steps: int = 1000, batch: int = 128, lr: float = 1e-3, lam: float | None = None,
            generator: torch.Generator | None = None, device: str | torch.device = "cpu",
            loss_fn: LossFn | None = None, inputs: InputSampler | None = None,
            weight_decay: float = 0.0, clip_grad: float | None = None, sync_every: int = 50,
            desc: str = "distill") -> DistillHistory:
    """Distil ``teacher`` into ``student`` with Adam for ``steps`` steps; return the history.

    Each step: ``noise = teacher.sample_noise(batch, generator)`` (moved to ``device``), the
    loss of ``method`` with weight ``lam`` (default "ours", 0.1), or ``loss_fn`` (then neither
    ``method`` nor ``lam`` may be given: they would be ignored), on that shared noise, one Adam
    step (learning rate ``lr``, ``weight_decay``, optional gradient-norm clipping
    ``clip_grad``) on the student's parameters, by the one loop :func:`lgm.training.fit.fit`.
    The teacher is put in eval mode (BatchNorm statistics frozen) and gets no gradient; the
    student trains in train mode and is left in eval mode. Both are moved to ``device`` ("cpu",
    "cuda" or "auto").

    Losses stay on the device and are read back every ``sync_every`` steps (one host sync per
    chunk): a NaN/inf raises :class:`~lgm.errors.DivergedError` naming the first bad step.
    """
    for name, value in (("steps", steps), ("batch", batch), ("sync_every", sync_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if loss_fn is not None and (method is not None or lam is not None):
        raise ValueError("distill: give loss_fn, or method and lam, not both (loss_fn already "
                         f"fixes its loss; got method={method!r}, lam={lam!r})")
    opt = Optimiser(lr, weight_decay, clip_grad)
    fn = loss_fn if loss_fn is not None else distillation_loss_fn(
        method or "ours", lam=0.1 if lam is None else lam)
    dev = resolve_device(device) if isinstance(device, str) else device
    params = _student_parameters(student)
    if isinstance(teacher, torch.nn.Module):
        teacher.to(dev).eval()
    student.to(dev)  # type: ignore[attr-defined]

    def loss_at(step: int) -> dict[str, Tensor]:
        noise = {k: v.to(dev) for k, v in teacher.sample_noise(batch, generator).items()}
        x = inputs(batch, generator).to(dev) if inputs is not None else None
        return _split(fn(teacher, student, noise, x))

    out = fit(student, loss_at, steps=steps, opt=opt, parameters=params,  # type: ignore[arg-type]
              check_every=sync_every, desc=desc, loss_name="distillation loss")
    return DistillHistory(*(out.values[k] for k in ("loss", "surrogate", "latent")))
