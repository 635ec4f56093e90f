"""The small typed settings that training takes (not the whole run config).

:class:`ObjectiveWeights` is what the student's objective needs (eq. 6 for lifelong, section 5
for EWC); :class:`Schedule` is what the loop needs (Adam, minibatch, early stopping, the Gumbel
temperature schedule of appendix 7.4.1). The experiments layer builds both from its config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the student's loss terms (:class:`lgm.training.objective.StudentObjective`)."""

    method: str = "lifelong"              # lifelong | vanilla | full | upto | ewc
    consistency_weight: float = 1.0       # KL(Q_s(z_d|x_hat) || Q_t(z_d|x_hat)), eq. 6
    consistency_direction: str = "reverse"
    pad_mass: float = 1e-4                # mass given to a teacher's missing codes
    info_gain_weight: float = 0.01        # lambda of eq. 6 (eq. 14)
    likelihood_weight: float = 0.0        # KL(P_s(x|z) || P_t(x|z)), appendix 7.3
    ewc_gamma: float = 100.0              # gamma of the EWC penalty
    ewc_replay: bool = True               # EWC keeps the student-teacher replay (reference)


@dataclass(frozen=True)
class Schedule:
    """Optimisation of one task: Adam, minibatches, early stopping, Gumbel temperature."""

    lr: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    min_epochs: int = 1                   # burn-in before early stopping may trigger
    patience: int = 50                    # epochs without validation improvement
    min_delta: float = 0.0                # relative decrease that counts as an improvement
    tau0: float = 1.0                     # tau(step) = max(tau_min, tau0 exp(-tau_rate step))
    tau_rate: float = 3e-5
    tau_min: float = 0.5
