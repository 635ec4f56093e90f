"""The (negative) information-gain regulariser of section 4.2 (eq. 6, 13, 14).

    L_I(z_c; x_hat) = E_{x, z ~ Q(z|x), x_hat ~ P(x_hat|z)} [ log Q(z_c | x_hat) ] + H(z_c)

a variational lower bound on the mutual information I(z_c; x_hat) (as in InfoGAN). The
student *minimises* lambda * L_I, which pushes the information about x_hat out of z_c and into
z_d. We take x_hat as the decoder's mean (sigmoid of the logits), re-encode it, and evaluate
the log-density of the z_c that produced it (the Monte-Carlo variant). H(z_c) is taken as the
entropy of the prior N(0, I), a constant that does not change gradients but keeps the value
comparable to a mutual information in nats.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lgm.losses.kl import log_normal
from lgm.models.vae import DiscreteContinuousVAE, VAEOutput


def prior_entropy(dim: int) -> float:
    """Entropy of N(0, I_dim): 0.5 * dim * log(2 pi e)."""
    return 0.5 * dim * math.log(2 * math.pi * math.e)


def info_gain(model: DiscreteContinuousVAE, out: VAEOutput) -> Tensor:
    """Per-sample L_I(z_c; x_hat) of eq. 14 for a pass ``out`` of ``model``, shape [B]."""
    x_hat = torch.sigmoid(out.x_logits)
    post = model.encode(x_hat)
    return log_normal(out.z_c, post.mu, post.logvar) + prior_entropy(out.z_c.shape[-1])
