"""Closed-form KL divergences of the posteriors used by the lifelong VAE.

The guide factorises as ``Q(z_c, z_d | x) = Q(z_c | x) Q(z_d | x)`` (section 4.2), with the
priors ``z_c ~ N(0, I)`` and ``z_d ~ Cat(1/J)``. Every function returns one value per row of
the batch (shape ``[B]``), summed over latent dimensions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def kl_gaussian(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) for diagonal Gaussians (eq. 7, first line).

    0.5 * sum_j [ (var_q + (mu_q - mu_p)^2) / var_p - 1 + logvar_p - logvar_q ]
    """
    var_ratio = torch.exp(logvar_q - logvar_p)
    mean_term = (mu_q - mu_p).pow(2) * torch.exp(-logvar_p)
    return 0.5 * (var_ratio + mean_term - 1.0 - logvar_q + logvar_p).sum(-1)


def kl_gaussian_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, e^logvar) || N(0, I)), the continuous part of the ELBO's KL (eq. 17).

    0.5 * sum_j [ var + mu^2 - 1 - logvar ]. Takes the log-variance, not a standard deviation
    (the reference code mixed the two up).
    """
    return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(-1)


def kl_categorical(logits_q: Tensor, logits_p: Tensor) -> Tensor:
    """KL(Cat(softmax(logits_q)) || Cat(softmax(logits_p))) = -H(q) + H(q, p) (eq. 9)."""
    log_q = F.log_softmax(logits_q, dim=-1)
    log_p = F.log_softmax(logits_p, dim=-1)
    return (log_q.exp() * (log_q - log_p)).sum(-1)


def kl_bernoulli(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """Elementwise KL(Bern(sigmoid(logits_p)) || Bern(sigmoid(logits_q))), no sum."""
    p = torch.sigmoid(logits_p)
    return (p * (F.logsigmoid(logits_p) - F.logsigmoid(logits_q))
            + (1 - p) * (F.logsigmoid(-logits_p) - F.logsigmoid(-logits_q)))


def kl_categorical_uniform(logits: Tensor) -> Tensor:
    """KL(Cat(softmax(logits)) || Cat(1/J)) = log J - H(q), the discrete part of the ELBO's KL."""
    log_q = F.log_softmax(logits, dim=-1)
    return (log_q.exp() * log_q).sum(-1) + math.log(logits.shape[-1])


def entropy_categorical(logits: Tensor) -> Tensor:
    """H(q) = -sum_i q_i log q_i."""
    log_q = F.log_softmax(logits, dim=-1)
    return -(log_q.exp() * log_q).sum(-1)


def cross_entropy_categorical(logits_q: Tensor, logits_p: Tensor) -> Tensor:
    """H(q, p) = -sum_i q_i log p_i."""
    return -(F.softmax(logits_q, -1) * F.log_softmax(logits_p, -1)).sum(-1)


def corollary1_reparameterisation(
    mu_s: Tensor, logvar_s: Tensor, logvar_e: Tensor
) -> tuple[Tensor, Tensor]:
    """Corollary 1 (eq. 8): the student's parameters seen through a centred teacher.

    mu* = mu_S / sigma_E and sigma*^2 = sigma_S^2 / sigma_E^2, so that
    KL(N(mu_S, sigma_S^2) || N(0, sigma_E^2)) = KL(N(mu*, sigma*^2) || N(0, I)).
    (The paper prints an extra ``- log|Sigma_E|`` after the second line of eq. 7; the algebra of
    that line gives the identity above with no extra term, and ``tests/test_losses.py`` checks
    it numerically.)
    """
    std_e = torch.exp(0.5 * logvar_e)
    return mu_s / std_e, logvar_s - logvar_e


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag e^logvar), summed over the last dimension."""
    return -0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)
