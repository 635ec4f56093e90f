"""The likelihood cross-model regulariser of appendix 7.3 (the "with-LL" ablation).

    KL[ P_theta(x_hat | z) || P_Theta(x_hat | z) ]     on replayed data

Both decoders read the same latent z = [z_c, z_d] that the teacher used to generate x_hat;
the teacher's one-hot z_d is zero-padded to the student's size (a new code is simply never
on). The KL between independent Bernoulli pixels is summed over pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.losses.kl import kl_bernoulli
from lgm.models.vae import DiscreteContinuousVAE


def bernoulli_kl(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """KL(Bern(sigmoid(logits_p)) || Bern(sigmoid(logits_q))) summed over (C, H, W)."""
    return kl_bernoulli(logits_p, logits_q).flatten(-3).sum(-1)


def likelihood_consistency(
    student: DiscreteContinuousVAE, teacher: DiscreteContinuousVAE, z_c: Tensor, z_d: Tensor
) -> Tensor:
    """Per-sample KL between the student's and the teacher's decoders at the teacher's z."""
    z_d_student = F.pad(z_d, (0, student.discrete - z_d.shape[-1]))
    with torch.no_grad():
        teacher_logits = teacher.decode(z_c, z_d)
    return bernoulli_kl(student.decode(z_c, z_d_student), teacher_logits)
