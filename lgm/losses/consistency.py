"""The posterior consistency regulariser (eq. 6, section 4.1; appendix 7.9).

    KL( Q_student(z_d | x_hat) || Q_teacher(z_d | x_hat) )     on replayed x_hat only

over the categorical part of the posterior. The student has more codes than its teacher (the
discrete latent grows by one per task, appendix 7.8.2). The paper pads the teacher's
distribution with zeros; taken literally the reverse KL is then infinite wherever the student
puts any mass on a new code, and the reference code instead padded the teacher's
*log*-probabilities with 0 (an unnormalised "probability" of 1 for each new code).

Our rule (``pad_teacher``): the teacher's categorical is padded with a small total mass
``pad_mass`` spread uniformly over the new codes, and its old codes are scaled by
``1 - pad_mass``. It is a proper distribution, the KL is finite in both directions, it equals
the plain KL when no code was added, and as ``pad_mass -> 0`` the reverse KL tends to the
zero-padded one: it strongly discourages the student from using a new code on replayed data,
which is what zero-padding means.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.losses.kl import kl_categorical

PAD_MASS = 1e-4


def pad_teacher(teacher_logits: Tensor, num_codes: int, pad_mass: float = PAD_MASS) -> Tensor:
    """Log-probabilities of the teacher's categorical, padded to ``num_codes`` codes."""
    j_t = teacher_logits.shape[-1]
    if num_codes < j_t:
        raise ValueError(f"student has {num_codes} codes, fewer than its teacher's {j_t}")
    log_p = F.log_softmax(teacher_logits, dim=-1)
    extra = num_codes - j_t
    if extra == 0:
        return log_p
    if not 0.0 < pad_mass < 1.0:
        raise ValueError(f"pad_mass must be in (0, 1), got {pad_mass}")
    old = log_p + math.log1p(-pad_mass)
    new = torch.full((*log_p.shape[:-1], extra), math.log(pad_mass / extra),
                     device=log_p.device, dtype=log_p.dtype)
    return torch.cat([old, new], dim=-1)


def consistency_kl(
    student_logits: Tensor,
    teacher_logits: Tensor,
    *,
    direction: str = "reverse",
    pad_mass: float = PAD_MASS,
) -> Tensor:
    """Per-sample consistency KL on replayed data, shape [B].

    ``direction="reverse"``: KL(Q_student || Q_teacher), the paper's choice (mode seeking).
    ``direction="forward"``: KL(Q_teacher || Q_student) (appendix 7.9).
    """
    teacher = pad_teacher(teacher_logits, student_logits.shape[-1], pad_mass)
    if direction == "reverse":
        return kl_categorical(student_logits, teacher)
    if direction == "forward":
        return kl_categorical(teacher, student_logits)
    raise ValueError(f"direction must be 'reverse' or 'forward', got {direction!r}")
