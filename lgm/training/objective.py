"""The student's objective per method (eq. 6 for lifelong; section 5 for EWC).

    loss = -ELBO(x_real, x_hat)                      approximate ELBO of eq. 5
           + consistency_weight * KL(Q_s(z_d|x_hat) || Q_t(z_d|x_hat))    lifelong only
           + lambda * max(0, L_I(z_c; x))            information gain, eq. 14
           + likelihood_weight * KL(P_s(x|z) || P_t(x|z))                 with-LL, app. 7.3
           + (gamma / 2) (xi - Xi)^T F (xi - Xi)     EWC only

Every term is a mean over the B rows of the minibatch (terms that live on the replayed rows
only are summed over those rows and divided by B), so their weights compare across tasks.

The student is a stack of S seeds (:mod:`lgm.models.stacked`): every term is computed per
seed (shape [S]) and the loss that is differentiated is their sum, which gives each seed the
gradient of its own loss. All randomness of a step comes in as :class:`StepNoise`, drawn per
seed outside the step, so that the step is a pure function of its inputs (and can be captured
in a CUDA graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lgm.losses import consistency_kl, elbo_terms, ewc_penalty, likelihood_consistency
from lgm.losses.info_gain import info_gain_penalty
from lgm.models.vae import DiscreteContinuousVAE
from lgm.training.replay import replay_count
from lgm.training.settings import ObjectiveWeights


@dataclass
class Teacher:
    """What the student learns from: the frozen model and, for EWC, its Fisher."""

    model: DiscreteContinuousVAE
    tasks_seen: int
    anchor: dict[str, Tensor] | None = None
    fisher: dict[str, Tensor] | None = None


@dataclass
class StepNoise:
    """The random numbers of one step, per seed: the posterior's Gaussian ``eps`` [S, B, zc]
    and Gumbel uniforms ``u`` [S, B, J]; the replay's prior draws ``z_rep`` [S, r, zc] and
    teacher codes ``codes`` [S, r]; ``order`` [S, B - r] indexes the real rows."""

    eps: Tensor
    u: Tensor
    z_rep: Tensor
    codes: Tensor
    order: Tensor


TERMS = ("loss", "neg_elbo", "consistency", "info_gain", "likelihood", "ewc")


class StudentObjective:
    """Callable ``(student, x_real, tau, noise) -> (loss, terms [6, S])`` for one method."""

    def __init__(self, weights: ObjectiveWeights, teacher: Teacher | None) -> None:
        self.weights, self.teacher = weights, teacher
        self.uses_consistency = weights.method == "lifelong" and teacher is not None
        self.uses_replay = teacher is not None and (weights.method == "lifelong"
                                                    or weights.ewc_replay)

    def replay_rows(self, batch_size: int) -> int:
        """How many rows of a minibatch are replayed (0 without a teacher)."""
        return replay_count(batch_size, self.teacher.tasks_seen) if self.uses_replay else 0

    def __call__(self, student: DiscreteContinuousVAE, x_real: Tensor, tau: float | Tensor,
                 noise: StepNoise) -> tuple[Tensor, Tensor]:
        w = self.weights
        zero = x_real.new_zeros(x_real.shape[0])
        n_rep = noise.codes.shape[1]
        if n_rep:
            with torch.no_grad():
                x_hat = self.teacher.model.decode_codes(noise.z_rep, noise.codes)
            x = torch.cat([x_real, x_hat], dim=1)
        else:
            x = x_real
        b = x.shape[1]
        out = student(x, tau, noise=(noise.eps, noise.u))
        neg_elbo = -elbo_terms(out, x).elbo.mean(-1)
        ig = info_gain_penalty(student, out) if w.info_gain_weight > 0 else zero
        cons, ll, ewc = zero, zero, zero
        if self.uses_consistency and n_rep:
            with torch.no_grad():
                teacher_logits = self.teacher.model.encode(x_hat).logits
            cons = consistency_kl(out.posterior.logits[:, -n_rep:], teacher_logits,
                                  direction=w.consistency_direction,
                                  pad_mass=w.pad_mass).sum(-1) / b
        if w.likelihood_weight > 0 and n_rep:
            z_d = torch.nn.functional.one_hot(noise.codes, self.teacher.model.discrete).float()
            ll = likelihood_consistency(student, self.teacher.model, noise.z_rep, z_d).sum(-1) / b
        if self.teacher is not None and self.teacher.fisher is not None:
            ewc = ewc_penalty(student, self.teacher.anchor, self.teacher.fisher, w.ewc_gamma)
        loss = (neg_elbo + w.consistency_weight * cons + w.info_gain_weight * ig
                + w.likelihood_weight * ll + ewc)
        terms = torch.stack([loss, neg_elbo, cons, ig, ll, ewc]).detach()
        return loss.sum(), terms
