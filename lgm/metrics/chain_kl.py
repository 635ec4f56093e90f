"""Exact KLs of the toy chains' output laws (KD paper, section 3.2 / Fig. 2, section 4.1 / Fig. 5).

Both toy chains are one-dimensional Markov chains z_1 -> z_2 -> ... -> z_{L+1} = y, so the law of
every variable can be *computed* instead of estimated from samples (the paper estimates
KL(teacher y || student y) by density-ratio estimation, :mod:`lgm.metrics.density_ratio`):

- **binomial chain** (section 4.1): the law of z_{j+1} is a vector over the counts 0..n
  (n = 1000), propagated through the transition matrix T_j[k, m] = B(m; n, p_j(k)):
  p_{j+1} = p_j T_j. Rows holding less than ``PRUNE`` of mass and columns beyond
  mean + 12 sd + 30 of every kept row are left out (mass below 1e-18); otherwise exact.
- **Gaussian chain** (section 3.2): the density of z_{j+1} on a uniform grid,
  p_{j+1}(y) = int p_j(z) N(y; mu_j(z), s_j(z)^2) dz by the trapezoid rule on the grid (for
  Gaussian kernels it converges faster than any power of the spacing h; we use h <= s / 8 and
  check it against a linear-Gaussian chain's closed form in the tests, and by halving h).

The first step integrates over the root z_1 (uniform on an interval, or any law given as
quadrature nodes and weights) with composite Gauss-Legendre quadrature.

Per-layer errors (the mechanism): e_j = E_{z ~ teacher}[KL(p_t(z_{j+1} | z) || p_s(z_{j+1} | z))],
each conditional's KL at the teacher's own marginal; by the chain rule of KL their sum is the KL
between the joint laws of (z_2, ..., y), which bounds the output KL (data processing):
KL(teacher y || student y) <= sum_j e_j. How far below the bound the output KL lies is how much
the chain's contraction washes the per-layer errors out.

A *conditional* here is a callable ``(j, z) -> params`` taking parent values ``z`` of shape
[n, K] (n chains, K values each) to the parameters of conditional j of those n chains, each
[n, K]: ``{"mu", "std"}`` (Gaussian) or ``{"logits"}`` (binomial with ``total_count`` trials).
``active[j]`` says how many chains (a prefix) still have a conditional j.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import logsigmoid

Conditional = Callable[[int, Tensor], dict[str, Tensor]]
KINDS = ("gaussian", "binomial")
PRUNE = 1e-20  # binomial source states with less mass than this (in every chain) are dropped
TINY = 1e-300
KERNEL_ELEMENTS = 2 ** 23  # memory bound of one kernel chunk (float64 entries)
BAND = 12.0  # a Gaussian kernel is evaluated within this many stds of its mean


def gauss_legendre(low: float, high: float, panels: int = 64, order: int = 8
                   ) -> tuple[Tensor, Tensor]:
    """Composite Gauss-Legendre nodes and weights on [low, high] (float64, weights sum to
    high - low)."""
    if not high > low or panels < 1 or order < 1:
        raise ValueError(f"need high > low, panels >= 1, order >= 1; got {low}, {high}, "
                         f"{panels}, {order}")
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(low, high, panels + 1)
    half, mid = np.diff(edges) / 2, (edges[1:] + edges[:-1]) / 2
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return torch.from_numpy(nodes), torch.from_numpy(weights)


def uniform_root(low: float, high: float, panels: int = 64) -> tuple[Tensor, Tensor]:
    """Quadrature of the law U[low, high]: nodes and probability weights (sum 1)."""
    nodes, weights = gauss_legendre(low, high, panels)
    return nodes, weights / (high - low)


def uniform_grid(low: float, high: float, step: float) -> tuple[Tensor, Tensor]:
    """A grid from ``low`` to ``high`` (at least) with spacing ``step``, and its trapezoid
    weights."""
    if not (high > low and step > 0):
        raise ValueError(f"need high > low and step > 0; got {low}, {high}, {step}")
    count = int(math.ceil((high - low) / step)) + 1
    grid = low + step * torch.arange(count, dtype=torch.float64)
    weights = torch.full((count,), step, dtype=torch.float64)
    weights[0] = weights[-1] = step / 2
    return grid, weights


def _check(kind: str, total_count: int | None) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "binomial" and not (isinstance(total_count, int) and total_count >= 1):
        raise ValueError(f"a binomial chain needs total_count >= 1, got {total_count!r}")


def _gaussian_step(mass: Tensor, params: dict[str, Tensor], grid: Tensor) -> Tensor:
    """[n, N] density on the uniform ``grid`` of sum_k mass[c, k] N(y; mu[c, k], std[c, k]^2).

    Each source point spreads only over the grid points within ``BAND`` of its stds (the rest
    of a Gaussian's mass is below 1e-31), added with ``scatter_add``."""
    mu, std = params["mu"].double(), params["std"].double()
    n, k = mass.shape
    size, low = len(grid), float(grid[0])
    step = float(grid[1] - grid[0]) if size > 1 else 1.0
    out = torch.zeros(n, size, dtype=torch.float64)
    norm = math.sqrt(2 * math.pi)
    rows = max(1, n)
    while rows > 1 and rows * k * (2 * math.ceil(BAND * float(std.max()) / step) + 3) > \
            KERNEL_ELEMENTS:
        rows //= 2
    for a in range(0, n, rows):
        b = min(n, a + rows)
        half = math.ceil(BAND * float(std[a:b].max()) / step) + 1
        centre = torch.round((mu[a:b] - low) / step)
        idx = centre[..., None] + torch.arange(-half, half + 1, dtype=torch.float64)
        inside = (idx >= 0) & (idx < size)
        z = (low + idx * step - mu[a:b, :, None]) / std[a:b, :, None]
        values = torch.exp(-0.5 * z * z) / (std[a:b, :, None] * norm) * mass[a:b, :, None]
        values = torch.where(inside, values, torch.zeros_like(values))
        flat = idx.clamp(0, size - 1).long().reshape(b - a, -1)
        out[a:b].scatter_add_(1, flat, values.reshape(b - a, -1))
    return out


def _binomial_step(mass: Tensor, params: dict[str, Tensor], total_count: int) -> Tensor:
    """[n, total_count + 1] pmf of sum_k mass[c, k] B(m; total_count, sigmoid(logits[c, k]))."""
    n_tr = total_count
    logits = params["logits"].double()
    keep = (mass > PRUNE).any(0).nonzero()[:, 0]
    mass, logits = mass[:, keep], logits[:, keep]
    p = torch.sigmoid(logits)
    spread = n_tr * p + 12 * (n_tr * p * (1 - p)).sqrt() + 30
    top = int(min(n_tr, math.ceil(float(spread.max()))))
    m = torch.arange(top + 1, dtype=torch.float64)
    log_choose = (math.lgamma(n_tr + 1) - torch.lgamma(m + 1) - torch.lgamma(n_tr - m + 1))
    out = torch.zeros(mass.shape[0], n_tr + 1, dtype=torch.float64)
    rows = max(1, KERNEL_ELEMENTS // (max(1, mass.shape[1]) * (top + 1)))
    for a in range(0, mass.shape[0], rows):
        b = min(mass.shape[0], a + rows)
        log_pmf = (log_choose + m * logsigmoid(logits[a:b, :, None])
                   + (n_tr - m) * logsigmoid(-logits[a:b, :, None]))
        out[a:b, : top + 1] = torch.einsum("ck,ckm->cm", mass[a:b], log_pmf.exp())
    return out


@torch.no_grad()
def propagate(kind: str, conditional: Conditional, active: list[int], root: tuple[Tensor, Tensor],
              grid: tuple[Tensor, Tensor] | None = None, total_count: int | None = None
              ) -> list[Tensor]:
    """The laws of z_2, ..., z_{J+1} (J = len(active)) of a stack of chains, exactly.

    ``root`` = (nodes, probability weights) of z_1's law; ``grid`` = (points, trapezoid weights)
    for a Gaussian chain (the binomial chain's states are 0..total_count). Returns one tensor per
    layer j, [active[j], S]: densities at the grid points (Gaussian) or pmfs (binomial).
    """
    _check(kind, total_count)
    if kind == "gaussian" and grid is None:
        raise ValueError("a Gaussian chain needs a grid")
    if any(b > a for a, b in zip(active, active[1:], strict=False)) or not active:
        raise ValueError(f"active must be a non-empty non-increasing list, got {active}")
    nodes, weights = root
    if kind == "gaussian":
        points, point_weights = grid  # type: ignore[misc]
    else:
        points = torch.arange(total_count + 1, dtype=torch.float64)  # type: ignore[operator]
        point_weights = torch.ones_like(points)
    laws: list[Tensor] = []
    for j, n in enumerate(active):
        if j == 0:
            z, mass = nodes.expand(n, -1), weights.expand(n, -1)
        else:
            z, mass = points.expand(n, -1), laws[-1][:n] * point_weights
        params = conditional(j, z)
        laws.append(_gaussian_step(mass, params, points) if kind == "gaussian"
                    else _binomial_step(mass, params, total_count))  # type: ignore[arg-type]
    return laws


def mass_outside(law: Tensor, weights: Tensor | None = None) -> Tensor:
    """1 - the mass of ``law`` on its grid (trapezoid weights ``weights``) or states (pmf,
    none): what :func:`propagate` lost beyond the grid's range (it does not renormalise), over
    the last axis."""
    w = torch.ones_like(law) if weights is None else weights
    return 1.0 - (w * law).sum(-1)


def law_kl(p: Tensor, q: Tensor, weights: Tensor | None = None) -> Tensor:
    """KL(p || q) = sum_s w_s p_s log(p_s / q_s) over the last axis (densities on a grid with
    trapezoid weights ``weights``, or pmfs with none). Points where p < 1e-300 add nothing; q is
    floored at 1e-300 (a student with no mass where the teacher has some gets a huge KL)."""
    w = torch.ones_like(p) if weights is None else weights
    support = p > TINY
    terms = torch.where(support, p * (torch.log(p.clamp_min(TINY)) - torch.log(q.clamp_min(TINY))),
                        torch.zeros_like(p))
    return (w * terms).sum(-1)


def conditional_kl(kind: str, teacher: dict[str, Tensor], student: dict[str, Tensor],
                   total_count: int | None = None) -> Tensor:
    """Elementwise KL(teacher conditional || student conditional) from their parameters (in
    their dtype; differentiable: the training losses use it too)."""
    _check(kind, total_count)
    if kind == "gaussian":
        mu_t, s_t, mu_s, s_s = teacher["mu"], teacher["std"], student["mu"], student["std"]
        return torch.log(s_s / s_t) + (s_t ** 2 + (mu_t - mu_s) ** 2) / (2 * s_s ** 2) - 0.5
    lt, ls = teacher["logits"], student["logits"]
    pt = torch.sigmoid(lt)
    bern = pt * (logsigmoid(lt) - logsigmoid(ls)) + (1 - pt) * (logsigmoid(-lt) - logsigmoid(-ls))
    return total_count * bern  # type: ignore[operator]


@torch.no_grad()
def layer_errors(kind: str, teacher: Conditional, student: Conditional, active: list[int],
                 root: tuple[Tensor, Tensor], teacher_laws: list[Tensor],
                 grid: tuple[Tensor, Tensor] | None = None, total_count: int | None = None
                 ) -> Tensor:
    """e_j = E_{teacher}[KL(teacher's conditional j || student's)] for every chain, [C, J]
    (NaN where a chain has no conditional j). ``teacher_laws``: the teacher's laws from
    :func:`propagate` (one chain, at least J - 1 layers)."""
    _check(kind, total_count)
    out = torch.full((active[0], len(active)), math.nan, dtype=torch.float64)
    if kind == "gaussian":
        points, point_weights = grid  # type: ignore[misc]
    else:
        points = torch.arange(total_count + 1, dtype=torch.float64)  # type: ignore[operator]
        point_weights = torch.ones_like(points)
    for j, n in enumerate(active):
        if j == 0:
            z, mass = root
        else:
            z, mass = points, teacher_laws[j - 1][0] * point_weights
        if kind == "binomial":
            keep = mass > PRUNE
            z, mass = z[keep], mass[keep]
        t = teacher(j, z[None, :])
        s = student(j, z.expand(n, -1))
        t = {k: v.expand(n, -1) for k, v in t.items()}
        out[:n, j] = (conditional_kl(kind, t, s, total_count) * mass).sum(-1)
    return out


def chain_conditional(chain: torch.nn.Module) -> Conditional:
    """A :class:`lgm.models.chains.Chain` (one chain, conditionals on [N, 1] parents) as a
    :data:`Conditional` of one chain ([1, K] parents)."""
    def conditional(j: int, z: Tensor) -> dict[str, Tensor]:
        params = chain.conditional(j, z.reshape(-1, 1).to(chain.anchor.dtype))  # type: ignore
        return {k: v.reshape(z.shape).double() for k, v in params.items()}
    return conditional
