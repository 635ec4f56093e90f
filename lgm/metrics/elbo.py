"""Negative test ELBO (section 5) and the importance-weighted bound.

The paper reports the single-sample negative ELBO, in nats per image summed over pixels, on
the union of the test sets of every task seen so far. Evaluation uses the model in eval mode
(BatchNorm running statistics) and the hard one-hot z_d (argmax of the Gumbel-perturbed
logits), with noise from a generator seeded by ``seed`` so that a result is repeatable and
evaluating never disturbs the training noise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from lgm.losses.elbo import bernoulli_log_likelihood, stacked_negative_elbo
from lgm.losses.kl import log_normal
from lgm.models.vae import DiscreteContinuousVAE


def _generator(x: Tensor, seed: int) -> torch.Generator:
    return torch.Generator(device=x.device).manual_seed(seed)


@torch.no_grad()
def negative_elbo(model: DiscreteContinuousVAE, x: Tensor, *, seed: int = 0,
                  batch_size: int = 1000) -> float:
    """Mean single-sample -ELBO(x) over ``x`` (eq. 17), nats per image (a one-seed model)."""
    return stacked_negative_elbo(model, x[None], [seed], batch_size=batch_size)[0].item()


@torch.no_grad()
def importance_weighted_bound(model: DiscreteContinuousVAE, x: Tensor, k: int, *,
                              seed: int = 0, batch_size: int = 500) -> float:
    """Mean -log (1/K) sum_k P(x, z_k) / Q(z_k | x), z_d drawn as a categorical.

    With K = 1 this is a single-sample bound whose discrete KL is estimated rather than
    exact; it tightens towards -log P(x) as K grows.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    was_training = model.training
    model.eval()
    g, total = _generator(x, seed), torch.zeros((), device=x.device, dtype=torch.float64)
    for chunk in x.split(batch_size):
        post = model.encode(chunk)
        rep = chunk.repeat_interleave(k, 0)
        mu, logvar, logits = (t.repeat_interleave(k, 0) for t in
                              (post.mu, post.logvar, post.logits))
        z_c = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g,
                                                         device=mu.device)
        codes = torch.multinomial(F.softmax(logits, -1), 1, generator=g).squeeze(-1)
        z_d = F.one_hot(codes, model.discrete).float()
        log_q = log_normal(z_c, mu, logvar) + F.log_softmax(logits, -1).gather(
            -1, codes[:, None]).squeeze(-1)
        log_prior = log_normal(z_c, torch.zeros_like(z_c), torch.zeros_like(z_c)) - math.log(
            model.discrete)
        log_w = bernoulli_log_likelihood(model.decode(z_c, z_d), rep) + log_prior - log_q
        log_w = log_w.view(len(chunk), k)
        total += -(torch.logsumexp(log_w, 1) - math.log(k)).sum().double()
    model.train(was_training)
    return total.item() / len(x)


@torch.no_grad()
def posterior_agreement(student: DiscreteContinuousVAE, teacher: DiscreteContinuousVAE,
                        x: Tensor, batch_size: int = 1000) -> float:
    """Teacher-student consistency: share of ``x`` where argmax Q(z_d|x) agrees.

    A student argmax on a code the teacher does not have counts as a disagreement.
    """
    modes = student.training, teacher.training
    student.eval()
    teacher.eval()
    agree = 0
    for chunk in x.split(batch_size):
        s = student.encode(chunk).logits.argmax(-1)
        t = teacher.encode(chunk).logits.argmax(-1)
        agree += int((s == t).sum())
    student.train(modes[0])
    teacher.train(modes[1])
    return agree / len(x)
