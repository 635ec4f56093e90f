"""Distillation losses for deep DGMs in semi-auxiliary form (KD paper, sections 2-3).

With shared auxiliary noise eps ~ p(eps) (and inputs x ~ p_data, or none: data-free), the
teacher phi and the student theta each run ancestral sampling (:mod:`lgm.models.semi_auxiliary`)
and the losses compare their conditionals:

    L_sd    = E_eps,x  sum_j d( p_phi(y_j | eps, y_<j, x), p_theta(y_j | eps, y_<j, x) )   (eq. 4)
    L_z,i   = E_eps,x  d( p_phi(z_i | eps_<i, x), p_theta(z_i | eps_<i, x) )               (eq. 6)
    L_our   = L_sd + lambda * sum_i L_z,i                                                 (eq. 7)

a weighted sum of per-conditional divergences, weight 1 on a target's and lambda on a latent's
(:func:`eq7_weights`, :func:`weighted_sum`; the toy chains' stacked students use them directly).

Each model's latents are evaluated at *its own* latent ancestors, which are deterministic given
the shared eps: that is what lets the student's error not accumulate layer by layer. Targets
that are parents of other variables (a VRNN's x_t, a Helmholtz machine's y2) are the teacher's
samples in the student's pass too: the chain rule of KL(p_phi(y|eps) || p_theta(y|eps)) over
y = (y_1, ..., y_J) conditions each term on the teacher's y_<j (eq. 3 is this with no latent).

The local baseline (fig. 3d) instead evaluates every student conditional, latent and target, at
the *teacher's* samples and sums the KLs:

    L_local = E  sum_v KL( p_phi(v | Pa_phi(v)), p_theta(v | Pa_phi(v)) )

With no latent variable L_sd is vanilla KD (eq. 2); for a fully-visible autoregressive model it
is the sequence-level loss of eq. 3 (tests check both reductions).

``d`` is the KL divergence KL(teacher || student), or for Gaussian latents optionally the squared
2-Wasserstein distance ``||mu_t - mu_s||^2 + ||std_t - std_s||^2`` (the reference code's latent
term). Per-sample divergences are summed over a conditional's dimensions (``reduction="sum"``)
or averaged over them (``"mean"``, as the reference code does for its latent term).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lgm.losses.kl import kl_bernoulli, kl_categorical
from lgm.models.semi_auxiliary import (
    AncestralPass,
    Conditional,
    SemiAuxiliaryDGM,
    check_same_layout,
    gaussian_kl,
    gaussian_w2,
)

MEASURES = ("kl", "w2")
REDUCTIONS = ("sum", "mean")
PassView = Callable[[AncestralPass], AncestralPass]


def _reduce(d: Tensor, reduction: str) -> Tensor:
    """[N, ...] -> [N] by summing or averaging over everything but the sample axis."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    d = d.reshape(d.shape[0], -1)
    return d.sum(1) if reduction == "sum" else d.mean(1)


