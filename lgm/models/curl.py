"""CURL: continual unsupervised representation learning (Rao et al. 2019), a Table 2 baseline.

Generative model (Rao et al., section 3.1): a mixture over a categorical component y, here on
top of the conditional ladder VAE of :mod:`lgm.models.conditional_ladder` (the component is
its condition, so CURL and the KD methods share one architecture)::

    y ~ Cat(1/K)                                    K = the components active so far
    z5 | y ~ N(mu_y, std_y^2)                       the mixture prior p(z | y)
    z4..z1, x | z5                                  the ladder's hierarchy below the top

Inference: q(y | x) is a small conv classifier (logits over the active components), and
q(z | x, y) is the ladder's encoder given the component as its condition channels: the
component-specific posterior of CURL. The ELBO (Rao et al., eq. 3) sums over the components
exactly:

    ELBO(x) = sum_y q(y|x) [ E_q(z|x,y) log p(x|z) - KL(q(z|x,y) || p(z|y)) ] - KL(q(y|x) || p(y))

Continual learning (Rao et al., sections 3.2-3.3):

- **expansion**: :meth:`CURL.expand` activates one more component, initialised from the
  existing component that explains the new data best (highest mean q(y|x) on it): its prior
  mean/std and its row of the q(y|x) head are copied.
- **mixture generative replay**: :meth:`CURL.replay` draws y uniformly over the *old*
  components of a frozen snapshot and decodes samples x_hat, which are mixed with the new
  data and trained on with the unsupervised ELBO above.

Simplified here (stated on the Table 2 page):

- expansion happens at the known task boundary, once per task, instead of CURL's dynamic
  expansion from a buffer of poorly explained samples (threshold on the ELBO), and the new
  component is not pre-fitted on that buffer;
- the new task's data is assigned to its new component: L_new is the ELBO given y = the new
  component, plus the cross-entropy -log q(y|x) that teaches q(y|x) the new component (CURL
  with task labels). Table 2 asks that every method share L_new, and generations "with
  condition 1" are then generations of component 1. :meth:`CURL.neg_elbo` with ``y=None`` is
  the unsupervised ELBO, used on the replayed data;
- the likelihood is the ladder's fixed-sigma Gaussian (CURL used Bernoulli pixels on MNIST).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.conditional_ladder import ConditionalLadderVAE


class ComponentPosterior(nn.Module):
    """q(y | x): two strided convs, global average pooling, a linear head over K_max."""

    def __init__(self, channels: int, width: int, max_components: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(2 * width, max_components)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class CURL(nn.Module):
    """CURL's mixture model over a conditional ladder VAE (module docstring)."""

    def __init__(self, vae: ConditionalLadderVAE, width: int = 16, active: int = 1) -> None:
        super().__init__()
        if not 1 <= active <= vae.num_conditions:
            raise ValueError(f"active components must be in 1..{vae.num_conditions} (the "
                             f"VAE's conditions), got {active}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        self.vae = vae
        self.cluster = ComponentPosterior(vae.channels, width, vae.num_conditions)
        self.register_buffer("active", torch.tensor(active))

    @property
    def num_active(self) -> int:
        return int(self.active)

    # ----------------------------------------------------------------- inference
    def log_q_y(self, x: Tensor) -> Tensor:
        """log q(y | x) over the active components, [B, K]."""
        return F.log_softmax(self.cluster(x)[:, :self.num_active], dim=-1)

    def neg_elbo(self, x: Tensor, y: Tensor | None = None, kl_weight: float = 1.0) -> Tensor:
        """-ELBO per image [B]: Rao et al.'s eq. 3 (``y=None``, exact sum over components),
        or -log p(x, y) bound for given components ``y`` (p(y) uniform over the active)."""
        k = self.num_active
        if y is not None:
            if int(y.max()) >= k or int(y.min()) < 0:
                raise ValueError(f"components must lie in 0..{k - 1}, got "
                                 f"{sorted(set(y.tolist()))}")
            return self.vae.neg_elbo(x, y, kl_weight).loss + math.log(k)
        log_q = self.log_q_y(x)
        per_component = torch.stack(
            [self.vae.neg_elbo(x, torch.full((len(x),), c, dtype=torch.long, device=x.device),
                               kl_weight).loss for c in range(k)], dim=1)
        kl_y = (log_q.exp() * (log_q + math.log(k))).sum(1)
        return (log_q.exp() * per_component).sum(1) + kl_weight * kl_y

    def supervised_loss(self, x: Tensor, y: Tensor, kl_weight: float = 1.0) -> Tensor:
        """-ELBO(x, y) - log q(y | x) per image: data of a known component (a task label)."""
        log_q = self.log_q_y(x).gather(1, y[:, None]).squeeze(1)
        return self.neg_elbo(x, y, kl_weight) - log_q

    # ----------------------------------------------------------------- continual learning
    @torch.no_grad()
    def expand(self, x_new: Tensor | None = None) -> int:
        """Activate one more component, copied from the one q(y|x) favours on ``x_new`` (or
        the last one when no data is given). Returns the new component's index."""
        k = self.num_active
        if k >= self.vae.num_conditions:
            raise ValueError(f"all {k} components are in use; build the VAE with more "
                             "conditions")
        source = k - 1
        if x_new is not None and k > 1:
            source = int(self.log_q_y(x_new).exp().mean(0).argmax())
        self.vae.copy_condition(source, k)
        self.cluster.head.weight[k] = self.cluster.head.weight[source]
        self.cluster.head.bias[k] = self.cluster.head.bias[source]
        self.active += 1
        return k

    def sample_noise(self, n: int, generator: torch.Generator | None = None
                     ) -> dict[str, Tensor]:
        """The auxiliary noise of one ancestral pass of the VAE (the replay's draws)."""
        return self.vae.sample_noise(n, generator)

    @torch.no_grad()
    def replay(self, n: int, generator: torch.Generator | None = None,
               components: int | None = None) -> tuple[Tensor, Tensor]:
        """Mixture generative replay: y uniform over the first ``components`` (default: all
        active) components, x_hat the decoder means. Returns (x_hat, y)."""
        k = self.num_active if components is None else components
        if not 1 <= k <= self.num_active:
            raise ValueError(f"components must be in 1..{self.num_active}, got {k}")
        device = self.active.device
        y = torch.randint(k, (n,), generator=generator, device=generator.device if generator
                          is not None else device).to(device)
        return self.vae.generate(y, generator), y
