"""The Gumbel-softmax temperature schedule (appendix 7.8.1; reference code).

    tau(step) = max(tau0 * exp(-rate * step), tau_min)

restarted at ``step = 0`` for each new student.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gumbel_temperature(step: int | Tensor, tau0: float = 1.0, rate: float = 3e-5,
                       tau_min: float = 0.5) -> float | Tensor:
    """Annealed temperature after ``step`` optimiser steps of the current student.

    ``step`` may be a device tensor (the graph-captured training step reads it there); the
    result is then a tensor too.
    """
    if isinstance(step, Tensor):
        return (tau0 * torch.exp(-rate * step.float())).clamp_min(tau_min)
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return max(tau0 * math.exp(-rate * step), tau_min)
