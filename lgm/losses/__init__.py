"""Losses of the lifelong VAE, one small function per equation of the paper."""

from lgm.losses.consistency import consistency_kl, pad_teacher
from lgm.losses.elbo import ELBOTerms, bernoulli_log_likelihood, elbo_terms
from lgm.losses.ewc import diagonal_fisher, ewc_penalty
from lgm.losses.info_gain import info_gain
from lgm.losses.kl import (
    kl_categorical,
    kl_categorical_uniform,
    kl_gaussian,
    kl_gaussian_std_normal,
)
from lgm.losses.likelihood_reg import bernoulli_kl, likelihood_consistency

__all__ = [
    "ELBOTerms", "bernoulli_kl", "bernoulli_log_likelihood", "consistency_kl", "diagonal_fisher",
    "elbo_terms", "ewc_penalty", "info_gain", "kl_categorical", "kl_categorical_uniform",
    "kl_gaussian", "kl_gaussian_std_normal", "likelihood_consistency", "pad_teacher",
]
