"""Elastic weight consolidation baseline (section 5, "EWC learning objective").

    ELBO(x) - (gamma / 2) * (xi - Xi)^T F (xi - Xi),
    F = diag( grad_Xi E_Q[ log P(x, z) / Q(z | x) ] )^2

where xi are the student's and Xi the teacher's parameters. F is the diagonal empirical Fisher:
the mean over samples of the squared per-sample gradient of the per-sample negative ELBO, on
samples of the task just learnt; the Fishers of successive tasks are summed.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from lgm.losses.elbo import elbo_terms
from lgm.models.vae import DiscreteContinuousVAE


def diagonal_fisher(
    model: DiscreteContinuousVAE, x: Tensor, *, tau: float, batch_size: int = 256
) -> dict[str, Tensor]:
    """Mean of squared per-sample gradients of -ELBO(x_i), one tensor per parameter.

    Per-sample gradients come from ``torch.func.vmap(grad(...))`` with independent noise per
    sample; the model is put in eval mode (BatchNorm, if any, uses its running statistics).
    """
    was_training = model.training
    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def neg_elbo(p: dict[str, Tensor], xi: Tensor) -> Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),), {"tau": tau})
        return -elbo_terms(out, xi.unsqueeze(0)).elbo.sum()

    per_sample = vmap(grad(neg_elbo), in_dims=(None, 0), randomness="different")
    fisher = {k: torch.zeros_like(v) for k, v in params.items()}
    for chunk in x.split(batch_size):
        grads = per_sample(params, chunk)
        for k, g in grads.items():
            fisher[k] += g.pow(2).sum(0)
    model.train(was_training)
    return {k: f / len(x) for k, f in fisher.items()}


def ewc_penalty(
    model: DiscreteContinuousVAE,
    anchor: dict[str, Tensor],
    fisher: dict[str, Tensor],
    gamma: float,
) -> Tensor:
    """(gamma / 2) * sum_k F_k (theta_k - theta*_k)^2 over every parameter with a Fisher.

    One value per seed (parameters carry the seed axis first), shape [S].
    """
    p0 = next(model.parameters())
    total = torch.zeros(p0.shape[0], device=p0.device)
    for name, p in model.named_parameters():
        if name in fisher:
            total = total + (fisher[name] * (p - anchor[name]).pow(2)).flatten(1).sum(1)
    return 0.5 * gamma * total
