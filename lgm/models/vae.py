"""The VAE with a discrete plus a continuous latent (section 4.2, appendix 7.8).

Generative model (decoder, parameters theta)::

    z_d ~ Cat(1/J)            uniform categorical prior, J discrete codes
    z_c ~ N(0, I)             continuous nuisance latent, dimension D
    x   ~ Bernoulli(sigmoid(decoder([z_c, z_d])))   pixels independent

Guide (encoder, parameters phi), conditionally independent parts::

    Q(z_c | x) = N(mu(x), diag exp(logvar(x)))
    Q(z_d | x) = Cat(softmax(logits(x)))   relaxed by Gumbel-softmax (eq. 19) while training,
                                           one-hot argmax of the noisy logits in evaluation

The discrete latent can grow by one code per task (appendix 7.8.2): :meth:`grown` returns a
student with ``J + extra`` codes whose weights are copied from this model, except the layers
right around the latent, which are re-initialised (Glorot).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lgm.models.networks import build_decoder, build_encoder, reset_latent_layers
from lgm.models.stacked import StackedBatchNorm, seed_generators


@dataclass
class Posterior:
    """Parameters of Q(z_c | x) and Q(z_d | x)."""

    mu: Tensor
    logvar: Tensor
    logits: Tensor


@dataclass
class VAEOutput:
    """One pass x -> Q(z|x) -> z -> P(x|z): the posterior, the sample and the decoder logits."""

    posterior: Posterior
    z_c: Tensor
    z_d: Tensor
    x_logits: Tensor


def gumbel_softmax(
    logits: Tensor, tau: float | Tensor, *, hard: bool,
    generator: torch.Generator | None = None, u: Tensor | None = None,
) -> Tensor:
    """Gumbel-softmax sample (eq. 19): softmax((log p + g) / tau), g = -log(-log u).

    ``logits`` are unnormalised log-probabilities; ``u`` the uniforms (drawn from ``generator``
    when not given). With ``hard`` the sample is the one-hot argmax of the noisy logits (no
    gradient), as used for evaluation and replay.
    """
    if u is None:
        u = torch.rand(logits.shape, generator=generator, device=logits.device,
                       dtype=logits.dtype)
    g = -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
    noisy = logits + g
    if hard:
        return F.one_hot(noisy.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return F.softmax(noisy / tau, dim=-1)


class DiscreteContinuousVAE(nn.Module):
    """Dense (-D) or convolutional (-C) VAE of appendix 7.4.1 with latent [z_c, z_d].

    One object holds ``len(seeds)`` independent models stacked along a leading seed axis
    (:mod:`lgm.models.stacked`): inputs are ``[S, B, C, H, W]`` images or ``[S, B, d]``
    latents and every output keeps the seed axis. A model of one seed also takes unstacked
    inputs (``[B, C, H, W]``, ``[B, d]``) and then returns unstacked outputs, which is how the
    metrics use it (:meth:`select` takes one seed out of a stack).
    """

    def __init__(
        self,
        arch: str,
        image_shape: tuple[int, int, int],
        continuous: int = 14,
        discrete: int = 10,
        *,
        batchnorm: bool = True,
        seeds: Sequence[int] = (0,),
    ) -> None:
        super().__init__()
        if continuous < 1 or discrete < 1:
            raise ValueError(
                f"latent sizes must be >= 1, got continuous={continuous}, discrete={discrete}"
            )
        self.arch, self.image_shape = arch, tuple(image_shape)
        self.continuous, self.discrete, self.batchnorm = continuous, discrete, batchnorm
        self.seeds = [int(s) for s in seeds]
        gens = seed_generators(self.seeds)  # encoder first, then decoder, for every seed
        self.encoder = build_encoder(arch, self.image_shape, 2 * continuous + discrete,
                                     batchnorm=batchnorm, seeds=gens)
        self.decoder = build_decoder(arch, continuous + discrete, self.image_shape,
                                     batchnorm=batchnorm, seeds=gens)

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    def _stacked(self, t: Tensor, event_dims: int) -> tuple[Tensor, bool]:
        """``t`` with the seed axis, and whether it had to be added (a one-seed model only)."""
        if t.dim() == event_dims + 2:
            if t.shape[0] != self.num_seeds:
                raise ValueError(f"input has {t.shape[0]} seeds on axis 0, the model "
                                 f"{self.num_seeds}")
            return t, False
        if t.dim() == event_dims + 1 and self.num_seeds == 1:
            return t[None], True
        raise ValueError(f"expected input of shape [S={self.num_seeds}, B, ...] with "
                         f"{event_dims} event dims, got {tuple(t.shape)}")

    # --- guide -------------------------------------------------------------------------
    def encode(self, x: Tensor) -> Posterior:
        """Q(z_c | x), Q(z_d | x): one trunk, three heads [mu, logvar, logits]."""
        x, added = self._stacked(x, 3)
        h = self.encoder(x)
        return self.split(h[0] if added else h)

    def split(self, h: Tensor) -> Posterior:
        """The encoder's output vector as the posterior's parameters."""
        d = self.continuous
        return Posterior(h[..., :d], h[..., d:2 * d], h[..., 2 * d:])

    def sample_posterior(
        self, post: Posterior, tau: float | Tensor, *, hard: bool = False,
        generator: torch.Generator | None = None, noise: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Reparameterised z_c = mu + sigma * eps and Gumbel-softmax z_d.

        ``noise = (eps, u)`` gives the Gaussian and uniform noise; else both are drawn from
        ``generator``.
        """
        if noise is None:
            eps = torch.randn(post.mu.shape, generator=generator, device=post.mu.device,
                              dtype=post.mu.dtype)
            u = None
        else:
            eps, u = noise
        z_c = post.mu + torch.exp(0.5 * post.logvar) * eps
        z_d = gumbel_softmax(post.logits, tau, hard=hard, generator=generator, u=u)
        return z_c, z_d

    # --- generative model --------------------------------------------------------------
    def decode(self, z_c: Tensor, z_d: Tensor) -> Tensor:
        """Bernoulli logits of P(x | z_c, z_d)."""
        z, added = self._stacked(torch.cat([z_c, z_d], dim=-1), 1)
        out = self.decoder(z)
        return out[0] if added else out

    def decode_codes(self, z_c: Tensor, codes: Tensor) -> Tensor:
        """Sigmoid means of P(x | z_c, one_hot(codes)): the teacher's replay (section 4.2)."""
        return torch.sigmoid(self.decode(z_c, F.one_hot(codes, self.discrete).to(z_c.dtype)))

    def forward(
        self, x: Tensor, tau: float | Tensor = 1.0, *, hard: bool = False,
        generator: torch.Generator | None = None, noise: tuple[Tensor, Tensor] | None = None,
    ) -> VAEOutput:
        post = self.encode(x)
        z_c, z_d = self.sample_posterior(post, tau, hard=hard, generator=generator, noise=noise)
        return VAEOutput(post, z_c, z_d, self.decode(z_c, z_d))

    def sample_prior(
        self, n: int, *, codes: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """z_c ~ N(0, I); z_d one-hot, uniform over the J codes unless ``codes`` is given.

        Unstacked (``[n, d]``) for a one-seed model, else ``[S, n, d]``.
        """
        device = next(self.parameters()).device
        lead = (n,) if self.num_seeds == 1 else (self.num_seeds, n)
        if codes is None:
            codes = torch.randint(self.discrete, lead, generator=generator, device=device)
        z_c = torch.randn((*lead, self.continuous), generator=generator, device=device)
        return z_c, F.one_hot(codes.to(device), self.discrete).float()

    @torch.no_grad()
    def generate(
        self, n: int, *, codes: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Sigmoid means of P(x | z), z from the prior (the replay of section 4.2)."""
        z_c, z_d = self.sample_prior(n, codes=codes, generator=generator)
        return torch.sigmoid(self.decode(z_c, z_d))

    # --- seeds ---------------------------------------------------------------------------
    def select(self, index: int) -> DiscreteContinuousVAE:
        """The model of seed ``self.seeds[index]`` alone (a copy), in this model's mode."""
        one = DiscreteContinuousVAE(self.arch, self.image_shape, self.continuous, self.discrete,
                                    batchnorm=self.batchnorm, seeds=[self.seeds[index]])
        one.load_state_dict({k: v[index:index + 1] for k, v in self.state_dict().items()})
        return one.to(next(self.parameters()).device).train(self.training)

    # --- growing the discrete latent (appendix 7.8.2) ----------------------------------
    def grown(self, extra: int = 1, generators: Sequence[torch.Generator] | None = None
              ) -> DiscreteContinuousVAE:
        """A new student with ``discrete + extra`` codes and this model's weights.

        Every tensor whose name and shape match is copied; the layers around the latent
        (the encoder's projection into it and the decoder's first layer) are re-initialised
        with Glorot, as the paper says, even where their shapes would allow copying; seed s
        draws them from ``generators[s]`` (default: one seeded by the seed and the new J).
        BatchNorm running statistics are reset (appendix 7.4.1: "re-initialized ... the
        aggregated mean and covariance of the Batch Norm layers").
        """
        if extra < 0:
            raise ValueError(f"extra codes must be >= 0, got {extra}")
        student = DiscreteContinuousVAE(self.arch, self.image_shape, self.continuous,
                                        self.discrete + extra, batchnorm=self.batchnorm,
                                        seeds=self.seeds)
        student.to(next(self.parameters()).device)
        if generators is None:
            generators = seed_generators([1_000_003 * s + student.discrete for s in self.seeds])
        transfer_weights(self, student, generators)
        return student


def transfer_weights(teacher: DiscreteContinuousVAE, student: DiscreteContinuousVAE,
                     generators: Sequence[torch.Generator]) -> None:
    """Teacher -> student weight transfer that re-initialises only the latent's neighbours."""
    skip = {id(p) for m in (student.encoder.latent_projection, student.decoder.latent_input)
            for p in m.parameters()}
    source = dict(teacher.named_parameters())
    with torch.no_grad():
        for name, p in student.named_parameters():
            if id(p) not in skip and name in source and source[name].shape == p.shape:
                p.copy_(source[name])
    reset_latent_layers(student.encoder, student.decoder, generators)
    reset_batchnorm_statistics(student)


def reset_batchnorm_statistics(model: nn.Module) -> None:
    """Zero the running mean, unit running variance, for every BatchNorm layer."""
    for m in model.modules():
        if isinstance(m, StackedBatchNorm):
            m.reset_running_stats()


def frozen_copy(model: nn.Module) -> nn.Module:
    """The teacher: an eval-mode copy with no gradients."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
