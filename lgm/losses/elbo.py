"""The evidence lower bound of the discrete+continuous VAE (eq. 2, 17).

    ELBO(x) = E_Q[log P(x | z_c, z_d)] - KL(Q(z_c|x) || N(0, I)) - KL(Q(z_d|x) || Cat(1/J))

estimated with one sample of z for the reconstruction term and closed-form KLs (the paper's
single-sample estimate). Values are nats per image, summed over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.losses.kl import kl_categorical_uniform, kl_gaussian_std_normal
from lgm.models.vae import DiscreteContinuousVAE, VAEOutput


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


@torch.no_grad()
def stacked_negative_elbo(model: DiscreteContinuousVAE, x: Tensor, seeds: list[int], *,
                          batch_size: int = 1000) -> Tensor:
    """Per-seed mean -ELBO (eq. 17) of a stack of S models on ``x`` [S, N, C, H, W], shape [S].

    Seed s's noise comes from a generator seeded by ``seeds[s]``, drawn chunk by chunk
    (Gaussian, then Gumbel uniforms), so a stack gives seed for seed what one-seed models give.
    """
    was_training = model.training
    model.eval()
    gens = [torch.Generator(device=x.device).manual_seed(s) for s in seeds]
    total = torch.zeros(x.shape[0], device=x.device, dtype=torch.float64)
    zc, j = model.continuous, model.discrete
    for chunk in x.split(batch_size, dim=1):
        n = chunk.shape[1]
        draws = [(torch.randn((n, zc), generator=g, device=x.device),
                  torch.rand((n, j), generator=g, device=x.device)) for g in gens]
        noise = (torch.stack([d[0] for d in draws]), torch.stack([d[1] for d in draws]))
        out = model(chunk, hard=True, noise=noise)
        total += -elbo_terms(out, chunk).elbo.sum(-1).double()
    model.train(was_training)
    return total / x.shape[1]
