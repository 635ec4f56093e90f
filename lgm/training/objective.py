"""The student's objective per method (eq. 6 for lifelong; section 5 for EWC).

    loss = -ELBO(x_real, x_hat)                      approximate ELBO of eq. 5
           + consistency_weight * KL(Q_s(z_d|x_hat) || Q_t(z_d|x_hat))    lifelong only
           + lambda * max(0, L_I(z_c; x))            information gain, eq. 14
           + likelihood_weight * KL(P_s(x|z) || P_t(x|z))                 with-LL, app. 7.3
           + (gamma / 2) (xi - Xi)^T F (xi - Xi)     EWC only

Every term is a mean over the B rows of the minibatch (terms that live on the replayed rows
only are summed over those rows and divided by B), so their weights compare across tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lgm.experiments.config import RunConfig
from lgm.losses import consistency_kl, elbo_terms, ewc_penalty, likelihood_consistency
from lgm.losses.info_gain import info_gain_penalty
from lgm.models.vae import DiscreteContinuousVAE
from lgm.training.replay import replay, replay_count


@dataclass
class Teacher:
    """What the student learns from: the frozen model and, for EWC, its Fisher."""

    model: DiscreteContinuousVAE
    tasks_seen: int
    anchor: dict[str, Tensor] | None = None
    fisher: dict[str, Tensor] | None = None


TERMS = ("loss", "neg_elbo", "consistency", "info_gain", "likelihood", "ewc")


class StudentObjective:
    """Callable ``(student, x_real, tau, generator) -> (loss, terms)`` for one method."""

    def __init__(self, cfg: RunConfig, teacher: Teacher | None) -> None:
        self.cfg, self.teacher = cfg, teacher
        self.uses_consistency = cfg.method == "lifelong" and teacher is not None
        self.uses_replay = teacher is not None and (cfg.method == "lifelong" or cfg.ewc_replay)

    def replay_rows(self, batch_size: int) -> int:
        """How many rows of a minibatch are replayed (0 without a teacher)."""
        return replay_count(batch_size, self.teacher.tasks_seen) if self.uses_replay else 0

    def __call__(self, student: DiscreteContinuousVAE, x_real: Tensor, tau: float,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        cfg, zero = self.cfg, x_real.new_zeros(())
        n_rep = self.replay_rows(cfg.batch_size)
        if n_rep:
            x_hat, z_c, z_d = replay(self.teacher.model, n_rep, generator)
            x = torch.cat([x_real, x_hat])
        else:
            x = x_real
        b = x.shape[0]
        out = student(x, tau, generator=generator)
        neg_elbo = -elbo_terms(out, x).elbo.mean()
        ig = info_gain_penalty(student, out) if cfg.info_gain_weight > 0 else zero
        cons, ll, ewc = zero, zero, zero
        if self.uses_consistency and n_rep:
            with torch.no_grad():
                teacher_logits = self.teacher.model.encode(x_hat).logits
            cons = consistency_kl(out.posterior.logits[-n_rep:], teacher_logits,
                                  direction=cfg.consistency_direction,
                                  pad_mass=cfg.pad_mass).sum() / b
        if cfg.likelihood_weight > 0 and n_rep:
            ll = likelihood_consistency(student, self.teacher.model, z_c, z_d).sum() / b
        if self.teacher is not None and self.teacher.fisher is not None:
            ewc = ewc_penalty(student, self.teacher.anchor, self.teacher.fisher, cfg.ewc_gamma)
        loss = (neg_elbo + cfg.consistency_weight * cons + cfg.info_gain_weight * ig
                + cfg.likelihood_weight * ll + ewc)
        terms = torch.stack([loss, neg_elbo, cons, ig, ll, ewc]).detach()
        return loss, terms
