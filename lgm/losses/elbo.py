"""The evidence lower bound of the discrete+continuous VAE (eq. 2, 17).

    ELBO(x) = E_Q[log P(x | z_c, z_d)] - KL(Q(z_c|x) || N(0, I)) - KL(Q(z_d|x) || Cat(1/J))

estimated with one sample of z for the reconstruction term and closed-form KLs (the paper's
single-sample estimate). Values are nats per image, summed over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from lgm.losses.kl import kl_categorical_uniform, kl_gaussian_std_normal
from lgm.models.vae import VAEOutput


@dataclass
class ELBOTerms:
    """Per-sample terms, each of shape [B] (or [S, B] for a stack of seeds)."""

    log_likelihood: Tensor
    kl_continuous: Tensor
    kl_discrete: Tensor

    @property
    def elbo(self) -> Tensor:
        return self.log_likelihood - self.kl_continuous - self.kl_discrete


def bernoulli_log_likelihood(x_logits: Tensor, x: Tensor) -> Tensor:
    """log P(x | z) for independent Bernoulli pixels with the decoder's logits, summed over the
    last three (C, H, W) dimensions."""
    ll = -F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return ll.flatten(-3).sum(-1)


def elbo_terms(out: VAEOutput, x: Tensor) -> ELBOTerms:
    """Eq. 17 term by term for one pass of the model on ``x``."""
    post = out.posterior
    return ELBOTerms(
        log_likelihood=bernoulli_log_likelihood(out.x_logits, x),
        kl_continuous=kl_gaussian_std_normal(post.mu, post.logvar),
        kl_discrete=kl_categorical_uniform(post.logits),
    )
