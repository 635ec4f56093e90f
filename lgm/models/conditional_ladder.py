"""The conditional ladder VAE of the KD paper's continual-learning experiment (fig. 4d, Table 2).

The 5-layer ladder VAE of :mod:`lgm.models.ladder` given a task condition c (one of K, a one-hot
vector), as in the authors' code (notes, "KD-based continual learning")::

    z5 | c ~ N(mu_c, std_c^2)                       learned conditional prior on the top layer
    z_i | z_{i+1} ~ N(mu_i(z_{i+1}), std_i(z_{i+1})^2),   i = 4, 3, 2, 1   (as the ladder VAE)
    y | z1 ~ N(m(z1), sigma^2 I),   sigma = sqrt(beta / 2)                 (the image)

Inference: the one-hot c is broadcast to K constant image channels and concatenated to the
image before the encoder's stem, so every bottom-up Gaussian (and the posterior, their
precision-weighted merge with the top-down prior) is q(z | x, c). The condition reaches the
generative model only through the top prior: below z5 the decoder is the ladder VAE's.
``std_c = softplus(a_c) / ln 2 + 1e-6`` as every std of the ladder; a_c = mu_c = 0 at
initialisation, so every condition starts from the ladder's N(0, I).

Semi-auxiliary form (section 3.1) with the condition as the input x of eq. 1: the auxiliary
noise is ``{"z5": eps5, "z4": eps4, ..., "z1": eps1}``, all N(0, I), and
``z5 = mu_c + std_c * eps5``. Unlike the unconditional ladder, z5's conditional is learned,
so it is a latent conditional to distill (parents ``x`` and ``eps:z5``), not a shared prior.

The building blocks (stages, heads, std parameterisation, precision-weighted merge) are the
ladder VAE's: this model holds a :class:`~lgm.models.ladder.LadderVAE` whose stem takes the
K extra channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.ladder import (
    LATENT_NAMES,
    TARGET,
    TOP,
    LadderELBO,
    LadderVAE,
    gaussian_params,
    precision_weighted,
)
from lgm.models.semi_auxiliary import AncestralPass, Conditional, gaussian_kl, gaussian_sample, pick


class ConditionalLadderVAE(nn.Module):
    """Ladder VAE given one of ``num_conditions`` task conditions (module docstring)."""

    def __init__(self, image_size: int = 32, width: int = 64, channels: int = 3,
                 num_conditions: int = 2, latent_channels: int = 16, beta: float = 0.1) -> None:
        super().__init__()
        if not isinstance(num_conditions, int) or isinstance(num_conditions, bool) \
                or num_conditions < 1:
            raise ValueError(f"num_conditions must be a positive int, got {num_conditions!r}")
        self.ladder = LadderVAE(image_size, width, channels, latent_channels, beta)
        self.ladder.stem = nn.Conv2d(channels + num_conditions, width, 5, 2, 2)
        self.num_conditions = num_conditions
        self.top_prior = nn.Parameter(torch.zeros(num_conditions, 2 * latent_channels))
        self.image_size, self.channels, self.width = image_size, channels, width
        self.sigma = self.ladder.sigma

    # ----------------------------------------------------------------- condition
    def one_hot(self, cond: Tensor) -> Tensor:
        """[N] integer conditions -> [N, K] float one-hot; ValueError for bad input."""
        if not isinstance(cond, Tensor) or cond.dim() != 1 or cond.dtype not in (
                torch.int64, torch.int32):
            raise ValueError("the condition x must be a 1-d integer tensor of task indices, got "
                             f"{getattr(cond, 'dtype', type(cond))} "
                             f"{tuple(getattr(cond, 'shape', ()))}")
        if len(cond) and (int(cond.min()) < 0 or int(cond.max()) >= self.num_conditions):
            raise ValueError(f"conditions must lie in 0..{self.num_conditions - 1}, got "
                             f"{sorted(set(cond.tolist()))}")
        return F.one_hot(cond.long(), self.num_conditions).to(self.top_prior.dtype)

    def top(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """(mu_c, std_c) of p(z5 | c), shaped [N, 16, 1, 1]."""
        a = (self.one_hot(cond) @ self.top_prior)[:, :, None, None]
        return gaussian_params(a)

    # ----------------------------------------------------------------- generative model
    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        """eps5..eps1 ~ N(0, I), shaped like the latents (eps5 drives z5 = mu_c + std_c eps5)."""
        return self.ladder.sample_noise(n, generator)

    def ancestral(self, noise: dict[str, Tensor], x: Tensor | None = None,
                  parents: dict[str, Tensor] | None = None) -> AncestralPass:
        """Ancestral sampling given the conditions ``x`` ([N] task indices) and ``noise``.

        Records z5 | c, z4..z1 (Gaussian latents) and the image target ``y`` (its value in
        the pass is its mean). With ``parents``, each conditional reads its parent from there.
        """
        if x is None:
            raise ValueError("the conditional ladder VAE needs the conditions x ([N] indices)")
        n = self.ladder.check_noise(noise)
        if len(x) != n:
            raise ValueError(f"{len(x)} conditions for {n} noise draws")
        pass_ = AncestralPass()
        mu, std = self.top(x.to(noise[TOP].device))
        z = pass_.add(Conditional(TOP, "latent", "gaussian", {"mu": mu, "std": std},
                                  gaussian_sample(mu, std, noise[TOP]),
                                  parents=("x", f"eps:{TOP}")))
        for i in (4, 3, 2, 1):
            above = f"z{i + 1}"
            mu, std = self.ladder.prior(i, pick(z, above, parents))
            z = pass_.add(Conditional(f"z{i}", "latent", "gaussian", {"mu": mu, "std": std},
                                      gaussian_sample(mu, std, noise[f"z{i}"]),
                                      parents=(above, f"eps:z{i}")))
        mean = self.ladder.image_mean(pick(z, "z1", parents))
        pass_.add(Conditional(TARGET, "target", "gaussian",
                              {"mu": mean, "std": torch.full_like(mean, self.sigma)}, mean,
                              parents=("z1",)))
        return pass_

    def decode_mean(self, cond: Tensor, noise: dict[str, Tensor]) -> Tensor:
        """The image mean m(z1) of one ancestral pass (differentiable; the replay of LGM)."""
        return self.ancestral(noise, cond)[TARGET].sample

    @torch.no_grad()
    def generate(self, cond: Tensor, generator: torch.Generator | None = None,
                 batch: int = 500) -> Tensor:
        """One image per entry of ``cond`` (decoder means clipped to [0, 1]), in eval mode."""
        device = self.top_prior.device
        was_training = self.training
        self.eval()
        try:
            out = [self.decode_mean(c.to(device), {k: v.to(device) for k, v in
                                                   self.sample_noise(len(c), generator).items()})
                   for c in cond.split(batch)]
        finally:
            self.train(was_training)
        return torch.cat(out).clamp_(0.0, 1.0)

    # ----------------------------------------------------------------- inference, ELBO
    def bottom_up_pass(self, x: Tensor, cond: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(mu_u,i, std_u,i) of q's bottom-up Gaussians for z1..z5, from [x, c channels]."""
        expected = (self.channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"expected images [B, {', '.join(map(str, expected))}], "
                             f"got {tuple(x.shape)}")
        if len(cond) != len(x):
            raise ValueError(f"{len(cond)} conditions for {len(x)} images")
        c = self.one_hot(cond.to(x.device))[:, :, None, None].expand(-1, -1, *x.shape[2:])
        h, out = self.ladder.stem(torch.cat([x, c], dim=1)), []
        for stage in self.ladder.bottom_up:
            h, head = stage(h)
            out.append(gaussian_params(head))
        return out

    def neg_elbo(self, x: Tensor, cond: Tensor, kl_weight: float = 1.0) -> LadderELBO:
        """-ELBO(x | c) per image: Gaussian NLL + kl_weight * sum_i KL(q(z_i|.) || p(z_i|.)),
        the top KL taken against the conditional prior p(z5 | c)."""
        up = self.bottom_up_pass(x, cond)
        mu_q, std_q = up[4]
        mu_p, std_p = self.top(cond.to(x.device))
        z = gaussian_sample(mu_q, std_q, torch.randn_like(mu_q))
        kls = [gaussian_kl(mu_q, std_q, mu_p, std_p)]
        for i in (4, 3, 2, 1):
            mu_p, std_p = self.ladder.prior(i, z)
            mu_q, std_q = precision_weighted(*up[i - 1], mu_p, std_p)
            z = gaussian_sample(mu_q, std_q, torch.randn_like(mu_q))
            kls.insert(0, gaussian_kl(mu_q, std_q, mu_p, std_p))
        kl = torch.stack([k.flatten(1).sum(1) for k in kls], dim=1)
        resid = (x - self.ladder.image_mean(z)) / self.sigma
        nll = (0.5 * resid.pow(2) + math.log(self.sigma * math.sqrt(2 * math.pi))).flatten(1)
        nll = nll.sum(1)
        return LadderELBO(nll + kl_weight * kl.sum(1), nll, kl)

    def copy_condition(self, source: int, target: int) -> None:
        """Start condition ``target``'s top prior from ``source``'s (CURL's expansion)."""
        for k in (source, target):
            if not 0 <= k < self.num_conditions:
                raise ValueError(f"condition {k} out of 0..{self.num_conditions - 1}")
        with torch.no_grad():
            self.top_prior[target] = self.top_prior[source]


__all__ = ["LATENT_NAMES", "ConditionalLadderVAE"]
