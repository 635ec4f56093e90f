"""Generative replay from the teacher (section 4, algorithm 1; section 4.2).

After k distributions the student's minibatch mixes real and replayed rows with
pi = k / (k + 1) replayed. Like the reference code we split each minibatch deterministically
(``replay_count`` rows replayed, the rest real) rather than drawing omega ~ Ber(pi) per row:
the expected proportion is the same and the shapes stay static. Replayed rows pick the
teacher's discrete code uniformly and z_c ~ N(0, I), and are the decoder's sigmoid means
(:meth:`DiscreteContinuousVAE.decode_codes`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lgm.models.vae import DiscreteContinuousVAE


def replay_count(batch_size: int, tasks_seen: int) -> int:
    """Rows of a minibatch of ``batch_size`` replayed after ``tasks_seen`` = k distributions."""
    if batch_size < 1 or tasks_seen < 0:
        raise ValueError(f"need batch_size >= 1 and tasks_seen >= 0, got {batch_size}, "
                         f"{tasks_seen}")
    return int(batch_size * tasks_seen / (tasks_seen + 1))


@torch.no_grad()
def replay(teacher: DiscreteContinuousVAE, n: int,
           generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` teacher samples x_hat ~ P_Theta(x | z), with the z = (z_c, z_d) that made them."""
    z_c, z_d = teacher.sample_prior(n, generator=generator)
    return torch.sigmoid(teacher.decode(z_c, z_d)), z_c, z_d
