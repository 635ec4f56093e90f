"""The Gumbel-softmax temperature schedule (appendix 7.8.1; reference code).

    tau(step) = max(tau0 * exp(-rate * step), tau_min)

restarted at ``step = 0`` for each new student.
"""

from __future__ import annotations

import math


def gumbel_temperature(step: int, tau0: float = 1.0, rate: float = 3e-5,
                       tau_min: float = 0.5) -> float:
    """Annealed temperature after ``step`` optimiser steps of the current student."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return max(tau0 * math.exp(-rate * step), tau_min)
