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
from lgm.progress import progress

METHODS = ("ours", "local")

LossFn = Callable[[SemiAuxiliaryDGM, SemiAuxiliaryDGM, dict[str, Tensor], Tensor | None],
                  Tensor | DistillationLoss]
InputSampler = Callable[[int, torch.Generator | None], Tensor]


class DistillationDivergedError(RuntimeError):
    """The distillation loss became NaN or inf; names the first bad step."""

    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"non-finite distillation loss ({value}) at step {step}: training "
                         "stopped. Try a smaller learning rate or gradient clipping.")
        self.step, self.value = step, value


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


def _check_args(steps: int, batch: int, lr: float, weight_decay: float,
                clip_grad: float | None, sync_every: int) -> None:
    for name, value in (("steps", steps), ("batch", batch), ("sync_every", sync_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if clip_grad is not None and not clip_grad > 0:
        raise ValueError(f"clip_grad must be > 0 or None, got {clip_grad}")


def _student_parameters(student: SemiAuxiliaryDGM) -> list[torch.nn.Parameter]:
    if not isinstance(student, torch.nn.Module):
        raise ValueError(f"the student must be a torch.nn.Module, got {type(student).__name__}")
    params = [p for p in student.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the student has no trainable parameters")
    return params


def _split(out: Tensor | DistillationLoss) -> tuple[Tensor, Tensor, Tensor]:
    """(loss, surrogate, latent) of a loss_fn's output; NaN parts for a bare tensor."""
    if isinstance(out, DistillationLoss):
        return out.loss, out.surrogate, out.latent
    if not isinstance(out, Tensor) or out.dim() != 0:
        raise ValueError("loss_fn must return a scalar tensor or a DistillationLoss, got "
                         f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    nan = torch.full((), math.nan, device=out.device)
    return out, nan, nan


def distill(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM, *, method: str = "ours",
            steps: int = 1000, batch: int = 128, lr: float = 1e-3, lam: float = 0.1,
            generator: torch.Generator | None = None, device: str | torch.device = "cpu",
            loss_fn: LossFn | None = None, inputs: InputSampler | None = None,
            weight_decay: float = 0.0, clip_grad: float | None = None, sync_every: int = 50,
            desc: str = "distill") -> DistillHistory:
    """Distil ``teacher`` into ``student`` with Adam for ``steps`` steps; return the history.

    Each step: ``noise = teacher.sample_noise(batch, generator)`` (moved to ``device``), the
    loss of ``method`` (or ``loss_fn``) on that shared noise, one Adam step (learning rate
    ``lr``, ``weight_decay``, optional gradient-norm clipping ``clip_grad``) on the student's
    parameters. The teacher is put in eval mode (BatchNorm statistics frozen) and gets no
    gradient; the student trains in train mode and is left in eval mode. Both are moved to
    ``device`` ("cpu", "cuda" or "auto").

    Losses stay on the device and are read back every ``sync_every`` steps (one host sync per
    chunk): a NaN/inf raises :class:`DistillationDivergedError` naming the first bad step.
    """
    _check_args(steps, batch, lr, weight_decay, clip_grad, sync_every)
    fn = loss_fn if loss_fn is not None else distillation_loss_fn(method, lam=lam)
    dev = resolve_device(device) if isinstance(device, str) else device
    params = _student_parameters(student)
    if isinstance(teacher, torch.nn.Module):
        teacher.to(dev).eval()
    student.to(dev).train()  # type: ignore[attr-defined]
    optimiser = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    history, pending = DistillHistory(), []
    bar = progress(range(steps), desc=desc, leave=False)
    for step in bar:
        noise = {k: v.to(dev) for k, v in teacher.sample_noise(batch, generator).items()}
        x = inputs(batch, generator).to(dev) if inputs is not None else None
        loss, sd, lz = _split(fn(teacher, student, noise, x))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_grad)
        optimiser.step()
        pending.append(torch.stack([loss.detach(), sd.detach(), lz.detach()]))
        if len(pending) == sync_every or step == steps - 1:
            _record(history, torch.stack(pending).cpu(), first_step=step + 1 - len(pending))
            pending = []
            bar.set_postfix(loss=f"{history.loss[-1]:.4g}")
    student.eval()  # type: ignore[attr-defined]
    return history


def _record(history: DistillHistory, values: Tensor, first_step: int) -> None:
    """Append a chunk of [steps, 3] values; raise at the first non-finite loss."""
    bad = (~torch.isfinite(values[:, 0])).nonzero()
    if len(bad):
        i = int(bad[0, 0])
        raise DistillationDivergedError(first_step + i, float(values[i, 0]))
    history.loss += values[:, 0].tolist()
    history.surrogate += values[:, 1].tolist()
    history.latent += values[:, 2].tolist()
