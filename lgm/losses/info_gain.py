"""The (negative) information-gain regulariser of section 4.2 (eq. 6, 13, 14).

    L_I(z_c; x_hat) = E_{x, z ~ Q(z|x), x_hat ~ P(x_hat|z)} [ log Q(z_c | x_hat) ] + H(z_c)

a variational lower bound on the mutual information I(z_c; x_hat) (as in InfoGAN). The
student *minimises* lambda * L_I, which pushes the information about x_hat out of z_c and into
z_d. We take x_hat as the decoder's mean (sigmoid of the logits), re-encode it, and evaluate
the log-density of the z_c that produced it (the Monte-Carlo variant). H(z_c) is taken as the
entropy of the prior N(0, I), a constant that does not change gradients but keeps the value
comparable to a mutual information in nats.

The re-encoding pass uses the encoder as a fixed critic: its parameters are detached there (and
its BatchNorm statistics are not updated), so the gradient reaches the decoder through x_hat
and the first encoder pass through z_c, but not Q's own parameters. Minimising a *lower bound*
over the bound's own variational distribution is ill-posed: Q can make the bound arbitrarily
low by inflating its variance on x_hat, and without the detach the loss ran to -1e30 within
one task (measured on split FashionMNIST, quick preset). The encoder is still trained as a
posterior by the ELBO, which keeps the critic meaningful; this is the InfoGAN reading, with Q
maximising the bound and the generator minimising it, with Q's step done by the ELBO.

Even so the term stays a lower bound that is minimised: the decoder can still look for x_hat on
which the critic is confidently wrong, held back only by the reconstruction term. At the
paper's lambda = 0.01 it is stable (10 tasks of split FashionMNIST, quick preset); with
lambda = 1 on tiny data it ran away (L_I about -1e13 within 8 epochs). Large lambdas in the
lambda sweep are therefore to be read with that in mind.

The critic's variance is floored at exp(CRITIC_LOGVAR_MIN) (std 0.05). Any Q gives a valid
lower bound, so this only narrows the critic's family; without it a confident critic on the
first batch of a new task (log-variance -20 on split FashionMNIST task 8, vanilla, quick
preset) gave L_I = -3e25 and a NaN gradient.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.func import functional_call

from lgm.losses.kl import log_normal
from lgm.models.vae import DiscreteContinuousVAE, VAEOutput

CRITIC_LOGVAR_MIN = -6.0


def prior_entropy(dim: int) -> float:
    """Entropy of N(0, I_dim): 0.5 * dim * log(2 pi e)."""
    return 0.5 * dim * math.log(2 * math.pi * math.e)


def info_gain_penalty(model: DiscreteContinuousVAE, out: VAEOutput) -> Tensor:
    """The term the student minimises: max(0, mean over the batch of L_I), per seed.

    The mutual information is >= 0, so a negative estimate of the bound says only that the
    critic is wrong on these x_hat, not that z_c carries "negative information"; clamping the
    batch mean at 0 leaves no gradient towards exploiting such a critic. Without it, lifelong
    training on permuted MNIST (quick preset) drove the loss to -1e14 within two tasks: the
    reward for moving z_c away from the critic's prediction grows faster than the KL to the
    prior penalises it.
    """
    return info_gain(model, out).mean(-1).clamp(min=0.0)


def critic_encode(model: DiscreteContinuousVAE, x: Tensor) -> Tensor:
    """The encoder's output on ``x`` with its parameters detached and its buffers untouched."""
    x, added = model._stacked(x, 3)
    params = {k: v.detach() for k, v in model.encoder.named_parameters()}
    buffers = {k: v.clone() for k, v in model.encoder.named_buffers()}
    h = functional_call(model.encoder, (params, buffers), (x,))
    return h[0] if added else h


def info_gain(model: DiscreteContinuousVAE, out: VAEOutput) -> Tensor:
    """Per-sample L_I(z_c; x_hat) of eq. 14 for a pass ``out`` of ``model``, [B] or [S, B]."""
    x_hat = torch.sigmoid(out.x_logits)
    post = model.split(critic_encode(model, x_hat))
    logvar = post.logvar.clamp(min=CRITIC_LOGVAR_MIN)
    return log_normal(out.z_c, post.mu, logvar) + prior_entropy(out.z_c.shape[-1])