def divergence(t: Conditional, s: Conditional, measure: str = "kl",
               reduction: str = "sum") -> Tensor:
    """Per-sample d(teacher conditional, student conditional), shape [N]."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if t.kind != s.kind:
        raise ValueError(f"conditional {t.name!r}: teacher {t.kind} vs student {s.kind}")
    if measure == "w2" and t.kind != "gaussian":
        raise ValueError(f"conditional {t.name!r}: the 2-Wasserstein form needs Gaussians, "
                         f"got {t.kind}")
    if t.kind == "gaussian":
        fn = gaussian_w2 if measure == "w2" else gaussian_kl
        d = fn(t.params["mu"], t.params["std"], s.params["mu"], s.params["std"])
    elif t.kind == "bernoulli":
        d = kl_bernoulli(t.params["logits"], s.params["logits"])
    elif t.kind == "binomial":
        d = t.total_count * kl_bernoulli(t.params["logits"], s.params["logits"])
    else:  # categorical: the last axis holds the categories
        d = kl_categorical(t.params["logits"], s.params["logits"])
        if d.dim() == 1:
            d = d[:, None]
    return _reduce(d, reduction)


def surrogate_loss(teacher: AncestralPass, student: AncestralPass,
                   reduction: str = "sum") -> Tensor:
    """L_sd of eq. 4: KL over the target conditionals, mean over the N samples."""
    check_same_layout(teacher, student)
    terms = [divergence(t, s, "kl", reduction)
             for t, s in zip(teacher.conditionals, student.conditionals, strict=True)
             if t.role == "target"]
    if not terms:
        raise ValueError("the model has no target variable: nothing to distill")
    return torch.stack(terms).sum(0).mean()


def latent_loss(teacher: AncestralPass, student: AncestralPass, measure: str = "kl",
                reduction: str = "sum", skip: tuple[str, ...] = ()) -> Tensor:
    """sum_i L_z,i of eq. 6 over the latent conditionals (except names in ``skip``)."""
    check_same_layout(teacher, student)
    terms = [divergence(t, s, measure, reduction)
             for t, s in zip(teacher.conditionals, student.conditionals, strict=True)
             if t.role == "latent" and t.name not in skip]
    if not terms:
        return teacher.conditionals[0].sample.new_zeros(())
    return torch.stack(terms).sum(0).mean()


def eq7_weights(is_target: Tensor, lam: float) -> Tensor:
    """Eq. 7's weight of each divergence term (float64, the shape of ``is_target``): 1 for a
    target's (the terms of L_sd, eq. 4), lambda for a latent's (L_z,i, eq. 6)."""
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    return torch.full(is_target.shape, float(lam), dtype=torch.float64).masked_fill(is_target, 1.0)


def weighted_sum(terms: Sequence[Tensor], weights: Sequence[Tensor | float]) -> Tensor:
    """sum_k w_k d_k, added term by term in order: eq. 7 with the weights of :func:`eq7_weights`
    (or (1, lambda) on its parts (L_sd, sum_i L_z,i)); the local loss with every w_k = 1."""
    total = terms[0] * weights[0]
    for d, w in zip(terms[1:], weights[1:], strict=True):
        total = total + d * w
    return total


@dataclass
class DistillationLoss:
    """The value of eq. 7 and its two parts (parts detached)."""

    loss: Tensor
    surrogate: Tensor
    latent: Tensor


def target_free_loss(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM,
                     noise: dict[str, Tensor], x: Tensor | None = None, *, lam: float = 0.1,
                     latent_measure: str = "kl", latent_reduction: str = "sum",
                     target_reduction: str = "sum", skip: tuple[str, ...] = (),
                     view: PassView | None = None, steps: int = 1) -> DistillationLoss:
    """L_our = L_sd + lambda * sum_i L_z,i (eq. 7), teacher and student sharing ``noise``.

    The teacher's pass runs without gradients; the student's pass is differentiable wherever
    its reparameterised path is (hard discrete samples pass no gradient, eq. 6 does). ``view``
    maps both passes before the divergences (a VRNN's :func:`~lgm.models.vrnn.stack_steps`:
    the same sums, fewer kernels); ``steps`` divides both parts (T: a loss per time step).
    """
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    with torch.no_grad():
        t_pass = teacher.ancestral(noise, x)
    # p(y | eps, x) = prod_j p(y_j | eps, y_<j, x): the student reads the teacher's targets
    s_pass = student.ancestral(noise, x, parents={c.name: c.sample for c in t_pass.targets})
    if view is not None:
        t_pass, s_pass = view(t_pass), view(s_pass)
    sd = surrogate_loss(t_pass, s_pass, target_reduction) / steps
    lz = latent_loss(t_pass, s_pass, latent_measure, latent_reduction, skip) / steps
    return DistillationLoss(weighted_sum([sd, lz], [1.0, lam]), sd.detach(), lz.detach())


def local_distillation_loss(teacher: SemiAuxiliaryDGM, student: SemiAuxiliaryDGM,
                            noise: dict[str, Tensor], x: Tensor | None = None, *,
                            reduction: str = "sum", skip: tuple[str, ...] = (),
                            view: PassView | None = None, steps: int = 1) -> Tensor:
    """The local baseline (fig. 3d): every conditional's KL at the teacher's samples, summed
    (``view`` and ``steps`` as for :func:`target_free_loss`)."""
    with torch.no_grad():
        t_pass = teacher.ancestral(noise, x)
    s_pass = student.ancestral(noise, x, parents=t_pass.samples())
    check_same_layout(t_pass, s_pass)
    if view is not None:
        t_pass, s_pass = view(t_pass), view(s_pass)
    terms = [divergence(t, s, "kl", reduction)
             for t, s in zip(t_pass.conditionals, s_pass.conditionals, strict=True)
             if t.name not in skip]
    return torch.stack(terms).sum(0).mean() / steps
